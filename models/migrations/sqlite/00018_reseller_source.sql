-- +goose Up
-- Where a partnership came from: 'request' (partnerflow asked the reseller's contact; every
-- partnership so far) or 'partner-center' (Partner Center already listed the reseller as having
-- authorized the provider before partnerflow, and the estate sync imported it).
ALTER TABLE resellers ADD COLUMN source TEXT NOT NULL DEFAULT 'request';
-- An imported partnership has no contact e-mail: the one-open-request-per-contact rule holds for
-- requests only, so that two imported partnerships never collide on ''.
DROP INDEX resellers_one_open;
CREATE UNIQUE INDEX resellers_one_open ON resellers (partner_id, email)
    WHERE email <> '' AND status IN ('pending', 'verifying', 'verification_failed', 'needs_review', 'active');
-- One open or active imported partnership per provider and reseller tenant: two attempts of the
-- same import running at once cannot both write one. (resellers_one_active_tenant still keeps a
-- tenant active in at most one partnership, whatever its source.)
CREATE UNIQUE INDEX resellers_one_imported ON resellers (partner_id, tenant_id)
    WHERE source = 'partner-center'
      AND status IN ('pending', 'verifying', 'verification_failed', 'needs_review', 'active');

-- +goose Down
DROP INDEX resellers_one_imported;
DROP INDEX resellers_one_open;
CREATE UNIQUE INDEX resellers_one_open ON resellers (partner_id, email)
    WHERE status IN ('pending', 'verifying', 'verification_failed', 'needs_review', 'active');
ALTER TABLE resellers DROP COLUMN source;
