-- SCIM provisioning: the hashed bearer token of each provisioning source.
-- One row per source; rotation replaces the hash.

-- +goose Up
CREATE TABLE provisioning_tokens (
    source     text COLLATE "C" PRIMARY KEY CHECK (source <> ''),
    hash       text NOT NULL CHECK (hash <> ''),
    created_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE provisioning_tokens;
