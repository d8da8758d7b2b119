-- +goose Up
-- One timeline for every flow kind; each flow keeps its own table for its own columns.
CREATE TABLE flow_steps (
    id              BIGSERIAL PRIMARY KEY,
    flow_kind       TEXT NOT NULL,
    flow_id         TEXT NOT NULL,
    name            TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX flow_steps_key ON flow_steps (idempotency_key);
CREATE INDEX flow_steps_flow ON flow_steps (flow_kind, flow_id, at, id);
CREATE INDEX flow_steps_kind_name ON flow_steps (flow_kind, name);

INSERT INTO flow_steps (flow_kind, flow_id, name, detail, idempotency_key, at)
    SELECT 'invitation', invitation_id, name, detail, idempotency_key, at FROM invitation_steps ORDER BY id;
DROP TABLE invitation_steps;

-- +goose Down
CREATE TABLE invitation_steps (
    id            BIGSERIAL PRIMARY KEY,
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX invitation_steps_key ON invitation_steps (idempotency_key);
CREATE INDEX invitation_steps_invitation ON invitation_steps (invitation_id, at);
INSERT INTO invitation_steps (invitation_id, name, detail, idempotency_key, at)
    SELECT flow_id, name, detail, idempotency_key, at FROM flow_steps
    WHERE flow_kind = 'invitation' AND flow_id IN (SELECT id FROM invitations) ORDER BY id;
DROP TABLE flow_steps;
