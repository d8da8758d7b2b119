package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/partnerflow/partnerflow/internal/testsmtp"
	"github.com/partnerflow/partnerflow/models"
)

// browser returns a headless Chromium context, or skips the test — saying so — on a machine
// without Chromium (CI installs Debian's chromium).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM_PATH")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Skip("SKIPPED: no Chromium on this machine (apt-get install chromium); the browser tests did not run")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// mailedLink waits for the mail to `to` that carries a link to path and returns the link, as
// the recipient's mail client shows it. The outbox keeps bodies sealed, so tests read the mail
// server, as a customer would.
func mailedLink(t *testing.T, mail *testsmtp.Server, to, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := mail.To(to)
		for i := len(got) - 1; i >= 0; i-- {
			if link := got[i].Link(path); link != "" {
				return link
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s with a %s link: %+v", to, path, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// devWithMail runs dev in dataDir sending its mail to a test SMTP server.
func devWithMail(t *testing.T, dataDir string) (*devProcess, *testsmtp.Server) {
	t.Helper()
	mail := testsmtp.Start(t)
	return startDev(t, dataDir, devEnv(t, dataDir, "SMTP_URL="+mail.URL)), mail
}

func TestCustomerAcceptsInTheBrowser(t *testing.T) {
	ctx := browser(t)
	dataDir := t.TempDir()
	p, mail := devWithMail(t, dataDir)
	inv := p.invite("contoso.onmicrosoft.com", "")
	p.waitFor(inv.ID, "sent", func(v invitationView) bool { return v.has("sent") })
	link := mailedLink(t, mail, "admin@contoso.onmicrosoft.com", "/accept/")
	if link != inv.AcceptURL {
		t.Fatalf("the mailed link %q differs from the API's acceptUrl %q", link, inv.AcceptURL)
	}

	tb := &tab{t: t, ctx: ctx}
	do, visible, click, fill, text := tb.do, tb.visible, tb.click, tb.fill, tb.text

	// The landing page says who asks for what.
	do("open the mailed link", chromedp.Navigate(link))
	visible("#accept-reseller")
	partner, roles := text("#partner"), text("#roles")
	// Step 1 at "Microsoft": a user who is not Global admin is refused, the Global admin accepts.
	click("#accept-reseller")
	visible("#accept")
	fill("#upn", "user@contoso.onmicrosoft.com")
	click("#accept")
	visible("#result")
	notAdminResult := text("#result")
	fill("#upn", "admin@contoso.onmicrosoft.com")
	click("#accept")
	visible(`#result[data-reason=""], #result:not([data-reason])`)
	simResult := text("#result")
	// Step 2: back to the landing page, on to the GDAP approval.
	do("back to the landing page", chromedp.Navigate(link))
	visible("#approve-gdap")
	click("#approve-gdap")
	visible("#approve")
	fill("#upn", "admin@contoso.onmicrosoft.com")
	click("#approve")
	visible("#result")
	approveResult := text("#result")
	if strings.TrimSpace(partner) == "" {
		t.Fatal("the landing page names no partner")
	}
	if !strings.Contains(roles, "Helpdesk Administrator") {
		t.Fatalf("the landing page must list the roles asked for, got %q", roles)
	}
	if !strings.Contains(strings.ToLower(notAdminResult), "global admin") {
		t.Fatalf("a user who is not Global admin must be refused clearly, got %q", notAdminResult)
	}
	if strings.Contains(strings.ToLower(simResult+approveResult), "refused") {
		t.Fatalf("the Global admin was refused: %q / %q", simResult, approveResult)
	}

	active := p.waitFor(inv.ID, "active", func(v invitationView) bool {
		return v.Status == models.InvitationActive && v.has("active")
	})
	if !active.has("opened") {
		t.Fatalf("opening the link must be on the timeline: %+v", active.Steps)
	}

	// The landing page now says it is done; the dashboard shows the invitation active.
	do("landing page after acceptance", chromedp.Navigate(link))
	visible("#done")
	do("dashboard", chromedp.Navigate(p.api+"/"))
	visible("#key")
	fill("#key", p.key)
	click("#signin")
	visible("table")
	dashboard := text("body")
	if !strings.Contains(dashboard, "contoso.onmicrosoft.com") ||
		!strings.Contains(strings.ToLower(dashboard), "active") {
		t.Fatalf("the dashboard must list the active invitation:\n%s", dashboard)
	}
	if code, _ := get(
		t, p.api+"/accept/"+strings.TrimSuffix(strings.TrimPrefix(link, p.api+"/accept/"), "x")+"x",
	); code != http.StatusBadRequest {
		t.Fatalf("a tampered link must be refused, got %d", code)
	}

	// The operator starts the next invitation from the dashboard: a refusal comes back beside its
	// field, the corrected form starts the flow, and the customer gets the mail.
	click("#new-invitation")
	visible("#invitation-form")
	fill("#customerDomain", "fabrikam")
	fill("#customerEmail", "admin@fabrikam.onmicrosoft.com")
	fill("#roles", "Helpdesk Administrator")
	click("#send-invitation")
	visible("#problem-customerDomain")
	fill("#customerDomain", "fabrikam.onmicrosoft.com")
	click("#send-invitation")
	visible("#notice")
	if notice := text("#notice"); !strings.Contains(notice, "on its way") {
		t.Fatalf("the new invitation's page must say it started, got %q", notice)
	}
	if started := text("h1"); !strings.Contains(started, "fabrikam.onmicrosoft.com") {
		t.Fatalf("the new invitation's page shows %q", started)
	}
	mailedLink(t, mail, "admin@fabrikam.onmicrosoft.com", "/accept/")
	p.stop()
}

// tab drives one headless Chromium tab as a user would.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser, %s: %v", what, err)
	}
}

// visible waits until sel is shown. It asks the page itself (document.querySelector) each time,
// because a DOM query begun while a click loads the next page can wait on the old one.
func (b *tab) visible(sel string) {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	expr := `(() => { const e = document.querySelector(` + string(q) + `); return !!e && e.offsetParent !== null })()`
	deadline := time.Now().Add(30 * time.Second)
	for {
		try, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		shown, err := chromedp.Run(try, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && shown {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: %s never appeared (%v)", sel, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// act runs a small script on an element: a click as a user would make it, or typing a value.
func (b *tab) act(what, sel, script string) {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](
		`(() => { const e = document.querySelector(`+string(q)+`); if (!e) return false; `+
			script+`; return true })()`,
	)); err != nil {
		b.t.Fatalf("browser, %s: %v", what, err)
	}
}

func (b *tab) click(sel string) { b.t.Helper(); b.act("click "+sel, sel, "e.click()") }

func (b *tab) fill(sel, value string) {
	b.t.Helper()
	v, _ := json.Marshal(value)
	b.act("fill "+sel, sel, "e.value = "+string(v))
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector(`+string(q)+`).innerText`))
	if err != nil {
		b.t.Fatalf("browser, read %s: %v", sel, err)
	}
	return v
}
