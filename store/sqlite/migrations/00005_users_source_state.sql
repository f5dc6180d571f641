-- A sync counts a directory's users and its active users on every run
-- (the deactivation limit is a share of them). With this index both counts
-- read the index alone; without it the active count visits every row of
-- the directory's users.

-- +goose Up
CREATE INDEX users_source_state ON users (source, state);

-- +goose Down
DROP INDEX users_source_state;
