package activities_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
)

func invitationMail(kind, lang string) activities.InvitationMail {
	return activities.InvitationMail{
		InvitationID:   "inv_lang",
		Kind:           kind,
		To:             "admin@fabrikam.onmicrosoft.com",
		CustomerDomain: "fabrikam.onmicrosoft.com",
		RoleIDs:        []string{"729827e3-9c14-49f7-bb1b-9608f156bbb8"},
		DurationDays:   90,
		ExpiresAt:      time.Date(2026, time.January, 2, 9, 0, 0, 0, time.UTC),
		Language:       lang,
	}
}

func TestInvitationMailsGoOutInTheReadersLanguage(t *testing.T) {
	cases := []struct {
		name        string
		kind        string
		lang        string
		deflt       string
		wantLang    string
		subjectHas  string
		bodyHas     []string
		outboxKind  string
		withoutLink bool
	}{
		{
			name:       "an Italian customer gets the invitation in Italian",
			kind:       activities.MailInvitation,
			lang:       "it",
			wantLang:   "it",
			subjectHas: "chiede di diventare il rivenditore Microsoft di fabrikam.onmicrosoft.com",
			bodyHas:    []string{"Gentile amministratore", "Helpdesk Administrator", "2 gennaio 2026"},
			outboxKind: "invitation",
		},
		{
			name:       "a Turkish customer gets the reminder in Turkish",
			kind:       activities.MailReminder,
			lang:       "tr",
			wantLang:   "tr",
			subjectHas: "Hatırlatma",
			bodyHas:    []string{"Sayın Yetkili", "2 Ocak 2026 tarihine kadar"},
			outboxKind: "invitation-reminder",
		},
		{name: "a resend keeps the customer's language", kind: activities.MailResend, lang: "it", wantLang: "it",
			subjectHas: "di nuovo", bodyHas: []string{"stesso invito"}, outboxKind: "invitation-resend"},
		{
			name:       "an invitation recorded before languages existed gets the worker's default",
			kind:       activities.MailInvitation,
			lang:       "",
			deflt:      "tr",
			wantLang:   "tr",
			subjectHas: "Microsoft bayiniz olmak istiyor",
			outboxKind: "invitation",
		},
		{
			name:       "without any language the mail is English",
			kind:       activities.MailInvitation,
			lang:       "",
			wantLang:   "en",
			subjectHas: "asks to become the Microsoft reseller",
			bodyHas:    []string{"Global Administrator"},
			outboxKind: "invitation",
		},
		{
			name:       "the escalation goes to the partner's contact in the partner's language, not the customer's",
			kind:       activities.MailEscalation,
			lang:       "tr",
			deflt:      "it",
			wantLang:   "it",
			subjectHas: "non è stato accettato",
			bodyHas:    []string{"amministratore globale"},
			outboxKind: "invitation-escalation",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureWith(t, func(c *activities.Config) { c.DefaultLanguage = tc.deflt })
			ctx := context.Background()
			m := invitationMail(tc.kind, tc.lang)
			for range 2 {
				if err := f.acts.SendInvitationMail(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			if len(f.mailer.sent) != 1 {
				t.Fatalf("a retried send mailed %d times", len(f.mailer.sent))
			}
			sent := f.mailer.sent[0]
			if sent.Language != tc.wantLang || !strings.Contains(sent.Subject, tc.subjectHas) ||
				!strings.Contains(sent.HTML, `<html lang="`+tc.wantLang+`">`) {
				t.Fatalf("sent in %q: %q\n%s", sent.Language, sent.Subject, sent.HTML)
			}
			for _, want := range tc.bodyHas {
				if !strings.Contains(sent.Body, want) {
					t.Errorf("the text lacks %q:\n%s", want, sent.Body)
				}
			}
			if !strings.Contains(sent.Body, "https://onboard.example/accept/inv_lang.") ||
				!strings.Contains(sent.HTML, "https://onboard.example/accept/inv_lang.") {
				t.Errorf("both parts must carry the signed link:\n%s", sent.Body)
			}
			if raw, err := f.store.Outbox(ctx, m.To, 10); err != nil || len(raw) != 1 ||
				strings.Contains(raw[0].Body+raw[0].HTML, "/accept/") {
				t.Fatalf("the outbox must keep the body, and its link, sealed: %+v %v", raw, err)
			}
			outbox := f.outbox(t, m.To)
			if len(outbox) != 1 {
				t.Fatalf("outbox %+v", outbox)
			}
			row := outbox[0]
			if row.Status != models.OutboxSent || row.Language != tc.wantLang || row.Kind != tc.outboxKind ||
				row.Subject != sent.Subject || row.Body != sent.Body || row.HTML != sent.HTML ||
				sent.ID != row.IdempotencyKey {
				t.Fatalf("the outbox must hold what was sent, with its language and kind: %+v", row)
			}
		})
	}
}

func TestARetrySendsWhatTheOutboxRecorded(t *testing.T) {
	f := newFixtureWith(t, func(c *activities.Config) { c.DefaultLanguage = "it" })
	ctx := context.Background()
	m := invitationMail(activities.MailInvitation, "it")
	f.mailer.fail = errors.New("421 4.7.0 try again later")
	if err := f.acts.SendInvitationMail(ctx, m); err == nil {
		t.Fatal("a failed send must fail the activity, so Temporal retries it")
	}
	outbox := f.outbox(t, m.To)
	if len(outbox) != 1 || outbox[0].Status != models.OutboxFailed || outbox[0].Error == "" {
		t.Fatalf("the failure must be on record: %+v", outbox)
	}
	recorded := outbox[0]

	// The retry runs on a worker configured differently (another partner name, base URL and
	// default language); it still sends the message as first recorded.
	f.mailer.fail = nil
	other := activities.New(activities.Config{
		Store: f.store, Mailer: f.mailer, Signer: links.NewSigner(make([]byte, 32)), Outbox: testOutboxBox,
		BaseURL: "https://elsewhere.example", PartnerName: "Someone Else", DefaultLanguage: "tr",
	})
	m.Language = ""
	if err := other.SendInvitationMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	if len(f.mailer.sent) != 1 || f.mailer.sent[0].Subject != recorded.Subject ||
		f.mailer.sent[0].Body != recorded.Body || f.mailer.sent[0].Language != "it" ||
		strings.Contains(f.mailer.sent[0].Body, "elsewhere") {
		t.Fatalf("the retry must send the recorded message: %+v", f.mailer.sent)
	}
	if outbox, _ := f.store.Outbox(ctx, m.To, 10); len(outbox) != 1 || outbox[0].Status != models.OutboxSent ||
		outbox[0].Error != "" {
		t.Fatalf("after the retry: %+v", outbox)
	}
}

func TestPartnerAlertsAreInThePartnersLanguage(t *testing.T) {
	f := newFixtureWith(t, func(c *activities.Config) { c.DefaultLanguage = "it" })
	ctx := context.Background()
	ends := time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
	alerts := []struct {
		alert   activities.PartnerAlert
		subject string
		kind    string
	}{
		{
			activities.PartnerAlert{
				InvitationID:   "inv_a",
				Kind:           activities.AlertAccessLost,
				To:             "ops@distributor.example",
				CustomerDomain: "fabrikam.onmicrosoft.com",
				RelationshipID: "rel-9",
				Status:         "terminated",
			},
			"L'accesso amministrativo a fabrikam.onmicrosoft.com è terminato",
			"access-lost",
		},
		{
			activities.PartnerAlert{
				InvitationID:   "inv_a",
				Kind:           activities.AlertAccessExpiring,
				To:             "ops@distributor.example",
				CustomerDomain: "fabrikam.onmicrosoft.com",
				RelationshipID: "rel-9",
				Status:         "active",
				EndsAt:         ends,
			},
			"L'accesso amministrativo a fabrikam.onmicrosoft.com scade in data 1º marzo 2026",
			"access-expiring",
		},
	}
	for _, a := range alerts {
		if err := f.acts.SendPartnerAlert(ctx, a.alert); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.mailer.sent) != 2 {
		t.Fatalf("sent %d", len(f.mailer.sent))
	}
	outbox, _ := f.store.Outbox(ctx, "ops@distributor.example", 10)
	for i, a := range alerts {
		sent, row := f.mailer.sent[i], outbox[len(outbox)-1-i]
		if sent.Subject != a.subject || sent.Language != "it" || !strings.Contains(sent.Body, "rel-9") ||
			row.Kind != a.kind || row.Language != "it" {
			t.Errorf("alert %s: %q (%s) kind %q", a.kind, sent.Subject, sent.Language, row.Kind)
		}
	}
}
