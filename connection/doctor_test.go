package connection_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// doctorWorld is a partner at the simulator: its Manager, its client, and the doctor's
// configuration for both.
type doctorWorld struct {
	sim    *testsim.Sim
	conn   *connection.Manager
	client *partnercenter.HTTPClient
	cfg    connection.DoctorConfig
}

func newDoctorWorld(t *testing.T) *doctorWorld {
	t.Helper()
	s := testsim.Start(t, sim.Config{})
	entra, err := partnercenter.NewEntra(partnercenter.EntraConfig{
		AuthorityURL: s.URL,
		TenantID:     s.TenantID,
		ClientID:     sim.DemoApp.ClientID,
		ClientSecret: sim.DemoApp.ClientSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := connection.New(connection.Config{
		Store:     testdb.SQLite(t),
		Entra:     entra,
		Box:       notify.NewConnectionBox(make([]byte, 32)),
		PartnerID: s.TenantID,
	})
	cfg := s.PartnerCenterConfig()
	cfg.UserTokens = m
	pc, err := partnercenter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s.URL)
	return &doctorWorld{sim: s, conn: m, client: pc, cfg: connection.DoctorConfig{
		Connection: m, Client: pc, BaseURL: "https://onboard.example.com", PartnerCenterURL: s.URL,
		WebhookURL: "https://onboard.example.com/webhooks/partner-center", WebhookEvents: []string{"test-created"},
		WebhookCertHosts: []string{u.Host},
	}}
}

// connect signs the home partner's admin in with MFA on the simulator's pages and stores the
// connection, as the dashboard does.
func (w *doctorWorld) connect(t *testing.T) {
	t.Helper()
	if _, err := w.conn.ConnectWith(
		context.Background(),
		redirectURI,
		signIn(sim.DefaultHomePartner.AdminUPN(), true),
	); err != nil {
		t.Fatal(err)
	}
}

func (w *doctorWorld) registerWebhook(t *testing.T, target string) {
	t.Helper()
	ctx := partnercenter.WithRequestID(context.Background(), partnercenter.NewRequestID())
	if _, err := w.client.RegisterWebhook(ctx, partnercenter.WebhookRegistration{
		WebhookURL:    target,
		WebhookEvents: []string{"test-created"},
	}); err != nil {
		t.Fatal(err)
	}
}

// graphRefuses is the client with Graph refusing the app, as it does without the permission.
type graphRefuses struct{ connection.DoctorClient }

func (graphRefuses) GetGDAPRelationship(context.Context, string) (partnercenter.GDAPRelationship, error) {
	return partnercenter.GDAPRelationship{}, &partnercenter.Error{
		Op:          "get GDAP relationship",
		StatusCode:  http.StatusForbidden,
		GraphCode:   "Authorization_RequestDenied",
		Description: "Insufficient privileges to complete the operation.",
	}
}

// closedPort is a local address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestDoctor(t *testing.T) {
	listening, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listening.Close() })
	cases := []struct {
		name  string
		setup func(t *testing.T, w *doctorWorld)
		// failing are the checks that must fail, each with a fix containing the text given;
		// every other check must pass.
		failing map[string]string
	}{
		{
			name: "a connected partner with its webhook registered passes every check",
			setup: func(t *testing.T, w *doctorWorld) {
				w.connect(t)
				w.registerWebhook(t, w.cfg.WebhookURL)
			},
		},
		{
			name:  "a partner that never connected is told where a global admin connects",
			setup: func(t *testing.T, w *doctorWorld) { w.registerWebhook(t, w.cfg.WebhookURL) },
			failing: map[string]string{
				connection.CheckConnection: "a global admin connects at https://onboard.example.com/connection " +
					"or runs `partnerflow connect`",
				connection.CheckPartnerProfile: "/connection",
				connection.CheckAppUserCall:    "/connection",
			},
		},
		{
			name: "a revoked connection fails the App+User checks",
			setup: func(t *testing.T, w *doctorWorld) {
				w.connect(t)
				w.registerWebhook(t, w.cfg.WebhookURL)
				w.sim.RevokeConnections("")
			},
			failing: map[string]string{
				connection.CheckConnection:     "/connection",
				connection.CheckPartnerProfile: "/connection",
				connection.CheckAppUserCall:    "/connection",
			},
		},
		{
			name: "Graph refusing the app fails the GDAP check with the permission to grant",
			setup: func(t *testing.T, w *doctorWorld) {
				w.connect(t)
				w.registerWebhook(t, w.cfg.WebhookURL)
				w.cfg.Client = graphRefuses{w.client}
			},
			failing: map[string]string{connection.CheckGDAPPermission: "DelegatedAdminRelationship.ReadWrite.All"},
		},
		{
			name:    "a partner without a webhook registration is told to set PARTNERFLOW_WEBHOOK_URL",
			setup:   func(t *testing.T, w *doctorWorld) { w.connect(t) },
			failing: map[string]string{connection.CheckWebhookRegistration: "PARTNERFLOW_WEBHOOK_URL"},
		},
		{
			name: "a webhook registered for another address is told to restart the worker",
			setup: func(t *testing.T, w *doctorWorld) {
				w.connect(t)
				w.registerWebhook(t, "https://old.example.com/webhooks/partner-center")
			},
			failing: map[string]string{connection.CheckWebhookRegistration: "restart the worker"},
		},
		{
			name: "a Partner Center host the API takes no certificate from fails the certificate check",
			setup: func(t *testing.T, w *doctorWorld) {
				w.connect(t)
				w.registerWebhook(t, w.cfg.WebhookURL)
				w.cfg.WebhookCertHosts = []string{"api.partnercenter.microsoft.com"}
			},
			failing: map[string]string{connection.CheckWebhookCertificate: "PARTNERCENTER_WEBHOOK_CERT_HOSTS"},
		},
		{
			name: "an SMTP server that answers passes",
			setup: func(t *testing.T, w *doctorWorld) {
				w.connect(t)
				w.registerWebhook(t, w.cfg.WebhookURL)
				w.cfg.SMTPURL = "smtp://" + listening.Addr().String()
			},
		},
		{
			name: "an SMTP server that does not answer fails the mail check",
			setup: func(t *testing.T, w *doctorWorld) {
				w.connect(t)
				w.registerWebhook(t, w.cfg.WebhookURL)
				w.cfg.SMTPURL = "smtp://user:secret-password@" + closedPort(t)
			},
			failing: map[string]string{connection.CheckMail: "SMTP_URL"},
		},
		{
			name: "an SMTP_URL that is not one fails the mail check",
			setup: func(t *testing.T, w *doctorWorld) {
				w.connect(t)
				w.registerWebhook(t, w.cfg.WebhookURL)
				w.cfg.SMTPURL = "mail.example.com:25"
			},
			failing: map[string]string{connection.CheckMail: "smtp://"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newDoctorWorld(t)
			tc.setup(t, w)
			checks := connection.Doctor(context.Background(), w.cfg)
			if len(checks) != 10 {
				t.Fatalf("%d checks: %+v", len(checks), checks)
			}
			for _, c := range checks {
				fix, mustFail := tc.failing[c.Name]
				switch {
				case mustFail && c.OK:
					t.Errorf("%s passed: %s", c.Name, c.Detail)
				case mustFail && !strings.Contains(c.Fix, fix):
					t.Errorf("%s: fix %q, want one mentioning %q", c.Name, c.Fix, fix)
				case !mustFail && !c.OK:
					t.Errorf("%s failed: %s (fix: %s)", c.Name, c.Detail, c.Fix)
				}
				if strings.Contains(c.Detail+c.Fix, "secret-password") {
					t.Errorf("%s shows the SMTP password: %s", c.Name, c.Detail)
				}
			}
			if connection.OK(checks) != (len(tc.failing) == 0) {
				t.Errorf("OK is %v with %d failing", connection.OK(checks), len(tc.failing))
			}
		})
	}
}
