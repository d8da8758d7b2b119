package activities

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// RecordInvitation writes a step of an invitation to the app database (status, fields and the
// timeline entry); idempotent by the change's StepKey.
func (a *Activities) RecordInvitation(ctx context.Context, invitationID string, ch models.InvitationChange) error {
	return record(ctx, a.cfg.Store, models.KindInvitation, invitationID, ch)
}

// RelationshipLink returns the partner's reseller relationship request link.
func (a *Activities) RelationshipLink(ctx context.Context, indirectResellerID string) (string, error) {
	req, err := a.cfg.PartnerCenter.RelationshipRequestURL(
		ctx,
		partnercenter.RelationshipRequestOptions{IndirectResellerID: indirectResellerID},
	)
	if err != nil {
		return "", a.serviceError(ctx, "get relationship request link", err)
	}
	return req.URL, nil
}

// CreateGDAP creates the GDAP relationship and locks it for the customer's approval. Both calls
// carry request IDs derived from the invitation, so a retry after a lost response gets the first
// result instead of a second relationship.
func (a *Activities) CreateGDAP(ctx context.Context, in CreateGDAPInput) (GDAPResult, error) {
	pc := a.cfg.PartnerCenter
	body := partnercenter.NewGDAPRelationship{
		DisplayName:   in.DisplayName,
		Duration:      "P" + strconv.Itoa(in.DurationDays) + "D",
		AccessDetails: partnercenter.AccessDetails{UnifiedRoles: unifiedRoles(in.RoleIDs)},
	}
	if in.AutoExtend {
		body.AutoExtendDuration = "P180D"
	}
	rel, err := pc.CreateGDAPRelationship(partnercenter.WithRequestID(ctx, in.RequestID), body)
	if err != nil {
		return GDAPResult{}, a.serviceError(ctx, "create GDAP relationship "+in.DisplayName, err)
	}
	if rel.Status == partnercenter.GDAPStatusCreated {
		if _, err := pc.LockGDAPForApproval(
			partnercenter.WithRequestID(ctx, in.RequestID+"/lock"),
			rel.ID,
		); err != nil {
			return GDAPResult{}, a.serviceError(ctx, "lock GDAP relationship for approval", err)
		}
		if rel, err = pc.GetGDAPRelationship(ctx, rel.ID); err != nil {
			return GDAPResult{}, a.serviceError(ctx, "read GDAP relationship", err)
		}
	}
	return GDAPResult{ID: rel.ID, Status: rel.Status, ApprovalURL: rel.ApprovalURL}, nil
}

func unifiedRoles(ids []string) []partnercenter.UnifiedRole {
	out := make([]partnercenter.UnifiedRole, len(ids))
	for i, id := range ids {
		out[i] = partnercenter.UnifiedRole{RoleDefinitionID: id}
	}
	return out
}

// CheckAcceptance asks the service whether the customer accepted the reseller relationship and
// approved the GDAP request; it is the fallback for lost webhook events and the confirmation of
// received ones. An invitation without admin access has no GDAP relationship (relationshipID is
// empty): only the reseller relationship is read.
func (a *Activities) CheckAcceptance(ctx context.Context, relationshipID, customerDomain string) (Acceptance, error) {
	pc := a.cfg.PartnerCenter
	var out Acceptance
	if relationshipID != "" {
		rel, err := pc.GetGDAPRelationship(ctx, relationshipID)
		if err != nil {
			return out, a.serviceError(ctx, "read GDAP relationship", err)
		}
		out.GDAPStatus = rel.Status
	}
	customers, err := pc.FindCustomersByDomain(ctx, customerDomain)
	if err != nil {
		return out, a.serviceError(ctx, "find customer "+customerDomain, err)
	}
	for _, c := range customers {
		if strings.EqualFold(c.CompanyProfile.Domain, customerDomain) &&
			c.RelationshipToPartner == partnercenter.RelationshipReseller {
			out.ResellerAccepted, out.CustomerTenantID = true, c.ID
		}
	}
	if out.ResellerAccepted || strings.HasSuffix(strings.ToLower(customerDomain), ".onmicrosoft.com") {
		return out, nil
	}
	// Partner Center's companyProfile.domain is the customer's *.onmicrosoft.com domain, never a
	// custom one: find the tenant that holds the custom domain, and the customer by its tenant ID
	// (Partner Center's customer ID).
	tenant, err := pc.FindTenantByDomain(ctx, customerDomain)
	switch {
	case partnercenter.IsNotFound(err):
		return out, nil
	case err != nil:
		return out, a.serviceError(ctx, "find the tenant of "+customerDomain, err)
	}
	c, err := pc.GetCustomer(ctx, tenant.TenantID)
	switch {
	case partnercenter.IsNotFound(err):
		return out, nil
	case err != nil:
		return out, a.serviceError(ctx, "read customer "+tenant.TenantID, err)
	}
	if c.RelationshipToPartner == partnercenter.RelationshipReseller {
		out.ResellerAccepted, out.CustomerTenantID = true, c.ID
	}
	return out, nil
}

// WaitGDAPActive returns once the relationship is active; until then it fails with a retryable
// NotReady error so Temporal's retry policy paces the polling. A relationship that ended instead
// is a non-retryable AccessEnded error.
func (a *Activities) WaitGDAPActive(ctx context.Context, relationshipID string) (GDAPResult, error) {
	rel, err := a.cfg.PartnerCenter.GetGDAPRelationship(ctx, relationshipID)
	if err != nil {
		return GDAPResult{}, a.serviceError(ctx, "read GDAP relationship", err)
	}
	switch rel.Status {
	case partnercenter.GDAPStatusActive:
		return GDAPResult{ID: rel.ID, Status: rel.Status}, nil
	case partnercenter.GDAPStatusExpired,
		partnercenter.GDAPStatusTerminated,
		partnercenter.GDAPStatusTerminating,
		partnercenter.GDAPStatusTerminationRequested:
		return GDAPResult{}, temporal.NewNonRetryableApplicationError(
			"GDAP relationship "+relationshipID+" is "+rel.Status,
			ErrTypeAccessEnded,
			nil,
		)
	}
	return GDAPResult{}, notReady("GDAP relationship " + relationshipID + " is " + rel.Status + ", not yet active")
}

// CreateAssignment creates one access assignment (one security group per call, as the service
// requires) and returns its ID; a retry with the same request ID finds the existing one.
func (a *Activities) CreateAssignment(
	ctx context.Context,
	requestID, relationshipID string,
	as AccessAssignment,
) (string, error) {
	pc := a.cfg.PartnerCenter
	existing, err := pc.ListAccessAssignments(ctx, relationshipID)
	if err != nil {
		return "", a.serviceError(ctx, "list access assignments", err)
	}
	for _, e := range existing {
		if e.AccessContainer.AccessContainerID == as.SecurityGroupID &&
			e.Status != partnercenter.AssignmentStatusDeleted {
			return e.ID, nil
		}
	}
	created, err := pc.CreateAccessAssignment(
		partnercenter.WithRequestID(ctx, requestID),
		relationshipID,
		partnercenter.NewAccessAssignment{
			AccessContainer: partnercenter.AccessContainer{
				AccessContainerID:   as.SecurityGroupID,
				AccessContainerType: "securityGroup",
			},
			AccessDetails: partnercenter.AccessDetails{UnifiedRoles: unifiedRoles(as.RoleIDs)},
		},
	)
	if err != nil {
		return "", a.serviceError(ctx, "create access assignment for group "+as.SecurityGroupID, err)
	}
	return created.ID, nil
}

// WaitAssignmentActive returns once the access assignment is active (retryable NotReady until then).
func (a *Activities) WaitAssignmentActive(ctx context.Context, relationshipID, assignmentID string) (string, error) {
	as, err := a.cfg.PartnerCenter.GetAccessAssignment(ctx, relationshipID, assignmentID)
	if err != nil {
		return "", a.serviceError(ctx, "read access assignment", err)
	}
	switch as.Status {
	case partnercenter.AssignmentStatusActive:
		return as.Status, nil
	case partnercenter.AssignmentStatusError, partnercenter.AssignmentStatusDeleted:
		return "", temporal.NewNonRetryableApplicationError(
			"access assignment "+assignmentID+" is "+as.Status,
			ErrTypeRefused,
			nil,
		)
	}
	return "", notReady("access assignment " + assignmentID + " is " + as.Status)
}

// EndGDAP withdraws a GDAP relationship as far as the service allows: deletes it while created,
// terminates it while active, and reports the status it found (approvalPending cannot be
// withdrawn; the workflow watches it instead).
func (a *Activities) EndGDAP(ctx context.Context, requestID, relationshipID string) (string, error) {
	pc := a.cfg.PartnerCenter
	rel, err := pc.GetGDAPRelationship(ctx, relationshipID)
	if err != nil {
		return "", a.serviceError(ctx, "read GDAP relationship", err)
	}
	switch rel.Status {
	case partnercenter.GDAPStatusCreated:
		if err := pc.DeleteGDAPRelationship(partnercenter.WithRequestID(ctx, requestID), rel.ID, rel.ETag); err != nil {
			return "", a.serviceError(ctx, "delete GDAP relationship", err)
		}
		return GDAPDeleted, nil
	case partnercenter.GDAPStatusActive:
		if _, err := pc.TerminateGDAPRelationship(partnercenter.WithRequestID(ctx, requestID), rel.ID); err != nil {
			return "", a.serviceError(ctx, "terminate GDAP relationship", err)
		}
		return partnercenter.GDAPStatusTerminationRequested, nil
	}
	return rel.Status, nil
}

// invitationMailKinds are the notify kinds of the invitation workflow's mails.
var invitationMailKinds = map[string]string{
	MailInvitation: notify.KindInvitation,
	MailReminder:   notify.KindInvitationReminder,
	MailResend:     notify.KindInvitationResend,
	MailEscalation: notify.KindInvitationEscalation,
}

// SendInvitationMail renders the message in its reader's language — the customer's, or for
// an escalation the partner's default — writes it to the outbox, then delivers it. The
// customer's signed link is derived here, so no token ever enters workflow history.
func (a *Activities) SendInvitationMail(ctx context.Context, m InvitationMail) error {
	kind, ok := invitationMailKinds[m.Kind]
	if !ok {
		return fmt.Errorf("invitation %s: no mail of kind %q", m.InvitationID, m.Kind)
	}
	lang := notify.PickLanguage(m.Language, "", a.cfg.DefaultLanguage)
	if kind == notify.KindInvitationEscalation {
		lang = a.cfg.DefaultLanguage
	}
	msg, err := notify.Render(kind, lang, notify.InvitationMail{
		PartnerName: a.partnerName(ctx), CustomerDomain: m.CustomerDomain,
		Link:  a.cfg.Signer.AcceptURL(a.cfg.BaseURL, m.InvitationID, m.ExpiresAt),
		Roles: roleNames(m.RoleIDs), DurationDays: m.DurationDays, ExpiresAt: m.ExpiresAt, Seq: m.Seq,
		NoAdminAccess: m.NoAdminAccess, USGovernment: m.Cloud == models.CloudUSGov,
	})
	if err != nil {
		return fmt.Errorf("render the %s mail of invitation %s: %w", kind, m.InvitationID, err)
	}
	return a.deliver(ctx, m.InvitationID+"/"+m.Kind+"/"+strconv.Itoa(m.Seq), m.To, msg)
}

// roleNames are the Entra roles' display names, or their IDs when unknown.
func roleNames(ids []string) []string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if r, ok := partnercenter.LookupEntraRole(id); ok {
			names = append(names, r.Name)
		} else {
			names = append(names, id)
		}
	}
	return names
}

// GDAPStatus reads a relationship's status, end and renewal for the GDAP watch.
func (a *Activities) GDAPStatus(ctx context.Context, relationshipID string) (GDAPState, error) {
	rel, err := a.cfg.PartnerCenter.GetGDAPRelationship(ctx, relationshipID)
	if err != nil {
		return GDAPState{}, a.serviceError(ctx, "read GDAP relationship", err)
	}
	return GDAPState{
		Status:             rel.Status,
		EndDateTime:        rel.EndDateTime.Time,
		AutoExtendDuration: rel.AutoExtendDuration,
	}, nil
}

// SendPartnerAlert mails the partner's contact, in the partner's default language, about a
// customer's delegated admin access, once per invitation and kind.
func (a *Activities) SendPartnerAlert(ctx context.Context, al PartnerAlert) error {
	kind := notify.KindAccessLost
	if al.Kind == AlertAccessExpiring {
		kind = notify.KindAccessExpiring
	}
	msg, err := notify.Render(kind, a.cfg.DefaultLanguage, notify.AccessAlert{
		CustomerDomain: al.CustomerDomain, RelationshipID: al.RelationshipID, Status: al.Status, EndsAt: al.EndsAt,
	})
	if err != nil {
		return fmt.Errorf("render the %s alert of invitation %s: %w", kind, al.InvitationID, err)
	}
	return a.deliver(ctx, al.InvitationID+"/"+al.Kind, al.To, msg)
}

// AccessAssignment grants roles of the GDAP relationship to one partner security group.
type AccessAssignment struct {
	SecurityGroupID string   `json:"securityGroupId"`
	RoleIDs         []string `json:"roleIds"`
}

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
	// Language is the customer's language (empty: the worker's default).
	Language string `json:",omitempty"`
	// NoAdminAccess says the invitation asks for the reseller relationship alone.
	NoAdminAccess bool `json:",omitempty"`
	// Cloud is the customer's Microsoft cloud (empty: public).
	Cloud string `json:",omitempty"`
}

// Mail kinds.
const (
	MailInvitation = "invitation"
	MailResend     = "resend"
	MailReminder   = "reminder"
	MailEscalation = "escalation"
)

// Partner alert kinds.
const (
	AlertAccessLost     = models.StepAccessLost
	AlertAccessExpiring = models.StepAccessExpiring
)

// GDAPState is what the watch reads of a relationship.
type GDAPState struct {
	Status             string
	EndDateTime        time.Time
	AutoExtendDuration string
}

// PartnerAlert tells the partner about a customer's delegated admin access.
type PartnerAlert struct {
	InvitationID   string
	Kind           string
	To             string
	CustomerDomain string
	RelationshipID string
	Status         string
	EndsAt         time.Time
}

// GDAPDeleted is what EndGDAP reports for a relationship it deleted before anyone approved it
// (Graph keeps no status for a deleted relationship).
const GDAPDeleted = "deleted"
