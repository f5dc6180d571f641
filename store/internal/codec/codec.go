// Package codec holds the small pieces both store backends share: JSON
// columns for slices and maps, time normalisation, IDs and the lower-cased
// keys that make case-insensitive lookups portable. SQL stays in each
// backend; nothing here knows a dialect.
package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/dirbridge/dirbridge/store"
)

// Time brings t to the precision and zone both backends keep: UTC,
// truncated to the microsecond (PostgreSQL's timestamptz resolution, so the
// two backends agree). The zero time stays zero.
func Time(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// Now is the current time, normalised like Time.
func Now() time.Time { return Time(time.Now()) }

// NormaliseUser brings a user's times to the precision and zone both
// backends keep (see Time).
func NormaliseUser(u *store.User) {
	u.PasswordChangedAt = Time(u.PasswordChangedAt)
	u.PasswordExpiresAt = Time(u.PasswordExpiresAt)
	u.AccountExpiresAt = Time(u.AccountExpiresAt)
	u.ExpiresAt = Time(u.ExpiresAt)
	u.CreatedAt = Time(u.CreatedAt)
	u.UpdatedAt = Time(u.UpdatedAt)
}

// PrepareNewUser sets what inserting a user fills in: an ID when empty
// (time-ordered, so a large first sync appends to the primary-key index
// instead of splitting its pages), CreatedAt when zero, UpdatedAt = now,
// Version 1, the default state and source; then normalises the times.
func PrepareNewUser(u *store.User, now time.Time) error {
	if u.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("user id: %w", err)
		}
		u.ID = id.String()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	u.UpdatedAt = now
	u.Version = 1
	if u.State == "" {
		u.State = store.StateActive
	}
	if u.Source == "" {
		u.Source = store.SourceLocal
	}
	NormaliseUser(u)
	return nil
}

// PrepareIdPLink checks a link before it is written and sets CreatedAt
// (when zero) to now, normalised like Time. Every field must be non-empty
// text both backends can hold: an empty subject would otherwise match
// every identity that arrives without one, and PostgreSQL refuses a NUL
// byte or invalid UTF-8 with an error that aborts the whole transaction
// where SQLite would store it.
func PrepareIdPLink(l *store.IdPLink, now time.Time) error {
	for _, f := range []struct{ name, v string }{
		{"user", l.UserID}, {"issuer", l.Issuer}, {"subject", l.Subject},
	} {
		switch {
		case f.v == "":
			return fmt.Errorf("idp link: empty %s", f.name)
		case strings.IndexByte(f.v, 0) >= 0 || !utf8.ValidString(f.v):
			return fmt.Errorf("idp link: %s holds a NUL byte or invalid UTF-8", f.name)
		}
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = now
	}
	l.CreatedAt = Time(l.CreatedAt)
	l.LastSeenAt = Time(l.LastSeenAt)
	return nil
}

// PrepareImportGroup checks a chosen import group before it is written
// and sets AddedAt (when zero) to now, normalised like Time. Directory and
// anchor must be non-empty, and every field text both backends can hold
// (see PrepareIdPLink).
func PrepareImportGroup(g *store.ImportGroup, now time.Time) error {
	for _, f := range []struct{ name, v string }{
		{"directory", g.Directory}, {"anchor", g.Anchor}, {"dn", g.DN}, {"name", g.Name}, {"added by", g.AddedBy},
	} {
		switch {
		case f.v == "" && (f.name == "directory" || f.name == "anchor"):
			return fmt.Errorf("import group: empty %s", f.name)
		case strings.IndexByte(f.v, 0) >= 0 || !utf8.ValidString(f.v):
			return fmt.Errorf("import group: %s holds a NUL byte or invalid UTF-8", f.name)
		}
	}
	if g.AddedAt.IsZero() {
		g.AddedAt = now
	}
	g.AddedAt = Time(g.AddedAt)
	return nil
}

// Fold lower-cases a key so lookups are case-insensitive the same way on
// both backends (SQLite's lower() only folds ASCII).
func Fold(s string) string { return strings.ToLower(s) }

// SearchKey is the text ListUsers' Query is matched against: username,
// display name and e-mail, folded, separated by a byte no query contains.
func SearchKey(u *store.User) string {
	return Fold(u.Username) + "\x00" + Fold(u.DisplayName) + "\x00" + Fold(u.Email)
}

// JSON encodes a slice or map column. nil encodes as JSON null and an
// empty value as [] or {}, so nil and empty survive the round trip (a nil
// CustomPrivileges means "no custom set", an empty one "no privileges").
func JSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json column: %w", err)
	}
	return string(b), nil
}

// Strings decodes a JSON []string column.
func Strings(s string) ([]string, error) {
	var v []string
	if err := unmarshal(s, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// StringMap decodes a JSON map[string]string column.
func StringMap(s string) (map[string]string, error) {
	var v map[string]string
	if err := unmarshal(s, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// StringsMap decodes a JSON map[string][]string column.
func StringsMap(s string) (map[string][]string, error) {
	var v map[string][]string
	if err := unmarshal(s, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// AnyMap decodes a JSON map[string]any column. Numbers come back as
// float64, as encoding/json decodes them.
func AnyMap(s string) (map[string]any, error) {
	var v map[string]any
	if err := unmarshal(s, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func unmarshal(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode json column: %w", err)
	}
	return nil
}

// Raw returns a json.RawMessage column as text; nil stays NULL.
func Raw(m json.RawMessage) any {
	if m == nil {
		return nil
	}
	return string(m)
}

// DedupeEntries keeps the last entry for each (directory, anchor), in first
// seen order, so one multi-row upsert never touches a row twice
// (PostgreSQL refuses that) and both backends agree on "last one wins".
func DedupeEntries(in []store.DirectoryEntry) []store.DirectoryEntry {
	type key struct{ dir, anchor string }
	idx := make(map[key]int, len(in))
	out := make([]store.DirectoryEntry, 0, len(in))
	for _, e := range in {
		k := key{e.Directory, e.Anchor}
		if i, ok := idx[k]; ok {
			out[i] = e
			continue
		}
		idx[k] = len(out)
		out = append(out, e)
	}
	return out
}

// CtxErr adds the context's error to err when the context is done and err
// does not already say so, so callers can rely on errors.Is(err,
// context.Canceled) whatever the driver reported (an interrupted statement,
// a closed connection).
func CtxErr(ctxErr, err error) error {
	if err == nil || ctxErr == nil {
		return err
	}
	if errors.Is(err, ctxErr) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, ctxErr)
}

// Scopes decodes a profile's JSON scopes column.
func Scopes(s string) (map[string]store.Scope, error) {
	var v map[string]store.Scope
	if err := unmarshal(s, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// CheckTeamParent checks, before t is written, that its parent exists
// (ErrNotFound) and that the parent chain does not come back to t
// (ErrConflict). get reads a team inside the writing transaction.
func CheckTeamParent(t store.Team, get func(name string) (store.Team, error)) error {
	seen := map[string]bool{t.Name: true}
	for name := t.Parent; name != ""; {
		if seen[name] {
			return fmt.Errorf("%w: team %q would be its own subteam (through %q)", store.ErrConflict, t.Name, name)
		}
		seen[name] = true
		p, err := get(name)
		if err != nil {
			return fmt.Errorf("parent team %q: %w", name, err)
		}
		name = p.Parent
	}
	return nil
}

// Collect is the List form of an Each method: it gathers what each gives
// into a slice, of capacity size when the caller counted the rows first.
func Collect[T any](size int, each func(fn func(T) error) error) ([]T, error) {
	var out []T
	if size > 0 {
		out = make([]T, 0, size)
	}
	err := each(func(v T) error {
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
