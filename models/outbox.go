package models

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
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

// OutboxStatuses lists the outbox statuses, in the order a message passes them.
var OutboxStatuses = []string{OutboxPending, OutboxSent, OutboxLogged, OutboxFailed}

// OutboxMessage is an e-mail partnerflow sent or is sending; the row is written before the send,
// so every message is on record even when delivery fails.
type OutboxMessage struct {
	ID             int64 `gorm:"primaryKey"`
	IdempotencyKey string
	ToAddress      string
	Subject        string
	// Body is the plain text; HTML its alternative (empty for a plain-text message).
	Body string
	HTML string `gorm:"column:html"`
	// Language is the language the message was written in; Kind the kind of message
	// (notify's kinds, such as "invitation-reminder").
	Language  string
	Kind      string
	Status    string
	Error     string
	CreatedAt time.Time
	SentAt    *time.Time
}

// EnqueueMail records a message once per idempotency key and returns the stored row, which may
// be one an earlier attempt already sent.
func (s *Store) EnqueueMail(ctx context.Context, m *OutboxMessage) (*OutboxMessage, error) {
	m.Status, m.CreatedAt = OutboxPending, time.Now().UTC()
	db := s.DB.WithContext(ctx)
	if err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "idempotency_key"}}, DoNothing: true}).
		Create(m).Error; err != nil {
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

// OutboxFilter selects a page of the outbox.
type OutboxFilter struct {
	// Recipient is an exact address; empty means every recipient.
	Recipient string
	// Status is one of OutboxStatuses; empty means every status.
	Status string
	// Limit is the page size (1 to MaxListPage; 50 otherwise).
	Limit int
	// Cursor continues after the page that returned it.
	Cursor string
}

// outboxListColumns are what a list of the outbox reads: never the bodies, which hold
// customers' signed links.
var outboxListColumns = []string{
	"id",
	"idempotency_key",
	"to_address",
	"subject",
	"language",
	"kind",
	"status",
	"error",
	"created_at",
	"sent_at",
}

// ListOutbox returns a page of the outbox, newest first, without the messages' bodies, and the
// cursor of the next page ("" at the end); a cursor it did not make is ErrBadCursor.
func (s *Store) ListOutbox(ctx context.Context, f OutboxFilter) ([]OutboxMessage, string, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxListPage {
		limit = 50
	}
	q := s.DB.WithContext(ctx).Model(&OutboxMessage{}).Select(outboxListColumns)
	if f.Recipient != "" {
		q = q.Where("to_address = ?", f.Recipient)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Cursor != "" {
		before, err := decodeOutboxCursor(f.Cursor)
		if err != nil {
			return nil, "", ErrBadCursor
		}
		q = q.Where("id < ?", before)
	}
	var out []OutboxMessage
	if err := q.Order("id DESC").Limit(limit + 1).Find(&out).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeOutboxCursor(out[limit-1].ID)
	}
	return out, next, nil
}

const outboxCursorPrefix = "outbox:"

func encodeOutboxCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(outboxCursorPrefix + strconv.FormatInt(id, 10)))
}

func decodeOutboxCursor(c string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), outboxCursorPrefix) {
		return 0, ErrBadCursor
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(string(raw), outboxCursorPrefix), 10, 64)
	if err != nil || id < 1 {
		return 0, ErrBadCursor
	}
	return id, nil
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
