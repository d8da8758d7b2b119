package models

import (
	"context"
	"fmt"
	"strings"
)

// A directory change whose kind starts with SignalPrefix is not news for webhook subscribers but a
// Partner Center event the estate sync owes a waiting flow: its SubjectID is the event's
// resource, its Detail the workflow to signal. Its key makes it once.
const SignalPrefix = "signal."

// DirectorySignal is an event the estate sync owes a flow.
type DirectorySignal struct {
	ID         int64
	WorkflowID string
	EventName  string
	ResourceID string
}

// InvitationAnswer is what the directory shows of an open invitation's consents.
type InvitationAnswer struct {
	InvitationID string
	WorkflowID   string
	// ResourceID is the customer's tenant (the reseller relationship is accepted) or the GDAP
	// relationship (approved, activating or active; or, for an active invitation, ended).
	ResourceID string
	// Status is the GDAP relationship's status ("" for the reseller relationship).
	Status string
}

// AcceptedInvitations are the pending invitations whose customer the directory lists as a
// reseller customer of the partner: by its domain, or by the tenant its domain resolved to.
func (s *Store) AcceptedInvitations(ctx context.Context, partnerID string) ([]InvitationAnswer, error) {
	var out []InvitationAnswer
	err := s.DB.WithContext(ctx).Raw(`SELECT i.id AS invitation_id, i.workflow_id, c.tenant_id AS resource_id
		FROM invitations i JOIN directory_customers c ON c.partner_id = i.partner_id AND NOT c.gone
			AND c.relationship = 'reseller'
			AND (c.domain = i.customer_domain OR (i.domain_tenant_id <> '' AND c.tenant_id = i.domain_tenant_id))
		WHERE i.partner_id = ? AND i.status = ?`, partnerID, InvitationPending).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("find the invitations the directory shows accepted: %w", err)
	}
	return out, nil
}

// InvitationRelationships are the open or active invitations whose GDAP relationship the
// directory lists in one of statuses.
func (s *Store) InvitationRelationships(
	ctx context.Context,
	partnerID string,
	invitationStatuses, statuses []string,
) ([]InvitationAnswer, error) {
	var out []InvitationAnswer
	err := s.DB.WithContext(ctx).Raw(`SELECT i.id AS invitation_id, i.workflow_id, g.id AS resource_id, g.status
		FROM invitations i JOIN directory_gdap g ON g.partner_id = i.partner_id AND g.id = i.gdap_relationship_id
		WHERE i.partner_id = ? AND i.status IN ? AND g.status IN ?`, partnerID, invitationStatuses, statuses).
		Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("find the invitations' GDAP relationships in the directory: %w", err)
	}
	return out, nil
}

// AddDirectorySignals records events owed to flows; one already recorded (by key) is not again.
func (s *Store) AddDirectorySignals(ctx context.Context, partnerID string, signals []DirectoryChange) (int, error) {
	for i := range signals {
		signals[i].PartnerID = partnerID
		if !strings.HasPrefix(signals[i].Kind, SignalPrefix) {
			return 0, fmt.Errorf("directory signal %q: kind must start with %q", signals[i].Key, SignalPrefix)
		}
	}
	return addDirectoryChanges(s.DB.WithContext(ctx), signals)
}

// UndeliveredDirectorySignals returns up to limit events owed to flows, oldest first.
func (s *Store) UndeliveredDirectorySignals(
	ctx context.Context,
	partnerID string,
	limit int,
) ([]DirectorySignal, error) {
	if limit <= 0 || limit > directoryChangeBatchLimit {
		limit = directoryChangeBatchLimit
	}
	var changes []DirectoryChange
	err := s.DB.WithContext(ctx).Where("partner_id = ? AND delivered_at IS NULL AND kind LIKE ?",
		partnerID, SignalPrefix+"%").Order("id").Limit(limit).Find(&changes).Error
	out := make([]DirectorySignal, len(changes))
	for i, c := range changes {
		out[i] = DirectorySignal{
			ID: c.ID, WorkflowID: c.Detail, EventName: strings.TrimPrefix(c.Kind, SignalPrefix),
			ResourceID: c.SubjectID,
		}
	}
	return out, err
}
