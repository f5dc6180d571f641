package config

import (
	"encoding/json"
	"fmt"
)

// redacted is what every printing path shows instead of a secret's value.
const redacted = "[redacted]"

// Secret holds a password, DSN or client secret read from the config file,
// the environment (${VAR}) or a file (the field's *_file twin). Its value is
// kept in an unexported field and every way of printing or marshalling it —
// fmt verbs, JSON, text, YAML, zap (which falls back to Stringer or JSON) —
// shows "[redacted]", so a config or a struct holding one can be logged
// without leaking it. Only Value reveals it, which keeps every use greppable.
type Secret struct {
	value string
}

// NewSecret wraps a value, e.g. for configs built in code or tests.
func NewSecret(v string) Secret { return Secret{value: v} }

// Value returns the secret itself. Call it only where the secret is used.
func (s Secret) Value() string { return s.value }

// IsSet reports whether the secret is non-empty; it reveals nothing more.
func (s Secret) IsSet() bool { return s.value != "" }

// String redacts; an empty secret prints as empty so "unset" stays visible.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// GoString redacts for %#v.
func (s Secret) GoString() string { return "config.Secret(" + fmt.Sprintf("%q", s.String()) + ")" }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x, ...) redact; without
// it %x or %+v on the struct could print the raw field.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
		_, _ = f.Write([]byte(s.String()))
	case 'q':
		_, _ = fmt.Fprintf(f, "%q", s.String())
	default:
		_, _ = f.Write([]byte(s.String()))
	}
}

// MarshalJSON redacts.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText redacts (used by encoding/xml, zap's reflection and others).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML redacts, so a config written back out holds no secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }
