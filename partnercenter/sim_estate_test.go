package partnercenter_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

const gdapList = "/v1.0/tenantRelationships/delegatedAdminRelationships"

// helpdeskAccess is the access of a relationship or assignment with the Helpdesk Administrator role.
var helpdeskAccess = partnercenter.AccessDetails{
	UnifiedRoles: []partnercenter.UnifiedRole{{RoleDefinitionID: helpdesk}},
}

// seedEstate seeds an estate in e's simulator and fails the test if it cannot.
func seedEstate(t *testing.T, e *simEnv, spec sim.EstateSpec) sim.EstateSummary {
	t.Helper()
	sum, err := e.sim.SeedEstate(spec)
	if err != nil {
		t.Fatalf("seed the estate: %v", err)
	}
	return sum
}

// appGraphToken is an app-only Graph token as the client earns it (the GDAP and cross-tenant
// roles), or with the given roles instead.
func (e *simEnv) appGraphToken(roles ...string) string {
	e.t.Helper()
	tok, err := e.sim.MintToken(sim.TokenRequest{AppOnly: true, Resource: sim.ResourceGraph, Permissions: roles})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// get sends GET target (a path or a whole URL) with the bearer token and returns the status,
// the headers and the body.
func (e *simEnv) get(token, target string) (int, http.Header, []byte) {
	e.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = e.srv.URL + target
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// graphCode is the error code of a Graph error body.
func graphCode(t *testing.T, body []byte) string {
	t.Helper()
	var env partnercenter.GraphErrorBody
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not Graph's error envelope: %s", body)
	}
	return env.Error.Code
}

// TestSimEstateListsReadEachOnce pages the partner's customers and GDAP relationships through the
// client, over HTTP, in an estate of 1,234 customers with one relationship each, while new ones
// come between pages: every customer and every relationship is read exactly once.
func TestSimEstateListsReadEachOnce(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	sum := seedEstate(t, e, sim.EstateSpec{Customers: 1234, GDAPPerCustomer: 1, Resellers: 3, CustomDomains: true})
	if len(sum.Customers) != 1234 || sum.GDAPRelationships != 1234 || len(sum.Resellers) != 3 {
		t.Fatalf("summary: %d customers, %d relationships, %d resellers",
			len(sum.Customers), sum.GDAPRelationships, len(sum.Resellers))
	}

	t.Run("customers", func(t *testing.T) {
		seen := map[string]int{}
		cont, pages := "", 0
		var late partnercenter.Customer
		for {
			page, err := e.c.ListCustomers(ctx, cont)
			if err != nil {
				t.Fatalf("page %d: %v", pages+1, err)
			}
			pages++
			if len(page.Items) > partnercenter.CustomersPageSize || len(page.Items) != page.TotalCount {
				t.Fatalf("page %d has %d items (totalCount %d)", pages, len(page.Items), page.TotalCount)
			}
			for _, c := range page.Items {
				seen[c.ID]++
				if c.CompanyProfile.TenantID != c.ID || c.RelationshipToPartner == "" {
					t.Errorf("item %+v", c)
				}
			}
			if pages == 1 {
				// A customer made while the sync pages, whose domain sorts after every page read.
				late, err = e.c.CreateCustomer(rid("late"), newCustomer("zzz-late"))
				if err != nil {
					t.Fatal(err)
				}
			}
			if page.ContinuationToken == "" {
				break
			}
			cont = page.ContinuationToken
			if pages > 10 {
				t.Fatal("more than 10 pages")
			}
		}
		for _, c := range sum.Customers {
			if seen[c.TenantID] != 1 {
				t.Errorf("customer %s read %d times", c.Domain, seen[c.TenantID])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s read %d times", id, n)
			}
		}
		// 1,234 + northwind (an advisor customer of the demo) + the late one, 500 a page.
		if len(seen) != 1236 || seen[late.ID] != 1 || pages != 3 {
			t.Errorf("%d customers in %d pages (late one read %d times)", len(seen), pages, seen[late.ID])
		}
	})

	t.Run("GDAP relationships", func(t *testing.T) {
		seen := map[string]int{}
		perCustomer := map[string]int{}
		byStatus := map[string]int{}
		next, pages := "", 0
		var late partnercenter.GDAPRelationship
		for {
			page, err := e.c.ListGDAPRelationships(ctx, next)
			if err != nil {
				t.Fatalf("page %d: %v", pages+1, err)
			}
			pages++
			if len(page.Value) > partnercenter.GraphPageSize {
				t.Fatalf("page %d has %d items", pages, len(page.Value))
			}
			for _, g := range page.Value {
				seen[g.ID]++
				perCustomer[g.Customer.TenantID]++
				if g.ID != late.ID {
					byStatus[g.Status]++
				}
				if g.ApprovalURL == "" || g.ETag == "" {
					t.Errorf("item %+v", g)
				}
			}
			if pages == 1 {
				late, err = e.c.CreateGDAPRelationship(rid("late"), partnercenter.NewGDAPRelationship{
					DisplayName: "made while paging", Duration: "P730D",
					Customer:      &partnercenter.GDAPCustomer{TenantID: contosoID},
					AccessDetails: helpdeskAccess,
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if page.NextLink == "" {
				break
			}
			if !strings.HasPrefix(page.NextLink, e.srv.URL+gdapList+"?") ||
				!strings.Contains(page.NextLink, "$skiptoken=") {
				t.Fatalf("nextLink %s", page.NextLink)
			}
			next = page.NextLink
			if pages > 10 {
				t.Fatal("more than 10 pages")
			}
		}
		for _, c := range sum.Customers {
			if perCustomer[c.TenantID] != 1 {
				t.Errorf("customer %s: %d relationships read", c.Domain, perCustomer[c.TenantID])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("relationship %s read %d times", id, n)
			}
		}
		// 1,234 and the one made on the way (the newest, so on the last page), 300 a page.
		if len(seen) != 1235 || seen[late.ID] != 1 || pages != 5 {
			t.Errorf("%d relationships in %d pages (late one read %d times)", len(seen), pages, seen[late.ID])
		}
		for status, n := range sum.GDAPByStatus {
			if byStatus[status] != n {
				t.Errorf("%d %s relationships listed, %d seeded", byStatus[status], status, n)
			}
		}
		for _, want := range []string{
			partnercenter.GDAPStatusActive, partnercenter.GDAPStatusTerminated, partnercenter.GDAPStatusExpired,
			partnercenter.GDAPStatusApprovalPending,
		} {
			if byStatus[want] == 0 {
				t.Errorf("no %s relationship in the estate: %v", want, byStatus)
			}
		}
	})
}

// TestSimGraphListPaging checks $top and $skiptoken on the simulator's Graph lists.
func TestSimGraphListPaging(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	seedEstate(t, e, sim.EstateSpec{Customers: 320, GDAPPerCustomer: 1})
	tok := e.appGraphToken()
	page := func(target string) partnercenter.GraphCollection[partnercenter.GDAPRelationship] {
		t.Helper()
		status, _, body := e.get(tok, target)
		var out partnercenter.GraphCollection[partnercenter.GDAPRelationship]
		if status != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("GET %s: %d %s", target, status, body)
		}
		return out
	}

	t.Run("$top bounds the page, 100 without it, 300 at most", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			n     int
		}{{"", 100}, {"?$top=1", 1}, {"?%24top=7", 7}, {"?$top=300", 300}, {"?$TOP=2", 2}} {
			got := page(gdapList + tc.query)
			if len(got.Value) != tc.n || got.NextLink == "" ||
				!strings.Contains(got.NextLink, fmt.Sprintf("$top=%d&", tc.n)) {
				t.Errorf("%q: %d items, nextLink %q", tc.query, len(got.Value), got.NextLink)
			}
			if next := page(got.NextLink); len(next.Value) != min(tc.n, 320-tc.n) {
				t.Errorf("%q: the next page has %d items, want the same $top", tc.query, len(next.Value))
			}
		}
		for _, bad := range []string{"0", "301", "-1", "abc", "1.5", ""} {
			status, _, body := e.get(tok, gdapList+"?$top="+bad)
			if status != http.StatusBadRequest || graphCode(t, body) != "badRequest" {
				t.Errorf("$top=%s: %d %s", bad, status, body)
			}
		}
	})
	t.Run("a garbage or foreign $skiptoken is 400 in Graph's envelope", func(t *testing.T) {
		foreign := base64.RawURLEncoding.EncodeToString(
			[]byte(`{"l":"assignments/x","t":5,"e":` + fmt.Sprint(time.Now().Add(100*24*time.Hour).Unix()) + `}`))
		for _, bad := range []string{"garbage", "", "%%%", foreign} {
			status, _, body := e.get(tok, gdapList+"?$skiptoken="+url.QueryEscape(bad))
			if status != http.StatusBadRequest || graphCode(t, body) != "badRequest" {
				t.Errorf("$skiptoken=%q: %d %s", bad, status, body)
			}
		}
	})
	t.Run("a stale nextLink is 400 and the list starts again", func(t *testing.T) {
		first, err := e.c.ListGDAPRelationships(ctx, "")
		if err != nil || first.NextLink == "" {
			t.Fatalf("first page: %v %q", err, first.NextLink)
		}
		e.advance(2 * time.Hour)
		_, err = e.c.ListGDAPRelationships(ctx, first.NextLink)
		var pcErr *partnercenter.Error
		if !errors.As(err, &pcErr) || pcErr.StatusCode != http.StatusBadRequest || pcErr.GraphCode != "badRequest" ||
			partnercenter.IsRetryable(err) {
			t.Fatalf("stale nextLink: %v", err)
		}
		if again, err := e.c.ListGDAPRelationships(ctx, ""); err != nil || len(again.Value) != 300 {
			t.Fatalf("the first page again: %d items, %v", len(again.Value), err)
		}
	})
}

// TestClientRefusesAForeignNextLink: a nextLink that is not the same list on the configured
// Graph service is refused before anything is sent, so the token goes nowhere else.
func TestClientRefusesAForeignNextLink(t *testing.T) {
	var evilCalls atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilCalls.Add(1)
		_, _ = w.Write([]byte(`{"value":[]}`))
	}))
	defer evil.Close()
	e := newSimEnv(t, "")
	ctx := context.Background()
	seedEstate(t, e, sim.EstateSpec{Customers: 5, GDAPPerCustomer: 1})
	host := strings.TrimPrefix(e.srv.URL, "http://")
	_, port, _ := strings.Cut(host, ":")
	for _, link := range []string{
		evil.URL + gdapList + "?$skiptoken=x",
		"https://" + host + gdapList + "?$skiptoken=x",
		"http://user:secret@" + host + gdapList + "?$skiptoken=x",
		"http://localhost:" + port + gdapList + "?$skiptoken=x",
		e.srv.URL + "/v1/customers?$skiptoken=x",
		e.srv.URL + gdapList + "/x/accessAssignments?$skiptoken=x",
		gdapList + "?$skiptoken=x",
		"//" + strings.TrimPrefix(evil.URL, "http://") + gdapList,
		"http://%zz",
	} {
		_, err := e.c.ListGDAPRelationships(ctx, link)
		if !errors.Is(err, partnercenter.ErrForeignNextLink) {
			t.Errorf("%s: %v, want ErrForeignNextLink", link, err)
		}
	}
	if n := evilCalls.Load(); n != 0 {
		t.Fatalf("the other host got %d requests", n)
	}
	t.Run("the configured service's nextLink in other letters is followed", func(t *testing.T) {
		got, err := e.c.ListGDAPRelationships(ctx, "HTTP://"+strings.ToUpper(host)+gdapList+"?$top=2")
		if err != nil || len(got.Value) != 2 {
			t.Fatalf("%d items, %v", len(got.Value), err)
		}
	})
	t.Run("ListAccessAssignments stops at a foreign nextLink", func(t *testing.T) {
		var calls atomic.Int32
		graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if r.URL.Query().Get("$top") != "300" {
				t.Errorf("first page asked %s", r.URL.RawQuery)
			}
			_, _ = fmt.Fprintf(w, `{"value":[{"id":"a1","status":"active"}],"@odata.nextLink":%q}`,
				evil.URL+r.URL.Path+"?$skiptoken=2")
		}))
		defer graph.Close()
		c, err := partnercenter.New(testConfig(t, graph.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListAccessAssignments(ctx, "rel"); !errors.Is(err, partnercenter.ErrForeignNextLink) {
			t.Fatalf("err = %v", err)
		}
		if calls.Load() != 1 || evilCalls.Load() != 0 {
			t.Fatalf("Graph got %d calls, the other host %d", calls.Load(), evilCalls.Load())
		}
	})
}

// TestSimAccessAssignmentsArePaged reads the 301 access assignments of one relationship: the
// simulator answers 300 and a nextLink, ListAccessAssignments follows it.
func TestSimAccessAssignmentsArePaged(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	rel, err := e.c.CreateGDAPRelationship(rid("gdap"), partnercenter.NewGDAPRelationship{
		DisplayName: "many groups", Duration: "P730D", Customer: &partnercenter.GDAPCustomer{TenantID: fabrikamID},
		AccessDetails: helpdeskAccess,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.LockGDAPForApproval(rid("lock"), rel.ID); err != nil {
		t.Fatal(err)
	}
	if st, body := e.post("/sim/customer-actions/approve-gdap", map[string]string{
		"relationshipId": rel.ID, "upn": "admin@fabrikam.onmicrosoft.com",
	}); st != 200 {
		t.Fatalf("approve: %d %v", st, body)
	}
	e.advance(2 * time.Minute)
	const n = 301
	for i := range n {
		if _, err := e.c.CreateAccessAssignment(rid("assign"), rel.ID, partnercenter.NewAccessAssignment{
			AccessContainer: partnercenter.AccessContainer{
				AccessContainerID:   fmt.Sprintf("9a4a1d2b-1111-4c3d-8e5f-%012d", i),
				AccessContainerType: "securityGroup",
			},
			AccessDetails: helpdeskAccess,
		}); err != nil {
			t.Fatalf("assignment %d: %v", i, err)
		}
	}
	got, err := e.c.ListAccessAssignments(ctx, rel.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range got {
		seen[a.ID] = true
	}
	if len(got) != n || len(seen) != n {
		t.Fatalf("%d assignments read, %d distinct, want %d", len(got), len(seen), n)
	}
	status, _, body := e.get(e.appGraphToken(), gdapList+"/"+rel.ID+"/accessAssignments?$top=300")
	var page partnercenter.GraphCollection[partnercenter.AccessAssignment]
	if status != 200 || json.Unmarshal(body, &page) != nil || len(page.Value) != 300 || page.NextLink == "" {
		t.Fatalf("first page: %d, %d items, nextLink %q", status, len(page.Value), page.NextLink)
	}
	// The assignment list's token pages that list only.
	next, err := url.Parse(page.NextLink)
	if err != nil {
		t.Fatal(err)
	}
	skip := url.QueryEscape(next.Query().Get("$skiptoken"))
	if status, _, body := e.get(e.appGraphToken(), gdapList+"?$skiptoken="+skip); status != http.StatusBadRequest {
		t.Errorf("the assignments' token on the relationship list: %d %s", status, body)
	}
}

// TestSimFindTenantByDomain resolves initial and custom domains through the client.
func TestSimFindTenantByDomain(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	sum := seedEstate(t, e, sim.EstateSpec{Customers: 3, CustomDomains: true})
	for _, tc := range []struct{ domain, id, name, def string }{
		{"contoso.onmicrosoft.com", contosoID, "Contoso Ltd", "contoso.onmicrosoft.com"},
		{"contoso.com", contosoID, "Contoso Ltd", "contoso.onmicrosoft.com"},
		{"CONTOSO.com", contosoID, "Contoso Ltd", "contoso.onmicrosoft.com"},
		{"fabrikam.com", fabrikamID, "Fabrikam Inc", "fabrikam.onmicrosoft.com"},
		{"adatum.onmicrosoft.com", adatumID, "Adatum Reseller", "adatum.onmicrosoft.com"},
		{sim.DefaultHomePartner.Domain, sim.DefaultHomePartner.TenantID, sim.DefaultHomePartner.CompanyName,
			sim.DefaultHomePartner.Domain},
		{sum.Customers[1].CustomDomain, sum.Customers[1].TenantID, sum.Customers[1].CompanyName,
			sum.Customers[1].Domain},
		{sum.Customers[2].Domain, sum.Customers[2].TenantID, sum.Customers[2].CompanyName, sum.Customers[2].Domain},
	} {
		got, err := e.c.FindTenantByDomain(ctx, tc.domain)
		if err != nil || got.TenantID != tc.id || got.DisplayName != tc.name || got.DefaultDomainName != tc.def ||
			got.FederationBrandName != "" {
			t.Errorf("%s: %+v, %v", tc.domain, got, err)
		}
	}
	t.Run("an unknown domain is not found", func(t *testing.T) {
		for _, d := range []string{"nobody.example", "o'brien.example", "contoso", "x'); DROP"} {
			_, err := e.c.FindTenantByDomain(ctx, d)
			var pcErr *partnercenter.Error
			if !partnercenter.IsNotFound(err) || !errors.As(err, &pcErr) ||
				pcErr.GraphCode != "Request_ResourceNotFound" || partnercenter.IsRetryable(err) {
				t.Errorf("%s: %v, want not found", d, err)
			}
		}
		if _, err := e.c.FindTenantByDomain(ctx, " "); err == nil || partnercenter.IsNotFound(err) {
			t.Errorf("an empty domain: %v, want refused before sending", err)
		}
		if _, err := e.c.GetCustomer(ctx, contosoID); !partnercenter.IsNotFound(err) {
			t.Errorf("IsNotFound of a Partner Center 404: %v", err)
		}
	})
	t.Run("a custom domain added at the simulator resolves", func(t *testing.T) {
		path := "/sim/tenants/" + fabrikamID + "/domains"
		if st, body := e.post(path, map[string]string{"domain": "Fabrikam.NET"}); st != 201 ||
			fmt.Sprint(body["customDomains"]) != "[fabrikam.com fabrikam.net]" {
			t.Fatalf("add: %d %v", st, body)
		}
		if st, _ := e.post(path, map[string]string{"domain": "fabrikam.net"}); st != 200 {
			t.Errorf("again: %d, want 200", st)
		}
		for domain, want := range map[string]int{
			"contoso.com": 409, "partnerflowdemo.onmicrosoft.com": 400, "x.onmicrosoft.com": 400, "no dots": 400,
			"-bad-.com": 400,
		} {
			if st, body := e.post(path, map[string]string{"domain": domain}); st != want {
				t.Errorf("%s: %d %v, want %d", domain, st, body, want)
			}
		}
		if st, body := e.post("/sim/tenants/00000000-0000-4000-8000-000000000000/domains",
			map[string]string{"domain": "a.example"}); st != 404 || body["error"] != sim.ReasonNotFound {
			t.Errorf("unknown tenant: %d %v", st, body)
		}
		if got, err := e.c.FindTenantByDomain(ctx, "fabrikam.net"); err != nil || got.TenantID != fabrikamID {
			t.Errorf("fabrikam.net: %+v %v", got, err)
		}
		first := sum.Customers[0]
		if c, err := e.c.GetCustomer(ctx, first.TenantID); err != nil ||
			fmt.Sprint(c.CustomDomains) != fmt.Sprintf("[%s %s]", first.Domain, first.CustomDomain) {
			t.Errorf("customDomains of a customer: %v %v", c.CustomDomains, err)
		}
	})
	t.Run("a token without CrossTenantInformation.ReadBasic.All is refused", func(t *testing.T) {
		fn := "/v1.0/tenantRelationships/findTenantInformationByDomainName(domainName='contoso.com')"
		for name, tok := range map[string]string{
			"app-only with the GDAP role only": e.appGraphToken(sim.PermissionGDAP),
			"delegated GDAP scope":             e.token(fn),
		} {
			status, _, body := e.get(tok, fn)
			if status != http.StatusForbidden || graphCode(t, body) != "Authorization_RequestDenied" ||
				!strings.Contains(string(body), sim.PermissionCrossTenantRead) {
				t.Errorf("%s: %d %s", name, status, body)
			}
		}
		if status, _, body := e.get(e.appGraphToken(sim.PermissionCrossTenantRead), fn); status != http.StatusOK {
			t.Errorf("with the role: %d %s", status, body)
		}
		// Nor does the cross-tenant role read GDAP relationships.
		if status, _, _ := e.get(e.appGraphToken(sim.PermissionCrossTenantRead), gdapList); status != 403 {
			t.Errorf("GDAP list with the cross-tenant role only: %d", status)
		}
	})
	t.Run("another function or a malformed literal is 400", func(t *testing.T) {
		tok := e.appGraphToken()
		for _, seg := range []string{
			"delegatedAdminCustomers",
			"findTenantInformationByDomainName(domainName='a'b')",
			"findTenantInformationByDomainName(domainName=contoso.com)",
			"findTenantInformationByDomainName(tenant='contoso.com')",
			"findTenantInformationByDomainName(domainName='')",
		} {
			status, _, body := e.get(tok, "/v1.0/tenantRelationships/"+url.PathEscape(seg))
			if status != http.StatusBadRequest || graphCode(t, body) != "BadRequest" {
				t.Errorf("%s: %d %s", seg, status, body)
			}
		}
	})
}

// TestSimPartnerCenterThrottleBody: an injected 429 on a Partner Center route is the documented
// body with Retry-After; the client reads both. Graph keeps its envelope.
func TestSimPartnerCenterThrottleBody(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	e.sim.SetFaults(sim.Faults{Rate429: 1, RetryAfterSeconds: 42})
	defer e.sim.SetFaults(sim.Faults{})
	status, header, body := e.get(e.token("/v1/customers"), "/v1/customers?size=5")
	const msg = "Rate limit is exceeded. Try again in 42 seconds."
	var got map[string]any
	if status != 429 || header.Get("Retry-After") != "42" || json.Unmarshal(body, &got) != nil ||
		len(got) != 2 || got["statusCode"] != float64(429) || got["message"] != msg {
		t.Fatalf("%d Retry-After %q %s", status, header.Get("Retry-After"), body)
	}
	sameShape(t, "throttled.429.json", 429, status, body, nil, nil)
	_, err := e.c.ListCustomers(ctx, "")
	var pcErr *partnercenter.Error
	if !errors.As(err, &pcErr) || pcErr.StatusCode != 429 || pcErr.RetryAfter != 42*time.Second ||
		pcErr.Description != msg || !partnercenter.IsRetryable(err) || partnercenter.RetryAfter(err) != 42*time.Second {
		t.Fatalf("client: %#v", err)
	}
	status, header, body = e.get(e.appGraphToken(), gdapList)
	if status != 429 || header.Get("Retry-After") != "42" || graphCode(t, body) != "TooManyRequests" {
		t.Fatalf("Graph: %d %s", status, body)
	}
}

// TestSimEstateOverHTTP seeds with POST /sim/estate and reads the estate through the client.
func TestSimEstateOverHTTP(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	for name, spec := range map[string]map[string]any{
		"another partner": {"partnerTenantId": adatumID, "customers": 1},
		"no customers":    {"customers": 0},
		"too many GDAP":   {"customers": 1, "gdapPerCustomer": 21},
		"a bad expiry":    {"customers": 1, "expiringWithinDays": []int{0}},
	} {
		if st, body := e.post("/sim/estate", spec); st/100 != 4 || body["error"] == nil {
			t.Errorf("%s: %d %v", name, st, body)
		}
	}
	b, _ := json.Marshal(map[string]any{
		"partnerTenantId": sim.DefaultHomePartner.TenantID, "customers": 10, "gdapPerCustomer": 2, "resellers": 2,
		"customDomains": true, "expiringWithinDays": []int{7},
	})
	resp, err := http.Post(e.srv.URL+"/sim/estate", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum sim.EstateSummary
	if err := json.NewDecoder(resp.Body).Decode(&sum); err != nil || resp.StatusCode != 201 {
		t.Fatalf("seed: %d %v", resp.StatusCode, err)
	}
	if len(sum.Customers) != 10 || sum.GDAPRelationships != 20 || len(sum.Resellers) != 2 ||
		sum.Subscriptions != 14 || sum.Resellers[0].MPNID == "" || sum.Customers[1].ResellerTenantID == "" {
		t.Fatalf("summary %+v", sum)
	}
	resellers, err := e.c.ListIndirectResellers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, r := range resellers {
		listed[r.ID] = r.State == "Active"
	}
	for _, r := range sum.Resellers {
		if !listed[r.TenantID] {
			t.Errorf("reseller %s is not an active indirect reseller", r.Domain)
		}
	}
	theirs, _, err := e.c.ListResellerCustomers(ctx, sum.Resellers[0].TenantID, "")
	if err != nil || len(theirs) != 3 { // customers 2, 6 and 10 (every other one, the resellers in turn)
		t.Fatalf("the first reseller's customers: %d, %v", len(theirs), err)
	}
	subs, err := e.c.ListSubscriptions(ctx, sum.Customers[1].TenantID)
	if err != nil || len(subs) != 1 || subs[0].PartnerID != sum.Resellers[0].MPNID ||
		subs[0].Status != partnercenter.SubscriptionStatusActive {
		t.Fatalf("subscriptions: %+v %v", subs, err)
	}
	if subs, err := e.c.ListSubscriptions(ctx, sum.Customers[0].TenantID); err != nil || len(subs) != 2 {
		t.Fatalf("the first customer's subscriptions: %d %v", len(subs), err)
	}
}

// TestSimEstateExpiresAndIsTerminated: a seeded relationship ending within a day expires when the
// clock passes its end; an active one the customer's Global admin terminates ends, with the
// terminated event.
func TestSimEstateExpiresAndIsTerminated(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	sum := seedEstate(t, e, sim.EstateSpec{Customers: 20, GDAPPerCustomer: 1, ExpiringWithinDays: []int{1}})
	byCustomer := map[string]partnercenter.GDAPRelationship{}
	for next := ""; ; {
		page, err := e.c.ListGDAPRelationships(ctx, next)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range page.Value {
			byCustomer[g.Customer.TenantID] = g
		}
		if next = page.NextLink; next == "" {
			break
		}
	}
	// The twentieth relationship of the cycle ends within the day.
	ending := byCustomer[sum.Customers[19].TenantID]
	left := ending.EndDateTime.Sub(e.now())
	if left <= 0 || left > 24*time.Hour || ending.AutoExtendDuration != "PT0S" ||
		ending.Status != partnercenter.GDAPStatusActive { // expiring only comes after the end
		t.Fatalf("the expiring relationship: %+v (ends in %v)", ending, left)
	}
	e.advance(25 * time.Hour)
	if got, err := e.c.GetGDAPRelationship(ctx, ending.ID); err != nil ||
		got.Status != partnercenter.GDAPStatusExpired {
		t.Fatalf("after its end: %+v %v", got, err)
	}

	active := byCustomer[sum.Customers[0].TenantID] // first of the cycle: active, extends itself
	upn := "admin@" + sum.Customers[0].Domain
	for name, tc := range map[string]struct {
		id, upn string
		status  int
	}{
		"an unknown relationship":   {"nope", upn, 404},
		"another customer's admin":  {active.ID, "admin@contoso.onmicrosoft.com", 403},
		"a relationship not active": {ending.ID, "admin@" + sum.Customers[19].Domain, 409},
	} {
		if st, body := e.post("/sim/customer-actions/terminate-gdap",
			map[string]string{"relationshipId": tc.id, "upn": tc.upn}); st != tc.status {
			t.Errorf("%s: %d %v, want %d", name, st, body, tc.status)
		}
	}
	if st, body := e.post("/sim/customer-actions/terminate-gdap",
		map[string]string{"relationshipId": active.ID, "upn": upn}); st != 200 ||
		body["status"] != partnercenter.GDAPStatusTerminationRequested {
		t.Fatalf("terminate: %d %v", st, body)
	}
	e.advance(2 * time.Minute)
	if got, err := e.c.GetGDAPRelationship(ctx, active.ID); err != nil ||
		got.Status != partnercenter.GDAPStatusTerminated {
		t.Fatalf("after the termination: %+v %v", got, err)
	}
	if st, _ := e.post("/sim/customer-actions/terminate-gdap",
		map[string]string{"relationshipId": active.ID, "upn": upn}); st != 409 {
		t.Errorf("terminating twice: %d, want 409", st)
	}
}

// TestClientReadsTheDocumentedThrottleAndTenantInformation decodes the documented 429 body (here
// without Retry-After: the delay is read from the message) and tenantInformation, and checks
// the request findTenantInformationByDomainName sends.
func TestClientReadsTheDocumentedThrottleAndTenantInformation(t *testing.T) {
	ctx := context.Background()
	_, err := fixtureServer(t, http.StatusTooManyRequests, "throttled.429.json").GetCustomer(ctx, "c")
	var pcErr *partnercenter.Error
	if !errors.As(err, &pcErr) || pcErr.StatusCode != 429 || pcErr.RetryAfter != 57*time.Second ||
		pcErr.Description != "Rate limit is exceeded. Try again in 57 seconds." || !partnercenter.IsRetryable(err) {
		t.Fatalf("429: %#v", err)
	}
	got, err := fixtureServer(t, http.StatusOK, "tenant-information.response.json").
		FindTenantByDomain(ctx, "contoso.com")
	if err != nil || got.TenantID != "6babcaad-604b-40ac-a9d7-9fd97c0b779f" || got.DisplayName != "Contoso, Ltd" ||
		got.DefaultDomainName != "CONTOSO18839.onmicrosoft.com" || got.FederationBrandName != "" {
		t.Fatalf("tenantInformation: %+v %v", got, err)
	}
	var uri, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uri, auth = r.RequestURI, r.Header.Get("Authorization")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := partnercenter.New(testConfig(t, srv.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	const fn = "/v1.0/tenantRelationships/findTenantInformationByDomainName"
	for domain, want := range map[string]string{
		"contoso.com":     fn + "(domainName='contoso.com')",
		"o'brien.example": fn + "(domainName='o''brien.example')",
		"a b/c?d#e":       fn + "(domainName='a%20b%2Fc%3Fd%23e')",
	} {
		if _, err := c.FindTenantByDomain(ctx, domain); err != nil || uri != want ||
			auth != "Bearer app:"+partnercenter.GraphScope {
			t.Errorf("%q: sent %s with %q (%v), want %s with the app-only Graph token", domain, uri, auth, err, want)
		}
	}
}

// TestSimTenantInformationMatchesTheDocumentedShape compares the simulator's answer with the
// documented example.
func TestSimTenantInformationMatchesTheDocumentedShape(t *testing.T) {
	e := newSimEnv(t, "")
	status, _, body := e.get(e.appGraphToken(),
		"/v1.0/tenantRelationships/findTenantInformationByDomainName(domainName='contoso.com')")
	sameShape(t, "tenant-information.response.json", 200, status, body, nil, nil)
}
