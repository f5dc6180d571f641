-- An administrator's unmap must outlive the next sync: without a record of
-- it, link_by (username or e-mail) would link the entry straight back.

-- +goose Up
ALTER TABLE directory_entries ADD COLUMN unmapped INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE directory_entries DROP COLUMN unmapped;
