package sim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

const contosoTenant = "11111111-1111-4111-8111-111111111111"

// mustToken mints a token or fails the test.
func mustToken(t testing.TB, s *Server, req TokenRequest) string {
	t.Helper()
	tok, err := s.MintToken(req)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mintedUserTokens gives a client the App+User tokens of the home partner's
// admin, signed in with MFA, minted by the simulator.
type mintedUserTokens struct{ s *Server }

func (m mintedUserTokens) UserToken(_ context.Context, scope string) (*oauth2.Token, error) {
	res := ResourcePartnerCenter
	if strings.HasPrefix(scope, pc.GraphAudience) {
		res = ResourceGraph
	}
	tok, err := m.s.MintToken(TokenRequest{Resource: res})
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: time.Now().Add(accessTokenLifetime)}, nil
}

// entraWorld is a seeded simulator on a data file with a clock the test moves.
type entraWorld struct {
	t     *testing.T
	s     *Server
	clock *testClock
}

func newEntraWorld(t *testing.T) *entraWorld {
	t.Helper()
	clock := newClock()
	s, err := New(Config{DataFile: filepath.Join(t.TempDir(), "sim.db"), Now: clock.now, PublicURL: "http://sim.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	return &entraWorld{t: t, s: s, clock: clock}
}

// do sends a request to the handler; body is JSON (any) or a form (url.Values).
func (w *entraWorld) do(method, path, bearer string, body any) *httptest.ResponseRecorder {
	w.t.Helper()
	var req *http.Request
	switch b := body.(type) {
	case nil:
		req = httptest.NewRequest(method, path, nil)
	case url.Values:
		req = httptest.NewRequest(method, path, strings.NewReader(b.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	default:
		j, _ := json.Marshal(b)
		req = httptest.NewRequest(method, path, strings.NewReader(string(j)))
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	w.s.Handler().ServeHTTP(rec, req)
	return rec
}

// tokenCall posts a token request to the home tenant's token endpoint and
// decodes the answer.
func (w *entraWorld) tokenCall(form url.Values) (int, map[string]any) {
	w.t.Helper()
	return decoded(w.do(http.MethodPost, "/"+DefaultHomePartner.TenantID+"/oauth2/v2.0/token", "", form))
}

func decoded(rec *httptest.ResponseRecorder) (int, map[string]any) {
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// aadsts is the first AADSTS code of an Entra error answer (0 when none).
func aadsts(body map[string]any) int {
	codes, _ := body["error_codes"].([]any)
	if len(codes) == 0 {
		return 0
	}
	f, _ := codes[0].(float64)
	return int(f)
}

// claimsOf reads a JWT's claims without verifying it.
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	var out map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// forged signs claims like a home partner token, changed by edit, with the
// simulator's key (or key, with kid, when key is not nil).
func forged(t *testing.T, s *Server, key *rsa.PrivateKey, kid string, edit func(*accessClaims)) string {
	t.Helper()
	now := s.cfg.Now()
	c := accessClaims{
		Claims: jwt.Claims{Audience: jwt.Audience{pc.PartnerCenterAudience}, IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))},
		TenantID: s.home.TenantID,
		AppID:    DemoApp.ClientID,
		IDType:   "user",
		UPN:      "admin@" + s.home.Domain,
		AMR:      []string{"pwd", "mfa"},
		Scope:    "user_impersonation",
	}
	if edit != nil {
		edit(&c)
	}
	if key == nil {
		tok, err := s.sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		nil,
	)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestServiceTokenRules(t *testing.T) {
	w := newEntraWorld(t)
	s := w.s
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	newCustomer := func(domain, reseller string) map[string]any {
		return map[string]any{"companyProfile": map[string]any{"domain": domain},
			"billingProfile": map[string]any{
				"email":          "a@" + domain,
				"companyName":    domain,
				"defaultAddress": map[string]any{"country": "US"},
			},
			"associatedPartnerId": reseller}
	}
	appPC := TokenRequest{AppOnly: true}
	appGraph := TokenRequest{AppOnly: true, Resource: ResourceGraph}
	const gdap = "/v1.0/tenantRelationships/delegatedAdminRelationships"
	cases := []struct {
		name       string
		token      func() string
		method     string
		path       string
		body       any
		wantStatus int
		wantPC     int    // Partner Center error code, for refusals
		wantGraph  string // Graph error code, for refusals
	}{
		{"an App+User token with MFA is accepted on an App+User route",
			func() string { return mustToken(t, s, TokenRequest{}) },
			"GET", "/v1/customers/relationshiprequests", nil, 200, 0, ""},
		{"an app-only token on GET /v1/customers/relationshiprequests is refused 403",
			func() string { return mustToken(t, s, appPC) },
			"GET", "/v1/customers/relationshiprequests", nil, 403, 0, ""},
		{"an app-only token is accepted on an App-or-User route", func() string { return mustToken(t, s, appPC) },
			"GET", "/v1/customers?size=10", nil, 200, 0, ""},
		{"an app-only token may not list an indirect reseller's customers (App+User only) 403",
			func() string { return mustToken(t, s, appPC) },
			"GET", "/v1/customers?filter=" +
				url.QueryEscape(`{"Field":"IndirectReseller","Value":"`+adatumTenant+`","Operator":"starts_with"}`),
			nil, 403, 0, ""},
		{"an App+User token without MFA is refused 401 900421",
			func() string { return mustToken(t, s, TokenRequest{SkipMFA: true}) },
			"GET", "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf",
			nil, 401, CodeMFARequired, ""},
		{"an App+User token without MFA is refused even on an App-or-User route",
			func() string { return mustToken(t, s, TokenRequest{SkipMFA: true}) },
			"GET", "/v1/agreements?agreementType=MicrosoftCustomerAgreement", nil, 401, CodeMFARequired, ""},
		{"a token for Graph is refused by Partner Center (wrong audience) 401",
			func() string { return mustToken(t, s, TokenRequest{Resource: ResourceGraph}) },
			"GET", "/v1/customers/relationshiprequests", nil, 401, CodeInvalidToken, ""},
		{"a token for Partner Center is refused by Graph (wrong audience) 401",
			func() string { return mustToken(t, s, TokenRequest{}) },
			"GET", gdap, nil, 401, 0, "InvalidAuthenticationToken"},
		{"an expired token is refused 401", func() string {
			return forged(t, s, nil, "", func(c *accessClaims) {
				c.Expiry = jwt.NewNumericDate(time.Now().Add(-10 * time.Minute))
				c.IssuedAt, c.NotBefore = jwt.NewNumericDate(time.Now().Add(-70*time.Minute)),
					jwt.NewNumericDate(time.Now().Add(-70*time.Minute))
			})
		}, "GET", "/v1/customers/relationshiprequests", nil, 401, CodeInvalidToken, ""},
		{"a token of another tenant is refused 401",
			func() string { return mustToken(t, s, TokenRequest{TenantID: contosoTenant}) },
			"GET", "/v1/customers/relationshiprequests", nil, 401, CodeInvalidToken, ""},
		{"an app-only Graph token of another tenant is refused 401", func() string {
			return mustToken(t, s, TokenRequest{AppOnly: true, Resource: ResourceGraph, TenantID: contosoTenant})
		}, "GET", gdap, nil, 401, 0, "InvalidAuthenticationToken"},
		{"a token signed by another key (same kid) is refused 401",
			func() string { return forged(t, s, other, s.tokenJWK.KeyID, nil) },
			"GET", "/v1/customers/relationshiprequests", nil, 401, CodeInvalidToken, ""},
		{"a token signed by another key (its own kid) is refused 401",
			func() string { return forged(t, s, other, "elsewhere", nil) },
			"GET", "/v1/customers/relationshiprequests", nil, 401, CodeInvalidToken, ""},
		{"a token that is not a JWT is refused 401", func() string { return "x" },
			"GET", "/v1/customers/relationshiprequests", nil, 401, CodeInvalidToken, ""},
		{"a call without a token is refused 401", func() string { return "" },
			"GET", gdap, nil, 401, 0, "InvalidAuthenticationToken"},
		{"an app-only Graph token with the GDAP role is accepted", func() string { return mustToken(t, s, appGraph) },
			"GET", gdap, nil, 200, 0, ""},
		{"an app-only Graph token without the GDAP role is refused 403", func() string {
			return mustToken(t, s, TokenRequest{AppOnly: true, Resource: ResourceGraph, Permissions: []string{}})
		}, "GET", gdap, nil, 403, 0, "Authorization_RequestDenied"},
		{"a delegated Graph token without the GDAP scope is refused 403", func() string {
			return mustToken(t, s, TokenRequest{Resource: ResourceGraph, Permissions: []string{"User.Read"}})
		}, "GET", gdap, nil, 403, 0, "Authorization_RequestDenied"},
		{"a delegated Graph token with Read.All may read relationships", func() string {
			return mustToken(
				t,
				s,
				TokenRequest{Resource: ResourceGraph, Permissions: []string{"DelegatedAdminRelationship.Read.All"}},
			)
		}, "GET", gdap, nil, 200, 0, ""},
		{"a delegated Graph token with Read.All may not create one", func() string {
			return mustToken(
				t,
				s,
				TokenRequest{Resource: ResourceGraph, Permissions: []string{"DelegatedAdminRelationship.Read.All"}},
			)
		}, "POST", gdap, map[string]any{}, 403, 0, "Authorization_RequestDenied"},
		{"Graph does not ask App+User tokens for MFA",
			func() string { return mustToken(t, s, TokenRequest{Resource: ResourceGraph, SkipMFA: true}) },
			"GET", gdap, nil, 200, 0, ""},
		{"creating a customer for an indirect reseller with an app-only token is refused 403",
			func() string { return mustToken(t, s, appPC) },
			"POST", "/v1/customers", newCustomer("appreseller.onmicrosoft.com", adatumTenant), 403, 0, ""},
		{"creating a customer for an indirect reseller with an App+User token is accepted",
			func() string { return mustToken(t, s, TokenRequest{}) },
			"POST", "/v1/customers", newCustomer("userreseller.onmicrosoft.com", adatumTenant), 201, 0, ""},
		{"creating a direct customer with an app-only token is accepted",
			func() string { return mustToken(t, s, appPC) },
			"POST", "/v1/customers", newCustomer("appdirect.onmicrosoft.com", ""), 201, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := w.do(tc.method, tc.path, tc.token(), tc.body)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantStatus < 400 {
				return
			}
			if strings.HasPrefix(tc.path, "/v1.0/") {
				var body pc.GraphErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != tc.wantGraph {
					t.Fatalf("graph code %q, want %q: %s", body.Error.Code, tc.wantGraph, rec.Body)
				}
				return
			}
			var body pc.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != tc.wantPC {
				t.Fatalf("code %d, want %d: %s", body.Code, tc.wantPC, rec.Body)
			}
			if tc.wantStatus == 403 && body.Description != AppOnlyRefused {
				t.Fatalf("description %q, want %q", body.Description, AppOnlyRefused)
			}
		})
	}
	if err := s.CheckStorage(); err != nil {
		t.Fatal(err)
	}
}

func TestRefusedTokensAreNotFaults(t *testing.T) {
	w := newEntraWorld(t)
	w.s.SetFaults(Faults{Rate500: 1})
	if rec := w.do("GET", "/v1/profiles/mpn", "x", nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("a bad token with every call faulted: %d, want 401", rec.Code)
	}
	if rec := w.do(
		"GET", "/v1/profiles/mpn", mustToken(t, w.s, TokenRequest{}), nil,
	); rec.Code != http.StatusInternalServerError {
		t.Fatalf("a good token with every call faulted: %d, want 500", rec.Code)
	}
}

func TestRouteWithoutCredentialPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("registering a route missing from partnercenter.Operations did not panic")
		}
	}()
	routeCredential("GET /v1/not-in-the-table")
}

func TestTokensSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.db")
	s, err := New(Config{DataFile: path})
	if err != nil {
		t.Fatal(err)
	}
	tok := mustToken(t, s, TokenRequest{})
	kid := s.tokenJWK.KeyID
	s.Close()
	s, err = New(Config{DataFile: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.tokenJWK.KeyID != kid {
		t.Fatalf("kid %s after a restart, was %s", s.tokenJWK.KeyID, kid)
	}
	if c, why := s.verifyToken(tok, false); c == nil {
		t.Fatalf("a token minted before the restart is refused: %s", why)
	}
}

func TestDiscovery(t *testing.T) {
	w := newEntraWorld(t)
	home := DefaultHomePartner
	for _, tenant := range []string{home.TenantID, home.Domain} {
		code, cfg := decoded(w.do("GET", "/"+tenant+"/v2.0/.well-known/openid-configuration", "", nil))
		if code != 200 || cfg["issuer"] != "http://sim.test/"+home.TenantID+"/v2.0" ||
			cfg["token_endpoint"] != "http://sim.test/"+home.TenantID+"/oauth2/v2.0/token" ||
			cfg["device_authorization_endpoint"] != "http://sim.test/"+home.TenantID+"/oauth2/v2.0/devicecode" ||
			cfg["jwks_uri"] != "http://sim.test/"+home.TenantID+"/discovery/v2.0/keys" {
			t.Fatalf("openid-configuration of %s: %d %v", tenant, code, cfg)
		}
	}
	if rec := w.do(
		"GET", "/00000000-0000-4000-8000-000000000000/v2.0/.well-known/openid-configuration", "", nil,
	); rec.Code != 400 {
		t.Fatalf("an unknown tenant's configuration: %d", rec.Code)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(
		w.do("GET", "/"+home.TenantID+"/discovery/v2.0/keys", "", nil).Body.Bytes(), &set,
	); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS: %v %v", err, set)
	}
	tok, err := jwt.ParseSigned(mustToken(t, w.s, TokenRequest{}), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	var claims jwt.Claims
	if len(keys) != 1 || tok.Claims(keys[0].Key, &claims) != nil {
		t.Fatalf("a minted token does not verify with the JWKS key %q", tok.Headers[0].KeyID)
	}
}

// signIn drives the sign-in pages from an authorize URL query to the
// redirect: picks upn, then approves MFA or skips it.
func (w *entraWorld) signIn(q url.Values, upn string, mfa bool) *url.URL {
	w.t.Helper()
	path := "/" + DefaultHomePartner.TenantID + "/oauth2/v2.0/authorize"
	rec := w.do("GET", path+"?"+q.Encode(), "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `name="upn" value="`+upn+`"`) {
		w.t.Fatalf("authorize page: %d %s", rec.Code, rec.Body)
	}
	flow := regexp.MustCompile(`name="flow" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())[1]
	rec = w.do("POST", path, "", url.Values{"flow": {flow}, "upn": {upn}})
	if !strings.Contains(rec.Body.String(), `id="approve"`) || !strings.Contains(rec.Body.String(), `id="skip-mfa"`) {
		w.t.Fatalf("MFA page: %d %s", rec.Code, rec.Body)
	}
	answer := "approve"
	if !mfa {
		answer = "skip"
	}
	rec = w.do("POST", path, "", url.Values{"flow": {flow}, "upn": {upn}, "mfa": {answer}})
	if rec.Code != http.StatusFound {
		w.t.Fatalf("after MFA: %d %s", rec.Code, rec.Body)
	}
	u, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

const (
	testVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	testRedirect  = "http://127.0.0.1:54321/auth/callback"
	connectScopes = pc.PartnerCenterUserScope + " offline_access openid profile"
)

func authorizeQuery() url.Values {
	return url.Values{
		"client_id":             {DemoApp.ClientID},
		"response_type":         {"code"},
		"redirect_uri":          {testRedirect},
		"scope":                 {connectScopes},
		"state":                 {"st-1"},
		"nonce":                 {"n-1"},
		"code_challenge":        {s256(testVerifier)},
		"code_challenge_method": {"S256"},
	}
}

func redeemForm(code string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {DemoApp.ClientID},
		"client_secret": {DemoApp.ClientSecret},
		"code":          {code},
		"redirect_uri":  {testRedirect},
		"code_verifier": {testVerifier},
	}
}

func TestAuthorizationCodeRules(t *testing.T) {
	cases := []struct {
		name     string
		mfa      bool
		redeem   func(w *entraWorld, code string) (int, map[string]any)
		wantCode int // AADSTS code of a refusal, 0 for tokens
	}{
		{"a code redeemed with its verifier gives an access, refresh and ID token", true,
			func(w *entraWorld, code string) (int, map[string]any) { return w.tokenCall(redeemForm(code)) }, 0},
		{"a code verifier that does not match the challenge is refused (AADSTS501481)", true,
			func(w *entraWorld, code string) (int, map[string]any) {
				f := redeemForm(code)
				f.Set("code_verifier", "another-verifier-another-verifier-another-verifier")
				return w.tokenCall(f)
			}, 501481},
		{"a code redeemed twice is refused (AADSTS54005)", true,
			func(w *entraWorld, code string) (int, map[string]any) {
				if status, body := w.tokenCall(redeemForm(code)); status != 200 {
					w.t.Fatalf("first redemption: %d %v", status, body)
				}
				return w.tokenCall(redeemForm(code))
			}, 54005},
		{"a code older than 10 minutes is refused (AADSTS70008)", true,
			func(w *entraWorld, code string) (int, map[string]any) {
				w.do("POST", "/sim/clock", "", map[string]string{"advance": "11m"})
				return w.tokenCall(redeemForm(code))
			}, 70008},
		{"a redirect_uri other than the authorize request's is refused (AADSTS70000)", true,
			func(w *entraWorld, code string) (int, map[string]any) {
				f := redeemForm(code)
				f.Set("redirect_uri", "http://127.0.0.1:54322/auth/callback")
				return w.tokenCall(f)
			}, 70000},
		{"a wrong client secret is refused 401 (AADSTS7000215)", true,
			func(w *entraWorld, code string) (int, map[string]any) {
				f := redeemForm(code)
				f.Set("client_secret", "wrong")
				return w.tokenCall(f)
			}, 7000215},
		{"a sign-in that skipped MFA gives tokens without the mfa claim", false,
			func(w *entraWorld, code string) (int, map[string]any) { return w.tokenCall(redeemForm(code)) }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newEntraWorld(t)
			back := w.signIn(authorizeQuery(), "admin@"+DefaultHomePartner.Domain, tc.mfa)
			if back.Host != "127.0.0.1:54321" || back.Query().Get("state") != "st-1" || back.Query().Get("code") == "" {
				t.Fatalf("redirect %s", back)
			}
			status, body := tc.redeem(w, back.Query().Get("code"))
			if tc.wantCode != 0 {
				want := http.StatusBadRequest
				if tc.wantCode == 7000215 {
					want = http.StatusUnauthorized
				}
				if status != want || aadsts(body) != tc.wantCode {
					t.Fatalf("%d AADSTS%d, want %d AADSTS%d: %v", status, aadsts(body), want, tc.wantCode, body)
				}
				return
			}
			if status != 200 || body["refresh_token"] == nil || body["id_token"] == nil {
				t.Fatalf("tokens: %d %v", status, body)
			}
			at := claimsOf(t, body["access_token"].(string))
			id := claimsOf(t, body["id_token"].(string))
			amr := []any{"pwd", "mfa"}
			if !tc.mfa {
				amr = []any{"pwd"}
			}
			if at["aud"] != pc.PartnerCenterAudience || at["scp"] != "user_impersonation" || at["idtyp"] != "user" ||
				at["upn"] != "admin@"+DefaultHomePartner.Domain || at["tid"] != DefaultHomePartner.TenantID ||
				!slices.Equal(at["amr"].([]any), amr) {
				t.Fatalf("access token claims %v", at)
			}
			if id["aud"] != DemoApp.ClientID || id["nonce"] != "n-1" ||
				id["preferred_username"] != "admin@"+DefaultHomePartner.Domain {
				t.Fatalf("ID token claims %v", id)
			}
			wantStatus := http.StatusOK
			if !tc.mfa {
				wantStatus = http.StatusUnauthorized
			}
			if rec := w.do(
				"GET", "/v1/customers/relationshiprequests", body["access_token"].(string), nil,
			); rec.Code != wantStatus {
				t.Fatalf("Partner Center with the token: %d, want %d: %s", rec.Code, wantStatus, rec.Body)
			}
		})
	}
}

func TestAuthorizePageRules(t *testing.T) {
	w := newEntraWorld(t)
	path := "/" + DefaultHomePartner.TenantID + "/oauth2/v2.0/authorize?"
	cases := []struct {
		name      string
		edit      func(url.Values)
		wantPage  int    // AADSTS code on an error page; 0 for the sign-in page
		wantError string // error of the redirect, if it redirects
	}{
		{"a loopback redirect URI matches on any port",
			func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9999/auth/callback") },
			0, ""},
		{"localhost matches on any port too",
			func(q url.Values) { q.Set("redirect_uri", "http://localhost:8080/auth/callback") },
			0, ""},
		{"an unknown client_id gets an error page, not a redirect (AADSTS700016)",
			func(q url.Values) { q.Set("client_id", newID()) },
			700016, ""},
		{"an unregistered redirect URI gets an error page (AADSTS50011)",
			func(q url.Values) { q.Set("redirect_uri", "https://evil.example/auth/callback") },
			50011, ""},
		{"a loopback redirect URI with another path is unregistered",
			func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9999/other") },
			50011, ""},
		{"a code challenge without S256 is refused by redirect",
			func(q url.Values) { q.Set("code_challenge_method", "plain") },
			0, "invalid_request"},
		{"a response type other than code is refused by redirect",
			func(q url.Values) { q.Set("response_type", "token") },
			0, "unsupported_response_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := authorizeQuery()
			tc.edit(q)
			rec := w.do("GET", path+q.Encode(), "", nil)
			switch {
			case tc.wantError != "":
				loc, _ := url.Parse(rec.Header().Get("Location"))
				if rec.Code != http.StatusFound || loc.Query().Get("error") != tc.wantError ||
					loc.Query().Get("state") != "st-1" {
					t.Fatalf("%d to %q, want the error %s", rec.Code, rec.Header().Get("Location"), tc.wantError)
				}
			case tc.wantPage != 0:
				if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" ||
					!strings.Contains(rec.Body.String(), `data-code="`+strconv.Itoa(tc.wantPage)+`"`) {
					t.Fatalf("%d %s, want an error page AADSTS%d", rec.Code, rec.Body, tc.wantPage)
				}
			default:
				if rec.Code != http.StatusOK ||
					!strings.Contains(
						rec.Body.String(),
						`button type="submit" name="upn" value="agent@`+DefaultHomePartner.Domain+`"`,
					) {
					t.Fatalf("%d %s, want the user picker", rec.Code, rec.Body)
				}
			}
		})
	}
}

// connect signs admin@ in through the pages and returns the token answer.
func (w *entraWorld) connect() map[string]any {
	w.t.Helper()
	back := w.signIn(authorizeQuery(), "admin@"+DefaultHomePartner.Domain, true)
	status, body := w.tokenCall(redeemForm(back.Query().Get("code")))
	if status != 200 {
		w.t.Fatalf("redeem: %d %v", status, body)
	}
	return body
}

func refreshForm(rt, scope string) url.Values {
	f := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {DemoApp.ClientID},
		"client_secret": {DemoApp.ClientSecret},
		"refresh_token": {rt},
	}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

func TestRefreshTokenRules(t *testing.T) {
	graphScope := pc.GraphAudience + "/" + PermissionGDAP + " offline_access"
	cases := []struct {
		name     string
		run      func(w *entraWorld, rt string) (int, map[string]any)
		wantCode int
		check    func(t *testing.T, w *entraWorld, rt string, body map[string]any)
	}{
		{"redemption returns a new refresh token and the old one stays valid",
			func(w *entraWorld, rt string) (int, map[string]any) { return w.tokenCall(refreshForm(rt, "")) }, 0,
			func(t *testing.T, w *entraWorld, rt string, body map[string]any) {
				if body["refresh_token"] == rt || body["refresh_token"] == nil {
					t.Fatalf("refresh token not rotated: %v", body["refresh_token"])
				}
				if status, again := w.tokenCall(refreshForm(rt, "")); status != 200 {
					t.Fatalf("the old refresh token after rotation: %d %v", status, again)
				}
				if status, again := w.tokenCall(refreshForm(body["refresh_token"].(string), "")); status != 200 {
					t.Fatalf("the new refresh token: %d %v", status, again)
				}
			}},
		{"a refresh token gives a Graph token with the Graph scope",
			func(w *entraWorld, rt string) (int, map[string]any) { return w.tokenCall(refreshForm(rt, graphScope)) }, 0,
			func(t *testing.T, w *entraWorld, _ string, body map[string]any) {
				at := claimsOf(t, body["access_token"].(string))
				if at["aud"] != pc.GraphAudience || at["scp"] != PermissionGDAP ||
					!slices.Equal(at["amr"].([]any), []any{"pwd", "mfa"}) {
					t.Fatalf("Graph token claims %v", at)
				}
				if rec := w.do(
					"GET", "/v1.0/tenantRelationships/delegatedAdminRelationships", body["access_token"].(string), nil,
				); rec.Code != 200 {
					t.Fatalf("Graph with the token: %d %s", rec.Code, rec.Body)
				}
			}},
		{"a revoked refresh token is refused (AADSTS50173)",
			func(w *entraWorld, rt string) (int, map[string]any) {
				_, n := decoded(w.do("POST", "/sim/connections/revoke", "",
					map[string]string{"upn": "admin@" + DefaultHomePartner.Domain}))
				if n["revoked"] != 1.0 {
					w.t.Fatalf("revoked %v, want 1", n)
				}
				return w.tokenCall(refreshForm(rt, ""))
			}, 50173, nil},
		{"a refresh token unused for 90 simulated days lapses (AADSTS700082)",
			func(w *entraWorld, rt string) (int, map[string]any) {
				w.do("POST", "/sim/clock", "", map[string]string{"advance": "2160h"})
				return w.tokenCall(refreshForm(rt, ""))
			}, 700082, nil},
		{"using a refresh token restarts its 90 days",
			func(w *entraWorld, rt string) (int, map[string]any) {
				w.do("POST", "/sim/clock", "", map[string]string{"advance": "1440h"})
				if status, body := w.tokenCall(refreshForm(rt, "")); status != 200 {
					w.t.Fatalf("after 60 days: %d %v", status, body)
				}
				w.do("POST", "/sim/clock", "", map[string]string{"advance": "1440h"})
				return w.tokenCall(refreshForm(rt, ""))
			}, 0, nil},
		{"a refresh token of another client is refused (AADSTS70000)",
			func(w *entraWorld, rt string) (int, map[string]any) {
				w.do(
					"POST",
					"/sim/apps",
					"",
					App{ClientID: "0f0f0f0f-1111-4222-8333-444444444444", ClientSecret: "other"},
				)
				f := refreshForm(rt, "")
				f.Set("client_id", "0f0f0f0f-1111-4222-8333-444444444444")
				f.Set("client_secret", "other")
				return w.tokenCall(f)
			}, 70000, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newEntraWorld(t)
			rt := w.connect()["refresh_token"].(string)
			status, body := tc.run(w, rt)
			if tc.wantCode != 0 {
				if status != 400 || aadsts(body) != tc.wantCode || body["error"] != "invalid_grant" {
					t.Fatalf("%d AADSTS%d, want 400 AADSTS%d: %v", status, aadsts(body), tc.wantCode, body)
				}
			} else if status != 200 {
				t.Fatalf("%d %v", status, body)
			}
			if tc.check != nil {
				tc.check(t, w, rt, body)
			}
			if err := w.s.CheckStorage(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConnectionsList(t *testing.T) {
	w := newEntraWorld(t)
	rt := w.connect()["refresh_token"].(string)
	w.tokenCall(refreshForm(rt, ""))
	rec := w.do("GET", "/sim/connections", "", nil)
	var list []Connection
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 2 {
		t.Fatalf("connections: %v %s", err, rec.Body)
	}
	if strings.Contains(rec.Body.String(), rt) {
		t.Fatal("the connection list shows a refresh token")
	}
	used := 0
	for _, c := range list {
		if c.UPN != "admin@"+DefaultHomePartner.Domain || c.ClientID != DemoApp.ClientID || c.Revoked || !c.MFA {
			t.Fatalf("connection %+v", c)
		}
		if !c.LastUsed.IsZero() {
			used++
		}
	}
	if used != 1 {
		t.Fatalf("%d connections used, want 1 (the redeemed one): %+v", used, list)
	}
	if _, n := decoded(w.do("POST", "/sim/connections/revoke", "", nil)); n["revoked"] != 2.0 {
		t.Fatalf("revoking every user's tokens: %v", n)
	}
}

func TestClientCredentialsRules(t *testing.T) {
	form := func(edit func(url.Values)) url.Values {
		f := url.Values{
			"grant_type":    {"client_credentials"},
			"client_id":     {DemoApp.ClientID},
			"client_secret": {DemoApp.ClientSecret},
			"scope":         {pc.GraphAudience + "/.default"},
		}
		if edit != nil {
			edit(f)
		}
		return f
	}
	cases := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantCode   int
	}{
		{"the right secret gives an app-only Graph token with the GDAP and cross-tenant roles", form(nil), 200, 0},
		{"a Partner Center .default scope gives a Partner Center token",
			form(func(f url.Values) { f.Set("scope", pc.PartnerCenterAudience+"/.default") }),
			200, 0},
		{"a wrong secret is refused 401 invalid_client (AADSTS7000215)",
			form(func(f url.Values) { f.Set("client_secret", "wrong") }),
			401, 7000215},
		{"no secret is refused 401 (AADSTS7000218)", form(func(f url.Values) { f.Del("client_secret") }), 401, 7000218},
		{"an unknown client is refused (AADSTS700016)", form(func(f url.Values) { f.Set("client_id", newID()) }),
			400, 700016},
		{"a scope without /.default is refused (AADSTS1002012)",
			form(func(f url.Values) { f.Set("scope", pc.PartnerCenterUserScope) }),
			400, 1002012},
		{"an unknown resource is refused (AADSTS500011)",
			form(func(f url.Values) { f.Set("scope", "https://management.azure.com/.default") }),
			400, 500011},
	}
	w := newEntraWorld(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := w.tokenCall(tc.form)
			if status != tc.wantStatus || aadsts(body) != tc.wantCode {
				t.Fatalf("%d AADSTS%d, want %d AADSTS%d: %v", status, aadsts(body), tc.wantStatus, tc.wantCode, body)
			}
			if status != 200 {
				return
			}
			at := claimsOf(t, body["access_token"].(string))
			if at["idtyp"] != "app" || at["upn"] != nil || at["scp"] != nil || at["appid"] != DemoApp.ClientID {
				t.Fatalf("app-only claims %v", at)
			}
			if at["aud"] == pc.GraphAudience &&
				!slices.Equal(at["roles"].([]any), []any{PermissionGDAP, PermissionCrossTenantRead}) {
				t.Fatalf("Graph roles %v", at["roles"])
			}
		})
	}
	t.Run("HTTP Basic client authentication is accepted", func(t *testing.T) {
		f := form(nil)
		f.Del("client_secret")
		f.Del("client_id")
		req := httptest.NewRequest(
			"POST",
			"/"+DefaultHomePartner.TenantID+"/oauth2/v2.0/token",
			strings.NewReader(f.Encode()),
		)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(DemoApp.ClientID, DemoApp.ClientSecret)
		rec := httptest.NewRecorder()
		w.s.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}

// deviceStart asks the home tenant for a device code.
func (w *entraWorld) deviceStart() map[string]any {
	w.t.Helper()
	status, body := decoded(w.do("POST", "/"+DefaultHomePartner.TenantID+"/oauth2/v2.0/devicecode", "",
		url.Values{"client_id": {DemoApp.ClientID}, "scope": {connectScopes}}))
	if status != 200 || body["verification_uri"] != "http://sim.test/devicelogin" || body["interval"] != 5.0 ||
		body["expires_in"] != 900.0 {
		w.t.Fatalf("devicecode: %d %v", status, body)
	}
	return body
}

func devicePoll(w *entraWorld, dc map[string]any) (int, map[string]any) {
	return w.tokenCall(url.Values{
		"grant_type":  {grantDeviceCode},
		"client_id":   {DemoApp.ClientID},
		"device_code": {dc["device_code"].(string)},
	})
}

func TestDeviceCodeRules(t *testing.T) {
	cases := []struct {
		name      string
		user      func(w *entraWorld, dc map[string]any)
		wantError string
		wantMFA   bool
	}{
		{"a device code is pending until the user signs in", func(*entraWorld, map[string]any) {},
			"authorization_pending", false},
		{"the user signing in with MFA grants the tokens", func(w *entraWorld, dc map[string]any) {
			w.do(
				"POST",
				"/sim/devicelogin",
				"",
				map[string]any{"userCode": dc["user_code"], "upn": "admin@" + DefaultHomePartner.Domain, "mfa": true},
			)
		}, "", true},
		{"the user skipping MFA grants tokens without the mfa claim", func(w *entraWorld, dc map[string]any) {
			w.do(
				"POST",
				"/sim/devicelogin",
				"",
				map[string]any{"userCode": dc["user_code"], "upn": "admin@" + DefaultHomePartner.Domain, "mfa": false},
			)
		}, "", false},
		{"the user declining is answered authorization_declined", func(w *entraWorld, dc map[string]any) {
			w.do("POST", "/sim/devicelogin", "", map[string]any{"userCode": dc["user_code"], "deny": true})
		}, "authorization_declined", false},
		{"a device code expires after 15 minutes", func(w *entraWorld, _ map[string]any) {
			w.do("POST", "/sim/clock", "", map[string]string{"advance": "16m"})
		}, "expired_token", false},
		{"the sign-in pages complete a device login", func(w *entraWorld, dc map[string]any) {
			rec := w.do("POST", "/devicelogin", "", url.Values{"otc": {dc["user_code"].(string)}})
			m := regexp.MustCompile(`name="flow" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
			if m == nil {
				w.t.Fatalf("after the code: %d %s", rec.Code, rec.Body)
			}
			upn := "admin@" + DefaultHomePartner.Domain
			w.do("POST", "/devicelogin", "", url.Values{"flow": {m[1]}, "upn": {upn}})
			if rec := w.do(
				"POST", "/devicelogin", "", url.Values{"flow": {m[1]}, "upn": {upn}, "mfa": {"approve"}},
			); !strings.Contains(rec.Body.String(), `id="result"`) {
				w.t.Fatalf("after MFA: %s", rec.Body)
			}
		}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newEntraWorld(t)
			dc := w.deviceStart()
			if status, body := devicePoll(w, dc); status != 400 || body["error"] != "authorization_pending" {
				t.Fatalf("first poll: %d %v", status, body)
			}
			tc.user(w, dc)
			status, body := devicePoll(w, dc)
			if tc.wantError != "" {
				if status != 400 || body["error"] != tc.wantError {
					t.Fatalf("%d %v, want %s", status, body, tc.wantError)
				}
				return
			}
			if status != 200 || body["refresh_token"] == nil {
				t.Fatalf("%d %v", status, body)
			}
			amr := claimsOf(t, body["access_token"].(string))["amr"].([]any)
			if slices.Contains(amr, any("mfa")) != tc.wantMFA {
				t.Fatalf("amr %v, want mfa %v", amr, tc.wantMFA)
			}
			if status, body := devicePoll(w, dc); status != 400 {
				t.Fatalf("a second redemption: %d %v", status, body)
			}
		})
	}
}

func TestSimTokens(t *testing.T) {
	w := newEntraWorld(t)
	cases := []struct {
		name  string
		body  any
		check func(c map[string]any) bool
	}{
		{"the default is the home admin, App+User, with MFA, for Partner Center", nil, func(c map[string]any) bool {
			return c["upn"] == "admin@"+DefaultHomePartner.Domain && c["aud"] == pc.PartnerCenterAudience &&
				slices.Contains(c["amr"].([]any), any("mfa"))
		}},
		{"mfa false leaves MFA out", map[string]any{"mfa": false, "upn": "agent@" + DefaultHomePartner.Domain},
			func(c map[string]any) bool {
				return c["upn"] == "agent@"+DefaultHomePartner.Domain && !slices.Contains(c["amr"].([]any), any("mfa"))
			}},
		{"appOnly for graph gives the GDAP role", map[string]any{"appOnly": true, "resource": "graph"},
			func(c map[string]any) bool {
				return c["idtyp"] == "app" && c["aud"] == pc.GraphAudience && c["roles"] != nil
			}},
		{"a tenant ID issues in that tenant", map[string]any{"tenantId": contosoTenant}, func(c map[string]any) bool {
			return c["tid"] == contosoTenant && c["upn"] == "admin@contoso.onmicrosoft.com"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := decoded(w.do("POST", "/sim/tokens", "", tc.body))
			if status != 200 {
				t.Fatalf("%d %v", status, body)
			}
			if c := claimsOf(t, body["access_token"].(string)); !tc.check(c) {
				t.Fatalf("claims %v", c)
			}
		})
	}
	if status, _ := decoded(w.do(
		"POST", "/sim/tokens", "", map[string]any{"upn": "nobody@" + DefaultHomePartner.Domain},
	)); status != 400 {
		t.Fatalf("an unknown user: %d, want 400", status)
	}
}
