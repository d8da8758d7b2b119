-- +goose Up
CREATE TABLE invitations (
    id                   TEXT PRIMARY KEY,
    partner_id           TEXT NOT NULL,
    customer_domain      TEXT NOT NULL,
    customer_email       TEXT NOT NULL,
    indirect_reseller_id TEXT NOT NULL DEFAULT '',
    roles                TEXT NOT NULL,
    duration_days        INTEGER NOT NULL,
    auto_extend          BOOLEAN NOT NULL,
    status               TEXT NOT NULL,
    workflow_id          TEXT NOT NULL,
    gdap_relationship_id TEXT NOT NULL DEFAULT '',
    customer_tenant_id   TEXT NOT NULL DEFAULT '',
    failure_reason       TEXT NOT NULL DEFAULT '',
    reminders_sent       INTEGER NOT NULL DEFAULT 0,
    created_at           DATETIME NOT NULL,
    updated_at           DATETIME NOT NULL,
    expires_at           DATETIME NOT NULL
);
-- One open invitation per customer and partner, whichever API replica takes the request.
CREATE UNIQUE INDEX invitations_one_open ON invitations (partner_id, customer_domain)
    WHERE status IN ('pending', 'accepted', 'granting');
CREATE INDEX invitations_status_created ON invitations (status, created_at);
CREATE INDEX invitations_created ON invitations (created_at, id);
CREATE INDEX invitations_gdap ON invitations (gdap_relationship_id);

CREATE TABLE invitation_steps (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL,
    at            DATETIME NOT NULL
);
CREATE UNIQUE INDEX invitation_steps_key ON invitation_steps (idempotency_key);
CREATE INDEX invitation_steps_invitation ON invitation_steps (invitation_id, at);

CREATE TABLE outbox_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    to_address      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL,
    sent_at         DATETIME
);

CREATE TABLE webhook_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_name    TEXT NOT NULL,
    resource_uri  TEXT NOT NULL,
    resource_name TEXT NOT NULL DEFAULT '',
    changed_at    TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL,
    received_at   DATETIME NOT NULL,
    processed_at  DATETIME,
    result        TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE webhook_events;
DROP TABLE outbox_messages;
DROP TABLE invitation_steps;
DROP TABLE invitations;
