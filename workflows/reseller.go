package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
)

// ResellerFlow describes the indirect reseller partnership: a provider asks a reseller to
// authorize it, waits for the authorization (Partner Center sends no event for it: the flow
// polls the provider's list of indirect resellers), then verifies the reseller's PartnerID
// before anyone transacts for it. A partnership imported from Partner Center (Imported) was
// authorized before partnerflow: it is verified at once.
var ResellerFlow = Flow{
	Kind:     models.KindReseller,
	Type:     models.ResellerWorkflowType,
	Workflow: ResellerPartnership,
	Query:    QueryReseller,
	Updates:  []string{UpdateResend, UpdateCancel, UpdateVerify},
	// Partner Center sends no event when a reseller authorizes its provider; the estate sync,
	// which lists the provider's indirect resellers every pass, signals the request it names.
	Signals: []string{SignalPartnerCenterEvent},
}

// Names of the reseller partnership's messages.
const (
	// QueryReseller returns the live ResellerState.
	QueryReseller = "reseller"
	// UpdateVerify checks a reseller that failed verification again, or matches a request that
	// waits for the provider's review again.
	UpdateVerify = "verify"

	// changeResellerIdentity marks the workflows that stop for review when the reseller that
	// authorized the provider is not plainly the one the request names.
	changeResellerIdentity = "reseller-identity"
)

// ResellerWorkflowID is the workflow ID of one partnership request: its own, so that starting
// it again is refused by Temporal, never doubled. The app database's one-open-request-per-
// contact rule refuses a second request. Requests started before per-flow IDs carry
// "reseller/<partner>/<email>"; their rows keep it.
func ResellerWorkflowID(resellerID string) string { return models.ResellerWorkflowID(resellerID) }

// ResellerInput starts a partnership: what the request (or the import) gives, its wait policy,
// and what a run continued as new carries. models.ResellerStart is embedded, so its fields are
// the input's own (in JSON too) and the estate import, which cannot import this package, writes
// the same input.
type ResellerInput struct {
	models.ResellerStart
	Policy WaitPolicy
	Carry  *Carry[ResellerState] `json:",omitempty"`
}

// ResellerState is the live state the query returns and the workflow's result.
type ResellerState struct {
	Status        string
	Authorized    bool
	TenantID      string
	MPNID         string
	Location      string
	RemindersSent int
	Escalated     bool
	FailureCode   string
	FailureReason string
	// Reviews counts the times the request stopped for the provider's review.
	Reviews int `json:",omitempty"`
}

// VerifyRequest asks for a reseller's verification, or a request's match in review, again.
type VerifyRequest struct {
	By string
}

// ResellerPartnership asks a reseller to authorize the provider as its indirect provider, waits
// durably for it (reminders, escalation, resend, cancel, expiry), then verifies the reseller:
// PartnerID exists, is an indirect reseller in the provider's region, and has signed the partner
// agreement. A reseller that fails stays verification_failed with the reason until it is
// verified again or the request is cancelled; it never becomes active silently.
func ResellerPartnership(ctx workflow.Context, in ResellerInput) (ResellerState, error) {
	w := &resellerImpl{in: in}
	if err := w.setup(ctx); err != nil {
		return w.state, err
	}
	return w.run(ctx)
}

type resellerImpl struct {
	*flow[models.Reseller]
	in          ResellerInput
	state       ResellerState
	started     time.Time
	verifyAgain *VerifyRequest
	// review is the mismatch the last check found, which ends the wait for the authorization.
	review *activities.Partnership
}

type resellerChange = models.FlowChange[models.Reseller]

func (w *resellerImpl) setup(ctx workflow.Context) error {
	w.started = workflow.Now(ctx)
	w.state.Status = models.ResellerPending
	if w.in.Imported {
		w.state.Status = models.ResellerVerifying
	}
	if w.in.Policy.PollEvery <= 0 {
		w.in.Policy = DefaultWaitPolicy
	}
	w.flow = newFlow[models.Reseller](
		models.KindReseller,
		a.RecordReseller,
		w.in.ResellerID,
		&w.state.Status,
		w.in.Policy.ContinueAsNewAfter,
	)
	resume(w.flow, w.in.Carry, &w.state, &w.started)
	// The estate sync's signal that the reseller appeared among the provider's indirect
	// resellers makes the wait check at once (the only way for a request that does not poll).
	w.listen(ctx)
	if err := publishState(ctx, w.flow, QueryReseller, &w.state); err != nil {
		return err
	}
	if err := serveWaitUpdates(ctx, w.flow, &w.state, models.ResellerOpen, nil, w.authorization()); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(
		ctx,
		UpdateVerify,
		func(ctx workflow.Context, req VerifyRequest) (ResellerState, error) {
			w.verifyAgain = &req
			err := workflow.Await(ctx, func() bool { return w.verifyAgain == nil })
			return w.state, err
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, _ VerifyRequest) error {
			if w.cancelled != nil ||
				(w.state.Status != models.ResellerVerificationFailed && w.state.Status != models.ResellerNeedsReview) ||
				w.verifyAgain != nil {
				return fmt.Errorf(
					"the reseller is %s: only a reseller that failed verification or waits for review "+
						"can be checked again",
					w.state.Status,
				)
			}
			return nil
		}},
	)
}

func (w *resellerImpl) run(ctx workflow.Context) (ResellerState, error) {
	if w.in.Imported {
		return w.runImported(ctx)
	}
	if w.in.Carry == nil {
		if err := w.tryRecord(ctx, resellerChange{Status: models.ResellerPending, Step: "started"}); isFlowGone(err) {
			workflow.GetLogger(ctx).Warn("the reseller no longer exists; ending", "reseller", w.in.ResellerID)
			return w.state, nil
		}
		w.enter(ctx, models.ResellerPending)
		if err := w.mail(ctx, activities.MailResellerInvitation, 0, w.in.Email, activities.Verification{}); err != nil {
			return w.finishFailed(ctx, err)
		}
		w.record(ctx, resellerChange{Step: "sent", StepDetail: w.in.Email})
	}
	if w.state.Status == models.ResellerNeedsReview {
		// A run continued as new while the request waited for review.
		return w.settle(ctx, &activities.Partnership{Review: w.state.FailureCode, Reason: w.state.FailureReason})
	}
	if !w.state.Authorized {
		outcome, err := w.waitFor(ctx, w.authorization())
		switch {
		case err != nil:
			return w.finishFailed(ctx, err)
		case outcome == models.ResellerNeedsReview:
			return w.settle(ctx, w.review)
		case outcome != models.ResellerVerifying:
			w.setStatus(ctx, outcome, resellerChange{Step: outcome, StepDetail: w.cancelDetail()})
			return w.state, nil
		}
	}
	return w.settle(ctx, nil)
}

// runImported verifies a partnership Partner Center already lists (the estate sync imported it):
// no request goes out and no authorization is awaited. The flow checks that Partner Center still
// lists the reseller's tenant as having authorized the provider, with the identity rules of a
// request (FindPartnership), then verifies it as a new partnership is verified: it ends active,
// verification_failed or needs_review, and the provider's contact hears of the result. The
// reseller, whose contact is not known, gets no mail.
func (w *resellerImpl) runImported(ctx workflow.Context) (ResellerState, error) {
	if w.in.Carry == nil {
		started := resellerChange{
			Status:     models.ResellerVerifying,
			Step:       "started",
			StepDetail: "imported from Partner Center: the reseller authorized the provider before partnerflow",
		}
		if err := w.tryRecord(ctx, started); isFlowGone(err) {
			workflow.GetLogger(ctx).Warn("the reseller no longer exists; ending", "reseller", w.in.ResellerID)
			return w.state, nil
		}
		w.enter(ctx, models.ResellerVerifying)
	}
	if w.state.Status == models.ResellerNeedsReview {
		// A run continued as new while the partnership waited for review.
		return w.settle(ctx, &activities.Partnership{Review: w.state.FailureCode, Reason: w.state.FailureReason})
	}
	if !w.state.Authorized {
		var p activities.Partnership
		if err := w.callService(ctx, withServiceCalls, &p, a.FindPartnership, w.in.ResellerID); err != nil {
			return w.finishFailed(ctx, err)
		}
		if p.Review == "" && !p.Found {
			p.Review, p.Reason = activities.ReviewNotAuthorized, fmt.Sprintf(
				"Partner Center no longer lists %s as an indirect reseller that authorized the provider",
				w.in.CompanyName,
			)
		}
		if p.Review != "" {
			return w.settle(ctx, &p)
		}
		w.authorize(ctx, p)
	}
	return w.settle(ctx, nil)
}

// check looks for the reseller in the provider's list of indirect resellers.
func (w *resellerImpl) check(ctx workflow.Context) error {
	var p activities.Partnership
	if err := w.callService(ctx, withServiceCalls, &p, a.FindPartnership, w.in.ResellerID); err != nil {
		return err
	}
	if p.Review != "" {
		if workflow.GetVersion(ctx, changeResellerIdentity, workflow.DefaultVersion, 1) == 1 {
			w.review = &p
		}
		return nil
	}
	if p.Found {
		w.authorize(ctx, p)
	}
	return nil
}

// authorize takes the reseller found in the provider's list for this request.
func (w *resellerImpl) authorize(ctx workflow.Context, p activities.Partnership) {
	w.state.Authorized, w.state.TenantID, w.state.MPNID, w.state.Location = true, p.TenantID, p.MPNID, p.Location
	w.record(ctx, resellerChange{
		Set:        models.Reseller{TenantID: p.TenantID, MPNID: p.MPNID, Location: p.Location},
		Step:       "authorized",
		StepDetail: fmt.Sprintf("%s (PartnerID %s, %s) authorized the provider", p.Name, p.MPNID, p.Location),
	})
}

// settle verifies the authorized reseller and, whenever the reseller is not plainly the
// request's (review), waits for the provider's review first: a verify update matches the
// request again, a cancel ends it. Nothing in review ever becomes active.
func (w *resellerImpl) settle(ctx workflow.Context, review *activities.Partnership) (ResellerState, error) {
	for {
		if review != nil {
			p, done, err := w.awaitReview(ctx, *review)
			if done || err != nil {
				return w.state, err
			}
			if p.Review != "" {
				review = &p
				continue
			}
			w.authorize(ctx, p)
		}
		var err error
		if review, err = w.verify(ctx); review == nil {
			return w.state, err
		}
	}
}

// awaitReview stops the request in needs_review with the reason until the provider checks it
// again (the next match is returned) or cancels it (done).
func (w *resellerImpl) awaitReview(
	ctx workflow.Context, review activities.Partnership,
) (activities.Partnership, bool, error) {
	w.review = nil
	w.state.Authorized, w.state.TenantID = false, ""
	w.state.FailureCode, w.state.FailureReason = review.Review, review.Reason
	w.state.Reviews++
	w.setStatus(ctx, models.ResellerNeedsReview, resellerChange{
		Set:        models.Reseller{FailureCode: review.Review, FailureReason: review.Reason},
		Step:       "needs-review",
		StepDetail: review.Review + ": " + review.Reason,
		StepKey:    fmt.Sprintf("%s/needs-review/%d", w.in.ResellerID, w.state.Reviews),
	})
	w.verifyAgain = nil
	for w.verifyAgain == nil && w.cancelled == nil {
		if w.historyFull(ctx) {
			next := w.in
			next.Carry = carry(w.flow, w.state, w.started)
			return activities.Partnership{}, true, workflow.NewContinueAsNewError(ctx, ResellerPartnership, next)
		}
		if _, err := workflow.AwaitWithTimeout(ctx, 24*time.Hour, func() bool {
			return w.verifyAgain != nil || w.cancelled != nil
		}); err != nil {
			return activities.Partnership{}, true, err
		}
	}
	if w.cancelled != nil {
		w.setStatus(ctx, models.ResellerCancelled, resellerChange{
			Step:       models.ResellerCancelled,
			StepDetail: w.cancelDetail(),
		})
		return activities.Partnership{}, true, nil
	}
	var p activities.Partnership
	if err := w.callService(ctx, withServiceCalls, &p, a.FindPartnership, w.in.ResellerID); err != nil {
		_, err = w.finishFailed(ctx, err)
		return activities.Partnership{}, true, err
	}
	if p.Review == "" && !p.Found {
		p.Review, p.Reason = activities.ReviewNotAuthorized, fmt.Sprintf(
			"no reseller named %q authorizes the provider in Partner Center",
			w.in.CompanyName,
		)
	}
	return p, false, nil
}

// authorization is the wait for the reseller to authorize the provider, which ends verifying,
// in review (the reseller that authorized is not plainly the request's), cancelled or expired.
func (w *resellerImpl) authorization() phase[models.Reseller] {
	return phase[models.Reseller]{
		name: "authorization", status: models.ResellerPending,
		policy: w.in.Policy, deadline: w.in.ExpiresAt,
		messages: messages[models.Reseller]{
			send: func(ctx workflow.Context, kind string, seq int, to string) error {
				return w.mail(ctx, kind, seq, to, activities.Verification{})
			},
			reminder: activities.MailResellerReminder, resend: activities.MailResellerResend,
			escalation: activities.MailResellerEscalation,
			to:         w.in.Email, contact: w.in.ContactEmail,
			reminded: func(seq int) models.Reseller { return models.Reseller{RemindersSent: seq} },
		},
		sent: &w.state.RemindersSent, escalated: &w.state.Escalated,
		decide: func() string {
			switch {
			case w.state.Authorized:
				return models.ResellerVerifying
			case w.review != nil:
				return models.ResellerNeedsReview
			}
			return ""
		},
		check: w.check,
		continueAsNew: func(ctx workflow.Context) error {
			next := w.in
			next.Carry = carry(w.flow, w.state, w.started)
			return workflow.NewContinueAsNewError(ctx, ResellerPartnership, next)
		},
	}
}

// verify checks the reseller until it passes or the request is cancelled: a failure waits for a
// verify update (the reseller signs its agreement, say), and is checked again then. A reseller
// tenant that another partnership took meanwhile is returned as the review it needs.
func (w *resellerImpl) verify(ctx workflow.Context) (*activities.Partnership, error) {
	for round := 1; ; round++ {
		w.setStatus(ctx, models.ResellerVerifying, resellerChange{
			Step:    "verifying",
			StepKey: fmt.Sprintf("%s/verifying/%d", w.in.ResellerID, round),
		})
		var v activities.Verification
		if err := w.callService(ctx, withServiceCalls, &v, a.VerifyReseller, w.state.MPNID); err != nil {
			_, err = w.finishFailed(ctx, err)
			return nil, err
		}
		if v.OK {
			now := workflow.Now(ctx)
			w.state.FailureCode, w.state.FailureReason = "", ""
			verified := resellerChange{
				Status: models.ResellerActive,
				Set:    models.Reseller{VerifiedAt: &now},
				Step:   "verified",
				StepDetail: "PartnerID " + w.state.MPNID +
					" exists, is an indirect reseller in the provider's region and has signed the partner agreement",
			}
			if err := w.tryRecord(ctx, verified); err != nil {
				if isTenantTaken(err) &&
					workflow.GetVersion(ctx, changeResellerIdentity, workflow.DefaultVersion, 1) == 1 {
					return &activities.Partnership{
						Review: activities.ReviewTenantTaken,
						Reason: fmt.Sprintf(
							"reseller tenant %s became active with another partnership of the provider first",
							w.state.TenantID,
						),
					}, nil
				}
				workflow.GetLogger(ctx).Error(
					"could not record the step",
					"kind", w.kind,
					"id", w.in.ResellerID,
					"step", verified.Step,
					"error", err,
				)
			}
			w.enter(ctx, models.ResellerActive)
			w.verifyAgain = nil
			w.notifyContact(ctx, activities.MailResellerVerified, round, v)
			// A verify update that asked for this round gets its answer before the workflow ends.
			return nil, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		}
		w.state.FailureCode, w.state.FailureReason = v.Code, v.Reason
		w.setStatus(ctx, models.ResellerVerificationFailed, resellerChange{
			Set:        models.Reseller{FailureCode: v.Code, FailureReason: v.Reason},
			Step:       "verification-failed",
			StepDetail: v.Code + ": " + v.Reason,
			StepKey:    fmt.Sprintf("%s/verification-failed/%d", w.in.ResellerID, round),
		})
		w.verifyAgain = nil
		w.notifyContact(ctx, activities.MailResellerVerificationFailed, round, v)
		for w.verifyAgain == nil && w.cancelled == nil {
			if w.historyFull(ctx) {
				next := w.in
				next.Carry = carry(w.flow, w.state, w.started)
				return nil, workflow.NewContinueAsNewError(ctx, ResellerPartnership, next)
			}
			if _, err := workflow.AwaitWithTimeout(ctx, 24*time.Hour, func() bool {
				return w.verifyAgain != nil || w.cancelled != nil
			}); err != nil {
				return nil, err
			}
		}
		if w.cancelled != nil {
			w.setStatus(ctx, models.ResellerCancelled, resellerChange{
				Step:       models.ResellerCancelled,
				StepDetail: w.cancelDetail(),
			})
			return nil, nil
		}
	}
}

// isTenantTaken reports a record refused because the reseller tenant is another active
// partnership's.
func isTenantTaken(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeResellerTenantTaken
}

// notifyContact tells the provider's contact how verification went; a mail that cannot be
// sent is logged, the partnership goes on.
func (w *resellerImpl) notifyContact(ctx workflow.Context, kind string, round int, v activities.Verification) {
	if w.in.ContactEmail == "" {
		return
	}
	if err := w.mail(ctx, kind, round, w.in.ContactEmail, v); err != nil {
		workflow.GetLogger(ctx).Warn("could not tell the provider's contact", "kind", kind, "error", err)
	}
}

func (w *resellerImpl) mail(ctx workflow.Context, kind string, seq int, to string, v activities.Verification) error {
	return workflow.ExecuteActivity(withServiceCalls(ctx), a.SendResellerMail, activities.ResellerMail{
		ResellerID: w.in.ResellerID, Kind: kind, Seq: seq, To: to, CompanyName: w.in.CompanyName,
		Language: w.in.Language, ExpiresAt: w.in.ExpiresAt, MPNID: w.state.MPNID, Code: v.Code, Reason: v.Reason,
	}).Get(ctx, nil)
}

// finishFailed records a refusal that retrying cannot fix and fails the workflow with it.
func (w *resellerImpl) finishFailed(ctx workflow.Context, cause error) (ResellerState, error) {
	err := w.fail(
		ctx,
		cause,
		"ResellerPartnershipFailed",
		&w.state.FailureReason,
		func(r string) models.Reseller { return models.Reseller{FailureReason: r} },
		nil,
	)
	return w.state, err
}
