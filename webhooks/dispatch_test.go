package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/webhooks"
)

const partnerID = "7f2c9a1e-4b3d-4e5f-8a6b-1c2d3e4f5a6b"

var signingKey = bytes.Repeat([]byte{7}, 32)

// receiver is a partner's endpoint: it verifies each request's signature with the secret it
// was given and answers 503 while failing says so.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	failing  func(n int) bool
	requests []received
}

type received struct {
	event, delivery string
	verifyErr       error
	body            []byte
}

func newReceiver(t *testing.T, failing func(n int) bool) *receiver {
	t.Helper()
	r := &receiver{failing: failing}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		err := notify.Verify(
			r.secret, req.Header.Get(notify.SignatureHeader), body, time.Now(), notify.DefaultTolerance,
		)
		r.requests = append(r.requests, received{
			req.Header.Get(notify.EventHeader),
			req.Header.Get(notify.DeliveryHeader),
			err,
			body,
		})
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusUnauthorized)
		case r.failing != nil && r.failing(len(r.requests)):
			http.Error(w, "busy, try later", http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

// world is the API, the store and a dispatcher that sends through a real sender.
type world struct {
	store      *models.Store
	admin      *testapi.Client
	agent      *testapi.Client
	sales      *testapi.Client
	dispatcher *webhooks.Dispatcher
}

func newWorld(t *testing.T, store *models.Store) *world {
	t.Helper()
	srv := api.New(api.Config{
		Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SigningKey: signingKey,
		Flows: api.FlowConfig{PartnerID: partnerID}, WebhookAllowPrivate: true,
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	w := &world{store: store}
	anon := &testapi.Client{T: t, BaseURL: hs.URL}
	for role, c := range map[models.Role]**testapi.Client{
		models.RoleGlobalAdmin: &w.admin,
		models.RoleAdminAgent:  &w.agent,
		models.RoleSalesAgent:  &w.sales,
	} {
		key, _, err := store.CreateAPIKey(context.Background(), string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		*c = anon.As(key)
	}
	w.dispatcher = &webhooks.Dispatcher{
		Store: store, Sender: notify.NewWebhookSender(true), Secrets: notify.NewSecretBox(signingKey),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Poll:   10 * time.Millisecond, FirstRetry: 20 * time.Millisecond,
		MaxRetry: 80 * time.Millisecond, MaxAttempts: 12,
	}
	return w
}

// subscribe subscribes the receiver through the API and gives it the secret.
func (w *world) subscribe(t *testing.T, r *receiver, events ...string) string {
	t.Helper()
	resp := w.admin.Do("POST", "/v1/webhook-subscriptions", map[string]any{"url": r.URL + "/hooks", "events": events})
	if resp.Status != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", resp.Status, resp.Body)
	}
	var sub struct{ ID, Secret string }
	resp.JSON(t, &sub)
	r.setSecret(sub.Secret)
	return sub.ID
}

// invitation creates an invitation row of the partner.
func (w *world) invitation(t *testing.T, id string) {
	t.Helper()
	now := time.Now().UTC()
	_, err := w.store.CreateInvitation(context.Background(), &models.Invitation{
		ID: id, PartnerID: partnerID,
		CustomerDomain: id + ".onmicrosoft.com", CustomerEmail: "admin@" + id + ".onmicrosoft.com",
		Roles: "r", DurationDays: 30, Status: models.InvitationPending, WorkflowID: "invitation/" + id,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
}

type deliveryView struct {
	ID, SubscriptionID, EventType, EventID, Status, LastError string
	Attempts                                                  int
	DeliveredAt, NextAttemptAt                                *time.Time
	Payload                                                   json.RawMessage
}

func (w *world) log(t *testing.T, query string) []deliveryView {
	t.Helper()
	resp := w.agent.Do("GET", "/v1/webhook-deliveries"+query, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("delivery log: %d %s", resp.Status, resp.Body)
	}
	var page struct{ Items []deliveryView }
	resp.JSON(t, &page)
	return page.Items
}

// runUntil runs the dispatcher until the log's only delivery has the status, and returns it.
func (w *world) runUntil(t *testing.T, status string) deliveryView {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.dispatcher.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if items := w.log(t, ""); len(items) == 1 && items[0].Status == status {
			return items[0]
		} else if time.Now().After(deadline) {
			t.Fatalf("no %s delivery after 15 s: %+v", status, items)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAStatusChangeIsDeliveredOnceSignedEvenWhenItsWriteIsRetried(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		w := newWorld(t, store)
		r := newReceiver(t, nil)
		subID := w.subscribe(t, r, "invitation.cancelled")
		w.invitation(t, "inv_1")
		cancel := models.InvitationChange{
			Status:  models.InvitationCancelled,
			Step:    "cancelled",
			StepKey: "inv_1/cancelled",
		}
		for range 3 { // the record activity retried after its write was saved
			if err := models.Record(ctx, store, models.KindInvitation, "inv_1", cancel); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if _, err := w.dispatcher.DeliverDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := models.Record(ctx, store, models.KindInvitation, "inv_1", cancel); err != nil {
			t.Fatal(err)
		}
		if _, err := w.dispatcher.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}

		got := r.got()
		if len(got) != 1 {
			t.Fatalf("the receiver got %d requests, want exactly 1", len(got))
		}
		log := w.log(t, "")
		if len(log) != 1 || log[0].Status != models.WebhookDelivered || log[0].Attempts != 1 ||
			log[0].DeliveredAt == nil || log[0].SubscriptionID != subID {
			t.Fatalf("delivery log %+v", log)
		}
		if got[0].verifyErr != nil || got[0].event != "invitation.cancelled" || got[0].delivery != log[0].ID {
			t.Fatalf("request %+v, want a verified invitation.cancelled with delivery %s", got[0], log[0].ID)
		}
		var event struct {
			ID, Type   string
			OccurredAt time.Time
			Data       struct{ Kind, ID, Status string }
		}
		if err := json.Unmarshal(got[0].body, &event); err != nil {
			t.Fatal(err)
		}
		if event.ID != "invitation/inv_1/cancelled" || event.Type != "invitation.cancelled" ||
			event.OccurredAt.IsZero() ||
			event.Data.Kind != "invitation" || event.Data.ID != "inv_1" || event.Data.Status != "cancelled" {
			t.Fatalf("event %s", got[0].body)
		}
		if !bytes.Equal(log[0].Payload, got[0].body) {
			t.Fatalf("the log's payload %s is not the body sent %s", log[0].Payload, got[0].body)
		}
	})
}

func TestAReceiverThatRecoversGetsTheDeliveryOnTheThirdAttempt(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		w := newWorld(t, store)
		r := newReceiver(t, func(n int) bool { return n <= 2 })
		w.subscribe(t, r, "invitation.*")
		w.invitation(t, "inv_1")
		if err := models.Record(
			ctx, store, models.KindInvitation, "inv_1", models.InvitationChange{Status: models.InvitationActive},
		); err != nil {
			t.Fatal(err)
		}
		d := w.runUntil(t, models.WebhookDelivered)
		if d.Attempts != 3 || d.DeliveredAt == nil || d.LastError != "" || d.EventType != "invitation.active" {
			t.Fatalf("delivery %+v, want delivered on attempt 3", d)
		}
		got := r.got()
		if len(got) != 3 {
			t.Fatalf("the receiver got %d requests, want 3", len(got))
		}
		for _, req := range got {
			if req.verifyErr != nil || req.delivery != d.ID {
				t.Fatalf("every attempt is signed afresh and carries the same delivery ID: %+v", req)
			}
		}
	})
}

func TestAReceiverThatAlwaysFailsEndsFailedAndARetryStartsAgain(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		w := newWorld(t, store)
		w.dispatcher.MaxAttempts = 3
		var mu sync.Mutex
		down := true
		r := newReceiver(t, func(int) bool { mu.Lock(); defer mu.Unlock(); return down })
		w.subscribe(t, r, "*")
		w.invitation(t, "inv_1")
		if err := models.Record(
			ctx, store, models.KindInvitation, "inv_1", models.InvitationChange{Status: models.InvitationExpired},
		); err != nil {
			t.Fatal(err)
		}
		d := w.runUntil(t, models.WebhookFailed)
		if d.Attempts != 3 || !strings.Contains(d.LastError, "503") ||
			!strings.Contains(d.LastError, "busy, try later") || d.NextAttemptAt != nil {
			t.Fatalf("delivery %+v, want failed after 3 attempts with the answer", d)
		}
		if n := len(r.got()); n != 3 {
			t.Fatalf("the receiver got %d requests, want 3", n)
		}
		for _, c := range []*testapi.Client{w.agent, w.sales} {
			if resp := c.Do("POST", "/v1/webhook-deliveries/"+d.ID+"/retry", nil); resp.Status != http.StatusForbidden {
				t.Fatalf("a retry without global-admin: %d", resp.Status)
			}
		}
		resp := w.admin.Do("POST", "/v1/webhook-deliveries/"+d.ID+"/retry", nil)
		var retried deliveryView
		resp.JSON(t, &retried)
		if resp.Status != http.StatusOK || retried.Status != models.WebhookPending || retried.Attempts != 0 ||
			retried.NextAttemptAt == nil {
			t.Fatalf("retry: %d %s", resp.Status, resp.Body)
		}
		if log := w.log(t, "?status=pending"); len(log) != 1 || log[0].ID != d.ID {
			t.Fatalf("the log after the retry: %+v", log)
		}
		mu.Lock()
		down = false
		mu.Unlock()
		if d := w.runUntil(t, models.WebhookDelivered); d.Attempts != 1 {
			t.Fatalf("after the retry: %+v", d)
		}
		if resp := w.admin.Do(
			"POST", "/v1/webhook-deliveries/"+d.ID+"/retry", nil,
		); resp.Status != http.StatusConflict {
			t.Fatalf("a delivered delivery cannot be retried: %d", resp.Status)
		}
	})
}

func TestDeliveriesNeverConnectToPrivateAddressesUnlessAllowed(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		w := newWorld(t, store)
		r := newReceiver(t, nil)
		// Subscribed while its name resolved to a public address; it now resolves to loopback.
		sub := &models.WebhookSubscription{
			ID: models.NewWebhookSubscriptionID(), PartnerID: partnerID, Events: "*",
			URL: strings.Replace(r.URL, "127.0.0.1", "localhost", 1) + "/hooks",
		}
		secret := notify.NewWebhookSecret()
		r.setSecret(secret)
		sub.SecretCiphertext = notify.NewSecretBox(signingKey).Seal(sub.ID, secret)
		if err := store.CreateWebhookSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if err := store.EnqueueEvent(ctx, partnerID, "invitation.active", "invitation/inv_1/active", nil); err != nil {
			t.Fatal(err)
		}
		w.dispatcher.Sender, w.dispatcher.MaxAttempts = notify.NewWebhookSender(false), 1
		if _, err := w.dispatcher.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		log := w.log(t, "")
		if len(log) != 1 || log[0].Status != models.WebhookFailed ||
			!strings.Contains(log[0].LastError, "not a public address") {
			t.Fatalf("delivery to a name resolving to loopback: %+v", log)
		}
		if n := len(r.got()); n != 0 {
			t.Fatalf("the receiver on loopback was reached %d times", n)
		}

		w.dispatcher.Sender = notify.NewWebhookSender(true)
		if resp := w.admin.Do("POST", "/v1/webhook-deliveries/"+log[0].ID+"/retry", nil); resp.Status != http.StatusOK {
			t.Fatalf("retry: %d %s", resp.Status, resp.Body)
		}
		if _, err := w.dispatcher.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		if got := r.got(); len(got) != 1 || got[0].verifyErr != nil {
			t.Fatalf("with private addresses allowed the receiver gets the delivery: %+v", got)
		}
	})
}
