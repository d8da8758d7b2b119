package workflows

import (
	"strings"
	"time"
)

// InvitationTaskQueue is the default task queue of every partnerflow workflow.
const InvitationTaskQueue = "partnerflow"

// Names of the invitation workflow's messages.
const (
	// SignalPartnerCenterEvent carries a verified Partner Center webhook event (a hint: the
	// workflow confirms it with the service before acting on it).
	SignalPartnerCenterEvent = "partner-center-event"
	// UpdateResend sends the invitation e-mail again, at once.
	UpdateResend = "resend"
	// UpdateCancel cancels the invitation and terminates a pending GDAP request.
	UpdateCancel = "cancel"
	// QueryInvitation returns the live InvitationState.
	QueryInvitation = "invitation"
)

// InvitationWorkflowID is the workflow ID of a partner's invitation of a customer domain, so a
// second invitation while one is open is refused, never duplicated.
func InvitationWorkflowID(partnerID, customerDomain string) string {
	return "invitation/" + partnerID + "/" + strings.ToLower(customerDomain)
}

// AccessAssignment grants roles of the GDAP relationship to one partner security group.
type AccessAssignment struct {
	SecurityGroupID string   `json:"securityGroupId"`
	RoleIDs         []string `json:"roleIds"`
}

// InvitationPolicy is the waiting schedule: reminders, escalation, expiry and polling.
type InvitationPolicy struct {
	// Reminders are offsets from the invitation's start at which the customer is reminded.
	Reminders []time.Duration
	// RepeatEvery continues reminding at this interval after the last listed offset (0: never).
	RepeatEvery time.Duration
	// EscalateAfter sends the partner's contact a notice after this many reminders (0: never).
	EscalateAfter int
	// PollEvery checks the service for acceptance in case webhook events are lost.
	PollEvery time.Duration
	// ContinueAsNewAfter is the history length at which a waiting invitation continues as a new
	// run (0: DefaultContinueAsNewAfter). Ninety days of polling every 15 minutes would otherwise
	// outgrow Temporal's 51,200-event history limit.
	ContinueAsNewAfter int
}

// DefaultContinueAsNewAfter keeps each run's history far below Temporal's limits.
const DefaultContinueAsNewAfter = 10000

// DefaultInvitationPolicy reminds on days 3, 7 and 14, then weekly, escalates after three
// reminders and polls every 15 minutes.
var DefaultInvitationPolicy = InvitationPolicy{
	Reminders:     []time.Duration{3 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour},
	RepeatEvery:   7 * 24 * time.Hour,
	EscalateAfter: 3,
	PollEvery:     15 * time.Minute,
}

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
	// Carry is what a waiting invitation hands to its next run when it continues as new; nil on
	// the first run.
	Carry *InvitationCarry `json:",omitempty"`
}

// InvitationCarry is the state a run passes to the next when it continues as new.
type InvitationCarry struct {
	State    InvitationState
	Started  time.Time
	Resends  int
	CheckNow bool
}

// PartnerCenterEvent is a webhook event routed to an invitation.
type PartnerCenterEvent struct {
	EventName  string
	ResourceID string
}

// ResendRequest asks for the invitation e-mail again.
type ResendRequest struct {
	By string
}

// CancelRequest cancels an open invitation.
type CancelRequest struct {
	By     string
	Reason string
}

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

// Activity names of the invitation flow; the activities package implements them as methods of
// *activities.Activities, and a worker test checks that every name is registered.
const (
	ActivityRecordInvitation     = "RecordInvitation"
	ActivityRelationshipLink     = "RelationshipLink"
	ActivityCreateGDAP           = "CreateGDAP"
	ActivityCheckAcceptance      = "CheckAcceptance"
	ActivityWaitGDAPActive       = "WaitGDAPActive"
	ActivityCreateAssignment     = "CreateAssignment"
	ActivityWaitAssignmentActive = "WaitAssignmentActive"
	ActivityEndGDAP              = "EndGDAP"
	ActivitySendInvitationMail   = "SendInvitationMail"
)

// CreateGDAPInput asks for a GDAP relationship; RequestID makes the call idempotent.
type CreateGDAPInput struct {
	RequestID    string
	DisplayName  string
	DurationDays int
	RoleIDs      []string
	AutoExtend   bool
}

// GDAPResult is a GDAP relationship as the workflow needs it.
type GDAPResult struct {
	ID          string
	Status      string
	ApprovalURL string
}

// Acceptance is what the service says about an invitation's two consents.
type Acceptance struct {
	ResellerAccepted bool
	CustomerTenantID string
	GDAPStatus       string
}

// InvitationMail is one message about an invitation. Seq distinguishes reminders; with the
// invitation ID and kind it is the idempotency key, so a retried send never mails twice.
type InvitationMail struct {
	InvitationID   string
	Kind           string
	Seq            int
	To             string
	CustomerDomain string
	RoleIDs        []string
	DurationDays   int
	ExpiresAt      time.Time
}

// Mail kinds.
const (
	MailInvitation = "invitation"
	MailResend     = "resend"
	MailReminder   = "reminder"
	MailEscalation = "escalation"
)
