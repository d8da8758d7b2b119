package models_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

// invitationFunnel is the overview's funnel of the invitation flow.
var invitationFunnel = []string{"sent", "opened", "reseller-accepted", "gdap-approved", "active"}

const day = 24 * time.Hour

// statsFixture writes partner p1's invitations, each with its status and its timeline as
// offsets from its creation, and noise the statistics must ignore.
func statsFixture(t *testing.T, store *models.Store, t0 time.Time) {
	t.Helper()
	ctx := context.Background()
	type flow struct {
		id, partner, status string
		created             time.Time
		steps               []string
		at                  []time.Duration
	}
	flows := []flow{
		{"inv_1", "p1", models.InvitationActive, t0,
			[]string{"sent", "opened", "opened", "reseller-accepted", "reseller-accepted", "gdap-approved", "active"},
			[]time.Duration{time.Minute, time.Hour, 2 * time.Hour, 2 * day, 10 * day, 2*day + time.Hour,
				2*day + 2*time.Hour}},
		{"inv_2", "p1", models.InvitationAccepted, t0.Add(time.Hour),
			[]string{"sent", "opened", "reseller-accepted"}, []time.Duration{time.Minute, time.Hour, 4 * day}},
		{"inv_3", "p1", models.InvitationPending, t0.Add(2 * time.Hour),
			[]string{"sent"}, []time.Duration{time.Minute}},
		{"inv_4", "p1", models.InvitationCancelled, t0.Add(3 * time.Hour), nil, nil},
		{"inv_5", "p1", "archived", t0.Add(4 * time.Hour), nil, nil},
		// Another partner's flow reaches every step fast; none of it may count for p1.
		{"inv_9", "p2", models.InvitationActive, t0,
			[]string{"sent", "opened", "reseller-accepted", "gdap-approved", "active"},
			[]time.Duration{time.Second, time.Second, time.Minute, time.Minute, time.Minute}},
	}
	for _, f := range flows {
		inv := newInvitation(f.id, f.id+".example.com", f.created)
		inv.PartnerID, inv.Status = f.partner, f.status
		if _, err := store.CreateInvitation(ctx, inv); err != nil {
			t.Fatal(err)
		}
		for i, name := range f.steps {
			if err := store.AddStep(
				ctx,
				models.KindInvitation,
				f.id,
				name,
				"",
				"",
				f.created.Add(f.at[i]),
			); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A step of another flow kind that happens to share an invitation's ID is not the invitation's.
	if err := store.AddStep(ctx, "partnership", "inv_3", "reseller-accepted", "", "", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestFlowStatistics(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		statsFixture(t, store, t0)

		t.Run("statuses come in lifecycle order with zeros, unknown ones last", func(t *testing.T) {
			got, err := models.StatusCounts[models.Invitation](ctx, store, "p1", models.InvitationStatuses)
			if err != nil {
				t.Fatal(err)
			}
			want := []models.Count{
				{Name: "pending", N: 1}, {Name: "accepted", N: 1}, {Name: "granting", N: 0}, {Name: "active", N: 1},
				{Name: "declined", N: 0}, {Name: "expired", N: 0}, {Name: "cancelled", N: 1}, {Name: "failed", N: 0},
				{Name: "archived", N: 1},
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("status counts = %v, want %v", got, want)
			}
		})

		t.Run("the funnel counts distinct flows of the partner and kind at each step", func(t *testing.T) {
			got, err := models.Funnel[models.Invitation](ctx, store, models.KindInvitation, "p1", invitationFunnel)
			if err != nil {
				t.Fatal(err)
			}
			want := []models.Count{
				{Name: "sent", N: 3},
				{Name: "opened", N: 2},
				{Name: "reseller-accepted", N: 2},
				{Name: "gdap-approved", N: 1},
				{Name: "active", N: 1},
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("funnel = %v, want %v", got, want)
			}
		})

		t.Run("only the flows whose row meets a condition are counted", func(t *testing.T) {
			got, err := models.Funnel[models.Invitation](ctx, store, models.KindInvitation, "p1",
				[]string{"sent"}, "f.status = 'active'")
			if err != nil {
				t.Fatal(err)
			}
			if want := []models.Count{{Name: "sent", N: 1}}; !reflect.DeepEqual(got, want) {
				t.Fatalf("funnel of the active ones = %v, want %v", got, want)
			}
			_, n, err := models.MedianTimeToStep[models.Invitation](ctx, store, models.KindInvitation, "p1", "sent",
				"f.status = 'active'")
			if err != nil || n != 1 {
				t.Fatalf("median of the active ones over %d flows, %v", n, err)
			}
		})

		t.Run("a partner without flows has an empty funnel", func(t *testing.T) {
			got, err := models.Funnel[models.Invitation](
				ctx,
				store,
				models.KindInvitation,
				"p3",
				[]string{"sent", "active"},
			)
			if err != nil {
				t.Fatal(err)
			}
			if want := []models.Count{{Name: "sent"}, {Name: "active"}}; !reflect.DeepEqual(got, want) {
				t.Fatalf("funnel = %v, want %v", got, want)
			}
		})

		median := func(t *testing.T, step string) (time.Duration, int) {
			t.Helper()
			d, n, err := models.MedianTimeToStep[models.Invitation](ctx, store, models.KindInvitation, "p1", step)
			if err != nil {
				t.Fatal(err)
			}
			return d, n
		}

		t.Run(
			"the median of an even count is halfway between the middle two, from each flow's first step",
			func(t *testing.T) {
				// inv_1 first accepted after 2 days (again after 10), inv_2 after 4.
				if d, n := median(t, "reseller-accepted"); d != 3*day || n != 2 {
					t.Fatalf("median = %v over %d flows, want 72h over 2", d, n)
				}
			},
		)

		t.Run("a step no flow reached has no median", func(t *testing.T) {
			if d, n := median(t, "gdap-active"); d != 0 || n != 0 {
				t.Fatalf("median = %v over %d flows, want none", d, n)
			}
		})

		t.Run("the median of an odd count is the middle one", func(t *testing.T) {
			if err := store.AddStep(
				ctx,
				models.KindInvitation,
				"inv_3",
				"reseller-accepted",
				"",
				"",
				t0.Add(2*time.Hour+9*day),
			); err != nil {
				t.Fatal(err)
			}
			if d, n := median(t, "reseller-accepted"); d != 4*day || n != 3 {
				t.Fatalf("median = %v over %d flows, want 96h over 3", d, n)
			}
		})
	})
}
