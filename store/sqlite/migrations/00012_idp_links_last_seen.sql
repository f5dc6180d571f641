-- When each IdP link was last used to sign in: users that exist only
-- through an IdP (source 'idp', created just in time) and have not signed
-- in there for sso.idle_deactivation are deactivated. NULL for links made
-- before this version: their created_at stands in.

-- +goose Up
ALTER TABLE idp_links ADD COLUMN last_seen_at INTEGER;

-- +goose Down
ALTER TABLE idp_links DROP COLUMN last_seen_at;
