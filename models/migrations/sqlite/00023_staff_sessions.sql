-- +goose Up
-- Sessions of staff who signed in with Microsoft (OpenID Connect) rather than an API key: the
-- user's object ID and name in the partner tenant and the partnerflow roles its app roles gave at
-- sign-in (api_key_id is '' for them).
ALTER TABLE sessions ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN roles TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN roles;
ALTER TABLE sessions DROP COLUMN user_name;
ALTER TABLE sessions DROP COLUMN user_id;
