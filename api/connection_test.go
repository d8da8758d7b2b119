package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

// visibleTemporal is the fake Temporal client with a visibility store: the flows listed in
// waiting wait for the Partner Center connection, and ListWorkflow pages through them one at a
// time, so the API must follow the page tokens.
type visibleTemporal struct {
	*fakeTemporal
	waiting []string

	mu      sync.Mutex
	queries []string
}

func (v *visibleTemporal) ListWorkflow(
	_ context.Context,
	req *workflowservice.ListWorkflowExecutionsRequest,
) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.queries = append(v.queries, req.GetQuery())
	if !strings.Contains(req.GetQuery(), "FlowStatus = '"+workflows.StatusConnectionNeeded+"'") {
		return &workflowservice.ListWorkflowExecutionsResponse{}, nil
	}
	i := 0
	if len(req.GetNextPageToken()) > 0 {
		i = int(req.GetNextPageToken()[0])
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	if i < len(v.waiting) {
		resp.Executions = []*workflowpb.WorkflowExecutionInfo{{
			Execution: &commonpb.WorkflowExecution{WorkflowId: v.waiting[i], RunId: "run-1"},
		}}
	}
	if i+1 < len(v.waiting) {
		resp.NextPageToken = []byte{byte(i + 1)}
	}
	return resp, nil
}

func (v *visibleTemporal) CountWorkflow(
	context.Context,
	*workflowservice.CountWorkflowExecutionsRequest,
) (*workflowservice.CountWorkflowExecutionsResponse, error) {
	return &workflowservice.CountWorkflowExecutionsResponse{Count: int64(len(v.waiting))}, nil
}

func (v *visibleTemporal) listQueries() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.queries...)
}

var _ client.Client = (*visibleTemporal)(nil)

// movableClock is the API's clock, which a test moves forward.
type movableClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *movableClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

// connectionFixture is the API with a Partner Center connection to the simulator, which is
// Entra ID too, served at a known address (the redirect URI names it).
type connectionFixture struct {
	sim      *testsim.Sim
	store    *models.Store
	temporal *visibleTemporal
	manager  *connection.Manager
	client   *partnercenter.HTTPClient
	clock    *movableClock
	base     string
	keys     map[models.Role]string
}

func newConnectionFixture(t *testing.T, waiting ...string) *connectionFixture {
	t.Helper()
	s := testsim.Start(t, sim.Config{})
	store := testdb.SQLite(t)
	entra, err := partnercenter.NewEntra(partnercenter.EntraConfig{
		AuthorityURL: s.URL,
		TenantID:     s.TenantID,
		ClientID:     sim.DemoApp.ClientID,
		ClientSecret: sim.DemoApp.ClientSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	mgr := connection.New(connection.Config{
		Store:     store,
		Entra:     entra,
		Box:       notify.NewConnectionBox(signingKey),
		PartnerID: s.TenantID,
	})
	pcCfg := s.PartnerCenterConfig()
	pcCfg.UserTokens = mgr
	pc, err := partnercenter.New(pcCfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	f := &connectionFixture{
		sim:      s,
		store:    store,
		temporal: &visibleTemporal{fakeTemporal: newFakeTemporal(), waiting: waiting},
		manager:  mgr,
		client:   pc,
		clock:    &movableClock{at: time.Now()},
		base:     base,
		keys:     map[models.Role]string{},
	}
	simURL, _ := url.Parse(s.URL)
	srv := api.New(api.Config{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:      store,
		Temporal:   f.temporal,
		SigningKey: signingKey,
		Flows:      api.FlowConfig{PartnerID: s.TenantID, BaseURL: base, Now: f.clock.Now},
		Connection: mgr,
		Doctor: func(ctx context.Context) []connection.Check {
			return connection.Doctor(ctx, connection.DoctorConfig{Connection: mgr, Client: pc, BaseURL: base,
				PartnerCenterURL: s.URL, WebhookCertHosts: []string{simURL.Host}})
		},
	})
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	for _, r := range models.AllRoles {
		key, _, err := store.CreateAPIKey(context.Background(), string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[r] = key
	}
	return f
}

// browser is a signed-in operator's browser: it keeps cookies and shows redirects rather than
// following them.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
}

func (f *connectionFixture) browserOf(t *testing.T, role models.Role) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, base: f.base, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	resp, _ := b.do("POST", "/login", url.Values{"key": {f.keys[role]}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d", role, resp.StatusCode)
	}
	return b
}

// do sends a request (a form when form is not nil) and returns the answer and its body.
func (b *browser) do(method, target string, form url.Values, headers ...string) (*http.Response, string) {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.base + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(data)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// start presses "Connect Partner Center" and returns Entra's sign-in address it leads to.
func (b *browser) start() string {
	b.t.Helper()
	_, page := b.do("GET", "/connection", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("the connection page has no form: %s", page)
	}
	resp, body := b.do("POST", "/connection/start", url.Values{"csrf": {m[1]}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("start: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// signInAtSim signs upn in on the simulator's Entra pages from the authorize address, answering
// the MFA step with mfa ("approve" or "skip"), and returns where Entra sends the browser back.
func signInAtSim(t *testing.T, authorize, upn, mfa string) *url.URL {
	t.Helper()
	back, err := sim.SignIn(http.DefaultClient, authorize, upn, mfa == "approve")
	if err != nil {
		t.Fatal(err)
	}
	return back
}

const homeAdmin = "admin@partnerflowdemo.onmicrosoft.com"

// withQuery returns u with one query parameter set (or removed when value is empty).
func withQuery(u *url.URL, name, value string) string {
	cp := *u
	q := cp.Query()
	if value == "" {
		q.Del(name)
	} else {
		q.Set(name, value)
	}
	cp.RawQuery = q.Encode()
	return cp.String()
}

func TestConnectionSignInRefusalsStoreNothing(t *testing.T) {
	otherChallenge := func() string {
		sum := sha256.Sum256([]byte("a verifier partnerflow never made, so the code does not redeem"))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}()
	cases := []struct {
		name string
		// callback drives a started sign-in (Entra's address in authorize) to partnerflow's
		// callback and returns the answer.
		callback func(t *testing.T, f *connectionFixture, b *browser, authorize string) (*http.Response, string)
		status   int
		typ      string
	}{
		{
			name: "an answer carrying another state is refused", status: 400, typ: "connection-state-mismatch",
			callback: func(t *testing.T, f *connectionFixture, b *browser, authorize string) (*http.Response, string) {
				back := signInAtSim(t, authorize, homeAdmin, "approve")
				return b.do("GET", withQuery(back, "state", "forged-state"), nil, "Accept", "application/json")
			},
		},
		{
			name: "an answer without a state is refused", status: 400, typ: "connection-state-mismatch",
			callback: func(t *testing.T, f *connectionFixture, b *browser, authorize string) (*http.Response, string) {
				back := signInAtSim(t, authorize, homeAdmin, "approve")
				return b.do("GET", withQuery(back, "state", ""), nil, "Accept", "application/json")
			},
		},
		{
			name:   "an answer in a browser without the sign-in cookie is refused",
			status: 400, typ: "connection-state-mismatch",
			callback: func(t *testing.T, f *connectionFixture, _ *browser, authorize string) (*http.Response, string) {
				back := signInAtSim(t, authorize, homeAdmin, "approve")
				return f.browserOf(t, models.RoleGlobalAdmin).
					do("GET", back.String(), nil, "Accept", "application/json")
			},
		},
		{
			name:   "a sign-in cookie carried into another session is refused",
			status: 400, typ: "connection-state-mismatch",
			callback: func(t *testing.T, f *connectionFixture, b *browser, authorize string) (*http.Response, string) {
				back := signInAtSim(t, authorize, homeAdmin, "approve")
				other := f.browserOf(t, models.RoleGlobalAdmin)
				callback, _ := url.Parse(f.base + api.CallbackPath)
				for _, c := range b.http.Jar.Cookies(callback) {
					if c.Name == api.ConnectCookie {
						other.http.Jar.SetCookies(callback, []*http.Cookie{
							{Name: c.Name, Value: c.Value, Path: api.CallbackPath},
						})
					}
				}
				return other.do("GET", back.String(), nil, "Accept", "application/json")
			},
		},
		{
			name: "a sign-in finished after 10 minutes is refused", status: 400, typ: "connection-sign-in-expired",
			callback: func(t *testing.T, f *connectionFixture, b *browser, authorize string) (*http.Response, string) {
				back := signInAtSim(t, authorize, homeAdmin, "approve")
				f.clock.advance(11 * time.Minute)
				return b.do("GET", back.String(), nil, "Accept", "application/json")
			},
		},
		{
			name:   "a code that does not redeem with the sign-in's PKCE verifier is refused",
			status: 400, typ: "connection-refused",
			callback: func(t *testing.T, f *connectionFixture, b *browser, authorize string) (*http.Response, string) {
				u, _ := url.Parse(authorize)
				back := signInAtSim(t, withQuery(u, "code_challenge", otherChallenge), homeAdmin, "approve")
				return b.do("GET", back.String(), nil, "Accept", "application/json")
			},
		},
		{
			name: "a sign-in without MFA is refused", status: 403, typ: "connection-mfa-required",
			callback: func(t *testing.T, f *connectionFixture, b *browser, authorize string) (*http.Response, string) {
				back := signInAtSim(t, authorize, homeAdmin, "skip")
				return b.do("GET", back.String(), nil, "Accept", "application/json")
			},
		},
		{
			name:   "Entra's access_denied is refused, without its description",
			status: 400, typ: "connection-sign-in-failed",
			callback: func(t *testing.T, f *connectionFixture, b *browser, authorize string) (*http.Response, string) {
				u, _ := url.Parse(authorize)
				q := url.Values{
					"error":             {"access_denied"},
					"error_description": {"Call +1 555 0100 to unlock your account"},
					"state":             {u.Query().Get("state")},
				}
				return b.do("GET", api.CallbackPath+"?"+q.Encode(), nil, "Accept", "application/json")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newConnectionFixture(t, "invitation/waiting-1")
			b := f.browserOf(t, models.RoleGlobalAdmin)
			resp, body := tc.callback(t, f, b, b.start())
			if resp.StatusCode != tc.status || !strings.Contains(body, `"type":"`+api.ProblemTypePrefix+tc.typ+`"`) {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, tc.status, tc.typ)
			}
			if strings.Contains(body, "555 0100") {
				t.Fatalf("the refusal shows text from the URL: %s", body)
			}
			if _, err := f.store.Connection(context.Background(), f.sim.TenantID); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("a refused sign-in stored a connection (err %v)", err)
			}
			if got := f.temporal.signalCalls(); len(got) != 0 {
				t.Fatalf("a refused sign-in signalled flows: %+v", got)
			}
			// The cookie is spent: the same browser's retry of the answer is refused too.
			if c := cookieNamed(resp, api.ConnectCookie); c == nil || c.MaxAge >= 0 {
				t.Fatalf("the callback did not clear the sign-in cookie: %v", resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestConnectionRefusalIsAPageForBrowsers(t *testing.T) {
	f := newConnectionFixture(t)
	b := f.browserOf(t, models.RoleGlobalAdmin)
	back := signInAtSim(t, b.start(), homeAdmin, "skip")
	resp, body := b.do("GET", back.String(), nil)
	if resp.StatusCode != http.StatusForbidden ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "Multi-factor authentication is required") {
		t.Fatalf("%d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestConnectingStoresTheSignInAndResumesWaitingFlows(t *testing.T) {
	waiting := []string{"invitation/partner/contoso.onmicrosoft.com", "reseller/1234567", "customer/cus_1"}
	f := newConnectionFixture(t, waiting...)
	b := f.browserOf(t, models.RoleGlobalAdmin)

	_, overview := b.do("GET", "/overview", nil)
	if !strings.Contains(overview, `id="connection-banner"`) || !strings.Contains(overview, `href="/connection"`) {
		t.Fatalf("a partner that never connected gets no banner: %s", overview)
	}
	_, page := b.do("GET", "/connection", nil)
	for _, want := range []string{
		`id="never-connected"`,
		`>Connect Partner Center<`,
		`id="waiting">3 flows wait for the connection.`,
	} {
		if !strings.Contains(page, want) {
			t.Fatalf("the connection page lacks %s: %s", want, page)
		}
	}

	authorize := b.start()
	if !strings.HasPrefix(authorize, f.sim.URL+"/"+f.sim.TenantID+"/oauth2/v2.0/authorize?") ||
		!strings.Contains(authorize, "redirect_uri="+url.QueryEscape(f.base+api.CallbackPath)) ||
		!strings.Contains(authorize, "code_challenge_method=S256") {
		t.Fatalf("start leads to %s", authorize)
	}
	resp, body := b.do("GET", signInAtSim(t, authorize, homeAdmin, "approve").String(), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/connection?done=connected&resumed=3" {
		t.Fatalf("callback: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	row, err := f.store.Connection(context.Background(), f.sim.TenantID)
	if err != nil || !row.Connected() || row.UPN != homeAdmin {
		t.Fatalf("stored %+v, %v: want a working connection of %s", row, err, homeAdmin)
	}
	var signalled []string
	for _, s := range f.temporal.signalCalls() {
		if s.Name != workflows.SignalConnected {
			t.Fatalf("signal %q, want %q", s.Name, workflows.SignalConnected)
		}
		signalled = append(signalled, s.WorkflowID)
	}
	if !slices.Equal(slices.Sorted(slices.Values(signalled)), slices.Sorted(slices.Values(waiting))) {
		t.Fatalf("signalled %v, want every waiting flow %v", signalled, waiting)
	}
	for _, q := range f.temporal.listQueries() {
		if !strings.Contains(q, "FlowStatus = 'connection_needed' AND ExecutionStatus = 'Running'") ||
			!strings.Contains(q, "PartnerId = '"+f.sim.TenantID+"'") {
			t.Fatalf("visibility query %q", q)
		}
	}

	_, page = b.do("GET", "/connection?done=connected&resumed=3", nil)
	for _, want := range []string{
		"Connected as Admin (" + homeAdmin + "); 3 waiting flows resumed.",
		`id="lapses-at"`,
		`>Connect again<`,
		`id="status">connected<`,
	} {
		if !strings.Contains(page, want) {
			t.Fatalf("the connection page lacks %q: %s", want, page)
		}
	}
	if strings.Contains(page, `id="connection-banner"`) {
		t.Fatal("the banner stays after connecting")
	}

	var st map[string]any
	got := f.anonClient(t).As(f.keys[models.RoleSalesAgent]).Do("GET", "/v1/connection", nil)
	got.JSON(t, &st)
	if got.Status != 200 || st["connected"] != true || st["upn"] != homeAdmin || st["name"] != "Admin" ||
		st["connectedAt"] == nil || st["lapsesAt"] == nil || st["waitingFlows"] != float64(3) {
		t.Fatalf("GET /v1/connection: %d %s", got.Status, got.Body)
	}
	if strings.Contains(strings.ToLower(string(got.Body)), "token") {
		t.Fatalf("GET /v1/connection shows a token: %s", got.Body)
	}
}

func TestConnectionPageLeavesSignInToGlobalAdmins(t *testing.T) {
	f := newConnectionFixture(t)
	_, page := f.browserOf(t, models.RoleAdminAgent).do("GET", "/connection", nil)
	if strings.Contains(page, `id="connect"`) || strings.Contains(page, `id="run-checks"`) ||
		!strings.Contains(page, `id="global-admin-only"`) {
		t.Fatalf("an admin agent is offered the sign-in: %s", page)
	}
	_, page = f.browserOf(t, models.RoleGlobalAdmin).do("GET", "/connection", nil)
	if !strings.Contains(page, `id="connect"`) || !strings.Contains(page, `id="run-checks"`) {
		t.Fatalf("a global admin is not offered the sign-in and the checks: %s", page)
	}
}

func TestLostConnectionShowsWhenAndWhy(t *testing.T) {
	f := newConnectionFixture(t)
	ctx := context.Background()
	if _, err := f.store.MarkConnectionLost(ctx, models.ConnectionLoss{
		PartnerID: f.sim.TenantID,
		Reason:    "the refresh token was revoked",
		At:        time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	b := f.browserOf(t, models.RoleSalesAgent)
	if _, overview := b.do("GET", "/overview", nil); !strings.Contains(overview, `id="connection-banner"`) {
		t.Fatalf("a lost connection gets no banner: %s", overview)
	}
	_, page := b.do("GET", "/connection", nil)
	for _, want := range []string{`id="status">lost<`, `id="lost-at"`, "the refresh token was revoked"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the page of a lost connection lacks %q: %s", want, page)
		}
	}
	var st map[string]any
	f.anonClient(t).As(f.keys[models.RoleSalesAgent]).Do("GET", "/v1/connection", nil).JSON(t, &st)
	if st["connected"] != false || st["lostAt"] == nil || st["lostReason"] != "the refresh token was revoked" {
		t.Fatalf("GET /v1/connection: %v", st)
	}
}

func TestDoctorChecksTheConnection(t *testing.T) {
	f := newConnectionFixture(t)
	ctx := context.Background()
	admin := f.anonClient(t).As(f.keys[models.RoleGlobalAdmin])
	var answer struct {
		Checks []connection.Check `json:"checks"`
		OK     bool               `json:"ok"`
	}
	admin.Do("POST", "/v1/connection/doctor", nil).JSON(t, &answer)
	failed := map[string]connection.Check{}
	for _, c := range answer.Checks {
		if !c.OK {
			failed[c.Name] = c
		}
	}
	if answer.OK || !strings.Contains(failed[connection.CheckConnection].Fix, f.base+"/connection") ||
		failed[connection.CheckPartnerCenterAppToken].Name != "" {
		t.Fatalf("never connected: %+v", answer)
	}

	b := f.browserOf(t, models.RoleGlobalAdmin)
	b.do("GET", signInAtSim(t, b.start(), homeAdmin, "approve").String(), nil)
	if _, err := f.client.RegisterWebhook(
		partnercenter.WithRequestID(ctx, partnercenter.NewRequestID()),
		partnercenter.WebhookRegistration{
			WebhookURL:    f.base + "/webhooks/partner-center",
			WebhookEvents: []string{"test-created"},
		},
	); err != nil {
		t.Fatal(err)
	}
	answer.Checks = nil
	resp := admin.Do("POST", "/v1/connection/doctor", nil)
	resp.JSON(t, &answer)
	if !answer.OK || len(answer.Checks) != 10 {
		t.Fatalf("connected, with a webhook: %s", resp.Body)
	}
	for _, c := range answer.Checks {
		if c.Name == connection.CheckPartnerProfile && !strings.Contains(c.Detail, "Partnerflow Demo Distributor") {
			t.Fatalf("the profile check names no company: %+v", c)
		}
	}

	_, page := b.do("GET", "/connection", nil)
	csrf := csrfField.FindStringSubmatch(page)[1]
	_, page = b.do("POST", "/connection/doctor", url.Values{"csrf": {csrf}})
	if !strings.Contains(page, `id="checks"`) || !strings.Contains(page, "all pass") || !strings.Contains(page, "✓") {
		t.Fatalf("the page's checks: %s", page)
	}
	if r := admin.As(f.keys[models.RoleAdminAgent]).
		Do("POST", "/v1/connection/doctor", nil); r.Status != http.StatusForbidden {
		t.Fatalf("an admin agent ran the checks: %d", r.Status)
	}
}

func TestConnectionRoutesWithoutAConnectionSayNotConfigured(t *testing.T) {
	f := newFixture(t, nil)
	for _, path := range []string{"/v1/connection"} {
		r := f.anon.As(f.keys[models.RoleGlobalAdmin]).Do("GET", path, nil)
		if r.Status != http.StatusNotFound ||
			r.Problem(t)["type"] != api.ProblemTypePrefix+"connection-not-configured" {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
	}
	if r := f.anon.As(f.keys[models.RoleGlobalAdmin]).
		Do("POST", "/v1/connection/doctor", nil); r.Status != http.StatusNotFound ||
		r.Problem(t)["type"] != api.ProblemTypePrefix+"connection-doctor-unavailable" {
		t.Fatalf("POST /v1/connection/doctor: %d %s", r.Status, r.Body)
	}
	_, page := (&browser{t: t, base: f.anon.BaseURL, http: jarClient(t)}).
		signedIn(f.keys[models.RoleGlobalAdmin]).
		do("GET", "/overview", nil)
	if strings.Contains(page, `id="connection-banner"`) || strings.Contains(page, `href="/connection"`) {
		t.Fatal("a deployment without a connection shows its banner or link")
	}
}

func (f *connectionFixture) anonClient(t *testing.T) *testapi.Client {
	return apiClient(t, f.base, nil)
}

func jarClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (b *browser) signedIn(key string) *browser {
	b.t.Helper()
	if resp, _ := b.do("POST", "/login", url.Values{
		"key":  {key},
		"next": {"/"},
	}); resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in: %d", resp.StatusCode)
	}
	return b
}
