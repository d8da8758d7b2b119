package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// staffFixture is the API with staff sign-in through the simulator's Entra ID, served at a
// loopback address the demo app's redirect URIs accept.
func staffFixture(t *testing.T) (base string) {
	t.Helper()
	s := testsim.Start(t, sim.Config{})
	entra, err := partnercenter.NewEntra(partnercenter.EntraConfig{
		AuthorityURL: s.URL, TenantID: s.TenantID,
		ClientID: sim.DemoApp.ClientID, ClientSecret: sim.DemoApp.ClientSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	base = "http://" + hs.Listener.Addr().String()
	hs.Config.Handler = api.New(api.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: testdb.SQLite(t),
		Temporal: newFakeTemporal(), Registry: prometheus.NewRegistry(), SigningKey: signingKey,
		Flows:       api.FlowConfig{PartnerID: s.TenantID, BaseURL: base, Now: time.Now},
		StaffSignIn: entra,
	}).Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return base
}

// newBrowser is a browser with no session yet.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// startStaffSignIn follows the login page's link to Microsoft and returns Entra's address.
func startStaffSignIn(t *testing.T, b *browser, next string) string {
	t.Helper()
	_, page := b.do("GET", "/login?next="+url.QueryEscape(next), nil)
	if !strings.Contains(page, `id="signin-microsoft"`) {
		t.Fatalf("the sign-in page offers no Microsoft sign-in: %s", page)
	}
	resp, _ := b.do("GET", "/login/microsoft?next="+url.QueryEscape(next), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// TestStaffSignInWithMicrosoft: staff of the partner tenant sign in through Entra ID with MFA and
// get the roles of their app roles; without MFA, without a role, or with an answer that is not
// this browser's sign-in, nobody is signed in.
func TestStaffSignInWithMicrosoft(t *testing.T) {
	base := staffFixture(t)
	const domain = "@partnerflowdemo.onmicrosoft.com"
	signIn := func(t *testing.T, upn string) *browser {
		t.Helper()
		b := newBrowser(t, base)
		back := signInAtSim(t, startStaffSignIn(t, b, "/customers"), upn, "approve")
		resp, body := b.do("GET", back.String(), nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/customers" {
			t.Fatalf("%s: %d %s", upn, resp.StatusCode, body)
		}
		return b
	}
	admin := signIn(t, "adminagent"+domain)
	if resp, page := admin.do("GET", "/invitations/new", nil); resp.StatusCode != http.StatusOK ||
		!strings.Contains(page, `id="adminAccess"`) || !strings.Contains(page, "adminagent"+domain) {
		t.Fatalf("an admin agent's form: %d", resp.StatusCode)
	}
	if resp, _ := admin.do("GET", "/resellers/new", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an admin agent may not ask resellers to partner: %d", resp.StatusCode)
	}
	sales := signIn(t, "salesagent"+domain)
	if resp, _ := sales.do("GET", "/resellers/new", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("a sales agent's partnership form: %d", resp.StatusCode)
	}
	if resp, _ := sales.do("POST", "/logout", url.Values{}, "Origin", base); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := sales.do("GET", "/resellers/new", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed out, the form sends to the sign-in page: %d", resp.StatusCode)
	}

	for _, tc := range []struct {
		name, upn, mfa string
		tamper         func(back *url.URL) string
		status         int
		problem        string
	}{
		{"without MFA", "adminagent" + domain, "skip", nil, http.StatusForbidden, "Multi-factor authentication"},
		{"without a partnerflow role", "agent" + domain, "approve", nil, http.StatusForbidden, "no partnerflow role"},
		{"an answer with another state", "adminagent" + domain, "approve",
			func(back *url.URL) string { return withQuery(back, "state", "forged") },
			http.StatusBadRequest, "not started here"},
		{"Microsoft's error", "adminagent" + domain, "approve",
			func(back *url.URL) string { return withQuery(back, "error", "access_denied") },
			http.StatusBadRequest, "access_denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, base)
			back := signInAtSim(t, startStaffSignIn(t, b, "/"), tc.upn, tc.mfa)
			target := back.String()
			if tc.tamper != nil {
				target = tc.tamper(back)
			}
			resp, body := b.do("GET", target, nil)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.problem) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if resp, _ := b.do("GET", "/invitations", nil); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("nobody may be signed in: %d", resp.StatusCode)
			}
		})
	}
	t.Run("an answer no sign-in in this browser started", func(t *testing.T) {
		started := newBrowser(t, base)
		back := signInAtSim(t, startStaffSignIn(t, started, "/"), "adminagent"+domain, "approve")
		resp, body := newBrowser(t, base).do("GET", back.String(), nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not started here") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
}
