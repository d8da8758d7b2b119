-- +goose Up
-- Each flow's state as its workflow held it at its last recorded step, as JSON, written in the
-- same transaction as the step: a flow's detail reads it instead of asking the workflow, which
-- would replay a flow evicted from the worker's cache ('' for rows recorded before it, whose
-- detail still asks).
ALTER TABLE invitations ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE resellers ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE removals ADD COLUMN state TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE removals DROP COLUMN state;
ALTER TABLE customers DROP COLUMN state;
ALTER TABLE resellers DROP COLUMN state;
ALTER TABLE invitations DROP COLUMN state;
