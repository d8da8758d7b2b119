package models_test

import (
	"context"
	"errors"
	"fmt"
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
			// Rows as version 14 wrote them: without the columns later migrations add.
			legacy := &models.Store{DB: store.DB.Omit("Source", "State"), Dialect: store.Dialect}
			base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			for i, id := range []string{"res_adatum", "res_evil", "res_other"} {
				newReseller(t, legacy, "p1", id, id+"@example.com", base.Add(time.Duration(i)*time.Hour))
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

// importedReseller writes a partnership imported from Partner Center for tenant, as the estate
// import does: no contact, status verifying.
func importedReseller(t *testing.T, store *models.Store, partner, id, tenant string) error {
	t.Helper()
	now := time.Now().UTC()
	return store.ImportReseller(context.Background(), &models.Reseller{
		ID:          id,
		PartnerID:   partner,
		CompanyName: "Imported " + id,
		MPNID:       "1234567",
		TenantID:    tenant,
		Status:      models.ResellerVerifying,
		WorkflowID:  models.ResellerWorkflowID(id),
		CreatedAt:   now,
		UpdatedAt:   now,
		ExpiresAt:   now,
	})
}

func TestImportedPartnershipsHaveNoContactAndKeepTheTenantRules(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		now := time.Now().UTC()
		request := newReseller(t, store, "p1", "res_request", "admin@adatum.example", now)
		if got, err := models.Find[models.Reseller](ctx, store, request.ID); err != nil ||
			got.Source != models.ResellerSourceRequest {
			t.Fatalf("a request's source: %+v %v", got, err)
		}

		// Two imported partnerships, both without a contact e-mail, do not collide.
		if err := importedReseller(t, store, "p1", "res_imp_a", tenantAdatum); err != nil {
			t.Fatalf("first imported: %v", err)
		}
		if err := importedReseller(t, store, "p1", "res_imp_b", tenantOther); err != nil {
			t.Fatalf("a second imported partnership without a contact: %v", err)
		}
		got, err := models.Find[models.Reseller](ctx, store, "res_imp_a")
		if err != nil || got.Source != models.ResellerSourcePartnerCenter || got.Email != "" {
			t.Fatalf("imported row: %+v %v", got, err)
		}
		steps, _, err := store.Steps(ctx, models.KindReseller, "res_imp_a", "", 10)
		if err != nil || len(steps) != 1 || steps[0].Name != "created" {
			t.Fatalf("an imported partnership's timeline starts with created: %+v %v", steps, err)
		}

		// A request per contact is still one: the rule holds where there is a contact.
		second := &models.Reseller{
			ID: "res_request_2", PartnerID: "p1", CompanyName: "Adatum", Email: "admin@adatum.example",
			Status: models.ResellerPending, WorkflowID: "reseller/res_request_2",
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour),
		}
		if open, err := store.CreateReseller(ctx, second); !errors.Is(err, models.ErrConflict) ||
			open == nil || open.ID != request.ID {
			t.Fatalf("a second request for one contact: %+v %v", open, err)
		}

		// The same tenant is imported once while its import is open (a second attempt of the import).
		if err := importedReseller(t, store, "p1", "res_imp_again", tenantAdatum); !errors.Is(
			err,
			models.ErrConflict,
		) {
			t.Fatalf("a second open import of one tenant: %v", err)
		}
		if err := importedReseller(t, store, "p2", "res_imp_p2", tenantAdatum); err != nil {
			t.Fatalf("another provider's import of that tenant is its own: %v", err)
		}

		// A tenant is active in at most one partnership, whatever its source.
		if err := activate(ctx, store, request.ID, tenantAdatum, now); err != nil {
			t.Fatal(err)
		}
		err = store.RecordReseller(ctx, "res_imp_a", models.ResellerChange{Status: models.ResellerActive})
		if !errors.Is(err, models.ErrTenantTaken) {
			t.Fatalf("an imported partnership with an active request's tenant: %v", err)
		}

		// Once the import failed, the tenant can be imported afresh.
		if err := store.RecordReseller(
			ctx,
			"res_imp_a",
			models.ResellerChange{Status: models.ResellerFailed},
		); err != nil {
			t.Fatal(err)
		}
		if err := importedReseller(t, store, "p1", "res_imp_again", tenantAdatum); err != nil {
			t.Fatalf("importing a tenant whose import failed: %v", err)
		}
	})
}

func TestWhichPartnershipsHoldATenantAgainstAnImport(t *testing.T) {
	ctx := context.Background()
	holds := map[string]bool{
		models.ResellerPending:            true,
		models.ResellerVerifying:          true,
		models.ResellerVerificationFailed: true,
		models.ResellerNeedsReview:        true,
		models.ResellerActive:             true,
		models.ResellerCancelled:          true,
		models.ResellerRemoved:            true,
		models.ResellerFailed:             false,
		models.ResellerExpired:            false,
	}
	if len(holds) != len(models.ResellerStatuses) {
		t.Fatalf("every status must be decided: %v", models.ResellerStatuses)
	}
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		for i, status := range models.ResellerStatuses {
			want, ok := holds[status]
			if !ok || models.ResellerHoldsTenant(status) != want {
				t.Fatalf("%s holds the tenant: %v, want %v", status, models.ResellerHoldsTenant(status), want)
			}
			tenant := fmt.Sprintf("tenant-%d", i)
			id := "res_" + status
			if err := importedReseller(t, store, "p1", id, tenant); err != nil {
				t.Fatal(err)
			}
			if err := store.RecordReseller(ctx, id, models.ResellerChange{Status: status}); err != nil {
				t.Fatal(err)
			}
			held, err := store.ResellerHoldingTenant(ctx, "p1", tenant)
			switch {
			case want && (err != nil || held.ID != id):
				t.Fatalf("a %s partnership holds its tenant: %+v %v", status, held, err)
			case !want && !errors.Is(err, models.ErrNotFound):
				t.Fatalf("a %s partnership holds nothing: %+v %v", status, held, err)
			}
			if _, err := store.ResellerHoldingTenant(ctx, "p2", tenant); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("another provider's partnership holds nothing of this one's: %v", err)
			}
		}

		// Open requests no tenant matched yet, for the import to leave to them.
		now := time.Now().UTC()
		waiting := newReseller(t, store, "p1", "res_waiting", "admin@waiting.example", now)
		matched := newReseller(t, store, "p1", "res_matched", "admin@matched.example", now)
		if err := activate(ctx, store, matched.ID, "tenant-matched", now); err != nil {
			t.Fatal(err)
		}
		cancelled := newReseller(t, store, "p1", "res_cancelled_request", "admin@cancelled.example", now)
		if err := store.RecordReseller(
			ctx,
			cancelled.ID,
			models.ResellerChange{Status: models.ResellerCancelled},
		); err != nil {
			t.Fatal(err)
		}
		newReseller(t, store, "p2", "res_elsewhere", "admin@waiting.example", now)
		requests, err := store.UnmatchedResellerRequests(ctx, "p1")
		if err != nil || len(requests) != 1 || requests[0].ID != waiting.ID {
			t.Fatalf("unmatched requests: %+v %v", requests, err)
		}
	})
}
