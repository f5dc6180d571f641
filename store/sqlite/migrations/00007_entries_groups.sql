-- directory_entries becomes an ordinary (rowid) table. As a WITHOUT ROWID
-- table each row was a key of the primary-key b-tree, and SQLite reads a
-- key whole to compare it: every seek that passed a large group (a member
-- list of megabytes in overflow pages) read that list. Now the key index
-- holds (directory, anchor) only and the rows sit in the table.
--
-- A partial index of the group rows lets a sync read a directory's groups
-- without visiting one row per user.

-- +goose Up
CREATE TABLE directory_entries_v7 (
    directory  TEXT NOT NULL,
    anchor     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    dn         TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL DEFAULT '',
    attributes TEXT NOT NULL DEFAULT 'null',
    groups     TEXT NOT NULL DEFAULT 'null',
    user_id    TEXT REFERENCES users (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    updated_at INTEGER,
    unmapped   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (directory, anchor)
) STRICT;
INSERT INTO directory_entries_v7 (directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at, unmapped)
    SELECT directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at, unmapped FROM directory_entries;
DROP TABLE directory_entries;
ALTER TABLE directory_entries_v7 RENAME TO directory_entries;
CREATE INDEX directory_entries_user ON directory_entries (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX directory_entries_groups ON directory_entries (directory, anchor) WHERE kind = 'group';

-- +goose Down
CREATE TABLE directory_entries_v6 (
    directory  TEXT NOT NULL,
    anchor     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    dn         TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL DEFAULT '',
    attributes TEXT NOT NULL DEFAULT 'null',
    groups     TEXT NOT NULL DEFAULT 'null',
    user_id    TEXT REFERENCES users (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    updated_at INTEGER,
    unmapped   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (directory, anchor)
) STRICT, WITHOUT ROWID;
INSERT INTO directory_entries_v6 (directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at, unmapped)
    SELECT directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at, unmapped FROM directory_entries;
DROP TABLE directory_entries;
ALTER TABLE directory_entries_v6 RENAME TO directory_entries;
CREATE INDEX directory_entries_user ON directory_entries (user_id) WHERE user_id IS NOT NULL;
