package models

import (
	"context"
	"fmt"
	"strings"
	"time"
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
// directory lists in one of statuses; not the active ones the sync watches itself (no workflow
// waits for their news: WatchedAccessAlerts).
func (s *Store) InvitationRelationships(
	ctx context.Context,
	partnerID string,
	invitationStatuses, statuses []string,
) ([]InvitationAnswer, error) {
	var out []InvitationAnswer
	err := s.DB.WithContext(ctx).Raw(`SELECT i.id AS invitation_id, i.workflow_id, g.id AS resource_id, g.status
		FROM invitations i JOIN directory_gdap g ON g.partner_id = i.partner_id AND g.id = i.gdap_relationship_id
		WHERE i.partner_id = ? AND i.status IN ? AND g.status IN ?
			AND NOT (i.status = ? AND i.estate_watch)`, partnerID, invitationStatuses, statuses, InvitationActive).
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

// The timeline steps of an invitation's access alerts (the GDAP watch's and the estate sync's).
const (
	StepAccessLost     = "access-lost"
	StepAccessExpiring = "access-expiring"
)

// AlertStepKey is the idempotency key of the step that records an estate-watched invitation's
// alert: the step is the record that the alert went out, so it goes out once.
func AlertStepKey(invitationID, step string) string {
	return KindInvitation + "/" + invitationID + "/alert/" + step
}

// WatchedAccess is an alert the estate sync owes an active invitation whose GDAP relationship it
// watches (Invitation.EstateWatch).
type WatchedAccess struct {
	InvitationID   string
	CustomerDomain string
	AlertEmail     string
	RelationshipID string
	Status         string
	// Gone says Graph no longer lists the relationship.
	Gone   bool
	EndsAt *time.Time
	// Step is StepAccessLost or StepAccessExpiring.
	Step string
}

// WatchedAccessAlerts are the alerts owed to the partner's estate-watched invitations, as the
// directory shows their relationships: access lost (a status in ended, or the relationship gone
// from Graph), and, for an active relationship that does not extend itself, its end by warnBy.
// An alert already recorded on the invitation's timeline is not owed again; a lost access owes
// no expiry warning.
func (s *Store) WatchedAccessAlerts(
	ctx context.Context,
	partnerID string,
	ended []string,
	warnBy time.Time,
) ([]WatchedAccess, error) {
	const (
		query = `SELECT i.id AS invitation_id, i.customer_domain, i.alert_email, g.id AS relationship_id,
				g.status, g.gone, g.ends_at, ? AS step
			FROM invitations i JOIN directory_gdap g ON g.partner_id = i.partner_id AND g.id = i.gdap_relationship_id
			WHERE i.partner_id = ? AND i.estate_watch AND i.status = ? AND `
		alerted = ` AND NOT EXISTS (SELECT 1 FROM flow_steps s
				WHERE s.idempotency_key = 'invitation/' || i.id || '/alert/' || ?)`
	)
	var lost, expiring []WatchedAccess
	err := s.DB.WithContext(ctx).Raw(query+"(g.gone OR g.status IN ?)"+alerted+" ORDER BY i.id",
		StepAccessLost, partnerID, InvitationActive, ended, StepAccessLost).Scan(&lost).Error
	if err != nil {
		return nil, fmt.Errorf("find the watched invitations that lost their access: %w", err)
	}
	err = s.DB.WithContext(ctx).Raw(query+"g.status = ? AND NOT g.gone AND NOT g.auto_extend AND g.ends_at <= ?"+
		alerted+alerted+" ORDER BY i.id", StepAccessExpiring, partnerID, InvitationActive, GDAPActive, warnBy.UTC(),
		StepAccessLost, StepAccessExpiring).Scan(&expiring).Error
	if err != nil {
		return nil, fmt.Errorf("find the watched invitations whose access ends soon: %w", err)
	}
	return append(lost, expiring...), nil
}
