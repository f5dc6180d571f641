-- Imported directory entries, per-directory sync state and sync runs.

-- +goose Up
CREATE TABLE directory_entries (
    directory  TEXT NOT NULL,
    anchor     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    dn         TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL DEFAULT '',
    attributes TEXT NOT NULL DEFAULT 'null',
    groups     TEXT NOT NULL DEFAULT 'null',
    -- Deferred so a sync may write entries and the users they map to in
    -- any order inside its one transaction.
    user_id    TEXT REFERENCES users (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    updated_at INTEGER,
    PRIMARY KEY (directory, anchor)
) STRICT, WITHOUT ROWID;

CREATE INDEX directory_entries_user ON directory_entries (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE directory_state (
    directory       TEXT PRIMARY KEY,
    cursor          TEXT NOT NULL DEFAULT '',
    last_full_at    INTEGER,
    last_success_at INTEGER,
    updated_at      INTEGER
) STRICT;

CREATE TABLE sync_runs (
    id          TEXT PRIMARY KEY,
    directory   TEXT NOT NULL,
    trigger     TEXT NOT NULL DEFAULT '',
    full        INTEGER NOT NULL DEFAULT 0,
    dry_run     INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    created     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    deactivated INTEGER NOT NULL DEFAULT 0,
    reactivated INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    plan        TEXT,
    stats       TEXT
) STRICT;

CREATE INDEX sync_runs_started ON sync_runs (started_at);
CREATE INDEX sync_runs_directory_started ON sync_runs (directory, started_at);

-- +goose Down
DROP TABLE sync_runs;
DROP TABLE directory_state;
DROP TABLE directory_entries;
