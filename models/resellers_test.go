package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

const (
	tenantAdatum = "66666666-6666-4666-8666-666666666666"
	tenantOther  = "88888888-8888-4888-8888-888888888888"
)

// newReseller inserts a partnership request of provider partner for contact email.
func newReseller(t *testing.T, store *models.Store, partner, id, email string, created time.Time) *models.Reseller {
	t.Helper()
	r := &models.Reseller{
		ID:          id,
		PartnerID:   partner,
		CompanyName: id,
		Email:       email,
		Status:      models.ResellerPending,
		WorkflowID:  "reseller/" + id,
		CreatedAt:   created,
		UpdatedAt:   created,
		ExpiresAt:   created.Add(30 * 24 * time.Hour),
	}
	if _, err := store.CreateReseller(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// activate moves a partnership through authorization with tenant to active.
func activate(ctx context.Context, store *models.Store, id, tenant string, verified time.Time) error {
	if err := store.RecordReseller(ctx, id, models.ResellerChange{
		Status: models.ResellerVerifying,
		Set:    models.Reseller{TenantID: tenant},
		Step:   "authorized",
	}); err != nil {
		return err
	}
	return store.RecordReseller(ctx, id, models.ResellerChange{
		Status: models.ResellerActive,
		Set:    models.Reseller{VerifiedAt: &verified},
		Step:   "verified",
	})
}

func TestTwoActivePartnershipsNeverShareATenant(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		now := time.Now().UTC().Truncate(time.Second)
		adatum := newReseller(t, store, "p1", "res_adatum", "admin@adatum.example", now)
		evil := newReseller(t, store, "p1", "res_evil", "boss@evil.example", now)
		elsewhere := newReseller(t, store, "p2", "res_elsewhere", "admin@adatum.example", now)
		other := newReseller(t, store, "p1", "res_other", "admin@other.example", now)

		cases := []struct {
			name    string
			id      string
			tenant  string
			wantErr error
		}{
			{"the first partnership with a tenant becomes active", adatum.ID, tenantAdatum, nil},
			{
				"a second partnership of the same provider with that tenant is refused",
				evil.ID,
				tenantAdatum,
				models.ErrTenantTaken,
			},
			{"another provider's partnership with that tenant is its own", elsewhere.ID, tenantAdatum, nil},
			{"a partnership with another tenant becomes active", other.ID, tenantOther, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := activate(ctx, store, tc.id, tc.tenant, now)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
			})
		}
		refused, err := models.Find[models.Reseller](ctx, store, evil.ID)
		if err != nil || refused.Status != models.ResellerVerifying {
			t.Fatalf("a refused activation writes nothing: %+v %v", refused, err)
		}
		steps, _, err := store.Steps(ctx, models.KindReseller, evil.ID, "", 10)
		if err != nil || len(steps) != 2 || steps[1].Name != "authorized" {
			t.Fatalf("the refused activation must add no step: %+v %v", steps, err)
		}

		// Once the first partnership ends, the tenant is free again.
		if err := store.RecordReseller(
			ctx,
			adatum.ID,
			models.ResellerChange{Status: models.ResellerRemoved, Step: "removed"},
		); err != nil {
			t.Fatal(err)
		}
		if err := store.RecordReseller(ctx, evil.ID, models.ResellerChange{Status: models.ResellerActive}); err != nil {
			t.Fatalf("a tenant whose partnership ended can be partnered again: %v", err)
		}
	})
}

func TestARequestInReviewKeepsItsContactsRequestOpen(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		now := time.Now().UTC()
		first := newReseller(t, store, "p1", "res_first", "admin@adatum.example", now)
		if err := store.RecordReseller(
			ctx,
			first.ID,
			models.ResellerChange{Status: models.ResellerNeedsReview},
		); err != nil {
			t.Fatal(err)
		}
		second := &models.Reseller{
			ID:          "res_second",
			PartnerID:   "p1",
			CompanyName: "Adatum",
			Email:       "admin@adatum.example",
			Status:      models.ResellerPending,
			WorkflowID:  "reseller/res_second",
			CreatedAt:   now,
			UpdatedAt:   now,
			ExpiresAt:   now.Add(time.Hour),
		}
		open, err := store.CreateReseller(ctx, second)
		if !errors.Is(err, models.ErrConflict) || open == nil || open.ID != first.ID {
			t.Fatalf("a second request while the first waits for review: %+v %v", open, err)
		}
		if !models.ResellerOpen(models.ResellerNeedsReview) {
			t.Fatal("a request in review is open: it can be cancelled or checked again")
		}
	})
}

// TestMigrationEndsPartnershipsThatSharedATenant: a database where the takeover already
// happened migrates; the earliest verified partnership keeps the tenant, the later one is
// failed with the reason on its row and timeline.
func TestMigrationEndsPartnershipsThatSharedATenant(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{models.DialectSQLite, models.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			store := testdb.Empty(t, dialect)
			if _, err := store.MigrateTo(ctx, 14); err != nil {
				t.Fatal(err)
			}
			base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			for i, id := range []string{"res_adatum", "res_evil", "res_other"} {
				newReseller(t, store, "p1", id, id+"@example.com", base.Add(time.Duration(i)*time.Hour))
			}
			for i, id := range []string{"res_adatum", "res_evil", "res_other"} {
				tenant := map[string]string{
					"res_adatum": tenantAdatum,
					"res_evil":   tenantAdatum,
					"res_other":  tenantOther,
				}[id]
				if err := activate(ctx, store, id, tenant, base.Add(time.Duration(24+i)*time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := store.Migrate(ctx); err != nil {
				t.Fatalf("migrate a database with duplicates: %v", err)
			}
			want := map[string]string{
				"res_adatum": models.ResellerActive,
				"res_evil":   models.ResellerFailed,
				"res_other":  models.ResellerActive,
			}
			for id, status := range want {
				r, err := models.Find[models.Reseller](ctx, store, id)
				if err != nil || r.Status != status {
					t.Fatalf("%s: %+v %v, want %s", id, r, err, status)
				}
				if status == models.ResellerFailed && (r.FailureCode != "tenant-taken" || r.FailureReason == "") {
					t.Fatalf("%s must say why it ended: %+v", id, r)
				}
			}
			steps, _, err := store.Steps(ctx, models.KindReseller, "res_evil", "", 10)
			if err != nil || steps[len(steps)-1].Name != "failed" {
				t.Fatalf("the ended partnership's timeline: %+v %v", steps, err)
			}
			if err := activate(ctx, store, "res_evil", tenantAdatum, base); !errors.Is(err, models.ErrTenantTaken) {
				t.Fatalf("after the migration the index holds: %v", err)
			}
		})
	}
}
