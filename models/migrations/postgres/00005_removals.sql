-- +goose Up
-- Removals of reseller partnerships, with the good-faith attestation as evidence.
CREATE TABLE removals (
    id                 TEXT PRIMARY KEY,
    partner_id         TEXT NOT NULL,
    reseller_id        TEXT NOT NULL REFERENCES resellers (id),
    reseller_tenant_id TEXT NOT NULL,
    reseller_name      TEXT NOT NULL,
    status             TEXT NOT NULL,
    workflow_id        TEXT NOT NULL,
    attested_by        TEXT NOT NULL,
    attested_key_id    TEXT NOT NULL,
    attested_ip        TEXT NOT NULL,
    attested_at        TIMESTAMPTZ NOT NULL,
    failure_reason     TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
-- One removal of a reseller at a time.
CREATE UNIQUE INDEX removals_one_open ON removals (reseller_id) WHERE status = 'notifying';
CREATE INDEX removals_created ON removals (created_at, id);

-- One record per message a flow sends to one recipient: never sent twice, never dropped.
CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    flow_kind       TEXT NOT NULL,
    flow_id         TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    recipient_name  TEXT NOT NULL DEFAULT '',
    role            TEXT NOT NULL DEFAULT '',
    language        TEXT NOT NULL DEFAULT 'en',
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    delivered_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX deliveries_one_per_recipient ON deliveries (flow_kind, flow_id, channel, recipient);
CREATE INDEX deliveries_flow_status ON deliveries (flow_kind, flow_id, status, id);

-- +goose Down
DROP TABLE deliveries;
DROP TABLE removals;
