package activities_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

type fixture struct {
	acts   *activities.Activities
	sim    *sim.Server
	simURL string
	store  *models.Store
	mailer *countingMailer
}

// countingMailer counts deliveries so tests can prove a retry never mails twice; while fail is
// set, it fails every send instead.
type countingMailer struct {
	sent []notify.Message
	fail error
}

func (m *countingMailer) Send(_ context.Context, msg notify.Message) (bool, error) {
	if m.fail != nil {
		return false, m.fail
	}
	m.sent = append(m.sent, msg)
	return true, nil
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

// newFixtureWith is newFixture with the activities' configuration changed by configure.
func newFixtureWith(t *testing.T, configure func(*activities.Config)) *fixture {
	t.Helper()
	s := testsim.Start(t, sim.Config{ActivationDelay: time.Millisecond})
	pcConfig := s.PartnerCenterConfig()
	pcConfig.Timeout = 2 * time.Second
	pc, err := partnercenter.New(pcConfig)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sim: s.Server, simURL: s.URL, store: testdb.SQLite(t), mailer: &countingMailer{}}
	cfg := activities.Config{
		Store:         f.store,
		PartnerCenter: pc,
		Mailer:        f.mailer,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Signer:        links.NewSigner(make([]byte, 32)),
		BaseURL:       "https://onboard.example",
		PartnerName:   "Contoso Distribution",
		Outbox:        testOutboxBox,
	}
	if configure != nil {
		configure(&cfg)
	}
	f.acts = activities.New(cfg)
	return f
}

// testOutboxBox seals the fixtures' outbox; every worker of a test shares it, as real ones
// share the signing key.
var testOutboxBox = notify.NewOutboxBox(make([]byte, 32))

// outbox reads the mail kept for to, bodies opened.
func (f *fixture) outbox(t *testing.T, to string) []models.OutboxMessage {
	t.Helper()
	msgs, err := f.store.Outbox(context.Background(), to, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if msgs[i].Body, err = activities.OpenMailText(testOutboxBox, m.IdempotencyKey, m.Body); err != nil {
			t.Fatal(err)
		}
		if msgs[i].HTML, err = activities.OpenMailText(testOutboxBox, m.IdempotencyKey, m.HTML); err != nil {
			t.Fatal(err)
		}
	}
	return msgs
}

func gdapInput(requestID string) activities.CreateGDAPInput {
	return activities.CreateGDAPInput{
		RequestID:    requestID,
		DisplayName:  "contoso " + requestID,
		DurationDays: 90,
		RoleIDs:      []string{"729827e3-9c14-49f7-bb1b-9608f156bbb8"},
	}
}

func TestCreateGDAPRetriedAfterADroppedResponseCreatesOne(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.sim.SetFaults(sim.Faults{DropAfterWriteRate: 1})
	if _, err := f.acts.CreateGDAP(ctx, gdapInput("inv-1/gdap")); err == nil {
		t.Fatal("a dropped response must fail the attempt, so Temporal retries it")
	}
	f.sim.SetFaults(sim.Faults{})
	first, err := f.acts.CreateGDAP(ctx, gdapInput("inv-1/gdap"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.acts.CreateGDAP(ctx, gdapInput("inv-1/gdap"))
	if err != nil || again.ID != first.ID {
		t.Fatalf("a retry with the same request ID must return the same relationship: %v %v", again, err)
	}
	if first.Status != partnercenter.GDAPStatusApprovalPending || !strings.Contains(first.ApprovalURL, first.ID) {
		t.Fatalf("the relationship must be locked for approval with its link: %+v", first)
	}
}

func TestServiceErrorsTellTemporalWhatToDo(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t.Run("throttling carries Retry-After as the next retry delay", func(t *testing.T) {
		f.sim.SetFaults(sim.Faults{Rate429: 1, RetryAfterSeconds: 7})
		defer f.sim.SetFaults(sim.Faults{})
		_, err := f.acts.RelationshipLink(ctx, "")
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.NonRetryable() || appErr.NextRetryDelay() != 7*time.Second {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a refusal retrying cannot fix is non-retryable with its reason", func(t *testing.T) {
		if _, err := f.acts.CreateGDAP(ctx, gdapInput("a")); err != nil {
			t.Fatal(err)
		}
		dup := gdapInput("b")
		dup.DisplayName = "contoso a"
		_, err := f.acts.CreateGDAP(ctx, dup)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !appErr.NonRetryable() || appErr.Type() != activities.ErrTypeRefused {
			t.Fatalf("a duplicate display name: %v", err)
		}
	})
	t.Run("a server error stays retryable", func(t *testing.T) {
		f.sim.SetFaults(sim.Faults{Rate500: 1})
		defer f.sim.SetFaults(sim.Faults{})
		_, err := f.acts.RelationshipLink(ctx, "")
		var appErr *temporal.ApplicationError
		if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
			t.Fatalf("a 500 must be retried: %v", err)
		}
	})
}

func TestAcceptanceAndGrantAgainstTheSimulator(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rel, err := f.acts.CreateGDAP(ctx, gdapInput("inv-2/gdap"))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := f.acts.CheckAcceptance(ctx, rel.ID, "contoso.onmicrosoft.com")
	if err != nil || acc.ResellerAccepted || acc.GDAPStatus != partnercenter.GDAPStatusApprovalPending {
		t.Fatalf("before any consent: %+v %v", acc, err)
	}
	if _, err := f.acts.WaitGDAPActive(ctx, rel.ID); err == nil {
		t.Fatal("an unapproved relationship is not active")
	}
	if ended, err := f.acts.EndGDAP(ctx, "inv-2/end", rel.ID); err != nil ||
		ended != partnercenter.GDAPStatusApprovalPending {
		t.Fatalf("a pending request cannot be withdrawn and must say so: %q %v", ended, err)
	}
}

func TestInvitationMailIsSentOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := activities.InvitationMail{
		InvitationID:   "inv-3",
		Kind:           activities.MailInvitation,
		To:             "admin@contoso.onmicrosoft.com",
		CustomerDomain: "contoso.onmicrosoft.com",
		RoleIDs:        []string{"729827e3-9c14-49f7-bb1b-9608f156bbb8"},
		DurationDays:   90,
		ExpiresAt:      time.Now().Add(90 * 24 * time.Hour),
	}
	for range 2 {
		if err := f.acts.SendInvitationMail(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.mailer.sent) != 1 {
		t.Fatalf("a retried send mailed %d times", len(f.mailer.sent))
	}
	body := f.mailer.sent[0].Body
	if !strings.Contains(body, "https://onboard.example/accept/inv-3.") ||
		!strings.Contains(body, "Helpdesk Administrator") || !strings.Contains(body, "Contoso Distribution") {
		t.Fatalf("the mail must carry the signed link, the roles and the partner:\n%s", body)
	}
	m.Kind, m.Seq = activities.MailReminder, 1
	if err := f.acts.SendInvitationMail(ctx, m); err != nil || len(f.mailer.sent) != 2 {
		t.Fatalf("a reminder is a new message: %d sent, %v", len(f.mailer.sent), err)
	}
	outbox, _ := f.store.Outbox(ctx, m.To, 10)
	if len(outbox) != 2 || outbox[0].Status != models.OutboxSent {
		t.Fatalf("outbox %+v", outbox)
	}
}

func TestTheGDAPWatchReadsAndAlerts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rel, err := f.acts.CreateGDAP(ctx, gdapInput("inv-4/gdap"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.acts.GDAPStatus(ctx, rel.ID)
	if err != nil || st.Status != partnercenter.GDAPStatusApprovalPending {
		t.Fatalf("status %+v %v", st, err)
	}
	alert := activities.PartnerAlert{
		InvitationID:   "inv-4",
		Kind:           activities.AlertAccessLost,
		To:             "ops@distributor.example",
		CustomerDomain: "contoso.onmicrosoft.com",
		RelationshipID: rel.ID,
		Status:         "terminated",
	}
	for range 2 {
		if err := f.acts.SendPartnerAlert(ctx, alert); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.mailer.sent) != 1 || !strings.Contains(f.mailer.sent[0].Subject, "contoso.onmicrosoft.com") ||
		!strings.Contains(f.mailer.sent[0].Body, rel.ID) {
		t.Fatalf("one alert naming the customer and the relationship, got %+v", f.mailer.sent)
	}
}

func TestAnInvitationWithoutAdminAccessReadsNoGDAP(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acc, err := f.acts.CheckAcceptance(ctx, "", "contoso.onmicrosoft.com")
	if err != nil || acc.ResellerAccepted || acc.GDAPStatus != "" {
		t.Fatalf("before the acceptance, with no GDAP relationship to read: %+v %v", acc, err)
	}
	body := `{"domain":"contoso.onmicrosoft.com","partnerId":"` + sim.DefaultHomePartner.TenantID +
		`","upn":"admin@contoso.onmicrosoft.com"}`
	resp, err := http.Post(
		f.simURL+"/sim/customer-actions/accept-reseller",
		"application/json",
		strings.NewReader(body),
	)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("accept the reseller relationship: %d", resp.StatusCode)
	}
	acc, err = f.acts.CheckAcceptance(ctx, "", "contoso.onmicrosoft.com")
	if err != nil || !acc.ResellerAccepted || acc.CustomerTenantID == "" || acc.GDAPStatus != "" {
		t.Fatalf("after the acceptance: %+v %v", acc, err)
	}
}

func TestTheMailSaysWhatTheInvitationAsksFor(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := activities.InvitationMail{
		InvitationID:   "inv-4",
		Kind:           activities.MailInvitation,
		To:             "admin@contoso.onmicrosoft.com",
		CustomerDomain: "contoso.onmicrosoft.com",
		ExpiresAt:      time.Now().Add(90 * 24 * time.Hour),
		NoAdminAccess:  true,
	}
	if err := f.acts.SendInvitationMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	gov := activities.InvitationMail{
		InvitationID:   "inv-5",
		Kind:           activities.MailInvitation,
		To:             "admin@agency.onmicrosoft.us",
		CustomerDomain: "agency.onmicrosoft.us",
		RoleIDs:        []string{"729827e3-9c14-49f7-bb1b-9608f156bbb8"},
		DurationDays:   90,
		ExpiresAt:      time.Now().Add(90 * 24 * time.Hour),
		Cloud:          models.CloudUSGov,
	}
	if err := f.acts.SendInvitationMail(ctx, gov); err != nil {
		t.Fatal(err)
	}
	if len(f.mailer.sent) != 2 {
		t.Fatalf("sent %d", len(f.mailer.sent))
	}
	if body := f.mailer.sent[0].Body; !strings.Contains(body, "does not ask for admin rights") ||
		strings.Contains(body, "GDAP") {
		t.Fatalf("the reseller-only mail must say no admin rights are asked for:\n%s", body)
	}
	if body := f.mailer.sent[1].Body; !strings.Contains(body, "Microsoft Office admin portal for US Government") ||
		strings.Contains(body, "Microsoft 365 admin center") {
		t.Fatalf("a US Government customer's mail must name the US Government portal:\n%s", body)
	}
}
