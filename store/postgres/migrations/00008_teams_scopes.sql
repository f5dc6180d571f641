-- Teams and scoped administration.
--
-- A team has an optional parent (subteams) and supervisors (user IDs, as
-- JSON: a deleted supervisor's ID simply names nobody). The parent is a
-- foreign key, so a team with subteams cannot be deleted; loops are
-- refused by the store before it writes.
--
-- A profile's scopes limit its scoped privileges to teams (JSON object
-- privilege -> {kind, teams}).
--
-- A GIN index on users.units serves a scoped administrator's user list
-- ("users in any of these teams", units ?| array[...]).

-- +goose Up
CREATE TABLE teams (
    name        text COLLATE "C" PRIMARY KEY CHECK (name <> ''),
    description text NOT NULL DEFAULT '',
    parent      text COLLATE "C" REFERENCES teams (name) ON DELETE RESTRICT,
    supervisors jsonb NOT NULL DEFAULT 'null',
    created_at  timestamptz,
    updated_at  timestamptz
);

CREATE INDEX teams_parent ON teams (parent);

ALTER TABLE profiles ADD COLUMN scopes jsonb NOT NULL DEFAULT 'null';

CREATE INDEX users_units ON users USING gin (units);

-- +goose Down
DROP INDEX users_units;
ALTER TABLE profiles DROP COLUMN scopes;
DROP TABLE teams;
