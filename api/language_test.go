package api_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/workflows"
)

func TestAnInvitationNamesTheCustomersLanguage(t *testing.T) {
	cases := []struct {
		name     string
		language any
		deflt    string
		want     string
	}{
		{"a supported language is taken", "it", "", "it"},
		{"a regional tag is taken as its language", "tr-TR", "", "tr"},
		{"case does not matter", "IT", "", "it"},
		{"no language means the configured default", nil, "tr", "tr"},
		{"an empty language means the configured default", "", "it", "it"},
		{"without a configured default it is English", nil, "", "en"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlowFixture(t, func(fc *api.FlowConfig) { fc.DefaultLanguage = tc.deflt })
			resp := f.admin.Do("POST", "/v1/invitations", with(map[string]any{"language": tc.language}))
			if resp.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", resp.Status, resp.Body)
			}
			var body struct{ Language string }
			resp.JSON(t, &body)
			in := startInput[workflows.InvitationInput](f.temporal.startCalls()[0])
			if in.Language != tc.want || body.Language != tc.want {
				t.Fatalf("workflow input language %q, answer %q, want %q", in.Language, body.Language, tc.want)
			}
		})
	}
	refused := []struct {
		name     string
		language any
	}{
		{"an unsupported language is refused", "de"},
		{"a made-up language is refused", "klingon"},
		{"a language that is not a string is refused", 39},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlowFixture(t)
			resp := f.admin.Do("POST", "/v1/invitations", with(map[string]any{"language": tc.language}))
			if resp.Status != http.StatusBadRequest || resp.Problem(t)["field"] != "language" {
				t.Fatalf("want a 400 naming language, got %d %s", resp.Status, resp.Body)
			}
			if _, isString := tc.language.(string); isString &&
				!strings.Contains(resp.Problem(t)["detail"].(string), "en, it, tr") {
				t.Fatalf("the refusal must name the supported languages: %s", resp.Body)
			}
			if len(f.temporal.startCalls()) != 0 || len(f.invitations(t)) != 0 {
				t.Fatal("a refused language started or wrote an invitation")
			}
		})
	}
}

func TestTheLandingPageSpeaksTheCustomersLanguage(t *testing.T) {
	cases := []struct {
		name           string
		query          string
		acceptLanguage string
		deflt          string
		lang           string
		says           []string
	}{
		{"without a preference the page is English", "", "", "", "en",
			[]string{
				"asks to become your Microsoft reseller", "730 days", "8 June 2025, 09:00 UTC", "expires in 90 days",
				"Continue to Microsoft",
			}},
		{"the browser's language is taken", "", "it-IT,it;q=0.9,en;q=0.8", "", "it",
			[]string{
				"chiede di diventare il Suo rivenditore Microsoft", "730 giorni", "8 giugno 2025, ore 09:00 UTC",
				"scade tra 90 giorni", "Prosegua su Microsoft", "Accetti la relazione di rivenditore",
			}},
		{"the browser's best supported language is taken", "", "de-DE,tr;q=0.7,it;q=0.5", "", "tr",
			[]string{
				"Microsoft bayiniz olmak", "730 gün", "8 Haziran 2025 09:00 UTC", "90 gün sonra sona eriyor",
				"Kurumsal bayi ilişkisini kabul edin",
			}},
		{"?lang= wins over the browser", "?lang=tr", "it", "", "tr", []string{"Yönetici hesabınız"}},
		{"an unsupported ?lang= is passed over", "?lang=de", "it", "", "it",
			[]string{"Il Suo account di amministratore"}},
		{"without a supported browser language the configured default is taken", "", "de-DE,fr;q=0.9", "it", "it",
			[]string{"Cosa fare"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlowFixture(t, func(fc *api.FlowConfig) { fc.DefaultLanguage = tc.deflt })
			inv := f.invite(t, "contoso.onmicrosoft.com")
			f.live(inv.WorkflowID, pending())
			headers := []string{}
			if tc.acceptLanguage != "" {
				headers = append(headers, "Accept-Language", tc.acceptLanguage)
			}
			resp := f.browser(t).Do("GET", f.acceptPath(inv)+tc.query, nil, headers...)
			body := string(resp.Body)
			if resp.Status != http.StatusOK || !strings.Contains(body, `<html lang="`+tc.lang+`">`) ||
				resp.Header.Get("Content-Language") != tc.lang {
				t.Fatalf("status %d, Content-Language %q, want the page in %s:\n%s",
					resp.Status, resp.Header.Get("Content-Language"), tc.lang, body)
			}
			for _, want := range tc.says {
				if !strings.Contains(body, want) {
					t.Errorf("the page must say %q", want)
				}
			}
			for _, id := range []string{
				"partner", "roles", "status", "next-steps", "acknowledge", "upn", "accept-reseller", "approve-gdap",
			} {
				if !strings.Contains(body, `id="`+id+`"`) {
					t.Errorf("the page lacks #%s", id)
				}
			}
			assertNoRawStrings(t, body)
		})
	}
}

func TestEveryStateOfTheLandingPageInEveryLanguage(t *testing.T) {
	states := []struct {
		name string
		st   workflows.InvitationState
		id   string
	}{
		{"waiting", workflows.InvitationState{Status: models.InvitationPending}, "next-steps"},
		{"accepted", workflows.InvitationState{
			Status:           models.InvitationAccepted,
			ResellerAccepted: true,
			GDAPApprovalURL:  approvalURL,
		}, "approve-gdap"},
		{"done", workflows.InvitationState{
			Status:           models.InvitationActive,
			ResellerAccepted: true,
			GDAPApproved:     true,
		}, "done"},
		{"closed", workflows.InvitationState{Status: models.InvitationCancelled}, "closed"},
	}
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	for _, lang := range notify.Languages() {
		for _, s := range states {
			t.Run(lang+"/"+s.name, func(t *testing.T) {
				f.live(inv.WorkflowID, s.st)
				resp := f.browser(t).Do("GET", f.acceptPath(inv)+"?lang="+lang, nil)
				body := string(resp.Body)
				if resp.Status != http.StatusOK || !strings.Contains(body, `id="`+s.id+`"`) ||
					!strings.Contains(body, `<html lang="`+lang+`">`) {
					t.Fatalf("status %d, want #%s in %s:\n%s", resp.Status, s.id, lang, body)
				}
				assertNoRawStrings(t, body)
			})
		}
	}
}

func TestCustomerRefusalsSpeakTheCustomersLanguage(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	f.live(inv.WorkflowID, pending())
	browser := f.browser(t)

	t.Run("a wrong account is explained in Italian", func(t *testing.T) {
		page := browser.Do("POST", f.acceptPath(inv), "upn=admin%40fabrikam.com",
			"Content-Type", formContentType, "Accept-Language", "it")
		if page.Status != http.StatusBadRequest ||
			!strings.Contains(string(page.Body), "Usi il Suo account di amministratore di contoso.onmicrosoft.com.") {
			t.Fatalf("status %d:\n%s", page.Status, page.Body)
		}
	})
	t.Run("a broken link is explained in Turkish, while JSON clients get the English problem", func(t *testing.T) {
		path := f.acceptPath(inv) + "x"
		page := browser.Do("GET", path, nil, "Accept-Language", "tr")
		if page.Status != http.StatusBadRequest || !strings.Contains(string(page.Body), "Bu bağlantı geçerli değil") ||
			!strings.Contains(string(page.Body), `<html lang="tr">`) {
			t.Fatalf("status %d:\n%s", page.Status, page.Body)
		}
		resp := browser.Do("GET", path, nil, "Accept-Language", "tr", "Accept", "application/json")
		if p := resp.Problem(t); p["title"] != "This link is not valid" ||
			p["type"] != api.ProblemTypePrefix+"invalid-link" {
			t.Fatalf("JSON problem: %v", p)
		}
	})
	t.Run("an expired link is explained in Italian", func(t *testing.T) {
		g := newFlowFixture(t)
		old := g.invite(t, "fabrikam.onmicrosoft.com")
		g.clock.Advance(91 * 24 * time.Hour)
		page := g.browser(t).Do("GET", g.acceptPath(old), nil, "Accept-Language", "it")
		if page.Status != http.StatusGone || !strings.Contains(string(page.Body), "Questo collegamento è scaduto") {
			t.Fatalf("status %d:\n%s", page.Status, page.Body)
		}
	})
}

// rawString matches a catalog key or a formatting slip that reached a page.
var rawString = regexp.MustCompile(`(?:accept|status|span|link|invitation)\.[a-z_]+(?:\.[a-z_]+)?|%!|%\[|<no value>`)

func assertNoRawStrings(t *testing.T, body string) {
	t.Helper()
	if m := rawString.FindString(body); m != "" {
		t.Errorf("the page shows %q, a string the catalog lacks or a formatting slip", m)
	}
}

func TestTheCatalogsHaveTheSameStringsInEveryLanguage(t *testing.T) {
	read := func(lang string) map[string]string {
		raw, err := os.ReadFile(filepath.Join("catalogs", lang+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	en := read("en")
	verbs := regexp.MustCompile(`%(?:\[\d\])?[a-z]`)
	for _, lang := range notify.Languages() {
		texts := read(lang)
		if got, want := slices.Sorted(maps.Keys(texts)), slices.Sorted(maps.Keys(en)); !slices.Equal(got, want) {
			t.Errorf("%s has keys %v, English %v", lang, got, want)
		}
		for key, text := range texts {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %s is empty", lang, key)
			}
			// Every language fills in the same arguments, in whatever order it needs.
			got, want := verbs.FindAllString(text, -1), verbs.FindAllString(en[key], -1)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s uses %v, English %v", lang, key, got, want)
			}
		}
	}
}
