package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
)

func TestRequestsAreCountedByRoute(t *testing.T) {
	sv := serve(t, filepath.Join(t.TempDir(), "sim.db"), nil)
	before := sv.s.Requests()
	if _, err := sv.c.ListCustomers(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/sim/tenants", "/no/such/route"} {
		resp, err := http.Get(sv.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(sv.srv.URL + "/sim/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got RequestCounts
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.ByRoute["GET /v1/customers"] != before.ByRoute["GET /v1/customers"]+1 {
		t.Fatalf("GET /v1/customers counted %d times, want once more than %d: %v",
			got.ByRoute["GET /v1/customers"], before.ByRoute["GET /v1/customers"], got.ByRoute)
	}
	if got.ByRoute["GET /sim/tenants"] != 1 || got.ByRoute[unmatchedRoute] != 1 {
		t.Fatalf("admin and unmatched requests %v", got.ByRoute)
	}
	// The client's token request is Entra ID's, so Microsoft's; the admin calls (the count's own
	// included: a request is counted before it is answered) and the unmatched one are not.
	if got.Total-got.Microsoft != 3 || got.Microsoft < before.Microsoft+2 {
		t.Fatalf("total %d, microsoft %d (before %d)", got.Total, got.Microsoft, before.Microsoft)
	}
	if !AdminRoute("POST /sim/tenants") || AdminRoute("POST /{tenant}/oauth2/v2.0/token") {
		t.Fatal("AdminRoute tells the admin API from Microsoft's wrongly")
	}
}
