package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// GDAPWatchWorkflowID is the workflow ID of the watch of one GDAP relationship.
func GDAPWatchWorkflowID(relationshipID string) string { return "gdap-watch/" + relationshipID }

// GDAPWatchInput names an active GDAP relationship to watch for the partner.
type GDAPWatchInput struct {
	InvitationID   string
	RelationshipID string
	CustomerDomain string
	// ContactEmail receives the alerts; without one they are only on the invitation's timeline.
	ContactEmail string
	// WarnBefore is how long before the end of a relationship that does not renew itself the
	// partner is warned (default 30 days).
	WarnBefore time.Duration
	// CheckEvery is how often the relationship is read (default a day).
	CheckEvery time.Duration
	// NoPolling says the partner's estate sync reads every GDAP relationship and signals the watch
	// when this one ends: the watch reads the relationship only then and when its expiry warning
	// is due, not every CheckEvery.
	NoPolling bool `json:",omitempty"`
	// ContinueAsNewAfter is the history length at which the watch continues as a new run
	// (0: DefaultContinueAsNewAfter).
	ContinueAsNewAfter int
	// Carry is what the previous run handed over; nil on the first run.
	Carry *Carry[GDAPWatchState] `json:",omitempty"`
	// Warned and CheckNow are how runs continued before the Carry convention handed over.
	Warned, CheckNow bool
}

// GDAPWatchState is what the watch carries from run to run.
type GDAPWatchState struct {
	// Warned says the expiry warning went out, so it goes out once.
	Warned bool
}

// GDAPWatch keeps an eye on a customer's delegated admin relationship after the invitation that
// created it became active. Customers may remove a partner's access at any time in their admin
// center, and a relationship that does not renew itself simply ends; Partner Center tells the
// partner neither in time, so the watch does: it warns before the end and alerts when the access
// is gone, on the invitation's timeline and by mail to the partner's contact.
func GDAPWatch(ctx workflow.Context, in GDAPWatchInput) (string, error) {
	if in.WarnBefore <= 0 {
		in.WarnBefore = activities.WatchWarnBefore
	}
	if in.CheckEvery <= 0 {
		in.CheckEvery = 24 * time.Hour
	}
	if in.Carry == nil && (in.Warned || in.CheckNow) {
		in.Carry = &Carry[GDAPWatchState]{State: GDAPWatchState{Warned: in.Warned}, CheckNow: in.CheckNow}
	}
	in.Warned, in.CheckNow = false, false
	var (
		state   GDAPWatchState
		started = workflow.Now(ctx)
		status  string
	)
	f := newFlow[models.Invitation](
		models.KindInvitation,
		a.RecordInvitation,
		in.InvitationID,
		&status,
		in.ContinueAsNewAfter,
	)
	resume(f, in.Carry, &state, &started)
	// Partner Center events about the relationship make the watch read it at once instead of at
	// the next daily check.
	f.listen(ctx)
	defer f.drain() // events after the last read are answered by it
	actx := withServiceCalls(ctx)
	for {
		// The events so far are answered by this read.
		f.drain()
		f.checkNow = false
		var st activities.GDAPState
		if err := workflow.ExecuteActivity(actx, a.GDAPStatus, in.RelationshipID).Get(ctx, &st); err != nil {
			return "", err
		}
		switch st.Status {
		case partnercenter.GDAPStatusTerminationRequested,
			partnercenter.GDAPStatusTerminating,
			partnercenter.GDAPStatusTerminated,
			partnercenter.GDAPStatusExpired:
			return st.Status, alertPartner(ctx, f, in, activities.AlertAccessLost, st)
		}
		renews := st.AutoExtendDuration != "" && st.AutoExtendDuration != "PT0S"
		if !state.Warned && !renews && !st.EndDateTime.IsZero() &&
			!workflow.Now(ctx).Before(st.EndDateTime.Add(-in.WarnBefore)) {
			if err := alertPartner(ctx, f, in, activities.AlertAccessExpiring, st); err != nil {
				return "", err
			}
			state.Warned = true
		}
		if f.historyFull(ctx) {
			in.Carry = carry(f, state, started)
			return "", workflow.NewContinueAsNewError(ctx, GDAPWatch, in)
		}
		if err := awaitNextRead(ctx, f, in, nextRead(ctx, in, state, renews, st)); err != nil {
			return "", err
		}
	}
}

// nextRead is how long the watch waits before it reads the relationship again unless an event
// comes first; 0 means only an event. A polling watch reads every CheckEvery; one that leaves it
// to the estate sync reads again when its expiry warning falls due, and otherwise only when told.
func nextRead(
	ctx workflow.Context, in GDAPWatchInput, state GDAPWatchState, renews bool, st activities.GDAPState,
) time.Duration {
	if !in.NoPolling {
		return in.CheckEvery
	}
	if state.Warned || renews || st.EndDateTime.IsZero() {
		return 0
	}
	// The warning's moment has not come (the read above would have warned): wake then. A
	// relationship renewed meanwhile is read then and found to end later.
	return max(st.EndDateTime.Add(-in.WarnBefore).Sub(workflow.Now(ctx)), time.Second)
}

// awaitNextRead waits for an event, or for wait when it is not 0.
func awaitNextRead(ctx workflow.Context, f *flow[models.Invitation], in GDAPWatchInput, wait time.Duration) error {
	if wait == 0 {
		return workflow.Await(ctx, f.pending)
	}
	_, err := workflow.AwaitWithTimeout(ctx, wait, f.pending)
	return err
}

// alertPartner records the alert on the invitation's timeline and mails the partner's contact.
func alertPartner(
	ctx workflow.Context, f *flow[models.Invitation], in GDAPWatchInput, kind string, st activities.GDAPState,
) error {
	detail := activities.AccessAlertDetail(kind, in.RelationshipID, st.Status, st.EndDateTime)
	f.record(ctx, invitationChange{Step: kind, StepDetail: detail})
	if in.ContactEmail == "" {
		workflow.GetLogger(ctx).Warn("no partner contact to alert", "alert", kind, "relationship", in.RelationshipID)
		return nil
	}
	return workflow.ExecuteActivity(withServiceCalls(ctx), a.SendPartnerAlert, activities.PartnerAlert{
		InvitationID: in.InvitationID, Kind: kind, To: in.ContactEmail, CustomerDomain: in.CustomerDomain,
		RelationshipID: in.RelationshipID, Status: st.Status, EndsAt: st.EndDateTime,
	}).Get(ctx, nil)
}
