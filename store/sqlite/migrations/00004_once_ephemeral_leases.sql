-- One-time keys, short-lived values and leases.

-- +goose Up
CREATE TABLE once_keys (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX once_keys_expires ON once_keys (expires_at);

CREATE TABLE ephemeral (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      BLOB,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX ephemeral_expires ON ephemeral (expires_at);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE leases;
DROP TABLE ephemeral;
DROP TABLE once_keys;
