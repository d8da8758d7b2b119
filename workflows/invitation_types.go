package workflows

import (
	"time"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// InvitationFlow describes the invitation flow: an Invitation workflow per partner and customer
// domain, and the GDAP watch and cleanup workflows it leaves behind.
var InvitationFlow = Flow{
	Kind:     models.KindInvitation,
	Type:     "Invitation",
	Workflow: Invitation,
	Helpers:  []any{GDAPCleanup, GDAPWatch},
	Query:    QueryInvitation,
	Updates:  []string{UpdateResend, UpdateCancel},
	Signals:  []string{SignalPartnerCenterEvent},
	Events: []string{
		partnercenter.EventResellerRelationshipAccepted,
		partnercenter.EventGDAPApproved,
		partnercenter.EventGDAPActivated,
		partnercenter.EventGDAPTerminated,
		partnercenter.EventGDAPExpired,
	},
}

// QueryInvitation returns the live InvitationState.
const QueryInvitation = "invitation"

// InvitationWorkflowID is the workflow ID of one invitation: its own, so that starting it again
// (after a crash, by another API replica) is refused by Temporal, never doubled. The app
// database's one-open-invitation-per-domain rule refuses a second invitation. Invitations
// started before per-flow IDs carry "invitation/<partner>/<domain>"; their rows keep it.
func InvitationWorkflowID(invitationID string) string { return "invitation/" + invitationID }

// AccessAssignment grants roles of the GDAP relationship to one partner security group; the
// invitation's input carries it to the activity that creates it.
type AccessAssignment = activities.AccessAssignment

// InvitationPolicy is the invitation's waiting schedule.
type InvitationPolicy = WaitPolicy

// DefaultInvitationPolicy is the default waiting schedule.
var DefaultInvitationPolicy = DefaultWaitPolicy

// InvitationInput starts an invitation workflow. It holds no secret: the customer's link is
// derived by the activity that sends it.
type InvitationInput struct {
	InvitationID       string
	PartnerID          string
	CustomerDomain     string
	CustomerEmail      string
	IndirectResellerID string
	// DisplayName of the GDAP relationship (unique per partner, at most 50 characters).
	DisplayName  string
	RoleIDs      []string
	DurationDays int
	AutoExtend   bool
	Assignments  []AccessAssignment
	// ContactEmail is the partner's contact for escalations.
	ContactEmail string
	ExpiresAt    time.Time
	Policy       InvitationPolicy
	// Language is the customer's language for the invitation mails (a code of
	// notify.Languages); empty in histories recorded before it existed, which get the worker's
	// default language.
	Language string `json:",omitempty"`
	// NoAdminAccess asks for the reseller relationship alone: no GDAP relationship is created,
	// RoleIDs, DurationDays and Assignments are empty, and the invitation is active once the
	// customer accepts the reseller relationship. Its zero value is the invitation with admin
	// roles, so histories recorded before it existed keep their commands.
	NoAdminAccess bool `json:",omitempty"`
	// Cloud is the customer's Microsoft cloud (models.CloudPublic or models.CloudUSGov), which
	// names in the mails where the customer accepts; empty means public.
	Cloud string `json:",omitempty"`
	// Carry is what a waiting invitation hands to its next run when it continues as new; nil on
	// the first run.
	Carry *InvitationCarry `json:",omitempty"`
}

// InvitationCarry is what a waiting invitation hands to its next run.
type InvitationCarry = Carry[InvitationState]

// AssignmentState is the live state of one access assignment.
type AssignmentState struct {
	SecurityGroupID string
	AssignmentID    string
	Status          string
}

// InvitationState is the live state the query returns and the workflow's result.
type InvitationState struct {
	Status string
	// RelationshipRequestURL is where the customer's Global admin accepts the reseller
	// relationship (the partner's reusable link, not a secret).
	RelationshipRequestURL string
	// GDAPApprovalURL is where the customer's Global admin approves the admin roles.
	GDAPApprovalURL    string
	GDAPRelationshipID string
	GDAPStatus         string
	CustomerTenantID   string
	ResellerAccepted   bool
	GDAPApproved       bool
	RemindersSent      int
	Escalated          bool
	Assignments        []AssignmentState
	FailureReason      string
}
