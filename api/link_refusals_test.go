package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/api"
)

// Every flow's customer link refuses a bad token in the visitor's language, naming what the link
// was for, and in English to a JSON client.
func TestEveryCustomerLinkRefusesABadTokenInTheVisitorsLanguage(t *testing.T) {
	links := []struct {
		path   string
		en, it string // a phrase of the page's refusal in each language
		tr     string
	}{
		{"/accept/not-a-token", "invitation e-mail", "messaggio di invito", "davet e-postasından"},
		{"/agreement/not-a-token", "from the e-mail", "messaggio ricevuto", "e-postadan"},
		{"/partner/not-a-token", "from the e-mail", "messaggio ricevuto", "e-postadan"},
	}
	f := newFlowFixture(t)
	browser := f.browser(t)
	for _, l := range links {
		for lang, says := range map[string]string{"en": l.en, "it": l.it, "tr": l.tr} {
			page := browser.Do("GET", l.path, nil, "Accept-Language", lang)
			if page.Status != http.StatusBadRequest || !strings.Contains(string(page.Body), says) {
				t.Errorf("%s in %s: %d, want 400 saying %q: %s", l.path, lang, page.Status, says, page.Body)
			}
		}
		resp := browser.Do("GET", l.path, nil, "Accept", "application/json", "Accept-Language", "tr")
		p := resp.Problem(t)
		if resp.Status != http.StatusBadRequest || p["type"] != api.ProblemTypePrefix+"invalid-link" ||
			p["title"] != "This link is not valid" || !strings.Contains(p["detail"].(string), l.en) {
			t.Errorf("%s as JSON: %d %v", l.path, resp.Status, p)
		}
	}
}
