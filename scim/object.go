package scim

import (
	"strings"
)

// object is a SCIM resource or complex value as decoded JSON. Attribute
// names compare case-insensitively (RFC 7643 section 2.1): lookups go
// through find, which returns the key as the client spelled it.
type object = map[string]any

// find returns the value of name in o, compared without case, and the key
// it is stored under.
func find(o object, name string) (any, string, bool) {
	if v, ok := o[name]; ok {
		return v, name, true
	}
	for k, v := range o {
		if strings.EqualFold(k, name) {
			return v, k, true
		}
	}
	return nil, "", false
}

// set stores v under name, replacing a key spelled in another case.
func set(o object, name string, v any) {
	if _, k, ok := find(o, name); ok {
		delete(o, k)
	}
	o[name] = v
}

// remove deletes name from o in whatever case it is spelled.
func remove(o object, name string) {
	if _, k, ok := find(o, name); ok {
		delete(o, k)
	}
}

// str returns the string value of name, "" when absent or not a string.
func str(o object, name string) string {
	v, _, _ := find(o, name)
	s, _ := v.(string)
	return s
}

// sub returns the complex value name of o, nil when absent or not an object.
func sub(o object, name string) object {
	v, _, _ := find(o, name)
	m, _ := v.(map[string]any)
	return m
}

// list returns the multi-valued attribute name of o as a slice (a single
// value becomes a one-element slice).
func list(o object, name string) []any {
	v, _, ok := find(o, name)
	if !ok || v == nil {
		return nil
	}
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// clone deep-copies a decoded JSON value.
func clone(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = clone(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = clone(e)
		}
		return out
	}
	return v
}

// depth is how deeply v nests objects and arrays.
func depth(v any) int {
	d := 0
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			d = max(d, depth(e))
		}
		return d + 1
	case []any:
		for _, e := range t {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}
