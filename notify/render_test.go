package notify_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/notify"
)

var (
	expires = time.Date(2026, time.January, 2, 15, 4, 0, 0, time.UTC)
	removed = time.Date(2025, time.August, 14, 9, 30, 0, 0, time.UTC)
)

// sample is realistic data for a kind, with the values that must appear in the message.
type sample struct {
	data any
	// values appear in the subject or body of every language.
	values []string
	// dates appear, formatted in the message's language.
	dates []time.Time
	// link, when set, appears in the text on a line of its own and as the HTML's link.
	link string
}

const (
	customerLink  = "https://onboard.example/accept/inv_0123456789abcdef.v1.AbC-dEf_123"
	resellerLink  = "https://onboard.example/partnership/rsl_42.v1.XyZ"
	agreementLink = "https://onboard.example/agreement/cus_7.v1.QwE-rTy_9"
	mcaText       = "https://www.microsoft.com/licensing/docs/customeragreement"
)

func samples() map[string]sample {
	inv := notify.InvitationMail{
		PartnerName: "Işık Bilişim A.Ş.", CustomerDomain: "fabrikam.onmicrosoft.com", Link: customerLink,
		Roles: []string{"Helpdesk Administrator", "User Administrator"}, DurationDays: 180, ExpiresAt: expires, Seq: 3,
	}
	invValues := []string{inv.PartnerName, inv.CustomerDomain, "Helpdesk Administrator", "User Administrator", "180"}
	rsl := notify.ResellerMail{
		PartnerName: "Distribuzione Nord S.p.A.",
		CompanyName: "Çağrı Yazılım Ltd. Şti.",
		Link:        resellerLink,
		ExpiresAt:   expires,
		Seq:         2,
	}
	agr := notify.AgreementMail{
		PartnerName:   "Distribuzione Nord S.p.A.",
		ResellerName:  "Çağrı Yazılım Ltd. Şti.",
		CompanyName:   "Pasticceria Sì & Co.",
		ContactName:   "Maria Rossi",
		Link:          agreementLink,
		AgreementLink: mcaText,
		ExpiresAt:     expires,
		Seq:           3,
	}
	agrValues := []string{agr.PartnerName, agr.ResellerName, agr.CompanyName, agr.ContactName, agr.AgreementLink}
	rm := notify.RemovalMail{
		ProviderName: "Distribuzione Nord S.p.A.",
		ResellerName: "Çağrı Yazılım Ltd. Şti.",
		CustomerName: "Pasticceria Sì & Co.",
		RemovedAt:    removed,
	}
	return map[string]sample{
		notify.KindInvitation:         {data: inv, values: invValues, dates: []time.Time{expires}, link: customerLink},
		notify.KindInvitationReminder: {data: inv, values: invValues, dates: []time.Time{expires}, link: customerLink},
		notify.KindInvitationResend:   {data: inv, values: invValues, dates: []time.Time{expires}, link: customerLink},
		notify.KindInvitationEscalation: {
			data:   inv,
			values: []string{inv.CustomerDomain, "3"},
			dates:  []time.Time{expires},
			link:   customerLink,
		},
		notify.KindAccessLost: {
			data: notify.AccessAlert{
				CustomerDomain: "fabrikam.onmicrosoft.com",
				RelationshipID: "5f8e2a1c-0000-4000-8000-000000000001-0a1b",
				Status:         "terminated",
			},
			values: []string{"fabrikam.onmicrosoft.com", "5f8e2a1c-0000-4000-8000-000000000001-0a1b", "terminated"},
		},
		notify.KindAccessExpiring: {
			data: notify.AccessAlert{
				CustomerDomain: "fabrikam.onmicrosoft.com",
				RelationshipID: "rel-7",
				Status:         "active",
				EndsAt:         expires,
			},
			values: []string{"fabrikam.onmicrosoft.com", "rel-7"}, dates: []time.Time{expires},
		},
		notify.KindConnectionLost: {
			data: notify.ConnectionAlert{
				UPN:    "admin@partnerflowdemo.onmicrosoft.com",
				Reason: "invalid_grant: AADSTS50173",
				Link:   "https://partnerflow.example/connection",
			},
			values: []string{"admin@partnerflowdemo.onmicrosoft.com", "AADSTS50173"},
			link:   "https://partnerflow.example/connection",
		},
		notify.KindConnectionLapsing: {
			data: notify.ConnectionAlert{
				UPN:      "admin@partnerflowdemo.onmicrosoft.com",
				Reason:   "Post \"https://login.microsoftonline.com/…/token\": i/o timeout",
				Link:     "https://partnerflow.example/connection",
				LapsesAt: expires,
			},
			values: []string{"admin@partnerflowdemo.onmicrosoft.com", "i/o timeout"},
			dates:  []time.Time{expires},
			link:   "https://partnerflow.example/connection",
		},
		notify.KindResellerInvitation: {
			data:   rsl,
			values: []string{rsl.PartnerName, rsl.CompanyName},
			dates:  []time.Time{expires},
			link:   resellerLink,
		},
		notify.KindResellerReminder: {
			data:   rsl,
			values: []string{rsl.PartnerName, rsl.CompanyName},
			dates:  []time.Time{expires},
			link:   resellerLink,
		},
		notify.KindResellerResend: {
			data:   rsl,
			values: []string{rsl.PartnerName, rsl.CompanyName},
			dates:  []time.Time{expires},
			link:   resellerLink,
		},
		notify.KindResellerEscalation: {
			data:   rsl,
			values: []string{rsl.PartnerName, rsl.CompanyName, "2"},
			dates:  []time.Time{expires},
			link:   resellerLink,
		},
		notify.KindResellerVerified: {
			data: notify.ResellerVerification{
				PartnerName: "Distribuzione Nord S.p.A.",
				CompanyName: "Çağrı Yazılım Ltd. Şti.",
				MPNID:       "6543210",
			},
			values: []string{"Çağrı Yazılım Ltd. Şti.", "6543210"},
		},
		notify.KindResellerVerificationFailed: {
			data: notify.ResellerVerification{
				PartnerName: "Distribuzione Nord S.p.A.",
				CompanyName: "Çağrı Yazılım Ltd. Şti.",
				MPNID:       "6543210",
				Code:        "2203",
				Reason:      "the reseller has not signed the Microsoft Partner Agreement for this region",
			},
			values: []string{"Çağrı Yazılım Ltd. Şti.", "6543210", "2203"},
		},
		notify.KindRemovalReseller: {
			data:   rm,
			values: []string{rm.ProviderName, rm.ResellerName},
			dates:  []time.Time{removed},
		},
		notify.KindRemovalCustomer: {
			data:   rm,
			values: []string{rm.ProviderName, rm.ResellerName, rm.CustomerName},
			dates:  []time.Time{removed},
		},
		notify.KindAgreementRequest:  {data: agr, values: agrValues, dates: []time.Time{expires}, link: agreementLink},
		notify.KindAgreementReminder: {data: agr, values: agrValues, dates: []time.Time{expires}, link: agreementLink},
		notify.KindAgreementResend:   {data: agr, values: agrValues, dates: []time.Time{expires}, link: agreementLink},
		notify.KindAgreementEscalation: {
			data:   agr,
			values: []string{agr.CompanyName, agr.ResellerName, agr.ContactName, "3"},
			dates:  []time.Time{expires},
			link:   agreementLink,
		},
	}
}

// phrases are words each language's messages of a kind must use: the Partner Center terms a
// reader of that language knows.
var phrases = map[string]map[string][]string{
	notify.KindInvitation: {
		"en": {"Global Administrator", "reseller relationship", "Microsoft 365 admin center", "until 2 January 2026"},
		"it": {
			"amministratore globale",
			"relazione di rivenditore",
			"interfaccia di amministrazione di Microsoft 365",
			"Lei",
			"Scadenza dell'invito: 2 gennaio 2026",
		},
		"tr": {
			"Genel Yöneticisi",
			"kurumsal bayi ilişkisini",
			"Microsoft 365 yönetim merkezinde",
			"onaylamanızı",
			"2 Ocak 2026 tarihine kadar",
		},
	},
	notify.KindInvitationReminder: {
		"en": {"Reminder", "not been accepted yet"},
		"it": {"Promemoria", "non è ancora stato accettato"},
		"tr": {"Hatırlatma", "henüz kabul edilmedi"},
	},
	notify.KindInvitationResend: {
		"en": {"again", "same invitation"},
		"it": {"di nuovo", "stesso invito"},
		"tr": {"yeniden", "davetin aynısıdır"},
	},
	notify.KindInvitationEscalation: {
		"en": {"3 reminders", "Global Administrator"},
		"it": {"3 promemoria", "amministratore globale"},
		"tr": {"3 hatırlatmaya rağmen", "Genel Yöneticisini"},
	},
	notify.KindAccessLost: {
		"en": {"no longer have access", "support obligations"},
		"it": {"non hanno più accesso", "obblighi di assistenza", "«terminated»"},
		"tr": {"erişimi artık yok", "destek yükümlülükleriniz", "“terminated”"},
	},
	notify.KindConnectionLost: {
		"en": {"App+User", "multi-factor authentication", "Global Administrator", "nothing has failed"},
		"it": {"Centro per i partner", "autenticazione a più fattori", "amministratore globale", "nessuno è fallito"},
		"tr": {
			"İş Ortağı Merkezi",
			"çok faktörlü kimlik doğrulamayla",
			"Genel Yöneticisi",
			"hiçbiri başarısız olmadı",
		},
	},
	notify.KindConnectionLapsing: {
		"en": {"App+User", "lapses on 2 January 2026", "90 days", "Global Administrator", "Nothing has failed yet"},
		"it": {
			"Centro per i partner",
			"scade in data 2 gennaio 2026",
			"90 giorni",
			"amministratore globale",
			"Non è ancora fallito nulla",
		},
		"tr": {
			"İş Ortağı Merkezi",
			"2 Ocak 2026 tarihinde sona eriyor",
			"90 gün",
			"Genel Yöneticisi",
			"Henüz hiçbir şey başarısız olmadı",
		},
	},
	notify.KindAccessExpiring: {
		"en": {"ends on 2 January 2026", "does not renew itself"},
		"it": {"scade in data 2 gennaio 2026", "non si rinnova automaticamente"},
		"tr": {"2 Ocak 2026 tarihinde sona", "kendiliğinden yenilenmeyecek"},
	},
	notify.KindResellerInvitation: {
		"en": {"indirect provider", "indirect reseller", "Partner Center", "PartnerID", "Microsoft Partner Agreement"},
		"it": {
			"provider indiretto",
			"rivenditore indiretto",
			"Centro per i partner",
			"PartnerID",
			"Contratto Microsoft Partner",
		},
		"tr": {
			"dolaylı sağlayıcı",
			"dolaylı satıcısı",
			"İş Ortağı Merkezi",
			"PartnerID'nizi",
			"Microsoft İş Ortağı Sözleşmesi",
		},
	},
	notify.KindResellerReminder: {
		"en": {"Reminder", "indirect reseller"},
		"it": {"Promemoria", "rivenditore indiretto"},
		"tr": {"Hatırlatma", "dolaylı satıcısı"},
	},
	notify.KindResellerResend: {
		"en": {"again", "indirect reseller"},
		"it": {"di nuovo", "rivenditore indiretto"},
		"tr": {"yeniden", "dolaylı satıcısı"},
	},
	notify.KindResellerEscalation: {
		"en": {"2 reminders", "indirect provider"},
		"it": {"2 promemoria", "provider indiretto"},
		"tr": {"2 hatırlatmaya rağmen", "dolaylı sağlayıcı"},
	},
	notify.KindResellerVerified: {
		"en": {"passed the checks", "Microsoft Partner Agreement"},
		"it": {"ha superato le verifiche", "Contratto Microsoft Partner"},
		"tr": {"denetimlerden başarıyla geçti", "Microsoft İş Ortağı Sözleşmesi"},
	},
	notify.KindResellerVerificationFailed: {
		"en": {"has not signed the Microsoft Partner Agreement for your region"},
		"it": {"non ha firmato il Contratto Microsoft Partner per la Sua area geografica"},
		"tr": {"bölgeniz için Microsoft İş Ortağı Sözleşmesi'ni imzalamamış"},
	},
	notify.KindRemovalReseller: {
		"en": {"On 14 August 2025", "no longer your indirect provider", "admin relationships", "unchanged"},
		"it": {"in data 14 agosto 2025", "non è più il Suo provider indiretto", "rimangono invariate"},
		"tr": {"14 Ağustos 2025 tarihinde", "artık dolaylı sağlayıcınız değildir", "değişmeden kalır"},
	},
	notify.KindRemovalCustomer: {
		"en": {"Nothing changes for you", "subscriptions continue", "admin access", "Settings > Partner relationships"},
		"it": {
			"Per Lei non cambia nulla",
			"sottoscrizioni proseguono",
			"accesso amministrativo",
			"Impostazioni > Relazioni con i partner",
		},
		"tr": {
			"hiçbir şey değişmiyor",
			"abonelikleriniz olduğu gibi devam eder",
			"yönetici erişimi",
			"Ayarlar > İş ortağı ilişkileri",
		},
	},
	notify.KindAgreementRequest: {
		"en": {
			"Dear Maria Rossi",
			"Microsoft Customer Agreement",
			"Before its first purchase",
			"on behalf of",
			"authorised to sign",
			"until 2 January 2026",
		},
		"it": {
			"Gentile Maria Rossi",
			"Contratto cliente Microsoft",
			"Prima del primo acquisto",
			"per conto di",
			"autorizzata a firmare",
			"Lei",
			"fino al 2 gennaio 2026",
		},
		"tr": {
			"Sayın Maria Rossi",
			"Microsoft Müşteri Sözleşmesi",
			"ilk satın alma işleminden önce",
			"adına",
			"imza yetkisine sahip",
			"2 Ocak 2026 tarihine kadar",
		},
	},
	notify.KindAgreementReminder: {
		"en": {"Reminder", "not been accepted yet", "Microsoft Customer Agreement", "authorised to sign"},
		"it": {"Promemoria", "non è ancora stato accettato", "Contratto cliente Microsoft", "autorizzata a firmare"},
		"tr": {"Hatırlatma", "henüz kabul edilmedi", "Microsoft Müşteri Sözleşmesi", "imza yetkisine sahip"},
	},
	notify.KindAgreementResend: {
		"en": {"again", "same request", "Microsoft Customer Agreement", "authorised to sign"},
		"it": {"di nuovo", "stessa richiesta", "Contratto cliente Microsoft", "autorizzata a firmare"},
		"tr": {"yeniden", "isteğin aynısıdır", "Microsoft Müşteri Sözleşmesi", "imza yetkisine sahip"},
	},
	notify.KindAgreementEscalation: {
		"en": {
			"after 3 reminders",
			"Microsoft Customer Agreement",
			"partner attestation",
			"authorised to sign",
			"Partner Center",
		},
		"it": {
			"dopo 3 promemoria",
			"Contratto cliente Microsoft",
			"attestazione del partner",
			"autorizzata a firmare",
			"Centro per i partner",
		},
		"tr": {
			"3 hatırlatmaya rağmen",
			"Microsoft Müşteri Sözleşmesi",
			"iş ortağı beyanı",
			"imza yetkisine sahip",
			"İş Ortağı Merkezi",
		},
	},
}

func TestEveryKindRendersInEveryLanguage(t *testing.T) {
	all := samples()
	if kinds := notify.Kinds(); len(kinds) != len(all) || len(kinds) != len(phrases) {
		t.Fatalf("kinds %v: every kind needs a sample and phrases in this test", kinds)
	}
	for _, kind := range notify.Kinds() {
		s, ok := all[kind]
		if !ok {
			t.Fatalf("no sample for kind %s", kind)
		}
		for _, lang := range notify.Languages() {
			t.Run(kind+"."+lang, func(t *testing.T) {
				r, err := notify.Render(kind, lang, s.data)
				if err != nil {
					t.Fatal(err)
				}
				if r.Language != lang || r.Kind() != kind {
					t.Errorf("rendered as %s.%s", r.Kind(), r.Language)
				}
				if r.Subject == "" || strings.ContainsAny(r.Subject, "\r\n") {
					t.Errorf("subject %q must be one non-empty line", r.Subject)
				}
				html := htmlText(r.HTML)
				for _, part := range []struct{ name, s string }{
					{"subject", r.Subject},
					{"text", r.Text},
					{"html", r.HTML},
				} {
					for _, bad := range []string{"<no value>", "%!", "{{", "}}", notify.FormatDate(lang, time.Time{})} {
						if strings.Contains(part.s, bad) {
							t.Errorf("the %s holds %q, a field the template got wrong:\n%s", part.name, bad, part.s)
						}
					}
				}
				for _, v := range s.values {
					if !strings.Contains(r.Subject+"\n"+r.Text, v) || !strings.Contains(r.Subject+"\n"+html, v) {
						t.Errorf("%q is missing from the text or the HTML:\n%s\n%s", v, r.Text, html)
					}
				}
				for _, d := range s.dates {
					want := notify.FormatDate(lang, d)
					if !strings.Contains(r.Subject+r.Text, want) || !strings.Contains(r.Subject+html, want) {
						t.Errorf("the date %q is missing:\n%s", want, r.Text)
					}
				}
				for _, p := range phrases[kind][lang] {
					if !strings.Contains(r.Subject+"\n"+r.Text, p) {
						t.Errorf("the text lacks %q:\n%s\n%s", p, r.Subject, r.Text)
					}
				}
				if s.link != "" {
					if !slices.Contains(strings.Split(r.Text, "\n"), s.link) {
						t.Errorf(
							"the link must stand on a line of its own, so mail clients make it clickable:\n%s",
							r.Text,
						)
					}
					if !strings.Contains(r.HTML, `href="`+s.link+`"`) {
						t.Errorf("the HTML must link to %s:\n%s", s.link, r.HTML)
					}
				}
				if !strings.Contains(r.HTML, `<html lang="`+lang+`">`) || !strings.Contains(r.HTML, "<title>") {
					t.Errorf("the HTML must declare its language and title:\n%s", r.HTML)
				}
				if !strings.HasSuffix(r.Text, "\n") || strings.Contains(r.Text, "\n\n\n") ||
					strings.Contains(r.Text, " \n") {
					t.Errorf("the text must be tidy:\n%q", r.Text)
				}
			})
		}
	}
}

// htmlText undoes the HTML escaping of the characters sample values contain.
func htmlText(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#39;", "'", "&gt;", ">", "&lt;", "<", "&#34;", `"`).Replace(s)
}

func TestRenderRules(t *testing.T) {
	inv := notify.InvitationMail{
		PartnerName:    "Contoso",
		CustomerDomain: "fabrikam.onmicrosoft.com",
		Link:           customerLink,
		Roles:          []string{"Helpdesk Administrator"},
		DurationDays:   1,
		ExpiresAt:      expires,
	}
	t.Run("an unsupported language falls back to English and says so", func(t *testing.T) {
		for _, lang := range []string{"", "de", "xx-YY"} {
			r, err := notify.Render(notify.KindInvitation, lang, inv)
			if err != nil || r.Language != "en" || !strings.Contains(r.Text, "Global Administrator") {
				t.Fatalf("%q: %v %+v", lang, err, r)
			}
		}
	})
	t.Run("a regional tag renders in its language", func(t *testing.T) {
		r, err := notify.Render(notify.KindInvitation, "tr-TR", inv)
		if err != nil || r.Language != "tr" {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("one day is singular", func(t *testing.T) {
		for lang, want := range map[string]string{"en": "for 1 day ", "it": "per 1 giorno,", "tr": "1 gün süreyle"} {
			r, _ := notify.Render(notify.KindInvitation, lang, inv)
			if !strings.Contains(r.Text, want) {
				t.Errorf("%s lacks %q:\n%s", lang, want, r.Text)
			}
		}
	})
	t.Run("an unknown kind is an error", func(t *testing.T) {
		if _, err := notify.Render("invitation-typo", "en", inv); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("data of another kind is an error, not a message with holes", func(t *testing.T) {
		if _, err := notify.Render(notify.KindInvitation, "en", notify.ResellerMail{}); err == nil {
			t.Fatal("no error")
		}
		if _, err := notify.Render(notify.KindInvitation, "en", nil); err == nil {
			t.Fatal("no error for nil")
		}
	})
	t.Run("a pointer to the data is accepted", func(t *testing.T) {
		if _, err := notify.Render(notify.KindInvitation, "en", &inv); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("names are escaped in the HTML and left alone in the text", func(t *testing.T) {
		evil := inv
		evil.PartnerName = `<script>alert("x")</script> & Co`
		r, err := notify.Render(notify.KindInvitation, "en", evil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r.HTML, "<script>") || !strings.Contains(r.HTML, "&lt;script&gt;") {
			t.Fatalf("the HTML does not escape the partner's name:\n%s", r.HTML)
		}
		if !strings.Contains(r.Text, evil.PartnerName) {
			t.Fatalf("the text must keep the name as it is:\n%s", r.Text)
		}
	})
	t.Run("a link that is not http(s) is neutralised in the HTML", func(t *testing.T) {
		bad := inv
		bad.Link = "javascript:alert(1)"
		r, _ := notify.Render(notify.KindInvitation, "en", bad)
		if strings.Contains(r.HTML, `href="javascript:`) {
			t.Fatalf("the HTML links to a script:\n%s", r.HTML)
		}
	})
	t.Run("an agreement mail without a reseller or a contact's name reads whole in every language", func(t *testing.T) {
		direct := notify.AgreementMail{
			PartnerName:   "Contoso",
			CompanyName:   "Fabrikam",
			Link:          agreementLink,
			AgreementLink: mcaText,
			ExpiresAt:     expires,
			Seq:           1,
		}
		greeting := map[string]string{"en": "Hello,", "it": "Gentile cliente,", "tr": "Sayın Yetkili,"}
		for _, kind := range []string{
			notify.KindAgreementRequest,
			notify.KindAgreementReminder,
			notify.KindAgreementResend,
			notify.KindAgreementEscalation,
		} {
			for _, lang := range notify.Languages() {
				r, err := notify.Render(kind, lang, direct)
				if err != nil {
					t.Fatal(err)
				}
				for _, part := range []string{r.Subject, r.Text, r.HTML} {
					for _, bad := range []string{"<no value>", "%!", "  ", " ,", " .", "()"} {
						if strings.Contains(part, bad) {
							t.Errorf("%s.%s holds %q:\n%s", kind, lang, bad, part)
						}
					}
				}
				if kind != notify.KindAgreementEscalation && !strings.HasPrefix(r.Text, greeting[lang]+"\n") {
					t.Errorf("%s.%s must greet with %q:\n%s", kind, lang, greeting[lang], r.Text)
				}
			}
		}
		r, _ := notify.Render(notify.KindAgreementEscalation, "en", direct)
		if !strings.Contains(r.Subject, "after 1 reminder") || strings.Contains(r.Subject, "reminders") {
			t.Errorf("one reminder is singular: %s", r.Subject)
		}
	})
	t.Run("a lapsing warning without a renewal error or a known user reads whole", func(t *testing.T) {
		for _, lang := range notify.Languages() {
			r, err := notify.Render(
				notify.KindConnectionLapsing,
				lang,
				notify.ConnectionAlert{Link: "https://partnerflow.example/connection", LapsesAt: expires},
			)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(r.Text, "\n\n\n") || strings.Contains(r.Text, ": \n") ||
				!strings.Contains(r.Text, notify.FormatDate(lang, expires)) {
				t.Errorf("%s:\n%s", lang, r.Text)
			}
		}
	})
	t.Run("an agreement mail is refused other data", func(t *testing.T) {
		if _, err := notify.Render(notify.KindAgreementRequest, "en", notify.InvitationMail{}); err == nil {
			t.Fatal("no error")
		}
		if _, err := notify.Render(notify.KindInvitation, "en", notify.AgreementMail{}); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("a verification failure with an unknown code shows Partner Center's reason", func(t *testing.T) {
		v := notify.ResellerVerification{CompanyName: "Fabrikam", MPNID: "1", Code: "4242", Reason: "something new"}
		for _, lang := range notify.Languages() {
			r, err := notify.Render(notify.KindResellerVerificationFailed, lang, v)
			if err != nil || !strings.Contains(r.Text, "something new") || !strings.Contains(r.Text, "4242") {
				t.Errorf("%s: %v\n%s", lang, err, r.Text)
			}
		}
	})
}

func TestInvitationMailsWithoutAdminAccessAndForUSGovernment(t *testing.T) {
	base := notify.InvitationMail{
		PartnerName:    "Contoso",
		CustomerDomain: "fabrikam.onmicrosoft.com",
		Link:           customerLink,
		ExpiresAt:      expires,
		Seq:            3,
	}
	kinds := []string{
		notify.KindInvitation,
		notify.KindInvitationReminder,
		notify.KindInvitationResend,
		notify.KindInvitationEscalation,
	}
	// noAdmin are the words that say, in each language, that no admin rights are asked for.
	noAdmin := map[string]map[string]string{
		"en": {"customer": "does not ask for admin rights", notify.KindInvitationEscalation: "asks for no admin roles"},
		"it": {
			"customer":                      "non chiede diritti di amministratore",
			notify.KindInvitationEscalation: "non chiede ruoli di amministratore",
		},
		"tr": {"customer": "yönetici izni istemiyor", notify.KindInvitationEscalation: "yönetici rolü istemiyor"},
	}
	usGov := map[string]string{
		"en": "Microsoft Office admin portal for US Government",
		"it": "portale di amministrazione di Microsoft Office per il governo degli Stati Uniti",
		"tr": "Microsoft Office Yönetici portalında",
	}
	commercial := map[string]string{
		"en": "Microsoft 365 admin center",
		"it": "Microsoft 365",
		"tr": "Microsoft 365 yönetim merkezinde",
	}
	for _, kind := range kinds {
		for _, lang := range notify.Languages() {
			t.Run(kind+"."+lang+" without admin access", func(t *testing.T) {
				m := base
				m.NoAdminAccess = true
				r, err := notify.Render(kind, lang, m)
				if err != nil {
					t.Fatal(err)
				}
				want := noAdmin[lang]["customer"]
				if kind == notify.KindInvitationEscalation {
					want = noAdmin[lang][kind]
				}
				for _, part := range []string{r.Text, htmlText(r.HTML)} {
					if !strings.Contains(strings.ToLower(part), want) {
						t.Errorf("the message must say no admin rights are asked for (%q):\n%s", want, part)
					}
					for _, bad := range []string{"GDAP", "<ul>", "  - ", " 0 ", "<no value>"} {
						if strings.Contains(part, bad) {
							t.Errorf("a message without admin access must not speak of roles (%q):\n%s", bad, part)
						}
					}
				}
				if !slices.Contains(strings.Split(r.Text, "\n"), customerLink) || strings.Contains(r.Text, "\n\n\n") {
					t.Errorf("the link must stand on its own line in tidy text:\n%q", r.Text)
				}
			})
			if kind == notify.KindInvitationReminder {
				continue // the reminder names no portal
			}
			t.Run(kind+"."+lang+" for US Government", func(t *testing.T) {
				m := base
				m.Roles, m.DurationDays, m.USGovernment = []string{"Helpdesk Administrator"}, 30, true
				r, err := notify.Render(kind, lang, m)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(r.Text, usGov[lang]) || !strings.Contains(htmlText(r.HTML), usGov[lang]) {
					t.Errorf(
						"a US Government customer accepts in the Office admin portal (%q):\n%s",
						usGov[lang],
						r.Text,
					)
				}
				if strings.Contains(r.Text, commercial[lang]) {
					t.Errorf(
						"a US Government customer's mail must not send it to the commercial admin center:\n%s",
						r.Text,
					)
				}
			})
		}
	}
}
