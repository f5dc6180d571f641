-- An administrator's unmap must outlive the next sync: without a record of
-- it, link_by (username or e-mail) would link the entry straight back.

-- +goose Up
ALTER TABLE directory_entries ADD COLUMN unmapped boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE directory_entries DROP COLUMN unmapped;
