package api_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// fuzzAPI is the real router on SQLite with the fake Temporal client, holding one flow of each
// kind for the routes that act on one. Requests go straight to the handler, without a network,
// so a fuzz run tries thousands of bodies a second.
type fuzzAPI struct {
	handler http.Handler
	// routes are the router's method and path pairs (Server.Routes).
	routes [][2]string
	store  *models.Store
	keys   map[models.Role]string
	// The flows the routes act on, and the customers' links.
	invitationID, acceptedInvitationID, resellerID, activeResellerID, customerID string
	acceptPath, partnerPath                                                      string
	// webhookKey signs Partner Center events the API trusts; certURL serves its certificate.
	webhookKey *rsa.PrivateKey
	certURL    string
}

func newFuzzAPI(t testing.TB) *fuzzAPI {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "partner-center-fuzz"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(der) }))
	t.Cleanup(certs.Close)

	cdc, err := codec.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	store := testdb.SQLite(t)
	const baseURL = "http://partnerflow.test"
	srv := api.New(api.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:  store, Temporal: newFakeTemporal(), Codec: cdc, Registry: prometheus.NewRegistry(),
		SigningKey: signingKey, MaxBodyBytes: 64 << 10, WebhookAllowPrivate: true,
		Flows: api.FlowConfig{
			PartnerID: partnerID, PartnerName: "Fabrikam Cloud Services", BaseURL: baseURL,
			ContactEmail: "escalations@fabrikam.example",
			Webhooks: partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
				AllowedCertificateHosts: []string{strings.TrimPrefix(certs.URL, "http://")}, AllowHTTP: true,
			}),
		},
	})
	a := &fuzzAPI{
		handler:    srv.Handler(),
		routes:     srv.Routes(),
		store:      store,
		keys:       map[models.Role]string{},
		webhookKey: key,
		certURL:    certs.URL + "/certificate.cer",
	}
	for _, r := range models.AllRoles {
		k, _, err := store.CreateAPIKey(context.Background(), string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		a.keys[r] = k
	}
	created := func(path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		rec := a.do("POST", path, a.keys[models.RoleGlobalAdmin], "application/json", b)
		if rec.Code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	inv := created("/v1/invitations", validInvitation())
	a.invitationID, a.acceptPath = inv["id"].(string), strings.TrimPrefix(inv["acceptUrl"].(string), baseURL)
	accepted := validInvitation()
	accepted["customerDomain"] = "fabrikam.onmicrosoft.com"
	a.acceptedInvitationID = created("/v1/invitations", accepted)["id"].(string)
	if err := models.Record(context.Background(), store, models.KindInvitation, a.acceptedInvitationID,
		models.InvitationChange{Set: models.Invitation{
			Status:           models.InvitationActive,
			CustomerTenantID: "2b7e6c1d-3f4a-4b5c-9d8e-7f6a5b4c3d2e",
		}}); err != nil {
		t.Fatal(err)
	}
	res := created("/v1/resellers", map[string]any{
		"email":       "admin@proseware.example",
		"companyName": "Proseware",
		"mpnId":       "3456789",
	})
	a.resellerID, a.partnerPath = res["id"].(string), strings.TrimPrefix(res["landingUrl"].(string), baseURL)
	now := time.Now().UTC()
	active := &models.Reseller{
		ID:          "res_adatum01",
		PartnerID:   partnerID,
		CompanyName: "Adatum",
		Email:       "admin@adatum.example",
		Language:    "en",
		MPNID:       "1234567",
		TenantID:    "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a",
		Status:      models.ResellerActive,
		WorkflowID:  "reseller/0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a",
		CreatedAt:   now,
		UpdatedAt:   now,
		ExpiresAt:   now.Add(time.Hour),
	}
	if _, err := store.CreateReseller(context.Background(), active); err != nil {
		t.Fatal(err)
	}
	a.activeResellerID = active.ID
	a.customerID = created("/v1/customers", validCustomer())["id"].(string)
	return a
}

// do sends one request through the router.
func (a *fuzzAPI) do(
	method, target, key, contentType string, body []byte, headers ...string,
) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://partnerflow.test/", bytes.NewReader(body))
	// The target is set after NewRequest, which panics on a target it cannot parse.
	u, err := url.ParseRequestURI(target)
	if err != nil {
		u = &url.URL{Path: "/"}
	}
	req.URL, req.RequestURI = u, u.RequestURI()
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.handler.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
	case <-time.After(requestTimeout):
		// A request that hangs is a finding too: report it with the input that caused it.
		panic(fmt.Sprintf("%s %s did not answer within %s (body %q)", method, target, requestTimeout, body))
	}
	return rec
}

// requestTimeout is how long a request may take before the fuzz target reports it as hanging.
const requestTimeout = 5 * time.Second

// checkAnswer holds the API's promise for bad input: never a server error; a success, or a
// problem+json client error with a stable type and its own status.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch {
	case rec.Code >= 200 && rec.Code < 300:
		return
	case rec.Code < 400 || rec.Code >= 500:
		t.Fatalf("%s: status %d, want 2xx or 4xx: %s", what, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("%s: %d with Content-Type %q, want application/problem+json: %s", what, rec.Code, ct, rec.Body)
	}
	var p api.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("%s: %d problem is not JSON (%v): %s", what, rec.Code, err, rec.Body)
	}
	if !strings.HasPrefix(p.Type, api.ProblemTypePrefix) || len(p.Type) == len(api.ProblemTypePrefix) ||
		p.Status != rec.Code || p.Title == "" {
		t.Fatalf("%s: incomplete problem for %d: %s", what, rec.Code, rec.Body)
	}
}

// jsonRoute is a route that decodes a JSON request body.
type jsonRoute struct {
	name   string
	method string
	path   func(a *fuzzAPI) string
	role   models.Role // "" for the customers' public pages
	seed   string
	// decoder is the function in package api that decodes the body.
	decoder string
}

func fixed(p string) func(*fuzzAPI) string { return func(*fuzzAPI) string { return p } }

// jsonRoutes lists every route that binds a JSON body (bindJSON, bindOptionalJSON, the codec's
// protobuf JSON), each with a valid body as its seed.
var jsonRoutes = []jsonRoute{
	{"create API key", "POST", fixed("/v1/api-keys"), models.RoleGlobalAdmin,
		`{"name":"ci","roles":["sales-agent"]}`, "createAPIKey"},
	{"create invitation", "POST", fixed("/v1/invitations"), models.RoleAdminAgent,
		`{"customerDomain":"northwind.onmicrosoft.com","customerEmail":"admin@northwind.onmicrosoft.com",` +
			`"roles":["729827e3-9c14-49f7-bb1b-9608f156bbb8"],"durationDays":730,"autoExtend":true,` +
			`"assignments":[{"securityGroupId":"0b9e6d3c-5a1f-4c2e-8d7b-6e3f2a1c9d84",` +
			`"roles":["Helpdesk Administrator"]}],"language":"it","cloud":"usgov","adminAccess":true}`,
		"createInvitation"},
	{"cancel invitation", "POST",
		func(a *fuzzAPI) string { return "/v1/invitations/" + a.invitationID + "/cancel" }, models.RoleAdminAgent,
		`{"reason":"the customer asked"}`, "cancelArg"},
	{"create reseller", "POST", fixed("/v1/resellers"), models.RoleAdminAgent,
		`{"email":"admin@litware.example","companyName":"Litware","mpnId":"2345678","language":"tr",` +
			`"contactEmail":"ops@fabrikam.example"}`,
		"createReseller"},
	{"cancel reseller", "POST",
		func(a *fuzzAPI) string { return "/v1/resellers/" + a.resellerID + "/cancel" }, models.RoleAdminAgent,
		`{}`, "cancelArg"},
	{"remove reseller", "POST",
		func(a *fuzzAPI) string { return "/v1/resellers/" + a.activeResellerID + "/removal" }, models.RoleGlobalAdmin,
		`{"attestation":true,"attestedBy":"Jane Doe"}`, "createRemoval"},
	{"create customer", "POST", fixed("/v1/customers"), models.RoleSalesAgent,
		`{"companyName":"Contoso Türkiye","domainPrefix":"contosotr","country":"TR","language":"tr",` +
			`"registrationNumber":"1234567890",` +
			`"contact":{"firstName":"Ayşe","lastName":"Yılmaz","email":"ayse@contoso.com.tr",` +
			`"phone":"+90 212 555 0100"},` +
			`"address":{"line1":"İstiklal 1","city":"İstanbul","postalCode":"34433"},` +
			`"products":[{"catalogItemId":"CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS","quantity":3,"billingCycle":"monthly",` +
			`"termDuration":"P1M"}]}`,
		"createOnboarding"},
	{"onboard invited customer", "POST",
		func(a *fuzzAPI) string { return "/v1/customers/" + a.acceptedInvitationID + "/onboarding" },
		models.RoleSalesAgent,
		`{"country":"US","contact":{"firstName":"Ann","lastName":"Lee","email":"ann@fabrikam.example"},` +
			`"address":{"line1":"1 Main St","city":"Redmond","state":"WA","postalCode":"98052"},` +
			`"products":[{"catalogItemId":"CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS","quantity":1,"billingCycle":"annual",` +
			`"termDuration":"P1Y"}]}`,
		"onboardInvitedCustomer"},
	{"change cart", "POST",
		func(a *fuzzAPI) string { return "/v1/customers/" + a.customerID + "/cart" }, models.RoleSalesAgent,
		`{"products":[{"catalogItemId":"CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS","quantity":5,"billingCycle":"monthly",` +
			`"termDuration":"P1M"}]}`,
		"cartArg"},
	{"cancel onboarding", "POST",
		func(a *fuzzAPI) string { return "/v1/customers/" + a.customerID + "/cart/cancel" }, models.RoleSalesAgent,
		``, "cancelArg"},
	{"attest agreement", "POST",
		func(a *fuzzAPI) string { return "/v1/customers/" + a.customerID + "/agreement" }, models.RoleSalesAgent,
		`{"primaryContact":{"firstName":"Maria","lastName":"Rossi","email":"maria@contoso.it",` +
			`"phone":"+39 02 555 0100"},"dateAgreed":"2025-03-10"}`,
		"attestAgreement"},
	{"subscribe webhook", "POST", fixed("/v1/webhook-subscriptions"), models.RoleGlobalAdmin,
		`{"url":"https://hooks.fabrikam.example/partnerflow","events":["invitation.active"],"description":"ops"}`,
		"createWebhookSubscription"},
	{"customer acknowledges", "POST", func(a *fuzzAPI) string { return a.acceptPath }, "",
		`{"upn":"admin@contoso.onmicrosoft.com"}`, "acknowledgeAcceptance"},
	{"reseller acknowledges", "POST", func(a *fuzzAPI) string { return a.partnerPath }, "",
		`{"mpnId":"3456789"}`, "acknowledgePartnership"},
	{"codec encode", "POST", fixed("/codec/encode"), models.RoleGlobalAdmin,
		`{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"eyJhIjoxfQ=="}]}`, "serveCodec"},
	{"codec decode", "POST", fixed("/codec/decode"), models.RoleGlobalAdmin,
		`{"payloads":[{"metadata":{"encoding":"YmluYXJ5L2VuY3J5cHRlZA==","encryption-key-id":"OGMwY2MxN2E="},` +
			`"data":"EuhRIjiMC+H3Li1H/uOnj3JF5xwvUx6jSbwRPApXG5QNOadnwv+bDgu1Kr3NhyfeyYCjD+fIM9eeS7CZsQ=="}]}`,
		"serveCodec"},
}

// FuzzJSONRequestBodies sends arbitrary bodies to every route that decodes JSON, through the
// real router with a valid key: the answer is a success or a problem+json 4xx, never a 5xx.
func FuzzJSONRequestBodies(f *testing.F) {
	for i, r := range jsonRoutes {
		f.Add(uint8(i), []byte(r.seed))
		f.Add(uint8(i), []byte(`{"`+strings.Repeat("a", 10)+`":1}`))
		f.Add(uint8(i), []byte(`[]`))
	}
	f.Add(uint8(0), []byte(`{"name":"x","roles":["sales-agent"]} {}`))
	f.Add(uint8(1), []byte(`{"customerDomain":"a.onmicrosoft.com","durationDays":1e400}`))
	f.Add(uint8(6), []byte(`{"products":[{"quantity":-1}],"country":"\u0000"}`))
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := jsonRoutes[int(route)%len(jsonRoutes)]
		rec := a.do(r.method, r.path(a), a.keys[r.role], "application/json", body)
		checkAnswer(t, r.name, rec)
	})
}

// FuzzListQueries sends arbitrary query strings (status, limit, cursor, filters) to the list
// routes, whose page cursors come back from clients: never a 5xx. The lists are the router's
// GET routes under /v1 without a parameter, so every registered flow's list is fuzzed, and a
// timeline.
func FuzzListQueries(f *testing.F) {
	a := newFuzzAPI(f)
	var lists []string
	for _, r := range a.routes {
		if r[0] == "GET" && strings.HasPrefix(r[1], "/v1/") && !strings.Contains(r[1], ":") {
			lists = append(lists, r[1])
		}
	}
	for _, want := range []string{
		"/v1/invitations", "/v1/resellers", "/v1/customers", "/v1/removals", "/v1/notifications",
		"/v1/webhook-deliveries",
	} {
		if !slices.Contains(lists, want) {
			f.Fatalf("the list routes %v leave out %s", lists, want)
		}
	}
	lists = append(lists, "/v1/invitations/%s/steps")
	for i := range lists {
		f.Add(uint8(i), "status=pending&limit=2")
		f.Add(uint8(i), "cursor=MjAyNS0wMy0xMFQwOTowMDowMFp8aW52XzE&limit=1")
		f.Add(uint8(i), "cursor=b3V0Ym94OjE&q=%25_&limit=-1")
	}
	f.Fuzz(func(t *testing.T, list uint8, query string) {
		path := strings.Replace(lists[int(list)%len(lists)], "%s", a.invitationID, 1)
		target := path + "?" + query
		if _, err := url.ParseRequestURI(target); err != nil {
			return // not a request line a client could send
		}
		checkAnswer(t, target, a.do("GET", target, a.keys[models.RoleGlobalAdmin], "", nil))
	})
}

// FuzzSessionCookie offers the dashboard arbitrary session cookies, many of them a real
// session with one byte changed or text added: only the session the server issued lets the
// caller in.
func FuzzSessionCookie(f *testing.F) {
	f.Add("", uint16(0), byte(0), true)
	f.Add("", uint16(5), byte(1), true)
	f.Add("x", uint16(0), byte(0), true)
	f.Add("abc.123.forged", uint16(0), byte(0), false)
	f.Add("pfk_0.9999999999.AAAA", uint16(0), byte(0), false)
	f.Add(`"`, uint16(0), byte(0), false)
	a := newFuzzAPI(f)
	form := "next=%2F&key=" + url.QueryEscape(a.keys[models.RoleAdminAgent])
	login := a.do("POST", "/login", "", "application/x-www-form-urlencoded", []byte(form))
	var session string
	for _, c := range login.Result().Cookies() {
		if c.Name == api.SessionCookie && c.Value != "" {
			session = c.Value
		}
	}
	if session == "" {
		f.Fatalf("sign in gave no session: %d %v", login.Code, login.Header())
	}
	f.Fuzz(func(t *testing.T, text string, pos uint16, flip byte, mutateReal bool) {
		cookie := text
		if mutateReal {
			b := []byte(session)
			b[int(pos)%len(b)] ^= flip
			cookie = string(b) + text
		}
		header := api.SessionCookie + "=" + cookie
		// The value the server reads: the first cookie of the name, unquoted, and URL-unescaped
		// as gin's Context.Cookie does.
		probe := &http.Request{Header: http.Header{"Cookie": {header}}}
		seen := ""
		if c, err := probe.Cookie(api.SessionCookie); err == nil {
			seen, _ = url.QueryUnescape(c.Value)
		}
		rec := a.do("GET", "/", "", "", nil, "Cookie", header)
		admitted := rec.Code == http.StatusOK
		if !admitted &&
			(rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/login")) {
			t.Fatalf("cookie %q: %d, want 200 or a redirect to sign in: %s", cookie, rec.Code, rec.Body)
		}
		if admitted != (seen == session) {
			t.Fatalf("cookie %q (read as %q): admitted=%v, but the issued session is %q",
				cookie, seen, admitted, session)
		}
	})
}

// signEvent signs body as Partner Center does.
func (a *fuzzAPI) signEvent(t testing.TB, body []byte) []string {
	digest := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.webhookKey, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return []string{
		"Authorization", "Signature " + base64.StdEncoding.EncodeToString(sig),
		partnercenter.HeaderCertificateURL, a.certURL, partnercenter.HeaderSignatureAlgorithm, "rsa-sha256",
	}
}

// FuzzPartnerCenterWebhook posts arbitrary event bodies to the webhook route, signed by the
// trusted certificate or not: a signed body is stored and routed or refused with a problem,
// never a 5xx; an unsigned one is always refused.
func FuzzPartnerCenterWebhook(f *testing.F) {
	seeds := []string{
		`{"EventName":"granular-admin-relationship-approved",` +
			`"ResourceUri":"https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships/rel-1",` +
			`"ResourceName":"delegatedAdminRelationship","ResourceChangeUtcDate":"2025-03-10T10:00:00Z"}`,
		`{"EventName":"customer-relationship-accepted",` +
			`"ResourceUri":` +
			`"https://api.partnercenter.microsoft.com/v1/customers/2b7e6c1d-3f4a-4b5c-9d8e-7f6a5b4c3d2e",` +
			`"ResourceChangeUtcDate":"2025-03-10T10:00:00.1234567"}`,
		`{"EventName":"indirect-reseller-partnership-accepted","ResourceUri":"/v1/customers/x",` +
			`"ResourceChangeUtcDate":null}`,
		`{"EventName":"test-created"}`,
		`{"EventName":""}`,
		`null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), true)
	}
	f.Add([]byte(seeds[0]), false)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		var headers []string
		if signed {
			headers = a.signEvent(t, body)
		}
		rec := a.do("POST", "/webhooks/partner-center", "", "application/json", body, headers...)
		checkAnswer(t, "webhook", rec)
		if !signed && rec.Code < 400 {
			t.Fatalf("an unsigned event was accepted: %d %s", rec.Code, rec.Body)
		}
	})
}

// TestEveryJSONDecoderIsFuzzed finds the functions of package api that decode a request body
// (bindJSON, bindOptionalJSON, protojson.Unmarshal) and checks that FuzzJSONRequestBodies
// reaches each through a route, so a new decoder without a fuzzed route fails here.
func TestEveryJSONDecoderIsFuzzed(t *testing.T) {
	fuzzed := map[string]bool{}
	for _, r := range jsonRoutes {
		fuzzed[r.decoder] = true
	}
	decoders := functionsCalling(t, func(call *ast.CallExpr) bool {
		switch f := call.Fun.(type) {
		case *ast.Ident:
			return f.Name == "bindJSON" || f.Name == "bindOptionalJSON"
		case *ast.SelectorExpr:
			pkg, ok := f.X.(*ast.Ident)
			return ok && pkg.Name == "protojson" && f.Sel.Name == "Unmarshal"
		}
		return false
	})
	delete(decoders, "bindOptionalJSON")
	for name, at := range decoders {
		if !fuzzed[name] {
			t.Errorf("%s (%s) decodes a request body but no route in jsonRoutes reaches it: add one", name, at)
		}
	}
	if len(decoders) < 10 {
		t.Fatalf("found only %d decoders: the search no longer sees them", len(decoders))
	}
}

// functionsCalling returns the functions of package api (non-test files) whose body holds a
// call that matches, with where each is.
func functionsCalling(t *testing.T, matches func(*ast.CallExpr) bool) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok && matches(call) {
					out[fn.Name.Name] = fset.Position(fn.Pos()).String()
				}
				return true
			})
		}
	}
	return out
}
