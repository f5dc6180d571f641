-- Import groups chosen in the store (from the console, the API or the
-- CLI), imported beside the config's own groups. The anchor (objectGUID /
-- entryUUID text) is the key the sync resolves the group by, so a renamed
-- or moved group is still found; dn and name are kept for people to read.
-- The primary key serves the list of one directory's groups. Directory and
-- anchor use the "C" collation: they compare bytewise, as on SQLite.

-- +goose Up
CREATE TABLE import_groups (
    directory text COLLATE "C" NOT NULL CHECK (directory <> ''),
    anchor    text COLLATE "C" NOT NULL CHECK (anchor <> ''),
    dn        text NOT NULL,
    name      text NOT NULL,
    added_by  text NOT NULL,
    added_at  timestamptz NOT NULL,
    PRIMARY KEY (directory, anchor)
);

-- +goose Down
DROP TABLE import_groups;
