-- +goose Up
-- The tenant that holds an invitation's domain, as Microsoft Graph resolved it when the invitation
-- was made: a custom domain (contoso.com) is never Partner Center's companyProfile.domain, so the
-- estate sync finds the invitation's customer by this tenant. Empty for invitations made before.
ALTER TABLE invitations ADD COLUMN domain_tenant_id TEXT NOT NULL DEFAULT '';
CREATE INDEX invitations_domain_tenant ON invitations (partner_id, domain_tenant_id) WHERE domain_tenant_id <> '';

-- +goose Down
DROP INDEX invitations_domain_tenant;
ALTER TABLE invitations DROP COLUMN domain_tenant_id;
