package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

// revokeConnections is a Global admin of the partner tenant revoking the partner admin's
// sessions in the Entra admin center (the simulator's stand-in).
func (p *devProcess) revokeConnections() {
	p.t.Helper()
	resp, err := http.Post(p.sim+"/sim/connections/revoke", "application/json", bytes.NewReader([]byte(`{}`)))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Revoked int }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.Revoked == 0 {
		body, _ := io.ReadAll(resp.Body)
		p.t.Fatalf("revoke at the simulator: %d %d %s", resp.StatusCode, out.Revoked, body)
	}
}

// TestDoctorAgainstDev runs `partnerflow doctor` against a running dev: every check passes on
// its first start (dev connected itself); once the partner admin's sessions are revoked, the
// App+User line fails with its fix and the command exits non-zero.
func TestDoctorAgainstDev(t *testing.T) {
	p := startDev(t, t.TempDir(), nil)
	if !strings.Contains(p.output.String(), "Partner Center connection "+sim.DefaultHomePartner.AdminUPN()) {
		t.Fatalf("dev does not say it connected Partner Center:\n%s", tail(p.output.String(), 2000))
	}
	out, stderr, err := run(t, p.env, "doctor", "--api", p.api, "--api-key", p.key)
	if err != nil || strings.Contains(out, "✗") || strings.Count(out, "✓") < 8 {
		t.Fatalf("doctor against dev: %v\n%s\n%s", err, out, stderr)
	}
	time.Sleep(time.Second) // tokens name their issue time in whole seconds
	p.revokeConnections()
	out, stderr, err = run(t, p.env, "doctor", "--api", p.api, "--api-key", p.key)
	if err == nil {
		t.Fatalf("doctor with the connection revoked exited 0:\n%s", out)
	}
	var appUser string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "✗") && strings.Contains(strings.ToLower(line), "connection") {
			appUser = line
		}
	}
	if appUser == "" || !strings.Contains(out, "fix:") || !strings.Contains(out, "/connection") {
		t.Fatalf("the App+User line must fail with its fix:\n%s\n%s", out, stderr)
	}
	p.stop()
}

// TestGlobalAdminConnectsInTheBrowser: the partner admin's sessions are revoked, a new
// invitation waits for the connection and the dashboard says so; a global admin connects again
// from the dashboard, signing in at the Entra stand-in with MFA, and the invitation goes on.
func TestGlobalAdminConnectsInTheBrowser(t *testing.T) {
	ctx := browser(t)
	p := startDev(t, t.TempDir(), nil)
	tb := &tab{t: t, ctx: ctx}
	do, visible, click, fill, text := tb.do, tb.visible, tb.click, tb.fill, tb.text

	do("dashboard", chromedp.Navigate(p.api+"/connection"))
	visible("#key")
	fill("#key", p.key)
	click("#signin")
	visible("#status") // signing in leads back to the connection page
	if got := text("body"); !strings.Contains(got, sim.DefaultHomePartner.AdminUPN()) {
		t.Fatalf("the connection page must name who connected at dev's first start:\n%s", got)
	}

	time.Sleep(time.Second) // tokens name their issue time in whole seconds
	p.revokeConnections()
	inv := p.invite("contoso.onmicrosoft.com", "")
	p.waitFor(inv.ID, "waiting for the connection", func(v invitationView) bool {
		return v.has(workflows.StepConnectionNeeded)
	})
	if v := p.waitFor(
		inv.ID, "pending", func(v invitationView) bool { return true },
	); v.Status != models.InvitationPending || v.has("sent") {
		t.Fatalf("the invitation must wait, not fail or mail: %+v", v)
	}
	do("dashboard after the revocation", chromedp.Navigate(p.api+"/invitations"))
	visible("#connection-banner")

	do("connection page", chromedp.Navigate(p.api+"/connection"))
	visible("#connect")
	click("#connect")
	tb.signInAtEntra(sim.DefaultHomePartner.AdminUPN())
	visible("#notice")
	if got := text("#notice"); !strings.Contains(got, "Connected as") {
		t.Fatalf("after signing in: %q", got)
	}
	sent := p.waitFor(inv.ID, "sent", func(v invitationView) bool { return v.has("sent") })
	if !sent.has(workflows.StepConnectionResumed) {
		t.Fatalf("the invitation's timeline must say it resumed: %+v", sent.Steps)
	}
	do("dashboard after connecting", chromedp.Navigate(p.api+"/invitations"))
	visible("table")
	if got := text("body"); strings.Contains(got, "Partner Center sign-in needed") {
		t.Fatal("the banner stays after connecting")
	}
	p.stop()
}
