package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

func newInvitation(id, domain string, at time.Time) *models.Invitation {
	return &models.Invitation{
		ID: id, PartnerID: "p1", CustomerDomain: domain, CustomerEmail: "admin@" + domain, Roles: "r",
		DurationDays: 30, Status: models.InvitationPending, WorkflowID: "invitation/p1/" + domain,
		CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(90 * 24 * time.Hour),
	}
}

func TestFlowRecordIsIdempotentAndWritesOnlyGivenColumns(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if _, err := store.CreateInvitation(ctx, newInvitation("inv_1", "contoso.com", at)); err != nil {
			t.Fatal(err)
		}
		ch := models.InvitationChange{
			Status:     models.InvitationAccepted,
			Set:        models.Invitation{CustomerTenantID: "tenant-1", RemindersSent: 2},
			Step:       "reseller-accepted",
			StepDetail: "tenant-1",
			StepKey:    "inv_1/reseller-accepted",
			At:         at.Add(time.Hour),
			State:      `{"Status":"accepted"}`,
		}
		for range 2 {
			if err := models.Record(ctx, store, models.KindInvitation, "inv_1", ch); err != nil {
				t.Fatal(err)
			}
		}
		// A later change that names only the status leaves the other columns (the recorded state
		// among them) alone.
		if err := models.Record(ctx, store, models.KindInvitation, "inv_1", models.InvitationChange{
			Status: models.InvitationGranting,
			At:     at.Add(2 * time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
		inv, err := models.Find[models.Invitation](ctx, store, "inv_1")
		if err != nil {
			t.Fatal(err)
		}
		if inv.Status != models.InvitationGranting || inv.CustomerTenantID != "tenant-1" || inv.RemindersSent != 2 ||
			inv.CustomerEmail != "admin@contoso.com" || inv.FlowState() != `{"Status":"accepted"}` {
			t.Fatalf("row after the changes = %+v", inv)
		}
		if !inv.UpdatedAt.Equal(at.Add(2 * time.Hour)) {
			t.Fatalf("updated_at = %v, want the change's time", inv.UpdatedAt)
		}
		steps, next, err := store.Steps(ctx, models.KindInvitation, "inv_1", "", 0)
		if err != nil || next != "" {
			t.Fatal(err, next)
		}
		if len(steps) != 2 || steps[0].Name != "created" || steps[1].Name != "reseller-accepted" {
			t.Fatalf("timeline = %+v, want created and one reseller-accepted", steps)
		}
		err = models.Record(ctx, store, models.KindInvitation, "inv_missing", ch)
		if !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("recording a missing flow = %v, want ErrNotFound", err)
		}
	})
}

func TestFlowStepsArePaged(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if _, err := store.CreateInvitation(ctx, newInvitation("inv_1", "contoso.com", at)); err != nil {
			t.Fatal(err)
		}
		// Steps at the same instant are ordered by insertion, and paging loses none of them.
		for i := range 11 {
			if err := store.AddStep(
				ctx,
				models.KindInvitation,
				"inv_1",
				"opened",
				"",
				fmt.Sprintf("k%d", i),
				at.Add(time.Duration(i/3)*time.Second),
			); err != nil {
				t.Fatal(err)
			}
		}
		var got []models.FlowStep
		cursor, pages := "", 0
		for {
			page, next, err := store.Steps(ctx, models.KindInvitation, "inv_1", cursor, 4)
			if err != nil {
				t.Fatal(err)
			}
			got, pages = append(got, page...), pages+1
			if next == "" {
				break
			}
			cursor = next
		}
		if len(got) != 12 || pages != 3 {
			t.Fatalf("paged %d steps in %d pages, want 12 in 3", len(got), pages)
		}
		seen := map[int64]bool{}
		for _, s := range got {
			if seen[s.ID] {
				t.Fatalf("step %d returned twice", s.ID)
			}
			seen[s.ID] = true
		}
		if _, _, err := store.Steps(
			ctx,
			models.KindInvitation,
			"inv_1",
			"not-a-cursor",
			4,
		); !errors.Is(err, models.ErrBadCursor) {
			t.Fatalf("bad cursor = %v, want ErrBadCursor", err)
		}
	})
}

func TestListSearchEscapesWildcards(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for i, d := range []string{"a_b.com", "axb.com", "a%c.com"} {
			if _, err := store.CreateInvitation(ctx, newInvitation(fmt.Sprintf("inv_%d", i), d, at)); err != nil {
				t.Fatal(err)
			}
		}
		for search, want := range map[string]int{"a_": 1, "a%": 1, "a": 3, "ax": 1} {
			items, _, err := models.List[models.Invitation](
				ctx,
				store,
				models.ListFilter{PartnerID: "p1", Search: search, SearchColumn: models.InvitationSearchColumn},
			)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != want {
				t.Errorf("search %q found %d, want %d", search, len(items), want)
			}
		}
	})
}

// TestMigrationMovesInvitationSteps migrates a database at the first slice's schema, with a
// timeline in invitation_steps, to the shared flow_steps.
func TestMigrationMovesInvitationSteps(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{models.DialectSQLite, models.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			store := testdb.Empty(t, dialect)
			if _, err := store.MigrateTo(ctx, 2); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			// The row as the first slice wrote it: without the columns later migrations add.
			if err := store.DB.Omit("AdminAccess", "Cloud", "DomainTenantID", "EstateWatch", "AlertEmail", "State").
				Create(newInvitation("inv_old", "contoso.com", at)).Error; err != nil {
				t.Fatal(err)
			}
			for i, name := range []string{"created", "sent", "opened"} {
				err := store.DB.Exec(
					"INSERT INTO invitation_steps (invitation_id, name, detail, idempotency_key, at) "+
						"VALUES (?, ?, ?, ?, ?)",
					"inv_old",
					name,
					"d"+name,
					"inv_old/"+name,
					at.Add(time.Duration(i)*time.Minute),
				).Error
				if err != nil {
					t.Fatal(err)
				}
			}
			if _, err := store.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			steps, _, err := store.Steps(ctx, models.KindInvitation, "inv_old", "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) != 3 || steps[1].Name != "sent" || steps[1].Detail != "dsent" ||
				steps[1].IdempotencyKey != "inv_old/sent" || !steps[2].At.Equal(at.Add(2*time.Minute)) {
				t.Fatalf("moved timeline = %+v", steps)
			}
			// The moved keys still deduplicate: the workflow retrying "sent" adds nothing.
			if err := store.AddStep(ctx, models.KindInvitation, "inv_old", "sent", "", "inv_old/sent", at); err != nil {
				t.Fatal(err)
			}
			if steps, _, _ := store.Steps(ctx, models.KindInvitation, "inv_old", "", 0); len(steps) != 3 {
				t.Fatalf("a moved key was written again: %d steps", len(steps))
			}
			if store.DB.Migrator().HasTable("invitation_steps") {
				t.Fatal("invitation_steps still exists")
			}
			// An invitation from before the variants asked for admin roles, in the public cloud.
			old, err := models.Find[models.Invitation](ctx, store, "inv_old")
			if err != nil || !old.AdminAccess || old.Cloud != models.CloudPublic {
				t.Fatalf("an old invitation after migration: %+v %v", old, err)
			}
		})
	}
}

// TestListPagesThroughFlowsCreatedAtTheSameInstant: the cursor is (created_at, id), compared as
// a row, so flows created at one instant are neither lost nor repeated across pages, newest
// first, on both databases.
func TestListPagesThroughFlowsCreatedAtTheSameInstant(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		var want []string
		for i := range 7 {
			id := fmt.Sprintf("inv_%d", i)
			created := at
			if i == 6 {
				created = at.Add(time.Second) // the newest
			}
			inv := newInvitation(id, fmt.Sprintf("c%d.example", i), created)
			if _, err := store.CreateInvitation(ctx, inv); err != nil {
				t.Fatal(err)
			}
			want = append([]string{id}, want...)
		}
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			items, next, err := models.List[models.Invitation](ctx, store, models.ListFilter{Limit: 2, Cursor: cursor})
			if err != nil || pages > 10 {
				t.Fatalf("page %d: %v", pages, err)
			}
			for _, inv := range items {
				got = append(got, inv.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pages gave %v, want %v", got, want)
		}
	})
}
