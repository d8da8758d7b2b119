package models

import (
	"encoding/json"
	"fmt"
	"time"
)

// StartAttributes are the search attributes a flow's workflow starts with, as a start command
// keeps them (FlowCommand.Attributes); the API's dispatcher sets them when it starts the workflow.
type StartAttributes struct {
	PartnerID        string `json:"partnerId"`
	Status           string `json:"status"`
	Domain           string `json:"domain,omitempty"`
	ResellerTenantID string `json:"resellerTenantId,omitempty"`
}

// NewStartCommand is the command that starts a new flow's workflow of workflowType under
// workflowID with in (its typed input, kept as JSON) and attrs. The writer holds it for hold (0:
// it is due at once, for the dispatcher); the API's create holds it while it starts the
// workflow itself. Whoever writes a flow's row writes it in the same transaction (WithCommand).
func NewStartCommand(
	kind, workflowType, flowID, workflowID string,
	in any,
	attrs StartAttributes,
	hold time.Duration,
) (*FlowCommand, error) {
	payload, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode the input of %s %s: %w", kind, flowID, err)
	}
	rawAttrs, err := json.Marshal(attrs)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	return &FlowCommand{
		FlowKind:     kind,
		FlowID:       flowID,
		Command:      CommandStart,
		WorkflowID:   workflowID,
		WorkflowType: workflowType,
		Payload:      string(payload),
		Attributes:   string(rawAttrs),
		CreatedAt:    now,
		ClaimedUntil: now.Add(hold),
	}, nil
}
