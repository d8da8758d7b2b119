package models

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Webhook delivery statuses.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
)

// WebhookDeliveryStatuses lists the delivery statuses, for filters.
var WebhookDeliveryStatuses = []string{WebhookPending, WebhookDelivered, WebhookFailed}

// WebhookSubscription is a partner's own endpoint that receives flow events. Its secret is kept
// encrypted (the caller seals it); deleting a subscription revokes it and keeps its log.
type WebhookSubscription struct {
	ID        string `gorm:"primaryKey"`
	PartnerID string
	URL       string `gorm:"column:url"`
	// Events are comma-separated patterns: "invitation.active", "invitation.*" or "*".
	Events           string
	SecretCiphertext []byte
	Description      string
	CreatedAt        time.Time
	RevokedAt        *time.Time
}

// EventList returns the subscription's event patterns.
func (s WebhookSubscription) EventList() []string { return strings.Split(s.Events, ",") }

// Wants reports whether the subscription receives events of eventType.
func (s WebhookSubscription) Wants(eventType string) bool {
	for _, p := range s.EventList() {
		if p == "*" || p == eventType ||
			(strings.HasSuffix(p, ".*") && strings.HasPrefix(eventType, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

// WebhookDelivery is one event on its way to one subscription: the transactional outbox, written
// in the transaction that changed the flow, then delivered and retried by the dispatcher. Its ID
// is what receivers see in Partnerflow-Delivery, the same on every attempt.
type WebhookDelivery struct {
	ID             string `gorm:"primaryKey"`
	SubscriptionID string
	EventType      string
	// EventID is deterministic, so a retried write enqueues nothing twice.
	EventID       string
	Payload       string
	Status        string
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
	CreatedAt     time.Time
}

// webhookEvent is the JSON body every receiver gets.
type webhookEvent struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurredAt"`
	Data       any       `json:"data"`
}

// statusEventData is the data of a "<kind>.<status>" event.
type statusEventData struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Status string `json:"status"`
}

func newWebhookID(prefix string) string { return prefix + hex.EncodeToString(randomBytes(8)) }

// NewWebhookSubscriptionID returns a fresh subscription ID; the caller needs it before the row
// is written, to bind the sealed secret to it.
func NewWebhookSubscriptionID() string { return newWebhookID("whs_") }

// CreateWebhookSubscription stores a new subscription.
func (s *Store) CreateWebhookSubscription(ctx context.Context, sub *WebhookSubscription) error {
	sub.CreatedAt = time.Now().UTC()
	if err := s.DB.WithContext(ctx).Create(sub).Error; err != nil {
		return fmt.Errorf("create webhook subscription: %w", err)
	}
	return nil
}

// WebhookSubscriptions lists a partner's active subscriptions, newest first.
func (s *Store) WebhookSubscriptions(ctx context.Context, partnerID string) ([]WebhookSubscription, error) {
	var out []WebhookSubscription
	err := s.DB.WithContext(ctx).Where("partner_id = ? AND revoked_at IS NULL", partnerID).
		Order("created_at DESC, id DESC").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list webhook subscriptions: %w", err)
	}
	return out, nil
}

// RevokeWebhookSubscription deletes a partner's active subscription; its pending deliveries
// fail, and its log stays. A subscription that is not the partner's or not active is ErrNotFound.
func (s *Store) RevokeWebhookSubscription(ctx context.Context, partnerID, id string) error {
	now := time.Now().UTC()
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&WebhookSubscription{}).
			Where("id = ? AND partner_id = ? AND revoked_at IS NULL", id, partnerID).
			UpdateColumn("revoked_at", now)
		if res.Error != nil {
			return fmt.Errorf("revoke webhook subscription %s: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("webhook subscription %s: %w", id, ErrNotFound)
		}
		return tx.Model(&WebhookDelivery{}).Where("subscription_id = ? AND status = ?", id, WebhookPending).
			UpdateColumns(map[string]any{"status": WebhookFailed, "last_error": "the subscription was deleted"}).Error
	})
}

// EnqueueEvent records an event for every active subscription of the partner that wants it,
// once per eventID: a flow that emits events other than its status changes calls it.
func (s *Store) EnqueueEvent(ctx context.Context, partnerID, eventType, eventID string, data any) error {
	return enqueueWebhookEvent(s.DB.WithContext(ctx), partnerID, eventType, eventID, time.Now().UTC(), data)
}

// enqueueStatusEvent records the "<kind>.<status>" event of a status change inside the
// transaction that made it (Record's), so the event is sent if and only if the change is saved.
func enqueueStatusEvent[R any](tx *gorm.DB, kind, id, status string, at time.Time) error {
	var partners []string
	if err := tx.Model(new(R)).Where("id = ?", id).Pluck("partner_id", &partners).Error; err != nil {
		return fmt.Errorf("read the partner of %s %s: %w", kind, id, err)
	}
	if len(partners) == 0 {
		return fmt.Errorf("%s %s: %w", kind, id, ErrNotFound)
	}
	return enqueueWebhookEvent(tx, partners[0], kind+"."+status, kind+"/"+id+"/"+status, at,
		statusEventData{Kind: kind, ID: id, Status: status})
}

func enqueueWebhookEvent(tx *gorm.DB, partnerID, eventType, eventID string, at time.Time, data any) error {
	var subs []WebhookSubscription
	if err := tx.Select("id", "events").Where("partner_id = ? AND revoked_at IS NULL", partnerID).
		Find(&subs).Error; err != nil {
		return fmt.Errorf("find webhook subscriptions for %s: %w", eventType, err)
	}
	var payload []byte
	now := time.Now().UTC()
	for _, sub := range subs {
		if !sub.Wants(eventType) {
			continue
		}
		if payload == nil {
			var err error
			if payload, err = json.Marshal(webhookEvent{
				ID:         eventID,
				Type:       eventType,
				OccurredAt: at.UTC(),
				Data:       data,
			}); err != nil {
				return fmt.Errorf("encode webhook event %s: %w", eventID, err)
			}
		}
		d := WebhookDelivery{
			ID:             newWebhookID("whd_"),
			SubscriptionID: sub.ID,
			EventType:      eventType,
			EventID:        eventID,
			Payload:        string(payload),
			Status:         WebhookPending,
			NextAttemptAt:  now,
			CreatedAt:      now,
		}
		err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "subscription_id"}, {Name: "event_id"}},
			DoNothing: true,
		}).Create(&d).Error
		if err != nil {
			return fmt.Errorf("enqueue webhook event %s for subscription %s: %w", eventID, sub.ID, err)
		}
	}
	return nil
}

// ClaimedWebhookDelivery is a due delivery with what sending it needs from its subscription.
type ClaimedWebhookDelivery struct {
	WebhookDelivery
	URL              string
	SecretCiphertext []byte
}

// ClaimWebhookDeliveries leases up to limit due deliveries of active subscriptions to the
// caller: their next attempt moves lease ahead, so no other dispatcher takes them meanwhile, and
// a dispatcher that dies mid-send leaves them to be taken again when the lease ends. On
// PostgreSQL rows another dispatcher is claiming are skipped, not waited for; SQLite has one
// writer at a time.
func (s *Store) ClaimWebhookDeliveries(
	ctx context.Context,
	now time.Time,
	lease time.Duration,
	limit int,
) ([]ClaimedWebhookDelivery, error) {
	now = now.UTC()
	var out []ClaimedWebhookDelivery
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		due := tx.Model(&WebhookDelivery{}).
			Where("status = ? AND next_attempt_at <= ?", WebhookPending, now).
			Where("subscription_id IN (?)", tx.Model(&WebhookSubscription{}).Select("id").Where("revoked_at IS NULL")).
			Order("next_attempt_at, id").Limit(limit)
		if s.Dialect == DialectPostgres {
			due = due.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var ids []string
		if err := due.Pluck("id", &ids).Error; err != nil || len(ids) == 0 {
			return err
		}
		if err := tx.Model(&WebhookDelivery{}).Where("id IN ?", ids).
			UpdateColumn("next_attempt_at", now.Add(lease)).Error; err != nil {
			return err
		}
		return tx.Table("webhook_deliveries AS d").
			Select("d.*, s.url AS url, s.secret_ciphertext AS secret_ciphertext").
			Joins("JOIN webhook_subscriptions s ON s.id = d.subscription_id").
			Where("d.id IN ?", ids).Order("d.next_attempt_at, d.id").Scan(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return out, nil
}

// MarkWebhookDelivered records a successful attempt.
func (s *Store) MarkWebhookDelivered(ctx context.Context, id string, at time.Time) error {
	return s.markWebhookAttempt(
		ctx,
		id,
		map[string]any{"status": WebhookDelivered, "delivered_at": at.UTC(), "last_error": ""},
	)
}

// MarkWebhookAttemptFailed records a failed attempt: the delivery is tried again at retryAt, or,
// when retryAt is zero, has failed for good.
func (s *Store) MarkWebhookAttemptFailed(ctx context.Context, id, errText string, retryAt time.Time) error {
	updates := map[string]any{"last_error": errText}
	if retryAt.IsZero() {
		updates["status"] = WebhookFailed
	} else {
		updates["next_attempt_at"] = retryAt.UTC()
	}
	return s.markWebhookAttempt(ctx, id, updates)
}

// markWebhookAttempt counts an attempt of a delivery still pending; one a deleted subscription
// failed meanwhile keeps its reason.
func (s *Store) markWebhookAttempt(ctx context.Context, id string, updates map[string]any) error {
	updates["attempts"] = gorm.Expr("attempts + 1")
	err := s.DB.WithContext(ctx).
		Model(&WebhookDelivery{}).
		Where("id = ? AND status = ?", id, WebhookPending).
		UpdateColumns(updates).
		Error
	if err != nil {
		return fmt.Errorf("record webhook delivery %s: %w", id, err)
	}
	return nil
}

// WebhookDeliveryFilter selects a page of a partner's delivery log, newest first.
type WebhookDeliveryFilter struct {
	PartnerID      string
	SubscriptionID string
	Status         string
	Limit          int
	Cursor         string
}

// WebhookDeliveries returns a page of the delivery log and the cursor of the next ("" at the end).
func (s *Store) WebhookDeliveries(ctx context.Context, f WebhookDeliveryFilter) ([]WebhookDelivery, string, error) {
	db := s.DB.WithContext(ctx)
	q := db.Where(
		"subscription_id IN (?)",
		db.Model(&WebhookSubscription{}).Select("id").Where("partner_id = ?", f.PartnerID),
	)
	if f.SubscriptionID != "" {
		q = q.Where("subscription_id = ?", f.SubscriptionID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("(created_at, id) < (?, ?)", at, id)
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxListPage {
		limit = 50
	}
	var items []WebhookDelivery
	if err := q.Order("created_at DESC, id DESC").Limit(limit + 1).Find(&items).Error; err != nil {
		return nil, "", fmt.Errorf("list webhook deliveries: %w", err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return items, next, nil
}

// RetryWebhookDelivery sends a failed delivery again with a fresh schedule of attempts. One that
// is not the partner's is ErrNotFound; one that has not failed, or whose subscription was
// deleted, is ErrConflict.
func (s *Store) RetryWebhookDelivery(ctx context.Context, partnerID, id string) (*WebhookDelivery, error) {
	var d WebhookDelivery
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var sub WebhookSubscription
		err := tx.Where("id = ?", id).First(&d).Error
		if err == nil {
			err = tx.Where("id = ? AND partner_id = ?", d.SubscriptionID, partnerID).First(&sub).Error
		}
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("webhook delivery %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		switch {
		case sub.RevokedAt != nil:
			return fmt.Errorf("the subscription of webhook delivery %s was deleted: %w", id, ErrConflict)
		case d.Status != WebhookFailed:
			return fmt.Errorf("webhook delivery %s is %s, not failed: %w", id, d.Status, ErrConflict)
		}
		now := time.Now().UTC()
		res := tx.Model(&WebhookDelivery{}).Where("id = ? AND status = ?", id, WebhookFailed).
			UpdateColumns(map[string]any{"status": WebhookPending, "attempts": 0, "next_attempt_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("webhook delivery %s changed meanwhile: %w", id, ErrConflict)
		}
		d.Status, d.Attempts, d.NextAttemptAt = WebhookPending, 0, now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}
