package workflows

import (
	"encoding/json"
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
var Flows = []Flow{InvitationFlow, ResellerFlow, RemovalFlow, OnboardingFlow}

// Registration is a workflow function and the workflow type it is registered under.
type Registration struct {
	Workflow any
	// Name is the type recorded in histories; empty registers the function under its Go name.
	Name string
}

// All lists every workflow a partnerflow worker runs: each flow's main workflow under its Type,
// which histories and the API know it by whatever its Go name, the helpers under their names, and
// the estate sync.
func All() []Registration {
	var out []Registration
	for _, f := range Flows {
		out = append(out, Registration{Workflow: f.Workflow, Name: f.Type})
		for _, h := range f.Helpers {
			out = append(out, Registration{Workflow: h})
		}
	}
	// Not a flow: the partner's estate sync.
	return append(out, Registration{Workflow: EstateSync})
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
// when it started, how often the customer's message was sent again, whether an event arrived
// that the next run must check, and the state of each of its waits for people. Every flow's
// input has a `Carry *Carry[S]` field, nil on the first run.
type Carry[S any] struct {
	State    S
	Started  time.Time
	Resends  int
	CheckNow bool
	// Phases holds each wait's own state by the wait's name. Runs from before changeWaitPhases
	// carry none (null), and their successors keep the keys and schedule those runs had.
	Phases map[string]*PhaseState
}

// PhaseState is what one wait for people keeps across runs: when it started and how often its
// message was sent again.
type PhaseState struct {
	Started time.Time
	Resends int
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
	// cancelled, started, resends, phasing and phases belong to flows that wait for people (see
	// waitFor). started is when the flow began; resends counts the resends of runs that keep the
	// keys of before changeWaitPhases, phases the state of each wait of runs after it.
	cancelled *CancelRequest
	started   time.Time
	resends   int
	phasing   phasing
	phases    map[string]*PhaseState
	// connectionWaits counts this run's waits for the Partner Center connection (step keys);
	// awaitingConnection is true during one.
	connectionWaits    int
	awaitingConnection bool
	// delegated says a child workflow does the flow's work now (an onboarding's Purchase): the
	// flow takes no resend or cancel of its own.
	delegated bool
	// consolidated says the run takes the changes of consolidatedChanges without their markers.
	consolidated bool
	// snapshot is the flow's live state as JSON, written with each step (publishState); nil for
	// workflows that record into another flow's row (a GDAP watch, a Purchase).
	snapshot func() string
}

// changeConsolidated is the change after which a run records one version marker for the changes
// of consolidatedChanges instead of one each: the Go SDK upserts TemporalChangeVersion with every
// marker, and each upsert rewrites the workflow's visibility record. A run recorded before it
// (no such marker) replays the markers it has.
const changeConsolidated = "consolidated-1"

// consolidatedChanges are the changes a consolidated run takes, at the version it takes. A change
// made after changeConsolidated keeps its own marker until the next consolidation.
var consolidatedChanges = map[string]workflow.Version{
	changeQuietStatus: 1,
	changeWaitPhases:  1,
	changeEstateWatch: 1,
}

// consolidate decides whether this run takes consolidatedChanges without their markers. It runs
// at the start of a run, before any of them is asked.
func (f *flow[R]) consolidate(ctx workflow.Context) {
	f.consolidated = workflow.GetVersion(ctx, changeConsolidated, workflow.DefaultVersion, 1) == 1
}

// version is workflow.GetVersion(ctx, change, DefaultVersion, maxSupported), except that a
// consolidated run takes a consolidated change without asking.
func (f *flow[R]) version(ctx workflow.Context, change string, maxSupported workflow.Version) workflow.Version {
	if v, ok := consolidatedChanges[change]; ok && f.consolidated {
		return v
	}
	return workflow.GetVersion(ctx, change, workflow.DefaultVersion, maxSupported)
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

// publishState makes f write its live state into its row with every step, so that a flow's
// detail reads the database instead of querying the workflow (a query on a flow the worker's
// cache evicted replays its history). It serves the query too, for callers that ask.
func publishState[S any, R any](ctx workflow.Context, f *flow[R], query string, state *S) error {
	f.snapshot = func() string {
		b, err := json.Marshal(*state)
		if err != nil {
			return ""
		}
		return string(b)
	}
	return serveState(ctx, query, state)
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
	c := &Carry[S]{State: state, Started: started, Resends: f.resends, CheckNow: f.checkNow}
	// A run that never waited wrote no step of a wait: its successor waits in phases.
	if f.phasing != unphased {
		if f.phases == nil {
			f.phases = map[string]*PhaseState{}
		}
		c.Phases = f.phases
	}
	return c
}

// resume takes over what the previous run carried. A run continued from one that waited in
// phases waits in phases; one continued from a run before changeWaitPhases keeps its keys.
func resume[S any, R any](f *flow[R], c *Carry[S], state *S, started *time.Time) {
	if c != nil {
		*state, *started, f.resends, f.checkNow = c.State, c.Started, c.Resends, c.CheckNow
		f.phasing, f.phases = unphased, c.Phases
		if c.Phases != nil {
			f.phasing = phased
		}
	}
	f.started = *started
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
	upsertFlowStatus(ctx, status)
}

// record writes a step to the app database; a failure is logged, the flow goes on.
func (f *flow[R]) record(ctx workflow.Context, ch models.FlowChange[R]) {
	if err := f.tryRecord(ctx, ch); err != nil {
		workflow.GetLogger(ctx).Error(
			"could not record the step",
			"kind", f.kind,
			"id", f.id,
			"step", ch.Step,
			"error", err,
		)
	}
}

// tryRecord writes a step through the flow's local activity; the list pages read the database
// because search attributes are only eventually consistent. A step's key defaults to the flow
// and step names, so a step is written once per flow unless the caller keys it otherwise.
func (f *flow[R]) tryRecord(ctx workflow.Context, ch models.FlowChange[R]) error {
	if f.snapshot != nil {
		// The state as it will be once the step is taken: setStatus enters the status after the
		// write, so that a query never shows a status the list does not yet.
		was := *f.status
		if ch.Status != "" {
			*f.status = ch.Status
		}
		ch.State = f.snapshot()
		*f.status = was
	}
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

// changeWaitPhases is the change after which each wait for people is a phase of its own: its
// reminders count from its own start (or back from its deadline), its steps are keyed
// <id>/<phase>/…, and its start and resends are carried per phase. Runs from before keep the
// keys <id>/reminder/<seq>/<resends>, <id>/escalated and <id>/resent/… and count from the
// flow's start.
const changeWaitPhases = "wait-phases"

// phasing says whether a flow's waits are phases (changeWaitPhases); undecided until the first
// wait or resend of a first run asks.
type phasing int

const (
	undecided phasing = iota
	unphased
	phased
)

// inPhases reports whether the flow's waits are phases, deciding it once per chain of runs.
func (f *flow[R]) inPhases(ctx workflow.Context) bool {
	if f.phasing == undecided {
		f.phasing = unphased
		if f.version(ctx, changeWaitPhases, 1) == 1 {
			f.phasing, f.phases = phased, map[string]*PhaseState{}
		}
	}
	return f.phasing == phased
}

// phase is one durable wait for people: the flow asks someone for something, then waits until
// decide names an outcome, checking the service when an event arrives or the poll interval
// passes, reminding on its schedule, escalating once, taking resends, expiring at its deadline,
// and continuing as new when the history is long. A flow may wait in several phases, one
// after the other; each keeps its own schedule, steps and resends.
type phase[R any] struct {
	// name scopes the phase's step keys (<id>/<name>/reminder/…) and its carried state.
	name string
	// status is the flow's status while it waits here; a resend is taken in it.
	status string
	// policy is the schedule of reminders, escalation and polling; its reminders count from the
	// phase's start, or with fromDeadline back from the deadline (the nearest last).
	policy       WaitPolicy
	fromDeadline bool
	deadline     time.Time
	// messages are the phase's reminder, resend and escalation mails.
	messages messages[R]
	// sent and escalated are the live state's counters of this phase's reminders and escalation.
	sent      *int
	escalated *bool
	// decide returns the outcome once the wait is over, "" while it goes on.
	decide func() string
	check  func(ctx workflow.Context) error
	// continueAsNew returns the flow's continue-as-new error carrying its state.
	continueAsNew func(ctx workflow.Context) error
}

// phaseState is the phase's carried state, begun now if the phase is new; before
// changeWaitPhases every wait counts from the flow's start (and resendCount shares the flow's
// resends).
func (f *flow[R]) phaseState(ctx workflow.Context, p phase[R]) *PhaseState {
	if !f.inPhases(ctx) {
		return &PhaseState{Started: f.started}
	}
	ps, ok := f.phases[p.name]
	if !ok {
		ps = &PhaseState{Started: workflow.Now(ctx)}
		f.phases[p.name] = ps
	}
	return ps
}

// waitFor runs the phase and returns decide's outcome, models.StatusCancelled or
// models.StatusExpired.
func (f *flow[R]) waitFor(ctx workflow.Context, p phase[R]) (string, error) {
	ps := f.phaseState(ctx, p)
	nextPoll := p.policy.nextPoll(workflow.Now(ctx), p.deadline)
	for {
		if f.cancelled != nil {
			return models.StatusCancelled, nil
		}
		if f.historyFull(ctx) {
			return "", p.continueAsNew(ctx)
		}
		if outcome := p.decide(); outcome != "" {
			return outcome, nil
		}
		now := workflow.Now(ctx)
		if !now.Before(p.deadline) {
			return models.StatusExpired, nil
		}
		if f.pending() || !now.Before(nextPoll) {
			f.checkNow = false
			nextPoll = p.policy.nextPoll(now, p.deadline)
			if err := p.check(ctx); err != nil {
				return "", err
			}
			continue
		}
		reminder := p.nextReminder(ps.Started, *p.sent)
		if !now.Before(reminder) {
			if err := f.remind(ctx, p); err != nil {
				return "", err
			}
			continue
		}
		wake := minTime(nextPoll, reminder, p.deadline)
		// An update that settles the wait (the partner's attestation, say) wakes it at once.
		if _, err := workflow.AwaitWithTimeout(ctx, wake.Sub(now), func() bool {
			return f.cancelled != nil || f.pending() || p.decide() != ""
		}); err != nil {
			return "", err
		}
	}
}

// nextPoll is when a wait next asks the service: PollEvery from now, or, for a flow that does not
// poll, never before its deadline.
func (p WaitPolicy) nextPoll(now, deadline time.Time) time.Time {
	if p.NoPolling {
		return deadline
	}
	return now.Add(p.PollEvery)
}

// nextReminder is when the phase's next reminder is due, counted from started or back from the
// deadline; offsets back from the deadline that fall before the start are skipped.
func (p phase[R]) nextReminder(started time.Time, sent int) time.Time {
	if !p.fromDeadline {
		return p.policy.nextReminder(started, p.deadline, sent)
	}
	skipped := 0
	for _, off := range p.policy.Reminders {
		if p.deadline.Add(-off).After(started) {
			break
		}
		skipped++
	}
	if i := skipped + sent; i < len(p.policy.Reminders) {
		return p.deadline.Add(-p.policy.Reminders[i])
	}
	return p.deadline
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
	// NoPolling says the flow does not ask the service on its own while it waits: webhook events
	// and the estate sync's signals wake it, and it checks then. False for flows started before
	// the estate sync, and whenever the sync is off.
	NoPolling bool
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

// serveWaitUpdates serves the resend and cancel updates of a flow that waits for people. A
// resend is taken while the flow is in the status of one of its phases and sends that phase's
// message again; cancel is taken while open says so, and onCancel stops work in progress. The
// cancel update returns once the flow reached models.StatusCancelled.
func serveWaitUpdates[S any, R any](
	ctx workflow.Context, f *flow[R], state *S, open func(string) bool, onCancel func(), phases ...phase[R],
) error {
	current := func() string {
		if f.cancelled != nil {
			return models.StatusCancelled
		}
		return *f.status
	}
	waiting := func() (phase[R], bool) {
		for _, p := range phases {
			if p.status == *f.status {
				return p, true
			}
		}
		return phase[R]{}, false
	}
	err := workflow.SetUpdateHandlerWithOptions(
		ctx,
		UpdateResend,
		func(ctx workflow.Context, req ResendRequest) (S, error) {
			p, _ := waiting()
			err := f.resend(ctx, p, req)
			return *state, err
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, _ ResendRequest) error {
			if _, ok := waiting(); f.cancelled != nil || f.delegated || !ok {
				statuses := make([]string, 0, len(phases))
				for _, p := range phases {
					statuses = append(statuses, p.status)
				}
				return fmt.Errorf(
					"the %s is %s: only a %s %s can be sent again",
					f.kind,
					current(),
					strings.Join(statuses, " or "),
					f.kind,
				)
			}
			if f.awaitingConnection {
				return fmt.Errorf(
					"the %s waits for the Partner Center connection: its message goes out once a global admin connects",
					f.kind,
				)
			}
			return nil
		}},
	)
	if err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(
		ctx,
		UpdateCancel,
		func(ctx workflow.Context, req CancelRequest) (S, error) {
			f.cancelled = &req
			if onCancel != nil {
				onCancel()
			}
			err := workflow.Await(ctx, func() bool { return *f.status == models.StatusCancelled })
			return *state, err
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, _ CancelRequest) error {
			if f.cancelled != nil || f.delegated || !open(*f.status) {
				return fmt.Errorf("the %s is %s and can no longer be cancelled", f.kind, current())
			}
			return nil
		}},
	)
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

// remind sends the phase's next reminder and, once its policy says so, escalates to the
// partner's contact, once.
func (f *flow[R]) remind(ctx workflow.Context, p phase[R]) error {
	m, seq := p.messages, *p.sent+1
	if err := m.send(ctx, m.reminder, seq, m.to); err != nil {
		return err
	}
	*p.sent = seq
	f.record(ctx, models.FlowChange[R]{
		Set:        m.reminded(seq),
		Step:       "reminder",
		StepDetail: fmt.Sprintf("reminder %d to %s", seq, m.to),
		StepKey:    f.sequencedKey(ctx, p, "reminder", seq),
	})
	if p.policy.escalates(seq) && m.contact != "" && !*p.escalated {
		if err := m.send(ctx, m.escalation, seq, m.contact); err != nil {
			return err
		}
		*p.escalated = true
		f.record(ctx, models.FlowChange[R]{
			Step:       "escalated",
			StepDetail: m.contact,
			StepKey:    f.phaseKey(ctx, p, "escalated"),
		})
	}
	return nil
}

// resend sends the phase's message again (the resend update), counted apart from other phases'.
func (f *flow[R]) resend(ctx workflow.Context, p phase[R], req ResendRequest) error {
	resends := f.resendCount(ctx, p)
	*resends++
	if err := p.messages.send(ctx, p.messages.resend, *resends, p.messages.to); err != nil {
		return err
	}
	f.record(ctx, models.FlowChange[R]{
		Step:       "resent",
		StepDetail: strings.TrimSpace("by " + req.By),
		StepKey:    f.sequencedKey(ctx, p, "resent", *p.sent),
	})
	return nil
}

// resendCount is the phase's count of resends; before changeWaitPhases, the flow's.
func (f *flow[R]) resendCount(ctx workflow.Context, p phase[R]) *int {
	if !f.inPhases(ctx) {
		return &f.resends
	}
	return &f.phaseState(ctx, p).Resends
}

// phaseKey keys a step that happens once per phase; before changeWaitPhases, once per flow.
func (f *flow[R]) phaseKey(ctx workflow.Context, p phase[R], step string) string {
	if !f.inPhases(ctx) {
		return f.id + "/" + step
	}
	return f.id + "/" + p.name + "/" + step
}

// sequencedKey keys a step that repeats in a phase (reminders and resends) by how many
// reminders went out and how often the message was sent again.
func (f *flow[R]) sequencedKey(ctx workflow.Context, p phase[R], step string, reminders int) string {
	return fmt.Sprintf("%s/%d/%d", f.phaseKey(ctx, p, step), reminders, *f.resendCount(ctx, p))
}

// fail records a refusal that retrying cannot fix, in a context the flow's own cancellation does
// not reach, and returns the workflow's error. failureReason is the live state's field, set the
// row's columns that keep the reason, undo (optional) withdraws what the flow had started.
func (f *flow[R]) fail(
	ctx workflow.Context, cause error, errType string, failureReason *string,
	set func(reason string) R, undo func(ctx workflow.Context),
) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if errors.Is(cause, errCancelledWaiting) {
		// Cancelled while waiting for the Partner Center connection: nothing was started yet.
		f.setStatus(dctx, models.StatusCancelled, models.FlowChange[R]{
			Step:       models.StatusCancelled,
			StepDetail: f.cancelDetail(),
		})
		return nil
	}
	reason := rootMessage(cause)
	*failureReason = reason
	if undo != nil {
		undo(dctx)
	}
	f.setStatus(dctx, models.StatusFailed, models.FlowChange[R]{
		Set:        set(reason),
		Step:       models.StatusFailed,
		StepDetail: reason,
	})
	return temporal.NewNonRetryableApplicationError(reason, errType, cause)
}
