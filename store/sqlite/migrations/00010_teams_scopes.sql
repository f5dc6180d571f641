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
-- user_units mirrors users.units (a JSON array) as rows, kept by triggers,
-- so that a scoped administrator's user list ("users in these teams")
-- reads an index instead of parsing every user's JSON.

-- +goose Up
CREATE TABLE teams (
    name        TEXT PRIMARY KEY CHECK (name <> ''),
    description TEXT NOT NULL DEFAULT '',
    parent      TEXT REFERENCES teams (name) ON DELETE RESTRICT,
    supervisors TEXT NOT NULL DEFAULT 'null',
    created_at  INTEGER,
    updated_at  INTEGER
) STRICT;

CREATE INDEX teams_parent ON teams (parent);

ALTER TABLE profiles ADD COLUMN scopes TEXT NOT NULL DEFAULT 'null';

CREATE TABLE user_units (
    unit    TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (unit, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX user_units_user ON user_units (user_id);

INSERT OR IGNORE INTO user_units (unit, user_id)
    SELECT j.value, u.id FROM users u, json_each(u.units) j WHERE j.type = 'text';

-- +goose StatementBegin
CREATE TRIGGER users_units_insert AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO user_units (unit, user_id)
        SELECT value, NEW.id FROM json_each(NEW.units) WHERE type = 'text';
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_units_update AFTER UPDATE OF units ON users
WHEN OLD.units IS NOT NEW.units BEGIN
    DELETE FROM user_units WHERE user_id = NEW.id;
    INSERT OR IGNORE INTO user_units (unit, user_id)
        SELECT value, NEW.id FROM json_each(NEW.units) WHERE type = 'text';
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER users_units_update;
DROP TRIGGER users_units_insert;
DROP TABLE user_units;
ALTER TABLE profiles DROP COLUMN scopes;
DROP TABLE teams;
