package workflows_test

import (
	"context"
	"sync"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// reviewWorld fakes the partnership's activities for the review path: FindPartnership answers
// match until fixed is set, then adatum; RecordReseller refuses activation when tenantTaken.
type reviewWorld struct {
	mu          sync.Mutex
	match       activities.Partnership
	fixed       bool
	tenantTaken bool
	finds       int
	verified    int
	changes     []models.ResellerChange
}

var adatum = activities.Partnership{
	Found:    true,
	TenantID: "tenant-adatum",
	MPNID:    "1234567",
	Name:     "Adatum",
	Location: "US",
}

func (w *reviewWorld) RecordReseller(_ context.Context, _ string, ch models.ResellerChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch.Status == models.ResellerActive && w.tenantTaken {
		return temporal.NewNonRetryableApplicationError("taken", activities.ErrTypeResellerTenantTaken, nil)
	}
	w.changes = append(w.changes, ch)
	return nil
}

func (w *reviewWorld) FindPartnership(context.Context, string) (activities.Partnership, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finds++
	if w.fixed {
		return adatum, nil
	}
	return w.match, nil
}

func (w *reviewWorld) VerifyReseller(context.Context, string) (activities.Verification, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.verified++
	return activities.Verification{OK: true}, nil
}

func (w *reviewWorld) SendResellerMail(context.Context, activities.ResellerMail) error { return nil }

func (w *reviewWorld) statuses() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, ch := range w.changes {
		if ch.Status != "" {
			out = append(out, ch.Status)
		}
	}
	return out
}

func (w *reviewWorld) steps() []string {
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

func reviewUpdate(env *testsuite.TestWorkflowEnvironment, t *testing.T, name string, arg any) {
	env.UpdateWorkflow(name, name, &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { t.Errorf("%s refused: %v", name, err) },
		OnAccept:   func() {},
		OnComplete: func(any, error) {},
	}, arg)
}

func TestAResellerThatIsNotPlainlyTheRequestsStopsForReview(t *testing.T) {
	mismatch := activities.Partnership{
		Review: activities.ReviewPartnerIDMismatch,
		Reason: "PartnerID 1234567 belongs to Adatum (tenant tenant-adatum), not to Evil Corp",
	}
	cases := []struct {
		name string
		// world's answers, and what the provider does on days 1 and 2.
		world      *reviewWorld
		onDay1     func(w *reviewWorld)
		day1, day2 string
		wantStatus string
		wantCode   string
	}{
		{
			name: "a PartnerID that belongs to another company stops the request; checking again changes nothing; " +
				"cancel ends it",
			world: &reviewWorld{match: mismatch}, day1: workflows.UpdateVerify, day2: workflows.UpdateCancel,
			wantStatus: models.ResellerCancelled, wantCode: activities.ReviewPartnerIDMismatch,
		},
		{
			name:  "checked again once the cause is gone, the request goes on to verification and active",
			world: &reviewWorld{match: mismatch}, onDay1: func(w *reviewWorld) { w.fixed = true },
			day1:       workflows.UpdateVerify,
			wantStatus: models.ResellerActive, wantCode: activities.ReviewPartnerIDMismatch,
		},
		{
			name:  "a tenant another partnership activated first stops the request at activation",
			world: &reviewWorld{fixed: true, tenantTaken: true}, day2: workflows.UpdateCancel,
			wantStatus: models.ResellerCancelled, wantCode: activities.ReviewTenantTaken,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.world
			env := quietEnv()
			env.RegisterActivity(w)
			var during workflows.ResellerState
			env.RegisterDelayedCallback(func() {
				v, err := env.QueryWorkflow(workflows.QueryReseller)
				if err != nil {
					t.Error(err)
					return
				}
				_ = v.Get(&during)
				if tc.onDay1 != nil {
					w.mu.Lock()
					tc.onDay1(w)
					w.mu.Unlock()
				}
				if tc.day1 != "" {
					reviewUpdate(env, t, tc.day1, workflows.VerifyRequest{By: "ops"})
				}
			}, day)
			if tc.day2 != "" {
				env.RegisterDelayedCallback(func() {
					reviewUpdate(env, t, tc.day2, workflows.CancelRequest{By: "ops", Reason: "not who they claim"})
				}, 2*day)
			}
			env.ExecuteWorkflow(workflows.ResellerPartnership, resellerInput(env))
			st := resellerResult(t, env)
			if during.Status != models.ResellerNeedsReview || during.FailureCode != tc.wantCode ||
				during.FailureReason == "" || during.Authorized {
				t.Fatalf("in review: %+v", during)
			}
			if st.Status != tc.wantStatus {
				t.Fatalf("final %+v, want %s", st, tc.wantStatus)
			}
			if !hasAll(w.steps(), "needs-review") {
				t.Fatalf("the timeline must show the stop: %v", w.steps())
			}
			if tc.wantStatus != models.ResellerActive && hasAll(w.statuses(), models.ResellerActive) {
				t.Fatalf("a request in review became active: %v", w.statuses())
			}
		})
	}
}

func TestResendIsRefusedWhileARequestIsInReview(t *testing.T) {
	w := &reviewWorld{match: activities.Partnership{
		Review: activities.ReviewAmbiguous,
		Reason: "2 resellers named Adatum",
	}}
	env := quietEnv()
	env.RegisterActivity(w)
	refused := false
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateResend, "r", &testsuite.TestUpdateCallback{
			OnReject:   func(error) { refused = true },
			OnAccept:   func() {},
			OnComplete: func(any, error) {},
		}, workflows.ResendRequest{})
	}, day)
	env.RegisterDelayedCallback(func() {
		reviewUpdate(env, t, workflows.UpdateCancel, workflows.CancelRequest{By: "ops"})
	}, 2*day)
	env.ExecuteWorkflow(workflows.ResellerPartnership, resellerInput(env))
	if st := resellerResult(t, env); !refused || st.Status != models.ResellerCancelled || w.verified != 0 {
		t.Fatalf("refused %v, state %+v, verified %d", refused, st, w.verified)
	}
}
