-- +goose Up
-- Dashboard sessions, kept server-side so that signing out or revoking the key ends them.
-- Only a hash of the session ID is stored; the ID itself lives in the operator's cookie.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    api_key_id TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    revoked_at DATETIME
);
CREATE INDEX sessions_api_key ON sessions (api_key_id);
-- Keys whose plaintext carries no ID (the bootstrap key) are found by the hash of their secret.
CREATE INDEX api_keys_secret_hash ON api_keys (secret_hash);

-- +goose Down
DROP INDEX api_keys_secret_hash;
DROP TABLE sessions;
