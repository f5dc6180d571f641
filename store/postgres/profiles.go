package postgres

import (
	"context"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

const profileCols = `name, description, privileges, from_config, created_at, updated_at, scopes, may_grant`

func scanProfile(sc scanner) (store.Profile, error) {
	var p store.Profile
	var privs, scopes, mayGrant string
	if err := sc.Scan(&p.Name, &p.Description, &privs, &p.FromConfig,
		nullTime{&p.CreatedAt}, nullTime{&p.UpdatedAt}, &scopes, &mayGrant); err != nil {
		return p, err
	}
	var err error
	if p.Privileges, err = codec.Strings(privs); err != nil {
		return p, err
	}
	if p.Scopes, err = codec.Scopes(scopes); err != nil {
		return p, err
	}
	p.MayGrant, err = codec.Strings(mayGrant)
	return p, err
}

// GetProfile returns the profile called name.
func (o ops) GetProfile(ctx context.Context, name string) (store.Profile, error) {
	if unstorable(name) {
		return store.Profile{}, fmt.Errorf("postgres: get profile %q: %w", name, store.ErrNotFound)
	}
	p, err := scanProfile(o.q.QueryRow(ctx, `SELECT `+profileCols+` FROM profiles WHERE name = $1`, name))
	if err != nil {
		return store.Profile{}, fmt.Errorf("postgres: get profile %q: %w", name, classify(ctx, err))
	}
	return p, nil
}

// ListProfiles returns every profile by name.
func (o ops) ListProfiles(ctx context.Context) ([]store.Profile, error) {
	rows, err := o.q.Query(ctx, `SELECT `+profileCols+` FROM profiles ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list profiles: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.Profile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list profiles: %w", classify(ctx, err))
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list profiles: %w", classify(ctx, err))
	}
	return out, nil
}

// PutProfile inserts or replaces a profile. Zero CreatedAt/UpdatedAt are
// set to now; a replaced profile keeps its original CreatedAt.
func (t *txn) PutProfile(ctx context.Context, p store.Profile) error {
	now := codec.Now()
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = now
	}
	privs, err := codec.JSON(p.Privileges)
	if err != nil {
		return fmt.Errorf("postgres: put profile %q: %w", p.Name, err)
	}
	scopes, err := codec.JSON(p.Scopes)
	if err != nil {
		return fmt.Errorf("postgres: put profile %q: %w", p.Name, err)
	}
	mayGrant, err := codec.JSON(p.MayGrant)
	if err != nil {
		return fmt.Errorf("postgres: put profile %q: %w", p.Name, err)
	}
	_, err = t.q.Exec(ctx, `INSERT INTO profiles (`+profileCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description,
		privileges = excluded.privileges, from_config = excluded.from_config,
		updated_at = excluded.updated_at, scopes = excluded.scopes, may_grant = excluded.may_grant`,
		p.Name, p.Description, privs, p.FromConfig, tm(p.CreatedAt), tm(p.UpdatedAt), scopes, mayGrant)
	if err != nil {
		return fmt.Errorf("postgres: put profile %q: %w", p.Name, classify(ctx, err))
	}
	return nil
}

// DeleteProfile removes a profile; ErrNotFound if there is none. Whether
// users still hold it is the caller's check.
func (t *txn) DeleteProfile(ctx context.Context, name string) error {
	return t.execOne(ctx, fmt.Sprintf("delete profile %q", name), `DELETE FROM profiles WHERE name = $1`, name)
}
