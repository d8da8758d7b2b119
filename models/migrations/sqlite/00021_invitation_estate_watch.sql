-- +goose Up
-- An active invitation whose GDAP relationship the partner's estate sync watches instead of a
-- GDAP watch workflow of its own (invitations that left Partner Center alone, from this version):
-- the sync alerts on the relationship's end or approaching expiry from the directory, once each,
-- on the invitation's timeline and by mail to alert_email, the contact the invitation named.
ALTER TABLE invitations ADD COLUMN estate_watch BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE invitations ADD COLUMN alert_email TEXT NOT NULL DEFAULT '';
CREATE INDEX invitations_estate_watch ON invitations (partner_id, gdap_relationship_id) WHERE estate_watch;

-- +goose Down
DROP INDEX invitations_estate_watch;
ALTER TABLE invitations DROP COLUMN alert_email;
ALTER TABLE invitations DROP COLUMN estate_watch;
