// Package integration runs partnerflow's flows through the real parts: an in-process Temporal
// server, the Partner Center simulator over HTTP, the API over HTTP, and the app database on
// SQLite and, when TEST_DATABASE_URL is set, PostgreSQL.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/internal/testtemporal"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/webhooks"
	"github.com/partnerflow/partnerflow/worker"
	"github.com/partnerflow/partnerflow/workflows"
)

const securityGroup = "0b5a4f3c-1d2e-4f60-8a7b-9c0d1e2f3a4b"

// partnerContact is the partner's contact, who hears of escalations and of a lost connection.
const partnerContact = "ops@distributor.example"

// harness is partnerflow assembled from real parts for one test.
type harness struct {
	t        *testing.T
	store    *models.Store
	temporal *testtemporal.Server
	sim      *sim.Server
	simURL   string
	pc       *partnercenter.HTTPClient
	api      *testapi.Client
	// logs holds what the activities and the API logged.
	logs *logBuffer
	// global holds every role, for removals and webhook subscriptions.
	global  *testapi.Client
	baseURL string
	// mailBox opens the outbox's sealed mail bodies, as the worker does.
	mailBox *notify.SecretBox
	// conn is the partner's App+User connection to Partner Center, kept in the app database.
	conn *connection.Manager
	// clockOffset moves the activities' clock ahead (advanceClock moves the simulator's with it).
	clockOffset atomic.Int64
}

// outbox reads the newest n messages kept for to, their bodies opened.
func (h *harness) outbox(to string, n int) ([]models.OutboxMessage, error) {
	msgs, err := h.store.Outbox(context.Background(), to, n)
	for i, m := range msgs {
		if err != nil {
			break
		}
		if msgs[i].Body, err = activities.OpenMailText(h.mailBox, m.IdempotencyKey, m.Body); err == nil {
			msgs[i].HTML, err = activities.OpenMailText(h.mailBox, m.IdempotencyKey, m.HTML)
		}
	}
	return msgs, err
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logBuffer keeps what partnerflow's activities and API log, so tests can search it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func start(t *testing.T, dialect string) *harness {
	t.Helper()
	return startWithPolicy(t, dialect, workflows.InvitationPolicy{
		Reminders:     []time.Duration{72 * time.Hour},
		RepeatEvery:   168 * time.Hour,
		EscalateAfter: 3,
		PollEvery:     time.Hour,
	})
}

// startWithPolicy assembles partnerflow with the given invitation policy; mail goes to the
// outbox and the log.
func startWithPolicy(t *testing.T, dialect string, policy workflows.InvitationPolicy) *harness {
	t.Helper()
	return assemble(t, dialect, policy, "")
}

// assemble builds partnerflow from real parts; with smtpURL its mail goes to that server.
func assemble(t *testing.T, dialect string, policy workflows.InvitationPolicy, smtpURL string) *harness {
	t.Helper()
	return assembleWith(t, dialect, policy, smtpURL, nil)
}

// assembleWith is assemble whose Partner Center and Graph calls go through transport (nil: the
// default transport), so a test can watch them.
func assembleWith(
	t *testing.T, dialect string, policy workflows.InvitationPolicy, smtpURL string, transport http.RoundTripper,
) *harness {
	t.Helper()
	h := build(t, dialect, policy, smtpURL, transport)
	h.connectPartner()
	return h
}

// build assembles partnerflow from real parts with no Partner Center connection yet: App+User
// calls wait until connectPartner.
func build(
	t *testing.T, dialect string, policy workflows.InvitationPolicy, smtpURL string, transport http.RoundTripper,
) *harness {
	t.Helper()
	h := &harness{t: t, store: testdb.Open(t, dialect), temporal: testtemporal.Start(t), logs: &logBuffer{}}
	ctx := context.Background()

	simulator := testsim.Start(t, sim.Config{
		ActivationDelay:   300 * time.Millisecond,
		WebhookRetryDelay: 100 * time.Millisecond,
	})
	h.sim, h.simURL = simulator.Server, simulator.URL
	partnershipURL := simulator.ResellerPartnershipURL(sim.DefaultHomePartner.TenantID)

	signingKey := bytes.Repeat([]byte{7}, 32)
	pcConfig := simulator.PartnerCenterConfig()
	pcConfig.HTTPClient = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	entra, err := partnercenter.NewEntra(partnercenter.EntraConfig{
		AuthorityURL: pcConfig.AuthorityURL, TenantID: pcConfig.TenantID,
		ClientID: pcConfig.ClientID, ClientSecret: pcConfig.ClientSecret, HTTPClient: pcConfig.HTTPClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.conn = connection.New(connection.Config{
		Store:     h.store,
		Entra:     entra,
		Box:       notify.NewConnectionBox(signingKey),
		PartnerID: pcConfig.TenantID,
	})
	pcConfig.UserTokens = h.conn
	pc, err := partnercenter.New(pcConfig)
	if err != nil {
		t.Fatal(err)
	}
	h.pc = pc
	h.mailBox = notify.NewOutboxBox(signingKey)
	apiServer := httptest.NewUnstartedServer(nil)
	h.baseURL = "http://" + apiServer.Listener.Addr().String()

	mailer, err := notify.NewMailer(smtpURL, "partnerflow@example.com")
	if err != nil {
		t.Fatal(err)
	}
	acts := activities.New(activities.Config{
		Store: h.store, PartnerCenter: pc, Mailer: mailer,
		Logger: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Signer: links.NewSigner(signingKey), BaseURL: h.baseURL, PartnerName: "Contoso Distribution",
		Credentials: notify.NewCredentialBox(signingKey), Outbox: h.mailBox,
		PartnerID: sim.DefaultHomePartner.TenantID, ContactEmail: partnerContact,
		Now: func() time.Time { return time.Now().Add(time.Duration(h.clockOffset.Load())) },
	})
	w := worker.New(h.temporal.Client, workflows.TaskQueue, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	simHost, _ := url.Parse(simulator.URL)
	server := api.New(api.Config{
		Store: h.store, Temporal: h.temporal.Client, Codec: h.temporal.Codec, Registry: prometheus.NewRegistry(),
		Logger:     slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SigningKey: signingKey, WebhookAllowPrivate: true,
		Connection: h.conn,
		Flows: api.FlowConfig{
			PartnerID:    sim.DefaultHomePartner.TenantID,
			PartnerName:  "Contoso Distribution",
			TaskQueue:    workflows.TaskQueue,
			BaseURL:      h.baseURL,
			ContactEmail: partnerContact,
			Wait:         policy,
			Webhooks: partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
				AllowedCertificateHosts: []string{simHost.Host},
				AllowHTTP:               true,
			}),
			Invitation: api.InvitationConfig{
				DefaultAssignments: []workflows.AccessAssignment{{
					SecurityGroupID: securityGroup,
					RoleIDs:         allRoleIDs(),
				}},
				// A reseller acceptance event reaches only its customer's invitation, as in production.
				Customers: pc,
				// An invitation to a domain no tenant holds is refused, as in production.
				Tenants: pc,
			},
			Reseller: api.ResellerConfig{PartnershipURL: partnershipURL},
			Onboarding: api.OnboardingConfig{
				Catalog: func(ctx context.Context, id, country string) (bool, error) {
					return partnercenter.Sells(ctx, pc, id, country)
				},
			},
			// A removal's deliveries are retried quickly here; production waits 5 s, doubling.
			Removal: api.RemovalConfig{DeliveryAttempts: 4, DeliveryRetryInterval: 200 * time.Millisecond},
		},
	})
	apiServer.Config.Handler = server.Handler()
	// Partners' systems hear of status changes as the worker process delivers them: quickly
	// here, with receivers on loopback.
	dctx, stopWebhooks := context.WithCancel(ctx)
	dispatcher := &webhooks.Dispatcher{
		Store: h.store, Sender: notify.NewWebhookSender(true), Secrets: notify.NewSecretBox(signingKey),
		Logger: quietLogger(),
		Poll:   50 * time.Millisecond, FirstRetry: 100 * time.Millisecond, MaxRetry: time.Second,
	}
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		dispatcher.Run(dctx)
	}()
	t.Cleanup(func() {
		stopWebhooks()
		<-dispatched
	})
	apiServer.Start()
	t.Cleanup(apiServer.Close)

	key, _, err := h.store.CreateAPIKey(ctx, "integration", models.RoleAdminAgent, models.RoleSalesAgent)
	if err != nil {
		t.Fatal(err)
	}
	h.api = &testapi.Client{T: t, BaseURL: h.baseURL, Key: key}
	globalKey, _, err := h.store.CreateAPIKey(ctx, "integration-global", models.RoleGlobalAdmin)
	if err != nil {
		t.Fatal(err)
	}
	h.global = h.api.As(globalKey)
	if _, err := pc.RegisterWebhook(
		partnercenter.WithRequestID(ctx, partnercenter.NewRequestID()),
		partnercenter.WebhookRegistration{
			WebhookURL: h.baseURL + "/webhooks/partner-center",
			WebhookEvents: []string{partnercenter.EventResellerRelationshipAccepted, partnercenter.EventGDAPApproved,
				partnercenter.EventGDAPActivated, partnercenter.EventGDAPTerminated},
		},
	); err != nil {
		t.Fatal(err)
	}
	return h
}

// connectPartner connects partnerflow to Partner Center as the simulator's partner admin, with
// MFA, the way dev does at first start.
func (h *harness) connectPartner() {
	h.t.Helper()
	_, err := h.conn.ConnectWith(
		context.Background(),
		h.baseURL+"/auth/callback",
		func(authURL string) (*url.URL, error) {
			return sim.SignIn(http.DefaultClient, authURL, sim.DefaultHomePartner.AdminUPN(), true)
		},
	)
	if err != nil {
		h.t.Fatalf("connect Partner Center: %v", err)
	}
}

// graphToken is an App+User Graph token of the partner's admin, for reading the simulator's
// GDAP relationships the way partnerflow's client does.
func (h *harness) graphToken() string {
	h.t.Helper()
	tok, err := h.sim.MintToken(sim.TokenRequest{Resource: sim.ResourceGraph})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func allRoleIDs() []string {
	ids := make([]string, len(partnercenter.EntraRoles))
	for i, r := range partnercenter.EntraRoles {
		ids[i] = r.ID
	}
	return ids
}

// invitation is the API's view of one invitation, as far as these tests read it.
type invitation struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	AcceptURL          string `json:"acceptUrl"`
	WorkflowID         string `json:"workflowId"`
	GDAPRelationshipID string `json:"gdapRelationshipId"`
	CustomerTenantID   string `json:"customerTenantId"`
	FailureReason      string `json:"failureReason"`
	Steps              []struct {
		Name   string `json:"name"`
		Detail string `json:"detail"`
	} `json:"steps"`
}

func (inv invitation) has(step string) bool {
	for _, s := range inv.Steps {
		if s.Name == step {
			return true
		}
	}
	return false
}

func (h *harness) invite(body map[string]any) invitation {
	h.t.Helper()
	resp := h.api.Do("POST", "/v1/invitations", body)
	if resp.Status != http.StatusCreated {
		h.t.Fatalf("invite: %d %s", resp.Status, resp.Body)
	}
	var inv invitation
	resp.JSON(h.t, &inv)
	return inv
}

func (h *harness) get(id string) invitation {
	h.t.Helper()
	resp := h.api.Do("GET", "/v1/invitations/"+id, nil)
	if resp.Status != http.StatusOK {
		h.t.Fatalf("get invitation: %d %s", resp.Status, resp.Body)
	}
	var inv invitation
	resp.JSON(h.t, &inv)
	return inv
}

// waitFor polls the API until the invitation satisfies ok, failing after a generous deadline;
// the deadline guards against a hang, it measures nothing.
func (h *harness) waitFor(id string, what string, ok func(invitation) bool) invitation {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		inv := h.get(id)
		if ok(inv) {
			return inv
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("invitation never became %s: %+v", what, inv)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// customerAction performs a click "at Microsoft" through the simulator's JSON actions.
func (h *harness) customerAction(action string, body map[string]string) (int, string) {
	h.t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(h.simURL+"/sim/customer-actions/"+action, "application/json", bytes.NewReader(data))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}
