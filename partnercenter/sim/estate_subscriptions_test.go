package sim

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// A subscription changed by the admin action is listed changed, also after a restart; what the
// partner cannot set, or a subscription not the customer's, is refused and changes nothing.
func TestUpdateSubscriptionChangesItAndRefusesWhatPartnerCenterWould(t *testing.T) {
	w := &scanWorld{t: t, path: filepath.Join(t.TempDir(), "sim.db"), clock: newClock()}
	w.start()
	estate, err := w.s.SeedEstate(EstateSpec{Customers: 2})
	if err != nil {
		t.Fatal(err)
	}
	first, second := estate.Customers[0].TenantID, estate.Customers[1].TenantID
	list := func(customer string) []any {
		t.Helper()
		return w.call(http.MethodGet, "/v1/customers/"+customer+"/subscriptions", nil)["items"].([]any)
	}
	sub := list(first)[0].(map[string]any)
	id := sub["id"].(string)
	const path = "/sim/partner-actions/update-subscription"
	for _, refused := range []struct {
		body map[string]any
		code int
	}{
		{map[string]any{"customerId": second, "subscriptionId": id, "quantity": 9}, http.StatusNotFound},
		{map[string]any{"customerId": first, "subscriptionId": "no-such-subscription", "quantity": 9},
			http.StatusNotFound},
		{map[string]any{"customerId": first, "subscriptionId": id, "quantity": 0}, http.StatusBadRequest},
		{map[string]any{"customerId": first, "subscriptionId": id, "status": pc.SubscriptionStatusPending},
			http.StatusBadRequest},
	} {
		if code, out := w.do(http.MethodPost, path, refused.body); code != refused.code {
			t.Fatalf("%v: %d %v, want %d", refused.body, code, out, refused.code)
		}
	}
	if got := list(first)[0].(map[string]any); got["quantity"] != sub["quantity"] || got["status"] != "active" {
		t.Fatalf("a refused update changed the subscription: %v", got)
	}
	answer := w.call(http.MethodPost, path, map[string]any{"customerId": first, "subscriptionId": strings.ToUpper(id),
		"quantity": 9, "status": pc.SubscriptionStatusSuspended})
	if answer["quantity"] != float64(9) || answer["status"] != pc.SubscriptionStatusSuspended {
		t.Fatalf("the answer: %v", answer)
	}
	w.restart()
	got := list(first)[0].(map[string]any)
	if got["id"] != id || got["quantity"] != float64(9) || got["status"] != pc.SubscriptionStatusSuspended ||
		got["offerId"] != sub["offerId"] {
		t.Fatalf("after a restart the subscription is %v", got)
	}
}
