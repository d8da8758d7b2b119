package activities_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/config"
	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// connectToSim makes the Partner Center connection at the fixture's simulator as a global admin
// would, reading the partner's profile with it.
func (f *fixture) connectToSim(t *testing.T) {
	t.Helper()
	home := sim.DefaultHomePartner
	entra, err := partnercenter.NewEntra(partnercenter.EntraConfig{
		AuthorityURL: f.simURL,
		TenantID:     home.TenantID,
		ClientID:     sim.DemoApp.ClientID,
		ClientSecret: sim.DemoApp.ClientSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := connection.New(connection.Config{
		Store:     f.store,
		Entra:     entra,
		Box:       notify.NewConnectionBox(bytes.Repeat([]byte{3}, 32)),
		PartnerID: home.TenantID,
	})
	pc, err := partnercenter.New(partnercenter.Config{
		PartnerCenterURL: f.simURL, GraphURL: f.simURL, AuthorityURL: f.simURL, TenantID: home.TenantID,
		ClientID: sim.DemoApp.ClientID, ClientSecret: sim.DemoApp.ClientSecret, UserTokens: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	m.ReadProfileWith(pc)
	row, err := m.ConnectWith(
		context.Background(),
		"http://127.0.0.1/auth/callback",
		func(authURL string) (*url.URL, error) {
			return sim.SignIn(http.DefaultClient, authURL, home.AdminUPN(), true)
		},
	)
	if err != nil || row.CompanyName != home.CompanyName {
		t.Fatalf("connected %+v, %v: want the profile's company name %q", row, err, home.CompanyName)
	}
}

func TestMailsNameThePartnerFromItsPartnerCenterProfileUnlessConfigured(t *testing.T) {
	company := sim.DefaultHomePartner.CompanyName
	cases := []struct {
		name       string
		configured string
		connect    bool
		want       string
	}{
		{"the profile's company name replaces the default", config.DefaultPartnerName, true, company},
		{"the profile's company name fills an empty name", "", true, company},
		{"a name the operator configured wins over the profile", "Contoso Distribution", true, "Contoso Distribution"},
		{
			"before connecting, the configured default is all there is",
			config.DefaultPartnerName,
			false,
			config.DefaultPartnerName,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureWith(t, func(c *activities.Config) {
				c.PartnerName, c.PartnerID = tc.configured, sim.DefaultHomePartner.TenantID
			})
			if tc.connect {
				f.connectToSim(t)
			}
			ctx := context.Background()
			inv := activities.InvitationMail{
				InvitationID:   "inv-name",
				Kind:           activities.MailInvitation,
				To:             "admin@contoso.onmicrosoft.com",
				CustomerDomain: "contoso.onmicrosoft.com",
				DurationDays:   90,
				ExpiresAt:      time.Now().Add(90 * 24 * time.Hour),
			}
			rsl := activities.ResellerMail{
				ResellerID:  "rsl-name",
				Kind:        activities.MailResellerInvitation,
				To:          "admin@reseller.example",
				CompanyName: "Reseller Ltd",
				Language:    "en",
				ExpiresAt:   time.Now().Add(30 * 24 * time.Hour),
			}
			if err := f.acts.SendInvitationMail(ctx, inv); err != nil {
				t.Fatal(err)
			}
			if err := f.acts.SendResellerMail(ctx, rsl); err != nil {
				t.Fatal(err)
			}
			if len(f.mailer.sent) != 2 {
				t.Fatalf("sent %d mails, want 2", len(f.mailer.sent))
			}
			for _, m := range f.mailer.sent {
				if !strings.Contains(m.Subject+m.Body, tc.want) {
					t.Errorf("the mail to %s does not name the partner %q:\n%s\n%s", m.To, tc.want, m.Subject, m.Body)
				}
				if tc.want != company && strings.Contains(m.Body, company) {
					t.Errorf("the mail to %s names the profile's %q instead:\n%s", m.To, company, m.Body)
				}
			}
		})
	}
}
