package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/models"
)

// Invitation invites a customer into a reseller relationship with delegated admin: it asks
// Partner Center for the relationship link and a GDAP relationship, mails the customer, waits
// durably for both consents (with reminders, escalation, polling and expiry), then waits for GDAP
// to become active and grants the partner's security groups their roles.
func Invitation(ctx workflow.Context, in InvitationInput) (InvitationState, error) {
	w := &invitationImpl{in: in}
	if err := w.setup(ctx); err != nil {
		return w.state, err
	}
	return w.run(ctx)
}

type invitationImpl struct {
	in          InvitationInput
	state       InvitationState
	started     time.Time
	cancelled   *CancelRequest
	cancelGrant workflow.CancelFunc
	checkNow    bool
	resends     int
	events      workflow.ReceiveChannel
}

// Error type of the workflow's own failure, visible in the Temporal UI.
const errTypeInvitationFailed = "InvitationFailed"

func (w *invitationImpl) setup(ctx workflow.Context) error {
	w.started = workflow.Now(ctx)
	w.state.Status = models.InvitationPending
	if c := w.in.Carry; c != nil {
		w.state, w.started, w.resends, w.checkNow = c.State, c.Started, c.Resends, c.CheckNow
	}
	if w.in.Policy.PollEvery <= 0 {
		w.in.Policy = DefaultInvitationPolicy
	}
	if w.in.Policy.ContinueAsNewAfter <= 0 {
		w.in.Policy.ContinueAsNewAfter = DefaultContinueAsNewAfter
	}
	if err := workflow.SetQueryHandler(ctx, QueryInvitation, func() (InvitationState, error) { return w.state, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResend, w.resend, workflow.UpdateHandlerOptions{Validator: w.validateResend}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancel, w.cancel, workflow.UpdateHandlerOptions{Validator: w.validateCancel}); err != nil {
		return err
	}
	w.events = workflow.GetSignalChannel(ctx, SignalPartnerCenterEvent)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var ev PartnerCenterEvent
			w.events.Receive(ctx, &ev)
			w.checkNow = true
		}
	})
	return nil
}

func (w *invitationImpl) run(ctx workflow.Context) (InvitationState, error) {
	if w.in.Carry == nil {
		// The API removes an invitation whose start it could not confirm; a workflow that started
		// all the same finds no row here and ends before it touches Partner Center or mails anyone.
		if err := w.tryRecord(ctx, models.InvitationChange{Status: models.InvitationPending, Step: "started"}); isInvitationGone(err) {
			workflow.GetLogger(ctx).Warn("the invitation no longer exists; ending", "invitation", w.in.InvitationID)
			return w.state, nil
		}
		w.enter(ctx, models.InvitationPending)
		if err := w.prepare(ctx); err != nil {
			return w.finishFailed(ctx, err)
		}
	}
	switch outcome, err := w.awaitConsent(ctx); {
	case err != nil:
		return w.finishFailed(ctx, err)
	case outcome != models.InvitationAccepted:
		return w.finishClosed(ctx, outcome)
	}
	if err := w.grant(ctx); err != nil {
		if w.cancelled != nil {
			return w.finishClosed(ctx, models.InvitationCancelled)
		}
		return w.finishFailed(ctx, err)
	}
	w.setStatus(ctx, models.InvitationActive, models.InvitationChange{Step: "active"})
	// Invitations that became active before the watch existed replay without it.
	if workflow.GetVersion(ctx, "gdap-watch", workflow.DefaultVersion, 1) == 1 {
		w.startWatch(ctx)
	}
	return w.state, nil
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
	})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("could not start the GDAP watch", "relationship", w.state.GDAPRelationshipID, "error", err)
		return
	}
	w.record(ctx, models.InvitationChange{Step: "watching", StepDetail: "the access is watched; the partner is alerted before it ends and if the customer removes it"})
}

// prepare asks for the relationship link and the GDAP relationship, then mails the customer.
func (w *invitationImpl) prepare(ctx workflow.Context) error {
	actx := withServiceCalls(ctx)
	if err := workflow.ExecuteActivity(actx, ActivityRelationshipLink, w.in.IndirectResellerID).Get(ctx, &w.state.RelationshipRequestURL); err != nil {
		return err
	}
	var gdap GDAPResult
	err := workflow.ExecuteActivity(actx, ActivityCreateGDAP, CreateGDAPInput{
		RequestID: w.in.InvitationID + "/gdap", DisplayName: w.in.DisplayName,
		DurationDays: w.in.DurationDays, RoleIDs: w.in.RoleIDs, AutoExtend: w.in.AutoExtend,
	}).Get(ctx, &gdap)
	if err != nil {
		return err
	}
	w.state.GDAPRelationshipID, w.state.GDAPStatus, w.state.GDAPApprovalURL = gdap.ID, gdap.Status, gdap.ApprovalURL
	w.record(ctx, models.InvitationChange{GDAPRelationshipID: gdap.ID, Step: "gdap-requested", StepDetail: gdap.ID})
	if err := w.mail(ctx, MailInvitation, 0, w.in.CustomerEmail); err != nil {
		return err
	}
	w.record(ctx, models.InvitationChange{Step: "sent", StepDetail: w.in.CustomerEmail})
	return nil
}

// awaitConsent waits for the reseller acceptance and the GDAP approval, in either order, and
// returns accepted, cancelled, expired or declined.
func (w *invitationImpl) awaitConsent(ctx workflow.Context) (string, error) {
	nextPoll := workflow.Now(ctx).Add(w.in.Policy.PollEvery)
	for {
		if w.cancelled != nil {
			return models.InvitationCancelled, nil
		}
		if w.historyFull(ctx) {
			return "", w.continueAsNew(ctx)
		}
		if w.state.ResellerAccepted && w.state.GDAPApproved {
			return models.InvitationAccepted, nil
		}
		switch w.state.GDAPStatus {
		case "expired":
			return models.InvitationExpired, nil
		case "terminated", "terminationRequested", "terminating":
			return models.InvitationDeclined, nil
		}
		now := workflow.Now(ctx)
		if !now.Before(w.in.ExpiresAt) {
			return models.InvitationExpired, nil
		}
		if w.checkNow || !now.Before(nextPoll) {
			w.checkNow = false
			nextPoll = now.Add(w.in.Policy.PollEvery)
			if err := w.check(ctx); err != nil {
				return "", err
			}
			continue
		}
		if reminder := w.nextReminder(); !now.Before(reminder) {
			if err := w.remind(ctx); err != nil {
				return "", err
			}
			continue
		}
		wake := minTime(nextPoll, w.nextReminder(), w.in.ExpiresAt)
		if _, err := workflow.AwaitWithTimeout(ctx, wake.Sub(now), func() bool { return w.cancelled != nil || w.checkNow }); err != nil {
			return "", err
		}
	}
}

// historyFull reports that this run should hand over to a new one: its history is long, or the
// server suggests it, and no update handler is still running.
func (w *invitationImpl) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	full := info.GetCurrentHistoryLength() >= w.in.Policy.ContinueAsNewAfter || info.GetContinueAsNewSuggested()
	return full && workflow.AllHandlersFinished(ctx)
}

// continueAsNew drains the event signals not yet received (they become a pending check) and
// continues as a new run carrying the state.
func (w *invitationImpl) continueAsNew(ctx workflow.Context) error {
	for {
		var ev PartnerCenterEvent
		if !w.events.ReceiveAsync(&ev) {
			break
		}
		w.checkNow = true
	}
	next := w.in
	next.Carry = &InvitationCarry{State: w.state, Started: w.started, Resends: w.resends, CheckNow: w.checkNow}
	return workflow.NewContinueAsNewError(ctx, Invitation, next)
}

// check asks the service for both consents; webhook events only trigger it, so a lost or
// duplicated event changes nothing.
func (w *invitationImpl) check(ctx workflow.Context) error {
	var acc Acceptance
	err := workflow.ExecuteActivity(withServiceCalls(ctx), ActivityCheckAcceptance, w.state.GDAPRelationshipID, w.in.CustomerDomain).Get(ctx, &acc)
	if err != nil {
		return err
	}
	w.state.GDAPStatus = acc.GDAPStatus
	if acc.ResellerAccepted && !w.state.ResellerAccepted {
		w.state.ResellerAccepted, w.state.CustomerTenantID = true, acc.CustomerTenantID
		w.record(ctx, models.InvitationChange{CustomerTenantID: acc.CustomerTenantID, Step: "reseller-accepted", StepDetail: acc.CustomerTenantID})
	}
	if gdapApproved(acc.GDAPStatus) && !w.state.GDAPApproved {
		w.state.GDAPApproved = true
		w.record(ctx, models.InvitationChange{Step: "gdap-approved", StepDetail: acc.GDAPStatus})
	}
	return nil
}

func gdapApproved(status string) bool {
	return status == "approved" || status == "activating" || status == "active"
}

// nextReminder is when the next reminder is due: the listed offsets, then every RepeatEvery.
func (w *invitationImpl) nextReminder() time.Time {
	p, sent := w.in.Policy, w.state.RemindersSent
	switch {
	case sent < len(p.Reminders):
		return w.started.Add(p.Reminders[sent])
	case p.RepeatEvery > 0 && len(p.Reminders) > 0:
		return w.started.Add(p.Reminders[len(p.Reminders)-1] + time.Duration(sent-len(p.Reminders)+1)*p.RepeatEvery)
	case p.RepeatEvery > 0:
		return w.started.Add(time.Duration(sent+1) * p.RepeatEvery)
	}
	return w.in.ExpiresAt
}

func (w *invitationImpl) remind(ctx workflow.Context) error {
	seq := w.state.RemindersSent + 1
	if err := w.mail(ctx, MailReminder, seq, w.in.CustomerEmail); err != nil {
		return err
	}
	w.state.RemindersSent = seq
	w.record(ctx, models.InvitationChange{RemindersSent: seq, Step: "reminder", StepDetail: fmt.Sprintf("reminder %d to %s", seq, w.in.CustomerEmail)})
	if w.in.Policy.EscalateAfter > 0 && seq == w.in.Policy.EscalateAfter && w.in.ContactEmail != "" && !w.state.Escalated {
		if err := w.mail(ctx, MailEscalation, seq, w.in.ContactEmail); err != nil {
			return err
		}
		w.state.Escalated = true
		w.record(ctx, models.InvitationChange{Step: "escalated", StepDetail: w.in.ContactEmail})
	}
	return nil
}

// grant waits for GDAP to become active and creates and confirms each access assignment. A
// cancel update cancels its context.
func (w *invitationImpl) grant(ctx workflow.Context) error {
	w.setStatus(ctx, models.InvitationAccepted, models.InvitationChange{Step: "accepted"})
	gctx, cancel := workflow.WithCancel(ctx)
	w.cancelGrant = cancel
	defer func() { w.cancelGrant = nil }()
	w.setStatus(gctx, models.InvitationGranting, models.InvitationChange{Step: "granting"})

	var gdap GDAPResult
	if err := workflow.ExecuteActivity(withStatusPolling(gctx), ActivityWaitGDAPActive, w.state.GDAPRelationshipID).Get(gctx, &gdap); err != nil {
		return err
	}
	w.state.GDAPStatus = gdap.Status
	w.record(ctx, models.InvitationChange{Step: "gdap-active"})

	for i, as := range w.in.Assignments {
		st := AssignmentState{SecurityGroupID: as.SecurityGroupID, Status: "creating"}
		w.state.Assignments = append(w.state.Assignments, st)
		requestID := fmt.Sprintf("%s/assignment/%d", w.in.InvitationID, i)
		if err := workflow.ExecuteActivity(withServiceCalls(gctx), ActivityCreateAssignment, requestID, w.state.GDAPRelationshipID, as).Get(gctx, &w.state.Assignments[i].AssignmentID); err != nil {
			return err
		}
		w.state.Assignments[i].Status = "pending"
		w.record(ctx, models.InvitationChange{Step: "assignment-created", StepDetail: as.SecurityGroupID, StepKey: w.in.InvitationID + "/assignment-created/" + as.SecurityGroupID})
		if err := workflow.ExecuteActivity(withStatusPolling(gctx), ActivityWaitAssignmentActive, w.state.GDAPRelationshipID, w.state.Assignments[i].AssignmentID).Get(gctx, &w.state.Assignments[i].Status); err != nil {
			return err
		}
		w.record(ctx, models.InvitationChange{Step: "assignment-active", StepDetail: as.SecurityGroupID, StepKey: w.in.InvitationID + "/assignment-active/" + as.SecurityGroupID})
	}
	return nil
}

// finishClosed ends a cancelled, expired or declined invitation, withdrawing the GDAP request as
// far as the service allows; a request still awaiting approval is handed to GDAPCleanup, which
// terminates it should the customer approve it later.
func (w *invitationImpl) finishClosed(ctx workflow.Context, status string) (InvitationState, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	detail := ""
	if w.cancelled != nil && status == models.InvitationCancelled {
		detail = strings.TrimSpace(w.cancelled.By + ": " + w.cancelled.Reason)
	}
	if id := w.state.GDAPRelationshipID; id != "" && status != models.InvitationExpired {
		var ended string
		if err := workflow.ExecuteActivity(withServiceCalls(dctx), ActivityEndGDAP, w.in.InvitationID+"/end-gdap", id).Get(dctx, &ended); err != nil {
			workflow.GetLogger(ctx).Warn("could not withdraw the GDAP relationship", "relationship", id, "error", err)
		}
		if ended != "" {
			w.state.GDAPStatus = ended
			w.record(dctx, models.InvitationChange{Step: "gdap-withdrawn", StepDetail: ended})
		}
		if ended == "approvalPending" || ended == "approved" || ended == "activating" {
			w.startCleanup(dctx, id)
		}
	}
	w.setStatus(dctx, status, models.InvitationChange{Step: status, StepDetail: detail})
	return w.state, nil
}

func (w *invitationImpl) startCleanup(ctx workflow.Context, relationshipID string) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        "gdap-cleanup/" + relationshipID,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, GDAPCleanup, GDAPCleanupInput{
		InvitationID: w.in.InvitationID, RelationshipID: relationshipID, Until: w.in.ExpiresAt, PollEvery: w.in.Policy.PollEvery,
	})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("could not start GDAP cleanup", "relationship", relationshipID, "error", err)
		return
	}
	w.record(ctx, models.InvitationChange{Step: "gdap-cleanup-started", StepDetail: "a pending GDAP request is watched and terminated if approved later"})
}

// finishFailed records a refusal that retrying cannot fix and fails the workflow with it.
func (w *invitationImpl) finishFailed(ctx workflow.Context, cause error) (InvitationState, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	reason := rootMessage(cause)
	w.state.FailureReason = reason
	if id := w.state.GDAPRelationshipID; id != "" && w.state.GDAPStatus == "created" {
		var ended string
		_ = workflow.ExecuteActivity(withServiceCalls(dctx), ActivityEndGDAP, w.in.InvitationID+"/end-gdap", id).Get(dctx, &ended)
	}
	w.setStatus(dctx, models.InvitationFailed, models.InvitationChange{FailureReason: reason, Step: models.InvitationFailed, StepDetail: reason})
	return w.state, temporal.NewNonRetryableApplicationError(reason, errTypeInvitationFailed, cause)
}

// ErrTypeInvitationGone is the error type of a record for an invitation that does not exist.
const ErrTypeInvitationGone = "InvitationGone"

func isInvitationGone(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == ErrTypeInvitationGone
}

func rootMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

func (w *invitationImpl) validateResend(_ workflow.Context, _ ResendRequest) error {
	if w.cancelled != nil || w.state.Status != models.InvitationPending {
		return fmt.Errorf("the invitation is %s: only a pending invitation can be sent again", w.currentStatus())
	}
	return nil
}

func (w *invitationImpl) resend(ctx workflow.Context, req ResendRequest) (InvitationState, error) {
	w.resends++
	if err := w.mail(ctx, MailResend, w.resends, w.in.CustomerEmail); err != nil {
		return w.state, err
	}
	w.record(ctx, models.InvitationChange{Step: "resent", StepDetail: strings.TrimSpace("by " + req.By)})
	return w.state, nil
}

func (w *invitationImpl) validateCancel(_ workflow.Context, _ CancelRequest) error {
	if w.cancelled != nil || !models.InvitationOpen(w.state.Status) {
		return fmt.Errorf("the invitation is %s and can no longer be cancelled", w.currentStatus())
	}
	return nil
}

// cancel stops the flow wherever it waits or works and returns once it is cancelled.
func (w *invitationImpl) cancel(ctx workflow.Context, req CancelRequest) (InvitationState, error) {
	w.cancelled = &req
	if w.cancelGrant != nil {
		w.cancelGrant()
	}
	err := workflow.Await(ctx, func() bool { return w.state.Status == models.InvitationCancelled })
	return w.state, err
}

func (w *invitationImpl) currentStatus() string {
	if w.cancelled != nil {
		return models.InvitationCancelled
	}
	return w.state.Status
}

func (w *invitationImpl) mail(ctx workflow.Context, kind string, seq int, to string) error {
	return workflow.ExecuteActivity(withServiceCalls(ctx), ActivitySendInvitationMail, InvitationMail{
		InvitationID: w.in.InvitationID, Kind: kind, Seq: seq, To: to, CustomerDomain: w.in.CustomerDomain,
		RoleIDs: w.in.RoleIDs, DurationDays: w.in.DurationDays, ExpiresAt: w.in.ExpiresAt,
	}).Get(ctx, nil)
}

// setStatus changes the status in the state, the search attributes and the app database.
// The database is written first, so the live query never shows a status the list does not.
func (w *invitationImpl) setStatus(ctx workflow.Context, status string, ch models.InvitationChange) {
	ch.Status = status
	w.record(ctx, ch)
	w.enter(ctx, status)
}

// enter changes the live status and the status search attribute.
func (w *invitationImpl) enter(ctx workflow.Context, status string) {
	w.state.Status = status
	if err := workflow.UpsertTypedSearchAttributes(ctx, FlowStatusKey.ValueSet(status)); err != nil {
		workflow.GetLogger(ctx).Warn("could not update the status search attribute", "error", err)
	}
}

// record writes a step to the app database through a local activity; the list pages read it
// there because search attributes are only eventually consistent.
func (w *invitationImpl) record(ctx workflow.Context, ch models.InvitationChange) {
	if err := w.tryRecord(ctx, ch); err != nil {
		workflow.GetLogger(ctx).Error("could not record the invitation step", "step", ch.Step, "error", err)
	}
}

func (w *invitationImpl) tryRecord(ctx workflow.Context, ch models.InvitationChange) error {
	ch.At = workflow.Now(ctx)
	if ch.StepKey == "" && ch.Step != "" {
		ch.StepKey = w.in.InvitationID + "/" + ch.Step
		if ch.Step == "reminder" || ch.Step == "resent" {
			ch.StepKey += fmt.Sprintf("/%d/%d", w.state.RemindersSent, w.resends)
		}
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	return workflow.ExecuteLocalActivity(lctx, ActivityRecordInvitation, w.in.InvitationID, ch).Get(lctx, nil)
}

// withServiceCalls sets the options of calls to Partner Center, Graph and the mail server:
// retried with backoff for a day, honouring Retry-After through the activities' NextRetryDelay.
func withServiceCalls(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
		},
	})
}

// withStatusPolling sets the options of activities that wait for the service to reach a state.
func withStatusPolling(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 7 * 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 1.5, MaximumInterval: time.Minute,
		},
	})
}

func minTime(ts ...time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.Before(m) {
			m = t
		}
	}
	return m
}
