-- Import groups chosen in the store (from the console, the API or the
-- CLI), imported beside the config's own groups. The anchor (objectGUID /
-- entryUUID text) is the key the sync resolves the group by, so a renamed
-- or moved group is still found; dn and name are kept for people to read.
-- The primary key serves the list of one directory's groups.

-- +goose Up
CREATE TABLE import_groups (
    directory TEXT NOT NULL CHECK (directory <> ''),
    anchor    TEXT NOT NULL CHECK (anchor <> ''),
    dn        TEXT NOT NULL,
    name      TEXT NOT NULL,
    added_by  TEXT NOT NULL,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (directory, anchor)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE import_groups;
