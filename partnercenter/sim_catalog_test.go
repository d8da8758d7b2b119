package partnercenter_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

func TestTheCatalogAnswersWhatItSells(t *testing.T) {
	s := testsim.Start(t, sim.Config{})
	c := s.Client(t)
	ctx := context.Background()
	got, err := c.GetAvailability(ctx, "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS", "IT")
	if err != nil || got.CatalogItemID != "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS" || !got.IsPurchasable ||
		got.Country != "IT" {
		t.Fatalf("a sold item: %+v %v", got, err)
	}
	_, err = c.GetAvailability(ctx, "CFQ7TTC0ZZZZ:0001:CFQ7TTC0ZZZZ", "IT")
	var pcErr *partnercenter.Error
	if !errors.As(err, &pcErr) || pcErr.StatusCode != http.StatusNotFound || pcErr.Retryable() {
		t.Fatalf("an unknown item must be a 404 refusal, got %v", err)
	}
}

// TestTheCatalogListsProductsSKUsAndAvailabilities walks the catalog as a picker does (products
// of a view, each product's SKUs, each SKU's availabilities) and buys nothing the walk did not
// find: every listed catalog item is one GetAvailability knows.
func TestTheCatalogListsProductsSKUsAndAvailabilities(t *testing.T) {
	s := testsim.Start(t, sim.Config{})
	c := s.Client(t)
	ctx := context.Background()
	var items []string
	for _, view := range []string{"OnlineServices", "Azure", "AzureReservations"} {
		products, err := c.ListProducts(ctx, "IT", view)
		if err != nil || len(products) == 0 {
			t.Fatalf("products of %s: %v %v", view, products, err)
		}
		for _, p := range products {
			skus, err := c.ListSKUs(ctx, p.ID, "IT")
			if err != nil || len(skus) == 0 {
				t.Fatalf("SKUs of %s: %v %v", p.ID, skus, err)
			}
			for _, k := range skus {
				if k.ProductID != p.ID || k.MinimumQuantity < 1 || k.MaximumQuantity < k.MinimumQuantity ||
					len(k.SupportedBillingCycles) == 0 {
					t.Fatalf("SKU %+v", k)
				}
				avs, err := c.ListAvailabilities(ctx, p.ID, k.ID, "IT")
				if err != nil || len(avs) == 0 {
					t.Fatalf("availabilities of %s/%s: %v %v", p.ID, k.ID, avs, err)
				}
				for _, a := range avs {
					if a.Country != "IT" || !a.IsPurchasable || (view == "OnlineServices" && len(a.Terms) != 3) {
						t.Fatalf("availability %+v", a)
					}
					if _, err := c.GetAvailability(ctx, a.CatalogItemID, "IT"); err != nil {
						t.Fatalf("listed item %s is not sold: %v", a.CatalogItemID, err)
					}
					items = append(items, a.CatalogItemID)
				}
			}
		}
	}
	for _, want := range []string{sim.CatalogM365E3, sim.CatalogM365BusinessBasic, sim.CatalogAzurePlan,
		sim.CatalogReservation} {
		if !slices.Contains(items, want) {
			t.Errorf("%s is not listed; listed %v", want, items)
		}
	}
	if slices.Contains(items, "CFQ7TTC0LH18:0001:CFQ7TTC0K8P5") || len(items) != len(slices.Compact(slices.Sorted(
		slices.Values(items)))) {
		t.Errorf("an item is listed twice, or the unlisted one is: %v", items)
	}

	none, err := c.ListProducts(ctx, "IT", "SoftwarePerpetual")
	if err != nil || len(none) != 0 {
		t.Fatalf("a documented view without the simulator's items: %v %v", none, err)
	}
	refusals := []struct {
		call         func() error
		status, code int
	}{
		{func() error { _, err := c.ListProducts(ctx, "IT", "Everything"); return err }, 403, 400036},
		{func() error { _, err := c.ListSKUs(ctx, "CFQ7TTC0ZZZZ", "IT"); return err }, 404, 400013},
		{func() error { _, err := c.ListAvailabilities(ctx, "CFQ7TTC0LFLZ", "9999", "IT"); return err }, 404, 0},
	}
	for i, r := range refusals {
		err := r.call()
		var pcErr *partnercenter.Error
		if !errors.As(err, &pcErr) || pcErr.StatusCode != r.status || pcErr.Code != r.code || pcErr.Retryable() {
			t.Errorf("refusal %d: %v, want %d %d", i, err, r.status, r.code)
		}
	}
}
