package api_test

import (
	"context"
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/models"
)

func TestSignInRedirectsOnlyWithinTheSite(t *testing.T) {
	f := newFixture(t, nil)
	key := f.keys[models.RoleAdminAgent]
	cases := map[string]string{
		"/%09/evil.example":      "/",
		"/%0a/evil.example":      "/",
		"/\t/evil.example":       "/",
		"//evil":                 "/",
		"/\\evil":                "/",
		"/%5Cevil":               "/",
		"/%2F/evil":              "/",
		"https://evil":           "/",
		"javascript:alert(1)":    "/",
		"evil.example":           "/",
		"":                       "/",
		"/ok?x=1":                "/ok?x=1",
		"/invitations/abc?s=ok":  "/invitations/abc?s=ok",
		"/resellers?status=open": "/resellers?status=open",
	}
	for next, want := range cases {
		t.Run(next, func(t *testing.T) {
			r := f.browser(t).Do("POST", "/login", "next="+url.QueryEscape(next)+"&key="+url.QueryEscape(key),
				"Content-Type", "application/x-www-form-urlencoded")
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
				t.Fatalf("next=%q: %d to %q, want %q", next, r.Status, r.Header.Get("Location"), want)
			}
			page := f.browser(t).Do("GET", "/login?next="+url.QueryEscape(next), nil)
			if want == "/" && next != "" && strings.Contains(string(page.Body), `value="`+next+`"`) {
				t.Fatalf("the sign-in form keeps next=%q", next)
			}
		})
	}
}

func TestCookieIsSecureAndHSTSSentWhenThePublicURLIsHTTPS(t *testing.T) {
	for _, tc := range []struct {
		base   string
		secure bool
	}{{"https://onboard.example.com", true}, {"http://127.0.0.1:8080", false}} {
		t.Run(tc.base, func(t *testing.T) {
			f := newFixtureWith(t, nil, func(c *api.Config) { c.Flows.BaseURL = tc.base })
			r := f.browser(t).Do("POST", "/login", "next=%2F&key="+url.QueryEscape(f.keys[models.RoleAdminAgent]),
				"Content-Type", "application/x-www-form-urlencoded")
			cookie := r.Header.Get("Set-Cookie")
			if r.Status != http.StatusSeeOther || strings.Contains(cookie, "; Secure") != tc.secure {
				t.Fatalf("Set-Cookie %q (Secure wanted: %v)", cookie, tc.secure)
			}
			hsts := f.anon.Do("GET", "/healthz", nil).Header.Get("Strict-Transport-Security")
			if (hsts != "") != tc.secure || tc.secure && !strings.Contains(hsts, "max-age=31536000") {
				t.Fatalf("Strict-Transport-Security %q (wanted: %v)", hsts, tc.secure)
			}
		})
	}
}

func TestV1RefusesCrossSiteCallsWithTheSessionCookie(t *testing.T) {
	f := newFlowFixture(t)
	admin := f.keys[models.RoleGlobalAdmin]
	cookie := f.signIn(t, models.RoleGlobalAdmin)
	written := func() int {
		keys, err := f.store.ListAPIKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(keys) + len(f.invitations(t))
	}
	inv := f.invite(t, "fabrikam.onmicrosoft.com")
	before := written()
	invitation, _ := json.Marshal(validInvitation())
	key := `{"name":"csrf","roles":["global-admin"]}`
	refused := []struct {
		name, path, body string
		headers          []string
	}{
		{"a cookie-only invitation", "/v1/invitations", string(invitation),
			[]string{"Content-Type", "application/json"}},
		{"a cookie-only API key", "/v1/api-keys", key, []string{"Content-Type", "application/json"}},
		{"a cookie-only post as another site's form sends it", "/v1/api-keys", key,
			[]string{"Content-Type", "text/plain"}},
		{"a cookie-only cancel with no body", "/v1/invitations/" + inv.ID + "/cancel", "", nil},
		{"a cookie and a wrong CSRF token", "/v1/api-keys", key,
			[]string{"Content-Type", "application/json", api.CSRFHeader, "forged"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := f.anon.Do("POST", tc.path, tc.body,
				append([]string{"Cookie", cookie, "Content-Type", ""}, tc.headers...)...)
			if r.Status != http.StatusForbidden || r.Problem(t)["type"] != api.ProblemTypePrefix+"forbidden" {
				t.Fatalf("%d, want 403: %s", r.Status, r.Body)
			}
			if written() != before {
				t.Fatal("a refused request wrote")
			}
		})
	}
	if st := f.invitationStatus(t, inv.ID); st != models.InvitationPending {
		t.Fatalf("a refused cancel changed the invitation: %s", st)
	}

	// A body with no Content-Type, or another one, is refused even with a bearer key.
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
		r := f.anon.As(admin).Do("POST", "/v1/api-keys", key, "Content-Type", ct)
		if r.Status != http.StatusUnsupportedMediaType ||
			r.Problem(t)["type"] != api.ProblemTypePrefix+"unsupported-media-type" {
			t.Fatalf("Content-Type %q: %d %s", ct, r.Status, r.Body)
		}
	}
	if written() != before {
		t.Fatal("a refused request wrote")
	}

	// The session's CSRF token, which the dashboard's forms carry, lets the dashboard's own
	// scripts call /v1 with the cookie; reading needs no token.
	page := f.browser(t).Do("GET", "/invitations/"+inv.ID, nil, "Cookie", cookie)
	_, rest, ok := strings.Cut(string(page.Body), `name="csrf" value="`)
	if !ok {
		t.Fatalf("no CSRF token on the detail page: %d", page.Status)
	}
	token, _, _ := strings.Cut(rest, `"`)
	if r := f.anon.Do("POST", "/v1/api-keys", key,
		"Cookie", cookie, api.CSRFHeader, html.UnescapeString(token)); r.Status != http.StatusCreated {
		t.Fatalf("a cookie call with the CSRF token: %d %s", r.Status, r.Body)
	}
	if r := f.anon.Do("GET", "/v1/api-keys", nil, "Cookie", cookie); r.Status != http.StatusOK {
		t.Fatalf("reading with the cookie: %d", r.Status)
	}
	// Bearer calls need no CSRF token, and cancel may still come without a body.
	if r := f.anon.As(admin).Do("POST", "/v1/invitations/"+inv.ID+"/cancel", nil); r.Status != http.StatusOK {
		t.Fatalf("a bearer cancel without a body: %d %s", r.Status, r.Body)
	}
}

func (f *flowFixture) invitationStatus(t *testing.T, id string) string {
	t.Helper()
	for _, inv := range f.invitations(t) {
		if inv.ID == id {
			return inv.Status
		}
	}
	t.Fatalf("no invitation %s", id)
	return ""
}

func TestSignOutAndRevocationEndSessions(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	plaintext, key, err := f.store.CreateAPIKey(ctx, "operator", models.RoleAdminAgent)
	if err != nil {
		t.Fatal(err)
	}
	cookie := f.signIn(t, plaintext)
	if strings.Contains(cookie, key.ID) {
		t.Fatalf("the session cookie names the key: %s", cookie)
	}
	dashboard := func(cookie string) int { return f.browser(t).Do("GET", "/", nil, "Cookie", cookie).Status }
	if s := dashboard(cookie); s != http.StatusOK {
		t.Fatalf("signed in: %d", s)
	}
	if r := f.browser(t).Do("POST", "/logout", nil, "Cookie", cookie); r.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", r.Status)
	}
	// The cookie a browser (or a thief) kept no longer works.
	if s := dashboard(cookie); s != http.StatusSeeOther {
		t.Fatalf("a signed-out session still opens the dashboard: %d", s)
	}
	if r := f.anon.Do("POST", "/codec/decode", `{"payloads":[]}`,
		"Cookie", cookie); r.Status != http.StatusUnauthorized {
		t.Fatalf("a signed-out session still decodes: %d", r.Status)
	}

	second := f.signIn(t, plaintext)
	if s := dashboard(second); s != http.StatusOK {
		t.Fatalf("signed in again: %d", s)
	}
	if r := f.anon.As(f.keys[models.RoleGlobalAdmin]).
		Do("DELETE", "/v1/api-keys/"+key.ID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d", r.Status)
	}
	if s := dashboard(second); s != http.StatusSeeOther {
		t.Fatalf("a session of a revoked key still opens the dashboard: %d", s)
	}
}

func TestKeyUseIsRecorded(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	plaintext, key, err := f.store.CreateAPIKey(ctx, "ci", models.RoleSalesAgent)
	if err != nil {
		t.Fatal(err)
	}
	if r := f.anon.As(plaintext).Do("GET", "/v1/invitations", nil); r.Status != http.StatusOK {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	got, err := f.store.APIKeyByID(ctx, key.ID)
	if err != nil || got.LastUsedAt == nil || time.Since(*got.LastUsedAt) > time.Minute {
		t.Fatalf("LastUsedAt after a call: %+v %v", got, err)
	}
	list := f.anon.As(f.keys[models.RoleGlobalAdmin]).Do("GET", "/v1/api-keys", nil)
	if !strings.Contains(string(list.Body), `"lastUsedAt"`) {
		t.Fatalf("the key list must show when keys were used: %s", list.Body)
	}
}

func TestFailedSignInsAndBearerKeysAreThrottled(t *testing.T) {
	f := newFixtureWith(t, nil, func(c *api.Config) {
		c.RateLimits.AuthFailures = api.RateLimit{Every: time.Hour, Burst: 3}
	})
	good := f.keys[models.RoleAdminAgent]
	for i := range 3 {
		if r := f.anon.As("pfk_000000000000_guess"+strconv.Itoa(i)).
			Do("GET", "/v1/invitations", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, r.Status)
		}
	}
	r := f.anon.As("pfk_000000000000_guess").Do("GET", "/v1/invitations", nil)
	if r.Status != http.StatusTooManyRequests || r.Problem(t)["type"] != api.ProblemTypePrefix+"rate-limited" {
		t.Fatalf("the fourth guess: %d %s", r.Status, r.Body)
	}
	if after, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || after < 1 || after > 3600 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// The sign-in form shares the budget: it is spent, so even the right key waits.
	login := f.browser(t).Do("POST", "/login", "next=%2F&key="+url.QueryEscape(good),
		"Content-Type", "application/x-www-form-urlencoded")
	if login.Status != http.StatusTooManyRequests || login.Header.Get("Retry-After") == "" {
		t.Fatalf("sign-in while throttled: %d", login.Status)
	}

	// Successes cost nothing, and calls without any credential are not guesses.
	g := newFixtureWith(t, nil, func(c *api.Config) {
		c.RateLimits.AuthFailures = api.RateLimit{Every: time.Hour, Burst: 2}
	})
	for range 10 {
		if r := g.anon.As(g.keys[models.RoleAdminAgent]).Do("GET", "/v1/invitations", nil); r.Status != http.StatusOK {
			t.Fatalf("a good key: %d", r.Status)
		}
		if r := g.anon.Do("GET", "/v1/invitations", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("no key: %d", r.Status)
		}
	}
	for i := range 2 {
		if r := g.browser(t).Do("POST", "/login", "key=wrong"+strconv.Itoa(i),
			"Content-Type", "application/x-www-form-urlencoded"); r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d", i, r.Status)
		}
	}
	if r := g.browser(t).Do("POST", "/login", "key=wrong",
		"Content-Type", "application/x-www-form-urlencoded"); r.Status != http.StatusTooManyRequests {
		t.Fatalf("the third wrong sign-in: %d", r.Status)
	}
}

func TestPublicLinksAreRateLimitedPerClientAndPerLink(t *testing.T) {
	f := newFixtureWith(t, nil, func(c *api.Config) {
		c.RateLimits.PerClient = api.RateLimit{Every: time.Hour, Burst: 5}
		c.RateLimits.PerToken = api.RateLimit{Every: time.Hour, Burst: 3}
	})
	// Three requests on one link, then the link is spent (whatever the token, valid or not:
	// the limit comes before any work).
	for i := range 3 {
		if r := f.anon.Do("GET", "/accept/tok-a", nil,
			"Accept", "application/json"); r.Status == http.StatusTooManyRequests {
			t.Fatalf("request %d on a link: 429", i)
		}
	}
	r := f.anon.Do("POST", "/accept/tok-a", `{"upn":"a@b.example"}`)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" ||
		r.Problem(t)["type"] != api.ProblemTypePrefix+"rate-limited" {
		t.Fatalf("the fourth request on a link: %d %v %s", r.Status, r.Header, r.Body)
	}
	// Another link still answers, until the client's own budget (5) is spent.
	if r := f.anon.Do("GET", "/partner/tok-b", nil,
		"Accept", "application/json"); r.Status == http.StatusTooManyRequests {
		t.Fatal("another link was limited by the first")
	}
	for _, path := range []string{"/agreement/tok-c", "/login"} {
		r := f.anon.Do("GET", path, nil)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("%s after the client's budget: %d", path, r.Status)
		}
	}
	if r := f.anon.Do("GET", "/healthz", nil); r.Status != http.StatusOK {
		t.Fatalf("health checks are never limited: %d", r.Status)
	}
}

func TestALinkHolderCannotGrowTheTimelineWithoutBound(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	f.live(inv.WorkflowID, pending())
	path := f.acceptPath(inv)
	// 25 different accounts of the customer's domain (the per-link rate limit allows 30).
	for i := range 25 {
		upn := "user" + strconv.Itoa(i) + "@contoso.onmicrosoft.com"
		r := f.browser(t).Do("POST", path, "upn="+url.QueryEscape(upn), "Content-Type", formContentType)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("acknowledgement %d: %d %s", i, r.Status, r.Body)
		}
	}
	if n := len(f.steps(t, inv.ID, "acknowledged")); n != 20 {
		t.Fatalf("%d acknowledged steps recorded, the bound is 20", n)
	}
	if !strings.Contains(f.logs.String(), "step limit") {
		t.Fatal("the steps not recorded must be logged")
	}
}

func TestAuthenticationFailuresOfTheDatabaseStayInTheLog(t *testing.T) {
	logs := &lockedBuffer{}
	f := newFixtureWith(t, nil, func(c *api.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	key := f.keys[models.RoleAdminAgent]
	_ = f.store.Close()
	r := f.anon.As(key).Do("GET", "/v1/invitations", nil)
	if r.Status != http.StatusServiceUnavailable || r.Problem(t)["type"] != api.ProblemTypePrefix+"unavailable" {
		t.Fatalf("a key checked against a closed database: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "closed") || strings.Contains(string(r.Body), "sql") {
		t.Fatalf("the caller hears the database's error: %s", r.Body)
	}
	if !strings.Contains(logs.String(), "closed") {
		t.Fatalf("the database's error must be logged: %s", logs.String())
	}
}
