package workflows_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// resellerWorld fakes Partner Center, the mail server and the app database for the partnership
// workflow: the reseller authorizes at authorizeAt (0: never) and verification answers from
// verdicts, one per round.
type resellerWorld struct {
	mu          sync.Mutex
	start       time.Time
	now         func() time.Time
	authorizeAt time.Duration
	verdicts    []activities.Verification
	rounds      int
	changes     []models.ResellerChange
	mails       []activities.ResellerMail
}

func (w *resellerWorld) RecordReseller(_ context.Context, _ string, ch models.ResellerChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.changes = append(w.changes, ch)
	return nil
}

func (w *resellerWorld) FindPartnership(context.Context, string) (activities.Partnership, error) {
	if w.authorizeAt == 0 || w.now().Sub(w.start) < w.authorizeAt {
		return activities.Partnership{}, nil
	}
	return activities.Partnership{
		Found:    true,
		TenantID: "tenant-r",
		MPNID:    "1234567",
		Name:     "Adatum",
		Location: "US",
	}, nil
}

func (w *resellerWorld) VerifyReseller(_ context.Context, mpnID string) (activities.Verification, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.verdicts[min(w.rounds, len(w.verdicts)-1)]
	w.rounds++
	return v, nil
}

func (w *resellerWorld) SendResellerMail(_ context.Context, m activities.ResellerMail) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mails = append(w.mails, m)
	return nil
}

func (w *resellerWorld) steps() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, ch := range w.changes {
		if ch.Step != "" {
			out = append(out, ch.Step)
		}
	}
	return out
}

func (w *resellerWorld) mailKinds() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.mails {
		out = append(out, m.Kind)
	}
	return out
}

func newResellerEnv(t *testing.T, w *resellerWorld) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := quietEnv()
	env.RegisterActivity(w)
	w.start, w.now = env.Now(), env.Now
	return env
}

func resellerInput(env *testsuite.TestWorkflowEnvironment) workflows.ResellerInput {
	return workflows.ResellerInput{
		ResellerStart: models.ResellerStart{
			ResellerID: "res-1", PartnerID: "p", CompanyName: "Adatum", Email: "admin@adatum.example",
			Language: "it", ContactEmail: "ops@provider.example", ExpiresAt: env.Now().Add(30 * day),
		},
		Policy: workflows.WaitPolicy{
			Reminders:     []time.Duration{3 * day, 7 * day},
			RepeatEvery:   7 * day,
			EscalateAfter: 2,
			PollEvery:     time.Hour,
		},
	}
}

func resellerResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.ResellerState {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	var st workflows.ResellerState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	return st
}

func hasAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestResellerPartnership(t *testing.T) {
	t.Run("authorized on day 4 after a reminder, verified, active", func(t *testing.T) {
		w := &resellerWorld{authorizeAt: 4 * day, verdicts: []activities.Verification{{OK: true}}}
		env := newResellerEnv(t, w)
		env.ExecuteWorkflow(workflows.ResellerPartnership, resellerInput(env))
		st := resellerResult(t, env)
		if st.Status != models.ResellerActive || st.MPNID != "1234567" || st.TenantID != "tenant-r" ||
			st.RemindersSent != 1 {
			t.Fatalf("state %+v", st)
		}
		if !hasAll(w.steps(), "started", "sent", "reminder", "authorized", "verifying", "verified") {
			t.Fatalf("steps %v", w.steps())
		}
		kinds := w.mailKinds()
		if len(kinds) != 3 || kinds[0] != activities.MailResellerInvitation ||
			kinds[1] != activities.MailResellerReminder || kinds[2] != activities.MailResellerVerified {
			t.Fatalf("mails %v", kinds)
		}
		if w.mails[0].Language != "it" || w.mails[2].To != "ops@provider.example" {
			t.Fatalf("the reseller is written in its language, the result goes to the provider's contact: %+v", w.mails)
		}
	})
	t.Run("never authorized: reminders on days 3, 7, 14, 21 and 28, one escalation, expired", func(t *testing.T) {
		w := &resellerWorld{verdicts: []activities.Verification{{OK: true}}}
		env := newResellerEnv(t, w)
		env.ExecuteWorkflow(workflows.ResellerPartnership, resellerInput(env))
		st := resellerResult(t, env)
		if st.Status != models.ResellerExpired || st.RemindersSent != 5 || !st.Escalated || w.rounds != 0 {
			t.Fatalf("state %+v rounds %d", st, w.rounds)
		}
		escalations := 0
		for _, k := range w.mailKinds() {
			if k == activities.MailResellerEscalation {
				escalations++
			}
		}
		if escalations != 1 {
			t.Fatalf("escalations %d", escalations)
		}
	})
	for _, code := range []string{"3000", "2201", "2203", "2204", "800016", "900123"} {
		t.Run("verification failing with "+code+" waits, then passes when verified again", func(t *testing.T) {
			w := &resellerWorld{
				authorizeAt: time.Hour,
				verdicts:    []activities.Verification{{Code: code, Reason: "reason " + code}, {OK: true}},
			}
			env := newResellerEnv(t, w)
			var during workflows.ResellerState
			env.RegisterDelayedCallback(func() {
				v, err := env.QueryWorkflow(workflows.QueryReseller)
				if err != nil {
					t.Error(err)
					return
				}
				_ = v.Get(&during)
				env.UpdateWorkflow(workflows.UpdateVerify, "verify-1", &testsuite.TestUpdateCallback{
					OnReject:   func(err error) { t.Errorf("verify refused: %v", err) },
					OnAccept:   func() {},
					OnComplete: func(any, error) {},
				}, workflows.VerifyRequest{By: "ops"})
			}, 5*day)
			env.ExecuteWorkflow(workflows.ResellerPartnership, resellerInput(env))
			st := resellerResult(t, env)
			if during.Status != models.ResellerVerificationFailed || during.FailureCode != code ||
				during.FailureReason != "reason "+code {
				t.Fatalf("while failed: %+v", during)
			}
			if st.Status != models.ResellerActive || st.FailureCode != "" || w.rounds != 2 {
				t.Fatalf("after verifying again: %+v rounds %d", st, w.rounds)
			}
			if !hasAll(w.mailKinds(), activities.MailResellerVerificationFailed, activities.MailResellerVerified) {
				t.Fatalf("mails %v", w.mailKinds())
			}
		})
	}
	t.Run("a reseller that keeps failing is never active and can be cancelled", func(t *testing.T) {
		w := &resellerWorld{
			authorizeAt: time.Hour,
			verdicts:    []activities.Verification{{Code: "2203", Reason: "not signed"}},
		}
		env := newResellerEnv(t, w)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateVerify, "v", &testsuite.TestUpdateCallback{
				OnReject:   func(err error) { t.Error(err) },
				OnAccept:   func() {},
				OnComplete: func(any, error) {},
			}, workflows.VerifyRequest{})
		}, 2*day)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateCancel, "c", &testsuite.TestUpdateCallback{
				OnReject:   func(err error) { t.Error(err) },
				OnAccept:   func() {},
				OnComplete: func(any, error) {},
			}, workflows.CancelRequest{By: "ops", Reason: "gave up"})
		}, 4*day)
		env.ExecuteWorkflow(workflows.ResellerPartnership, resellerInput(env))
		st := resellerResult(t, env)
		if st.Status != models.ResellerCancelled || w.rounds != 2 {
			t.Fatalf("state %+v rounds %d", st, w.rounds)
		}
	})
	t.Run("verify is refused while the reseller has not failed", func(t *testing.T) {
		w := &resellerWorld{verdicts: []activities.Verification{{OK: true}}}
		env := newResellerEnv(t, w)
		refused := false
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateVerify, "v", &testsuite.TestUpdateCallback{
				OnReject:   func(error) { refused = true },
				OnAccept:   func() {},
				OnComplete: func(any, error) {},
			}, workflows.VerifyRequest{})
		}, day)
		env.ExecuteWorkflow(workflows.ResellerPartnership, resellerInput(env))
		if !refused {
			t.Fatal("a pending reseller must refuse verify")
		}
	})
}

// removalWorld fakes the app database's delivery records and the senders for the removal.
type removalWorld struct {
	mu sync.Mutex
	// recipients is how many customers the reseller has (plus the reseller itself).
	recipients int
	// failFirst fails a delivery's first n attempts; failAlways never delivers.
	failFirst  map[int64]int
	failAlways map[int64]bool
	attempts   map[int64]int
	status     map[int64]string
	sent       map[int64]int
	ended      int
}

func newRemovalWorld(customers int) *removalWorld {
	return &removalWorld{recipients: customers + 1, failFirst: map[int64]int{}, failAlways: map[int64]bool{},
		attempts: map[int64]int{}, status: map[int64]string{}, sent: map[int64]int{}}
}

func (w *removalWorld) RecordRemoval(context.Context, string, models.RemovalChange) error { return nil }

func (w *removalWorld) EndPartnership(context.Context, string) (activities.EndedPartnership, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended++
	return activities.EndedPartnership{StillListed: true}, nil
}

// PlanRemovalDeliveries plans 1,000 recipients a page.
func (w *removalWorld) PlanRemovalDeliveries(
	_ context.Context, _ string, cursor string,
) (activities.PlannedPage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	from := int64(1)
	if cursor != "" {
		from = int64(len(cursor)*1000 + 1)
	}
	to := min(from+999, int64(w.recipients))
	for id := from; id <= to; id++ {
		if _, ok := w.status[id]; !ok {
			w.status[id] = models.DeliveryPending
		}
	}
	next := ""
	if to < int64(w.recipients) {
		next = cursor + "x"
	}
	return activities.PlannedPage{Added: int(to - from + 1), Next: next}, nil
}

func (w *removalWorld) PendingDeliveries(_ context.Context, q activities.PendingQuery) ([]int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int64
	for id := q.AfterID + 1; id <= int64(w.recipients) && len(out) < q.Limit; id++ {
		if w.status[id] == models.DeliveryPending {
			out = append(out, id)
		}
	}
	return out, nil
}

func (w *removalWorld) Deliver(ctx context.Context, in activities.DeliverInput) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status[in.DeliveryID] == models.DeliveryDelivered {
		return nil
	}
	w.attempts[in.DeliveryID]++
	if w.failAlways[in.DeliveryID] || w.attempts[in.DeliveryID] <= w.failFirst[in.DeliveryID] {
		if int(activity.GetInfo(ctx).Attempt) >= in.MaxAttempts {
			w.status[in.DeliveryID] = models.DeliveryFailed
			return nil
		}
		return context.DeadlineExceeded
	}
	w.sent[in.DeliveryID]++
	w.status[in.DeliveryID] = models.DeliveryDelivered
	return nil
}

func (w *removalWorld) CountDeliveries(context.Context, string, string) (models.DeliveryCounts, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var c models.DeliveryCounts
	for _, st := range w.status {
		c.Total++
		switch st {
		case models.DeliveryDelivered:
			c.Delivered++
		case models.DeliveryFailed:
			c.Failed++
		default:
			c.Pending++
		}
	}
	return c, nil
}

func TestPartnershipRemoval(t *testing.T) {
	t.Run("fans out in batches; failing receivers recover or are listed as failed; "+
		"nobody is told twice", func(t *testing.T) {
		w := newRemovalWorld(2500)
		w.failFirst[7], w.failFirst[1500] = 2, 3
		w.failAlways[42] = true
		env := newRemovalEnv(w)
		env.ExecuteWorkflow(workflows.PartnershipRemoval, workflows.RemovalInput{
			RemovalID:       "rem-1",
			BatchSize:       200,
			MaxAttempts:     5,
			InitialInterval: time.Second,
		})
		if !env.IsWorkflowCompleted() {
			t.Fatal("not completed")
		}
		var st workflows.RemovalState
		if err := env.GetWorkflowResult(&st); err != nil {
			t.Fatal(err)
		}
		c := st.Counts
		if st.Status != models.RemovalCompleted || c.Total != 2501 || c.Delivered != 2500 || c.Failed != 1 ||
			c.Pending != 0 || st.Batches != 13 || !st.StillListed {
			t.Fatalf("state %+v", st)
		}
		for id, n := range w.sent {
			if n != 1 {
				t.Fatalf("delivery %d sent %d times", id, n)
			}
		}
		if w.attempts[7] != 3 || w.attempts[1500] != 4 || w.attempts[42] != 5 || w.status[42] != models.DeliveryFailed {
			t.Fatalf("attempts 7:%d 1500:%d 42:%d (%s)", w.attempts[7], w.attempts[1500], w.attempts[42], w.status[42])
		}
	})
	t.Run("a retry sends only what failed, without ending or planning again", func(t *testing.T) {
		w := newRemovalWorld(10)
		for id := int64(1); id <= 11; id++ {
			w.status[id] = models.DeliveryDelivered
		}
		w.status[4] = models.DeliveryPending
		env := newRemovalEnv(w)
		env.ExecuteWorkflow(workflows.PartnershipRemoval, workflows.RemovalInput{RemovalID: "rem-1", Retry: true})
		var st workflows.RemovalState
		if err := env.GetWorkflowResult(&st); err != nil {
			t.Fatal(err)
		}
		if w.ended != 0 || w.sent[4] != 1 || len(w.sent) != 1 || st.Counts.Delivered != 11 {
			t.Fatalf("ended %d sent %v counts %+v", w.ended, w.sent, st.Counts)
		}
	})
	t.Run("a long removal continues as new and loses nothing", func(t *testing.T) {
		w := newRemovalWorld(999)
		env := newRemovalEnv(w)
		env.SetCurrentHistoryLength(20000)
		env.ExecuteWorkflow(workflows.PartnershipRemoval, workflows.RemovalInput{RemovalID: "rem-1", BatchSize: 100})
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); !errors.As(err, &can) {
			t.Fatalf("want continue-as-new, got %v", err)
		}
		var next workflows.RemovalInput
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil || next.Carry == nil ||
			!next.Carry.State.Ended || !next.Carry.State.Planned || next.Carry.State.Status != models.RemovalNotifying {
			t.Fatalf("the next run must carry the ended and planned state: %+v %v", next.Carry, err)
		}
	})
}

// quietEnv is a test environment with every workflow registered and its log discarded.
func quietEnv() *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	for _, wf := range workflows.All() {
		env.RegisterWorkflowWithOptions(wf.Workflow, workflow.RegisterOptions{Name: wf.Name})
	}
	return env
}

func newRemovalEnv(w *removalWorld) *testsuite.TestWorkflowEnvironment {
	env := quietEnv()
	env.RegisterActivity(w)
	return env
}
