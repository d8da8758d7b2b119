package models_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

func TestWebhookReceiptsAcceptEachBodyOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		a, b := sha256.Sum256([]byte("event a")), sha256.Sum256([]byte("event b"))
		claim := func(sum [32]byte, changed time.Time) bool {
			t.Helper()
			first, err := store.ClaimWebhookReceipt(ctx, sum, changed, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return first
		}
		if !claim(a, now) || !claim(b, now) {
			t.Fatal("the first receipt of a body must be claimed")
		}
		if claim(a, now) {
			t.Fatal("the same body a second time must be a duplicate")
		}
		if err := store.ReleaseWebhookReceipt(ctx, a); err != nil {
			t.Fatal(err)
		}
		if !claim(a, now) {
			t.Fatal("a released body must be claimable again (Partner Center's retry after a failure)")
		}

		// Receipts outlive the window only while their event's date would still be accepted.
		old, future := sha256.Sum256([]byte("old")), sha256.Sum256([]byte("future-dated"))
		long := now.Add(-2 * time.Hour)
		if err := store.DB.Create(&[]models.WebhookReceipt{
			{BodySHA256: hexOf(old), ChangedAt: long, ReceivedAt: long},
			{BodySHA256: hexOf(future), ChangedAt: now.Add(24 * time.Hour), ReceivedAt: long},
		}).Error; err != nil {
			t.Fatal(err)
		}
		claim(sha256.Sum256([]byte("a new event prunes")), now)
		var left []models.WebhookReceipt
		if err := store.DB.Find(&left).Error; err != nil {
			t.Fatal(err)
		}
		kept := map[string]bool{}
		for _, r := range left {
			kept[r.BodySHA256] = true
		}
		if kept[hexOf(old)] || !kept[hexOf(future)] || !kept[hexOf(a)] || len(left) != 4 {
			t.Fatalf("after pruning: %+v", left)
		}
	})
}

func hexOf(sum [32]byte) string { return hex.EncodeToString(sum[:]) }
