package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// estateWorld fakes the estate sync's activities: pages of customers, GDAP relationships and
// resellers' customers, and a directory that counts what it was given.
type estateWorld struct {
	mu              sync.Mutex
	customerPages   int
	gdapPages       int
	resellerPages   map[string]int
	noConnection    bool
	begun           int
	calls           []string
	counted         []string
	ended           []activities.EstateEnd
	undelivered     int
	notes           []string
	refuseCustomers bool
	owed            []activities.EstateSignal
	marked          []int64
	// alerts is how many access alerts AlertWatchedAccess sends, once.
	alerts int
	// subscriptionsNeedConnection makes the subscriptions' read ask for the partner's sign-in.
	subscriptionsNeedConnection bool
	subscriptionReads           []activities.EstateSubscriptions
}

func (w *estateWorld) SyncCustomerSubscriptions(
	_ context.Context,
	in activities.EstateSubscriptions,
) (activities.EstateSubscriptionsResult, error) {
	w.log(fmt.Sprintf("subscriptions:%d", in.Limit))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subscriptionReads = append(w.subscriptionReads, in)
	if w.subscriptionsNeedConnection {
		return activities.EstateSubscriptionsResult{}, temporal.NewNonRetryableApplicationError(
			"Partner Center needs the partner's sign-in", activities.ErrTypeConnectionNeeded, nil)
	}
	return activities.EstateSubscriptionsResult{Read: in.Limit, Refused: 1, Changes: 2}, nil
}

func (w *estateWorld) ImportEstateResellers(_ context.Context, in activities.EstateResellerImport) (int, error) {
	w.log(fmt.Sprintf("import:%d", len(in.Resellers)))
	return len(in.Resellers), nil
}

func (w *estateWorld) RouteEstateSignals(context.Context, activities.EstateEnd) (int, error) {
	w.log("route")
	return len(w.owed), nil
}

func (w *estateWorld) TakeEstateSignals(context.Context, string) ([]activities.EstateSignal, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []activities.EstateSignal
	for _, s := range w.owed {
		if !slices.Contains(w.marked, s.ID) && len(out) < 2 {
			out = append(out, s)
		}
	}
	return out, nil
}

func (w *estateWorld) MarkEstateSignalsSent(_ context.Context, in activities.EstateSignalsSent) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.marked = append(w.marked, in.IDs...)
	return nil
}

func (w *estateWorld) log(call string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, call)
}

func (w *estateWorld) BeginEstatePass(context.Context, string) (models.DirectoryPass, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.begun++
	return models.DirectoryPass{Pass: int64(w.begun), Imported: w.begun > 1}, nil
}

// next is the cursor after page cursor of n pages: "1", "2", … and "" after the last.
func next(cursor string, n int) string {
	var i int
	fmt.Sscan(cursor, &i)
	if i+1 >= n {
		return ""
	}
	return fmt.Sprint(i + 1)
}

func (w *estateWorld) SyncCustomerPage(
	_ context.Context,
	in activities.EstatePage,
) (activities.EstatePageResult, error) {
	w.log("customers:" + in.Cursor)
	if w.refuseCustomers {
		return activities.EstatePageResult{}, temporal.NewNonRetryableApplicationError("forbidden",
			activities.ErrTypeRefused, nil)
	}
	return activities.EstatePageResult{Next: next(in.Cursor, w.customerPages), Seen: 500, Changes: 1}, nil
}

func (w *estateWorld) SyncGDAPPage(_ context.Context, in activities.EstatePage) (activities.EstatePageResult, error) {
	w.log("gdap:" + in.Cursor)
	return activities.EstatePageResult{
		Next: next(in.Cursor, w.gdapPages), Seen: 300, CountAssignments: []string{"rel-" + in.Cursor},
	}, nil
}

func (w *estateWorld) CountGDAPAssignments(_ context.Context, in activities.EstateAssignments) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counted = append(w.counted, in.RelationshipIDs...)
	return len(in.RelationshipIDs), nil
}

func (w *estateWorld) ListEstateResellers(context.Context, string) ([]activities.EstateReseller, error) {
	w.log("resellers")
	if w.noConnection {
		return nil, temporal.NewNonRetryableApplicationError("Partner Center needs the partner's sign-in",
			activities.ErrTypeConnectionNeeded, nil)
	}
	var out []activities.EstateReseller
	for _, r := range slices.Sorted(maps.Keys(w.resellerPages)) {
		out = append(out, activities.EstateReseller{TenantID: r, Name: "Reseller " + r})
	}
	return out, nil
}

func (w *estateWorld) SyncResellerCustomerPage(
	_ context.Context,
	in activities.EstatePage,
) (activities.EstatePageResult, error) {
	w.log("reseller:" + in.Reseller + ":" + in.Cursor)
	return activities.EstatePageResult{Next: next(in.Cursor, w.resellerPages[in.Reseller]), Seen: 200}, nil
}

func (w *estateWorld) EndEstatePass(_ context.Context, in activities.EstateEnd) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = append(w.ended, in)
	return 0, nil
}

func (w *estateWorld) DeliverEstateChanges(context.Context, string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(w.undelivered, 500)
	w.undelivered -= n
	return n, nil
}

func (w *estateWorld) AlertWatchedAccess(context.Context, string) (int, error) {
	w.log("alerts")
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.alerts
	w.alerts = 0
	return n, nil
}

func (w *estateWorld) NoteEstateError(_ context.Context, in activities.EstateNote) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.notes = append(w.notes, in.Reason)
	return nil
}

func runEstate(
	t *testing.T,
	w *estateWorld,
	in workflows.EstateSyncInput,
	setup func(*testsuite.TestWorkflowEnvironment),
) (workflows.EstateSyncInput, time.Duration) {
	t.Helper()
	env := quietEnv()
	env.RegisterActivity(w)
	if setup != nil {
		setup(env)
	}
	start := env.Now()
	env.ExecuteWorkflow(workflows.EstateSync, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the run did not end")
	}
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("a run ends by continuing as new, got %v", err)
	}
	var nextIn workflows.EstateSyncInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &nextIn); err != nil {
		t.Fatal(err)
	}
	return nextIn, env.Now().Sub(start)
}

func TestAnEstatePassReadsEveryPageOnceThenPauses(t *testing.T) {
	w := &estateWorld{customerPages: 3, gdapPages: 2, resellerPages: map[string]int{"r1": 2, "r2": 1}, undelivered: 700}
	nextIn, took := runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p", Every: time.Hour}, nil)
	want := []string{
		"customers:", "customers:1", "customers:2", "gdap:", "gdap:1", "resellers", "import:2",
		"reseller:r1:", "reseller:r1:1", "reseller:r2:",
		fmt.Sprintf("subscriptions:%d", activities.SubscriptionReadsPerPass), "route", "alerts",
	}
	if !slices.Equal(w.calls, want) {
		t.Fatalf("calls %v, want %v", w.calls, want)
	}
	if !slices.Equal(w.counted, []string{"rel-", "rel-1"}) || len(w.ended) != 1 || !w.ended[0].ResellersRead ||
		w.undelivered != 0 {
		t.Fatalf("counted %v ended %+v undelivered %d", w.counted, w.ended, w.undelivered)
	}
	if took < time.Hour || nextIn.At != nil || nextIn.State.Pass != 1 || nextIn.State.Pages != 8 ||
		nextIn.State.Changes != 7 || nextIn.State.Subscriptions != activities.SubscriptionReadsPerPass ||
		nextIn.State.LastCompletedAt.IsZero() ||
		nextIn.State.Phase != workflows.EstateIdle {
		t.Fatalf("after %v the next run is %+v", took, nextIn)
	}

	// The next run is the next pass.
	w2 := &estateWorld{customerPages: 1, gdapPages: 1, begun: 1}
	nextIn, _ = runEstate(t, w2, nextIn, nil)
	if w2.begun != 2 || nextIn.State.Pass != 2 {
		t.Fatalf("the next run began pass %d: %+v", w2.begun, nextIn.State)
	}
}

func TestWithoutTheConnectionThePassSkipsTheResellersAndSaysSo(t *testing.T) {
	w := &estateWorld{customerPages: 1, gdapPages: 1, noConnection: true}
	nextIn, _ := runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p"}, nil)
	if len(w.ended) != 1 || w.ended[0].ResellersRead || nextIn.State.LastError == "" ||
		nextIn.State.LastCompletedAt.IsZero() {
		t.Fatalf("ended %+v state %+v", w.ended, nextIn.State)
	}
}

func TestALongPassContinuesAsNewWhereItStood(t *testing.T) {
	w := &estateWorld{customerPages: 4, gdapPages: 1}
	nextIn, _ := runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p", ContinueAsNewAfter: 100},
		func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(w.SyncCustomerPage, mockAny, mockAny).Return(
				func(ctx context.Context, in activities.EstatePage) (activities.EstatePageResult, error) {
					if in.Cursor == "1" {
						env.SetCurrentHistoryLength(150)
					}
					return w.SyncCustomerPage(ctx, in)
				})
		})
	if nextIn.At == nil || nextIn.At.Phase != workflows.EstateCustomers || nextIn.At.Cursor != "2" ||
		nextIn.State.Pages != 2 {
		t.Fatalf("the run must continue at the third customer page: %+v %+v", nextIn.At, nextIn.State)
	}
	// The continued run resumes the pass: it begins none and reads from the third page on.
	w2 := &estateWorld{customerPages: 4, gdapPages: 1}
	if _, _ = runEstate(t, w2, nextIn, nil); w2.begun != 0 || w2.calls[0] != "customers:2" ||
		len(w2.ended) != 1 || w2.ended[0].Pass.Pass != nextIn.At.Pass.Pass {
		t.Fatalf("begun %d calls %v ended %+v", w2.begun, w2.calls, w2.ended)
	}
}

func TestSyncNowStartsTheNextPassAtOnce(t *testing.T) {
	w := &estateWorld{customerPages: 1, gdapPages: 1}
	_, took := runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p"}, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalSyncNow, nil) }, time.Minute)
	})
	if took >= workflows.DefaultEstateSyncEvery {
		t.Fatalf("the pause lasted %v", took)
	}
}

func TestARefusedPassIsNotedAndTriedAgainNextTime(t *testing.T) {
	w := &estateWorld{refuseCustomers: true}
	nextIn, took := runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p", Every: time.Hour}, nil)
	if len(w.notes) != 1 || nextIn.State.LastError == "" || nextIn.At != nil || took < time.Hour ||
		len(w.ended) != 0 {
		t.Fatalf("notes %v state %+v at %+v after %v", w.notes, nextIn.State, nextIn.At, took)
	}
}

func TestAPassTellsTheWaitingFlowsWhatTheDirectoryShows(t *testing.T) {
	w := &estateWorld{customerPages: 1, gdapPages: 1, alerts: 2, owed: []activities.EstateSignal{
		{ID: 1, WorkflowID: "invitation/inv_1", EventName: "reseller-relationship-accepted-by-customer",
			ResourceID: "tenant-1"},
		{ID: 2, WorkflowID: "invitation/inv_1", EventName: "granular-admin-relationship-approved", ResourceID: "rel-1"},
		{ID: 3, EventName: "granular-admin-relationship-terminated", ResourceID: "rel-2"},
	}}
	got := map[string]workflows.PartnerCenterEvent{}
	in := workflows.EstateSyncInput{PartnerID: "p"}
	nextIn, _ := runEstate(t, w, in, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnSignalExternalWorkflow(mockAny, mockAny, "", workflows.SignalPartnerCenterEvent, mockAny).Return(
			func(_, workflowID, _, _ string, arg any) error {
				event := arg.(workflows.PartnerCenterEvent)
				got[workflowID+" "+event.EventName] = event
				if workflowID == "invitation/inv_1" && event.ResourceID == "rel-1" {
					return errors.New("the workflow has finished")
				}
				return nil
			})
	})
	want := []string{
		"gdap-watch/rel-2 granular-admin-relationship-terminated",
		"invitation/inv_1 granular-admin-relationship-approved",
		"invitation/inv_1 reseller-relationship-accepted-by-customer",
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Fatalf("signals %v, want %v", keys, want)
	}
	// A flow that ended meanwhile does not stop the pass; every signal is marked sent once.
	if !slices.Equal(w.marked, []int64{1, 2, 3}) || nextIn.State.Signals != 3 || nextIn.State.LastError != "" {
		t.Fatalf("marked %v, state %+v", w.marked, nextIn.State)
	}
	// The invitations whose relationship the sync watches itself hear from it too.
	if nextIn.State.Alerts != 2 || !slices.Contains(w.calls, "alerts") {
		t.Fatalf("alerts %d, calls %v", nextIn.State.Alerts, w.calls)
	}
}

func TestAPassCountsABoundedNumberOfAssignments(t *testing.T) {
	w := &estateWorld{customerPages: 1, gdapPages: 3}
	_, _ = runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p"}, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(w.SyncGDAPPage, mockAny, mockAny).Return(
			func(ctx context.Context, in activities.EstatePage) (activities.EstatePageResult, error) {
				got, err := w.SyncGDAPPage(ctx, in)
				got.CountAssignments = make([]string, 250)
				for i := range got.CountAssignments {
					got.CountAssignments[i] = fmt.Sprintf("rel-%s-%d", in.Cursor, i)
				}
				return got, err
			})
	})
	if len(w.counted) != workflows.AssignmentCountsPerPass {
		t.Fatalf("a pass counted %d relationships' assignments, want %d", len(w.counted),
			workflows.AssignmentCountsPerPass)
	}
}

// The subscriptions are read after the resellers and before the pass ends, of the pass itself.
func TestAPassReadsABoundedSliceOfSubscriptionsBeforeItEnds(t *testing.T) {
	w := &estateWorld{customerPages: 1, gdapPages: 1}
	env := quietEnv()
	env.RegisterActivity(w)
	ended := 0
	env.OnActivity(w.EndEstatePass, mockAny, mockAny).Return(
		func(ctx context.Context, in activities.EstateEnd) (int, error) {
			ended = len(w.subscriptionReads)
			return w.EndEstatePass(ctx, in)
		})
	env.ExecuteWorkflow(workflows.EstateSync, workflows.EstateSyncInput{PartnerID: "p"})
	if len(w.subscriptionReads) != 1 || ended != 1 || w.subscriptionReads[0].Pass.Pass != 1 ||
		w.subscriptionReads[0].PartnerID != "p" || w.subscriptionReads[0].Limit != activities.SubscriptionReadsPerPass {
		t.Fatalf("reads %+v, %d of them before the pass ended", w.subscriptionReads, ended)
	}
}

// Without the partner's connection the resellers are skipped, the subscriptions are not.
func TestWithoutTheConnectionThePassStillReadsSubscriptions(t *testing.T) {
	w := &estateWorld{customerPages: 1, gdapPages: 1, noConnection: true}
	nextIn, _ := runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p"}, nil)
	if len(w.subscriptionReads) != 1 || len(w.ended) != 1 || nextIn.State.Subscriptions == 0 {
		t.Fatalf("reads %+v ended %+v state %+v", w.subscriptionReads, w.ended, nextIn.State)
	}
}

// Partner Center asking for the connection to read subscriptions ends the pass without them,
// noted beside the resellers' note.
func TestSubscriptionsThatNeedTheConnectionAreNotedAndThePassEnds(t *testing.T) {
	w := &estateWorld{customerPages: 1, gdapPages: 1, noConnection: true, subscriptionsNeedConnection: true}
	nextIn, _ := runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p"}, nil)
	if len(w.ended) != 1 || nextIn.State.LastCompletedAt.IsZero() ||
		!strings.Contains(nextIn.State.LastError, "resellers' customers were not read") ||
		!strings.Contains(nextIn.State.LastError, "subscriptions were not read") {
		t.Fatalf("ended %+v state %+v", w.ended, nextIn.State)
	}
}

// A read of the subscriptions that fails for good (Partner Center refusing the partner's own
// credentials, say) does not hold back the pass: it ends, and says why the subscriptions are old.
func TestASubscriptionsReadThatFailsIsNotedAndThePassEnds(t *testing.T) {
	w := &estateWorld{customerPages: 1, gdapPages: 1}
	refuse := func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(w.SyncCustomerSubscriptions, mockAny, mockAny).Return(activities.EstateSubscriptionsResult{},
			temporal.NewNonRetryableApplicationError("list subscriptions: 401", activities.ErrTypeRefused, nil))
	}
	nextIn, _ := runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p"}, refuse)
	if len(w.ended) != 1 || nextIn.State.LastCompletedAt.IsZero() || nextIn.At != nil ||
		!strings.Contains(nextIn.State.LastError, "subscriptions were not read: list subscriptions: 401") {
		t.Fatalf("ended %+v state %+v", w.ended, nextIn.State)
	}
}

// A run continued as new in the subscriptions phase reads them in the new run, then ends the pass.
func TestAPassContinuedAsNewInTheSubscriptionsPhaseResumesThere(t *testing.T) {
	// The history grows long while the resellers are listed, which (without the connection)
	// moves the pass straight to the subscriptions.
	w := &estateWorld{customerPages: 1, gdapPages: 1, noConnection: true}
	nextIn, _ := runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p", ContinueAsNewAfter: 100},
		func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(w.ListEstateResellers, mockAny, mockAny).Return(
				func(ctx context.Context, partnerID string) ([]activities.EstateReseller, error) {
					env.SetCurrentHistoryLength(150)
					return w.ListEstateResellers(ctx, partnerID)
				})
		})
	if nextIn.At == nil || nextIn.At.Phase != workflows.EstateSubscriptions || nextIn.At.ResellersRead ||
		nextIn.State.LastError == "" || len(w.subscriptionReads) != 0 {
		t.Fatalf("the run must continue at the subscriptions: %+v, reads %+v", nextIn.At, w.subscriptionReads)
	}
	w2 := &estateWorld{}
	if _, _ = runEstate(t, w2, nextIn, nil); w2.begun != 0 || w2.calls[0] != fmt.Sprintf("subscriptions:%d",
		activities.SubscriptionReadsPerPass) || len(w2.ended) != 1 || w2.ended[0].ResellersRead ||
		w2.ended[0].Pass != nextIn.At.Pass {
		t.Fatalf("begun %d calls %v ended %+v", w2.begun, w2.calls, w2.ended)
	}
}

// A run of the code before the subscriptions phase (its history holds no version marker) ends
// the pass after the resellers, as it did when it was recorded.
func TestARunOfTheEarlierCodeEndsThePassAfterTheResellers(t *testing.T) {
	w := &estateWorld{customerPages: 1, gdapPages: 1}
	_, _ = runEstate(t, w, workflows.EstateSyncInput{PartnerID: "p"}, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnGetVersion("estate-subscriptions", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	})
	if len(w.subscriptionReads) != 0 || len(w.ended) != 1 || !w.ended[0].ResellersRead {
		t.Fatalf("reads %+v ended %+v", w.subscriptionReads, w.ended)
	}
}
