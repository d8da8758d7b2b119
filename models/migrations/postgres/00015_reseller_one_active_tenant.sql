-- +goose Up
-- A provider's partnership with a reseller tenant is active at most once: before this rule a
-- PartnerID typed on a reseller's public landing page could make a second partnership active
-- with another reseller's tenant. A duplicate that exists already is ended here,
-- visibly: the earliest verified partnership keeps the tenant, each later one becomes failed
-- with the reason on its row and its timeline.
INSERT INTO flow_steps (flow_kind, flow_id, name, detail, idempotency_key, at)
    SELECT 'reseller', later.id, 'failed',
           'tenant-taken: reseller tenant ' || later.tenant_id || ' already had an active partnership when partnerships were first matched by tenant; ended by migration 00015',
           later.id || '/failed/00015', later.updated_at
    FROM resellers AS later
    WHERE later.status = 'active' AND later.tenant_id <> '' AND EXISTS (
        SELECT 1 FROM resellers AS first
        WHERE first.partner_id = later.partner_id AND first.tenant_id = later.tenant_id AND first.status = 'active'
          AND (COALESCE(first.verified_at, first.created_at) < COALESCE(later.verified_at, later.created_at)
               OR (COALESCE(first.verified_at, first.created_at) = COALESCE(later.verified_at, later.created_at) AND first.id < later.id)));
UPDATE resellers SET status = 'failed', failure_code = 'tenant-taken',
       failure_reason = 'reseller tenant ' || tenant_id || ' already had an active partnership; ended by migration 00015'
    WHERE id IN (SELECT flow_id FROM flow_steps WHERE flow_kind = 'reseller' AND idempotency_key = flow_id || '/failed/00015');
CREATE UNIQUE INDEX resellers_one_active_tenant ON resellers (partner_id, tenant_id)
    WHERE status = 'active' AND tenant_id <> '';
-- A request waiting for the provider's review is open: its contact gets no second request.
DROP INDEX resellers_one_open;
CREATE UNIQUE INDEX resellers_one_open ON resellers (partner_id, email)
    WHERE status IN ('pending', 'verifying', 'verification_failed', 'needs_review', 'active');

-- +goose Down
DROP INDEX resellers_one_open;
CREATE UNIQUE INDEX resellers_one_open ON resellers (partner_id, email)
    WHERE status IN ('pending', 'verifying', 'verification_failed', 'active');
DROP INDEX resellers_one_active_tenant;
