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
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/models"
)

// signIn signs key in at /login and returns the session cookie ("pf_session=...").
func (f *fixture) signIn(t *testing.T, key string) string {
	t.Helper()
	resp := f.browser(t).Do("POST", "/login", "next=%2F&key="+url.QueryEscape(key),
		"Content-Type", "application/x-www-form-urlencoded")
	if resp.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.Status, resp.Body)
	}
	return strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]
}

// browser is a client that shows redirects instead of following them.
func (f *fixture) browser(t *testing.T) *testapi.Client {
	noRedirect := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return apiClient(t, f.anon.BaseURL, noRedirect)
}

// concrete fills a route's parameters with values that name nothing.
func concrete(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "x" + strings.TrimPrefix(p, ":")
		}
	}
	return strings.Join(parts, "/")
}

// TestEveryRouteHasAnAccessRuleThatHolds walks the router's routes: each must have a rule in
// the API's route table, and each is called as its rule says it may not be called: without
// credentials, with a key of every role the rule leaves out and with a key of no role, with a
// bad link token, without a signature.
func TestEveryRouteHasAnAccessRuleThatHolds(t *testing.T) {
	// Every route is called with an unknown key: let failed keys through the throttle here.
	f := newFixtureWith(t, nil, func(c *api.Config) {
		c.RateLimits.AuthFailures = api.RateLimit{Every: time.Millisecond, Burst: 10000}
	})
	ctx := context.Background()
	roleless, _, err := f.store.CreateAPIKey(ctx, "no-role")
	if err != nil {
		t.Fatal(err)
	}
	sessions := map[models.Role]string{}
	for r, key := range f.keys {
		sessions[r] = f.signIn(t, key)
	}
	rolelessSession := f.signIn(t, roleless)
	browser := f.browser(t)

	routes := f.server.Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes: the router changed shape", len(routes))
	}
	for _, route := range routes {
		name := route[0] + " " + route[1]
		t.Run(name, func(t *testing.T) {
			rule, ok := f.server.RouteAccess(name)
			if !ok {
				t.Fatalf("%s has no access rule: register it with Server.handle", name)
			}
			method, path := route[0], concrete(route[1])
			lacking := func() (out []models.Role) {
				for _, r := range models.AllRoles {
					// global-admin holds every role.
					if !slices.Contains(rule.Roles, r) && r != models.RoleGlobalAdmin {
						out = append(out, r)
					}
				}
				return out
			}
			switch rule.Kind {
			case api.AccessPublic:
				r := browser.Do(method, path, nil)
				if r.Status == http.StatusForbidden || r.Status == http.StatusUnauthorized &&
					strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
					t.Fatalf("a public route refused an anonymous caller: %d %s", r.Status, r.Body)
				}
			case api.AccessKey:
				if len(rule.Roles) == 0 {
					t.Fatal("a key rule must name its roles")
				}
				if r := f.anon.Do(method, path, nil); r.Status != http.StatusUnauthorized {
					t.Fatalf("without a key: %d, want 401: %s", r.Status, r.Body)
				}
				if r := f.anon.As("pfk_000000000000_not-a-key").
					Do(method, path, nil); r.Status != http.StatusUnauthorized {
					t.Fatalf("with an unknown key: %d, want 401", r.Status)
				}
				if r := f.anon.As(roleless).Do(method, path, nil); r.Status != http.StatusForbidden {
					t.Fatalf("with a key of no role: %d, want 403: %s", r.Status, r.Body)
				}
				for _, role := range lacking() {
					if r := f.anon.As(f.keys[role]).Do(method, path, nil); r.Status != http.StatusForbidden {
						t.Fatalf("with a %s key: %d, want 403: %s", role, r.Status, r.Body)
					}
				}
			case api.AccessSession:
				r := browser.Do(method, path, nil)
				if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") {
					t.Fatalf("without a session: %d %q, want a redirect to sign in", r.Status, r.Header.Get("Location"))
				}
				if len(rule.Roles) == 0 {
					return
				}
				if r := browser.Do(method, path, nil, "Cookie", rolelessSession); r.Status != http.StatusForbidden {
					t.Fatalf("signed in with a key of no role: %d, want 403", r.Status)
				}
				for _, role := range lacking() {
					if r := browser.Do(method, path, nil, "Cookie", sessions[role]); r.Status != http.StatusForbidden {
						t.Fatalf("signed in as %s: %d, want 403", role, r.Status)
					}
				}
			case api.AccessLink:
				r := browser.Do(method, path, nil, "Accept", "application/json")
				if r.Status != http.StatusBadRequest && r.Status != http.StatusNotFound {
					t.Fatalf("with a bad link token: %d, want 400 or 404: %s", r.Status, r.Body)
				}
				if strings.Contains(string(r.Body), "xtoken") {
					t.Fatal("the refusal echoes the token")
				}
			case api.AccessSignature:
				r := browser.Do(method, path, `{"EventName":"test-created","ResourceUri":"x"}`,
					"Authorization", "Signature forged")
				if r.Status < 400 {
					t.Fatalf("an unsigned event was taken: %d %s", r.Status, r.Body)
				}
			default:
				t.Fatalf("unknown access kind %q", rule.Kind)
			}
		})
	}
}
