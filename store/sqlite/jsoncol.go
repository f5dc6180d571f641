package sqlite

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/store/internal/codec"
)

// The JSON columns of a large sync are mostly short lists of plain ASCII
// (group anchors, units). encoding/json spends most of a sync's column
// encoding time in reflection for them, so these write and read that
// common shape by hand and leave everything else to codec. The text is
// exactly what encoding/json writes, so either side can read it.

// plainJSON reports whether s can be written between quotes as is:
// printable ASCII without the characters encoding/json escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func appendJSONString(b []byte, s string) []byte {
	if plainJSON(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

func appendJSONStrings(b []byte, v []string) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// jsonStrings encodes a []string column like codec.JSON.
func jsonStrings(v []string) string {
	if v == nil {
		return "null"
	}
	n := 2
	for _, s := range v {
		n += len(s) + 3
	}
	return string(appendJSONStrings(make([]byte, 0, n), v))
}

// jsonStringsMap encodes a map[string][]string column like codec.JSON
// (keys sorted).
func jsonStringsMap(m map[string][]string) string {
	if m == nil {
		return "null"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONStrings(b, m[k])
	}
	return string(append(b, '}'))
}

// stringsCol decodes a []string column. Text without a backslash holds no
// quote inside a value, so it splits on quotes; anything else goes through
// encoding/json.
func stringsCol(s string) ([]string, error) {
	switch s {
	case "null":
		return nil, nil
	case "[]":
		return []string{}, nil
	}
	if len(s) < 4 || s[0] != '[' || s[1] != '"' || s[len(s)-1] != ']' || s[len(s)-2] != '"' ||
		strings.IndexByte(s, '\\') >= 0 || !plainRange(s) {
		return codec.Strings(s)
	}
	body := s[2 : len(s)-2] // a","b","c
	out := make([]string, 0, strings.Count(body, `","`)+1)
	for {
		i := strings.IndexByte(body, '"')
		if i < 0 {
			out = append(out, body)
			return out, nil
		}
		if i+2 >= len(body) || body[i+1] != ',' || body[i+2] != '"' {
			return codec.Strings(s)
		}
		out = append(out, body[:i])
		body = body[i+3:]
	}
}

// plainRange reports whether s is ASCII without control characters, so the
// split in stringsCol meets no escape or multi-byte sequence to undo.
func plainRange(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// stringsMapCol decodes a map[string][]string column.
func stringsMapCol(s string) (map[string][]string, error) {
	switch s {
	case "null":
		return nil, nil
	case "{}":
		return map[string][]string{}, nil
	}
	return codec.StringsMap(s)
}
