package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/partnerflow/partnerflow/models"
)

// TestACustomerSignsTheAgreementInTheBrowser onboards a new customer on dev: its contact opens
// the mailed agreement link in headless Chromium, accepts the Microsoft Customer Agreement, and
// the partner checks out the cart and sees the subscriptions.
func TestACustomerSignsTheAgreementInTheBrowser(t *testing.T) {
	ctx := browser(t)
	dataDir := t.TempDir()
	p, mail := devWithMail(t, dataDir)
	api := p.client()
	prefix := fmt.Sprintf("fabrikamtr%d", time.Now().UnixNano()%100000)
	resp := api.Do("POST", "/v1/customers", map[string]any{
		"companyName": "Fabrikam Türkiye A.Ş.", "domainPrefix": prefix, "country": "TR", "language": "tr",
		"registrationNumber": "1234567890",
		"contact": map[string]any{
			"firstName": "Ayşe", "lastName": "Yılmaz", "email": "ayse@fabrikam.example",
		},
		"address": map[string]any{"line1": "İstiklal Caddesi 1", "city": "İstanbul", "postalCode": "34433"},
		"products": []map[string]any{{
			"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			"quantity":      2,
			"billingCycle":  "monthly",
			"termDuration":  "P1M",
		}},
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("onboard: %d %s", resp.Status, resp.Body)
	}
	var created struct{ ID string }
	resp.JSON(t, &created)
	status := func() string {
		var v struct{ Status string }
		api.Do("GET", "/v1/customers/"+created.ID, nil).JSON(t, &v)
		return v.Status
	}
	waitStatus := func(want string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for status() != want {
			if time.Now().After(deadline) {
				t.Fatalf("the onboarding never became %s (is %s)", want, status())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitStatus(models.OnboardingAwaitingAgreement)
	link := mailedLink(t, mail, "ayse@fabrikam.example", "/agreement/")

	b := &tab{t: t, ctx: ctx}
	b.do("open the agreement link", chromedp.Navigate(link))
	b.visible("#sign")
	if page := b.text("body"); !strings.Contains(page, "Microsoft Müşteri Sözleşmesi") {
		t.Fatalf("the page must be in Turkish, the customer's language:\n%s", page)
	}
	// Without the box ticked the page asks again.
	b.fill("#first-name", "Ayşe")
	b.fill("#last-name", "Yılmaz")
	b.fill("#email", "ayse@fabrikam.example")
	b.click("#sign")
	b.visible("#sign")
	if status() != models.OnboardingAwaitingAgreement {
		t.Fatal("an acceptance without the box ticked must not count")
	}
	b.fill("#first-name", "Ayşe")
	b.fill("#last-name", "Yılmaz")
	b.fill("#email", "ayse@fabrikam.example")
	b.act("tick the box", "#accept", "e.checked = true")
	b.click("#sign")
	b.visible("#accepted")

	waitStatus(models.OnboardingReview)
	if r := api.Do("POST", "/v1/customers/"+created.ID+"/cart/checkout", nil); r.Status != http.StatusOK {
		t.Fatalf("checkout: %d %s", r.Status, r.Body)
	}
	waitStatus(models.OnboardingCompleted)
	var ev struct{ Method, UserAgent, FirstName string }
	api.Do("GET", "/v1/customers/"+created.ID+"/agreement/evidence", nil).JSON(t, &ev)
	if ev.Method != models.AgreementByCustomer || ev.FirstName != "Ayşe" || !strings.Contains(ev.UserAgent, "Chrome") {
		t.Fatalf("the evidence must name who accepted in which browser: %+v", ev)
	}
	p.stop()
}
