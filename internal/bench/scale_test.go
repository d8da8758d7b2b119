package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

func TestSimRequestsCountOnlyMicrosoftsRoutesOverTheInterval(t *testing.T) {
	// The simulator answers the count twice: before the interval and after it, when the estate
	// sync has read two pages of customers and taken a token, and the admin API was called too.
	counts := []sim.RequestCounts{
		{ByRoute: map[string]int64{"GET /v1/customers": 10, "POST /sim/tenants": 500, "GET /sim/requests": 1}},
		{ByRoute: map[string]int64{
			"GET /v1/customers": 12, "POST /{tenant}/oauth2/v2.0/token": 1, "POST /sim/tenants": 503,
			"GET /sim/requests": 2, "unmatched": 4,
		}},
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/sim/requests" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(counts[min(int(calls.Add(1))-1, 1)])
	}))
	defer srv.Close()

	d := newHTTPDriver(Target{SimURL: srv.URL}, 1)
	r, err := countSimRequests(context.Background(), d, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("the count must be read before and after the interval, read %d times", calls.Load())
	}
	if r.Microsoft != 3 || len(r.ByRoute) != 2 || r.ByRoute["GET /v1/customers"] != 2 ||
		r.ByRoute["POST /{tenant}/oauth2/v2.0/token"] != 1 {
		t.Fatalf("only the growth of Microsoft's routes counts: %+v", r)
	}
	if r.IntervalSeconds < 0.05 || r.PerMinute <= 0 || r.PerMinute > 3/0.05*60 {
		t.Fatalf("the interval and the rate must be the measured ones: %+v", r)
	}

	var out bytes.Buffer
	ScaleReport{
		Started: 1, Invitations: 1, EstateSyncEvery: "30s", NoPolling: true, WorkflowCache: 2000, SimRequests: &r,
	}.WriteText(&out)
	for _, want := range []string{
		"estate sync every 30s; waiting invitations poll Partner Center on their own: false; workflow cache 2000",
		"3 to Partner Center, Graph and Entra ID",
		"     2 GET /v1/customers",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the report must say %q:\n%s", want, out.String())
		}
	}
}

func TestSimRequestsCountFailsWithoutASimulator(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	d := newHTTPDriver(Target{SimURL: srv.URL}, 1)
	if _, err := countSimRequests(context.Background(), d, time.Millisecond); err == nil {
		t.Fatal("a deployment whose Partner Center counts nothing must not report zero requests")
	}
}
