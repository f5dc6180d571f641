-- One-time keys, short-lived values and leases.

-- +goose Up
CREATE TABLE once_keys (
    namespace  text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE INDEX once_keys_expires ON once_keys (expires_at);

CREATE TABLE ephemeral (
    namespace  text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    value      bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE INDEX ephemeral_expires ON ephemeral (expires_at);

-- Lease times come from the database's clock, so replicas whose clocks
-- disagree still agree on who holds a lease.
CREATE TABLE leases (
    name       text COLLATE "C" PRIMARY KEY,
    holder     text COLLATE "C" NOT NULL,
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TABLE ephemeral;
DROP TABLE once_keys;
