-- Imported directory entries, per-directory sync state and sync runs.

-- +goose Up
CREATE TABLE directory_entries (
    directory  text COLLATE "C" NOT NULL,
    anchor     text COLLATE "C" NOT NULL,
    kind       text NOT NULL,
    dn         text NOT NULL DEFAULT '',
    name       text NOT NULL DEFAULT '',
    attributes jsonb NOT NULL DEFAULT 'null',
    groups     jsonb NOT NULL DEFAULT 'null',
    -- Deferred so a sync may write entries and the users they map to in
    -- any order inside its one transaction.
    user_id    text COLLATE "C" REFERENCES users (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    updated_at timestamptz,
    PRIMARY KEY (directory, anchor)
);

CREATE INDEX directory_entries_user ON directory_entries (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE directory_state (
    directory       text COLLATE "C" PRIMARY KEY,
    cursor          text NOT NULL DEFAULT '',
    last_full_at    timestamptz,
    last_success_at timestamptz,
    updated_at      timestamptz
);

-- plan and stats are json, not jsonb: the text is kept exactly as the
-- sync wrote it (key order, spacing), as SQLite keeps it.
CREATE TABLE sync_runs (
    id          text COLLATE "C" PRIMARY KEY,
    directory   text COLLATE "C" NOT NULL,
    trigger     text NOT NULL DEFAULT '',
    "full"      boolean NOT NULL DEFAULT false,
    dry_run     boolean NOT NULL DEFAULT false,
    status      text NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz,
    created     integer NOT NULL DEFAULT 0,
    updated     integer NOT NULL DEFAULT 0,
    deactivated integer NOT NULL DEFAULT 0,
    reactivated integer NOT NULL DEFAULT 0,
    unchanged   integer NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    plan        json,
    stats       json
);

CREATE INDEX sync_runs_started ON sync_runs (started_at);
CREATE INDEX sync_runs_directory_started ON sync_runs (directory, started_at);

-- +goose Down
DROP TABLE sync_runs;
DROP TABLE directory_state;
DROP TABLE directory_entries;
