package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree into typed values. It replaces yaml.v3's
// own decoding so that every problem carries the full field path and line,
// unknown keys are errors (strictness yaml.v3 reports without a path), ${VAR}
// is expanded per scalar value after parsing (so a variable can never inject
// YAML structure), and Secret fields accept their X_file twin.
type decoder struct {
	file string
	// baseDir resolves relative *_file paths against the config's directory.
	baseDir string
	lines   map[string]int
	errs    Errors
	// failed holds paths whose value could not be read (a *_file error), so
	// validation does not also call them missing.
	failed map[string]bool
}

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[time.Duration]()
)

func (d *decoder) errorf(path string, line int, format string, args ...any) {
	d.errs = append(d.errs, FieldError{File: d.file, Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// decode stores n into v (settable), recording path's line.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		d.decode(n.Content[0], v, path)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value leaves the zero value (and defaults).
	}

	t := v.Type()
	switch t {
	case secretType:
		if s, ok := d.scalar(n, path); ok {
			v.Set(reflect.ValueOf(NewSecret(s)))
		}
		return
	case durationType:
		d.decodeDuration(n, v, path)
		return
	}

	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	default:
		d.decodeScalar(n, v, path)
	}
}

// decodeDuration stores a Go duration ("90s", "15m", "24h") into v.
func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(path, n.Line, "invalid duration %q: use a Go duration such as 90s, 15m or 24h", s)
		return
	}
	v.SetInt(int64(dur))
}

// decodeSlice stores a YAML sequence into the slice v, recording each
// item's line under its indexed path.
func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(path, n.Line, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := indexPath(path, i)
		d.lines[ip] = item.Line
		d.decode(item, s.Index(i), ip)
	}
	v.Set(s)
}

// decodeMap stores a YAML mapping into the map v. Keys must be plain
// strings and appear once: a duplicate is an error, not a silent "last
// one wins".
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(path, n.Line, "expected a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.errorf(path, k.Line, "keys must be plain strings")
			continue
		}
		if seen[k.Value] {
			d.errorf(kp, k.Line, "duplicate key")
			continue
		}
		seen[k.Value] = true
		d.lines[kp] = k.Line
		elem := reflect.New(t.Elem()).Elem()
		d.decode(val, elem, kp)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), elem)
	}
	v.Set(m)
}

// decodeScalar stores a scalar into a string, bool or number v. Booleans
// are only true or false (not YAML 1.1's yes/no/on/off), and numbers must
// fit v's type.
func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	switch t.Kind() {
	case reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.errorf(path, n.Line, "expected true or false, got %q", s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, t.Bits())
		if err != nil {
			d.errorf(path, n.Line, "expected an integer, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		u, err := strconv.ParseUint(s, 10, t.Bits())
		if err != nil {
			d.errorf(path, n.Line, "expected a non-negative integer up to %d, got %q", uint64(math.MaxUint64)>>(64-t.Bits()), s)
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, t.Bits())
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(path, n.Line, "expected a number, got %q", s)
			return
		}
		v.SetFloat(f)
	default:
		// Only reachable if a field of an unsupported type is added to Config.
		d.errorf(path, n.Line, "internal: cannot decode into %s", t)
	}
}

// decodeStruct maps keys to fields by their yaml tag; an unknown key is an
// error at its own line. "X_file" fills Secret field X from a file.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(path, n.Line, "expected a mapping, got %s", describe(n))
		return
	}
	fields := structFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(path, k.Line, "keys must be plain strings")
			continue
		}
		key := k.Value
		if key == "<<" { // YAML merge key: decode the merged mapping(s) first.
			d.merge(val, v, path)
			continue
		}
		kp := joinPath(path, key)
		if first, dup := seen[key]; dup {
			if fileLine, viaFile := seen[key+"_file"]; viaFile && fileLine == first {
				d.errorf(kp, k.Line, "set either %s_file (line %d) or %s, not both", key, first, key)
			} else {
				d.errorf(kp, k.Line, "duplicate key (first set on line %d)", first)
			}
			continue
		}
		seen[key] = k.Line
		if idx, ok := fields[key]; ok {
			d.lines[kp] = k.Line
			d.decode(val, v.Field(idx), kp)
			continue
		}
		if base, ok := strings.CutSuffix(key, "_file"); ok {
			if idx, ok := fields[base]; ok && v.Type().Field(idx).Type == secretType {
				bp := joinPath(path, base)
				if first, both := seen[base]; both {
					d.errorf(kp, k.Line, "set either %s (line %d) or %s, not both", base, first, key)
					continue
				}
				seen[base] = k.Line
				d.lines[bp] = k.Line
				d.lines[kp] = k.Line
				if !d.secretFile(val, v.Field(idx), kp) {
					d.failed[bp] = true
				}
				continue
			}
		}
		if path == "" && strings.HasPrefix(key, "x-") {
			// Top-level "x-" keys are ignored so they can hold YAML anchors
			// for reuse (as in Compose files); anywhere else strictness wins.
			continue
		}
		d.errorf(kp, k.Line, "unknown field")
	}
}

// merge applies a "<<: *anchor" merge key (a mapping or a list of them).
func (d *decoder) merge(val *yaml.Node, v reflect.Value, path string) {
	for val.Kind == yaml.AliasNode {
		val = val.Alias
	}
	if val.Kind == yaml.SequenceNode {
		for _, m := range val.Content {
			d.merge(m, v, path)
		}
		return
	}
	d.decodeStruct(val, v, path)
}

// secretFile reads a Secret from the file named by n, trimming the trailing
// newline editors and `echo` leave. The content itself is not expanded.
func (d *decoder) secretFile(n *yaml.Node, v reflect.Value, path string) bool {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	name, ok := d.scalar(n, path)
	if !ok {
		return false
	}
	if name == "" {
		d.errorf(path, n.Line, "file name is empty")
		return false
	}
	if !filepath.IsAbs(name) && d.baseDir != "" {
		name = filepath.Join(d.baseDir, name)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		d.errorf(path, n.Line, "reading secret: %v", err)
		return false
	}
	s := strings.TrimSuffix(string(b), "\n")
	s = strings.TrimSuffix(s, "\r")
	v.Set(reflect.ValueOf(NewSecret(s)))
	return true
}

// scalar returns n's value with ${VAR} expanded.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(path, n.Line, "expected a single value, got %s", describe(n))
		return "", false
	}
	s, err := expandEnv(n.Value, os.LookupEnv)
	if err != nil {
		d.errorf(path, n.Line, "%v", err)
		return "", false
	}
	return s, true
}

// expandEnv replaces ${NAME} with the variable's value. "$${" is a literal
// "${"; a "$" not followed by "{" is kept as is, because passwords and DNs
// contain dollars. An unset variable is an error rather than "", since an
// empty bind password or DSN fails late and obscurely.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid environment variable name %q", name)
		}
		val, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(val)
		i += end + 1
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// structFields maps yaml key -> field index.
func structFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		m[tag] = i
	}
	return m
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}
