package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
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
		store:    store,
		temporal: newFakeTemporal(),
		baseURL:  hs.URL,
		keys:     map[models.Role]string{},
		logs:     &lockedBuffer{},
		clock:    &clock{t: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)},
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
	f.anon = apiClient(t, hs.URL, nil)
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

var metricLabels = regexp.MustCompile(
	`(?m)^partnerflow_http_requests_total\{method="([^"]*)",route="([^"]*)",status="(\d{3})"\} (\d+)$`,
)

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
	if !strings.Contains(string(r.Body),
		`partnerflow_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
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
	if r := f.anon.As("pfk_000000000000_guess9").
		Do("GET", "/v1/invitations", nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("a guess on /v1 after the dashboard's: %d", r.Status)
	}
	// A signed-in operator's session is not a guess and still opens the dashboard.
	if r := f.browser(t).Do("GET", "/overview", nil, "Cookie", cookie); r.Status != http.StatusOK {
		t.Fatalf("a session while its address is throttled: %d", r.Status)
	}
}

func TestWebhookDeliveryErrorsDoNotShowTheSubscriptionURL(t *testing.T) {
	ctx := context.Background()
	store := testdb.SQLite(t)
	f := newSubscriptionFixture(t, store, true)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	const path, token = "/hooks/tenant-7f2c/receive", "s3cr3t-t0ken"
	target := closed.URL + path + "?token=" + token
	if r := f.as[models.RoleGlobalAdmin].Do("POST", "/v1/webhook-subscriptions", map[string]any{
		"url":    target,
		"events": []string{"*"},
	}); r.Status != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", r.Status, r.Body)
	}
	// What a failed attempt records: the HTTP client's own error, which names the URL it posted to.
	_, sendErr := http.Post(target, "application/json", strings.NewReader("{}"))
	if sendErr == nil || !strings.Contains(sendErr.Error(), token) {
		t.Fatalf("the client's error does not name the URL: %v", sendErr)
	}
	failures := []string{
		"post webhook: " + sendErr.Error(),
		`the receiver answered 500 Internal Server Error: no route for POST ` + target +
			` (see http://docs.example/err?key=abc)`,
		`post webhook: Post "` + target + `": stopped after 10 redirects to "https://other.example/next/` + token + `"`,
	}
	for i, text := range failures {
		if err := store.EnqueueEvent(ctx, subscriptionPartner, "invitation.active", "ev-"+strconv.Itoa(i),
			map[string]string{"id": "inv_1"}); err != nil {
			t.Fatal(err)
		}
		claimed, err := store.ClaimWebhookDeliveries(ctx, time.Now().Add(time.Minute), time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %d", err, len(claimed))
		}
		if err := store.MarkWebhookAttemptFailed(ctx, claimed[0].ID, text, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	host := strings.TrimPrefix(closed.URL, "http://")
	check := func(t *testing.T, r *testapi.Response) {
		t.Helper()
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		for _, secret := range []string{path, token, "tenant-7f2c", "/next/", "key=abc", "/err"} {
			if strings.Contains(string(r.Body), secret) {
				t.Errorf("the answer shows %q: %s", secret, r.Body)
			}
		}
		// What the operator needs to act stays: the host, and why it failed.
		for _, kept := range []string{
			host, "connection refused", "other.example", "stopped after 10 redirects", "docs.example",
		} {
			if !strings.Contains(string(r.Body), kept) {
				t.Errorf("the answer lost %q: %s", kept, r.Body)
			}
		}
	}
	for _, role := range []models.Role{models.RoleAdminAgent, models.RoleGlobalAdmin} {
		t.Run("the delivery log as "+string(role), func(t *testing.T) {
			check(t, f.as[role].Do("GET", "/v1/webhook-deliveries", nil))
		})
	}
	t.Run("a retried delivery", func(t *testing.T) {
		var list struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		f.as[models.RoleGlobalAdmin].Do("GET", "/v1/webhook-deliveries", nil).JSON(t, &list)
		if len(list.Items) != len(failures) {
			t.Fatalf("%d deliveries", len(list.Items))
		}
		r := f.as[models.RoleGlobalAdmin].
			Do("POST", "/v1/webhook-deliveries/"+list.Items[len(list.Items)-1].ID+"/retry", nil)
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), token) ||
			!strings.Contains(string(r.Body), host) {
			t.Fatalf("retry: %d %s", r.Status, r.Body)
		}
	})
}

func TestPagesCannotBeFramedAndSignInTakesNoCrossSitePosts(t *testing.T) {
	f := newFixtureWith(t, nil, func(c *api.Config) { c.Flows.BaseURL = "https://onboard.example.com" })
	key := f.keys[models.RoleAdminAgent]
	form := "next=%2Foverview&key=" + url.QueryEscape(key)
	cookie := f.signIn(t, key)

	t.Run("every HTML page refuses to be framed", func(t *testing.T) {
		pages := []struct {
			name string
			r    *testapi.Response
		}{
			{"the sign-in page", f.browser(t).Do("GET", "/login?next=%2Foverview", nil)},
			{"a refused sign-in", f.browser(t).Do("POST", "/login", "key=wrong", "Content-Type", formContentType)},
			{"a dashboard page", f.browser(t).Do("GET", "/overview", nil, "Cookie", cookie)},
			{"the way to sign in from the dashboard", f.browser(t).Do("GET", "/overview", nil)},
			{"a customer link's error page", f.browser(t).Do("GET", "/accept/not-a-token", nil)},
		}
		for _, p := range pages {
			if !strings.HasPrefix(p.r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: %d %q is not HTML", p.name, p.r.Status, p.r.Header.Get("Content-Type"))
				continue
			}
			if p.r.Header.Get("X-Frame-Options") != "DENY" ||
				!strings.Contains(p.r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("%s (%d): X-Frame-Options %q, Content-Security-Policy %q", p.name, p.r.Status,
					p.r.Header.Get("X-Frame-Options"), p.r.Header.Get("Content-Security-Policy"))
			}
		}
	})

	crossSite := []struct {
		name    string
		headers []string
	}{
		{"a browser's cross-site form", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
		{"a sibling site's form", []string{
			"Sec-Fetch-Site", "same-site", "Origin", "https://evil.onboard.example.com",
		}},
		{"an older browser's cross-site form", []string{"Origin", "https://evil.example"}},
	}
	for _, tc := range crossSite {
		t.Run(tc.name+" cannot sign in", func(t *testing.T) {
			r := f.browser(t).Do("POST", "/login", form,
				append([]string{"Content-Type", formContentType}, tc.headers...)...)
			if r.Status != http.StatusForbidden || r.Problem(t)["type"] != api.ProblemTypePrefix+"forbidden" ||
				r.Header.Get("Set-Cookie") != "" {
				t.Fatalf("%d Set-Cookie %q: %s", r.Status, r.Header.Get("Set-Cookie"), r.Body)
			}
		})
		t.Run(tc.name+" cannot sign out", func(t *testing.T) {
			r := f.browser(t).Do("POST", "/logout", nil, append([]string{"Cookie", cookie}, tc.headers...)...)
			if r.Status != http.StatusForbidden || r.Problem(t)["type"] != api.ProblemTypePrefix+"forbidden" {
				t.Fatalf("%d: %s", r.Status, r.Body)
			}
			if r := f.browser(t).Do("GET", "/overview", nil, "Cookie", cookie); r.Status != http.StatusOK {
				t.Fatalf("the session ended: %d", r.Status)
			}
		})
	}

	sameSite := []struct {
		name    string
		headers []string
	}{
		{"the sign-in page's own form", []string{"Sec-Fetch-Site", "same-origin", "Origin", f.anon.BaseURL}},
		{"an older browser's form of this host", []string{"Origin", f.anon.BaseURL}},
		{"an older browser's form of the public URL behind a proxy", []string{"Origin", "https://onboard.example.com"}},
		{"a script, which sends neither header", nil},
	}
	for _, tc := range sameSite {
		t.Run(tc.name+" signs in and out", func(t *testing.T) {
			r := f.browser(t).Do("POST", "/login", form,
				append([]string{"Content-Type", formContentType}, tc.headers...)...)
			session := strings.Split(r.Header.Get("Set-Cookie"), ";")[0]
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/overview" || session == "" {
				t.Fatalf("sign in: %d %q", r.Status, r.Header.Get("Location"))
			}
			if r := f.browser(t).Do("POST", "/logout", nil,
				append([]string{"Cookie", session}, tc.headers...)...); r.Status != http.StatusSeeOther {
				t.Fatalf("sign out: %d %s", r.Status, r.Body)
			}
			if r := f.browser(t).Do("GET", "/overview", nil, "Cookie", session); r.Status != http.StatusSeeOther {
				t.Fatalf("the signed-out session still opens the dashboard: %d", r.Status)
			}
		})
	}
}

func TestOpenedStepsKeyAClientAsTheLimiterDoes(t *testing.T) {
	f := newHardeningFixture(t, func(c *api.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	inv := f.invite(t, "contoso.onmicrosoft.com")
	f.live(inv.WorkflowID, pending())
	clients := []string{
		"2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:ffff:ffff:ffff:ffff", // one subscriber's /64
		"2001:db8:1:3::a", // the next /64
		"198.51.100.7", "198.51.100.8",
	}
	for _, ip := range clients {
		if r := f.browser(t).Do("GET", f.acceptPath(inv), nil, "X-Forwarded-For", ip); r.Status != http.StatusOK {
			t.Fatalf("open from %s: %d", ip, r.Status)
		}
	}
	opened := f.steps(t, inv.ID, "opened")
	if len(opened) != 4 {
		t.Fatalf("%d opened steps, want 4 (one per IPv4 address and one per IPv6 /64): %+v", len(opened), opened)
	}
	// The step still records the address that opened the link first.
	if !strings.Contains(opened[0].Detail, "ip=2001:db8:1:2::a ") {
		t.Fatalf("detail %q", opened[0].Detail)
	}
}

func TestALinksTimelineCapIsExactUnderConcurrentPosts(t *testing.T) {
	f := newHardeningFixture(t, func(c *api.Config) {
		c.RateLimits.PerClient = api.RateLimit{Every: time.Millisecond, Burst: 1000}
		c.RateLimits.PerToken = api.RateLimit{Every: time.Millisecond, Burst: 1000}
	})
	inv := f.invite(t, "contoso.onmicrosoft.com")
	f.live(inv.WorkflowID, pending())
	noRedirect := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var wg sync.WaitGroup
	answers := make([]string, 60)
	for i := range answers {
		wg.Go(func() {
			form := "upn=" + url.QueryEscape("user"+strconv.Itoa(i)+"@contoso.onmicrosoft.com")
			resp, err := noRedirect.Post(f.baseURL+f.acceptPath(inv), formContentType, strings.NewReader(form))
			if err != nil {
				answers[i] = err.Error()
				return
			}
			_ = resp.Body.Close()
			answers[i] = resp.Status
		})
	}
	wg.Wait()
	for i, a := range answers {
		if a != "303 See Other" {
			t.Fatalf("acknowledgement %d: %s", i, a)
		}
	}
	if n := len(f.steps(t, inv.ID, "acknowledged")); n != 20 {
		t.Fatalf("%d acknowledged steps after 60 concurrent posts, the cap is 20", n)
	}
}
