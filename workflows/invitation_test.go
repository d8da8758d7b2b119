package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

const day = 24 * time.Hour

// world fakes Partner Center, the mail server and the app database for the workflow's unit
// tests: it answers activities from a scripted state and records what the workflow did.
type world struct {
	mu sync.Mutex
	// acceptAt and approveAt are offsets from the start at which the customer consents (0: never).
	acceptAt, approveAt time.Duration
	start               time.Time
	now                 func() time.Time
	gdapActiveAfter     int // WaitGDAPActive answers NotReady this many times first
	gdapActiveCalls     int
	createGDAPErrors    []error
	createGDAPCalls     int
	endGDAPResult       string
	steps               []models.InvitationChange
	mails               []activities.InvitationMail
	mailTimes           []time.Duration
	ended               []string
	checks              int
	checkedRelationship []string
	gdapCalls           []string
	gdapStatus          activities.GDAPState
	alerts              []activities.PartnerAlert
	alertTimes          []time.Duration
	// disconnected makes App+User calls answer ConnectionNeeded, as without a partner connection.
	disconnected bool
	linkCalls    int
}

func (w *world) elapsed() time.Duration { return w.now().Sub(w.start) }

func (w *world) RecordInvitation(_ context.Context, _ string, ch models.InvitationChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.steps = append(w.steps, ch)
	return nil
}

// checkRecordedStates checks the states the invitation wrote with its steps: each status
// change's state holds that status, and the last state written is the one the workflow ended with
// (a detail shows it without asking the workflow). The GDAP watch records into the same row
// without a state of its own.
func (w *world) checkRecordedStates(t *testing.T, final workflows.InvitationState) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var last workflows.InvitationState
	written := 0
	for _, ch := range w.steps {
		if ch.State == "" {
			continue
		}
		written++
		last = workflows.InvitationState{}
		if err := json.Unmarshal([]byte(ch.State), &last); err != nil {
			t.Fatalf("step %s: state %q: %v", ch.Step, ch.State, err)
		}
		if ch.Status != "" && last.Status != ch.Status {
			t.Errorf("step %s sets status %s, its state says %s", ch.Step, ch.Status, last.Status)
		}
	}
	if written == 0 {
		t.Fatal("no step carried the invitation's state")
	}
	if !reflect.DeepEqual(last, final) {
		t.Errorf("last recorded state %+v, the workflow ended with %+v", last, final)
	}
}

func (w *world) RelationshipLink(context.Context, string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.linkCalls++
	if w.disconnected {
		return "", temporal.NewNonRetryableApplicationError(
			"get relationship request link: the Partner Center connection is needed",
			activities.ErrTypeConnectionNeeded,
			nil,
		)
	}
	return "https://admin.example/partner-invitation?partnerId=p", nil
}

func (w *world) setDisconnected(v bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.disconnected = v
}

func (w *world) CreateGDAP(_ context.Context, in activities.CreateGDAPInput) (activities.GDAPResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.createGDAPCalls++
	w.gdapCalls = append(w.gdapCalls, "CreateGDAP")
	if len(w.createGDAPErrors) > 0 {
		err := w.createGDAPErrors[0]
		w.createGDAPErrors = w.createGDAPErrors[1:]
		return activities.GDAPResult{}, err
	}
	if in.RequestID == "" {
		return activities.GDAPResult{}, errors.New("no request ID")
	}
	return activities.GDAPResult{
		ID:          "rel-1",
		Status:      "approvalPending",
		ApprovalURL: "https://admin.example/gdap/rel-1",
	}, nil
}

func (w *world) CheckAcceptance(_ context.Context, relationshipID, _ string) (activities.Acceptance, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checks++
	w.checkedRelationship = append(w.checkedRelationship, relationshipID)
	var acc activities.Acceptance
	if relationshipID == "" {
		// An invitation without admin access has no GDAP relationship to read.
		if w.acceptAt > 0 && w.elapsed() >= w.acceptAt {
			acc.ResellerAccepted, acc.CustomerTenantID = true, "tenant-1"
		}
		return acc, nil
	}
	acc.GDAPStatus = "approvalPending"
	if w.acceptAt > 0 && w.elapsed() >= w.acceptAt {
		acc.ResellerAccepted, acc.CustomerTenantID = true, "tenant-1"
	}
	if w.approveAt > 0 && w.elapsed() >= w.approveAt {
		acc.GDAPStatus = "approved"
	}
	return acc, nil
}

func (w *world) WaitGDAPActive(context.Context, string) (activities.GDAPResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gdapActiveCalls++
	w.gdapCalls = append(w.gdapCalls, "WaitGDAPActive")
	if w.gdapActiveCalls <= w.gdapActiveAfter {
		return activities.GDAPResult{}, temporal.NewApplicationError("not yet active", "NotReady")
	}
	return activities.GDAPResult{ID: "rel-1", Status: "active"}, nil
}

func (w *world) CreateAssignment(
	_ context.Context, requestID, _ string, as workflows.AccessAssignment,
) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gdapCalls = append(w.gdapCalls, "CreateAssignment")
	return "as-" + as.SecurityGroupID, nil
}

func (w *world) WaitAssignmentActive(context.Context, string, string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gdapCalls = append(w.gdapCalls, "WaitAssignmentActive")
	return "active", nil
}

func (w *world) EndGDAP(_ context.Context, _ string, id string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = append(w.ended, id)
	w.gdapCalls = append(w.gdapCalls, "EndGDAP")
	if w.endGDAPResult != "" {
		return w.endGDAPResult, nil
	}
	return "deleted", nil
}

func (w *world) SendInvitationMail(_ context.Context, m activities.InvitationMail) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mails = append(w.mails, m)
	w.mailTimes = append(w.mailTimes, w.elapsed())
	return nil
}

func (w *world) GDAPStatus(context.Context, string) (activities.GDAPState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gdapCalls = append(w.gdapCalls, "GDAPStatus")
	if w.gdapStatus.Status == "" {
		return activities.GDAPState{Status: "active", AutoExtendDuration: "P180D"}, nil
	}
	return w.gdapStatus, nil
}

func (w *world) SendPartnerAlert(_ context.Context, al activities.PartnerAlert) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.alerts = append(w.alerts, al)
	w.alertTimes = append(w.alertTimes, w.elapsed())
	return nil
}

func (w *world) mailsOf(kind string) []activities.InvitationMail {
	var out []activities.InvitationMail
	for _, m := range w.mails {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

func (w *world) stepNames() []string {
	var out []string
	for _, s := range w.steps {
		if s.Step != "" {
			out = append(out, s.Step)
		}
	}
	return out
}

func (w *world) count(step string) int {
	n := 0
	for _, s := range w.stepNames() {
		if s == step {
			n++
		}
	}
	return n
}

// countCalls counts the GDAP activity calls of one name.
func (w *world) countCalls(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.gdapCalls {
		if c == name {
			n++
		}
	}
	return n
}

func newEnv(t *testing.T, w *world) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	for _, wf := range workflows.All() {
		env.RegisterWorkflowWithOptions(wf.Workflow, workflow.RegisterOptions{Name: wf.Name})
	}
	// The world's methods are named after the activities they stand in for.
	env.RegisterActivity(w)
	w.start = env.Now()
	w.now = env.Now
	return env
}

// newInvitationEnv is newEnv with the GDAP watch an invitation starts when it becomes active
// stubbed: the watch runs for the life of the access, which a unit test of the invitation does
// not wait for. TestGDAPWatch covers it.
func newInvitationEnv(t *testing.T, w *world) *testsuite.TestWorkflowEnvironment {
	env := newEnv(t, w)
	env.OnWorkflow(workflows.GDAPWatch, mockAny, mockAny).Return("", nil).Maybe()
	return env
}

func input(env *testsuite.TestWorkflowEnvironment) workflows.InvitationInput {
	return workflows.InvitationInput{
		InvitationID: "inv-1", PartnerID: "partner-1", CustomerDomain: "contoso.onmicrosoft.com",
		CustomerEmail: "admin@contoso.onmicrosoft.com", DisplayName: "contoso GDAP",
		RoleIDs: []string{"729827e3-9c14-49f7-bb1b-9608f156bbb8"}, DurationDays: 730,
		Assignments: []workflows.AccessAssignment{
			{SecurityGroupID: "group-a", RoleIDs: []string{"729827e3-9c14-49f7-bb1b-9608f156bbb8"}},
			{SecurityGroupID: "group-b", RoleIDs: []string{"729827e3-9c14-49f7-bb1b-9608f156bbb8"}},
		},
		ContactEmail: "ops@partner.example",
		ExpiresAt:    env.Now().Add(90 * day),
		Policy:       workflows.DefaultInvitationPolicy,
	}
}

func result(t *testing.T, env *testsuite.TestWorkflowEnvironment) (workflows.InvitationState, error) {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	var state workflows.InvitationState
	err := env.GetWorkflowError()
	if err == nil {
		if gerr := env.GetWorkflowResult(&state); gerr != nil {
			t.Fatal(gerr)
		}
	}
	return state, err
}

func signalEvent(env *testsuite.TestWorkflowEnvironment, after time.Duration) {
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalPartnerCenterEvent, workflows.PartnerCenterEvent{
			EventName:  "granular-admin-relationship-approved",
			ResourceID: "rel-1",
		})
	}, after)
}

func TestInvitationReachesActive(t *testing.T) {
	cases := []struct {
		name                string
		acceptAt, approveAt time.Duration
		events              []time.Duration
		maxElapsed          time.Duration
	}{
		{
			"reseller accepted, then GDAP approved, both announced by webhooks",
			2 * time.Hour,
			3 * time.Hour,
			[]time.Duration{2 * time.Hour, 3 * time.Hour},
			3*time.Hour + time.Minute,
		},
		{
			"GDAP approved before the reseller relationship is accepted",
			5 * time.Hour,
			1 * time.Hour,
			[]time.Duration{time.Hour, 5 * time.Hour},
			5*time.Hour + time.Minute,
		},
		{
			"the webhooks are lost and polling finds both consents",
			2 * time.Hour,
			2 * time.Hour,
			nil,
			2*time.Hour + 16*time.Minute,
		},
		{
			"a duplicated webhook changes nothing",
			time.Hour,
			time.Hour,
			[]time.Duration{time.Hour, time.Hour + time.Second, time.Hour + 2*time.Second},
			time.Hour + time.Minute,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{acceptAt: tc.acceptAt, approveAt: tc.approveAt, gdapActiveAfter: 3}
			env := newInvitationEnv(t, w)
			for _, at := range tc.events {
				signalEvent(env, at)
			}
			env.ExecuteWorkflow(workflows.Invitation, input(env))
			state, err := result(t, env)
			if err != nil {
				t.Fatal(err)
			}
			doneAt := w.elapsed()
			if state.Status != models.InvitationActive || !state.ResellerAccepted || !state.GDAPApproved ||
				state.CustomerTenantID != "tenant-1" {
				t.Fatalf("state %+v", state)
			}
			if len(state.Assignments) != 2 || state.Assignments[0].Status != "active" ||
				state.Assignments[1].AssignmentID != "as-group-b" {
				t.Fatalf("assignments %+v", state.Assignments)
			}
			if doneAt > tc.maxElapsed {
				t.Fatalf("took %v to notice the consents, want at most %v", doneAt, tc.maxElapsed)
			}
			for _, step := range []string{
				"started",
				"gdap-requested",
				"sent",
				"reseller-accepted",
				"gdap-approved",
				"accepted",
				"granting",
				"gdap-active",
				"assignment-created",
				"assignment-active",
				"active",
				"watching",
			} {
				if w.count(step) == 0 {
					t.Errorf("step %s not recorded; steps: %v", step, w.stepNames())
				}
			}
			if w.count("reseller-accepted") != 1 || w.count("gdap-approved") != 1 {
				t.Errorf("consents recorded more than once: %v", w.stepNames())
			}
			w.checkRecordedStates(t, state)
			if len(w.ended) != 0 {
				t.Errorf("an active invitation must keep its GDAP relationship, ended %v", w.ended)
			}
		})
	}
}

func TestInvitationExpiresWithRemindersAndOneEscalation(t *testing.T) {
	w := &world{}
	env := newInvitationEnv(t, w)
	env.ExecuteWorkflow(workflows.Invitation, input(env))
	state, err := result(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if state.Status != models.InvitationExpired {
		t.Fatalf("status %s", state.Status)
	}
	// Days 3, 7 and 14, then weekly until day 90: 21, 28, ..., 84.
	want := []time.Duration{3 * day, 7 * day, 14 * day}
	for d := 21; d < 90; d += 7 {
		want = append(want, time.Duration(d)*day)
	}
	var got []time.Duration
	for i, m := range w.mails {
		if m.Kind == activities.MailReminder {
			got = append(got, w.mailTimes[i].Round(time.Minute))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("reminders at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reminder %d at %v, want %v", i+1, got[i], want[i])
		}
	}
	esc := w.mailsOf(activities.MailEscalation)
	if len(esc) != 1 || esc[0].To != "ops@partner.example" || esc[0].Seq != 3 {
		t.Fatalf("escalations %+v, want one to the contact after the third reminder", esc)
	}
	if state.RemindersSent != len(want) || !state.Escalated || w.count("expired") != 1 {
		t.Fatalf("state %+v steps %v", state, w.stepNames())
	}
	if w.mailsOf(activities.MailInvitation)[0].To != "admin@contoso.onmicrosoft.com" {
		t.Fatal("the invitation was not mailed to the customer")
	}
}

func TestCancel(t *testing.T) {
	cases := []struct {
		name       string
		w          *world
		at         time.Duration
		wantEnded  bool
		wantChild  bool
		wantStatus string
	}{
		{
			name:       "cancel while waiting for the customer ends the pending request",
			w:          &world{endGDAPResult: "approvalPending"},
			at:         day,
			wantEnded:  true,
			wantChild:  true,
			wantStatus: models.InvitationCancelled,
		},
		{
			name: "cancel while granting terminates the relationship",
			w: &world{
				acceptAt:        time.Hour,
				approveAt:       time.Hour,
				gdapActiveAfter: 6,
				endGDAPResult:   "terminationRequested",
			},
			at:         time.Hour + 12*time.Second,
			wantEnded:  true,
			wantStatus: models.InvitationCancelled,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newInvitationEnv(t, tc.w)
			signalEvent(env, time.Hour)
			var updated workflows.InvitationState
			var rejected error
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.UpdateCancel, "cancel-1", &testsuite.TestUpdateCallback{
					OnAccept: func() {}, OnReject: func(err error) { rejected = err },
					OnComplete: func(v any, err error) {
						if err == nil {
							updated = v.(workflows.InvitationState)
						}
					},
				}, workflows.CancelRequest{By: "ops", Reason: "customer asked"})
			}, tc.at)
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.UpdateCancel, "cancel-2", &testsuite.TestUpdateCallback{
					OnAccept:   func() { t.Error("a second cancel must be refused") },
					OnReject:   func(error) {},
					OnComplete: func(any, error) {},
				}, workflows.CancelRequest{By: "ops"})
			}, tc.at+time.Second)
			childStarted := false
			env.OnWorkflow(workflows.GDAPCleanup, mockAny, mockAny).
				Return("terminated", nil).
				Run(func(args mockArgs) { childStarted = true }).
				Maybe()
			env.ExecuteWorkflow(workflows.Invitation, input(env))
			state, err := result(t, env)
			if err != nil || rejected != nil {
				t.Fatalf("err %v, rejected %v, calls %d at %v", err, rejected, tc.w.gdapActiveCalls, tc.w.elapsed())
			}
			if state.Status != tc.wantStatus || updated.Status != tc.wantStatus {
				t.Fatalf("final %s, update answered %s", state.Status, updated.Status)
			}
			if tc.wantEnded != (len(tc.w.ended) == 1) {
				t.Fatalf("GDAP ended %v", tc.w.ended)
			}
			if tc.wantChild != childStarted {
				t.Fatalf("cleanup child started = %v", childStarted)
			}
			if !strings.Contains(strings.Join(tc.w.stepNames(), ","), "cancelled") {
				t.Fatalf("steps %v", tc.w.stepNames())
			}
		})
	}
}

func TestResend(t *testing.T) {
	w := &world{}
	env := newInvitationEnv(t, w)
	resent := 0
	noop := &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(error) {},
		OnComplete: func(any, error) {},
	}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateResend, "r1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Errorf("resend refused: %v", err) },
			OnComplete: func(_ any, err error) {
				if err == nil {
					resent++
				}
			},
		}, workflows.ResendRequest{By: "ops"})
	}, day)
	var refusal error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateCancel, "c", noop, workflows.CancelRequest{By: "ops"})
		env.UpdateWorkflow(workflows.UpdateResend, "r2", &testsuite.TestUpdateCallback{
			OnAccept:   func() { t.Error("resending a cancelled invitation must be refused") },
			OnReject:   func(err error) { refusal = err },
			OnComplete: func(any, error) {},
		}, workflows.ResendRequest{By: "ops"})
	}, 2*day)
	env.ExecuteWorkflow(workflows.Invitation, input(env))
	if _, err := result(t, env); err != nil {
		t.Fatal(err)
	}
	if resent != 1 || len(w.mailsOf(activities.MailResend)) != 1 || w.count("resent") != 1 {
		t.Fatalf("resent %d, mails %d, steps %v", resent, len(w.mailsOf(activities.MailResend)), w.stepNames())
	}
	if refusal == nil || !strings.Contains(refusal.Error(), "cancelled") {
		t.Fatalf("the refusal must say the invitation is cancelled, got %v", refusal)
	}
}

func TestServiceFailures(t *testing.T) {
	refusal := temporal.NewNonRetryableApplicationError(
		"create GDAP relationship: duplicate display name",
		"PartnerCenterRefusal",
		nil,
	)
	t.Run("a refusal that retrying cannot fix ends the flow failed with the reason", func(t *testing.T) {
		w := &world{createGDAPErrors: []error{refusal}}
		env := newInvitationEnv(t, w)
		env.ExecuteWorkflow(workflows.Invitation, input(env))
		state, err := result(t, env)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !strings.Contains(appErr.Error(), "duplicate display name") {
			t.Fatalf("workflow error %v", err)
		}
		last := w.steps[len(w.steps)-1]
		if last.Status != models.InvitationFailed ||
			!strings.Contains(last.Set.FailureReason, "duplicate display name") ||
			state.Status != "" {
			t.Fatalf("last record %+v", last)
		}
		if w.createGDAPCalls != 1 || len(w.mails) != 0 {
			t.Fatalf("a refusal must not be retried or mailed: %d calls, %d mails", w.createGDAPCalls, len(w.mails))
		}
	})
	t.Run("transient failures are retried and the flow goes on", func(t *testing.T) {
		w := &world{
			acceptAt:         time.Hour,
			approveAt:        time.Hour,
			createGDAPErrors: []error{errors.New("502 bad gateway"), errors.New("timeout")},
		}
		env := newInvitationEnv(t, w)
		env.ExecuteWorkflow(workflows.Invitation, input(env))
		state, err := result(t, env)
		if err != nil || state.Status != models.InvitationActive || w.createGDAPCalls != 3 {
			t.Fatalf("state %s err %v calls %d", state.Status, err, w.createGDAPCalls)
		}
	})
	t.Run("GDAP terminated by the customer before approval is a decline", func(t *testing.T) {
		w := &world{}
		env := newInvitationEnv(t, w)
		env.OnActivity(w.CheckAcceptance, mockAny, mockAny, mockAny).
			Return(activities.Acceptance{GDAPStatus: "terminated"}, nil)
		env.ExecuteWorkflow(workflows.Invitation, input(env))
		state, err := result(t, env)
		if err != nil || state.Status != models.InvitationDeclined {
			t.Fatalf("state %s err %v", state.Status, err)
		}
	})
}

func TestAnInvitationWhoseRowIsGoneEndsBeforeDoingAnything(t *testing.T) {
	w := &world{}
	env := newInvitationEnv(t, w)
	env.OnActivity(w.RecordInvitation, mockAny, mockAny, mockAny).Return(
		temporal.NewNonRetryableApplicationError("invitation inv-1 does not exist", activities.ErrTypeFlowGone, nil))
	env.ExecuteWorkflow(workflows.Invitation, input(env))
	if _, err := result(t, env); err != nil {
		t.Fatal(err)
	}
	if w.createGDAPCalls != 0 || len(w.mails) != 0 {
		t.Fatalf(
			"a workflow without its invitation must not call Partner Center or mail: %d calls, %d mails",
			w.createGDAPCalls,
			len(w.mails),
		)
	}
}

func TestALongWaitContinuesAsNewWithItsState(t *testing.T) {
	w := &world{}
	env := newInvitationEnv(t, w)
	in := input(env)
	in.Policy.ContinueAsNewAfter = 200
	// The test environment keeps no real history; from day 4 on it reports a long one.
	env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(250) }, 4*day)
	env.ExecuteWorkflow(workflows.Invitation, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the run did not end")
	}
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("a long wait must continue as new, got %v", err)
	}
	var next workflows.InvitationInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	c := next.Carry
	if c == nil || c.State.GDAPRelationshipID != "rel-1" || c.State.Status != models.InvitationPending ||
		!c.Started.Equal(w.start) || c.State.RemindersSent == 0 ||
		c.Phases["consent"] == nil {
		t.Fatalf("the next run must carry the state: %+v", c)
	}
	if next.InvitationID != in.InvitationID || next.Policy.ContinueAsNewAfter != 200 {
		t.Fatalf("the next run must keep the input: %+v", next)
	}

	// The next run picks up where this one stopped: it neither asks for GDAP nor mails the
	// invitation again, and the reminder count goes on.
	w2 := &world{acceptAt: time.Hour, approveAt: time.Hour}
	env2 := newInvitationEnv(t, w2)
	signalEvent(env2, time.Hour)
	env2.ExecuteWorkflow(workflows.Invitation, next)
	state, err := result(t, env2)
	if err != nil || state.Status != models.InvitationActive {
		t.Fatalf("state %+v err %v", state, err)
	}
	if w2.createGDAPCalls != 0 || len(w2.mailsOf(activities.MailInvitation)) != 0 || w2.count("started") != 0 {
		t.Fatalf("the continued run repeated the start: %d GDAP calls, steps %v", w2.createGDAPCalls, w2.stepNames())
	}
	if state.RemindersSent != c.State.RemindersSent || state.GDAPRelationshipID != "rel-1" {
		t.Fatalf("state lost across runs: %+v", state)
	}
}

func TestGDAPCleanup(t *testing.T) {
	t.Run("a request approved after the invitation was cancelled is terminated", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		calls := 0
		env.OnActivity(w.EndGDAP, mockAny, mockAny, mockAny).Return(func(
			context.Context, string, string,
		) (string, error) {
			calls++
			if calls < 3 {
				return "approvalPending", nil
			}
			return "terminationRequested", nil
		})
		env.ExecuteWorkflow(workflows.GDAPCleanup, workflows.GDAPCleanupInput{
			InvitationID:   "inv-1",
			RelationshipID: "rel-1",
			Until:          env.Now().Add(90 * day),
			PollEvery:      time.Hour,
		})
		var status string
		if err := env.GetWorkflowResult(&status); err != nil || status != "terminationRequested" || calls != 3 {
			t.Fatalf("status %q after %d checks, err %v", status, calls, err)
		}
	})
	t.Run("a long watch continues as new", func(t *testing.T) {
		w := &world{endGDAPResult: "approvalPending"}
		env := newEnv(t, w)
		env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(20000) }, 2*day)
		env.ExecuteWorkflow(workflows.GDAPCleanup, workflows.GDAPCleanupInput{
			InvitationID:   "inv-1",
			RelationshipID: "rel-1",
			Until:          env.Now().Add(90 * day),
			PollEvery:      time.Hour,
		})
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); !errors.As(err, &can) {
			t.Fatalf("want continue-as-new, got %v", err)
		}
	})
	t.Run("a request still pending at its expiry ends the watch", func(t *testing.T) {
		w := &world{endGDAPResult: "approvalPending"}
		env := newEnv(t, w)
		env.ExecuteWorkflow(workflows.GDAPCleanup, workflows.GDAPCleanupInput{
			InvitationID:   "inv-1",
			RelationshipID: "rel-1",
			Until:          env.Now().Add(3 * time.Hour),
			PollEvery:      time.Hour,
		})
		var status string
		if err := env.GetWorkflowResult(&status); err != nil || status != "approvalPending" || len(w.ended) != 4 {
			t.Fatalf("status %q, %d checks, err %v", status, len(w.ended), err)
		}
	})
}

func TestGDAPWatch(t *testing.T) {
	watch := func(w *world, in workflows.GDAPWatchInput) (*testsuite.TestWorkflowEnvironment, string, error) {
		env := newEnv(t, w)
		if in.InvitationID == "" {
			in = workflows.GDAPWatchInput{
				InvitationID:   "inv-1",
				RelationshipID: "rel-1",
				CustomerDomain: "contoso.onmicrosoft.com",
				ContactEmail:   "ops@partner.example",
			}
		}
		env.ExecuteWorkflow(workflows.GDAPWatch, in)
		var status string
		err := env.GetWorkflowError()
		if err == nil {
			err = env.GetWorkflowResult(&status)
		}
		return env, status, err
	}
	t.Run("access the customer removes is reported to the partner", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		env.RegisterDelayedCallback(func() {
			w.mu.Lock()
			w.gdapStatus = activities.GDAPState{Status: "terminated"}
			w.mu.Unlock()
		}, 10*day+time.Hour)
		env.ExecuteWorkflow(workflows.GDAPWatch, workflows.GDAPWatchInput{
			InvitationID:   "inv-1",
			RelationshipID: "rel-1",
			CustomerDomain: "contoso.onmicrosoft.com",
			ContactEmail:   "ops@partner.example",
		})
		var status string
		if err := env.GetWorkflowResult(&status); err != nil || status != "terminated" {
			t.Fatalf("status %q err %v", status, err)
		}
		if len(w.alerts) != 1 || w.alerts[0].Kind != activities.AlertAccessLost ||
			w.alerts[0].To != "ops@partner.example" {
			t.Fatalf("alerts %+v", w.alerts)
		}
		if w.alertTimes[0] > 12*day {
			t.Fatalf("the loss was noticed only after %v; the watch checks daily", w.alertTimes[0])
		}
		if w.count(activities.AlertAccessLost) != 1 {
			t.Fatalf("the loss must be on the invitation's timeline: %v", w.stepNames())
		}
	})
	t.Run("access that does not renew itself is announced once, a month before it ends", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		end := env.Now().Add(90 * day)
		w.gdapStatus = activities.GDAPState{Status: "active", EndDateTime: end, AutoExtendDuration: "PT0S"}
		env.RegisterDelayedCallback(func() {
			w.mu.Lock()
			w.gdapStatus = activities.GDAPState{Status: "expired", EndDateTime: end}
			w.mu.Unlock()
		}, 90*day)
		env.ExecuteWorkflow(workflows.GDAPWatch, workflows.GDAPWatchInput{
			InvitationID:   "inv-1",
			RelationshipID: "rel-1",
			CustomerDomain: "contoso.onmicrosoft.com",
			ContactEmail:   "ops@partner.example",
		})
		var status string
		if err := env.GetWorkflowResult(&status); err != nil || status != "expired" {
			t.Fatalf("status %q err %v", status, err)
		}
		if len(w.alerts) != 2 || w.alerts[0].Kind != activities.AlertAccessExpiring ||
			w.alerts[1].Kind != activities.AlertAccessLost {
			t.Fatalf("want one warning then the loss, got %+v", w.alerts)
		}
		if at := w.alertTimes[0]; at < 59*day || at > 61*day {
			t.Fatalf("warned after %v, want about 60 days (30 before the end)", at)
		}
	})
	t.Run("access that renews itself is not announced as ending", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		w.gdapStatus = activities.GDAPState{
			Status:             "active",
			EndDateTime:        env.Now().Add(10 * day),
			AutoExtendDuration: "P180D",
		}
		env.RegisterDelayedCallback(func() { w.mu.Lock(); w.gdapStatus.Status = "terminated"; w.mu.Unlock() }, 40*day)
		env.ExecuteWorkflow(workflows.GDAPWatch, workflows.GDAPWatchInput{
			InvitationID:   "inv-1",
			RelationshipID: "rel-1",
			ContactEmail:   "ops@partner.example",
		})
		if len(w.alerts) != 1 || w.alerts[0].Kind != activities.AlertAccessLost {
			t.Fatalf("alerts %+v", w.alerts)
		}
	})
	t.Run("left to the estate sync, it reads the relationship only to warn and when told", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		end := env.Now().Add(90 * day)
		w.gdapStatus = activities.GDAPState{Status: "active", EndDateTime: end, AutoExtendDuration: "PT0S"}
		// The customer removes the access on day 70; the sync tells the watch on day 71.
		env.RegisterDelayedCallback(func() {
			w.mu.Lock()
			w.gdapStatus = activities.GDAPState{Status: "terminated", EndDateTime: end}
			w.mu.Unlock()
		}, 70*day)
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(workflows.SignalPartnerCenterEvent, workflows.PartnerCenterEvent{
				EventName: "granular-admin-relationship-terminated", ResourceID: "rel-1",
			})
		}, 71*day)
		env.ExecuteWorkflow(workflows.GDAPWatch, workflows.GDAPWatchInput{
			InvitationID: "inv-1", RelationshipID: "rel-1", ContactEmail: "ops@partner.example", NoPolling: true,
		})
		var status string
		if err := env.GetWorkflowResult(&status); err != nil || status != "terminated" {
			t.Fatalf("status %q err %v", status, err)
		}
		// Read at the start, when the warning fell due, and when told: not 71 daily reads.
		if reads := w.countCalls("GDAPStatus"); reads != 3 {
			t.Fatalf("the relationship was read %d times, want 3", reads)
		}
		if len(w.alerts) != 2 || w.alerts[0].Kind != activities.AlertAccessExpiring ||
			w.alerts[1].Kind != activities.AlertAccessLost {
			t.Fatalf("want one warning then the loss, got %+v", w.alerts)
		}
		if at := w.alertTimes[0]; at < 59*day || at > 61*day {
			t.Fatalf("warned after %v, want 60 days (30 before the end)", at)
		}
		if at := w.alertTimes[1]; at < 71*day || at > 72*day {
			t.Fatalf("the loss was reported after %v, want when the sync told it (71 days)", at)
		}
	})
	t.Run("left to the estate sync, a relationship that renews itself is read only when told", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		w.gdapStatus = activities.GDAPState{
			Status: "active", EndDateTime: env.Now().Add(10 * day), AutoExtendDuration: "P180D",
		}
		env.RegisterDelayedCallback(func() {
			w.mu.Lock()
			w.gdapStatus.Status = "terminated"
			w.mu.Unlock()
			env.SignalWorkflow(workflows.SignalPartnerCenterEvent, workflows.PartnerCenterEvent{
				EventName: "granular-admin-relationship-terminated", ResourceID: "rel-1",
			})
		}, 400*day)
		env.ExecuteWorkflow(workflows.GDAPWatch, workflows.GDAPWatchInput{
			InvitationID: "inv-1", RelationshipID: "rel-1", ContactEmail: "ops@partner.example", NoPolling: true,
		})
		if reads := w.countCalls("GDAPStatus"); reads != 2 {
			t.Fatalf("the relationship was read %d times in 400 days, want 2", reads)
		}
		if len(w.alerts) != 1 || w.alerts[0].Kind != activities.AlertAccessLost {
			t.Fatalf("alerts %+v", w.alerts)
		}
	})
	t.Run("without a partner contact the alert is only on the timeline", func(t *testing.T) {
		w := &world{gdapStatus: activities.GDAPState{Status: "terminated"}}
		_, status, err := watch(w, workflows.GDAPWatchInput{InvitationID: "inv-1", RelationshipID: "rel-1"})
		if err != nil || status != "terminated" || len(w.alerts) != 0 || w.count(activities.AlertAccessLost) != 1 {
			t.Fatalf("status %q err %v alerts %+v steps %v", status, err, w.alerts, w.stepNames())
		}
	})
	t.Run("a long watch continues as new, keeping whether it warned", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		w.gdapStatus = activities.GDAPState{
			Status:             "active",
			EndDateTime:        env.Now().Add(20 * day),
			AutoExtendDuration: "PT0S",
		}
		env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(20000) }, 2*day)
		env.ExecuteWorkflow(workflows.GDAPWatch, workflows.GDAPWatchInput{
			InvitationID:   "inv-1",
			RelationshipID: "rel-1",
			ContactEmail:   "ops@partner.example",
		})
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); !errors.As(err, &can) {
			t.Fatalf("want continue-as-new, got %v", err)
		}
		var next workflows.GDAPWatchInput
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil ||
			next.Carry == nil || !next.Carry.State.Warned || len(w.alerts) != 1 {
			t.Fatalf("the next run must know the warning went out: %+v %v", next, err)
		}
	})
	t.Run("a run continued before the carry convention keeps its warning", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		w.gdapStatus = activities.GDAPState{
			Status:             "active",
			EndDateTime:        env.Now().Add(20 * day),
			AutoExtendDuration: "PT0S",
		}
		env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(20000) }, 2*day)
		env.ExecuteWorkflow(workflows.GDAPWatch, workflows.GDAPWatchInput{
			InvitationID:   "inv-1",
			RelationshipID: "rel-1",
			ContactEmail:   "ops@partner.example",
			Warned:         true,
		})
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); !errors.As(err, &can) {
			t.Fatalf("want continue-as-new, got %v", err)
		}
		if len(w.alerts) != 0 {
			t.Fatalf("a watch that had warned warned again: %+v", w.alerts)
		}
	})
}

// resellerOnlyInput is an invitation that asks for the reseller relationship alone, as the API
// starts it: no roles, duration or assignments.
func resellerOnlyInput(env *testsuite.TestWorkflowEnvironment) workflows.InvitationInput {
	in := input(env)
	in.NoAdminAccess, in.DisplayName, in.RoleIDs, in.DurationDays, in.Assignments = true, "", nil, 0, nil
	return in
}

// noGDAP fails the test when the workflow touched GDAP or started a GDAP child workflow.
func noGDAP(t *testing.T, w *world, children map[string]bool) {
	t.Helper()
	if len(w.gdapCalls) != 0 || w.createGDAPCalls != 0 || len(w.ended) != 0 {
		t.Errorf("an invitation without admin access must not touch GDAP: %v", w.gdapCalls)
	}
	for _, rel := range w.checkedRelationship {
		if rel != "" {
			t.Errorf("the acceptance check read GDAP relationship %q", rel)
		}
	}
	for name, started := range children {
		if started {
			t.Errorf("an invitation without admin access must not start %s", name)
		}
	}
	for _, step := range []string{
		"gdap-requested",
		"gdap-approved",
		"granting",
		"gdap-active",
		"assignment-created",
		"watching",
		"gdap-withdrawn",
		"gdap-cleanup-started",
	} {
		if w.count(step) != 0 {
			t.Errorf("step %s recorded without admin access: %v", step, w.stepNames())
		}
	}
}

// watchChildren stubs the GDAP workflows an invitation may start and reports whether it did.
func watchChildren(env *testsuite.TestWorkflowEnvironment) map[string]bool {
	started := map[string]bool{}
	env.OnWorkflow(workflows.GDAPWatch, mockAny, mockAny).
		Return("", nil).
		Run(func(mockArgs) { started["GDAPWatch"] = true }).
		Maybe()
	env.OnWorkflow(workflows.GDAPCleanup, mockAny, mockAny).
		Return("", nil).
		Run(func(mockArgs) { started["GDAPCleanup"] = true }).
		Maybe()
	return started
}

func TestAnInvitationWithoutAdminAccess(t *testing.T) {
	t.Run("the reseller acceptance alone makes it active, without any GDAP call", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			events []time.Duration
			within time.Duration
		}{
			{"announced by the webhook", []time.Duration{2 * time.Hour}, 2*time.Hour + time.Minute},
			{"found by polling when the webhook is lost", nil, 2*time.Hour + 16*time.Minute},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := &world{acceptAt: 2 * time.Hour}
				env := newEnv(t, w)
				children := watchChildren(env)
				for _, at := range tc.events {
					env.RegisterDelayedCallback(func() {
						env.SignalWorkflow(workflows.SignalPartnerCenterEvent, workflows.PartnerCenterEvent{
							EventName: "reseller-relationship-accepted-by-customer",
						})
					}, at)
				}
				env.ExecuteWorkflow(workflows.Invitation, resellerOnlyInput(env))
				state, err := result(t, env)
				if err != nil {
					t.Fatal(err)
				}
				if state.Status != models.InvitationActive || !state.ResellerAccepted || state.GDAPApproved ||
					state.GDAPRelationshipID != "" || state.CustomerTenantID != "tenant-1" ||
					state.RelationshipRequestURL == "" || len(state.Assignments) != 0 {
					t.Fatalf("state %+v", state)
				}
				if doneAt := w.elapsed(); doneAt > tc.within {
					t.Fatalf("took %v to notice the acceptance, want at most %v", doneAt, tc.within)
				}
				if got, want := strings.Join(w.stepNames(), ","),
					"started,sent,reseller-accepted,accepted,active"; got != want {
					t.Fatalf("steps %s, want %s", got, want)
				}
				var statuses []string
				for _, s := range w.steps {
					if s.Status != "" {
						statuses = append(statuses, s.Status)
					}
				}
				if got := strings.Join(statuses, ","); got != "pending,accepted,active" {
					t.Fatalf("statuses %s", got)
				}
				noGDAP(t, w, children)
				invite := w.mailsOf(activities.MailInvitation)
				if len(invite) != 1 || !invite[0].NoAdminAccess || len(invite[0].RoleIDs) != 0 ||
					invite[0].DurationDays != 0 {
					t.Fatalf("the mail must say no admin access is asked for: %+v", invite)
				}
			})
		}
	})

	t.Run("cancel while waiting ends it with nothing to withdraw", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		children := watchChildren(env)
		var updated workflows.InvitationState
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateCancel, "cancel-1", &testsuite.TestUpdateCallback{
				OnAccept: func() {}, OnReject: func(err error) { t.Errorf("cancel refused: %v", err) },
				OnComplete: func(v any, err error) {
					if err == nil {
						updated = v.(workflows.InvitationState)
					}
				},
			}, workflows.CancelRequest{By: "ops", Reason: "wrong customer"})
		}, 2*day)
		env.ExecuteWorkflow(workflows.Invitation, resellerOnlyInput(env))
		state, err := result(t, env)
		if err != nil || state.Status != models.InvitationCancelled || updated.Status != models.InvitationCancelled {
			t.Fatalf("state %+v, update %+v, err %v", state, updated, err)
		}
		last := w.steps[len(w.steps)-1]
		if last.Status != models.InvitationCancelled || last.StepDetail != "ops: wrong customer" {
			t.Fatalf("last record %+v", last)
		}
		noGDAP(t, w, children)
	})

	t.Run("unanswered, it is reminded, escalated once and expires", func(t *testing.T) {
		w := &world{}
		env := newEnv(t, w)
		children := watchChildren(env)
		env.ExecuteWorkflow(workflows.Invitation, resellerOnlyInput(env))
		state, err := result(t, env)
		if err != nil || state.Status != models.InvitationExpired {
			t.Fatalf("state %+v err %v", state, err)
		}
		if w.elapsed() < 90*day || w.elapsed() > 90*day+time.Minute {
			t.Fatalf("expired after %v, want 90 days", w.elapsed())
		}
		reminders, escalations := w.mailsOf(activities.MailReminder), w.mailsOf(activities.MailEscalation)
		if len(reminders) != 13 || len(escalations) != 1 || w.count("expired") != 1 {
			t.Fatalf("%d reminders, %d escalations, steps %v", len(reminders), len(escalations), w.stepNames())
		}
		for _, m := range append(reminders, escalations...) {
			if !m.NoAdminAccess {
				t.Fatalf("every mail must say no admin access is asked for: %+v", m)
			}
		}
		noGDAP(t, w, children)
	})

	t.Run("resend mails the same variant", func(t *testing.T) {
		w := &world{acceptAt: 3 * day}
		env := newEnv(t, w)
		watchChildren(env)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateResend, "r1", &testsuite.TestUpdateCallback{
				OnAccept:   func() {},
				OnReject:   func(err error) { t.Errorf("resend refused: %v", err) },
				OnComplete: func(any, error) {},
			}, workflows.ResendRequest{By: "ops"})
		}, day)
		env.ExecuteWorkflow(workflows.Invitation, resellerOnlyInput(env))
		if state, err := result(t, env); err != nil || state.Status != models.InvitationActive {
			t.Fatalf("state %+v err %v", state, err)
		}
		if resent := w.mailsOf(activities.MailResend); len(resent) != 1 || !resent[0].NoAdminAccess {
			t.Fatalf("resent %+v", resent)
		}
	})
}

func TestTheCustomersCloudReachesTheMails(t *testing.T) {
	w := &world{acceptAt: time.Hour, approveAt: time.Hour}
	env := newInvitationEnv(t, w)
	in := input(env)
	in.Cloud = models.CloudUSGov
	env.ExecuteWorkflow(workflows.Invitation, in)
	if state, err := result(t, env); err != nil || state.Status != models.InvitationActive {
		t.Fatalf("state %+v err %v", state, err)
	}
	if m := w.mailsOf(activities.MailInvitation); len(m) != 1 || m[0].Cloud != models.CloudUSGov || m[0].NoAdminAccess {
		t.Fatalf("mails %+v", m)
	}
}

func TestAnInvitationSetsItsStatusAttributeOnlyWhereItRests(t *testing.T) {
	w := &world{acceptAt: time.Hour, approveAt: time.Hour, gdapActiveAfter: 1}
	env := newInvitationEnv(t, w)
	var statuses []string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if status, ok := sa.GetKeyword(workflows.FlowStatusKey); ok {
			statuses = append(statuses, status)
		}
	}).Return(nil)
	signalEvent(env, time.Hour)
	env.ExecuteWorkflow(workflows.Invitation, input(env))
	if state, err := result(t, env); err != nil || state.Status != models.InvitationActive {
		t.Fatalf("state %+v, %v", state, err)
	}
	// pending is set by the API's start and accepted lasts no longer than its workflow task: each
	// upsert rewrites the flow's visibility row.
	if want := []string{models.InvitationGranting, models.InvitationActive}; !slices.Equal(statuses, want) {
		t.Fatalf("FlowStatus set to %v, want %v", statuses, want)
	}
	if w.count("accepted") != 1 {
		t.Fatalf("the accepted step is still recorded: %v", w.stepNames())
	}
}

func TestAnInvitationTheEstateSyncTellsDoesNotPoll(t *testing.T) {
	w := &world{acceptAt: time.Hour, approveAt: time.Hour, gdapActiveAfter: 1}
	env := newEnv(t, w)
	watches := 0
	env.OnWorkflow(workflows.GDAPWatch, mockAny, mockAny).Return(
		func(workflow.Context, workflows.GDAPWatchInput) (string, error) { watches++; return "", nil },
	).Maybe()
	in := input(env)
	in.Policy.NoPolling = true
	var checksBefore int
	env.RegisterDelayedCallback(func() {
		w.mu.Lock()
		checksBefore = w.checks
		w.mu.Unlock()
	}, 10*day-time.Minute)
	// Ten days pass without a word (the default policy would have asked 960 times); then the
	// estate sync's signal comes.
	signalEvent(env, 10*day)
	env.ExecuteWorkflow(workflows.Invitation, in)
	if state, err := result(t, env); err != nil || state.Status != models.InvitationActive {
		t.Fatalf("state %+v err %v", state, err)
	}
	if checksBefore != 0 {
		t.Fatalf("an invitation that does not poll asked Partner Center %d times before any event", checksBefore)
	}
	// Nor does it start a watch of its own: the estate sync, which reads every relationship,
	// watches its relationship and alerts the contact it names.
	if watches != 0 {
		t.Fatalf("%d GDAP watches started; the estate sync watches the relationship", watches)
	}
	last := w.steps[len(w.steps)-1]
	if last.Step != "watching" || !last.Set.EstateWatch || last.Set.AlertEmail != "ops@partner.example" {
		t.Fatalf("the last step %+v does not hand the watch to the estate sync", last)
	}
}
