package api_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
	"go.temporal.io/api/serviceerror"
)

const (
	dirAlpha    = "0a1f0000-0000-4000-8000-00000000000a"
	dirBeta     = "0b2f0000-0000-4000-8000-00000000000b"
	dirGamma    = "0c3f0000-0000-4000-8000-00000000000c"
	dirGone     = "0e5f0000-0000-4000-8000-00000000000e"
	dirReseller = "7e5e1100-0000-4000-8000-000000000001"
)

// seedDirectory writes the partner's estate through the sync's side, in two passes an hour
// apart: alpha (reseller dirReseller; an active relationship ending in 10 days with two
// assignments, and one holding Global Administrator that extends itself), beta (no
// relationship, a name that is markup), gamma (found in the second pass; an active relationship
// counted without assignments) and one customer gone in the second pass.
func (f *flowFixture) seedDirectory(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	t0 := f.clock.Now().Add(-time.Hour)
	t1 := f.clock.Now()
	ends := t1.Add(10 * 24 * time.Hour)
	activated := t0.Add(-24 * time.Hour)
	customer := func(id, name, domain string) models.DirectoryCustomer {
		return models.DirectoryCustomer{PartnerID: partnerID, TenantID: id, CompanyName: name, Domain: domain,
			Relationship: "reseller"}
	}
	alpha := customer(dirAlpha, "Alpha Corp", "alpha.onmicrosoft.com")
	beta := customer(dirBeta, `<b>Beta</b> & "Sons"`, "beta.onmicrosoft.com")
	rels := []models.DirectoryGDAP{
		{PartnerID: partnerID, ID: "g-a1", CustomerTenantID: dirAlpha, DisplayName: "Helpdesk", Status: "active",
			Roles: roleHelpdeskAdmin + "," + roleUserAdmin, EndsAt: &ends, ActivatedAt: &activated},
		{PartnerID: partnerID, ID: "g-a2", CustomerTenantID: dirAlpha, DisplayName: "Everything", Status: "active",
			GlobalAdmin: true, AutoExtend: true},
	}
	pass := func(at time.Time, customers []models.DirectoryCustomer, rels []models.DirectoryGDAP,
		assignments map[string]int) {
		t.Helper()
		p, err := f.store.BeginDirectoryPass(ctx, partnerID, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.SaveDirectoryCustomers(ctx, p, customers, at); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.AssociateDirectoryReseller(ctx, p, partnerID, dirReseller, []string{dirAlpha},
			at); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.SaveDirectoryGDAP(ctx, p, rels, at); err != nil {
			t.Fatal(err)
		}
		for id, n := range assignments {
			if _, err := f.store.SetDirectoryAssignments(ctx, partnerID, id, n, at); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.store.EndDirectoryPass(ctx, partnerID, p, true, at); err != nil {
			t.Fatal(err)
		}
	}
	pass(t0, []models.DirectoryCustomer{alpha, beta, customer(dirGone, "Gone Ltd", "gone.onmicrosoft.com")}, rels,
		map[string]int{"g-a1": 2})
	pass(t1, []models.DirectoryCustomer{alpha, beta, customer(dirGamma, "Gamma", "gamma.onmicrosoft.com")},
		append(rels, models.DirectoryGDAP{PartnerID: partnerID, ID: "g-c1", CustomerTenantID: dirGamma,
			DisplayName: "Gamma ops", Status: "active"}), map[string]int{"g-c1": 0})
}

type directoryPage struct {
	Items []struct {
		TenantID            string     `json:"tenantId"`
		CompanyName         string     `json:"companyName"`
		ResellerTenantID    string     `json:"resellerTenantId"`
		Gone                bool       `json:"gone"`
		ActiveRelationships int        `json:"activeRelationships"`
		SoonestEndsAt       *time.Time `json:"soonestEndsAt"`
		GlobalAdmin         bool       `json:"globalAdmin"`
		NoAssignments       bool       `json:"noAssignments"`
		AdminAccess         bool       `json:"adminAccess"`
	} `json:"items"`
	NextCursor string `json:"nextCursor"`
}

func (p directoryPage) tenants() []string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.TenantID)
	}
	return out
}

func TestTheDirectoryAPIListsFiltersAndPages(t *testing.T) {
	f := newFlowFixture(t)
	f.seedDirectory(t)
	get := func(t *testing.T, query string) directoryPage {
		t.Helper()
		resp := f.sales.Do("GET", "/v1/directory"+query, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("GET /v1/directory%s: %d %s", query, resp.Status, resp.Body)
		}
		var p directoryPage
		resp.JSON(t, &p)
		return p
	}

	t.Run("each customer carries its access", func(t *testing.T) {
		p := get(t, "")
		if got, want := p.tenants(), []string{dirGamma, dirBeta, dirAlpha}; !slices.Equal(got, want) {
			t.Fatalf("tenants %v, want %v (newest-changed first, without the gone one)", got, want)
		}
		alpha, gamma := p.Items[2], p.Items[0]
		end := f.clock.Now().Add(10 * 24 * time.Hour)
		if alpha.CompanyName != "Alpha Corp" || alpha.ResellerTenantID != dirReseller ||
			alpha.ActiveRelationships != 2 || alpha.SoonestEndsAt == nil || !alpha.SoonestEndsAt.Equal(end) ||
			!alpha.GlobalAdmin || alpha.NoAssignments || !alpha.AdminAccess {
			t.Errorf("alpha %+v", alpha)
		}
		if !gamma.NoAssignments || gamma.AdminAccess || gamma.SoonestEndsAt != nil {
			t.Errorf("gamma %+v", gamma)
		}
	})

	cases := []struct {
		query string
		want  []string
	}{
		{"?search=ALP", []string{dirAlpha}},
		{"?search=beta.onmicrosoft", []string{dirBeta}},
		{"?search=" + dirGamma, []string{dirGamma}},
		{"?reseller=" + strings.ToUpper(dirReseller), []string{dirAlpha}},
		{"?gdapExpiringWithinDays=30", []string{dirAlpha}},
		{"?gdapExpiringWithinDays=9", nil},
		{"?noGdap=true", []string{dirBeta}},
		{"?noGdap=true&includeGone=true", []string{dirGone, dirBeta}},
		{"?noAdminAccess=true", []string{dirGamma, dirBeta}},
		{"?noAdminAccess=false&noGdap=false", []string{dirGamma, dirBeta, dirAlpha}},
		{"?sort=name", []string{dirBeta, dirAlpha, dirGamma}}, // "<b>Beta…": "<" sorts before letters
		{"?sort=name&includeGone=true", []string{dirBeta, dirAlpha, dirGamma, dirGone}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			if got := get(t, tc.query).tenants(); !slices.Equal(got, tc.want) {
				t.Fatalf("%v, want %v", got, tc.want)
			}
		})
	}

	t.Run("a page at a time, in both orders", func(t *testing.T) {
		for _, sort := range []string{"changed", "name"} {
			var all []string
			q := url.Values{"limit": {"1"}, "sort": {sort}, "includeGone": {"true"}}
			for range 10 {
				p := get(t, "?"+q.Encode())
				all = append(all, p.tenants()...)
				if p.NextCursor == "" {
					break
				}
				q.Set("cursor", p.NextCursor)
			}
			whole := get(t, "?includeGone=true&sort="+sort).tenants()
			if !slices.Equal(all, whole) || len(whole) != 4 {
				t.Fatalf("%s: pages %v, whole %v", sort, all, whole)
			}
		}
	})

	t.Run("every staff role reads it", func(t *testing.T) {
		for _, role := range models.AllRoles {
			if r := f.anon.As(f.keys[role]).Do("GET", "/v1/directory", nil); r.Status != http.StatusOK {
				t.Errorf("%s: %d %s", role, r.Status, r.Body)
			}
		}
		if r := f.anon.Do("GET", "/v1/directory", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("without a key: %d", r.Status)
		}
	})
}

func TestTheDirectoryAPIRefusesBadParametersByName(t *testing.T) {
	f := newFlowFixture(t)
	f.seedDirectory(t)
	first := f.sales.Do("GET", "/v1/directory?limit=1", nil)
	var p directoryPage
	first.JSON(t, &p)
	cases := []struct{ query, field string }{
		{"?search=" + url.QueryEscape("a\x00b"), "search"},
		{"?search=" + url.QueryEscape("a\x01"), "search"},
		{"?search=%ff", "search"},
		{"?search=" + strings.Repeat("a", 201), "search"},
		{"?reseller=reseller-one", "reseller"},
		{"?gdapExpiringWithinDays=0", "gdapExpiringWithinDays"},
		{"?gdapExpiringWithinDays=731", "gdapExpiringWithinDays"},
		{"?gdapExpiringWithinDays=soon", "gdapExpiringWithinDays"},
		{"?noGdap=yes", "noGdap"},
		{"?noAdminAccess=1", "noAdminAccess"},
		{"?includeGone=TRUE", "includeGone"},
		{"?sort=size", "sort"},
		{"?limit=0", "limit"},
		{"?limit=201", "limit"},
		{"?cursor=not-a-cursor", "cursor"},
		{"?sort=name&cursor=" + p.NextCursor, "cursor"}, // made for the other order
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			resp := f.sales.Do("GET", "/v1/directory"+tc.query, nil)
			if resp.Status != http.StatusBadRequest {
				t.Fatalf("%d %s, want 400", resp.Status, resp.Body)
			}
			prob := resp.Problem(t)
			if prob["type"] != "urn:partnerflow:problem:invalid-field" || prob["field"] != tc.field {
				t.Fatalf("problem %v, want invalid-field naming %s", prob, tc.field)
			}
		})
	}
}

func TestTheDirectoryAPIShowsOneCustomer(t *testing.T) {
	f := newFlowFixture(t)
	f.seedDirectory(t)
	ctx := context.Background()
	at := f.clock.Now()
	inv := &models.Invitation{
		ID: "inv_alpha", PartnerID: partnerID, CustomerDomain: "alpha.onmicrosoft.com",
		CustomerEmail: "admin@alpha.onmicrosoft.com", Roles: roleUserAdmin, DurationDays: 730,
		Status: models.InvitationActive, WorkflowID: "invitation/inv_alpha", CreatedAt: at.Add(-time.Hour),
		UpdatedAt: at, ExpiresAt: at.Add(time.Hour),
	}
	if _, err := f.store.CreateInvitation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AddStep(ctx, models.KindInvitation, inv.ID, "active", "GDAP g-a1 active", "", at); err != nil {
		t.Fatal(err)
	}

	resp := f.sales.Do("GET", "/v1/directory/"+dirAlpha, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	var d struct {
		Customer struct {
			TenantID            string `json:"tenantId"`
			ActiveRelationships int    `json:"activeRelationships"`
		} `json:"customer"`
		Relationships []struct {
			ID          string   `json:"id"`
			Active      bool     `json:"active"`
			Roles       []string `json:"roles"`
			Assignments *int     `json:"assignments"`
		} `json:"relationships"`
		Changes []struct {
			Kind      string `json:"kind"`
			SubjectID string `json:"subjectId"`
		} `json:"changes"`
		Flows []struct {
			Kind, ID, Status, MatchedBy, Path string
		} `json:"flows"`
		Timeline []struct {
			FlowKind string `json:"flowKind"`
			FlowID   string `json:"flowId"`
			Name     string `json:"name"`
		} `json:"timeline"`
	}
	resp.JSON(t, &d)
	if d.Customer.TenantID != dirAlpha || d.Customer.ActiveRelationships != 2 {
		t.Errorf("customer %+v", d.Customer)
	}
	// g-a2, never activated, was first seen after g-a1 was activated: it is the newer.
	if len(d.Relationships) != 2 || d.Relationships[1].ID != "g-a1" || len(d.Relationships[1].Roles) != 2 ||
		d.Relationships[1].Assignments == nil || *d.Relationships[1].Assignments != 2 ||
		d.Relationships[0].Assignments != nil || !d.Relationships[0].Active {
		t.Errorf("relationships %+v", d.Relationships)
	}
	var kinds []string
	for _, c := range d.Changes {
		kinds = append(kinds, c.Kind+" "+c.SubjectID)
	}
	if !slices.Contains(kinds, models.ChangeGDAPExpiring+" g-a1") ||
		!slices.Contains(kinds, models.ChangeGDAPGlobalAdmin+" g-a2") {
		t.Errorf("changes %v", kinds)
	}
	if len(d.Flows) != 1 || d.Flows[0].ID != inv.ID || d.Flows[0].MatchedBy != "domain" ||
		d.Flows[0].Path != "/v1/invitations/"+inv.ID {
		t.Errorf("flows %+v", d.Flows)
	}
	if len(d.Timeline) != 2 || d.Timeline[0].Name != "active" || d.Timeline[1].Name != "created" {
		t.Errorf("timeline %+v", d.Timeline)
	}

	for _, tenant := range []string{"0f000000-0000-4000-8000-000000000000", "%00", "%ff", "sync%20"} {
		r := f.sales.Do("GET", "/v1/directory/"+tenant, nil)
		if p := r.Problem(t); r.Status != http.StatusNotFound || p["type"] != "urn:partnerflow:problem:not-found" {
			t.Errorf("%s: %d %v, want a not-found problem", tenant, r.Status, p)
		}
	}
}

func TestTheDirectorySyncAPI(t *testing.T) {
	f := newFlowFixture(t)
	type syncView struct {
		Pass          int64      `json:"pass"`
		CompletedPass int64      `json:"completedPass"`
		CompletedAt   *time.Time `json:"completedAt"`
		Customers     int        `json:"customers"`
		Relationships int        `json:"relationships"`
		LastError     string     `json:"lastError"`
	}
	read := func() syncView {
		t.Helper()
		resp := f.anon.As(f.keys[models.RoleAdminAgent]).Do("GET", "/v1/directory/sync", nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		var v syncView
		resp.JSON(t, &v)
		return v
	}
	if v := read(); v != (syncView{}) {
		t.Fatalf("a partner never synced: %+v, want zeros", v)
	}
	f.seedDirectory(t)
	if err := f.store.NoteDirectoryError(context.Background(), partnerID, "Graph answered 403"); err != nil {
		t.Fatal(err)
	}
	v := read()
	if v.Pass != 2 || v.CompletedPass != 2 || v.CompletedAt == nil || !v.CompletedAt.Equal(f.clock.Now()) ||
		v.Customers != 3 || v.Relationships != 3 || v.LastError != "Graph answered 403" {
		t.Fatalf("sync %+v", v)
	}
}

func TestTheDirectoryPages(t *testing.T) {
	f := newFlowFixture(t)
	cookie := f.signIn(t, models.RoleSalesAgent)
	browser := f.browser(t)
	get := func(t *testing.T, path string, status int) string {
		t.Helper()
		resp := browser.Do("GET", path, nil, "Cookie", cookie)
		if resp.Status != status {
			t.Fatalf("GET %s: %d, want %d: %s", path, resp.Status, status, resp.Body)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: the page's headers %v", path, resp.Header)
		}
		return string(resp.Body)
	}
	mustContain := func(t *testing.T, body string, wants ...string) {
		t.Helper()
		for _, want := range wants {
			if !strings.Contains(body, want) {
				t.Errorf("want %s\nin %s", want, body)
			}
		}
	}

	t.Run("before the first read the list says so", func(t *testing.T) {
		body := get(t, "/directory", http.StatusOK)
		mustContain(t, body, "The directory has not been read yet", `id="empty"`,
			`<a id="nav-directory" href="/directory" aria-current="page">Directory</a>`)
		if strings.Index(body, `id="nav-customers"`) > strings.Index(body, `id="nav-directory"`) {
			t.Error("the directory's section must follow the flows'")
		}
	})

	f.seedDirectory(t)
	t.Run("the list shows each customer, escaped, with its alerts", func(t *testing.T) {
		body := get(t, "/directory", http.StatusOK)
		mustContain(t, body, "Last full read (pass 2)", "3 customers, 3 GDAP relationships",
			`<tr id="row-`+dirAlpha+`">`, `<a href="/directory/`+dirAlpha+`">Alpha Corp</a>`,
			`<code>`+dirReseller+`</code>`, "Global Administrator", "expires in 10 days",
			`&lt;b&gt;Beta&lt;/b&gt; &amp; &#34;Sons&#34;`, "no GDAP", "no assignments")
		if strings.Contains(body, "<b>Beta") || strings.Contains(body, dirGone) {
			t.Error("a name must be escaped, and the gone customer left out")
		}
	})

	t.Run("the filters and the pages keep each other", func(t *testing.T) {
		body := get(t, "/directory?limit=1&includeGone=true&sort=name", http.StatusOK)
		next := anchor([]byte(body), "next-page")
		if strings.Count(body, `<tr id="row-`) != 1 || !strings.Contains(next, "includeGone=true") ||
			!strings.Contains(next, "sort=name") || !strings.Contains(body, `id="include-gone" name="includeGone" `+
			`type="checkbox" value="true" checked`) {
			t.Fatalf("next %q in %s", next, body)
		}
		second := get(t, next, http.StatusOK)
		if strings.Count(second, `<tr id="row-`) != 1 || !strings.Contains(second, `<tr id="row-`+dirAlpha+`">`) {
			t.Fatalf("the second page of one: %s", second)
		}
		filtered := get(t, "/directory?noAdminAccess=true&search=gam", http.StatusOK)
		if strings.Count(filtered, `<tr id="row-`) != 1 || !strings.Contains(filtered, `value="gam"`) {
			t.Fatalf("filtered: %s", filtered)
		}
	})

	t.Run("a bad filter is a notice over the unfiltered list", func(t *testing.T) {
		body := get(t, "/directory?gdapExpiringWithinDays=never", http.StatusOK)
		mustContain(t, body, `id="notice">Ignored gdapExpiringWithinDays: must be a whole number of days`)
		if strings.Count(body, `<tr id="row-`) != 3 {
			t.Fatalf("want the three customers: %s", body)
		}
		body = get(t, "/directory?cursor=broken", http.StatusOK)
		mustContain(t, body, "That page link is not valid")
	})

	t.Run("a customer's page", func(t *testing.T) {
		ctx := context.Background()
		at := f.clock.Now()
		inv := &models.Invitation{
			ID: "inv_alpha", PartnerID: partnerID, CustomerDomain: "alpha.onmicrosoft.com",
			CustomerEmail: "admin@alpha.onmicrosoft.com", Roles: roleUserAdmin, DurationDays: 730,
			Status: models.InvitationActive, WorkflowID: "invitation/inv_alpha", CreatedAt: at.Add(-time.Hour),
			UpdatedAt: at, ExpiresAt: at.Add(time.Hour),
		}
		if _, err := f.store.CreateInvitation(ctx, inv); err != nil {
			t.Fatal(err)
		}
		body := get(t, "/directory/"+dirAlpha, http.StatusOK)
		mustContain(t, body, "<h1>Alpha Corp", `<code>`+dirAlpha+`</code>`,
			`<tr id="gdap-g-a1">`, `<span class="badge active">active</span>`, "expires in 10 days",
			`<tr id="gdap-g-a2">`, `<span class="badge failed">Global Administrator</span>`,
			`id="changes"`, "gdap.expiring", `<a href="/invitations/inv_alpha">invitation alpha.onmicrosoft.com</a>`,
			"its domain", `id="timeline"`, `<a href="/invitations/inv_alpha">invitation inv_alpha</a>`,
			`<a id="nav-directory" href="/directory" aria-current="page">`)
		beta := get(t, "/directory/"+dirBeta, http.StatusOK)
		mustContain(t, beta, `&lt;b&gt;Beta&lt;/b&gt;`, `id="no-relationships"`, `id="no-flows"`)
		gone := get(t, "/directory/"+dirGone, http.StatusOK)
		mustContain(t, gone, `id="gone"`, `<span class="badge cancelled">gone</span>`)
		missing := get(t, "/directory/0f000000-0000-4000-8000-000000000000", http.StatusNotFound)
		mustContain(t, missing, "the directory lists no customer with this tenant ID")
	})

	t.Run("the pages need a session", func(t *testing.T) {
		for _, path := range []string{"/directory", "/directory/" + dirAlpha} {
			r := browser.Do("GET", path, nil)
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") {
				t.Errorf("%s without a session: %d %q", path, r.Status, r.Header.Get("Location"))
			}
		}
	})
}

func TestASyncNowSignalsTheEstateSync(t *testing.T) {
	f := newFlowFixture(t)
	agent := f.anon.As(f.keys[models.RoleAdminAgent])
	if r := f.anon.As(f.keys[models.RoleSalesAgent]).Do("POST", "/v1/directory/sync", nil); r.Status != 403 {
		t.Fatalf("a sales agent starts no pass: %d %s", r.Status, r.Body)
	}
	if r := agent.Do("POST", "/v1/directory/sync", nil); r.Status != http.StatusAccepted {
		t.Fatalf("sync now: %d %s", r.Status, r.Body)
	}
	calls := f.temporal.signalCalls()
	if len(calls) != 1 || calls[0].WorkflowID != workflows.EstateSyncWorkflowID(partnerID) ||
		calls[0].Name != workflows.SignalSyncNow {
		t.Fatalf("signals %+v", calls)
	}
	f.temporal.set(func(ft *fakeTemporal) {
		ft.signalErr[workflows.EstateSyncWorkflowID(partnerID)] = serviceerror.NewNotFound("no such workflow")
	})
	r := agent.Do("POST", "/v1/directory/sync", nil)
	if p := r.Problem(t); r.Status != http.StatusConflict || p["type"] != api.ProblemTypePrefix+"sync-not-running" {
		t.Fatalf("without a running sync: %d %v", r.Status, p)
	}
}
