-- +goose Up
-- The directory's list and customer pages (models/directory_read.go) read a partner's 100,000
-- customers a page at a time: each order and each filter has an index that finds its page
-- without reading the rest.

-- The two orders, the tenant ID last so that a cursor's (key, tenant) is one range.
CREATE INDEX directory_customers_changed ON directory_customers (partner_id, changed_at, tenant_id);
DROP INDEX directory_customers_name;
CREATE INDEX directory_customers_name ON directory_customers (partner_id, company_name, tenant_id);
-- The search is a case-insensitive prefix: text_pattern_ops serves LIKE 'abc%' whatever the
-- database's collation.
CREATE INDEX directory_customers_name_prefix
    ON directory_customers (partner_id, lower(company_name) text_pattern_ops);
CREATE INDEX directory_customers_domain_prefix
    ON directory_customers (partner_id, lower(domain) text_pattern_ops);
-- The active relationships, which every filter on GDAP and each page's access read; the
-- queries name status and gone as these predicates do.
CREATE INDEX directory_gdap_active ON directory_gdap (partner_id, customer_tenant_id, assignments)
    WHERE status = 'active' AND NOT gone;
CREATE INDEX directory_gdap_expiring ON directory_gdap (partner_id, ends_at, customer_tenant_id)
    WHERE status = 'active' AND NOT gone AND NOT auto_extend;
-- A customer's page: its changes, and the flows of its tenant, its domain or its reseller.
CREATE INDEX directory_changes_customer ON directory_changes (partner_id, customer_tenant_id, id);
CREATE INDEX invitations_customer_domain ON invitations (partner_id, customer_domain);
CREATE INDEX invitations_customer_tenant ON invitations (partner_id, customer_tenant_id);
CREATE INDEX customers_customer_tenant ON customers (partner_id, customer_tenant_id);
CREATE INDEX customers_domain ON customers (partner_id, domain);
CREATE INDEX removals_reseller_tenant ON removals (partner_id, reseller_tenant_id);

-- +goose Down
DROP INDEX removals_reseller_tenant;
DROP INDEX customers_domain;
DROP INDEX customers_customer_tenant;
DROP INDEX invitations_customer_tenant;
DROP INDEX invitations_customer_domain;
DROP INDEX directory_changes_customer;
DROP INDEX directory_gdap_expiring;
DROP INDEX directory_gdap_active;
DROP INDEX directory_customers_domain_prefix;
DROP INDEX directory_customers_name_prefix;
DROP INDEX directory_customers_name;
CREATE INDEX directory_customers_name ON directory_customers (partner_id, company_name);
DROP INDEX directory_customers_changed;
