package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
)

// The estate sync: one long-running workflow per partner reads the partner's whole estate from
// Partner Center and Microsoft Graph, whoever made each part — every customer, every GDAP
// relationship, which indirect reseller each customer is with, and a bounded slice of the
// customers' subscriptions — into the directory, one page per activity. The directory finds what
// changed since the last full pass and the alerts due (models.SaveDirectoryGDAP); the sync then
// delivers each once. A pass costs a number of calls that grows with the estate's size in pages,
// not with how many flows wait (and a bounded number for subscriptions: one call per customer).

// EstateSyncWorkflowID is the one estate sync of a partner.
func EstateSyncWorkflowID(partnerID string) string { return "estate/" + partnerID }

// DefaultEstateSyncEvery is the pause between two passes: the fallback polling's interval, so
// that a waiting invitation the sync tells hears no later than it would have asked.
const DefaultEstateSyncEvery = 15 * time.Minute

// AssignmentCountsPerPass bounds the relationships whose access assignments one pass counts (a
// call each): two minutes of the sync's call budget.
const AssignmentCountsPerPass = 600

// QueryEstate returns the sync's EstateState; SignalSyncNow starts the next pass at once;
// SignalEstateSettings (EstateSettings) changes the pause, which a worker sends at every start.
const (
	QueryEstate          = "estate"
	SignalSyncNow        = "sync-now"
	SignalEstateSettings = "estate-settings"
)

// EstateSettings are the sync's settings a worker's configuration gives.
type EstateSettings struct {
	Every time.Duration
}

// Phases of a pass, in order. EstateSubscriptions came later (GetVersion estateSubscriptionsChange):
// a pass of the earlier code ends after the resellers.
const (
	EstateCustomers     = "customers"
	EstateGDAP          = "gdap"
	EstateResellers     = "resellers"
	EstateSubscriptions = "subscriptions"
	EstateDeliver       = "deliver"
	EstateIdle          = "idle"
)

// estateSubscriptionsChange is the workflow.GetVersion change that added the subscriptions phase:
// runs recorded before it replay without the phase.
const estateSubscriptionsChange = "estate-subscriptions"

// EstateSyncInput starts or continues a partner's estate sync.
type EstateSyncInput struct {
	PartnerID string
	// Every is the pause between passes (0: DefaultEstateSyncEvery).
	Every time.Duration
	// At is where a continued run resumes a pass; nil starts the next one.
	At *EstatePosition
	// State carries the sync's figures across runs.
	State EstateState
	// ContinueAsNewAfter is the history length after which a pass continues in a new run
	// (0: DefaultContinueAsNewAfter).
	ContinueAsNewAfter int
}

// EstatePosition is how far a pass got: its phase and the cursor of the page to read next.
type EstatePosition struct {
	Pass   models.DirectoryPass
	Phase  string
	Cursor string
	// Resellers are the indirect resellers whose customers the pass reads, Reseller the one being
	// read; ResellersRead says the pass read them all (false when the App+User connection is
	// missing: no customer is then moved off its reseller).
	Resellers     []string
	Reseller      int
	ResellersRead bool
	// Counted is how many relationships' access assignments the pass counted.
	Counted int
}

// EstateState is what the sync shows: the pass, where it is, and what the last pass found.
type EstateState struct {
	Pass    int64
	Phase   string
	Pages   int
	Changes int
	// Imported counts the indirect resellers the last pass made known partnerships.
	Imported int
	// Signals counts the events the last pass sent waiting flows.
	Signals int
	// Subscriptions counts the customers whose subscriptions the last pass read.
	Subscriptions int
	// Alerts counts the access alerts the last pass sent invitations whose relationship the sync
	// watches.
	Alerts          int
	LastCompletedAt time.Time
	// LastError is why the last pass stopped early, or why a phase was skipped.
	LastError string
}

// EstateSync runs a partner's estate sync for ever: a pass, the delivery of its changes, a pause
// (or SignalSyncNow), and the next pass in a new run.
func EstateSync(ctx workflow.Context, in EstateSyncInput) (EstateState, error) {
	w := &estateSync{in: in, state: in.State}
	if w.in.Every <= 0 {
		w.in.Every = DefaultEstateSyncEvery
	}
	if w.in.ContinueAsNewAfter <= 0 {
		w.in.ContinueAsNewAfter = DefaultContinueAsNewAfter
	}
	query := func() (EstateState, error) { return w.state, nil }
	if err := workflow.SetQueryHandler(ctx, QueryEstate, query); err != nil {
		return w.state, err
	}
	syncNow := workflow.GetSignalChannel(ctx, SignalSyncNow)
	settings := workflow.GetSignalChannel(ctx, SignalEstateSettings)
	w.takeSettings(settings)
	if err := w.pass(ctx); err != nil {
		var more *workflow.ContinueAsNewError
		if errors.As(err, &more) {
			return w.state, err
		}
		w.state.LastError = rootMessage(err)
		w.note(ctx, w.state.LastError)
	}
	w.state.Phase = EstateIdle
	w.pause(ctx, syncNow, settings)
	// Signals that came meanwhile are taken: one pass answers them all.
	for syncNow.ReceiveAsync(nil) {
	}
	w.takeSettings(settings)
	next := w.in
	next.At, next.State = nil, w.state
	return w.state, workflow.NewContinueAsNewError(ctx, EstateSync, next)
}

// pause waits the pause between passes from the end of this one, or until SignalSyncNow; new
// settings count the pause again from its start.
func (w *estateSync) pause(ctx workflow.Context, syncNow, settings workflow.ReceiveChannel) {
	start := workflow.Now(ctx)
	for {
		timerCtx, stopTimer := workflow.WithCancel(ctx)
		done := false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(timerCtx, w.in.Every-workflow.Now(ctx).Sub(start)), func(workflow.Future) {
			done = true
		})
		sel.AddReceive(syncNow, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); done = true })
		sel.AddReceive(settings, func(c workflow.ReceiveChannel, _ bool) {
			var s EstateSettings
			c.Receive(ctx, &s)
			if s.Every > 0 {
				w.in.Every = s.Every
			}
		})
		sel.Select(ctx)
		stopTimer()
		if done || workflow.Now(ctx).Sub(start) >= w.in.Every {
			return
		}
	}
}

// takeSettings applies settings sent while the sync was busy.
func (w *estateSync) takeSettings(settings workflow.ReceiveChannel) {
	var s EstateSettings
	for settings.ReceiveAsync(&s) {
		if s.Every > 0 {
			w.in.Every = s.Every
		}
	}
}

type estateSync struct {
	in    EstateSyncInput
	state EstateState
	pos   EstatePosition
}

// pass reads the estate from where the input says, phase by phase, then delivers the changes.
func (w *estateSync) pass(ctx workflow.Context) error {
	actx := withEstateCalls(ctx)
	if w.in.At != nil {
		w.pos = *w.in.At
	} else {
		var p models.DirectoryPass
		if err := workflow.ExecuteActivity(actx, a.BeginEstatePass, w.in.PartnerID).Get(ctx, &p); err != nil {
			return err
		}
		w.pos = EstatePosition{Pass: p, Phase: EstateCustomers}
		w.state.Pages, w.state.Changes, w.state.Signals, w.state.Imported, w.state.LastError = 0, 0, 0, 0, ""
		w.state.Subscriptions, w.state.Alerts = 0, 0
	}
	w.state.Pass = w.pos.Pass.Pass
	for {
		w.state.Phase = w.pos.Phase
		if w.pos.Phase == EstateDeliver {
			return w.deliver(ctx)
		}
		if err := w.step(ctx); err != nil {
			return err
		}
		if workflow.GetInfo(ctx).GetCurrentHistoryLength() >= w.in.ContinueAsNewAfter {
			next := w.in
			at := w.pos
			next.At, next.State = &at, w.state
			return workflow.NewContinueAsNewError(ctx, EstateSync, next)
		}
	}
}

// step reads one page of the current phase and moves the position on.
func (w *estateSync) step(ctx workflow.Context) error {
	actx := withEstateCalls(ctx)
	page := activities.EstatePage{PartnerID: w.in.PartnerID, Pass: w.pos.Pass, Cursor: w.pos.Cursor}
	var got activities.EstatePageResult
	switch w.pos.Phase {
	case EstateCustomers:
		if err := workflow.ExecuteActivity(actx, a.SyncCustomerPage, page).Get(ctx, &got); err != nil {
			return err
		}
		w.advance(got, EstateGDAP)
	case EstateGDAP:
		if err := workflow.ExecuteActivity(actx, a.SyncGDAPPage, page).Get(ctx, &got); err != nil {
			return err
		}
		// Counting a relationship's assignments costs a call each: a pass counts a bounded number,
		// and the relationships it leaves are counted by the next passes (they stay uncounted).
		budget := max(0, AssignmentCountsPerPass-w.pos.Counted)
		if ids := got.CountAssignments[:min(len(got.CountAssignments), budget)]; len(ids) > 0 {
			var changes int
			w.pos.Counted += len(ids)
			in := activities.EstateAssignments{PartnerID: w.in.PartnerID, RelationshipIDs: ids}
			if err := workflow.ExecuteActivity(actx, a.CountGDAPAssignments, in).Get(ctx, &changes); err != nil {
				return err
			}
			w.state.Changes += changes
		}
		w.advance(got, EstateResellers)
		if w.pos.Phase == EstateResellers {
			return w.listResellers(ctx)
		}
	case EstateResellers:
		if w.pos.Reseller >= len(w.pos.Resellers) {
			w.pos.ResellersRead = true
			return w.afterResellers(ctx)
		}
		page.Reseller = w.pos.Resellers[w.pos.Reseller]
		if err := workflow.ExecuteActivity(actx, a.SyncResellerCustomerPage, page).Get(ctx, &got); err != nil {
			return err
		}
		w.state.Pages++
		w.state.Changes += got.Changes
		w.pos.Cursor = got.Next
		if got.Next == "" {
			w.pos.Reseller++
		}
	case EstateSubscriptions:
		return w.readSubscriptions(ctx)
	}
	return nil
}

// afterResellers moves the pass past the resellers: to the subscriptions phase, or, in a run
// recorded before that phase existed, straight to the pass's end.
func (w *estateSync) afterResellers(ctx workflow.Context) error {
	if workflow.GetVersion(ctx, estateSubscriptionsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		w.pos.Phase = EstateDeliver
		return w.end(ctx)
	}
	w.pos.Phase, w.pos.Cursor = EstateSubscriptions, ""
	return nil
}

// readSubscriptions reads the subscriptions of a bounded number of customers (those never read,
// then the least recently read; activities.SubscriptionReadsPerPass), then ends the pass. The
// bound is the pass's, kept by the directory: a run continued as new in this phase, or a retried
// activity, reads only the customers left. When they cannot be read, the pass ends without them
// and says so.
func (w *estateSync) readSubscriptions(ctx workflow.Context) error {
	in := activities.EstateSubscriptions{
		PartnerID: w.in.PartnerID, Pass: w.pos.Pass, Limit: activities.SubscriptionReadsPerPass,
	}
	var got activities.EstateSubscriptionsResult
	err := workflow.ExecuteActivity(withEstateCalls(ctx), a.SyncCustomerSubscriptions, in).Get(ctx, &got)
	if temporal.IsCanceledError(err) {
		return err
	}
	if err != nil {
		// The subscriptions add to a pass that has read everything else: a failure to read them
		// (the connection, Partner Center refusing the partner's own credentials, a day of
		// retries) is noted and the pass ends without them, rather than holding back the
		// customers, relationships and resellers it read (a pass that does not end is begun again
		// from its customers). The resellers may have been skipped too: the note keeps both.
		note := "the customers' subscriptions were not read: " + rootMessage(err)
		if w.state.LastError != "" {
			note = w.state.LastError + "; " + note
		}
		w.state.LastError = note
	}
	w.state.Subscriptions += got.Read
	w.state.Changes += got.Changes
	w.pos.Phase = EstateDeliver
	return w.end(ctx)
}

// advance counts a page and moves to the next page, or to the next phase after the last.
func (w *estateSync) advance(got activities.EstatePageResult, then string) {
	w.state.Pages++
	w.state.Changes += got.Changes
	w.pos.Cursor = got.Next
	if got.Next == "" {
		w.pos.Phase = then
	}
}

// listResellers reads which indirect resellers have authorized the partner. That needs the
// partner's App+User connection; without it the pass goes on without them, and says so.
func (w *estateSync) listResellers(ctx workflow.Context) error {
	var resellers []activities.EstateReseller
	err := workflow.ExecuteActivity(withEstateCalls(ctx), a.ListEstateResellers, w.in.PartnerID).Get(ctx, &resellers)
	if isConnectionNeeded(err) {
		w.state.LastError = "the resellers' customers were not read: " + rootMessage(err)
		return w.afterResellers(ctx)
	}
	if err != nil {
		return err
	}
	// Resellers that authorized the partner before partnerflow become known partnerships, each
	// verified as a new one is.
	var imported int
	in := activities.EstateResellerImport{PartnerID: w.in.PartnerID, Resellers: resellers, Pass: w.pos.Pass.Pass}
	err = workflow.ExecuteActivity(withEstateCalls(ctx), a.ImportEstateResellers, in).Get(ctx, &imported)
	if err != nil {
		return err
	}
	w.state.Imported += imported
	w.pos.Resellers, w.pos.Reseller, w.pos.Cursor = nil, 0, ""
	for _, r := range resellers {
		w.pos.Resellers = append(w.pos.Resellers, r.TenantID)
	}
	return nil
}

// end completes the pass in the directory: what it did not see is gone.
func (w *estateSync) end(ctx workflow.Context) error {
	in := activities.EstateEnd{PartnerID: w.in.PartnerID, Pass: w.pos.Pass, ResellersRead: w.pos.ResellersRead}
	var changes int
	if err := workflow.ExecuteActivity(withEstateCalls(ctx), a.EndEstatePass, in).Get(ctx, &changes); err != nil {
		return err
	}
	w.state.Changes += changes
	return nil
}

// deliver tells the waiting flows what the directory shows for them, then sends the directory's
// changes as outbound webhook events until none is left.
func (w *estateSync) deliver(ctx workflow.Context) error {
	if err := w.signalFlows(ctx); err != nil {
		return err
	}
	if workflow.GetVersion(ctx, changeEstateWatch, workflow.DefaultVersion, 1) == 1 {
		var alerts int
		err := workflow.ExecuteActivity(withEstateCalls(ctx), a.AlertWatchedAccess, w.in.PartnerID).Get(ctx, &alerts)
		if err != nil {
			return err
		}
		w.state.Alerts += alerts
	}
	for {
		var n int
		if err := workflow.ExecuteActivity(withEstateCalls(ctx), a.DeliverEstateChanges, w.in.PartnerID).
			Get(ctx, &n); err != nil {
			return err
		}
		if n == 0 {
			w.state.LastCompletedAt = workflow.Now(ctx)
			return nil
		}
	}
}

// signalFlows sends each waiting flow the Partner Center events the directory owes it, as the
// webhooks would have (a flow checks with the service before it believes one). A flow that has
// finished meanwhile is skipped; a crash before the batch is marked sends it again, which the
// flows' checks make harmless.
func (w *estateSync) signalFlows(ctx workflow.Context) error {
	actx := withEstateCalls(ctx)
	route := activities.EstateEnd{PartnerID: w.in.PartnerID, Pass: w.pos.Pass}
	if err := workflow.ExecuteActivity(actx, a.RouteEstateSignals, route).Get(ctx, nil); err != nil {
		return err
	}
	for {
		var batch []activities.EstateSignal
		if err := workflow.ExecuteActivity(actx, a.TakeEstateSignals, w.in.PartnerID).Get(ctx, &batch); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		sent := activities.EstateSignalsSent{PartnerID: w.in.PartnerID}
		futures := make([]workflow.Future, len(batch))
		for i, s := range batch {
			id := s.WorkflowID
			if id == "" {
				id = GDAPWatchWorkflowID(s.ResourceID)
			}
			event := PartnerCenterEvent{EventName: s.EventName, ResourceID: s.ResourceID}
			futures[i] = workflow.SignalExternalWorkflow(ctx, id, "", SignalPartnerCenterEvent, event)
			sent.IDs = append(sent.IDs, s.ID)
		}
		for i, f := range futures {
			if err := f.Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Info("a flow the directory had news for has ended",
					"workflow", batch[i].WorkflowID, "event", batch[i].EventName, "error", err)
			}
		}
		if err := workflow.ExecuteActivity(actx, a.MarkEstateSignalsSent, sent).Get(ctx, nil); err != nil {
			return err
		}
		w.state.Signals += len(batch)
	}
}

// note records why a pass stopped early, for the dashboard; a failure to note it is logged.
func (w *estateSync) note(ctx workflow.Context, reason string) {
	in := activities.EstateNote{PartnerID: w.in.PartnerID, Reason: reason}
	if err := workflow.ExecuteActivity(withEstateCalls(ctx), a.NoteEstateError, in).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("could not note the sync's error", "error", err)
	}
}

// withEstateCalls sets the options of the sync's activities: a page may wait for Partner
// Center's throttling (NextRetryDelay) and is retried for up to a day before the pass gives up
// until the next one.
func withEstateCalls(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    5 * time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		// Estate activities heartbeat while they wait for the budget or a call: a worker killed
		// mid-page is noticed in seconds, not at the end of the five minutes.
		HeartbeatTimeout: 20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
		},
	})
}
