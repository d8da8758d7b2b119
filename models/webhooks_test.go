package models_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

func subscribe(t *testing.T, store *models.Store, partnerID, events string) *models.WebhookSubscription {
	t.Helper()
	sub := &models.WebhookSubscription{
		ID: models.NewWebhookSubscriptionID(), PartnerID: partnerID, URL: "https://hooks.example.com/" + events,
		Events: events, SecretCiphertext: []byte("sealed"),
	}
	if err := store.CreateWebhookSubscription(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	return sub
}

func deliveries(t *testing.T, store *models.Store, partnerID string) []models.WebhookDelivery {
	t.Helper()
	items, _, err := store.WebhookDeliveries(
		context.Background(),
		models.WebhookDeliveryFilter{PartnerID: partnerID, Limit: models.MaxListPage},
	)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func TestStatusChangesEnqueueOneDeliveryPerMatchingSubscription(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if _, err := store.CreateInvitation(ctx, newInvitation("inv_1", "contoso.com", at)); err != nil {
			t.Fatal(err)
		}
		all := subscribe(t, store, "p1", "*")
		cancelled := subscribe(t, store, "p1", "invitation.cancelled,invitation.active")
		kind := subscribe(t, store, "p1", "invitation.*")
		other := subscribe(t, store, "p1", "reseller.*,invitation.active")
		revoked := subscribe(t, store, "p1", "*")
		foreign := subscribe(t, store, "p2", "*")
		if err := store.RevokeWebhookSubscription(ctx, "p1", revoked.ID); err != nil {
			t.Fatal(err)
		}
		if err := store.RevokeWebhookSubscription(ctx, "p2", all.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("another partner's subscription cannot be deleted: %v", err)
		}

		change := models.InvitationChange{Status: models.InvitationCancelled, Step: "cancelled", At: at.Add(time.Hour)}
		for range 3 { // an activity retried after its write was saved
			if err := models.Record(ctx, store, models.KindInvitation, "inv_1", change); err != nil {
				t.Fatal(err)
			}
		}
		// A change without a status announces nothing.
		if err := models.Record(
			ctx,
			store,
			models.KindInvitation,
			"inv_1",
			models.InvitationChange{Step: "note"},
		); err != nil {
			t.Fatal(err)
		}

		got := deliveries(t, store, "p1")
		var subs []string
		for _, d := range got {
			subs = append(subs, d.SubscriptionID)
			if d.EventType != "invitation.cancelled" || d.EventID != "invitation/inv_1/cancelled" ||
				d.Status != models.WebhookPending || d.Attempts != 0 {
				t.Errorf("delivery %+v", d)
			}
			var payload struct {
				ID         string    `json:"id"`
				Type       string    `json:"type"`
				OccurredAt time.Time `json:"occurredAt"`
				Data       struct{ Kind, ID, Status string }
			}
			if err := json.Unmarshal([]byte(d.Payload), &payload); err != nil {
				t.Fatal(err)
			}
			if payload.ID != d.EventID || payload.Type != d.EventType || !payload.OccurredAt.Equal(at.Add(time.Hour)) ||
				payload.Data.Kind != "invitation" || payload.Data.ID != "inv_1" || payload.Data.Status != "cancelled" {
				t.Errorf("payload %s", d.Payload)
			}
		}
		slices.Sort(subs)
		want := []string{all.ID, cancelled.ID, kind.ID}
		slices.Sort(want)
		if !slices.Equal(subs, want) {
			t.Fatalf(
				"deliveries went to %v, want one each to %v (not %s, %s or %s)",
				subs,
				want,
				other.ID,
				revoked.ID,
				foreign.ID,
			)
		}
		if n := len(deliveries(t, store, "p2")); n != 0 {
			t.Fatalf("another partner's subscription got %d deliveries", n)
		}
	})
}

func TestARolledBackChangeEnqueuesNothing(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		subscribe(t, store, "p1", "*")
		err := models.Record(
			ctx,
			store,
			models.KindInvitation,
			"inv_missing",
			models.InvitationChange{Status: models.InvitationActive},
		)
		if !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("Record of a missing flow = %v", err)
		}
		if n := len(deliveries(t, store, "p1")); n != 0 {
			t.Fatalf("%d deliveries for a change that was not saved", n)
		}
	})
}

func TestEnqueueEventIsIdempotentByEventID(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		subscribe(t, store, "p1", "removal.*")
		for range 2 {
			if err := store.EnqueueEvent(
				ctx,
				"p1",
				"removal.customer_notified",
				"removal/rem_1/customer/c1",
				map[string]string{"customer": "c1"},
			); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.EnqueueEvent(ctx, "p1", "invitation.active", "invitation/inv_1/active", nil); err != nil {
			t.Fatal(err)
		}
		got := deliveries(t, store, "p1")
		if len(got) != 1 || got[0].EventID != "removal/rem_1/customer/c1" {
			t.Fatalf("deliveries = %+v, want the removal event once", got)
		}
	})
}

func TestClaimsLeaseDeliveriesToOneDispatcher(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		subscribe(t, store, "p1", "*")
		for i := range 30 {
			if err := store.EnqueueEvent(
				ctx,
				"p1",
				"invitation.active",
				fmt.Sprintf("invitation/inv_%d/active", i),
				nil,
			); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now()
		var (
			mu      sync.Mutex
			claimed = map[string]int{}
			wg      sync.WaitGroup
		)
		for range 4 { // four dispatchers at once
			wg.Go(func() {
				for {
					batch, err := store.ClaimWebhookDeliveries(ctx, now, time.Minute, 4)
					if err != nil {
						t.Error(err)
						return
					}
					if len(batch) == 0 {
						return
					}
					mu.Lock()
					for _, c := range batch {
						claimed[c.ID]++
						if c.URL == "" || string(c.SecretCiphertext) != "sealed" {
							t.Errorf("a claim carries the subscription's URL and sealed secret: %+v", c)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != 30 {
			t.Fatalf("%d deliveries claimed, want 30", len(claimed))
		}
		for id, n := range claimed {
			if n != 1 {
				t.Fatalf("delivery %s claimed %d times", id, n)
			}
		}
		// Within the lease nothing is due; after it, an unrecorded attempt is due again.
		if again, _ := store.ClaimWebhookDeliveries(ctx, now.Add(30*time.Second), time.Minute, 100); len(again) != 0 {
			t.Fatalf("%d deliveries claimed again within the lease", len(again))
		}
		if again, _ := store.ClaimWebhookDeliveries(ctx, now.Add(2*time.Minute), time.Minute, 100); len(again) != 30 {
			t.Fatalf("%d deliveries claimed after the lease, want 30", len(again))
		}
	})
}

func TestAttemptsAreRecordedAndFailedDeliveriesRetried(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		sub := subscribe(t, store, "p1", "*")
		if err := store.EnqueueEvent(ctx, "p1", "invitation.active", "invitation/inv_1/active", nil); err != nil {
			t.Fatal(err)
		}
		id := deliveries(t, store, "p1")[0].ID
		if _, err := store.RetryWebhookDelivery(ctx, "p1", id); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("a pending delivery cannot be retried: %v", err)
		}
		retryAt := time.Now().Add(time.Hour)
		if err := store.MarkWebhookAttemptFailed(ctx, id, "the receiver answered 503", retryAt); err != nil {
			t.Fatal(err)
		}
		if err := store.MarkWebhookAttemptFailed(ctx, id, "the receiver answered 500", time.Time{}); err != nil {
			t.Fatal(err)
		}
		d := deliveries(t, store, "p1")[0]
		if d.Status != models.WebhookFailed || d.Attempts != 2 || d.LastError != "the receiver answered 500" {
			t.Fatalf("after two failed attempts: %+v", d)
		}
		if _, err := store.RetryWebhookDelivery(ctx, "p2", id); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("another partner's delivery: %v", err)
		}
		r, err := store.RetryWebhookDelivery(ctx, "p1", id)
		if err != nil || r.Status != models.WebhookPending || r.Attempts != 0 {
			t.Fatalf("retry = %+v, %v", r, err)
		}
		if claimed, _ := store.ClaimWebhookDeliveries(
			ctx,
			time.Now().Add(time.Second),
			time.Minute,
			10,
		); len(claimed) != 1 {
			t.Fatalf("a retried delivery is due at once; claimed %d", len(claimed))
		}
		if err := store.MarkWebhookDelivered(ctx, id, time.Now()); err != nil {
			t.Fatal(err)
		}
		d = deliveries(t, store, "p1")[0]
		if d.Status != models.WebhookDelivered || d.Attempts != 1 || d.DeliveredAt == nil || d.LastError != "" {
			t.Fatalf("after the delivery: %+v", d)
		}

		// Deleting a subscription fails its pending deliveries and refuses their retry.
		if err := store.EnqueueEvent(ctx, "p1", "invitation.expired", "invitation/inv_2/expired", nil); err != nil {
			t.Fatal(err)
		}
		if err := store.RevokeWebhookSubscription(ctx, "p1", sub.ID); err != nil {
			t.Fatal(err)
		}
		failed, _, err := store.WebhookDeliveries(
			ctx,
			models.WebhookDeliveryFilter{PartnerID: "p1", Status: models.WebhookFailed},
		)
		if err != nil || len(failed) != 1 || failed[0].LastError != "the subscription was deleted" {
			t.Fatalf("failed deliveries after the deletion: %+v %v", failed, err)
		}
		if _, err := store.RetryWebhookDelivery(ctx, "p1", failed[0].ID); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("a deleted subscription's delivery cannot be retried: %v", err)
		}
	})
}

func TestDeliveryLogPagesNewestFirst(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		a := subscribe(t, store, "p1", "*")
		subscribe(t, store, "p1", "invitation.active")
		for i := range 5 {
			if err := store.EnqueueEvent(
				ctx,
				"p1",
				"invitation.active",
				fmt.Sprintf("invitation/inv_%d/active", i),
				nil,
			); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		var seen []models.WebhookDelivery
		f := models.WebhookDeliveryFilter{PartnerID: "p1", Limit: 3}
		for page := 0; ; page++ {
			items, next, err := store.WebhookDeliveries(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, items...)
			if next == "" {
				break
			}
			f.Cursor = next
		}
		if len(seen) != 10 {
			t.Fatalf("%d deliveries over the pages, want 10", len(seen))
		}
		for i := 1; i < len(seen); i++ {
			if seen[i].CreatedAt.After(seen[i-1].CreatedAt) {
				t.Fatalf("not newest first at %d", i)
			}
		}
		onlyA, _, err := store.WebhookDeliveries(
			ctx,
			models.WebhookDeliveryFilter{PartnerID: "p1", SubscriptionID: a.ID},
		)
		if err != nil || len(onlyA) != 5 {
			t.Fatalf("one subscription's log: %d, %v", len(onlyA), err)
		}
		if _, _, err := store.WebhookDeliveries(
			ctx,
			models.WebhookDeliveryFilter{PartnerID: "p1", Cursor: "not-a-cursor"},
		); !errors.Is(err, models.ErrBadCursor) {
			t.Fatalf("a bad cursor: %v", err)
		}
	})
}
