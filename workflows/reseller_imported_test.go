package workflows_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// importedWorld fakes the partnership's activities for a partnership imported from Partner
// Center: FindPartnership answers listed, verification answers from verdicts, one per round, and
// RecordReseller refuses activation when tenantTaken.
type importedWorld struct {
	mu          sync.Mutex
	listed      activities.Partnership
	verdicts    []activities.Verification
	tenantTaken bool
	finds       int
	rounds      int
	changes     []models.ResellerChange
	mails       []activities.ResellerMail
}

func (w *importedWorld) RecordReseller(_ context.Context, _ string, ch models.ResellerChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch.Status == models.ResellerActive && w.tenantTaken {
		return temporal.NewNonRetryableApplicationError("taken", activities.ErrTypeResellerTenantTaken, nil)
	}
	w.changes = append(w.changes, ch)
	return nil
}

func (w *importedWorld) FindPartnership(context.Context, string) (activities.Partnership, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finds++
	return w.listed, nil
}

func (w *importedWorld) VerifyReseller(context.Context, string) (activities.Verification, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.verdicts[min(w.rounds, len(w.verdicts)-1)]
	w.rounds++
	return v, nil
}

func (w *importedWorld) SendResellerMail(_ context.Context, m activities.ResellerMail) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mails = append(w.mails, m)
	return nil
}

func (w *importedWorld) steps() []string {
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

func (w *importedWorld) firstStatus() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.changes {
		if ch.Status != "" {
			return ch.Status
		}
	}
	return ""
}

func (w *importedWorld) recorded(status string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.ContainsFunc(w.changes, func(ch models.ResellerChange) bool { return ch.Status == status })
}

// mailsTo lists the kinds of the mails sent, each with its recipient.
func (w *importedWorld) mailsTo() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.mails {
		out = append(out, m.Kind+" to "+m.To)
	}
	return out
}

// importedInput is the input the estate import writes (activities.ImportEstateResellers): no
// contact e-mail, no expiry, the provider's contact, no wait policy.
func importedInput(env *testsuite.TestWorkflowEnvironment) workflows.ResellerInput {
	return workflows.ResellerInput{ResellerStart: models.ResellerStart{
		ResellerID: "res-imported", PartnerID: "p", CompanyName: "Adatum Reseller", MPNID: "1234567",
		Language: "en", ContactEmail: "ops@provider.example", ExpiresAt: env.Now(), Imported: true,
	}}
}

var listedAdatum = activities.Partnership{
	Found: true, TenantID: "tenant-adatum", MPNID: "1234567", Name: "Adatum Reseller", Location: "US",
}

func TestAnImportedPartnershipIsVerifiedAtOnce(t *testing.T) {
	const contact = "ops@provider.example"
	signed := activities.Verification{OK: true}
	unsigned := activities.Verification{Code: "2203", Reason: "not signed"}
	cases := []struct {
		name  string
		world *importedWorld
		// update is sent on day 1, then cancel on day 2 (when cancel is set).
		update     string
		cancel     bool
		noContact  bool
		wantStatus string
		wantCode   string
		wantSteps  []string
		wantMails  []string
		wantRounds int
	}{
		{
			name:       "listed and signed: active, the provider's contact told, no request sent",
			world:      &importedWorld{listed: listedAdatum, verdicts: []activities.Verification{signed}},
			wantStatus: models.ResellerActive,
			wantSteps:  []string{"started", "authorized", "verifying", "verified"},
			wantMails:  []string{activities.MailResellerVerified + " to " + contact},
			wantRounds: 1,
		},
		{
			name:       "without a provider's contact, nobody is mailed",
			world:      &importedWorld{listed: listedAdatum, verdicts: []activities.Verification{signed}},
			noContact:  true,
			wantStatus: models.ResellerActive,
			wantSteps:  []string{"started", "authorized", "verifying", "verified"},
			wantRounds: 1,
		},
		{
			name: "agreement not signed: verification_failed, verified again once signed, then active",
			world: &importedWorld{
				listed:   listedAdatum,
				verdicts: []activities.Verification{unsigned, signed},
			},
			update:     workflows.UpdateVerify,
			wantStatus: models.ResellerActive,
			wantSteps: []string{
				"started", "authorized", "verifying", "verification-failed", "verifying", "verified",
			},
			wantMails: []string{
				activities.MailResellerVerificationFailed + " to " + contact,
				activities.MailResellerVerified + " to " + contact,
			},
			wantRounds: 2,
		},
		{
			name:       "agreement never signed: verification_failed until cancelled, never active",
			world:      &importedWorld{listed: listedAdatum, verdicts: []activities.Verification{unsigned}},
			cancel:     true,
			wantStatus: models.ResellerCancelled,
			wantCode:   "2203",
			wantSteps:  []string{"started", "authorized", "verifying", "verification-failed", "cancelled"},
			wantMails:  []string{activities.MailResellerVerificationFailed + " to " + contact},
			wantRounds: 1,
		},
		{
			name:       "no longer listed: needs_review, not verified",
			world:      &importedWorld{verdicts: []activities.Verification{signed}},
			cancel:     true,
			wantStatus: models.ResellerCancelled,
			wantCode:   activities.ReviewNotAuthorized,
			wantSteps:  []string{"started", "needs-review", "cancelled"},
		},
		{
			name: "listed with another PartnerID: needs_review, not verified",
			world: &importedWorld{
				listed: activities.Partnership{
					Review: activities.ReviewPartnerIDMismatch,
					Reason: "imported with PartnerID 1234567, now listed with 7654321",
				},
				verdicts: []activities.Verification{signed},
			},
			cancel:     true,
			wantStatus: models.ResellerCancelled,
			wantCode:   activities.ReviewPartnerIDMismatch,
			wantSteps:  []string{"started", "needs-review", "cancelled"},
		},
		{
			name: "the tenant became active with another partnership first: needs_review, never active",
			world: &importedWorld{
				listed:      listedAdatum,
				verdicts:    []activities.Verification{signed},
				tenantTaken: true,
			},
			cancel:     true,
			wantStatus: models.ResellerCancelled,
			wantCode:   activities.ReviewTenantTaken,
			wantSteps:  []string{"started", "authorized", "verifying", "needs-review", "cancelled"},
			wantRounds: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.world
			env := quietEnv()
			env.RegisterActivity(w)
			in := importedInput(env)
			if tc.noContact {
				in.ContactEmail = ""
			}
			var during workflows.ResellerState
			env.RegisterDelayedCallback(func() {
				if v, err := env.QueryWorkflow(workflows.QueryReseller); err == nil {
					_ = v.Get(&during)
				}
				if tc.update != "" {
					reviewUpdate(env, t, tc.update, workflows.VerifyRequest{By: "ops"})
				}
			}, day)
			if tc.cancel {
				env.RegisterDelayedCallback(func() {
					reviewUpdate(env, t, workflows.UpdateCancel, workflows.CancelRequest{By: "ops", Reason: "no"})
				}, 2*day)
			}
			env.ExecuteWorkflow(workflows.ResellerPartnership, in)
			st := resellerResult(t, env)
			if st.Status != tc.wantStatus {
				t.Fatalf("status %s, want %s (state %+v, steps %v)", st.Status, tc.wantStatus, st, w.steps())
			}
			waiting := models.ResellerNeedsReview
			if tc.wantCode == "2203" {
				waiting = models.ResellerVerificationFailed
			}
			if tc.wantCode != "" && (during.FailureCode != tc.wantCode || during.Status != waiting) {
				t.Fatalf("while it waited: %+v, want %s with code %s", during, waiting, tc.wantCode)
			}
			if !slices.Equal(w.steps(), tc.wantSteps) {
				t.Fatalf("steps %v, want %v", w.steps(), tc.wantSteps)
			}
			if !slices.Equal(w.mailsTo(), tc.wantMails) {
				t.Fatalf("mails %v, want %v", w.mailsTo(), tc.wantMails)
			}
			if w.rounds != tc.wantRounds || w.finds != 1 {
				t.Fatalf("verified %d times (want %d), looked up %d times (want once)",
					w.rounds, tc.wantRounds, w.finds)
			}
			if w.firstStatus() != models.ResellerVerifying || w.recorded(models.ResellerPending) {
				t.Fatalf("an imported partnership is never pending: first recorded %s", w.firstStatus())
			}
			if tc.wantStatus == models.ResellerActive && (st.TenantID != "tenant-adatum" || st.MPNID != "1234567" ||
				st.Location != "US" || !st.Authorized) {
				t.Fatalf("active state %+v", st)
			}
		})
	}
}
