-- +goose Up
-- Customer onboardings: a new tenant (or an invited customer), MCA proof, cart and checkout.
CREATE TABLE customers (
    id                 TEXT PRIMARY KEY,
    partner_id         TEXT NOT NULL,
    invitation_id      TEXT NOT NULL DEFAULT '',
    reseller_id        TEXT NOT NULL DEFAULT '',
    reseller_tenant_id TEXT NOT NULL DEFAULT '',
    reseller_mpn_id    TEXT NOT NULL DEFAULT '',
    company_name       TEXT NOT NULL,
    domain             TEXT NOT NULL,
    country            TEXT NOT NULL,
    language           TEXT NOT NULL,
    contact_email      TEXT NOT NULL,
    customer_tenant_id TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL,
    workflow_id        TEXT NOT NULL,
    cart_id            TEXT NOT NULL DEFAULT '',
    order_ids          TEXT NOT NULL DEFAULT '',
    checkout_error     TEXT NOT NULL DEFAULT '',
    failure_reason     TEXT NOT NULL DEFAULT '',
    reminders_sent     INTEGER NOT NULL DEFAULT 0,
    request            TEXT NOT NULL,
    created_at         DATETIME NOT NULL,
    updated_at         DATETIME NOT NULL,
    expires_at         DATETIME NOT NULL
);
-- One open onboarding per customer domain.
CREATE UNIQUE INDEX customers_one_open ON customers (partner_id, domain)
    WHERE status IN ('creating', 'awaiting_agreement', 'review', 'ordering', 'provisioning');
CREATE INDEX customers_created ON customers (created_at, id);

-- The new tenant's first admin credentials, encrypted, shown once.
CREATE TABLE customer_credentials (
    customer_id         TEXT PRIMARY KEY REFERENCES customers (id),
    user_name           TEXT NOT NULL,
    password_ciphertext TEXT NOT NULL,
    created_at          DATETIME NOT NULL,
    revealed_at         DATETIME,
    revealed_by         TEXT NOT NULL DEFAULT ''
);

-- Evidence that the customer accepted the Microsoft Customer Agreement.
CREATE TABLE agreement_evidence (
    customer_id          TEXT PRIMARY KEY REFERENCES customers (id),
    method               TEXT NOT NULL,
    first_name           TEXT NOT NULL,
    last_name            TEXT NOT NULL,
    email                TEXT NOT NULL,
    date_agreed          DATETIME NOT NULL,
    recorded_at          DATETIME NOT NULL,
    client_ip            TEXT NOT NULL DEFAULT '',
    user_agent           TEXT NOT NULL DEFAULT '',
    api_key_id           TEXT NOT NULL DEFAULT '',
    attested_on_behalf   TEXT NOT NULL DEFAULT '',
    template_id          TEXT NOT NULL DEFAULT '',
    agreement_link       TEXT NOT NULL DEFAULT '',
    sent_at              DATETIME,
    partner_center_result TEXT NOT NULL DEFAULT ''
);

-- The subscriptions an onboarding's orders provisioned.
CREATE TABLE customer_subscriptions (
    id              TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    order_id        TEXT NOT NULL,
    offer_id        TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    quantity        INTEGER NOT NULL,
    status          TEXT NOT NULL,
    partner_id      TEXT NOT NULL DEFAULT '',
    support_contact TEXT NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL
);
CREATE INDEX customer_subscriptions_customer ON customer_subscriptions (customer_id);

-- +goose Down
DROP TABLE customer_subscriptions;
DROP TABLE agreement_evidence;
DROP TABLE customer_credentials;
DROP TABLE customers;
