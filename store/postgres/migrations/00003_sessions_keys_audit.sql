-- Sessions, API keys and their tokens, and the audit log.

-- +goose Up
CREATE TABLE sessions (
    id           text COLLATE "C" PRIMARY KEY,
    user_id      text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       text NOT NULL DEFAULT '',
    source_ip    text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT '',
    created_at   timestamptz,
    last_seen_at timestamptz,
    expires_at   timestamptz,
    bypass       boolean NOT NULL DEFAULT false
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_keys (
    id           text COLLATE "C" PRIMARY KEY,
    user_id      text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    hash         text COLLATE "C" NOT NULL UNIQUE,
    created_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE tokens (
    id         text COLLATE "C" PRIMARY KEY,
    key_id     text COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    user_id    text NOT NULL DEFAULT '',
    created_at timestamptz,
    expires_at timestamptz
);

CREATE INDEX tokens_key ON tokens (key_id);

-- The audit log outlives the users it names: no foreign keys.
CREATE TABLE audit_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time      timestamptz NOT NULL,
    actor     text COLLATE "C" NOT NULL DEFAULT '',
    action    text COLLATE "C" NOT NULL DEFAULT '',
    target    text COLLATE "C" NOT NULL DEFAULT '',
    outcome   text NOT NULL DEFAULT '',
    reason    text NOT NULL DEFAULT '',
    source_ip text NOT NULL DEFAULT '',
    details   jsonb NOT NULL DEFAULT 'null'
);

CREATE INDEX audit_time ON audit_events (time, id);
CREATE INDEX audit_actor_time ON audit_events (actor, time);
CREATE INDEX audit_action_time ON audit_events (action, time);
CREATE INDEX audit_target_time ON audit_events (target, time);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE tokens;
DROP TABLE api_keys;
DROP TABLE sessions;
