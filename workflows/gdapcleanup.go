package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// GDAPCleanupInput names a GDAP request that outlived its invitation.
type GDAPCleanupInput struct {
	InvitationID   string
	RelationshipID string
	// Until is when the request expires at Microsoft unapproved.
	Until     time.Time
	PollEvery time.Duration
	// ContinueAsNewAfter is the history length at which the watch continues as a new run
	// (0: DefaultContinueAsNewAfter).
	ContinueAsNewAfter int
}

// GDAPCleanup watches a GDAP request whose invitation was cancelled while the request awaited the
// customer's approval (the service cannot withdraw it then) and terminates the relationship if
// the customer approves it anyway, so a cancelled invitation never leaves admin access behind.
func GDAPCleanup(ctx workflow.Context, in GDAPCleanupInput) (string, error) {
	var status string
	f := newFlow[models.Invitation](
		models.KindInvitation,
		a.RecordInvitation,
		in.InvitationID,
		&status,
		in.ContinueAsNewAfter,
	)
	actx := withServiceCalls(ctx)
	for {
		var status string
		if err := workflow.ExecuteActivity(
			actx,
			a.EndGDAP,
			in.InvitationID+"/cleanup-gdap",
			in.RelationshipID,
		).Get(ctx, &status); err != nil {
			return "", err
		}
		switch status {
		case activities.GDAPDeleted,
			partnercenter.GDAPStatusTerminationRequested,
			partnercenter.GDAPStatusTerminating,
			partnercenter.GDAPStatusTerminated,
			partnercenter.GDAPStatusExpired:
			return status, nil
		}
		if !workflow.Now(ctx).Before(in.Until) {
			return status, nil
		}
		if f.historyFull(ctx) {
			return "", workflow.NewContinueAsNewError(ctx, GDAPCleanup, in)
		}
		if err := workflow.Sleep(ctx, in.PollEvery); err != nil {
			return "", err
		}
	}
}
