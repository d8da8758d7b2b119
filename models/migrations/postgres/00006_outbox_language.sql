-- +goose Up
-- Each outbox message keeps its HTML alternative, its language and the kind of message it is,
-- so the outbox shows what was sent and in which language; reads by recipient and by status
-- for the notifications list.
ALTER TABLE outbox_messages ADD COLUMN html TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox_messages ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox_messages ADD COLUMN kind TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_messages_to ON outbox_messages (to_address, id);
CREATE INDEX outbox_messages_status ON outbox_messages (status, id);

-- +goose Down
DROP INDEX outbox_messages_status;
DROP INDEX outbox_messages_to;
ALTER TABLE outbox_messages DROP COLUMN kind;
ALTER TABLE outbox_messages DROP COLUMN language;
ALTER TABLE outbox_messages DROP COLUMN html;
