package api_test

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

const (
	relationshipURL = "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship&partnerId=" +
		partnerID + "&msppId=0#/BillingAccounts/partner-invitation"
	approvalURL = "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/" +
		"granularAdminRelationships/rel-1"
	formContentType = "application/x-www-form-urlencoded"
)

// browser is a client that shows redirects instead of following them.
func (f *flowFixture) browser(t *testing.T) *testapi.Client {
	noRedirect := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return apiClient(t, f.baseURL, noRedirect)
}

func (f *flowFixture) acceptPath(c created) string {
	return strings.TrimPrefix(c.AcceptURL, f.baseURL)
}

func (f *flowFixture) steps(t *testing.T, id, name string) []models.FlowStep {
	t.Helper()
	all, _, err := f.store.Steps(context.Background(), models.KindInvitation, id, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []models.FlowStep
	for _, s := range all {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func (f *flowFixture) live(workflowID string, st workflows.InvitationState) {
	f.temporal.set(func(ft *fakeTemporal) { ft.states[workflowID], ft.queryErr = st, nil })
}

// anchor returns the href of the element with id, or "" when the page has none.
func anchor(body []byte, id string) string {
	m := regexp.MustCompile(`id="` + id + `"[^>]*href="([^"]*)"`).FindSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(string(m[1]))
}

func pending() workflows.InvitationState {
	return workflows.InvitationState{
		Status:                 models.InvitationPending,
		RelationshipRequestURL: relationshipURL,
		GDAPApprovalURL:        approvalURL,
	}
}

func TestTheCustomerLandingPage(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	path := f.acceptPath(inv)
	browser := f.browser(t)

	t.Run("the page says who asks for what and links both Microsoft steps", func(t *testing.T) {
		f.live(inv.WorkflowID, pending())
		resp := browser.Do("GET", path, nil, "User-Agent", "Mozilla/5.0 (test)")
		if resp.Status != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("status %d %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		body := string(resp.Body)
		for _, want := range []string{
			"Fabrikam Cloud Services", "contoso.onmicrosoft.com", "<li>User Administrator</li>",
			"<li>Helpdesk Administrator</li>", "730 days", "renewed for 180 days", "8 June 2025, 09:00 UTC",
			"expires in 90 days", `name="viewport"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the page must show %q", want)
			}
		}
		if got := anchor(resp.Body, "accept-reseller"); got != relationshipURL {
			t.Errorf("step 1 must link the reseller acceptance: %q", got)
		}
		if got := anchor(resp.Body, "approve-gdap"); got != approvalURL {
			t.Errorf("step 2 must link the GDAP approval: %q", got)
		}
		if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("the link's token must not leak through Referer or caches: %v", resp.Header)
		}
		opened := f.steps(t, inv.ID, "opened")
		if len(opened) != 1 || opened[0].Detail != "ip=127.0.0.1 ua=Mozilla/5.0 (test)" ||
			!opened[0].At.Equal(f.clock.Now()) {
			t.Fatalf("the open must be recorded with IP and user agent: %+v", opened)
		}
		token := strings.TrimPrefix(path, "/accept/")
		if strings.Contains(f.logs.String(), token) || strings.Contains(opened[0].Detail, token) {
			t.Fatal("the token must never be logged or recorded")
		}
	})

	t.Run("reloading the page within the hour records nothing more", func(t *testing.T) {
		for range 5 {
			f.clock.Advance(time.Minute)
			browser.Do("GET", path, nil, "User-Agent", "reloader")
		}
		if opened := f.steps(t, inv.ID, "opened"); len(opened) != 1 {
			t.Fatalf("a link opened 6 times in an hour by one client must be one step, got %d", len(opened))
		}
	})

	t.Run("a forged X-Forwarded-For does not change the recorded IP", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		browser.Do("GET", path, nil, "User-Agent", "forger", "X-Forwarded-For", "203.0.113.9")
		opened := f.steps(t, inv.ID, "opened")
		if got := opened[len(opened)-1].Detail; got != "ip=127.0.0.1 ua=forger" {
			t.Fatalf("with no trusted proxy the peer's address is the evidence, got %q", got)
		}
	})

	t.Run("a long user agent is cut to 200 characters", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		browser.Do("GET", path, nil, "User-Agent", strings.Repeat("u", 300))
		opened := f.steps(t, inv.ID, "opened")
		if len(opened) != 3 || opened[2].Detail != "ip=127.0.0.1 ua="+strings.Repeat("u", 200) {
			t.Fatalf("opens: %+v", opened)
		}
	})

	t.Run("while the workflow prepares the links the page says so", func(t *testing.T) {
		f.temporal.set(func(ft *fakeTemporal) { ft.queryErr = context.DeadlineExceeded })
		resp := browser.Do("GET", path, nil)
		if resp.Status != http.StatusOK || strings.Count(string(resp.Body), "preparing, refresh in a moment") != 2 ||
			anchor(resp.Body, "accept-reseller") != "" || anchor(resp.Body, "approve-gdap") != "" {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
	})

	t.Run("JSON clients get the same content", func(t *testing.T) {
		f.live(inv.WorkflowID, pending())
		resp := browser.Do("GET", path, nil, "Accept", "application/json")
		var got struct {
			Status                 string   `json:"status"`
			PartnerName            string   `json:"partnerName"`
			CustomerDomain         string   `json:"customerDomain"`
			Roles                  []string `json:"roles"`
			DurationDays           int      `json:"durationDays"`
			AutoExtend             bool     `json:"autoExtend"`
			RelationshipRequestURL string   `json:"relationshipRequestUrl"`
			GDAPApprovalURL        string   `json:"gdapApprovalUrl"`
		}
		resp.JSON(t, &got)
		if resp.Status != http.StatusOK || got.Status != "pending" || got.PartnerName != "Fabrikam Cloud Services" ||
			got.CustomerDomain != "contoso.onmicrosoft.com" || len(got.Roles) != 2 ||
			got.Roles[0] != "User Administrator" || got.DurationDays != 730 || !got.AutoExtend ||
			got.RelationshipRequestURL != relationshipURL || got.GDAPApprovalURL != approvalURL {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
	})

	t.Run("after the reseller relationship only the admin roles remain", func(t *testing.T) {
		st := pending()
		st.Status, st.ResellerAccepted = models.InvitationAccepted, true
		f.live(inv.WorkflowID, st)
		resp := browser.Do("GET", path, nil)
		if anchor(resp.Body, "accept-reseller") != "" || anchor(resp.Body, "approve-gdap") != approvalURL {
			t.Fatalf("page: %s", resp.Body)
		}
		post := browser.Do("POST", path, "upn=admin%40contoso.onmicrosoft.com", "Content-Type", formContentType)
		if post.Status != http.StatusSeeOther || post.Header.Get("Location") != approvalURL {
			t.Fatalf("the acknowledgement must lead to the next step at Microsoft: %d %q",
				post.Status, post.Header.Get("Location"))
		}
	})

	t.Run("an active invitation is all done", func(t *testing.T) {
		f.live(inv.WorkflowID, workflows.InvitationState{
			Status:                 models.InvitationActive,
			ResellerAccepted:       true,
			GDAPApproved:           true,
			RelationshipRequestURL: relationshipURL,
			GDAPApprovalURL:        approvalURL,
		})
		resp := browser.Do("GET", path, nil)
		body := string(resp.Body)
		if !strings.Contains(body, "All done") || anchor(resp.Body, "accept-reseller") != "" ||
			anchor(resp.Body, "approve-gdap") != "" || strings.Contains(body, `id="acknowledge"`) {
			t.Fatalf("page: %s", body)
		}
	})

	t.Run("a closed invitation says so and offers nothing to click", func(t *testing.T) {
		if err := models.Record(context.Background(), f.store, models.KindInvitation, inv.ID,
			models.InvitationChange{Status: models.InvitationCancelled}); err != nil {
			t.Fatal(err)
		}
		f.live(inv.WorkflowID, workflows.InvitationState{
			Status:                 models.InvitationCancelled,
			RelationshipRequestURL: relationshipURL,
			GDAPApprovalURL:        approvalURL,
		})
		resp := browser.Do("GET", path, nil)
		body := string(resp.Body)
		if resp.Status != http.StatusOK || !strings.Contains(body, "This invitation was cancelled") ||
			anchor(resp.Body, "accept-reseller") != "" || anchor(resp.Body, "approve-gdap") != "" ||
			strings.Contains(body, `id="acknowledge"`) {
			t.Fatalf("status %d: %s", resp.Status, body)
		}
		if j := browser.Do("GET", path, nil,
			"Accept", "application/json"); strings.Contains(string(j.Body), "admin.microsoft.com") {
			t.Fatalf("a closed invitation's JSON must not carry links: %s", j.Body)
		}
		post := browser.Do("POST", path, "upn=admin%40contoso.onmicrosoft.com", "Content-Type", formContentType)
		if post.Status != http.StatusConflict || len(f.steps(t, inv.ID, "acknowledged")) != 1 {
			t.Fatalf("acknowledging a closed invitation: %d", post.Status)
		}
	})
}

func TestCustomerLinksThatDoNotOpenAnInvitation(t *testing.T) {
	cases := []struct {
		name   string
		link   func(f *flowFixture, a, b created) string
		status int
		typ    string
		says   string
	}{
		{"a tampered token is refused", func(f *flowFixture, a, _ created) string {
			p := f.acceptPath(a)
			last := "A"
			if strings.HasSuffix(p, "A") {
				last = "B"
			}
			return p[:len(p)-1] + last
		}, http.StatusBadRequest, "invalid-link", "not valid"},
		{"garbage is refused", func(*flowFixture, created, created) string { return "/accept/hello" },
			http.StatusBadRequest, "invalid-link", "not valid"},
		{"a token for one invitation cannot open another", func(f *flowFixture, a, b created) string {
			return strings.Replace(f.acceptPath(a), a.ID, b.ID, 1)
		}, http.StatusBadRequest, "invalid-link", "not valid"},
		{"an expired link is gone", func(f *flowFixture, a, _ created) string {
			f.clock.Advance(90*24*time.Hour + time.Second)
			return f.acceptPath(a)
		}, http.StatusGone, "link-expired", "expired"},
		{"a link to an invitation that no longer exists is not found", func(f *flowFixture, a, _ created) string {
			if err := models.Delete[models.Invitation](context.Background(), f.store, models.KindInvitation,
				a.ID); err != nil {
				panic(err)
			}
			return f.acceptPath(a)
		}, http.StatusNotFound, "not-found", "no longer exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlowFixture(t)
			a, b := f.invite(t, "contoso.onmicrosoft.com"), f.invite(t, "fabrikam.onmicrosoft.com")
			path := tc.link(f, a, b)
			browser := f.browser(t)
			page := browser.Do("GET", path, nil)
			if page.Status != tc.status || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(string(page.Body), tc.says) {
				t.Fatalf("HTML: status %d %s: %s", page.Status, page.Header.Get("Content-Type"), page.Body)
			}
			resp := browser.Do("GET", path, nil, "Accept", "application/json")
			if resp.Status != tc.status || resp.Problem(t)["type"] != api.ProblemTypePrefix+tc.typ {
				t.Fatalf("JSON: status %d: %s", resp.Status, resp.Body)
			}
			if strings.Contains(string(resp.Body), strings.TrimPrefix(path, "/accept/")) {
				t.Fatalf("the problem must not echo the token: %s", resp.Body)
			}
			post := browser.Do("POST", path, "upn=admin%40contoso.onmicrosoft.com", "Content-Type", formContentType)
			if post.Status != tc.status {
				t.Fatalf("POST: status %d", post.Status)
			}
			for _, inv := range []created{a, b} {
				if n := len(f.steps(t, inv.ID, "opened")) + len(f.steps(t, inv.ID, "acknowledged")); n != 0 {
					t.Fatalf("a refused link recorded %d steps on %s", n, inv.ID)
				}
			}
		})
	}
}

func TestTheCustomerNamesWhoAcceptsBeforeGoingToMicrosoft(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	path := f.acceptPath(inv)
	browser := f.browser(t)
	f.live(inv.WorkflowID, pending())

	refused := []struct{ name, upn string }{
		{"a user of another domain is refused", "admin@fabrikam.com"},
		{"a user of a look-alike domain is refused", "admin@contoso.onmicrosoft.com.evil.example"},
		{"a user of a subdomain is refused", "admin@it.contoso.onmicrosoft.com"},
		{"a name that is not an address is refused", "admin"},
		{"an empty name is refused", ""},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			page := browser.Do("POST", path, "upn="+url.QueryEscape(tc.upn), "Content-Type", formContentType)
			if page.Status != http.StatusBadRequest || !strings.Contains(string(page.Body), `id="upn-error"`) {
				t.Fatalf("form: status %d: %s", page.Status, page.Body)
			}
			resp := browser.Do("POST", path, map[string]string{"upn": tc.upn})
			if resp.Status != http.StatusBadRequest || resp.Problem(t)["field"] != "upn" {
				t.Fatalf("JSON: status %d: %s", resp.Status, resp.Body)
			}
			if n := len(f.steps(t, inv.ID, "acknowledged")); n != 0 {
				t.Fatalf("a refused name was recorded: %d", n)
			}
		})
	}

	t.Run("the form records who goes to accept and sends them to Microsoft", func(t *testing.T) {
		resp := browser.Do("POST", path, "upn=Admin%40Contoso.onmicrosoft.com",
			"Content-Type", formContentType, "User-Agent", "Edge (test)")
		if resp.Status != http.StatusSeeOther || resp.Header.Get("Location") != relationshipURL {
			t.Fatalf("status %d Location %q", resp.Status, resp.Header.Get("Location"))
		}
		acks := f.steps(t, inv.ID, "acknowledged")
		if len(acks) != 1 || acks[0].Detail != "upn=admin@contoso.onmicrosoft.com ip=127.0.0.1 ua=Edge (test)" {
			t.Fatalf("acknowledgement: %+v", acks)
		}
	})

	t.Run("JSON clients get the links instead of a redirect", func(t *testing.T) {
		f.clock.Advance(time.Second)
		resp := browser.Do("POST", path, map[string]string{"upn": "it@contoso.onmicrosoft.com"})
		var got struct {
			Status                 string `json:"status"`
			RelationshipRequestURL string `json:"relationshipRequestUrl"`
			GDAPApprovalURL        string `json:"gdapApprovalUrl"`
		}
		resp.JSON(t, &got)
		if resp.Status != http.StatusOK || got.Status != "pending" || got.RelationshipRequestURL != relationshipURL ||
			got.GDAPApprovalURL != approvalURL {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
		if n := len(f.steps(t, inv.ID, "acknowledged")); n != 2 {
			t.Fatalf("want two acknowledgements, got %d", n)
		}
	})

	t.Run("before the links exist the customer comes back to the page", func(t *testing.T) {
		f.temporal.set(func(ft *fakeTemporal) { ft.queryErr = context.DeadlineExceeded })
		resp := browser.Do("POST", path, "upn=admin%40contoso.onmicrosoft.com", "Content-Type", formContentType)
		if resp.Status != http.StatusSeeOther || resp.Header.Get("Location") != path {
			t.Fatalf("status %d Location %q", resp.Status, resp.Header.Get("Location"))
		}
	})
}

// signIn exchanges the key of role for a dashboard session cookie header value.
func (f *flowFixture) signIn(t *testing.T, role models.Role) string {
	t.Helper()
	resp := f.browser(t).Do("POST", "/login", "next=%2F&key="+url.QueryEscape(f.keys[role]),
		"Content-Type", formContentType)
	if resp.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.Status)
	}
	return strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]
}

func TestTheDashboardNeedsASignedInOperator(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	cases := []struct {
		name, path, cookie, next string
	}{
		{"the list without a session goes to sign in", "/?status=pending", "", "/?status=pending"},
		{"a detail page without a session goes to sign in", "/invitations/" + inv.ID, "", "/invitations/" + inv.ID},
		{"a forged session goes to sign in", "/", api.SessionCookie + "=abc.123.forged", "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.cookie != "" {
				headers = []string{"Cookie", tc.cookie}
			}
			resp := f.browser(t).Do("GET", tc.path, nil, headers...)
			want := "/login?next=" + url.QueryEscape(tc.next)
			if resp.Status != http.StatusSeeOther || resp.Header.Get("Location") != want {
				t.Fatalf("status %d Location %q, want %q", resp.Status, resp.Header.Get("Location"), want)
			}
			if strings.Contains(string(resp.Body), "contoso") {
				t.Fatal("the redirect must not show invitations")
			}
		})
	}
}

func TestTheDashboardListsInvitations(t *testing.T) {
	f := newFlowFixture(t)
	var first created
	for i := range 21 {
		c := f.invite(t, "customer"+string(rune('a'+i))+".onmicrosoft.com")
		if i == 0 {
			first = c
		}
		f.clock.Advance(time.Minute)
	}
	if err := models.Record(context.Background(), f.store, models.KindInvitation, first.ID,
		models.InvitationChange{Status: models.InvitationActive}); err != nil {
		t.Fatal(err)
	}
	cookie := f.signIn(t, models.RoleSalesAgent)
	browser := f.browser(t)
	get := func(path string) string {
		t.Helper()
		resp := browser.Do("GET", path, nil, "Cookie", cookie)
		if resp.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.Status, resp.Body)
		}
		return string(resp.Body)
	}

	page1 := get("/")
	next := anchor([]byte(page1), "next-page")
	if strings.Count(page1, `<tr id="row-`) != 20 || next == "" || !strings.Contains(page1, `id="logout"`) ||
		!strings.Contains(page1, "Signed in as sales-agent") {
		t.Fatalf("first page: %s", page1)
	}
	if !strings.Contains(page1, `<span class="badge pending">pending</span>`) ||
		!strings.Contains(page1, "expires in 89 days") || !strings.Contains(page1, "1 minute ago") {
		t.Fatalf("rows must show status, expiry countdown and age: %s", page1)
	}
	page2 := get(next)
	if strings.Count(page2, `<tr id="row-`) != 1 || !strings.Contains(page2, `href="/invitations/`+first.ID+`"`) ||
		anchor([]byte(page2), "next-page") != "" {
		t.Fatalf("second page: %s", page2)
	}

	active := get("/?status=active")
	if strings.Count(active, `<tr id="row-`) != 1 || !strings.Contains(active, "customera.onmicrosoft.com") ||
		!strings.Contains(active, "<td>—</td>") {
		t.Fatalf("status filter: %s", active)
	}
	if unknown := get("/?status=lost"); !strings.Contains(unknown, `id="notice"`) ||
		strings.Count(unknown, `<tr id="row-`) != 20 {
		t.Fatalf("an unknown status: %s", unknown)
	}
	if bad := get("/?cursor=***"); !strings.Contains(bad, `id="notice"`) {
		t.Fatalf("a bad cursor: %s", bad)
	}

	f.clock.Advance(78 * 24 * time.Hour)
	if later := get("/"); !strings.Contains(later, "expires in 11 days") || !strings.Contains(later, "78 days ago") {
		t.Fatalf("the countdown must follow the clock: %s", later)
	}
}

func TestTheDashboardShowsAnInvitationsTimeline(t *testing.T) {
	f := newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.TemporalUIURL, fc.Namespace = "http://127.0.0.1:8233/", "partners"
	})
	inv := f.invite(t, "contoso.onmicrosoft.com")
	f.live(inv.WorkflowID, workflows.InvitationState{
		Status:                 models.InvitationAccepted,
		ResellerAccepted:       true,
		RelationshipRequestURL: relationshipURL,
	})
	f.clock.Advance(time.Hour)
	f.browser(t).Do("GET", f.acceptPath(inv), nil, "User-Agent", "Safari (test)")
	cookie := f.signIn(t, models.RoleAdminAgent)

	resp := f.browser(t).Do("GET", "/invitations/"+inv.ID, nil, "Cookie", cookie)
	body := string(resp.Body)
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Status, body)
	}
	for _, want := range []string{
		"<strong>created</strong> · <time>2025-03-10 09:00:00 UTC</time>",
		"<strong>opened</strong> · <time>2025-03-10 10:00:00 UTC</time>",
		"ip=127.0.0.1 ua=Safari (test)",
		`<span class="badge accepted" id="status">accepted</span>`,
		`<dd id="reseller-state">accepted</dd>`,
		`<dd id="gdap-state">waiting</dd>`,
		"<li>User Administrator</li>",
		"expires in 89 days",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the detail page must show %q", want)
		}
	}
	wantLink := "http://127.0.0.1:8233/namespaces/partners/workflows/invitation%2F" + inv.ID
	if got := anchor(resp.Body, "temporal-link"); got != wantLink {
		t.Errorf("Temporal link %q, want %q", got, wantLink)
	}

	if r := f.browser(t).Do("GET", "/invitations/inv_0000000000000000", nil,
		"Cookie", cookie); r.Status != http.StatusNotFound ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("an unknown invitation: %d %s", r.Status, r.Header.Get("Content-Type"))
	}

	without := newFlowFixture(t)
	other := without.invite(t, "contoso.onmicrosoft.com")
	r := without.browser(t).Do("GET", "/invitations/"+other.ID, nil, "Cookie", without.signIn(t, models.RoleAdminAgent))
	if r.Status != http.StatusOK || anchor(r.Body, "temporal-link") != "" ||
		!strings.Contains(string(r.Body), "did not answer") {
		t.Fatalf("without a Web UI or a live workflow: %d %s", r.Status, r.Body)
	}
}

func TestOperatorsResendAndCancelFromTheDashboard(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	f.live(inv.WorkflowID, pending())
	cookie := f.signIn(t, models.RoleAdminAgent)
	page := f.browser(t).Do("GET", "/invitations/"+inv.ID, nil, "Cookie", cookie)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page.Body)
	if m == nil || !bytes.Contains(page.Body, []byte(`id="resend"`)) ||
		!bytes.Contains(page.Body, []byte(`id="cancel"`)) {
		t.Fatalf("a pending invitation's page must offer resend and cancel forms:\n%s", page.Body)
	}
	csrf := string(m[1])
	post := func(action, form string, cookie string) *testapi.Response {
		return f.browser(t).Do("POST", "/invitations/"+inv.ID+"/"+action, form,
			"Content-Type", formContentType, "Cookie", cookie)
	}

	cases := []struct {
		name   string
		action string
		form   string
		cookie string
		status int
	}{
		{"a form without its token is refused", "resend", "", cookie, http.StatusForbidden},
		{"a form with an altered token is refused", "resend", "csrf=" + url.QueryEscape(csrf) + "x", cookie,
			http.StatusForbidden},
		{"a sales agent may not cancel", "cancel", "csrf=" + url.QueryEscape(csrf), f.signIn(t, models.RoleSalesAgent),
			http.StatusForbidden},
		{"a signed-out browser is sent to sign in", "cancel", "csrf=" + url.QueryEscape(csrf), "", http.StatusSeeOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.temporal.updateCalls())
			if r := post(tc.action, tc.form, tc.cookie); r.Status != tc.status {
				t.Fatalf("status %d, want %d", r.Status, tc.status)
			}
			if len(f.temporal.updateCalls()) != before {
				t.Fatal("a refused form must not reach the workflow")
			}
		})
	}

	r := post("resend", "csrf="+url.QueryEscape(csrf), cookie)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/invitations/"+inv.ID+"?done=resent" {
		t.Fatalf("resend: %d %q", r.Status, r.Header.Get("Location"))
	}
	after := f.browser(t).Do("GET", r.Header.Get("Location"), nil, "Cookie", cookie)
	if !bytes.Contains(after.Body, []byte("The invitation was sent again.")) {
		t.Fatal("the page must say the invitation was sent again")
	}
	if r := f.browser(t).Do("GET", "/invitations/"+inv.ID+"?done=<script>", nil,
		"Cookie", cookie); bytes.Contains(r.Body, []byte("<script>")) {
		t.Fatal("the page must not echo text from the URL")
	}

	f.temporal.set(func(ft *fakeTemporal) {
		ft.updateResultErr = temporal.NewApplicationError(
			"the invitation is cancelled and can no longer be cancelled", "")
	})
	r = post("cancel", "csrf="+url.QueryEscape(csrf)+"&reason=duplicate", cookie)
	if r.Status != http.StatusConflict || !bytes.Contains(r.Body, []byte("can no longer be cancelled")) {
		t.Fatalf("a refused cancel must show the workflow's reason: %d %s", r.Status, r.Body)
	}
	last := f.temporal.updateCalls()[len(f.temporal.updateCalls())-1]
	if req, ok := last.Args[0].(workflows.CancelRequest); !ok || req.Reason != "duplicate" || req.By == "" ||
		last.UpdateName != workflows.UpdateCancel {
		t.Fatalf("cancel update %+v", last)
	}
}
