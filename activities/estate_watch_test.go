package activities_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// TestTheEstateSyncAlertsItsWatchedInvitationsOnce: the invitations whose relationship the estate
// sync watches (no GDAP watch of their own) are alerted from the directory, each alert mailed
// and put on the timeline once, however often the sync looks, and a failed mail is sent again by
// the next attempt, never twice.
func TestTheEstateSyncAlertsItsWatchedInvitationsOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
		mailer := &countingMailer{}
		acts := activities.New(activities.Config{
			Store: store, Mailer: mailer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Outbox: testOutboxBox, Now: func() time.Time { return now },
		})
		days := func(n int) *time.Time { at := now.Add(time.Duration(n) * 24 * time.Hour); return &at }
		type watched struct {
			id, status, gdapStatus string
			estate, autoExtend     bool
			ends                   *time.Time
		}
		for _, w := range []watched{
			{"inv_lost", models.InvitationActive, partnercenter.GDAPStatusTerminated, true, false, days(100)},
			{"inv_ending", models.InvitationActive, models.GDAPActive, true, false, days(20)},
			{"inv_far", models.InvitationActive, models.GDAPActive, true, false, days(60)},
			{"inv_renews", models.InvitationActive, models.GDAPActive, true, true, days(5)},
			// Its own GDAP watch alerts it; the sync only signals that watch.
			{"inv_own_watch", models.InvitationActive, partnercenter.GDAPStatusTerminated, false, false, days(5)},
			{"inv_granting", models.InvitationGranting, partnercenter.GDAPStatusTerminated, true, false, days(5)},
		} {
			inv := &models.Invitation{
				ID: w.id, PartnerID: "p1", CustomerDomain: w.id + ".onmicrosoft.com", Status: w.status,
				WorkflowID: "invitation/" + w.id, GDAPRelationshipID: "g-" + w.id, AdminAccess: true,
				EstateWatch: w.estate, AlertEmail: "ops@provider.example",
				CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(90 * 24 * time.Hour),
			}
			if _, err := store.CreateInvitation(ctx, inv); err != nil {
				t.Fatal(err)
			}
			saveGDAP(t, store, now, models.DirectoryGDAP{
				PartnerID: "p1", ID: "g-" + w.id, CustomerTenantID: "t-" + w.id, Status: w.gdapStatus,
				AutoExtend: w.autoExtend, EndsAt: w.ends, Assignments: 1,
			})
		}
		alert := func(want int) {
			t.Helper()
			n, err := acts.AlertWatchedAccess(ctx, "p1")
			if err != nil || n != want {
				t.Fatalf("AlertWatchedAccess = %d, %v; want %d alerts", n, err, want)
			}
		}
		mailer.fail = errors.New("smtp: connection refused")
		if _, err := acts.AlertWatchedAccess(ctx, "p1"); err == nil {
			t.Fatal("a failed mail must fail the activity, so it is retried")
		}
		if got := alertSteps(t, store, "inv_lost"); len(got) != 0 {
			t.Fatalf("an alert whose mail failed is not recorded as sent: %v", got)
		}
		mailer.fail = nil
		alert(2)
		alert(0)
		if got := alertSteps(t, store, "inv_lost"); !slices.Equal(got, []string{models.StepAccessLost}) {
			t.Fatalf("inv_lost steps %v", got)
		}
		if got := alertSteps(t, store, "inv_ending"); !slices.Equal(got, []string{models.StepAccessExpiring}) {
			t.Fatalf("inv_ending steps %v", got)
		}
		for _, id := range []string{"inv_far", "inv_renews", "inv_own_watch", "inv_granting"} {
			if got := alertSteps(t, store, id); len(got) != 0 {
				t.Fatalf("%s must not be alerted by the sync: %v", id, got)
			}
		}
		// The customer then removes the access whose end was announced: one more alert, once.
		saveGDAP(t, store, now, models.DirectoryGDAP{
			PartnerID: "p1", ID: "g-inv_ending", CustomerTenantID: "t-inv_ending",
			Status: partnercenter.GDAPStatusTerminated, EndsAt: days(20), Assignments: 1,
		})
		alert(1)
		alert(0)
		if got := alertSteps(t, store, "inv_ending"); !slices.Equal(got,
			[]string{models.StepAccessExpiring, models.StepAccessLost}) {
			t.Fatalf("inv_ending steps %v", got)
		}
		var kinds []string
		for _, m := range mailer.sent {
			kinds = append(kinds, m.ID)
		}
		slices.Sort(kinds)
		want := []string{"inv_ending/access-expiring", "inv_ending/access-lost", "inv_lost/access-lost"}
		if !slices.Equal(kinds, want) {
			t.Fatalf("mails %v, want %v (each once)", kinds, want)
		}
	})
}

// saveGDAP writes one relationship to the partner's directory in a pass of its own.
func saveGDAP(t *testing.T, store *models.Store, at time.Time, g models.DirectoryGDAP) {
	t.Helper()
	ctx := context.Background()
	p, err := store.BeginDirectoryPass(ctx, g.PartnerID, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SaveDirectoryGDAP(ctx, p, []models.DirectoryGDAP{g}, at); err != nil {
		t.Fatal(err)
	}
}

// alertSteps are the access alerts on an invitation's timeline, oldest first.
func alertSteps(t *testing.T, store *models.Store, invitationID string) []string {
	t.Helper()
	steps, _, err := store.Steps(context.Background(), models.KindInvitation, invitationID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range steps {
		if s.Name == models.StepAccessLost || s.Name == models.StepAccessExpiring {
			out = append(out, s.Name)
		}
	}
	return out
}
