package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a config file, located by field path
// (directories[0].urls[1]) and line (0 when unknown, e.g. for a config built
// in code).
type FieldError struct {
	File string
	Path string
	Line int
	Msg  string
}

// Error renders "file:line: path: msg", leaving out what is unknown.
func (e FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config, reported together so an
// operator fixes them in one pass rather than one per run.
type Errors []FieldError

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a single FieldError.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortByLine orders problems as they appear in the file; problems without
// a line (defaults, code-built configs) keep their order at the end.
func (es Errors) sortByLine() {
	sort.SliceStable(es, func(i, j int) bool {
		li, lj := es[i].Line, es[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

// parentPath strips the last segment: a.b[2].c -> a.b[2] -> a.b -> a -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// joinPath appends a key to a path.
func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// indexPath appends a sequence index to a path.
func indexPath(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// under reports whether p is prefix or a field below it.
func under(p, prefix string) bool {
	if p == prefix {
		return true
	}
	return strings.HasPrefix(p, prefix) && len(p) > len(prefix) && (p[len(prefix)] == '.' || p[len(prefix)] == '[')
}
