package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// Invitation invites a customer into a reseller relationship with delegated admin: it asks
// Partner Center for the relationship link and a GDAP relationship, mails the customer, waits
// durably for both consents (with reminders, escalation, polling and expiry), then waits for GDAP
// to become active and grants the partner's security groups their roles. With NoAdminAccess it
// asks for the reseller relationship alone: no GDAP relationship, and active on that consent.
func Invitation(ctx workflow.Context, in InvitationInput) (InvitationState, error) {
	w := &invitationImpl{in: in}
	if err := w.setup(ctx); err != nil {
		return w.state, err
	}
	state, err := w.run(ctx)
	// Events that came after the wait are answered by what the flow read since.
	w.drain()
	return state, err
}

type invitationImpl struct {
	*flow[models.Invitation]
	in          InvitationInput
	state       InvitationState
	started     time.Time
	cancelGrant workflow.CancelFunc
	// quiet says the run follows changeQuietStatus.
	quiet bool
}

// changeQuietStatus is the change after which an invitation sets its FlowStatus search attribute
// only where it rests: not to pending at its start (the API's start set it), nor to accepted
// (granting follows in the same workflow task), and it starts the GDAP watch without a version
// check of its own. Each upsert rewrites the flow's visibility row; this saves two of five.
const changeQuietStatus = "quiet-status"

// invitationChange is what one step of an invitation writes to its row and timeline.
type invitationChange = models.FlowChange[models.Invitation]

// Error type of the workflow's own failure, visible in the Temporal UI.
const errTypeInvitationFailed = "InvitationFailed"

func (w *invitationImpl) setup(ctx workflow.Context) error {
	w.started = workflow.Now(ctx)
	w.state.Status = models.InvitationPending
	if w.in.Policy.PollEvery <= 0 {
		w.in.Policy = DefaultInvitationPolicy
	}
	w.flow = newFlow[models.Invitation](
		models.KindInvitation,
		a.RecordInvitation,
		w.in.InvitationID,
		&w.state.Status,
		w.in.Policy.ContinueAsNewAfter,
	)
	resume(w.flow, w.in.Carry, &w.state, &w.started)
	if err := publishState(ctx, w.flow, QueryInvitation, &w.state); err != nil {
		return err
	}
	cancelGrant := func() {
		if w.cancelGrant != nil {
			w.cancelGrant()
		}
	}
	if err := serveWaitUpdates(ctx, w.flow, &w.state, models.InvitationOpen, cancelGrant, w.consent()); err != nil {
		return err
	}
	w.listen(ctx)
	return nil
}

func (w *invitationImpl) run(ctx workflow.Context) (InvitationState, error) {
	w.consolidate(ctx)
	w.quiet = w.version(ctx, changeQuietStatus, 1) == 1
	if w.in.Carry == nil {
		// An invitation deleted before its workflow ran (an operator's cleanup) has no row here:
		// the workflow ends before it touches Partner Center or mails anyone.
		if err := w.tryRecord(ctx, invitationChange{
			Status: models.InvitationPending,
			Step:   "started",
		}); isFlowGone(err) {
			workflow.GetLogger(ctx).Warn("the invitation no longer exists; ending", "invitation", w.in.InvitationID)
			return w.state, nil
		}
		if !w.quiet {
			w.enter(ctx, models.InvitationPending)
		}
		if err := w.prepare(ctx); err != nil {
			return w.finishFailed(ctx, err)
		}
	}
	switch outcome, err := w.waitFor(ctx, w.consent()); {
	case err != nil:
		return w.finishFailed(ctx, err)
	case outcome != models.InvitationAccepted:
		return w.finishClosed(ctx, outcome)
	}
	if w.in.NoAdminAccess {
		// A reseller relationship alone: nothing to grant and no access to watch.
		w.pass(ctx, models.InvitationAccepted, invitationChange{Step: "accepted"})
		w.setStatus(ctx, models.InvitationActive, invitationChange{
			Step:       "active",
			StepDetail: "reseller relationship without admin access",
		})
		return w.state, nil
	}
	if err := w.grant(ctx); err != nil {
		if w.cancelled != nil {
			return w.finishClosed(ctx, models.InvitationCancelled)
		}
		return w.finishFailed(ctx, err)
	}
	// An invitation that leaves Partner Center to the estate sync leaves the watch of its
	// relationship to it too: one watcher per partner, not a workflow per relationship.
	if w.in.Policy.NoPolling && w.version(ctx, changeEstateWatch, 1) == 1 {
		w.setStatus(ctx, models.InvitationActive, invitationChange{Step: "active"})
		w.record(ctx, invitationChange{
			Set:  models.Invitation{EstateWatch: true, AlertEmail: w.in.ContactEmail},
			Step: "watching",
			StepDetail: "the partner's estate sync watches the access: the partner is alerted before it ends " +
				"and if the customer removes it",
		})
		return w.state, nil
	}
	w.setStatus(ctx, models.InvitationActive, invitationChange{Step: "active"})
	// Invitations that became active before the watch existed replay without it.
	if w.quiet || workflow.GetVersion(ctx, "gdap-watch", workflow.DefaultVersion, 1) == 1 {
		w.startWatch(ctx)
	}
	return w.state, nil
}

// changeEstateWatch is the workflow.GetVersion change after which an invitation started with
// WaitPolicy.NoPolling starts no GDAP watch: the estate sync alerts on its relationship
// (activities.AlertWatchedAccess).
const changeEstateWatch = "estate-watch"

// pass enters a status the invitation leaves in the same workflow task: recorded and live, and
// set as the search attribute only by runs from before changeQuietStatus.
func (w *invitationImpl) pass(ctx workflow.Context, status string, ch invitationChange) {
	if !w.quiet {
		w.setStatus(ctx, status, ch)
		return
	}
	ch.Status = status
	w.record(ctx, ch)
	w.state.Status = status
}

// startWatch hands the active relationship to GDAPWatch, which outlives this workflow.
func (w *invitationImpl) startWatch(ctx workflow.Context) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        GDAPWatchWorkflowID(w.state.GDAPRelationshipID),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, GDAPWatch, GDAPWatchInput{
		InvitationID: w.in.InvitationID, RelationshipID: w.state.GDAPRelationshipID,
		CustomerDomain: w.in.CustomerDomain, ContactEmail: w.in.ContactEmail,
		// The estate sync, which made the invitation leave Partner Center alone, reads every GDAP
		// relationship and tells the watch when this one ends.
		NoPolling: w.in.Policy.NoPolling,
	})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn(
			"could not start the GDAP watch",
			"relationship", w.state.GDAPRelationshipID,
			"error", err,
		)
		return
	}
	w.record(ctx, invitationChange{
		Step:       "watching",
		StepDetail: "the access is watched; the partner is alerted before it ends and if the customer removes it",
	})
}

// prepare asks for the relationship link and the GDAP relationship (none without admin access),
// then mails the customer.
func (w *invitationImpl) prepare(ctx workflow.Context) error {
	actx := withServiceCalls(ctx)
	if err := w.callService(
		ctx,
		withServiceCalls,
		&w.state.RelationshipRequestURL,
		a.RelationshipLink,
		w.in.IndirectResellerID,
	); err != nil {
		return err
	}
	if w.in.NoAdminAccess {
		return w.sendInvitation(ctx)
	}
	var gdap activities.GDAPResult
	err := workflow.ExecuteActivity(actx, a.CreateGDAP, activities.CreateGDAPInput{
		RequestID: w.in.InvitationID + "/gdap", DisplayName: w.in.DisplayName,
		DurationDays: w.in.DurationDays, RoleIDs: w.in.RoleIDs, AutoExtend: w.in.AutoExtend,
	}).Get(ctx, &gdap)
	if err != nil {
		return err
	}
	w.state.GDAPRelationshipID, w.state.GDAPStatus, w.state.GDAPApprovalURL = gdap.ID, gdap.Status, gdap.ApprovalURL
	w.record(ctx, invitationChange{
		Set:        models.Invitation{GDAPRelationshipID: gdap.ID},
		Step:       "gdap-requested",
		StepDetail: gdap.ID,
	})
	return w.sendInvitation(ctx)
}

// sendInvitation mails the customer the invitation.
func (w *invitationImpl) sendInvitation(ctx workflow.Context) error {
	if err := w.mail(ctx, activities.MailInvitation, 0, w.in.CustomerEmail); err != nil {
		return err
	}
	w.record(ctx, invitationChange{Step: "sent", StepDetail: w.in.CustomerEmail})
	return nil
}

// consent is the wait for the reseller acceptance and the GDAP approval, in either order (the
// reseller acceptance alone without admin access), which ends accepted, cancelled, expired or
// declined. The customer is reminded and the partner's contact hears of it once.
func (w *invitationImpl) consent() phase[models.Invitation] {
	return phase[models.Invitation]{
		name: "consent", status: models.InvitationPending,
		policy: w.in.Policy, deadline: w.in.ExpiresAt,
		messages: messages[models.Invitation]{
			send: w.mail, reminder: activities.MailReminder,
			resend: activities.MailResend, escalation: activities.MailEscalation,
			to: w.in.CustomerEmail, contact: w.in.ContactEmail,
			reminded: func(seq int) models.Invitation { return models.Invitation{RemindersSent: seq} },
		},
		sent: &w.state.RemindersSent, escalated: &w.state.Escalated,
		decide: w.decide,
		check:  w.check,
		continueAsNew: func(ctx workflow.Context) error {
			next := w.in
			next.Carry = carry(w.flow, w.state, w.started)
			return workflow.NewContinueAsNewError(ctx, Invitation, next)
		},
	}
}

// decide ends the wait once both consents are given, or the customer ended the GDAP request;
// without admin access, once the reseller relationship is accepted.
func (w *invitationImpl) decide() string {
	if w.in.NoAdminAccess {
		if w.state.ResellerAccepted {
			return models.InvitationAccepted
		}
		return ""
	}
	if w.state.ResellerAccepted && w.state.GDAPApproved {
		return models.InvitationAccepted
	}
	switch w.state.GDAPStatus {
	case partnercenter.GDAPStatusExpired:
		return models.InvitationExpired
	case partnercenter.GDAPStatusTerminated,
		partnercenter.GDAPStatusTerminationRequested,
		partnercenter.GDAPStatusTerminating:
		return models.InvitationDeclined
	}
	return ""
}

// check asks the service for both consents (the activity reads no GDAP relationship when the
// invitation has none); webhook events only trigger it, so a lost or duplicated event changes
// nothing.
func (w *invitationImpl) check(ctx workflow.Context) error {
	var acc activities.Acceptance
	err := workflow.ExecuteActivity(
		withServiceCalls(ctx),
		a.CheckAcceptance,
		w.state.GDAPRelationshipID,
		w.in.CustomerDomain,
	).Get(ctx, &acc)
	if err != nil {
		return err
	}
	w.state.GDAPStatus = acc.GDAPStatus
	if acc.ResellerAccepted && !w.state.ResellerAccepted {
		w.state.ResellerAccepted, w.state.CustomerTenantID = true, acc.CustomerTenantID
		w.record(ctx, invitationChange{
			Set:        models.Invitation{CustomerTenantID: acc.CustomerTenantID},
			Step:       "reseller-accepted",
			StepDetail: acc.CustomerTenantID,
		})
	}
	if gdapApproved(acc.GDAPStatus) && !w.state.GDAPApproved {
		w.state.GDAPApproved = true
		w.record(ctx, invitationChange{Step: "gdap-approved", StepDetail: acc.GDAPStatus})
	}
	return nil
}

func gdapApproved(status string) bool {
	return status == partnercenter.GDAPStatusApproved ||
		status == partnercenter.GDAPStatusActivating ||
		status == partnercenter.GDAPStatusActive
}

// grant waits for GDAP to become active and creates and confirms each access assignment. A
// cancel update cancels its context.
func (w *invitationImpl) grant(ctx workflow.Context) error {
	w.pass(ctx, models.InvitationAccepted, invitationChange{Step: "accepted"})
	gctx, cancel := workflow.WithCancel(ctx)
	w.cancelGrant = cancel
	defer func() { w.cancelGrant = nil }()
	w.setStatus(gctx, models.InvitationGranting, invitationChange{Step: "granting"})

	var gdap activities.GDAPResult
	if err := workflow.ExecuteActivity(
		withStatusPolling(gctx),
		a.WaitGDAPActive,
		w.state.GDAPRelationshipID,
	).Get(gctx, &gdap); err != nil {
		return err
	}
	w.state.GDAPStatus = gdap.Status
	w.record(ctx, invitationChange{Step: "gdap-active"})

	for i, as := range w.in.Assignments {
		st := AssignmentState{SecurityGroupID: as.SecurityGroupID, Status: "creating"}
		w.state.Assignments = append(w.state.Assignments, st)
		requestID := fmt.Sprintf("%s/assignment/%d", w.in.InvitationID, i)
		if err := workflow.ExecuteActivity(
			withServiceCalls(gctx),
			a.CreateAssignment,
			requestID,
			w.state.GDAPRelationshipID,
			as,
		).Get(gctx, &w.state.Assignments[i].AssignmentID); err != nil {
			return err
		}
		w.state.Assignments[i].Status = partnercenter.AssignmentStatusPending
		w.record(ctx, invitationChange{
			Step:       "assignment-created",
			StepDetail: as.SecurityGroupID,
			StepKey:    w.in.InvitationID + "/assignment-created/" + as.SecurityGroupID,
		})
		if err := workflow.ExecuteActivity(
			withStatusPolling(gctx),
			a.WaitAssignmentActive,
			w.state.GDAPRelationshipID,
			w.state.Assignments[i].AssignmentID,
		).Get(gctx, &w.state.Assignments[i].Status); err != nil {
			return err
		}
		w.record(ctx, invitationChange{
			Step:       "assignment-active",
			StepDetail: as.SecurityGroupID,
			StepKey:    w.in.InvitationID + "/assignment-active/" + as.SecurityGroupID,
		})
	}
	return nil
}

// finishClosed ends a cancelled, expired or declined invitation, withdrawing the GDAP request as
// far as the service allows; a request still awaiting approval is handed to GDAPCleanup, which
// terminates it should the customer approve it later.
func (w *invitationImpl) finishClosed(ctx workflow.Context, status string) (InvitationState, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	detail := ""
	if status == models.InvitationCancelled {
		detail = w.cancelDetail()
	}
	if id := w.state.GDAPRelationshipID; id != "" && status != models.InvitationExpired {
		var ended string
		if err := workflow.ExecuteActivity(
			withServiceCalls(dctx),
			a.EndGDAP,
			w.in.InvitationID+"/end-gdap",
			id,
		).Get(dctx, &ended); err != nil {
			workflow.GetLogger(ctx).Warn("could not withdraw the GDAP relationship", "relationship", id, "error", err)
		}
		if ended != "" {
			w.state.GDAPStatus = ended
			w.record(dctx, invitationChange{Step: "gdap-withdrawn", StepDetail: ended})
		}
		if ended == partnercenter.GDAPStatusApprovalPending ||
			ended == partnercenter.GDAPStatusApproved ||
			ended == partnercenter.GDAPStatusActivating {
			w.startCleanup(dctx, id)
		}
	}
	w.setStatus(dctx, status, invitationChange{Step: status, StepDetail: detail})
	return w.state, nil
}

func (w *invitationImpl) startCleanup(ctx workflow.Context, relationshipID string) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        "gdap-cleanup/" + relationshipID,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, GDAPCleanup, GDAPCleanupInput{
		InvitationID: w.in.InvitationID, RelationshipID: relationshipID,
		Until: w.in.ExpiresAt, PollEvery: w.in.Policy.PollEvery,
	})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("could not start GDAP cleanup", "relationship", relationshipID, "error", err)
		return
	}
	w.record(ctx, invitationChange{
		Step:       "gdap-cleanup-started",
		StepDetail: "a pending GDAP request is watched and terminated if approved later",
	})
}

// finishFailed records a refusal that retrying cannot fix and fails the workflow with it.
func (w *invitationImpl) finishFailed(ctx workflow.Context, cause error) (InvitationState, error) {
	// A relationship still being created is withdrawn before the failure is recorded.
	undo := func(dctx workflow.Context) {
		if id := w.state.GDAPRelationshipID; id != "" && w.state.GDAPStatus == partnercenter.GDAPStatusCreated {
			var ended string
			_ = workflow.ExecuteActivity(
				withServiceCalls(dctx),
				a.EndGDAP,
				w.in.InvitationID+"/end-gdap",
				id,
			).Get(dctx, &ended)
		}
	}
	err := w.fail(
		ctx,
		cause,
		errTypeInvitationFailed,
		&w.state.FailureReason,
		func(r string) models.Invitation { return models.Invitation{FailureReason: r} },
		undo,
	)
	return w.state, err
}

func (w *invitationImpl) mail(ctx workflow.Context, kind string, seq int, to string) error {
	return workflow.ExecuteActivity(withServiceCalls(ctx), a.SendInvitationMail, activities.InvitationMail{
		InvitationID: w.in.InvitationID, Kind: kind, Seq: seq, To: to, CustomerDomain: w.in.CustomerDomain,
		RoleIDs: w.in.RoleIDs, DurationDays: w.in.DurationDays, ExpiresAt: w.in.ExpiresAt, Language: w.in.Language,
		NoAdminAccess: w.in.NoAdminAccess, Cloud: w.in.Cloud,
	}).Get(ctx, nil)
}
