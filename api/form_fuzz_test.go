package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
)

// formAPI is the real router on SQLite with the fake Temporal client and rate limits too wide
// to matter, so that every fuzzed form reaches the handler that parses it.
type formAPI struct {
	handler    http.Handler
	store      *models.Store
	customerID string
	// Paths of the customers' links and the dashboard form, and the signed-in operator's cookie.
	acceptPath, partnerPath, agreementPath, cancelPath, removalPath string
	session                                                         string
	// client numbers the requests' source addresses.
	client atomic.Uint32
}

func newFormAPI(t testing.TB) *formAPI {
	t.Helper()
	cdc, err := codec.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	store := testdb.SQLite(t)
	const baseURL = "http://partnerflow.test"
	wide := api.RateLimit{Every: time.Nanosecond, Burst: 1 << 30}
	srv := api.New(api.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:  store, Temporal: newFakeTemporal(), Codec: cdc, Registry: prometheus.NewRegistry(),
		SigningKey: signingKey, MaxBodyBytes: 64 << 10,
		RateLimits: api.RateLimits{PerClient: wide, PerToken: wide, AuthFailures: wide},
		Flows: api.FlowConfig{
			PartnerID:    partnerID,
			PartnerName:  "Fabrikam Cloud Services",
			BaseURL:      baseURL,
			ContactEmail: "escalations@fabrikam.example",
		},
	})
	a := &formAPI{handler: srv.Handler(), store: store}
	key, _, err := store.CreateAPIKey(context.Background(), "ops",
		models.RoleAdminAgent, models.RoleSalesAgent, models.RoleGlobalAdmin)
	if err != nil {
		t.Fatal(err)
	}
	created := func(path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		rec := a.do(http.MethodPost, path, "application/json", b,
			"Authorization", "Bearer "+key, "Accept", "application/json")
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
	a.acceptPath = strings.TrimPrefix(inv["acceptUrl"].(string), baseURL)
	a.cancelPath = "/invitations/" + inv["id"].(string) + "/cancel"
	res := created("/v1/resellers", map[string]any{
		"email":       "admin@proseware.example",
		"companyName": "Proseware",
		"mpnId":       "3456789",
	})
	a.partnerPath = strings.TrimPrefix(res["landingUrl"].(string), baseURL)
	a.removalPath = "/resellers/" + res["id"].(string) + "/removal"
	a.customerID = created("/v1/customers", validCustomer())["id"].(string)
	a.agreementPath = strings.TrimPrefix(
		links.NewSigner(signingKey).AgreementURL(baseURL, a.customerID, time.Now().Add(24*time.Hour)),
		baseURL,
	)

	login := a.do(http.MethodPost, "/login", "application/x-www-form-urlencoded",
		[]byte("next=%2F&key="+url.QueryEscape(key)))
	for _, c := range login.Result().Cookies() {
		if c.Name == api.SessionCookie && c.Value != "" {
			a.session = c.Value
		}
	}
	if a.session == "" {
		t.Fatalf("sign in gave no session: %d %v", login.Code, login.Header())
	}
	return a
}

// do sends one request through the router from a new client address each time.
func (a *formAPI) do(method, target, contentType string, body []byte, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://partnerflow.test"+target, bytes.NewReader(body))
	n := a.client.Add(1)
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:40000", byte(n>>16), byte(n>>8), byte(n))
	req.Header.Set("Accept", "text/html")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
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
		panic(fmt.Sprintf("%s %s did not answer within %s (body %q)", method, target, requestTimeout, body))
	}
	return rec
}

// formRoute is a route that reads an HTML form.
type formRoute struct {
	name string
	path func(a *formAPI) string
	// signedIn sends the operator's session cookie (a dashboard form).
	signedIn bool
	seed     string
	// readers are the functions in package api that read the form on this route.
	readers []string
}

// formRoutes lists every route whose handler reads a posted form, each with a valid form as
// its seed.
var formRoutes = []formRoute{
	{"customer accepts", func(a *formAPI) string { return a.acceptPath }, false,
		"upn=admin%40contoso.onmicrosoft.com", []string{"acknowledgeAcceptance"}},
	{"reseller acknowledges", func(a *formAPI) string { return a.partnerPath }, false,
		"mpnId=3456789", []string{"acknowledgePartnership"}},
	{"customer signs the agreement", func(a *formAPI) string { return a.agreementPath }, false,
		"firstName=Maria&lastName=Rossi&email=maria%40contoso.it&accept=yes", []string{"signAgreement"}},
	{"sign in", func(*formAPI) string { return "/login" }, false,
		"next=%2Finvitations&key=pfk_wrong", []string{"login"}},
	{"sign out", func(*formAPI) string { return "/logout" }, true, "csrf=x", []string{"logout"}},
	{"operator cancels an invitation", func(a *formAPI) string { return a.cancelPath }, true,
		"csrf=x&reason=the+customer+asked", []string{"checkCSRF", "waitActions"}},
	{"operator starts an invitation", func(*formAPI) string { return "/invitations/new" }, true,
		"csrf=x&customerDomain=contoso.onmicrosoft.com&customerEmail=admin%40contoso.com&language=en" +
			"&adminAccess=on&roles=Helpdesk+Administrator&durationDays=730&autoExtend=on",
		[]string{"postInvitationForm", "fill", "value"}},
	{"operator asks a reseller to partner", func(*formAPI) string { return "/resellers/new" }, true,
		"csrf=x&companyName=Adatum&email=admin%40adatum.example&mpnId=1234567&language=it",
		[]string{"postResellerForm"}},
	{"operator removes a partnership", func(a *formAPI) string { return a.removalPath }, true,
		"csrf=x&attestation=on&attestedBy=Ada+Ops", []string{"postRemovalForm"}},
	{"operator attests the agreement", func(a *formAPI) string { return "/customers/" + a.customerID + "/agreement" },
		true, "csrf=x&primaryContact.firstName=Maria&primaryContact.lastName=Rossi" +
			"&primaryContact.email=maria%40contoso.it&dateAgreed=2026-01-31", []string{"postAgreementForm"}},
	{"operator onboards a customer", func(*formAPI) string { return "/customers/new" }, true,
		"csrf=x&companyName=Contoso+Italia&domainPrefix=contosoitalia&country=IT&language=it" +
			"&registrationNumber=IT12345678901&contact.firstName=Maria&contact.lastName=Rossi" +
			"&contact.email=maria%40contoso.it&address.line1=Via+Roma+1&address.city=Milano" +
			"&address.postalCode=20121&products%5B1%5D.catalogItemId=CFQ7TTC0LFLZ%3A0002%3ACFQ7TTC0K4TS" +
			"&products%5B1%5D.quantity=10&products%5B1%5D.billingCycle=monthly&products%5B1%5D.termDuration=P1Y",
		[]string{"postOnboardingForm"}},
	{"operator reveals the credentials",
		func(a *formAPI) string { return "/customers/" + a.customerID + "/credentials" }, true,
		"csrf=x&confirm=on", []string{"postCredentialsForm"}},
	{"operator cancels a cart", func(a *formAPI) string { return "/customers/" + a.customerID + "/cart/cancel" },
		true, "csrf=x&reason=the+customer+changed+its+mind", []string{"onboardingPages", "cartAction"}},
}

// formTypes are the content types a browser posts forms with, and none.
var formTypes = []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=fuzz", "", "text/plain"}

// marker tags a form value so that the page it comes back on can be checked for escaping.
const marker = "<fz>"

// FuzzPublicForms posts arbitrary bodies, as every content type a browser uses for forms, to
// the customers' pages, sign-in and the dashboard's forms: the answer is a page or a problem,
// never a 5xx, and a value posted is never sent back unescaped.
func FuzzPublicForms(f *testing.F) {
	for i, r := range formRoutes {
		f.Add(uint8(i), uint8(0), []byte(r.seed))
		f.Add(uint8(i), uint8(0), []byte(r.seed+"&x="+url.QueryEscape(marker)+"%ZZ"))
		f.Add(uint8(i), uint8(1), []byte("--fuzz\r\nContent-Disposition: form-data; name=\"upn\"\r\n\r\n"+
			marker+"\r\n--fuzz--\r\n"))
	}
	f.Add(uint8(2), uint8(0), []byte("firstName="+url.QueryEscape(marker+"<script>alert(1)</script>")+
		"&lastName=R&email=a%40b.example&accept=yes"))
	f.Add(uint8(0), uint8(0), []byte("upn="+url.QueryEscape(marker)+"%40contoso.onmicrosoft.com&upn=second"))
	f.Add(uint8(1), uint8(1), []byte("--fuzz\r\nContent-Disposition: form-data; "+
		"name=\"mpnId\"; filename=\"x\"\r\n\r\n123\r\n"))
	a := newFormAPI(f)
	f.Fuzz(func(t *testing.T, route, contentType uint8, body []byte) {
		r := formRoutes[int(route)%len(formRoutes)]
		var headers []string
		if r.signedIn {
			headers = []string{"Cookie", api.SessionCookie + "=" + a.session}
		}
		if r.path(a) == a.agreementPath {
			// A signed agreement closes the page before its form is read: open it again.
			if err := a.store.DB.Exec("DELETE FROM agreement_evidence WHERE customer_id = ?",
				a.customerID).Error; err != nil {
				t.Fatal(err)
			}
		}
		rec := a.do(http.MethodPost, r.path(a), formTypes[int(contentType)%len(formTypes)], body, headers...)
		if rec.Code == http.StatusTooManyRequests {
			t.Fatalf("%s: rate limited, so the form was not read", r.name)
		}
		if rec.Code >= 500 {
			t.Fatalf("%s: status %d for body %q: %s", r.name, rec.Code, body, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); rec.Code >= 400 && !strings.HasPrefix(ct, "text/html") &&
			!strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("%s: %d with Content-Type %q, want a page or a problem", r.name, rec.Code, ct)
		}
		if bytes.Contains(body, []byte(marker)) || bytes.Contains(body, []byte(url.QueryEscape(marker))) {
			if bytes.Contains(rec.Body.Bytes(), []byte(marker)) {
				t.Fatalf("%s: a posted value came back unescaped: %s", r.name, rec.Body)
			}
		}
	})
}

// TestEveryFormReaderIsFuzzed finds the functions of package api that read a posted form
// (PostForm and its kin, ParseForm, ParseMultipartForm) and checks that FuzzPublicForms reaches
// each through a route, so a new form without a fuzzed route fails here.
func TestEveryFormReaderIsFuzzed(t *testing.T) {
	fuzzed := map[string]bool{}
	for _, r := range formRoutes {
		for _, name := range r.readers {
			fuzzed[name] = true
		}
	}
	readsForm := map[string]bool{
		"PostForm": true, "DefaultPostForm": true, "GetPostForm": true, "PostFormArray": true,
		"GetPostFormArray": true, "PostFormMap": true, "GetPostFormMap": true, "ParseForm": true,
		"ParseMultipartForm": true, "FormValue": true, "PostFormValue": true, "MultipartForm": true,
		"FormFile": true,
	}
	readers := functionsCalling(t, func(call *ast.CallExpr) bool {
		sel, ok := call.Fun.(*ast.SelectorExpr)
		return ok && readsForm[sel.Sel.Name]
	})
	for name, at := range readers {
		if !fuzzed[name] {
			t.Errorf("%s (%s) reads a posted form but no route in formRoutes reaches it: add one", name, at)
		}
	}
	if len(readers) < 5 {
		t.Fatalf("found only %d form readers: the search no longer sees them", len(readers))
	}
}
