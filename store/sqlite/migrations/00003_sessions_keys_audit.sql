-- Sessions, API keys and their tokens, and the audit log.

-- +goose Up
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT NOT NULL DEFAULT '',
    source_ip    TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER,
    last_seen_at INTEGER,
    expires_at   INTEGER,
    bypass       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    hash         TEXT NOT NULL UNIQUE,
    created_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;

CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL DEFAULT '',
    created_at INTEGER,
    expires_at INTEGER
) STRICT;

CREATE INDEX tokens_key ON tokens (key_id);

-- The audit log outlives the users it names: no foreign keys.
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time      INTEGER NOT NULL,
    actor     TEXT NOT NULL DEFAULT '',
    action    TEXT NOT NULL DEFAULT '',
    target    TEXT NOT NULL DEFAULT '',
    outcome   TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL DEFAULT '',
    source_ip TEXT NOT NULL DEFAULT '',
    details   TEXT NOT NULL DEFAULT 'null'
) STRICT;

CREATE INDEX audit_time ON audit_events (time, id);
CREATE INDEX audit_actor_time ON audit_events (actor, time);
CREATE INDEX audit_action_time ON audit_events (action, time);
CREATE INDEX audit_target_time ON audit_events (target, time);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE tokens;
DROP TABLE api_keys;
DROP TABLE sessions;
