package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
)

// Flow describes one flow kind to the rest of partnerflow, in one place: the worker registers
// its workflows from it, the API starts, queries and updates its workflows by these names and
// routes Partner Center webhook events with it, and the webhook registration subscribes to its
// events. Names recorded in running workflows' histories never change. Its activities are
// methods of *activities.Activities, which the worker registers whole.
type Flow struct {
	// Kind names the flow on the shared timeline and in URLs (models.KindInvitation).
	Kind string
	// Type is the registered name of the flow's main workflow; Workflow is its function.
	Type     string
	Workflow any
	// Helpers are further workflows the flow starts (children that may outlive it).
	Helpers []any
	// Query returns the live state; Updates and Signals are the messages its workflow takes.
	Query   string
	Updates []string
	Signals []string
	// Events are the Partner Center webhook events the flow's workflows wait for.
	Events []string
}

// a is the receiver of activity method values (a.CreateGDAP): nil, because Temporal names an
// activity after its method and the worker runs the instance it registered, so the compiler
// checks every activity a workflow calls.
var a *activities.Activities

// TaskQueue is the default task queue of every partnerflow workflow.
const TaskQueue = "partnerflow"

// Flows lists every flow kind partnerflow runs.
var Flows = []Flow{InvitationFlow, ResellerFlow, RemovalFlow, CustomerFlow}

// All lists every workflow a partnerflow worker runs.
func All() []any {
	var out []any
	for _, f := range Flows {
		out = append(out, f.Workflow)
		out = append(out, f.Helpers...)
	}
	return out
}

// FlowByKind returns the descriptor of a flow kind.
func FlowByKind(kind string) (Flow, bool) {
	for _, f := range Flows {
		if f.Kind == kind {
			return f, true
		}
	}
	return Flow{}, false
}

// WebhookEvents lists the Partner Center events any flow waits for, without duplicates.
func WebhookEvents() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range Flows {
		for _, ev := range f.Events {
			if !seen[ev] {
				seen[ev] = true
				out = append(out, ev)
			}
		}
	}
	return out
}

// SignalPartnerCenterEvent carries a verified Partner Center webhook event to a workflow (a
// hint: the workflow confirms it with the service before acting on it).
const SignalPartnerCenterEvent = "partner-center-event"

// PartnerCenterEvent is a webhook event routed to a workflow.
type PartnerCenterEvent struct {
	EventName  string
	ResourceID string
}

// Carry is what a run hands to the next when it continues as new: the flow's live state,
// when the wait started, how often the customer's message was sent again, and whether an event
// arrived that the next run must check. Every flow's input has a `Carry *Carry[S]` field, nil on
// the first run.
type Carry[S any] struct {
	State    S
	Started  time.Time
	Resends  int
	CheckNow bool
}

// DefaultContinueAsNewAfter keeps each run's history far below Temporal's limits (51,200
// events): a waiting flow polls every 15 minutes for up to 90 days.
const DefaultContinueAsNewAfter = 10000

// ResendRequest asks for the customer's message again.
type ResendRequest struct {
	By string
}

// CancelRequest cancels an open flow.
type CancelRequest struct {
	By     string
	Reason string
}

// flow is the plumbing every flow's workflow shares, written once: recording status and steps
// in the app database (R is the flow's row type), listening for Partner Center events, and
// handing over to a new run before the history grows large.
type flow[R any] struct {
	// kind names the flow; recordActivity is its local activity that writes steps (a.RecordX).
	kind           string
	recordActivity any
	// id is the flow's business ID, the key of its row and timeline.
	id string
	// status points at the Status of the flow's live state.
	status *string
	// events receives SignalPartnerCenterEvent; checkNow says one arrived and was not checked.
	events   workflow.ReceiveChannel
	checkNow bool
	// continueAfter is the history length at which the run continues as new.
	continueAfter int
	// cancelled and resends belong to flows that wait for people (see waiting).
	cancelled *CancelRequest
	resends   int
	// connectionWaits counts this run's waits for the Partner Center connection (step keys);
	// awaitingConnection is true during one.
	connectionWaits    int
	awaitingConnection bool
}

func newFlow[R any](kind string, recordActivity any, id string, status *string, continueAfter int) *flow[R] {
	if continueAfter <= 0 {
		continueAfter = DefaultContinueAsNewAfter
	}
	return &flow[R]{kind: kind, recordActivity: recordActivity, id: id, status: status, continueAfter: continueAfter}
}

// serveState answers the flow's query with its live state.
func serveState[S any](ctx workflow.Context, query string, state *S) error {
	return workflow.SetQueryHandler(ctx, query, func() (S, error) { return *state, nil })
}

// listen makes every Partner Center event a pending check. The events wait in their channel
// until the flow looks (pending), so a waiting flow costs no coroutine of its own.
func (f *flow[R]) listen(ctx workflow.Context) {
	f.events = workflow.GetSignalChannel(ctx, SignalPartnerCenterEvent)
}

// pending turns the events received so far into a pending check and reports whether one is due.
func (f *flow[R]) pending() bool {
	f.drain()
	return f.checkNow
}

// historyFull reports that this run should hand over to a new one: its history is long, or the
// server suggests it, and no update handler is still running.
func (f *flow[R]) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	full := info.GetCurrentHistoryLength() >= f.continueAfter || info.GetContinueAsNewSuggested()
	return full && workflow.AllHandlersFinished(ctx)
}

// drain turns the events not yet received into a pending check, so none is lost when the run
// looks or continues as new.
func (f *flow[R]) drain() {
	if f.events == nil {
		return
	}
	for {
		var ev PartnerCenterEvent
		if !f.events.ReceiveAsync(&ev) {
			return
		}
		f.checkNow = true
	}
}

// carry drains pending events and returns what the next run continues with.
func carry[S any, R any](f *flow[R], state S, started time.Time) *Carry[S] {
	f.drain()
	return &Carry[S]{State: state, Started: started, Resends: f.resends, CheckNow: f.checkNow}
}

// resume takes over what the previous run carried.
func resume[S any, R any](f *flow[R], c *Carry[S], state *S, started *time.Time) {
	if c == nil {
		return
	}
	*state, *started, f.resends, f.checkNow = c.State, c.Started, c.Resends, c.CheckNow
}

// setStatus changes the status in the app database, the live state and the search attribute.
// The database is written first, so the live query never shows a status the list does not.
func (f *flow[R]) setStatus(ctx workflow.Context, status string, ch models.FlowChange[R]) {
	ch.Status = status
	f.record(ctx, ch)
	f.enter(ctx, status)
}

// enter changes the live status and the status search attribute.
func (f *flow[R]) enter(ctx workflow.Context, status string) {
	*f.status = status
	f.upsertFlowStatus(ctx, status)
}

// record writes a step to the app database; a failure is logged, the flow goes on.
func (f *flow[R]) record(ctx workflow.Context, ch models.FlowChange[R]) {
	if err := f.tryRecord(ctx, ch); err != nil {
		workflow.GetLogger(ctx).Error("could not record the step", "kind", f.kind, "id", f.id, "step", ch.Step, "error", err)
	}
}

// tryRecord writes a step through the flow's local activity; the list pages read the database
// because search attributes are only eventually consistent. A step's key defaults to the flow
// and step names, so a step is written once per flow unless the caller keys it otherwise.
func (f *flow[R]) tryRecord(ctx workflow.Context, ch models.FlowChange[R]) error {
	return recordStep(ctx, f.recordActivity, f.id, ch)
}

// recordStep writes a step of flow id through the local activity recordActivity.
func recordStep[R any](ctx workflow.Context, recordActivity any, id string, ch models.FlowChange[R]) error {
	ch.At = workflow.Now(ctx)
	if ch.StepKey == "" && ch.Step != "" {
		ch.StepKey = id + "/" + ch.Step
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	return workflow.ExecuteLocalActivity(lctx, recordActivity, id, ch).Get(lctx, nil)
}

// waiting is a flow's durable wait for people: it ends when decide names an outcome, checks the
// service when an event arrives or the poll interval passes, reminds on the policy's schedule,
// expires at the deadline, and continues as new when the history is long.
type waiting struct {
	policy   WaitPolicy
	started  time.Time
	deadline time.Time
	// sent is how many reminders went out so far.
	sent func() int
	// decide returns the outcome once the wait is over, "" while it goes on.
	decide func() string
	check  func(ctx workflow.Context) error
	remind func(ctx workflow.Context) error
	// continueAsNew returns the flow's continue-as-new error carrying its state.
	continueAsNew func(ctx workflow.Context) error
}

// wait runs the loop and returns decide's outcome, models.StatusCancelled or
// models.StatusExpired.
func (f *flow[R]) wait(ctx workflow.Context, w waiting) (string, error) {
	nextPoll := workflow.Now(ctx).Add(w.policy.PollEvery)
	for {
		if f.cancelled != nil {
			return models.StatusCancelled, nil
		}
		if f.historyFull(ctx) {
			return "", w.continueAsNew(ctx)
		}
		if outcome := w.decide(); outcome != "" {
			return outcome, nil
		}
		now := workflow.Now(ctx)
		if !now.Before(w.deadline) {
			return models.StatusExpired, nil
		}
		if f.pending() || !now.Before(nextPoll) {
			f.checkNow = false
			nextPoll = now.Add(w.policy.PollEvery)
			if err := w.check(ctx); err != nil {
				return "", err
			}
			continue
		}
		reminder := w.policy.nextReminder(w.started, w.deadline, w.sent())
		if !now.Before(reminder) {
			if err := w.remind(ctx); err != nil {
				return "", err
			}
			continue
		}
		wake := minTime(nextPoll, reminder, w.deadline)
		// An update that settles the wait (the partner's attestation, say) wakes it at once.
		if _, err := workflow.AwaitWithTimeout(ctx, wake.Sub(now), func() bool { return f.cancelled != nil || f.pending() || w.decide() != "" }); err != nil {
			return "", err
		}
	}
}

// WaitPolicy is the schedule of a wait for people: reminders, escalation, expiry and polling.
type WaitPolicy struct {
	// Reminders are offsets from the wait's start at which the customer is reminded.
	Reminders []time.Duration
	// RepeatEvery continues reminding at this interval after the last listed offset (0: never).
	RepeatEvery time.Duration
	// EscalateAfter sends the partner's contact a notice after this many reminders (0: never).
	EscalateAfter int
	// PollEvery checks the service in case webhook events are lost (or, where the service has
	// none, is the only way to learn of a consent).
	PollEvery time.Duration
	// ContinueAsNewAfter is the history length at which a waiting flow continues as a new run
	// (0: DefaultContinueAsNewAfter).
	ContinueAsNewAfter int
}

// DefaultWaitPolicy reminds on days 3, 7 and 14, then weekly, escalates after three reminders
// and polls every 15 minutes.
var DefaultWaitPolicy = WaitPolicy{
	Reminders:     []time.Duration{3 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour},
	RepeatEvery:   7 * 24 * time.Hour,
	EscalateAfter: 3,
	PollEvery:     15 * time.Minute,
}

// nextReminder is when the next reminder is due: the listed offsets, then every RepeatEvery.
func (p WaitPolicy) nextReminder(started, deadline time.Time, sent int) time.Time {
	switch {
	case sent < len(p.Reminders):
		return started.Add(p.Reminders[sent])
	case p.RepeatEvery > 0 && len(p.Reminders) > 0:
		return started.Add(p.Reminders[len(p.Reminders)-1] + time.Duration(sent-len(p.Reminders)+1)*p.RepeatEvery)
	case p.RepeatEvery > 0:
		return started.Add(time.Duration(sent+1) * p.RepeatEvery)
	}
	return deadline
}

// escalates reports whether the seq-th reminder is the one after which the partner's contact
// hears of the wait.
func (p WaitPolicy) escalates(seq int) bool {
	return p.EscalateAfter > 0 && seq == p.EscalateAfter
}

// messages serves the resend and cancel updates of a flow that waits for people. Resend is
// allowed while the flow is in waitStatus, cancel while open says so; onResend sends the
// message again, onCancel stops work in progress. The cancel update returns once the flow
// reached models.StatusCancelled.
func serveWaitUpdates[S any, R any](ctx workflow.Context, f *flow[R], state *S, waitStatus string, open func(string) bool,
	onResend func(ctx workflow.Context, req ResendRequest) error, onCancel func()) error {
	current := func() string {
		if f.cancelled != nil {
			return models.StatusCancelled
		}
		return *f.status
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResend, func(ctx workflow.Context, req ResendRequest) (S, error) {
		f.resends++
		err := onResend(ctx, req)
		return *state, err
	}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, _ ResendRequest) error {
		if f.cancelled != nil || *f.status != waitStatus {
			return fmt.Errorf("the %s is %s: only a %s %s can be sent again", f.kind, current(), waitStatus, f.kind)
		}
		if f.awaitingConnection {
			return fmt.Errorf("the %s waits for the Partner Center connection: its message goes out once a global admin connects", f.kind)
		}
		return nil
	}})
	if err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancel, func(ctx workflow.Context, req CancelRequest) (S, error) {
		f.cancelled = &req
		if onCancel != nil {
			onCancel()
		}
		err := workflow.Await(ctx, func() bool { return *f.status == models.StatusCancelled })
		return *state, err
	}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, _ CancelRequest) error {
		if f.cancelled != nil || !open(*f.status) {
			return fmt.Errorf("the %s is %s and can no longer be cancelled", f.kind, current())
		}
		return nil
	}})
}

// cancelDetail is the cancelled step's detail: who cancelled and why.
func (f *flow[R]) cancelDetail() string {
	if f.cancelled == nil {
		return ""
	}
	return strings.TrimSpace(f.cancelled.By + ": " + f.cancelled.Reason)
}

// Names of the messages of flows that wait for people.
const (
	// UpdateResend sends the customer's message again, at once.
	UpdateResend = "resend"
	// UpdateCancel cancels the flow and undoes what can be undone.
	UpdateCancel = "cancel"
)

func minTime(ts ...time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.Before(m) {
			m = t
		}
	}
	return m
}

// messages is how a flow that waits for people writes to them: the kinds of its reminder,
// resend and escalation messages, to whom, how one is sent, and which of its row's columns a
// reminder updates.
type messages[R any] struct {
	send                         func(ctx workflow.Context, kind string, seq int, to string) error
	reminder, resend, escalation string
	// to is who waits on the flow; contact is the partner's, who hears of escalations.
	to, contact string
	// reminded is the row's change when the seq-th reminder went out.
	reminded func(seq int) R
}

// remind sends the next reminder and, once the policy says so, escalates to the partner's
// contact, once. sent and escalated are the flow's live counters.
func (f *flow[R]) remind(ctx workflow.Context, p WaitPolicy, sent *int, escalated *bool, m messages[R]) error {
	seq := *sent + 1
	if err := m.send(ctx, m.reminder, seq, m.to); err != nil {
		return err
	}
	*sent = seq
	f.record(ctx, models.FlowChange[R]{Set: m.reminded(seq), Step: "reminder", StepDetail: fmt.Sprintf("reminder %d to %s", seq, m.to), StepKey: f.sequencedKey("reminder", seq)})
	if p.escalates(seq) && m.contact != "" && !*escalated {
		if err := m.send(ctx, m.escalation, seq, m.contact); err != nil {
			return err
		}
		*escalated = true
		f.record(ctx, models.FlowChange[R]{Step: "escalated", StepDetail: m.contact})
	}
	return nil
}

// resendMessage sends the flow's message again (the resend update); sent is how many reminders
// went out, for the step's key.
func (f *flow[R]) resendMessage(ctx workflow.Context, m messages[R], sent int, req ResendRequest) error {
	if err := m.send(ctx, m.resend, f.resends, m.to); err != nil {
		return err
	}
	f.record(ctx, models.FlowChange[R]{Step: "resent", StepDetail: strings.TrimSpace("by " + req.By), StepKey: f.sequencedKey("resent", sent)})
	return nil
}

// sequencedKey keys a step that repeats (reminders and resends) by how often each happened.
func (f *flow[R]) sequencedKey(step string, reminders int) string {
	return fmt.Sprintf("%s/%s/%d/%d", f.id, step, reminders, f.resends)
}

// fail records a refusal that retrying cannot fix, in a context the flow's own cancellation does
// not reach, and returns the workflow's error. failureReason is the live state's field, set the
// row's columns that keep the reason, undo (optional) withdraws what the flow had started.
func (f *flow[R]) fail(ctx workflow.Context, cause error, errType string, failureReason *string, set func(reason string) R, undo func(ctx workflow.Context)) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if errors.Is(cause, errCancelledWaiting) {
		// Cancelled while waiting for the Partner Center connection: nothing was started yet.
		f.setStatus(dctx, models.StatusCancelled, models.FlowChange[R]{Step: models.StatusCancelled, StepDetail: f.cancelDetail()})
		return nil
	}
	reason := rootMessage(cause)
	*failureReason = reason
	if undo != nil {
		undo(dctx)
	}
	f.setStatus(dctx, models.StatusFailed, models.FlowChange[R]{Set: set(reason), Step: models.StatusFailed, StepDetail: reason})
	return temporal.NewNonRetryableApplicationError(reason, errType, cause)
}
