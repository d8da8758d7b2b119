package worker_test

import (
	"reflect"
	"testing"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/workflows"
)

// TestEveryActivityNameIsRegistered holds the workflows' activity names to the methods the worker
// registers: registering *activities.Activities registers each exported method under its name.
func TestEveryActivityNameIsRegistered(t *testing.T) {
	names := []string{
		workflows.ActivityRecordInvitation, workflows.ActivityRelationshipLink, workflows.ActivityCreateGDAP,
		workflows.ActivityCheckAcceptance, workflows.ActivityWaitGDAPActive, workflows.ActivityCreateAssignment,
		workflows.ActivityWaitAssignmentActive, workflows.ActivityEndGDAP, workflows.ActivitySendInvitationMail,
		workflows.ActivityGDAPStatus, workflows.ActivitySendPartnerAlert,
	}
	typ := reflect.TypeOf(&activities.Activities{})
	for _, name := range names {
		if _, ok := typ.MethodByName(name); !ok {
			t.Errorf("workflows call activity %q, which *activities.Activities does not have", name)
		}
	}
}
