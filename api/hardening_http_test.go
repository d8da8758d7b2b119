package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

// newHardeningFixture is newFlowFixture with the API's configuration changed by configure.
func newHardeningFixture(t *testing.T, configure func(*api.Config)) *flowFixture {
	t.Helper()
	store := testdb.SQLite(t)
	var handler http.Handler
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	f := &flowFixture{
		store: store, temporal: newFakeTemporal(), baseURL: hs.URL, keys: map[models.Role]string{}, logs: &lockedBuffer{},
		clock: &clock{t: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)},
	}
	cfg := api.Config{
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
		Store:  store, Temporal: f.temporal, Registry: prometheus.NewRegistry(),
		SigningKey: signingKey, MaxBodyBytes: 64 << 10,
		Flows: api.FlowConfig{
			PartnerID: partnerID, PartnerName: "Fabrikam Cloud Services", BaseURL: hs.URL,
			ContactEmail: "escalations@fabrikam.example", Now: f.clock.Now,
		},
	}
	configure(&cfg)
	f.server = api.New(cfg)
	handler = f.server.Handler()
	f.anon = &testapi.Client{T: t, BaseURL: hs.URL}
	for _, r := range models.AllRoles {
		key, _, err := store.CreateAPIKey(context.Background(), string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[r] = key
	}
	f.admin, f.sales = f.anon.As(f.keys[models.RoleAdminAgent]), f.anon.As(f.keys[models.RoleSalesAgent])
	return f
}

var metricLabels = regexp.MustCompile(`(?m)^partnerflow_http_requests_total\{method="([^"]*)",route="([^"]*)",status="(\d{3})"\} (\d+)$`)

func TestMetricsNameOnlyKnownMethodsSoAnonymousRequestsCannotAddSeries(t *testing.T) {
	f := newFixture(t, nil)
	// 60 anonymous requests, each with its own made-up 200-byte method, on a route and off one.
	for i := range 30 {
		method := "X" + strings.Repeat("M", 196) + strconv.Itoa(100+i)
		f.anon.Do(method, "/healthz", nil)
		f.anon.Do(method, "/made-up/"+strconv.Itoa(i), nil)
	}
	f.anon.Do("GET", "/healthz", nil)
	r := f.anon.As(f.keys[models.RoleAdminAgent]).Do("GET", "/metrics", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("/metrics: %d", r.Status)
	}
	known := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
	routes := []string{"unmatched"}
	for _, rt := range f.server.Routes() {
		routes = append(routes, rt[1])
	}
	series, others := 0, 0
	for _, m := range metricLabels.FindAllStringSubmatch(string(r.Body), -1) {
		series++
		if !slices.Contains(known, m[1]) || !slices.Contains(routes, m[2]) {
			t.Errorf("a series is labelled with method %.40q, route %.40q", m[1], m[2])
		}
		if m[1] == "other" {
			n, _ := strconv.Atoi(m[4])
			others += n
		}
	}
	if others != 60 {
		t.Errorf("%d requests counted under method=\"other\", want the 60 made-up ones", others)
	}
	if series > 5 {
		t.Errorf("%d request series after 61 requests on 31 paths; made-up methods and paths must share theirs", series)
	}
	if !strings.Contains(string(r.Body), `partnerflow_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
		t.Errorf("known methods keep their own label: %s", r.Body)
	}
}

func TestKeyGuessesOnDashboardRoutesAreThrottledLikeV1(t *testing.T) {
	f := newFixtureWith(t, nil, func(c *api.Config) {
		c.RateLimits.AuthFailures = api.RateLimit{Every: time.Hour, Burst: 3}
	})
	cookie := f.signIn(t, f.keys[models.RoleAdminAgent])
	guess := func(i int) *testapi.Response {
		return f.browser(t).As("pfk_000000000000_guess"+strconv.Itoa(i)).Do("GET", "/overview", nil)
	}
	for i := range 3 {
		if r := guess(i); r.Status != http.StatusSeeOther {
			t.Fatalf("guess %d on /overview: %d, want a redirect to sign in", i, r.Status)
		}
	}
	r := guess(3)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the fourth guess on /overview: %d, want 429 with Retry-After", r.Status)
	}
	if p := r.Problem(t); p["type"] != api.ProblemTypePrefix+"rate-limited" {
		t.Fatalf("the fourth guess: %v", p)
	}
	// The dashboard's guesses spend the budget /v1 and the sign-in form share.
	if r := f.anon.As("pfk_000000000000_guess9").Do("GET", "/v1/invitations", nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("a guess on /v1 after the dashboard's: %d", r.Status)
	}
	// A signed-in operator's session is not a guess and still opens the dashboard.
	if r := f.browser(t).Do("GET", "/overview", nil, "Cookie", cookie); r.Status != http.StatusOK {
		t.Fatalf("a session while its address is throttled: %d", r.Status)
	}
}
