-- SCIM provisioning: the hashed bearer token of each provisioning source.
-- One row per source; rotation replaces the hash.

-- +goose Up
CREATE TABLE provisioning_tokens (
    source     TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    created_at INTEGER
) STRICT;

-- +goose Down
DROP TABLE provisioning_tokens;
