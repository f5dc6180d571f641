package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestJSONColumnsMatchEncodingJSON pins that the hand-written column
// codecs write what encoding/json writes and read back what it reads.
func TestJSONColumnsMatchEncodingJSON(t *testing.T) {
	lists := [][]string{nil, {}, {""}, {"a"}, {"a", "b"}, {"g-1", "cn=x,dc=y"},
		{`quo"te`, `back\slash`, "<&>", "tab\t", "ünï", "a\",\"b"}, {`","`, "x"}}
	for _, v := range lists {
		want, _ := json.Marshal(v)
		if got := jsonStrings(v); got != string(want) {
			t.Errorf("jsonStrings(%q) = %s, want %s", v, got, want)
		}
		back, err := stringsCol(string(want))
		if err != nil {
			t.Fatalf("stringsCol(%s): %v", want, err)
		}
		if !reflect.DeepEqual(back, v) {
			t.Errorf("stringsCol(%s) = %#v, want %#v", want, back, v)
		}
	}
	maps := []map[string][]string{nil, {}, {"mail": {"a@b"}, "cn": {"x", "y"}, "e<": nil}}
	for _, m := range maps {
		want, _ := json.Marshal(m)
		if got := jsonStringsMap(m); got != string(want) {
			t.Errorf("jsonStringsMap(%v) = %s, want %s", m, got, want)
		}
		back, err := stringsMapCol(string(want))
		if err != nil {
			t.Fatalf("stringsMapCol(%s): %v", want, err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Errorf("stringsMapCol(%s) = %#v, want %#v", want, back, m)
		}
	}
}
