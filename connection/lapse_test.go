package connection_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

const partnerContact = "ops@partner.example"

// sentMail records what the activities' mailer sent.
type sentMail struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (m *sentMail) Send(_ context.Context, msg notify.Message) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return true, nil
}

// lapseWarnings are the lapse warnings the partner's contact got.
func (m *sentMail) lapseWarnings() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []notify.Message
	for _, msg := range m.sent {
		if strings.HasPrefix(msg.ID, "connection/") && strings.Contains(msg.ID, "/lapsing/") {
			out = append(out, msg)
		}
	}
	return out
}

// lapsingEvents are the connection.lapsing webhook deliveries enqueued for the partner.
func lapsingEvents(t *testing.T, store *models.Store, partnerID string) []models.WebhookDelivery {
	t.Helper()
	all, _, err := store.WebhookDeliveries(
		context.Background(),
		models.WebhookDeliveryFilter{PartnerID: partnerID, Limit: 100},
	)
	if err != nil {
		t.Fatal(err)
	}
	var out []models.WebhookDelivery
	for _, d := range all {
		if d.EventType == models.EventConnectionLapsing {
			out = append(out, d)
		}
	}
	return out
}

// idleFor makes the stored connection look last renewed d ago.
func idleFor(t *testing.T, store *models.Store, partnerID string, d time.Duration) {
	t.Helper()
	err := store.DB.Model(&models.PartnerConnection{}).
		Where("partner_id = ?", partnerID).
		Update("refreshed_at", time.Now().Add(-d).UTC()).
		Error
	if err != nil {
		t.Fatal(err)
	}
}

// logLines is a log handler's output that tests wait on.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

// eventually waits up to ten seconds for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// keepAlive runs m's keep-alive until the test ends.
func keepAlive(t *testing.T, m *connection.Manager, warn connection.LapseWarner, logs io.Writer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.KeepAlive(ctx, time.Hour, warn, slog.New(slog.NewTextHandler(logs, nil)))
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestLapseWarning(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		s := testsim.Start(t, sim.Config{})
		admin := sim.DefaultHomePartner.AdminUPN()
		mail := &sentMail{}
		acts := activities.New(activities.Config{
			Store:        store,
			Mailer:       mail,
			Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
			BaseURL:      "https://onboard.example/",
			Outbox:       notify.NewOutboxBox(bytes.Repeat([]byte{5}, 32)),
			PartnerID:    s.TenantID,
			ContactEmail: partnerContact,
		})
		warn := activities.LapseWarner(acts)
		sub := &models.WebhookSubscription{
			ID:               models.NewWebhookSubscriptionID(),
			PartnerID:        s.TenantID,
			URL:              "https://hooks.partner.example/pf",
			Events:           models.EventConnectionLapsing,
			SecretCiphertext: []byte("sealed"),
		}
		if err := store.CreateWebhookSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		m := newManager(t, s, store)
		if _, err := m.ConnectWith(ctx, redirectURI, signIn(admin, true)); err != nil {
			t.Fatal(err)
		}

		t.Run("a fresh connection is not warned", func(t *testing.T) {
			warned, err := m.WarnIfLapsing(ctx, nil, warn)
			if err != nil || warned || len(mail.lapseWarnings()) != 0 || len(lapsingEvents(t, store, s.TenantID)) != 0 {
				t.Fatalf("warned %v, %v; mails %d", warned, err, len(mail.lapseWarnings()))
			}
		})
		t.Run(
			"a connection 80 days unused is warned once, however often and by however many workers it is checked",
			func(t *testing.T) {
				idleFor(t, store, s.TenantID, 80*24*time.Hour)
				row, _ := store.Connection(ctx, s.TenantID)
				first, err := m.WarnIfLapsing(ctx, nil, warn)
				if err != nil || !first {
					t.Fatalf("first check: warned %v, %v", first, err)
				}
				for _, checker := range []*connection.Manager{m, newManager(t, s, store)} {
					if again, err := checker.WarnIfLapsing(ctx, nil, warn); err != nil || again {
						t.Fatalf("a later check warned again: %v, %v", again, err)
					}
				}
				mails := mail.lapseWarnings()
				if len(mails) != 1 {
					t.Fatalf("lapse warnings mailed: %d, want 1", len(mails))
				}
				want := models.ConnectionLapseKey(s.TenantID, row.Version)
				got := mails[0]
				if got.To != partnerContact || got.ID != want ||
					!strings.Contains(got.Body, notify.FormatDate("en", row.LapsesAt())) ||
					!strings.Contains(got.Body, "https://onboard.example/connection") ||
					!strings.Contains(got.Body, admin) {
					t.Fatalf("the warning: %+v", got)
				}
				events := lapsingEvents(t, store, s.TenantID)
				if len(events) != 1 || events[0].EventID != want || events[0].SubscriptionID != sub.ID ||
					!strings.Contains(events[0].Payload, `"lapsesAt"`) {
					t.Fatalf("connection.lapsing events: %+v", events)
				}
				stored, _ := store.Connection(ctx, s.TenantID)
				if stored.LapseWarnedAt == nil {
					t.Fatal("the warning is not recorded on the connection")
				}
			},
		)
		t.Run("a newer version of the connection can be warned again", func(t *testing.T) {
			if _, err := m.ConnectWith(ctx, redirectURI, signIn(admin, true)); err != nil {
				t.Fatal(err)
			}
			if warned, err := m.WarnIfLapsing(ctx, nil, warn); err != nil || warned {
				t.Fatalf("the new sign-in is fresh: warned %v, %v", warned, err)
			}
			idleFor(t, store, s.TenantID, 80*24*time.Hour)
			row, _ := store.Connection(ctx, s.TenantID)
			if warned, err := m.WarnIfLapsing(ctx, nil, warn); err != nil || !warned {
				t.Fatalf("warned %v, %v", warned, err)
			}
			if warned, err := m.WarnIfLapsing(ctx, nil, warn); err != nil || warned {
				t.Fatalf("warned twice: %v, %v", warned, err)
			}
			mails, events := mail.lapseWarnings(), lapsingEvents(t, store, s.TenantID)
			want := models.ConnectionLapseKey(s.TenantID, row.Version)
			if len(mails) != 2 || mails[1].ID != want || len(events) != 2 ||
				(events[0].EventID != want && events[1].EventID != want) {
				t.Fatalf("after the new version: %d mails, %d events", len(mails), len(events))
			}
		})
		t.Run(
			"the keep-alive warns when renewing keeps failing for a reason other than revocation",
			func(t *testing.T) {
				if _, err := m.ConnectWith(ctx, redirectURI, signIn(admin, true)); err != nil {
					t.Fatal(err)
				}
				idleFor(t, store, s.TenantID, 80*24*time.Hour)
				// The worker's Entra ID does not answer.
				down := httptest.NewServer(nil)
				down.Close()
				entra, err := partnercenter.NewEntra(partnercenter.EntraConfig{
					AuthorityURL: down.URL,
					TenantID:     s.TenantID,
					ClientID:     sim.DemoApp.ClientID,
					ClientSecret: sim.DemoApp.ClientSecret,
				})
				if err != nil {
					t.Fatal(err)
				}
				unreachable := connection.New(connection.Config{
					Store:     store,
					Entra:     entra,
					Box:       notify.NewConnectionBox(bytes.Repeat([]byte{3}, 32)),
					PartnerID: s.TenantID,
				})
				logs := &logLines{}
				keepAlive(t, unreachable, warn, logs)
				eventually(t, "the third lapse warning", func() bool { return len(mail.lapseWarnings()) == 3 })
				if got := mail.lapseWarnings()[2]; !strings.Contains(got.Body, "Last renewal attempt: ") ||
					!logs.has("could not renew") {
					t.Fatalf("the warning names the failed renewal:\n%s\n%s", got.Body, logs.buf.String())
				}
				if n := len(lapsingEvents(t, store, s.TenantID)); n != 3 {
					t.Fatalf("connection.lapsing events: %d, want 3", n)
				}
			},
		)
		t.Run(
			"a revoked connection is not warned as lapsing: the next App+User call reports it lost",
			func(t *testing.T) {
				if _, err := m.ConnectWith(ctx, redirectURI, signIn(admin, true)); err != nil {
					t.Fatal(err)
				}
				idleFor(t, store, s.TenantID, 80*24*time.Hour)
				time.Sleep(time.Second) // tokens name their issue time in seconds
				if n := s.RevokeConnections(""); n == 0 {
					t.Fatal("nothing revoked")
				}
				logs := &logLines{}
				keepAlive(t, newManager(t, s, store), warn, logs)
				eventually(t, "the keep-alive's round", func() bool { return logs.has("stopped working") })
				if n := len(mail.lapseWarnings()); n != 3 {
					t.Fatalf("lapse warnings: %d, want still 3", n)
				}
			},
		)
	})
}
