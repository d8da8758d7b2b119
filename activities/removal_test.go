package activities_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// flakyReads is Partner Center whose first reads of each customer fail: the first is a lost
// answer, the second a 503.
type flakyReads struct {
	partnercenter.Client
	mu    sync.Mutex
	reads map[string]int
}

func (f *flakyReads) GetCustomer(ctx context.Context, id string) (partnercenter.Customer, error) {
	f.mu.Lock()
	f.reads[id]++
	n := f.reads[id]
	f.mu.Unlock()
	switch n {
	case 1:
		return partnercenter.Customer{}, errors.New("read tcp: connection reset by peer")
	case 2:
		return partnercenter.Customer{}, &partnercenter.Error{StatusCode: 503}
	}
	return f.Client.GetCustomer(ctx, id)
}

// TestPlanningARemovalSurvivesFailedReads plans the deliveries of a reseller with 25 customers
// while every customer's first two reads fail: one attempt of the activity still plans them
// all, instead of failing the page on the first failed read.
func TestPlanningARemovalSurvivesFailedReads(t *testing.T) {
	var flaky *flakyReads
	f := newFixtureWith(t, func(c *activities.Config) {
		flaky = &flakyReads{Client: c.PartnerCenter, reads: map[string]int{}}
		c.PartnerCenter = flaky
	})
	ctx := context.Background()
	const reseller = "66666666-6666-4666-8666-666666666666" // seeded Adatum, already partnered
	if _, err := f.sim.AddResellerCustomers(reseller, 25); err != nil {
		t.Fatal(err)
	}
	if err := models.Create(ctx, f.store, models.KindReseller, &models.Reseller{
		ID:          "res_1",
		PartnerID:   sim.DefaultHomePartner.TenantID,
		CompanyName: "Adatum Reseller",
		Email:       "admin@adatum.onmicrosoft.com",
		TenantID:    reseller,
		Status:      models.ResellerRemoved,
	}); err != nil {
		t.Fatal(err)
	}
	if err := models.Create(ctx, f.store, models.KindRemoval, &models.Removal{
		ID:               "rm_1",
		PartnerID:        sim.DefaultHomePartner.TenantID,
		ResellerID:       "res_1",
		ResellerTenantID: reseller,
		ResellerName:     "Adatum Reseller",
		Status:           models.RemovalNotifying,
	}); err != nil {
		t.Fatal(err)
	}
	planned, cursor := 0, ""
	for {
		page, err := f.acts.PlanRemovalDeliveries(ctx, "rm_1", cursor)
		if err != nil {
			t.Fatalf("one attempt must get through reads that fail twice: %v", err)
		}
		planned += page.Added
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	counts, err := f.store.CountDeliveries(ctx, models.KindRemoval, "rm_1")
	if err != nil {
		t.Fatal(err)
	}
	if planned < 26 || counts.Total != int64(planned) || counts.Pending != counts.Total {
		t.Fatalf("planned %d, counts %+v: want the reseller and its 25+ customers, each once", planned, counts)
	}
	for id, n := range flaky.reads {
		if n != 3 {
			t.Errorf("customer %s was read %d times, want 3", id, n)
		}
	}
}
