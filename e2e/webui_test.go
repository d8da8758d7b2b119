package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/partnerflow/partnerflow/workflows"
)

// TestWebUIShowsDecryptedPayloads signs an operator in to the dashboard and opens the workflow
// in the embedded Temporal Web UI: the UI decrypts the input through partnerflow's codec endpoint
// (cross-origin, with the session cookie), so the operator reads what Temporal stores encrypted.
func TestWebUIShowsDecryptedPayloads(t *testing.T) {
	ctx := browser(t)
	p := startDev(t, t.TempDir(), nil)
	marker := fmt.Sprintf("MARKER%d", time.Now().UnixNano())
	inv := p.invite("tailspin.onmicrosoft.com", marker)
	p.waitFor(inv.ID, "sent", func(v invitationView) bool { return v.has("sent") })

	workflowID := workflows.InvitationWorkflowID(inv.ID)
	page := p.ui + "/namespaces/default/workflows/" + url.PathEscape(workflowID)
	pageText := func() string {
		try, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		text, _ := chromedp.Run(try, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		return text
	}
	waitText := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			text := pageText()
			if ok(text) {
				return text
			}
			if time.Now().After(deadline) {
				t.Fatalf("the Web UI never showed %s; it shows:\n%s", what, tail(text, 2000))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	// Signed out, the UI cannot decrypt: the marker must not show.
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	waitText("the workflow", func(s string) bool { return strings.Contains(s, "Invitation") })
	time.Sleep(2 * time.Second)
	if strings.Contains(pageText(), marker) {
		t.Fatal("the UI showed the plaintext input without an operator session")
	}

	// Sign in at the dashboard, then the UI decrypts.
	key, _ := json.Marshal(p.key)
	if err := chromedp.Do(ctx, chromedp.Navigate(p.api+"/login")); err != nil {
		t.Fatal(err)
	}
	waitText("the sign-in form", func(s string) bool { return strings.Contains(s, "API key") })
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`(() => { document.querySelector("#key").value = `+string(key)+
			`; document.querySelector("#signin").click(); return true })()`,
	)); err != nil {
		t.Fatal(err)
	}
	waitText("the dashboard", func(s string) bool { return strings.Contains(s, "tailspin.onmicrosoft.com") })
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	waitText("the decrypted input", func(s string) bool { return strings.Contains(s, marker) })
	p.stop()
}
