package models

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// KindInvitation is the invitation flow: its name on the shared timeline, in URLs and in the
// Temporal UI.
const KindInvitation = "invitation"

// Invitation statuses, as the API shows them.
const (
	InvitationPending   = "pending"
	InvitationAccepted  = "accepted"
	InvitationGranting  = "granting"
	InvitationActive    = "active"
	InvitationDeclined  = "declined"
	InvitationExpired   = StatusExpired
	InvitationCancelled = StatusCancelled
	InvitationFailed    = StatusFailed
)

// InvitationStatuses lists every status in lifecycle order.
var InvitationStatuses = []string{
	InvitationPending,
	InvitationAccepted,
	InvitationGranting,
	InvitationActive,
	InvitationDeclined,
	InvitationExpired,
	InvitationCancelled,
	InvitationFailed,
}

// InvitationOpen reports whether an invitation in status s still waits or works.
func InvitationOpen(s string) bool {
	return s == InvitationPending || s == InvitationAccepted || s == InvitationGranting
}

// Invitation is the list-page record of one invitation flow; the workflow keeps it current.
type Invitation struct {
	ID                 string `gorm:"primaryKey"`
	PartnerID          string
	CustomerDomain     string
	CustomerEmail      string
	IndirectResellerID string
	Roles              string // comma-separated role template IDs
	DurationDays       int
	AutoExtend         bool
	Status             string
	WorkflowID         string
	GDAPRelationshipID string `gorm:"column:gdap_relationship_id"`
	CustomerTenantID   string
	// DomainTenantID is the tenant that held CustomerDomain when the invitation was made, as
	// Microsoft Graph resolved it ("" when it was not looked up).
	DomainTenantID string
	FailureReason  string
	RemindersSent  int
	// AdminAccess says the invitation asks for GDAP admin roles as well as the reseller
	// relationship; false for a reseller relationship alone (no roles, no GDAP relationship).
	// Rows from before the column existed asked for admin roles (the column defaults to true).
	AdminAccess bool
	// Cloud is the customer's Microsoft cloud, CloudPublic or CloudUSGov: it decides where the
	// customer accepts (the Microsoft 365 admin center, or the Office admin portal for US
	// Government).
	Cloud string
	// EstateWatch says the partner's estate sync watches the active invitation's GDAP relationship
	// (no GDAP watch workflow of its own) and alerts AlertEmail, the contact the invitation named.
	EstateWatch bool
	AlertEmail  string
	// State is the workflow's state at its last recorded step, as JSON (see FlowChange.State).
	State     string
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
}

// The Microsoft clouds a customer's tenant may live in.
const (
	// CloudPublic is Microsoft's public (commercial) cloud.
	CloudPublic = "public"
	// CloudUSGov is Microsoft Cloud for US Government, whose customers accept a reseller
	// relationship in the Office admin portal for US Government and are always asked for admin
	// permissions.
	CloudUSGov = "usgov"
)

// FlowID, FlowCreated, FlowState and FlowStatus make Invitation a FlowRow.
func (i Invitation) FlowID() string         { return i.ID }
func (i Invitation) FlowCreated() time.Time { return i.CreatedAt }
func (i Invitation) FlowState() string      { return i.State }
func (i Invitation) FlowStatus() string     { return i.Status }

// InvitationChange is what an invitation's workflow writes at a step.
type InvitationChange = FlowChange[Invitation]

// InvitationSearchColumn is what the list's search matches: a prefix of the customer domain.
const InvitationSearchColumn = "customer_domain"

// CreateInvitation inserts a new invitation. When the customer already has an open invitation
// from this partner it returns ErrConflict and that invitation.
func (s *Store) CreateInvitation(ctx context.Context, inv *Invitation, with ...With) (*Invitation, error) {
	return createOrOpen(ctx, s, KindInvitation, inv, func() (*Invitation, error) {
		return s.OpenInvitationByDomain(ctx, inv.PartnerID, inv.CustomerDomain)
	}, with...)
}

// OpenInvitationByDomain returns the partner's open invitation (pending, accepted or granting)
// for a customer domain; there is at most one (index invitations_one_open).
func (s *Store) OpenInvitationByDomain(ctx context.Context, partnerID, customerDomain string) (*Invitation, error) {
	return FindBy[Invitation](ctx, s, "partner_id = ? AND customer_domain = ? AND status IN ?",
		partnerID, customerDomain, []string{InvitationPending, InvitationAccepted, InvitationGranting})
}

// InvitationByGDAP returns the invitation that created a GDAP relationship.
func (s *Store) InvitationByGDAP(ctx context.Context, relationshipID string) (*Invitation, error) {
	return FindBy[Invitation](ctx, s, "gdap_relationship_id = ? AND gdap_relationship_id <> ''", relationshipID)
}

// ErrBadCursor is returned for a page cursor this store did not make.
var ErrBadCursor = errors.New("invalid cursor")

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || at.UTC().Year() > 9999 || at.UTC().Year() < 0 {
		// An offset can carry 9999-12-31 past RFC 3339's years; encodeCursor could not write it.
		return time.Time{}, "", ErrBadCursor
	}
	return at, id, nil
}

// InvitationsSent counts the invitations created since at whose customer mail went out (their
// "sent" step): the scale bench's measure of how many waiting flows have settled.
func (s *Store) InvitationsSent(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	err := s.DB.WithContext(ctx).Raw(`SELECT count(DISTINCT st.flow_id) FROM flow_steps st
		JOIN invitations i ON i.id = st.flow_id
		WHERE st.flow_kind = ? AND st.name = 'sent' AND i.created_at >= ?`, KindInvitation, since.UTC()).Scan(&n).Error
	return n, err
}
