-- +goose Up
-- The partner's estate as its sync last read it from Partner Center and Microsoft Graph, whoever
-- made each part: the customers, their GDAP relationships, and each pass's progress. A row
-- the latest full pass did not see is kept, marked gone.
CREATE TABLE directory_customers (
    partner_id         TEXT NOT NULL,
    tenant_id          TEXT NOT NULL,
    company_name       TEXT NOT NULL DEFAULT '',
    domain             TEXT NOT NULL DEFAULT '',
    relationship       TEXT NOT NULL DEFAULT '',
    reseller_tenant_id TEXT NOT NULL DEFAULT '',
    reseller_pass      INTEGER NOT NULL DEFAULT 0,
    gone               BOOLEAN NOT NULL DEFAULT 0,
    pass               INTEGER NOT NULL DEFAULT 0,
    first_seen_at      DATETIME NOT NULL,
    seen_at            DATETIME NOT NULL,
    changed_at         DATETIME NOT NULL,
    PRIMARY KEY (partner_id, tenant_id)
);
CREATE INDEX directory_customers_name ON directory_customers (partner_id, company_name);
CREATE INDEX directory_customers_domain ON directory_customers (partner_id, domain);
CREATE INDEX directory_customers_reseller ON directory_customers (partner_id, reseller_tenant_id);
CREATE INDEX directory_customers_pass ON directory_customers (partner_id, pass);

CREATE TABLE directory_gdap (
    partner_id         TEXT NOT NULL,
    id                 TEXT NOT NULL,
    customer_tenant_id TEXT NOT NULL DEFAULT '',
    display_name       TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL DEFAULT '',
    roles              TEXT NOT NULL DEFAULT '',
    global_admin       BOOLEAN NOT NULL DEFAULT 0,
    auto_extend        BOOLEAN NOT NULL DEFAULT 0,
    activated_at       DATETIME,
    ends_at            DATETIME,
    assignments        INTEGER NOT NULL DEFAULT -1,
    gone               BOOLEAN NOT NULL DEFAULT 0,
    pass               INTEGER NOT NULL DEFAULT 0,
    first_seen_at      DATETIME NOT NULL,
    seen_at            DATETIME NOT NULL,
    changed_at         DATETIME NOT NULL,
    PRIMARY KEY (partner_id, id)
);
CREATE INDEX directory_gdap_customer ON directory_gdap (partner_id, customer_tenant_id);
CREATE INDEX directory_gdap_ends ON directory_gdap (partner_id, ends_at);
CREATE INDEX directory_gdap_pass ON directory_gdap (partner_id, pass);

-- What a pass found changed, each change once (key), until the sync has told whoever waits.
CREATE TABLE directory_changes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    customer_tenant_id TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '',
    change_key   TEXT NOT NULL,
    created_at   DATETIME NOT NULL,
    delivered_at DATETIME
);
CREATE UNIQUE INDEX directory_changes_once ON directory_changes (partner_id, change_key);
CREATE INDEX directory_changes_undelivered ON directory_changes (partner_id, delivered_at, id);

-- Each partner's sync: the pass under way, and when a full pass last ended.
CREATE TABLE directory_syncs (
    partner_id        TEXT PRIMARY KEY,
    pass              INTEGER NOT NULL DEFAULT 0,
    started_at        DATETIME,
    completed_pass    INTEGER NOT NULL DEFAULT 0,
    completed_at      DATETIME,
    customers         INTEGER NOT NULL DEFAULT 0,
    relationships     INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE directory_syncs;
DROP TABLE directory_changes;
DROP TABLE directory_gdap;
DROP TABLE directory_customers;
