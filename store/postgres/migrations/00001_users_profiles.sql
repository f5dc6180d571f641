-- Users, profiles and lock-out state.
-- Times are timestamptz (microsecond resolution, an instant regardless of
-- the session's zone); NULL is the zero time. Slices and maps are jsonb
-- ('null' keeps nil apart from empty). *_lc columns hold lower-cased
-- copies computed by the Go code, as on SQLite, so both backends fold case
-- the same way (Unicode, not the server's locale). Keys and the columns
-- lists are ordered by use the "C" collation: they compare bytewise, as
-- on SQLite, whatever locale the database was created with.

-- +goose Up
CREATE TABLE profiles (
    name        text COLLATE "C" PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    privileges  jsonb NOT NULL DEFAULT 'null',
    from_config boolean NOT NULL DEFAULT false,
    created_at  timestamptz,
    updated_at  timestamptz
);

CREATE TABLE users (
    id                     text COLLATE "C" PRIMARY KEY,
    username               text NOT NULL,
    username_lc            text COLLATE "C" NOT NULL,
    display_name           text NOT NULL DEFAULT '',
    first_name             text NOT NULL DEFAULT '',
    last_name              text NOT NULL DEFAULT '',
    email                  text NOT NULL DEFAULT '',
    email_lc               text COLLATE "C" NOT NULL DEFAULT '',
    language               text NOT NULL DEFAULT '',
    state                  text NOT NULL,
    deactivated_reason     text NOT NULL DEFAULT '',
    source                 text COLLATE "C" NOT NULL,
    anchor                 text COLLATE "C" NOT NULL DEFAULT '',
    dn                     text NOT NULL DEFAULT '',
    upn                    text NOT NULL DEFAULT '',
    upn_lc                 text COLLATE "C" NOT NULL DEFAULT '',
    sam_account_name       text COLLATE "C" NOT NULL DEFAULT '',
    profile                text COLLATE "C" NOT NULL DEFAULT '',
    custom_privileges      jsonb NOT NULL DEFAULT 'null',
    units                  jsonb NOT NULL DEFAULT 'null',
    superuser              boolean NOT NULL DEFAULT false,
    fields                 jsonb NOT NULL DEFAULT 'null',
    pinned_profile         boolean NOT NULL DEFAULT false,
    pinned_units           boolean NOT NULL DEFAULT false,
    password_hash          text NOT NULL DEFAULT '',
    password_history       jsonb NOT NULL DEFAULT 'null',
    password_changed_at    timestamptz,
    password_expires_at    timestamptz,
    password_never_expires boolean NOT NULL DEFAULT false,
    must_change_password   boolean NOT NULL DEFAULT false,
    account_expires_at     timestamptz,
    emergency              boolean NOT NULL DEFAULT false,
    expires_at             timestamptz,
    created_at             timestamptz,
    updated_at             timestamptz,
    version                bigint NOT NULL DEFAULT 1,
    search_lc              text NOT NULL DEFAULT ''
);

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
    user_id          text COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failed_attempts  integer NOT NULL DEFAULT 0,
    first_failure_at timestamptz,
    last_failure_at  timestamptz,
    locked_until     timestamptz
);

-- +goose Down
DROP TABLE lockouts;
DROP TABLE users;
DROP TABLE profiles;
