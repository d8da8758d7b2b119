package partnercenter_test

import (
	"context"
	"errors"
	"net/http"
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
