-- IdP links: a local user bound to an identity provider's stable subject
-- (Entra tid/oid, an OIDC issuer's sub, a persistent SAML NameID). A
-- returning person is matched by this link, never by a claim its owner
-- can change (e-mail, preferred_username): the nOAuth account takeover.
--
-- The primary key makes an (issuer, subject) belong to one user; the
-- unique (user_id, issuer) constraint gives a user one subject per IdP, so
-- a subject that changes is refused rather than silently re-bound. Its
-- index also serves the list of a user's links (ordered by issuer) and the
-- cascade when the user is deleted. Issuer and subject use the "C"
-- collation: they compare bytewise, case included (as OIDC's do and as on
-- SQLite), whatever collation the database was created with.

-- +goose Up
CREATE TABLE idp_links (
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer     text COLLATE "C" NOT NULL CHECK (issuer <> ''),
    subject    text COLLATE "C" NOT NULL CHECK (subject <> ''),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, subject),
    CONSTRAINT idp_links_user_issuer UNIQUE (user_id, issuer)
);

-- +goose Down
DROP TABLE idp_links;
