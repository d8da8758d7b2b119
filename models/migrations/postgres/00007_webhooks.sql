-- +goose Up
-- Partners' own endpoints that receive flow events; the signing secret is kept encrypted.
CREATE TABLE webhook_subscriptions (
    id                TEXT PRIMARY KEY,
    partner_id        TEXT NOT NULL,
    url               TEXT NOT NULL,
    events            TEXT NOT NULL,
    secret_ciphertext BYTEA NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    revoked_at        TIMESTAMPTZ
);
CREATE INDEX webhook_subscriptions_partner ON webhook_subscriptions (partner_id) WHERE revoked_at IS NULL;

-- The outbox: written in the transaction that changes a flow, delivered and retried from here,
-- and kept as the delivery log.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id),
    event_type      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    next_attempt_at TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);
-- One delivery per event and subscription, however often the change is written.
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (subscription_id, event_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (subscription_id, created_at, id);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
