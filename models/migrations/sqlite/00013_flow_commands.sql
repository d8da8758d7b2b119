-- +goose Up
-- What the engine still owes Temporal for a flow: starting its workflow ("start", written in
-- the same transaction as the flow's row), telling it of recorded agreement evidence ("update"),
-- or, for flows an earlier version recorded, checking that their workflow ever started
-- ("verify"). The API does each at once; the dispatcher drives what a crash left behind, and a
-- command is deleted when Temporal has it. Only one process works on a command at a time: it
-- claims it until claimed_until.
CREATE TABLE flow_commands (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_kind     TEXT NOT NULL,
    flow_id       TEXT NOT NULL,
    command       TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    workflow_id   TEXT NOT NULL,
    workflow_type TEXT NOT NULL DEFAULT '',
    payload       TEXT NOT NULL DEFAULT '',
    attributes    TEXT NOT NULL DEFAULT '',
    created_at    DATETIME NOT NULL,
    claimed_until DATETIME NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX flow_commands_once ON flow_commands (flow_kind, flow_id, command, name);
CREATE INDEX flow_commands_due ON flow_commands (claimed_until);

-- Every flow an earlier version left open is checked once: a crash between its record and its
-- workflow's start left some without a workflow.
INSERT INTO flow_commands (flow_kind, flow_id, command, workflow_id, created_at, claimed_until)
    SELECT 'invitation', id, 'verify', workflow_id, created_at, created_at FROM invitations
    WHERE status IN ('pending', 'accepted', 'granting');
INSERT INTO flow_commands (flow_kind, flow_id, command, workflow_id, created_at, claimed_until)
    SELECT 'reseller', id, 'verify', workflow_id, created_at, created_at FROM resellers
    WHERE status IN ('pending', 'verifying', 'verification_failed');
INSERT INTO flow_commands (flow_kind, flow_id, command, workflow_id, created_at, claimed_until)
    SELECT 'customer', id, 'verify', workflow_id, created_at, created_at FROM customers
    WHERE status IN ('creating', 'awaiting_agreement', 'review', 'ordering', 'provisioning');
INSERT INTO flow_commands (flow_kind, flow_id, command, workflow_id, created_at, claimed_until)
    SELECT 'removal', id, 'verify', workflow_id, created_at, created_at FROM removals
    WHERE status = 'notifying';

-- +goose Down
DROP TABLE flow_commands;
