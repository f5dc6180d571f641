package console

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"error", "account", "overview", "users", "user", "user_new", "profiles", "profile",
	"teams", "team", "audit", "sessions", "directories", "run", "entries", "generate", "policy"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when":  when,
		"join":  func(s []string) string { return strings.Join(s, ", ") },
		"split": strings.Fields,
		"deref": func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		},
		"num":   num,
		"field": func(m map[string]string, k string) string { return m[k] },
		"inputArgs": func(name, label, value string, errs map[string]string, typ, required string) inputArgs {
			return inputArgs{Name: name, Label: label, Value: value, Error: errs[name], Type: typ, Required: required != ""}
		},
		"short": func(s string) string {
			if len(s) > 12 {
				return s[:12]
			}
			return s
		},
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// when shows a time (time.Time or *time.Time) in UTC to the minute, and
// "—" for none.
func when(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	}
	if t.IsZero() {
		return "—"
	}
	// No-break spaces keep a time on one line in a narrow column.
	return strings.ReplaceAll(t.UTC().Format("2006-01-02 15:04 UTC"), " ", "\u00a0")
}

// inputArgs are the arguments of the "input" template: a labelled input
// with its error beside it.
type inputArgs struct {
	Name, Label, Value, Error, Type string
	Required                        bool
}

// num writes n with thousands separators (100,000).
func num(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + num(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
