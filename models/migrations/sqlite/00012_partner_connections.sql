-- +goose Up
-- The partner's App+User connection to Partner Center (the secure application model): who
-- signed in, the refresh token sealed with a key of its own, its version (each rotation writes
-- over the version it redeemed only), and when it stopped working.
CREATE TABLE partner_connections (
    partner_id           TEXT PRIMARY KEY,
    upn                  TEXT NOT NULL DEFAULT '',
    name                 TEXT NOT NULL DEFAULT '',
    object_id            TEXT NOT NULL DEFAULT '',
    sealed_refresh_token BLOB,
    version              BIGINT NOT NULL DEFAULT 0,
    connected_at         DATETIME,
    refreshed_at         DATETIME,
    last_used_at         DATETIME,
    lost_at              DATETIME,
    lost_reason          TEXT NOT NULL DEFAULT '',
    lapse_warned_at      DATETIME
);

-- +goose Down
DROP TABLE partner_connections;
