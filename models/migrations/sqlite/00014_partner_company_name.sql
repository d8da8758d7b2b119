-- +goose Up
-- The partner's company name as its Partner Center profile gives it, read when the connection is
-- made or renewed: customers see it on pages and in mails unless the operator configured a name.
ALTER TABLE partner_connections ADD COLUMN company_name TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE partner_connections DROP COLUMN company_name;
