package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/models"
)

// Activity names of the GDAP watch.
const (
	ActivityGDAPStatus       = "GDAPStatus"
	ActivitySendPartnerAlert = "SendPartnerAlert"
)

// Partner alert kinds.
const (
	AlertAccessLost     = "access-lost"
	AlertAccessExpiring = "access-expiring"
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
	// Warned is carried across continue-as-new so the warning goes out once.
	Warned bool
	// CheckNow carries a Partner Center event received just before continue-as-new.
	CheckNow bool
	// ContinueAsNewAfter is the history length at which the watch continues as a new run
	// (0: DefaultContinueAsNewAfter).
	ContinueAsNewAfter int
}

// GDAPState is what the watch reads of a relationship.
type GDAPState struct {
	Status             string
	EndDateTime        time.Time
	AutoExtendDuration string
}

// PartnerAlert tells the partner about a customer's delegated admin access.
type PartnerAlert struct {
	InvitationID   string
	Kind           string
	To             string
	CustomerDomain string
	RelationshipID string
	Status         string
	EndsAt         time.Time
}

// GDAPWatch keeps an eye on a customer's delegated admin relationship after the invitation that
// created it became active. Customers may remove a partner's access at any time in their admin
// center, and a relationship that does not renew itself simply ends; Partner Center tells the
// partner neither in time, so the watch does: it warns before the end and alerts when the access
// is gone, on the invitation's timeline and by mail to the partner's contact.
func GDAPWatch(ctx workflow.Context, in GDAPWatchInput) (string, error) {
	if in.WarnBefore <= 0 {
		in.WarnBefore = 30 * 24 * time.Hour
	}
	if in.CheckEvery <= 0 {
		in.CheckEvery = 24 * time.Hour
	}
	if in.ContinueAsNewAfter <= 0 {
		in.ContinueAsNewAfter = DefaultContinueAsNewAfter
	}
	// Partner Center events about the relationship (SignalPartnerCenterEvent) make the watch read
	// it at once instead of at the next daily check.
	events := workflow.GetSignalChannel(ctx, SignalPartnerCenterEvent)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var ev PartnerCenterEvent
			events.Receive(ctx, &ev)
			in.CheckNow = true
		}
	})
	actx := withServiceCalls(ctx)
	for {
		in.CheckNow = false
		var st GDAPState
		if err := workflow.ExecuteActivity(actx, ActivityGDAPStatus, in.RelationshipID).Get(ctx, &st); err != nil {
			return "", err
		}
		switch st.Status {
		case "terminationRequested", "terminating", "terminated", "expired":
			return st.Status, alertPartner(ctx, in, AlertAccessLost, st)
		}
		renews := st.AutoExtendDuration != "" && st.AutoExtendDuration != "PT0S"
		if !in.Warned && !renews && !st.EndDateTime.IsZero() && !workflow.Now(ctx).Before(st.EndDateTime.Add(-in.WarnBefore)) {
			if err := alertPartner(ctx, in, AlertAccessExpiring, st); err != nil {
				return "", err
			}
			in.Warned = true
		}
		if info := workflow.GetInfo(ctx); info.GetCurrentHistoryLength() >= in.ContinueAsNewAfter || info.GetContinueAsNewSuggested() {
			for {
				var ev PartnerCenterEvent
				if !events.ReceiveAsync(&ev) {
					break
				}
				in.CheckNow = true
			}
			return "", workflow.NewContinueAsNewError(ctx, GDAPWatch, in)
		}
		if _, err := workflow.AwaitWithTimeout(ctx, in.CheckEvery, func() bool { return in.CheckNow }); err != nil {
			return "", err
		}
	}
}

// alertPartner records the alert on the invitation's timeline and mails the partner's contact.
func alertPartner(ctx workflow.Context, in GDAPWatchInput, kind string, st GDAPState) error {
	detail := fmt.Sprintf("GDAP relationship %s is %s", in.RelationshipID, st.Status)
	if kind == AlertAccessExpiring {
		detail = fmt.Sprintf("GDAP relationship %s ends on %s and does not renew itself", in.RelationshipID, st.EndDateTime.UTC().Format("2 January 2006"))
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 10 * time.Minute})
	ch := models.InvitationChange{Step: kind, StepDetail: detail, StepKey: in.InvitationID + "/" + kind, At: workflow.Now(ctx)}
	if err := workflow.ExecuteLocalActivity(lctx, ActivityRecordInvitation, in.InvitationID, ch).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("could not record the alert on the invitation", "alert", kind, "error", err)
	}
	if in.ContactEmail == "" {
		workflow.GetLogger(ctx).Warn("no partner contact to alert", "alert", kind, "relationship", in.RelationshipID)
		return nil
	}
	return workflow.ExecuteActivity(withServiceCalls(ctx), ActivitySendPartnerAlert, PartnerAlert{
		InvitationID: in.InvitationID, Kind: kind, To: in.ContactEmail, CustomerDomain: in.CustomerDomain,
		RelationshipID: in.RelationshipID, Status: st.Status, EndsAt: st.EndDateTime,
	}).Get(ctx, nil)
}
