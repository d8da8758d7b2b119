-- +goose Up
-- Indirect reseller partnerships, one row per request; the timeline is in flow_steps.
CREATE TABLE resellers (
    id             TEXT PRIMARY KEY,
    partner_id     TEXT NOT NULL,
    company_name   TEXT NOT NULL,
    email          TEXT NOT NULL,
    language       TEXT NOT NULL DEFAULT 'en',
    mpn_id         TEXT NOT NULL DEFAULT '',
    tenant_id      TEXT NOT NULL DEFAULT '',
    location       TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    workflow_id    TEXT NOT NULL,
    failure_code   TEXT NOT NULL DEFAULT '',
    failure_reason TEXT NOT NULL DEFAULT '',
    reminders_sent INTEGER NOT NULL DEFAULT 0,
    verified_at    DATETIME,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL,
    expires_at     DATETIME NOT NULL
);
-- One open or active partnership per provider and reseller contact.
CREATE UNIQUE INDEX resellers_one_open ON resellers (partner_id, email)
    WHERE status IN ('pending', 'verifying', 'verification_failed', 'active');
CREATE INDEX resellers_created ON resellers (created_at, id);
CREATE INDEX resellers_tenant ON resellers (tenant_id);

-- +goose Down
DROP TABLE resellers;
