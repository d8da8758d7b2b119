-- +goose Up
-- The customers' subscriptions as the estate sync last read them from Partner Center (one call
-- per customer, "Get a customer's subscriptions"): a pass reads a bounded number of customers,
-- those never read first, then the least recently read (models/directory_subscriptions.go). A
-- subscription the customer's latest read no longer listed is kept, marked gone.
CREATE TABLE directory_subscriptions (
    partner_id          TEXT NOT NULL,
    id                  TEXT NOT NULL,
    customer_tenant_id  TEXT NOT NULL,
    offer_id            TEXT NOT NULL DEFAULT '',
    offer_name          TEXT NOT NULL DEFAULT '',
    friendly_name       TEXT NOT NULL DEFAULT '',
    quantity            INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL DEFAULT '',
    billing_cycle       TEXT NOT NULL DEFAULT '',
    term_duration       TEXT NOT NULL DEFAULT '',
    commitment_ends_at  DATETIME,
    auto_renew          BOOLEAN NOT NULL DEFAULT 0,
    reseller_partner_id TEXT NOT NULL DEFAULT '',
    gone                BOOLEAN NOT NULL DEFAULT 0,
    pass                INTEGER NOT NULL DEFAULT 0,
    first_seen_at       DATETIME NOT NULL,
    seen_at             DATETIME NOT NULL,
    changed_at          DATETIME NOT NULL,
    PRIMARY KEY (partner_id, id)
);
-- A customer's page and each read (which compares with what the customer had).
CREATE INDEX directory_subscriptions_customer ON directory_subscriptions (partner_id, customer_tenant_id);

-- When each customer's subscriptions were last read, in which pass, and what the read found
-- (error: why Partner Center refused to list them, "" when it did; listed_at: the latest read it
-- answered, NULL while none did).
CREATE TABLE directory_subscription_reads (
    partner_id         TEXT NOT NULL,
    customer_tenant_id TEXT NOT NULL,
    read_at            DATETIME NOT NULL,
    listed_at          DATETIME,
    pass               INTEGER NOT NULL DEFAULT 0,
    subscriptions      INTEGER NOT NULL DEFAULT 0,
    error              TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, customer_tenant_id)
);
-- The least recently read customers come first in the next pass's choice.
CREATE INDEX directory_subscription_reads_oldest
    ON directory_subscription_reads (partner_id, read_at, customer_tenant_id);

-- +goose Down
DROP TABLE directory_subscription_reads;
DROP TABLE directory_subscriptions;
