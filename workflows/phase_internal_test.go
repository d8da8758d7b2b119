package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/models"
)

const testDay = 24 * time.Hour

// twoWaitsLog records what the two-wait test workflow wrote and mailed.
type twoWaitsLog struct {
	mu    sync.Mutex
	steps []models.InvitationChange
	mails []string
}

func (l *twoWaitsLog) Record(_ context.Context, _ string, ch models.InvitationChange) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps = append(l.steps, ch)
	return nil
}

func (l *twoWaitsLog) Mail(_ context.Context, kind string, seq int, to string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mails = append(l.mails, kind+"/"+to+"/"+string(rune('0'+seq)))
	return nil
}

// twoWaitsState is the live state of the test workflow: one pair of counters per wait.
type twoWaitsState struct {
	Status                          string
	FirstReminders, SecondReminders int
	FirstEscalated, SecondEscalated bool
}

// twoWaits is a flow that waits for people twice, one wait after the other: the "done" signal
// ends the wait in progress.
func twoWaits(log *twoWaitsLog) func(ctx workflow.Context) (twoWaitsState, error) {
	return func(ctx workflow.Context) (twoWaitsState, error) {
		var state twoWaitsState
		started := workflow.Now(ctx)
		f := newFlow[models.Invitation]("test", log.Record, "flow-1", &state.Status, 0)
		resume(f, (*Carry[twoWaitsState])(nil), &state, &started)
		done := 0
		workflow.Go(ctx, func(ctx workflow.Context) {
			ch := workflow.GetSignalChannel(ctx, "done")
			for {
				ch.Receive(ctx, nil)
				done++
			}
		})
		send := func(ctx workflow.Context, kind string, seq int, to string) error {
			actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
			return workflow.ExecuteActivity(actx, log.Mail, kind, seq, to).Get(ctx, nil)
		}
		wait := func(name, status string, sent *int, escalated *bool, until int) phase[models.Invitation] {
			return phase[models.Invitation]{
				name: name, status: status,
				policy: WaitPolicy{
					Reminders:     []time.Duration{testDay, 2 * testDay},
					EscalateAfter: 1,
					PollEvery:     30 * testDay,
				},
				deadline: started.Add(60 * testDay),
				messages: messages[models.Invitation]{
					send: send, reminder: name + "-reminder",
					resend: name + "-resend", escalation: name + "-escalation",
					to: name + "@customer.example", contact: "ops@partner.example",
					reminded: func(int) models.Invitation { return models.Invitation{} },
				},
				sent: sent, escalated: escalated,
				decide: func() string {
					if done >= until {
						return "done"
					}
					return ""
				},
				check:         func(workflow.Context) error { return nil },
				continueAsNew: func(workflow.Context) error { return nil },
			}
		}
		first := wait("first", "awaiting-first", &state.FirstReminders, &state.FirstEscalated, 1)
		second := wait("second", "awaiting-second", &state.SecondReminders, &state.SecondEscalated, 2)
		if err := serveWaitUpdates(ctx, f, &state, func(string) bool { return true }, nil, first, second); err != nil {
			return state, err
		}
		state.Status = first.status
		if _, err := f.waitFor(ctx, first); err != nil {
			return state, err
		}
		state.Status = second.status
		_, err := f.waitFor(ctx, second)
		return state, err
	}
}

func TestTwoWaitsInOneFlowKeepTheirOwnSteps(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	log := &twoWaitsLog{}
	env.RegisterActivity(log.Mail)
	start := env.Now()
	resend := func(id string) {
		env.UpdateWorkflow(UpdateResend, id, &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { t.Errorf("resend %s refused: %v", id, err) },
			OnComplete: func(any, error) {},
		}, ResendRequest{By: "agent"})
	}
	// The first wait: reminded on days 1 and 2 (escalated after the first), resent on day 2.5,
	// done on day 10. The second: resent at once, reminded on days 11 and 12, done on day 20.
	env.RegisterDelayedCallback(func() { resend("r1") }, 2*testDay+12*time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow("done", nil) }, 10*testDay)
	env.RegisterDelayedCallback(func() { resend("r2") }, 10*testDay+time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow("done", nil) }, 20*testDay)
	env.ExecuteWorkflow(twoWaits(log))
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("the flow did not end: %v", env.GetWorkflowError())
	}
	var state twoWaitsState
	if err := env.GetWorkflowResult(&state); err != nil {
		t.Fatal(err)
	}
	if state.FirstReminders != 2 || state.SecondReminders != 2 || !state.FirstEscalated || !state.SecondEscalated {
		t.Fatalf("each wait must count its own reminders and escalation: %+v", state)
	}

	at := map[string]time.Duration{}
	for _, s := range log.steps {
		if _, dup := at[s.StepKey]; dup {
			t.Errorf("step key %s recorded twice", s.StepKey)
		}
		at[s.StepKey] = s.At.Sub(start)
	}
	tests := []struct {
		name string
		key  string
		at   time.Duration
	}{
		{"the first wait's reminders count from the flow's start", "flow-1/first/reminder/1/0", testDay},
		{"the first wait escalates once", "flow-1/first/escalated", testDay},
		{"the first wait's resend is its first", "flow-1/first/resent/2/1", 2*testDay + 12*time.Hour},
		{
			"the second wait's resend is its own first, not the flow's second",
			"flow-1/second/resent/0/1",
			10*testDay + time.Hour,
		},
		{"the second wait's reminders count from its own start", "flow-1/second/reminder/1/1", 11 * testDay},
		{"the second wait's second reminder follows its own schedule", "flow-1/second/reminder/2/1", 12 * testDay},
		{
			"the second wait escalates too: its key does not collide with the first's",
			"flow-1/second/escalated",
			11 * testDay,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := at[tc.key]
			if !ok {
				t.Fatalf("no step %s among %v", tc.key, keys(log.steps))
			}
			if got != tc.at {
				t.Fatalf("%s at %v, want %v", tc.key, got, tc.at)
			}
		})
	}
	wantMails := []string{
		"first-reminder/first@customer.example/1", "first-escalation/ops@partner.example/1",
		"first-reminder/first@customer.example/2", "first-resend/first@customer.example/1",
		"second-resend/second@customer.example/1",
		"second-reminder/second@customer.example/1", "second-escalation/ops@partner.example/1",
		"second-reminder/second@customer.example/2",
	}
	if strings.Join(log.mails, " ") != strings.Join(wantMails, " ") {
		t.Fatalf("mails\n%v\nwant\n%v", log.mails, wantMails)
	}
}

func keys(steps []models.InvitationChange) []string {
	out := make([]string, 0, len(steps))
	for _, s := range steps {
		out = append(out, s.StepKey)
	}
	return out
}

func TestPhaseReminders(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	deadline := start.Add(30 * testDay)
	tests := []struct {
		name         string
		reminders    []time.Duration
		repeat       time.Duration
		fromDeadline bool
		started      time.Time
		sent         int
		want         time.Time
	}{
		{
			"from the start: the first offset after the phase's start",
			[]time.Duration{3 * testDay}, 0, false, start.Add(5 * testDay), 0, start.Add(8 * testDay),
		},
		{
			"from the start: repeats after the last offset",
			[]time.Duration{3 * testDay}, 7 * testDay, false, start, 1, start.Add(10 * testDay),
		},
		{
			"from the deadline: the farthest offset first",
			[]time.Duration{7 * testDay, testDay}, 0, true, start, 0, deadline.Add(-7 * testDay),
		},
		{
			"from the deadline: the nearest last",
			[]time.Duration{7 * testDay, testDay}, 0, true, start, 1, deadline.Add(-testDay),
		},
		{
			"from the deadline: none after the nearest",
			[]time.Duration{7 * testDay, testDay}, 0, true, start, 2, deadline,
		},
		{
			"from the deadline: an offset before the phase's start is skipped",
			[]time.Duration{7 * testDay, testDay}, 0, true, deadline.Add(-3 * testDay), 0, deadline.Add(-testDay),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := phase[models.Invitation]{
				policy:       WaitPolicy{Reminders: tc.reminders, RepeatEvery: tc.repeat},
				fromDeadline: tc.fromDeadline,
				deadline:     deadline,
			}
			if got := p.nextReminder(tc.started, tc.sent); !got.Equal(tc.want) {
				t.Fatalf("next reminder at %v, want %v", got, tc.want)
			}
		})
	}
}

func TestResumedWaitsKeepTheirKeys(t *testing.T) {
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	consent := phase[models.Invitation]{name: "consent"}
	tests := []struct {
		name               string
		carry              *Carry[InvitationState]
		reminder, escalate string
	}{
		{"a run continued from one before the change keeps the flow-wide keys",
			&Carry[InvitationState]{Started: started, Resends: 2},
			"inv-1/reminder/3/2", "inv-1/escalated"},
		{"a run continued from one in phases keeps each phase's keys and resends",
			&Carry[InvitationState]{
				Started: started,
				Resends: 0,
				Phases:  map[string]*PhaseState{"consent": {Started: started, Resends: 1}},
			},
			"inv-1/consent/reminder/3/1", "inv-1/consent/escalated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				state  InvitationState
				begun  time.Time
				status string
			)
			f := newFlow[models.Invitation](models.KindInvitation, nil, "inv-1", &status, 0)
			resume(f, tc.carry, &state, &begun)
			// Decided by the carry: no version is asked for, so no workflow context is needed.
			if got := f.sequencedKey(nil, consent, "reminder", 3); got != tc.reminder {
				t.Errorf("reminder key %s, want %s", got, tc.reminder)
			}
			if got := f.phaseKey(nil, consent, "escalated"); got != tc.escalate {
				t.Errorf("escalation key %s, want %s", got, tc.escalate)
			}
			if next := carry(f, state, begun); (next.Phases == nil) != (tc.carry.Phases == nil) {
				t.Errorf("the next run's phases %v, want as carried %v", next.Phases, tc.carry.Phases)
			}
		})
	}
}

func TestARunThatNeverWaitedHandsOverPhases(t *testing.T) {
	var (
		state  InvitationState
		begun  time.Time
		status string
	)
	f := newFlow[models.Invitation](models.KindInvitation, nil, "inv-1", &status, 0)
	resume(f, nil, &state, &begun)
	if next := carry(f, state, begun); next.Phases == nil {
		t.Fatal("a first run that never waited must hand its successor an empty set of phases, " +
			"so the successor waits in phases")
	}
}
