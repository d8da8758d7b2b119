-- +goose Up
-- An invitation may ask for a reseller relationship alone, without GDAP admin roles; existing
-- invitations asked for both. It also names the customer's Microsoft cloud, which decides where
-- the customer accepts (public: the Microsoft 365 admin center; usgov: the Office admin portal
-- for US Government).
ALTER TABLE invitations ADD COLUMN admin_access BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE invitations ADD COLUMN cloud TEXT NOT NULL DEFAULT 'public';

-- +goose Down
ALTER TABLE invitations DROP COLUMN cloud;
ALTER TABLE invitations DROP COLUMN admin_access;
