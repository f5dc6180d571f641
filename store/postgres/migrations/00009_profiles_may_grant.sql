-- A profile's may_grant lists the privileges its holders may grant or
-- revoke to others (JSON array); null keeps the rule "what you hold".

-- +goose Up
ALTER TABLE profiles ADD COLUMN may_grant jsonb NOT NULL DEFAULT 'null';

-- +goose Down
ALTER TABLE profiles DROP COLUMN may_grant;
