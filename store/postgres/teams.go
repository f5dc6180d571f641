package postgres

import (
	"context"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

const teamCols = `name, description, coalesce(parent, ''), supervisors, created_at, updated_at`

func scanTeam(sc scanner) (store.Team, error) {
	var t store.Team
	var sup string
	if err := sc.Scan(&t.Name, &t.Description, &t.Parent, &sup, nullTime{&t.CreatedAt}, nullTime{&t.UpdatedAt}); err != nil {
		return t, err
	}
	var err error
	t.Supervisors, err = codec.Strings(sup)
	return t, err
}

// GetTeam returns the team called name.
func (o ops) GetTeam(ctx context.Context, name string) (store.Team, error) {
	t, err := scanTeam(o.q.QueryRow(ctx, `SELECT `+teamCols+` FROM teams WHERE name = $1`, name))
	if err != nil {
		return store.Team{}, fmt.Errorf("postgres: get team %q: %w", name, classify(ctx, err))
	}
	return t, nil
}

// ListTeams returns every team by name.
func (o ops) ListTeams(ctx context.Context) ([]store.Team, error) {
	rows, err := o.q.Query(ctx, `SELECT `+teamCols+` FROM teams ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list teams: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list teams: %w", classify(ctx, err))
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list teams: %w", classify(ctx, err))
	}
	return out, nil
}

// PutTeam creates or replaces a team; its parent must exist and must not
// lead back to it.
func (t *txn) PutTeam(ctx context.Context, team store.Team) error {
	if team.Name == "" {
		return fmt.Errorf("postgres: put team: %w: empty name", store.ErrConflict)
	}
	if err := codec.CheckTeamParent(team, func(name string) (store.Team, error) { return t.GetTeam(ctx, name) }); err != nil {
		return fmt.Errorf("postgres: put team %q: %w", team.Name, err)
	}
	now := codec.Now()
	if team.CreatedAt.IsZero() {
		team.CreatedAt = now
	}
	if team.UpdatedAt.IsZero() {
		team.UpdatedAt = now
	}
	sup, err := codec.JSON(team.Supervisors)
	if err != nil {
		return fmt.Errorf("postgres: put team %q: %w", team.Name, err)
	}
	var parent any
	if team.Parent != "" {
		parent = team.Parent
	}
	_, err = t.q.Exec(ctx, `INSERT INTO teams (name, description, parent, supervisors, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description, parent = excluded.parent,
		supervisors = excluded.supervisors, updated_at = excluded.updated_at`,
		team.Name, team.Description, parent, sup, tm(team.CreatedAt), tm(team.UpdatedAt))
	if err != nil {
		return fmt.Errorf("postgres: put team %q: %w", team.Name, classify(ctx, err))
	}
	return nil
}

// DeleteTeam removes a team without subteams.
func (t *txn) DeleteTeam(ctx context.Context, name string) error {
	var subteams int
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM teams WHERE parent = $1`, name).Scan(&subteams); err != nil {
		return fmt.Errorf("postgres: delete team %q: %w", name, classify(ctx, err))
	}
	if subteams > 0 {
		return fmt.Errorf("postgres: delete team %q: %w: it has %d subteams", name, store.ErrConflict, subteams)
	}
	return t.execOne(ctx, fmt.Sprintf("delete team %q", name), `DELETE FROM teams WHERE name = $1`, name)
}
