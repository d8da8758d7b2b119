package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

// healthyTemporal fakes only the health check of a Temporal client; the API's unit tests need
// nothing else from it.
type healthyTemporal struct {
	client.Client
	err error
}

func (h healthyTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, h.err
}

type fixture struct {
	store  *models.Store
	server *api.Server
	anon   *testapi.Client
	keys   map[models.Role]string
}

func newFixture(t *testing.T, temporalErr error) *fixture {
	return newFixtureWith(t, temporalErr, nil)
}

// newFixtureWith is newFixture with the API's configuration changed by configure first.
func newFixtureWith(t *testing.T, temporalErr error, configure func(*api.Config)) *fixture {
	t.Helper()
	store := testdb.SQLite(t)
	c, err := codec.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:  store, Temporal: healthyTemporal{err: temporalErr}, Codec: c, Registry: prometheus.NewRegistry(),
		SigningKey: bytes.Repeat([]byte{1}, 32), MaxBodyBytes: 1024, CodecOrigins: []string{"http://127.0.0.1:8233"},
	}
	if configure != nil {
		configure(&cfg)
	}
	srv := api.New(cfg)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	f := &fixture{store: store, server: srv, anon: apiClient(t, hs.URL, nil), keys: map[models.Role]string{}}
	for _, r := range models.AllRoles {
		key, _, err := store.CreateAPIKey(context.Background(), string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[r] = key
	}
	return f
}

func (f *fixture) keyCount(t *testing.T) int {
	keys, err := f.store.ListAPIKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func TestBadInputGetsProblemsAndWritesNothing(t *testing.T) {
	f := newFixture(t, nil)
	admin := f.anon.As(f.keys[models.RoleGlobalAdmin])
	valid := map[string]any{"name": "ci", "roles": []string{"sales-agent"}}
	cases := []struct {
		name    string
		client  *testapi.Client
		method  string
		path    string
		body    any
		status  int
		typ     string
		field   string
		headers []string
	}{
		{name: "an unknown route is 404", client: admin, method: "GET", path: "/v1/nothing-here",
			status: 404, typ: "not-found"},
		{name: "a wrong method is 405", client: admin, method: "PUT", path: "/v1/api-keys", body: valid,
			status: 405, typ: "method-not-allowed"},
		{name: "malformed JSON is 400", client: admin, method: "POST", path: "/v1/api-keys", body: `{"name": "x",`,
			status: 400, typ: "invalid-json"},
		{name: "an empty body is 400", client: admin, method: "POST", path: "/v1/api-keys", body: "",
			status: 400, typ: "invalid-json"},
		{name: "an unknown field is 400 and named", client: admin, method: "POST", path: "/v1/api-keys",
			body:   `{"name":"x","roles":["sales-agent"],"admin":true}`,
			status: 400, typ: "invalid-field", field: "admin"},
		{name: "a field of the wrong type is 400 and named", client: admin, method: "POST", path: "/v1/api-keys",
			body:   `{"name":7,"roles":["sales-agent"]}`,
			status: 400, typ: "invalid-field", field: "name"},
		{name: "an unknown role is 400 and named", client: admin, method: "POST", path: "/v1/api-keys",
			body:   map[string]any{"name": "x", "roles": []string{"owner"}},
			status: 400, typ: "invalid-field", field: "roles"},
		{name: "a missing name is 400 and named", client: admin, method: "POST", path: "/v1/api-keys",
			body:   map[string]any{"roles": []string{"sales-agent"}},
			status: 400, typ: "invalid-field", field: "name"},
		{name: "an oversized body is 413", client: admin, method: "POST", path: "/v1/api-keys",
			body:   `{"name":"` + strings.Repeat("a", 2000) + `","roles":["sales-agent"]}`,
			status: 413, typ: "body-too-large"},
		{name: "a body that is not JSON is 415", client: admin, method: "POST", path: "/v1/api-keys", body: "name=x",
			status: 415, typ: "unsupported-media-type",
			headers: []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{name: "a missing API key is 401", client: f.anon, method: "POST", path: "/v1/api-keys", body: valid,
			status: 401, typ: "unauthorized"},
		{name: "an unknown API key is 401", client: f.anon.As("pfk_000000000000_nope"),
			method: "POST", path: "/v1/api-keys", body: valid, status: 401, typ: "unauthorized"},
		{name: "a non-bearer Authorization is 401", client: f.anon, method: "POST", path: "/v1/api-keys", body: valid,
			status: 401, typ: "unauthorized", headers: []string{"Authorization", "Basic Zm9vOmJhcg=="}},
		{name: "a key without the needed role is 403", client: f.anon.As(f.keys[models.RoleAdminAgent]),
			method: "POST", path: "/v1/api-keys", body: valid, status: 403, typ: "forbidden"},
		{name: "the codec refuses a caller without a key", client: f.anon, method: "POST", path: "/codec/decode",
			body: `{"payloads":[]}`, status: 401, typ: "unauthorized"},
		{name: "the codec refuses malformed payloads", client: admin, method: "POST", path: "/codec/decode",
			body: `{"payloads":`, status: 400, typ: "invalid-json"},
	}
	before := f.keyCount(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.client.Do(tc.method, tc.path, tc.body, tc.headers...)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			p := resp.Problem(t)
			if p["type"] != api.ProblemTypePrefix+tc.typ {
				t.Fatalf("type %v, want %s", p["type"], tc.typ)
			}
			if p["title"] == "" || p["status"].(float64) != float64(tc.status) || p["requestId"] == "" {
				t.Fatalf("incomplete problem: %v", p)
			}
			if tc.field != "" && p["field"] != tc.field {
				t.Fatalf("field %v, want %s", p["field"], tc.field)
			}
			if got := f.keyCount(t); got != before {
				t.Fatalf("a refused request wrote: %d keys, had %d", got, before)
			}
		})
	}
}

func TestAPIKeyLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	admin := f.anon.As(f.keys[models.RoleGlobalAdmin])
	resp := admin.Do("POST", "/v1/api-keys", map[string]any{"name": "reseller-desk", "roles": []string{"sales-agent"}})
	if resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	var created struct {
		Key    string `json:"key"`
		APIKey struct {
			ID    string   `json:"id"`
			Roles []string `json:"roles"`
		} `json:"apiKey"`
	}
	resp.JSON(t, &created)
	if created.Key == "" || len(created.APIKey.Roles) != 1 {
		t.Fatalf("created: %s", resp.Body)
	}
	if r := admin.Do("POST", "/v1/api-keys", map[string]any{
		"name":  "reseller-desk",
		"roles": []string{"sales-agent"},
	}); r.Status != 409 || r.Problem(t)["field"] != "name" {
		t.Fatalf("a duplicate name: %d %s", r.Status, r.Body)
	}
	list := admin.Do("GET", "/v1/api-keys", nil)
	if list.Status != 200 || bytes.Contains(list.Body, []byte(created.Key)) ||
		bytes.Contains(list.Body, []byte("secret")) {
		t.Fatalf("list must show keys without secrets: %s", list.Body)
	}
	minted := f.anon.As(created.Key)
	if r := minted.Do("GET", "/v1/api-keys", nil); r.Status != 403 {
		t.Fatalf("a sales-agent key listing keys: %d", r.Status)
	}
	if r := admin.Do("DELETE", "/v1/api-keys/"+created.APIKey.ID, nil); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := minted.Do("GET", "/v1/api-keys", nil); r.Status != 401 {
		t.Fatalf("a revoked key must be refused: %d", r.Status)
	}
	if r := admin.Do("DELETE", "/v1/api-keys/"+created.APIKey.ID, nil); r.Status != 404 {
		t.Fatalf("revoking twice: %d", r.Status)
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	f := newFixture(t, nil)
	if r := f.anon.Do("GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("healthz: %d", r.Status)
	}
	if r := f.anon.Do("GET", "/readyz", nil); r.Status != 200 {
		t.Fatalf("readyz: %d %s", r.Status, r.Body)
	}
	if r := f.anon.Do("GET", "/metrics", nil); r.Status != 401 {
		t.Fatalf("/metrics without a key: %d, want 401", r.Status)
	}
	if r := f.anon.As(f.keys[models.RoleSalesAgent]).Do("GET", "/metrics", nil); r.Status != 403 {
		t.Fatalf("/metrics with a sales-agent key: %d, want 403", r.Status)
	}
	r := f.anon.As(f.keys[models.RoleAdminAgent]).Do("GET", "/metrics", nil)
	if r.Status != 200 || !bytes.Contains(r.Body,
		[]byte(`partnerflow_http_requests_total{method="GET",route="/readyz",status="200"} 1`)) {
		t.Fatalf("metrics must count requests by route: %s", r.Body)
	}
	if r := f.anon.Do("GET", "/healthz", nil,
		"X-Request-Id", "trace-123"); r.Header.Get("X-Request-Id") != "trace-123" {
		t.Fatal("a caller's request ID must be echoed")
	}

	// Anyone may ask /readyz: it names the failing dependency, the log holds why.
	logs := &lockedBuffer{}
	down := newFixtureWith(t, errors.New("dial tcp: lookup temporal.internal.example: connection refused"),
		func(c *api.Config) {
			c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		})
	r = down.anon.Do("GET", "/readyz", nil)
	if r.Status != 503 || r.Problem(t)["checks"].(map[string]any)["temporal"] != "unavailable" {
		t.Fatalf("readyz with Temporal down: %d %s", r.Status, r.Body)
	}
	if bytes.Contains(r.Body, []byte("refused")) || bytes.Contains(r.Body, []byte("internal.example")) {
		t.Fatalf("readyz tells an anonymous caller the cause: %s", r.Body)
	}
	if !strings.Contains(logs.String(), "connection refused") ||
		!strings.Contains(logs.String(), r.Problem(t)["requestId"].(string)) {
		t.Fatalf("the cause must be logged with the request ID: %s", logs.String())
	}
	_ = down.store.Close()
	r = down.anon.Do("GET", "/readyz", nil)
	if r.Status != 503 || r.Problem(t)["checks"].(map[string]any)["database"] != "unavailable" ||
		bytes.Contains(r.Body, []byte("closed")) {
		t.Fatalf("readyz with the database closed: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(logs.String(), "closed") {
		t.Fatalf("the database error must be logged: %s", logs.String())
	}
}

func TestCodecEndpointForTheWebUI(t *testing.T) {
	f := newFixture(t, nil)
	ops := f.anon.As(f.keys[models.RoleAdminAgent])
	enc := ops.Do("POST", "/codec/encode",
		`{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"Ik1BUktFUiI="}]}`)
	if enc.Status != 200 || bytes.Contains(enc.Body, []byte("Ik1BUktFUiI=")) {
		t.Fatalf("encode: %d %s", enc.Status, enc.Body)
	}
	dec := ops.Do("POST", "/codec/decode", enc.Body)
	if dec.Status != 200 || !bytes.Contains(dec.Body, []byte("Ik1BUktFUiI=")) {
		t.Fatalf("decode must give back the plaintext: %d %s", dec.Status, dec.Body)
	}

	pre := f.anon.Do("OPTIONS", "/codec/decode", nil,
		"Origin", "http://127.0.0.1:8233", "Access-Control-Request-Method", "POST")
	if pre.Status != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:8233" ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("preflight from the Web UI: %d %v", pre.Status, pre.Header)
	}
	other := f.anon.Do("OPTIONS", "/codec/decode", nil,
		"Origin", "http://evil.example", "Access-Control-Request-Method", "POST")
	if other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("another origin must not be allowed")
	}
}

func TestSessionCookieAuthenticatesTheBrowser(t *testing.T) {
	f := newFixture(t, nil)
	noRedirect := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	browser := apiClient(t, f.anon.BaseURL, noRedirect)
	if r := browser.Do("POST", "/login", "key=wrong",
		"Content-Type", "application/x-www-form-urlencoded"); r.Status != 401 || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("a wrong key must not sign in: %d", r.Status)
	}
	login := browser.Do("POST", "/login", "next=%2F%2Fevil.example&key="+f.keys[models.RoleAdminAgent],
		"Content-Type", "application/x-www-form-urlencoded")
	if login.Status != 303 || login.Header.Get("Location") != "/" {
		t.Fatalf("sign in must redirect on this site only: %d %q", login.Status, login.Header.Get("Location"))
	}
	setCookie := login.Header.Get("Set-Cookie")
	if !strings.Contains(setCookie, "HttpOnly") || strings.Contains(setCookie, f.keys[models.RoleAdminAgent]) {
		t.Fatalf("the session cookie must be HttpOnly and must not hold the key: %s", setCookie)
	}
	cookie := strings.TrimPrefix(strings.Split(setCookie, ";")[0], api.SessionCookie+"=")
	r := f.anon.Do("POST", "/codec/decode", `{"payloads":[]}`, "Cookie", api.SessionCookie+"="+cookie)
	if r.Status != 200 {
		t.Fatalf("a valid session: %d %s", r.Status, r.Body)
	}
	tampered := cookie[:len(cookie)-2] + "xx"
	if r := f.anon.Do("POST", "/codec/decode", `{"payloads":[]}`,
		"Cookie", api.SessionCookie+"="+tampered); r.Status != 401 {
		t.Fatalf("a tampered session: %d", r.Status)
	}
}

func TestOpenAPIDocumentsEveryRouteAndNothingElse(t *testing.T) {
	f := newFixture(t, nil)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	resp := f.anon.Do("GET", "/openapi.json", nil)
	resp.JSON(t, &doc)
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	registered := map[string]bool{}
	for _, r := range f.server.Routes() {
		registered[r[0]+" "+openAPIPath(r[1])] = true
	}
	for route := range registered {
		if !documented[route] {
			t.Errorf("route %s is not in openapi.json", route)
		}
	}
	for route := range documented {
		if !registered[route] {
			t.Errorf("openapi.json documents %s, which does not exist", route)
		}
	}
	if _, ok := doc.Paths["/healthz"]; !ok || len(registered) == 0 {
		t.Fatal("the comparison saw no routes")
	}
}

// openAPIPath turns gin's `:id` and `*path` parameters into OpenAPI's `{id}`.
func openAPIPath(ginPath string) string {
	parts := strings.Split(ginPath, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}
