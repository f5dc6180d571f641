-- Users, profiles and lock-out state.
-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL is the
-- zero time. Slices and maps are JSON text ("null" keeps nil apart from
-- empty). *_lc columns hold lower-cased copies computed by the Go code so
-- case-insensitive lookups use plain indexes and fold Unicode, not just
-- ASCII.

-- +goose Up
CREATE TABLE profiles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    privileges  TEXT NOT NULL DEFAULT 'null',
    from_config INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER,
    updated_at  INTEGER
) STRICT;

CREATE TABLE users (
    id                     TEXT PRIMARY KEY,
    username               TEXT NOT NULL,
    username_lc            TEXT NOT NULL,
    display_name           TEXT NOT NULL DEFAULT '',
    first_name             TEXT NOT NULL DEFAULT '',
    last_name              TEXT NOT NULL DEFAULT '',
    email                  TEXT NOT NULL DEFAULT '',
    email_lc               TEXT NOT NULL DEFAULT '',
    language               TEXT NOT NULL DEFAULT '',
    state                  TEXT NOT NULL,
    deactivated_reason     TEXT NOT NULL DEFAULT '',
    source                 TEXT NOT NULL,
    anchor                 TEXT NOT NULL DEFAULT '',
    dn                     TEXT NOT NULL DEFAULT '',
    upn                    TEXT NOT NULL DEFAULT '',
    upn_lc                 TEXT NOT NULL DEFAULT '',
    sam_account_name       TEXT NOT NULL DEFAULT '',
    profile                TEXT NOT NULL DEFAULT '',
    custom_privileges      TEXT NOT NULL DEFAULT 'null',
    units                  TEXT NOT NULL DEFAULT 'null',
    superuser              INTEGER NOT NULL DEFAULT 0,
    fields                 TEXT NOT NULL DEFAULT 'null',
    pinned_profile         INTEGER NOT NULL DEFAULT 0,
    pinned_units           INTEGER NOT NULL DEFAULT 0,
    password_hash          TEXT NOT NULL DEFAULT '',
    password_history       TEXT NOT NULL DEFAULT 'null',
    password_changed_at    INTEGER,
    password_expires_at    INTEGER,
    password_never_expires INTEGER NOT NULL DEFAULT 0,
    must_change_password   INTEGER NOT NULL DEFAULT 0,
    account_expires_at     INTEGER,
    emergency              INTEGER NOT NULL DEFAULT 0,
    expires_at             INTEGER,
    created_at             INTEGER,
    updated_at             INTEGER,
    version                INTEGER NOT NULL DEFAULT 1,
    search_lc              TEXT NOT NULL DEFAULT ''
) STRICT;

-- Usernames are unique regardless of case: AD treats them so, and two
-- users differing only in case could not be told apart at sign-in.
CREATE UNIQUE INDEX users_username_lc ON users (username_lc);
-- A directory user is keyed by its anchor; local users have none.
CREATE UNIQUE INDEX users_source_anchor ON users (source, anchor) WHERE anchor <> '';
-- ListUsers orders by username; the source index serves the sync's
-- "every user of directory X".
CREATE INDEX users_source_username ON users (source, username_lc);
CREATE INDEX users_email_lc ON users (email_lc) WHERE email_lc <> '';
CREATE INDEX users_upn_lc ON users (upn_lc) WHERE upn_lc <> '';
CREATE INDEX users_anchor ON users (anchor) WHERE anchor <> '';
CREATE INDEX users_sam ON users (sam_account_name) WHERE sam_account_name <> '';
CREATE INDEX users_profile ON users (profile);

CREATE TABLE lockouts (
    user_id          TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    first_failure_at INTEGER,
    last_failure_at  INTEGER,
    locked_until     INTEGER
) STRICT;

-- +goose Down
DROP TABLE lockouts;
DROP TABLE users;
DROP TABLE profiles;
