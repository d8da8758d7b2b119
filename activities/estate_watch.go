package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// WatchWarnBefore is how long before a watched relationship that does not extend itself ends
// the partner is warned, by the GDAP watch and by the estate sync alike.
const WatchWarnBefore = 30 * 24 * time.Hour

// watchLostStatuses are the statuses of a watched relationship whose access is gone.
var watchLostStatuses = []string{
	partnercenter.GDAPStatusTerminationRequested,
	partnercenter.GDAPStatusTerminating,
	partnercenter.GDAPStatusTerminated,
	partnercenter.GDAPStatusExpired,
}

// AccessLost says whether a watched relationship in this status no longer gives access.
func AccessLost(status string) bool {
	for _, s := range watchLostStatuses {
		if s == status {
			return true
		}
	}
	return false
}

// AccessAlertDetail is the timeline text of an access alert.
func AccessAlertDetail(kind, relationshipID, status string, endsAt time.Time) string {
	if kind == AlertAccessExpiring {
		return fmt.Sprintf("GDAP relationship %s ends on %s and does not renew itself",
			relationshipID, endsAt.UTC().Format("2 January 2006"))
	}
	return fmt.Sprintf("GDAP relationship %s is %s", relationshipID, status)
}

// AlertWatchedAccess sends the alerts the directory owes the active invitations whose GDAP
// relationship the estate sync watches (one watcher per partner instead of a GDAP watch workflow
// per relationship): the customer removed the access, or the relationship ends within
// WatchWarnBefore and does not extend itself. Each alert is mailed to the invitation's contact
// (the outbox key the GDAP watch uses) and then recorded on the invitation's timeline under
// models.AlertStepKey, which is what marks it sent: a retry after a crash finishes an alert and
// never repeats one. It returns how many alerts it sent.
func (a *Activities) AlertWatchedAccess(ctx context.Context, partnerID string) (int, error) {
	defer estateHeartbeat(ctx)()
	owed, err := a.cfg.Store.WatchedAccessAlerts(ctx, partnerID, watchLostStatuses, a.cfg.Now().Add(WatchWarnBefore))
	if err != nil {
		return 0, err
	}
	for i, w := range owed {
		var ends time.Time
		if w.EndsAt != nil {
			ends = *w.EndsAt
		}
		if w.Gone {
			w.Status = "gone (Microsoft Graph no longer lists it)"
		}
		if w.AlertEmail != "" {
			err := a.SendPartnerAlert(ctx, PartnerAlert{
				InvitationID: w.InvitationID, Kind: w.Step, To: w.AlertEmail, CustomerDomain: w.CustomerDomain,
				RelationshipID: w.RelationshipID, Status: w.Status, EndsAt: ends,
			})
			if err != nil {
				return i, err
			}
		}
		err := a.RecordInvitation(ctx, w.InvitationID, models.InvitationChange{
			Step: w.Step, StepDetail: AccessAlertDetail(w.Step, w.RelationshipID, w.Status, ends),
			StepKey: models.AlertStepKey(w.InvitationID, w.Step), At: a.cfg.Now(),
		})
		if err != nil {
			return i, err
		}
	}
	return len(owed), nil
}
