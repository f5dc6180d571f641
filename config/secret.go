package config

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
)

// redacted is what every printing path shows instead of a secret's value.
const redacted = "[redacted]"

// Secret holds a password, DSN or client secret read from the config file,
// the environment (${VAR}) or a file (the field's *_file twin). Every way of
// printing or marshalling it — fmt verbs, JSON, text, YAML, zap (which falls
// back to Stringer or JSON) — shows "[redacted]", so a config or a struct
// holding one can be logged without leaking it. Only Value reveals it, which
// keeps every use greppable.
//
// The value is also kept sealed (AES-CTR under a random per-process key)
// rather than as a plain string, because fmt ignores Format and String while
// it reports a bad verb: fmt.Sprintf("%s", cfg) prints "%!s(*config.Config=
// &{...})" by reflection, field by field, and would show a plain string
// field. Sealing is deterministic (the IV is an HMAC of the value), so equal
// secrets stay equal under reflect.DeepEqual, e.g. when a reload compares
// the old and the new config.
type Secret struct {
	sealed []byte
}

// NewSecret wraps a value, e.g. for configs built in code or tests.
func NewSecret(v string) Secret { return Secret{sealed: seal(v)} }

// Value returns the secret itself. Call it only where the secret is used.
func (s Secret) Value() string { return unseal(s.sealed) }

// IsSet reports whether the secret is non-empty; it reveals nothing more.
func (s Secret) IsSet() bool { return len(s.sealed) > 0 }

// Equal reports whether both secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return hmac.Equal(s.sealed, o.sealed) }

// sealKey lives only in this process's memory; logs never hold it.
var sealKey = func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(fmt.Sprintf("config: no randomness for the secret key: %v", err))
	}
	return k
}()

func seal(v string) []byte {
	if v == "" {
		return nil
	}
	m := hmac.New(sha256.New, sealKey)
	m.Write([]byte(v))
	iv := m.Sum(nil)[:aes.BlockSize]
	out := make([]byte, aes.BlockSize+len(v))
	copy(out, iv)
	ctr(iv).XORKeyStream(out[aes.BlockSize:], []byte(v))
	return out
}

func unseal(b []byte) string {
	if len(b) <= aes.BlockSize {
		return ""
	}
	out := make([]byte, len(b)-aes.BlockSize)
	ctr(b[:aes.BlockSize]).XORKeyStream(out, b[aes.BlockSize:])
	return string(out)
}

func ctr(iv []byte) cipher.Stream {
	blk, err := aes.NewCipher(sealKey)
	if err != nil {
		panic(err) // unreachable: the key is always 32 bytes
	}
	return cipher.NewCTR(blk, iv)
}

// String redacts; an empty secret prints as empty so "unset" stays visible.
func (s Secret) String() string {
	if !s.IsSet() {
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
