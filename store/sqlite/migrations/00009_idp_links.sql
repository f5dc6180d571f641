-- IdP links: a local user bound to an identity provider's stable subject
-- (Entra tid/oid, an OIDC issuer's sub, a persistent SAML NameID). A
-- returning person is matched by this link, never by a claim its owner
-- can change (e-mail, preferred_username): the nOAuth account takeover.
--
-- The primary key makes an (issuer, subject) belong to one user; the
-- unique (user_id, issuer) index gives a user one subject per IdP, so a
-- subject that changes is refused rather than silently re-bound. That
-- index also serves the list of a user's links (ordered by issuer) and the
-- cascade when the user is deleted. Issuer and subject compare with
-- SQLite's BINARY collation: exactly, case included, as OIDC's do.

-- +goose Up
CREATE TABLE idp_links (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer     TEXT NOT NULL CHECK (issuer <> ''),
    subject    TEXT NOT NULL CHECK (subject <> ''),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX idp_links_user_issuer ON idp_links (user_id, issuer);

-- +goose Down
DROP TABLE idp_links;
