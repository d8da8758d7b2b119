package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

const importPartner = "partner-1"

// importActivities are the activities the estate import needs: the app database and the
// partner's contact.
func importActivities(store *models.Store) *activities.Activities {
	return activities.New(activities.Config{
		Store:           store,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Outbox:          testOutboxBox,
		DefaultLanguage: "it",
		PartnerID:       importPartner,
		ContactEmail:    "ops@provider.example",
	})
}

// partnership writes a partnership of the partner in status with tenant, as a request made it.
func partnership(t *testing.T, store *models.Store, id, company, mpnID, tenant, status string) {
	t.Helper()
	now := time.Now().UTC()
	if err := models.Create(context.Background(), store, models.KindReseller, &models.Reseller{
		ID: id, PartnerID: importPartner, CompanyName: company, Email: id + "@reseller.example", MPNID: mpnID,
		TenantID: tenant, Status: status, Source: models.ResellerSourceRequest, WorkflowID: "reseller/" + id,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
}

// importedRows returns the partner's imported partnerships by tenant.
func importedRows(t *testing.T, store *models.Store) map[string][]models.Reseller {
	t.Helper()
	var rows []models.Reseller
	if err := store.DB.Where("partner_id = ? AND source = ?", importPartner, models.ResellerSourcePartnerCenter).
		Order("created_at, id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string][]models.Reseller{}
	for _, r := range rows {
		out[r.TenantID] = append(out[r.TenantID], r)
	}
	return out
}

func TestImportEstateResellers(t *testing.T) {
	ctx := context.Background()
	listed := []activities.EstateReseller{
		{TenantID: "t-adatum", Name: "Adatum Reseller", MPNID: "1234567", State: "Active"},
		{TenantID: "t-litware", Name: "Litware Reseller", MPNID: "2345678", State: "active"},
		{TenantID: "t-inactive", Name: "Inactive Reseller", MPNID: "1111111", State: "Inactive"},
		{TenantID: "", Name: "No Tenant", MPNID: "1111112", State: "Active"},
		{TenantID: "t-partnered", Name: "Partnered Reseller", MPNID: "3456789", State: "Active"},
		{TenantID: "t-verifying", Name: "Verifying Reseller", MPNID: "3456790", State: "Active"},
		{TenantID: "t-removed", Name: "Removed Reseller", MPNID: "4567890", State: "Active"},
		{TenantID: "t-cancelled", Name: "Cancelled Reseller", MPNID: "4567891", State: "Active"},
		{TenantID: "t-failed", Name: "Failed Reseller", MPNID: "5678901", State: "Active"},
		{TenantID: "t-expired", Name: "Expired Reseller", MPNID: "5678902", State: "Active"},
		{TenantID: "t-asked-by-name", Name: "Asked  Reseller", MPNID: "6789012", State: "Active"},
		{TenantID: "t-asked-by-id", Name: "Renamed Reseller", MPNID: "7890123", State: "Active"},
	}
	// Imported: adatum, litware, failed, expired.
	want := map[string]activities.EstateReseller{}
	for _, r := range listed {
		switch r.TenantID {
		case "t-adatum", "t-litware", "t-failed", "t-expired":
			want[r.TenantID] = r
		}
	}
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		acts := importActivities(store)
		partnership(t, store, "res_partnered", "Partnered Reseller", "3456789", "t-partnered", models.ResellerActive)
		partnership(t, store, "res_verifying", "Verifying Reseller", "", "t-verifying", models.ResellerVerifying)
		partnership(t, store, "res_removed", "Removed Reseller", "4567890", "t-removed", models.ResellerRemoved)
		partnership(t, store, "res_cancelled", "Cancelled Reseller", "", "t-cancelled", models.ResellerCancelled)
		partnership(t, store, "res_failed", "Failed Reseller", "5678901", "t-failed", models.ResellerFailed)
		partnership(t, store, "res_expired", "Expired Reseller", "", "t-expired", models.ResellerExpired)
		// Open requests that no tenant matched yet: one by company name, one by PartnerID.
		partnership(t, store, "res_asked_name", "asked reseller", "", "", models.ResellerPending)
		partnership(t, store, "res_asked_id", "Old Name", "7890123", "", models.ResellerPending)
		// Another partner's partnership with adatum is its own.
		now := time.Now().UTC()
		if err := models.Create(ctx, store, models.KindReseller, &models.Reseller{
			ID: "res_elsewhere", PartnerID: "partner-2", CompanyName: "Adatum Reseller", Email: "a@adatum.example",
			TenantID: "t-adatum", Status: models.ResellerActive, WorkflowID: "reseller/res_elsewhere",
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now,
		}); err != nil {
			t.Fatal(err)
		}

		n, err := acts.ImportEstateResellers(ctx, activities.EstateResellerImport{
			PartnerID: importPartner,
			Resellers: listed,
			Pass:      1,
		})
		if err != nil || n != len(want) {
			t.Fatalf("imported %d (%v), want %d", n, err, len(want))
		}
		// The two waiting requests each hear that their reseller is listed, once in the pass.
		wantSignals := []string{"reseller/res_asked_name t-asked-by-name", "reseller/res_asked_id t-asked-by-id"}
		checkResellerSignals(t, store, wantSignals)
		rows := importedRows(t, store)
		if len(rows) != len(want) {
			t.Fatalf("imported tenants %v, want %v", rows, want)
		}
		for tenant, l := range want {
			got := rows[tenant]
			if len(got) != 1 {
				t.Fatalf("%s: %d partnerships", tenant, len(got))
			}
			r := got[0]
			if r.Status != models.ResellerVerifying || r.CompanyName != l.Name || r.MPNID != l.MPNID ||
				r.Email != "" || r.PartnerID != importPartner || r.WorkflowID != workflows.ResellerWorkflowID(r.ID) ||
				r.Language != "it" {
				t.Fatalf("%s: %+v", tenant, r)
			}
			steps, _, err := store.Steps(ctx, models.KindReseller, r.ID, "", 10)
			if err != nil || len(steps) != 1 || steps[0].Name != "created" {
				t.Fatalf("%s: timeline %+v %v", tenant, steps, err)
			}
			checkStartCommand(t, store, r)
		}

		// A second import (a retried activity, the next pass) finds every partnership it wrote.
		n, err = acts.ImportEstateResellers(ctx, activities.EstateResellerImport{
			PartnerID: importPartner,
			Resellers: listed,
			Pass:      1,
		})
		if err != nil || n != 0 {
			t.Fatalf("importing again: %d %v", n, err)
		}
		if again := importedRows(t, store); len(again) != len(want) {
			t.Fatalf("importing again added partnerships: %v", again)
		}
		checkResellerSignals(t, store, wantSignals)
		// A request still waiting at the next pass hears it again; one that stopped waiting does
		// not.
		if err := store.RecordReseller(ctx, "res_asked_id", models.ResellerChange{
			Status: models.ResellerVerifying,
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := acts.ImportEstateResellers(ctx, activities.EstateResellerImport{
			PartnerID: importPartner, Resellers: listed, Pass: 2,
		}); err != nil {
			t.Fatal(err)
		}
		checkResellerSignals(t, store, append(wantSignals, "reseller/res_asked_name t-asked-by-name"))

		// An imported partnership that failed holds nothing: the next import brings it afresh.
		failed := rows["t-litware"][0]
		ended := models.ResellerChange{Status: models.ResellerFailed}
		if err := store.RecordReseller(ctx, failed.ID, ended); err != nil {
			t.Fatal(err)
		}
		n, err = acts.ImportEstateResellers(ctx, activities.EstateResellerImport{
			PartnerID: importPartner,
			Resellers: listed,
		})
		if err != nil || n != 1 || len(importedRows(t, store)["t-litware"]) != 2 {
			t.Fatalf("importing a failed import again: %d %v", n, err)
		}
	})
}

// checkResellerSignals checks the events owed to flows, as "workflow resource", oldest first:
// each an indirect-reseller-listed event.
func checkResellerSignals(t *testing.T, store *models.Store, want []string) {
	t.Helper()
	owed, err := store.UndeliveredDirectorySignals(context.Background(), importPartner, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range owed {
		if s.EventName != activities.EventResellerListed {
			t.Fatalf("event %+v", s)
		}
		got = append(got, s.WorkflowID+" "+s.ResourceID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("signals %q, want %q", got, want)
	}
}

// checkStartCommand checks the command that starts an imported partnership's workflow: due at
// once, as the API's dispatcher starts it, with the reseller workflow's type, ID and input.
func checkStartCommand(t *testing.T, store *models.Store, r models.Reseller) {
	t.Helper()
	cmd, err := store.PendingStart(context.Background(), models.KindReseller, r.ID)
	if err != nil {
		t.Fatalf("%s: no start command: %v", r.ID, err)
	}
	if cmd.Command != models.CommandStart || cmd.WorkflowID != r.WorkflowID ||
		cmd.WorkflowType != workflows.ResellerFlow.Type || cmd.ClaimedUntil.After(time.Now()) {
		t.Fatalf("%s: command %+v", r.ID, cmd)
	}
	dec := json.NewDecoder(strings.NewReader(cmd.Payload))
	dec.DisallowUnknownFields()
	var in workflows.ResellerInput
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("%s: the payload is not the workflow's input: %v", r.ID, err)
	}
	if !in.Imported || in.ResellerID != r.ID || in.PartnerID != importPartner || in.CompanyName != r.CompanyName ||
		in.MPNID != r.MPNID || in.Email != "" || in.ContactEmail != "ops@provider.example" || in.Language != "it" {
		t.Fatalf("%s: input %+v", r.ID, in)
	}
	var attrs models.StartAttributes
	if err := json.Unmarshal([]byte(cmd.Attributes), &attrs); err != nil ||
		attrs != (models.StartAttributes{PartnerID: importPartner, Status: models.ResellerVerifying}) {
		t.Fatalf("%s: attributes %s %v", r.ID, cmd.Attributes, err)
	}
}

// TestConcurrentImportsWriteEachPartnershipOnce runs two attempts of one import at once (an
// attempt that timed out still running beside its retry): each reseller is imported once.
func TestConcurrentImportsWriteEachPartnershipOnce(t *testing.T) {
	ctx := context.Background()
	var listed []activities.EstateReseller
	for _, c := range "abcdefghij" {
		listed = append(listed, activities.EstateReseller{
			TenantID: "t-" + string(c), Name: "Reseller " + string(c), MPNID: "", State: "Active",
		})
	}
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		acts := importActivities(store)
		var wg sync.WaitGroup
		counts := make([]int, 2)
		errs := make([]error, 2)
		for i := range counts {
			wg.Go(func() {
				counts[i], errs[i] = acts.ImportEstateResellers(ctx, activities.EstateResellerImport{
					PartnerID: importPartner,
					Resellers: listed,
				})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		rows := importedRows(t, store)
		if counts[0]+counts[1] != len(listed) || len(rows) != len(listed) {
			t.Fatalf("imported %v, rows %d, want %d", counts, len(rows), len(listed))
		}
		for tenant, rs := range rows {
			if len(rs) != 1 {
				t.Fatalf("%s imported %d times", tenant, len(rs))
			}
		}
		var cmds int64
		if err := store.DB.Model(&models.FlowCommand{}).Where("flow_kind = ?", models.KindReseller).
			Count(&cmds).Error; err != nil || cmds != int64(len(listed)) {
			t.Fatalf("start commands %d %v", cmds, err)
		}
	})
}

// TestAnImportedPartnershipIsFoundByItsTenant: Partner Center's list identifies an imported
// partnership by its tenant, whatever names it lists; another PartnerID stops it for review, a
// tenant no longer listed is not found.
func TestAnImportedPartnershipIsFoundByItsTenant(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const adatum = "66666666-6666-4666-8666-666666666666" // seeded, authorized, MPN 1234567
	imported := func(id, company, mpnID, tenant string) {
		t.Helper()
		now := time.Now().UTC()
		if err := f.store.ImportReseller(ctx, &models.Reseller{
			ID: id, PartnerID: sim.DefaultHomePartner.TenantID, CompanyName: company, MPNID: mpnID,
			TenantID: tenant, Status: models.ResellerVerifying, WorkflowID: "reseller/" + id,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now,
		}); err != nil {
			t.Fatal(err)
		}
	}
	imported("res_adatum", "Adatum (as once listed)", "1234567", adatum)
	p, err := f.acts.FindPartnership(ctx, "res_adatum")
	if err != nil || !p.Found || p.TenantID != adatum || p.MPNID != "1234567" || p.Name != "Adatum Reseller" ||
		p.Location == "" {
		t.Fatalf("found by tenant: %+v %v", p, err)
	}
	// One open import per tenant: the first one ends before the next cases.
	ended := models.ResellerChange{Status: models.ResellerFailed}
	if err := f.store.RecordReseller(ctx, "res_adatum", ended); err != nil {
		t.Fatal(err)
	}
	imported("res_changed", "Adatum Reseller", "9999999", adatum)
	if p, err := f.acts.FindPartnership(ctx, "res_changed"); err != nil || p.Found ||
		p.Review != activities.ReviewPartnerIDMismatch || p.Reason == "" {
		t.Fatalf("listed with another PartnerID: %+v %v", p, err)
	}
	imported("res_gone", "Adatum Reseller", "1234567", "99999999-9999-4999-8999-999999999999")
	if p, err := f.acts.FindPartnership(ctx, "res_gone"); err != nil || p.Found || p.Review != "" {
		t.Fatalf("a tenant Partner Center no longer lists: %+v %v", p, err)
	}
}
