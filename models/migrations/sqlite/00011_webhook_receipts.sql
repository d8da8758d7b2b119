-- +goose Up
-- The SHA-256 of every Partner Center event body accepted, so a replayed or retried event is
-- processed once. Rows are pruned once their event is older than the replay window, after which
-- the event's own date refuses it.
CREATE TABLE webhook_receipts (
    body_sha256 TEXT PRIMARY KEY,
    changed_at  DATETIME NOT NULL,
    received_at DATETIME NOT NULL
);
CREATE INDEX webhook_receipts_received ON webhook_receipts (received_at);

-- +goose Down
DROP TABLE webhook_receipts;
