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
		"when":   when,
		"join":   func(s []string) string { return strings.Join(s, ", ") },
		"split":  strings.Fields,
		"origin": originText,
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
func when(v any) template.HTML {
	t := timeOf(v)
	if t.IsZero() {
		return "—"
	}
	// A <time> element the stylesheet keeps on one line (no-break spaces
	// alone still let a narrow column break it at the date's hyphens).
	// Both parts are formatted times, escaped besides: nothing a user wrote.
	return template.HTML(`<time datetime="` + t.UTC().Format(time.RFC3339) + `">` + template.HTMLEscapeString(whenText(t)) + `</time>`) //nolint:gosec // G203: see above

}

// whenText is a time as the console writes it, as plain text (for the
// chart's titles): UTC, to the minute, with no-break spaces.
func whenText(v any) string {
	t := timeOf(v)
	if t.IsZero() {
		return "—"
	}
	return strings.ReplaceAll(t.UTC().Format("2006-01-02 15:04 UTC"), " ", "\u00a0")
}

// timeOf is v as a time: a time.Time, or what a *time.Time points at.
func timeOf(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case *time.Time:
		if x != nil {
			return *x
		}
	}
	return time.Time{}
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
