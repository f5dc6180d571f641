package config

import (
	"reflect"
	"strings"
)

// Changed lists the top-level sections ("directories", "policy", ...) whose
// values differ between old and new, for a SIGHUP reload to apply what it
// safely can and log the rest. Positions in the file do not count: moving
// a key or adding a comment changes nothing. Secrets compare by value.
func Changed(old, new *Config) []string {
	var out []string
	ov, nv := reflect.ValueOf(old).Elem(), reflect.ValueOf(new).Elem()
	t := ov.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			out = append(out, name)
		}
	}
	return out
}
