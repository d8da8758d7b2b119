package workflows_test

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

func TestFlowsWaitForThePartnerCenterConnection(t *testing.T) {
	cases := []struct {
		name string
		// connectAt is when a global admin connects; signal says whether the API tells the flow.
		connectAt time.Duration
		signal    bool
		// resumedBy is the latest the invitation may ask for its link again.
		resumedBy time.Duration
	}{
		{
			"a flow started before connecting waits, and resumes as soon as the API signals the connection",
			3 * time.Hour,
			true,
			3*time.Hour + time.Minute,
		},
		{
			"a signal lost with the API process is made up for by the recheck (15 minutes, doubling)",
			time.Hour,
			false,
			time.Hour + 45*time.Minute + time.Minute,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{acceptAt: 5 * time.Hour, approveAt: 5 * time.Hour, disconnected: true}
			env := newInvitationEnv(t, w)
			var resumedAt time.Duration
			env.RegisterDelayedCallback(func() {
				w.setDisconnected(false)
				if tc.signal {
					env.SignalWorkflow(workflows.SignalConnected, nil)
				}
			}, tc.connectAt)
			env.RegisterDelayedCallback(func() {
				// While it waits the flow is neither failed nor retrying into a storm: the first
				// call, then rechecks after 15, 30, 60 minutes...
				if n := w.linkCalls; n > 5 {
					t.Errorf("the link was asked for %d times while waiting", n)
				}
				if len(w.mails) != 0 {
					t.Errorf("mails sent before the flow could make its link: %v", w.mails)
				}
			}, tc.connectAt-time.Minute)
			env.ExecuteWorkflow(workflows.Invitation, input(env))
			state, err := result(t, env)
			if err != nil {
				t.Fatal(err)
			}
			if state.Status != models.InvitationActive {
				t.Fatalf("status %s, want active", state.Status)
			}
			for i, m := range w.mails {
				if m.Kind == activities.MailInvitation {
					resumedAt = w.mailTimes[i]
				}
			}
			if resumedAt < tc.connectAt || resumedAt > tc.resumedBy {
				t.Errorf("the invitation went out at %v, want between %v and %v", resumedAt, tc.connectAt, tc.resumedBy)
			}
			if len(w.mailsOf(activities.MailInvitation)) != 1 {
				t.Errorf("invitations sent: %d, want 1", len(w.mailsOf(activities.MailInvitation)))
			}
			if w.count(workflows.StepConnectionNeeded) == 0 || w.count(workflows.StepConnectionResumed) == 0 {
				t.Errorf("the wait is not on the timeline: %v", w.stepNames())
			}
		})
	}
}

func TestResendIsRefusedWhileWaitingForTheConnection(t *testing.T) {
	w := &world{acceptAt: 3 * time.Hour, approveAt: 3 * time.Hour, disconnected: true}
	env := newInvitationEnv(t, w)
	var refused error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateResend, "resend-1", &testsuite.TestUpdateCallback{
			OnAccept: func() { t.Error("a resend was accepted before the invitation could be made") },
			OnReject: func(err error) { refused = err }, OnComplete: func(any, error) {},
		}, workflows.ResendRequest{By: "ops"})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		w.setDisconnected(false)
		env.SignalWorkflow(workflows.SignalConnected, nil)
	}, 2*time.Hour)
	env.ExecuteWorkflow(workflows.Invitation, input(env))
	if _, err := result(t, env); err != nil {
		t.Fatal(err)
	}
	if refused == nil || !strings.Contains(refused.Error(), "waits for the Partner Center connection") {
		t.Fatalf("resend while waiting: %v", refused)
	}
	if n := len(w.mailsOf(activities.MailInvitation)); n != 1 {
		t.Fatalf("invitations sent: %d, want 1", n)
	}
}

func TestCancelWhileWaitingForTheConnection(t *testing.T) {
	w := &world{disconnected: true}
	env := newInvitationEnv(t, w)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateCancel, "cancel-1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Errorf("cancel refused while waiting: %v", err) },
			OnComplete: func(_ any, err error) {
				if err != nil {
					t.Errorf("cancel: %v", err)
				}
			},
		}, workflows.CancelRequest{By: "ops", Reason: "wrong customer"})
	}, time.Hour)
	env.ExecuteWorkflow(workflows.Invitation, input(env))
	state, err := result(t, env)
	if err != nil {
		t.Fatalf("a flow cancelled while waiting for the connection failed: %v", err)
	}
	if state.Status != models.InvitationCancelled {
		t.Fatalf("status %s, want cancelled", state.Status)
	}
	if len(w.mails) != 0 || len(w.ended) != 0 {
		t.Errorf("mails %v, ended %v: nothing was started, nothing to send or undo", w.mails, w.ended)
	}
}
