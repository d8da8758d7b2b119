package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestStaffOnboardACustomerFromTheConsole: a sales agent signs in with Microsoft through the
// Entra stand-in with MFA and, from the console alone, creates a customer with a product picked
// from the catalog, attests its acceptance of the agreement, checks out the cart and reveals the
// new tenant's first admin password once.
func TestStaffOnboardACustomerFromTheConsole(t *testing.T) {
	ctx := browser(t)
	p, mail := devWithMail(t, t.TempDir())
	tb := &tab{t: t, ctx: ctx}
	do, visible, click, fill, text := tb.do, tb.visible, tb.click, tb.fill, tb.text

	// Sign in with Microsoft: pick the account, approve the second factor.
	do("window", chromedp.EmulateViewport(1280, 900))
	do("sign-in page", chromedp.Navigate(p.api+"/login?next=%2Fcustomers"))
	visible("#signin-microsoft")
	tb.screenshot("sign-in")
	click("#signin-microsoft")
	tb.signInAtEntra("salesagent@partnerflowdemo.onmicrosoft.com")
	visible("#new-customer")
	if who := text("body"); !strings.Contains(who, "salesagent@partnerflowdemo.onmicrosoft.com") {
		t.Fatalf("the console must name who signed in:\n%s", who)
	}

	// A new customer, its product picked from Partner Center's catalog of Italy.
	do("new customer", chromedp.Navigate(p.api+"/customers/new?country=IT"))
	visible("#onboarding-form")
	tb.screenshot("new-customer")
	for sel, v := range map[string]string{
		"#companyName": "Contoso Italia S.r.l.", "#domainPrefix": "contosoitalia", "#language": "it",
		"#registrationNumber": "IT12345678901", `[id="contact.firstName"]`: "Maria",
		`[id="contact.lastName"]`: "Rossi", `[id="contact.email"]`: "maria@contoso.it",
		`[id="address.line1"]`: "Via Roma 1", `[id="address.city"]`: "Milano",
		`[id="address.postalCode"]`: "20121", `[id="products[0].catalogItemId"]`: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
		`[id="products[0].quantity"]`: "10", `[id="products[0].billingCycle"]`: "monthly",
		`[id="products[0].termDuration"]`: "P1M",
	} {
		fill(sel, v)
	}
	click("#create-customer")
	visible("#notice")
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.origin + location.pathname`))
	if err != nil || !strings.Contains(page, "/customers/cus_") {
		t.Fatalf("the new customer's page: %q %v", page, err)
	}

	// The agent attests the agreement once the tenant exists and the flow asks for it.
	reloadUntil(tb, page, "#attest-agreement")
	click("#attest-agreement")
	visible("#agreement-form")
	fill(`[id="primaryContact.firstName"]`, "Maria")
	fill(`[id="primaryContact.lastName"]`, "Rossi")
	fill(`[id="primaryContact.email"]`, "maria@contoso.it")
	fill("#dateAgreed", time.Now().UTC().Format("2006-01-02"))
	click("#attest")
	visible("#notice")

	// The cart comes to review; the agent checks it out and the subscriptions go live.
	reloadUntil(tb, page, "#checkout")
	if cart := text("body"); !strings.Contains(cart, "Microsoft 365 E3") && !strings.Contains(cart, "CFQ7TTC0LFLZ") {
		t.Fatalf("the cart under review must show its line:\n%s", cart)
	}
	tb.screenshot("cart-review")
	click("#checkout")
	visible("#notice")
	reloadUntil(tb, page, "#status.completed")

	// The first admin's password, shown once.
	reloadUntil(tb, page, "#reveal-credentials")
	click("#reveal-credentials")
	visible("#credentials-form")
	click("#confirm")
	click("#reveal")
	visible("#password")
	tb.screenshot("credentials-once")
	if pw := text("#password"); len(strings.TrimSpace(pw)) < 8 {
		t.Fatalf("the revealed password %q", pw)
	}
	do("the customer's page again", chromedp.Navigate(page))
	visible("h1")
	if body := text("body"); strings.Contains(body, "Reveal the first admin") {
		t.Fatal("a revealed password must not be offered again")
	}
	mailedLink(t, mail, "maria@contoso.it", "/agreement/")
	p.stop()
}

// screenshot saves the page as docs/screenshots/<name>.png when SCREENSHOTS_DIR names that
// directory: `SCREENSHOTS_DIR=$PWD/docs/screenshots go test -run TestStaffOnboardACustomerFromTheConsole
// ./e2e` makes README's pictures of the console.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("SCREENSHOTS_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signInAtEntra signs upn in on Microsoft Entra ID's stand-in: it picks the account and approves
// the MFA request.
func (b *tab) signInAtEntra(upn string) {
	b.t.Helper()
	account := `button[name=upn][value="` + upn + `"]`
	b.visible(account)
	b.click(account)
	b.visible("#approve")
	b.click("#approve")
}

// shown says whether sel is on the page now.
func shown(b *tab, sel string) bool {
	q, _ := json.Marshal(sel)
	ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](
		`(() => { const e = document.querySelector(`+string(q)+`); return !!e && e.offsetParent !== null })()`))
	return err == nil && ok
}

// reloadUntil reloads url until sel shows (a flow's page changes as its workflow moves on).
func reloadUntil(b *tab, url, sel string) {
	b.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		b.do("reload "+url, chromedp.Navigate(url))
		if shown(b, sel) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: %s never appeared on %s:\n%s", sel, url, b.text("body"))
		}
		time.Sleep(time.Second)
	}
}
