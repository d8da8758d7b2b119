package models

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// WebhookReceipt says that a Partner Center event body was accepted once: its SHA-256, the
// event's own date and when it arrived.
type WebhookReceipt struct {
	BodySHA256 string `gorm:"primaryKey;column:body_sha256"`
	ChangedAt  time.Time
	ReceivedAt time.Time
}

// ClaimWebhookReceipt records the receipt of an event body and reports whether it is the first;
// false means the same body was accepted before (a replay or a retry). Receipts whose event and
// arrival are both older than keepFor are pruned first: by then the event's date refuses it.
func (s *Store) ClaimWebhookReceipt(
	ctx context.Context,
	bodySHA256 [32]byte,
	changedAt time.Time,
	keepFor time.Duration,
) (bool, error) {
	now := time.Now().UTC()
	cutoff := now.Add(-keepFor)
	db := s.DB.WithContext(ctx)
	if err := db.Where("received_at < ? AND changed_at < ?", cutoff, cutoff).
		Delete(&WebhookReceipt{}).Error; err != nil {
		return false, fmt.Errorf("prune webhook receipts: %w", err)
	}
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&WebhookReceipt{
		BodySHA256: hex.EncodeToString(bodySHA256[:]), ChangedAt: changedAt.UTC(), ReceivedAt: now,
	})
	if res.Error != nil {
		return false, fmt.Errorf("record webhook receipt: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ReleaseWebhookReceipt forgets an event body whose processing failed, so that Partner Center's
// retry of it is processed rather than taken for a duplicate.
func (s *Store) ReleaseWebhookReceipt(ctx context.Context, bodySHA256 [32]byte) error {
	err := s.DB.WithContext(ctx).
		Where("body_sha256 = ?", hex.EncodeToString(bodySHA256[:])).
		Delete(&WebhookReceipt{}).
		Error
	if err != nil {
		return fmt.Errorf("release webhook receipt: %w", err)
	}
	return nil
}
