package config

import (
	"strings"
	"text/template"
)

// templateFuncs mirrors the names of the mapping package's template helpers
// so Validate can tell a template that does not parse (or calls an unknown
// helper) without importing mapping before it exports ParseTemplate. Only
// the names matter for parsing; the bodies are never run here.
//
// TODO(config): switch to mapping.ParseTemplate once it exists, so the two
// lists cannot drift.
var templateFuncs = template.FuncMap{
	"lower":       strings.ToLower,
	"upper":       strings.ToUpper,
	"trim":        strings.TrimSpace,
	"title":       func(s string) string { return s },
	"default":     func(d, v any) any { return v },
	"or":          func(a ...any) any { return nil },
	"replace":     func(old, new, s string) string { return s },
	"splitDomain": func(s string) []string { return nil },
	"localPart":   func(s string) string { return s },
	"domain":      func(s string) string { return s },
	"first":       func(v any) any { return v },
	"join":        func(sep string, v any) string { return "" },
	"split":       func(sep, s string) []string { return nil },
	"trimSuffix":  strings.TrimSuffix,
	"trimPrefix":  strings.TrimPrefix,
	"hasPrefix":   strings.HasPrefix,
	"hasSuffix":   strings.HasSuffix,
	"contains":    strings.Contains,
	"substr":      func(start, end int, s string) string { return s },
	"ascii":       func(s string) string { return s },
}

// checkTemplate parses src the way the mapping package will run it.
func checkTemplate(name, src string) error {
	_, err := template.New(name).Option("missingkey=zero").Funcs(templateFuncs).Parse(src)
	return err
}
