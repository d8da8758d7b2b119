package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Outbox message statuses.
const (
	OutboxPending = "pending"
	OutboxSent    = "sent"
	OutboxLogged  = "logged" // no SMTP configured: the outbox row and the log are the delivery
	OutboxFailed  = "failed"
)

// OutboxMessage is an e-mail partnerflow sent or is sending; the row is written before the send,
// so every message is on record even when delivery fails.
type OutboxMessage struct {
	ID             int64 `gorm:"primaryKey"`
	IdempotencyKey string
	ToAddress      string
	Subject        string
	Body           string
	Status         string
	Error          string
	CreatedAt      time.Time
	SentAt         *time.Time
}

// EnqueueMail records a message once per idempotency key and returns the stored row, which may
// be one an earlier attempt already sent.
func (s *Store) EnqueueMail(ctx context.Context, m *OutboxMessage) (*OutboxMessage, error) {
	m.Status, m.CreatedAt = OutboxPending, time.Now().UTC()
	db := s.DB.WithContext(ctx)
	if err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "idempotency_key"}}, DoNothing: true}).Create(m).Error; err != nil {
		return nil, err
	}
	var stored OutboxMessage
	err := db.Where("idempotency_key = ?", m.IdempotencyKey).First(&stored).Error
	return &stored, err
}

// MarkMail records the outcome of a delivery attempt.
func (s *Store) MarkMail(ctx context.Context, id int64, status, errText string) error {
	updates := map[string]any{"status": status, "error": errText}
	if status == OutboxSent || status == OutboxLogged {
		updates["sent_at"] = time.Now().UTC()
	}
	return s.DB.WithContext(ctx).Model(&OutboxMessage{}).Where("id = ?", id).Updates(updates).Error
}

// Outbox returns the most recent messages to an address, newest first.
func (s *Store) Outbox(ctx context.Context, to string, limit int) ([]OutboxMessage, error) {
	var out []OutboxMessage
	err := s.DB.WithContext(ctx).Where("to_address = ?", to).Order("id DESC").Limit(limit).Find(&out).Error
	return out, err
}

// WebhookEvent is a Partner Center event as received, stored before it is processed.
type WebhookEvent struct {
	ID           int64 `gorm:"primaryKey"`
	EventName    string
	ResourceURI  string `gorm:"column:resource_uri"`
	ResourceName string
	ChangedAt    string
	Body         string
	ReceivedAt   time.Time
	ProcessedAt  *time.Time
	Result       string
}

// SaveWebhookEvent stores a received event.
func (s *Store) SaveWebhookEvent(ctx context.Context, e *WebhookEvent) error {
	e.ReceivedAt = time.Now().UTC()
	return s.DB.WithContext(ctx).Create(e).Error
}

// FinishWebhookEvent records what processing an event did.
func (s *Store) FinishWebhookEvent(ctx context.Context, id int64, result string) error {
	res := s.DB.WithContext(ctx).Model(&WebhookEvent{}).Where("id = ?", id).
		Updates(map[string]any{"processed_at": time.Now().UTC(), "result": result})
	if res.Error == nil && res.RowsAffected == 0 {
		return errors.Join(ErrNotFound, gorm.ErrRecordNotFound)
	}
	return res.Error
}
