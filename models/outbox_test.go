package models_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

func TestOutbox(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		t.Run("a message is written once per key, with its HTML, language and kind", func(t *testing.T) {
			m := &models.OutboxMessage{
				IdempotencyKey: "inv_1/invitation/0",
				ToAddress:      "admin@fabrikam.onmicrosoft.com",
				Subject:        "Invito – è arrivato",
				Body:           "Sayın Yetkili: ş ğ İ",
				HTML:           "<p>ş ğ İ</p>",
				Language:       "tr",
				Kind:           "invitation",
			}
			first, err := store.EnqueueMail(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.MarkMail(ctx, first.ID, models.OutboxSent, ""); err != nil {
				t.Fatal(err)
			}
			again, err := store.EnqueueMail(
				ctx,
				&models.OutboxMessage{IdempotencyKey: m.IdempotencyKey, ToAddress: m.ToAddress, Subject: "other"},
			)
			if err != nil {
				t.Fatal(err)
			}
			if again.ID != first.ID || again.Status != models.OutboxSent || again.Subject != m.Subject ||
				again.HTML != m.HTML || again.Language != "tr" || again.Kind != "invitation" || again.Body != m.Body ||
				again.SentAt == nil {
				t.Fatalf("the second write must return the first, sent message: %+v", again)
			}
		})
		t.Run("the list pages newest first, filters, and leaves the bodies out", func(t *testing.T) {
			for i := range 5 {
				to := "ops@distributor.example"
				if i%2 == 1 {
					to = "admin@contoso.onmicrosoft.com"
				}
				m, err := store.EnqueueMail(ctx, &models.OutboxMessage{
					IdempotencyKey: fmt.Sprintf("list/%d", i),
					ToAddress:      to,
					Subject:        fmt.Sprintf("message %d", i),
					Body:           "secret link",
					HTML:           "<a>secret link</a>",
					Language:       "it",
					Kind:           "access-lost",
				})
				if err != nil {
					t.Fatal(err)
				}
				if i == 4 {
					if err := store.MarkMail(ctx, m.ID, models.OutboxFailed, "550 mailbox unavailable"); err != nil {
						t.Fatal(err)
					}
				}
			}
			var seen []string
			cursor := ""
			for {
				page, next, err := store.ListOutbox(
					ctx,
					models.OutboxFilter{Recipient: "ops@distributor.example", Limit: 2, Cursor: cursor},
				)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range page {
					if m.Body != "" || m.HTML != "" {
						t.Fatalf("a list must not read message bodies: %+v", m)
					}
					if m.Language != "it" || m.Kind != "access-lost" || m.CreatedAt.IsZero() {
						t.Fatalf("the list lacks a column: %+v", m)
					}
					seen = append(seen, m.Subject)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if fmt.Sprint(seen) != "[message 4 message 2 message 0]" {
				t.Fatalf("pages %v, want newest first and only the recipient's", seen)
			}
			failed, _, err := store.ListOutbox(ctx, models.OutboxFilter{Status: models.OutboxFailed})
			if err != nil || len(failed) != 1 || failed[0].Error != "550 mailbox unavailable" {
				t.Fatalf("failed messages: %+v %v", failed, err)
			}
		})
		t.Run("a cursor the store did not make is refused", func(t *testing.T) {
			for _, c := range []string{"not-a-cursor", "b3V0Ym94Ong", "aW52aXRhdGlvbjox"} {
				if _, _, err := store.ListOutbox(
					ctx,
					models.OutboxFilter{Cursor: c},
				); !errors.Is(err, models.ErrBadCursor) {
					t.Fatalf("cursor %q: %v", c, err)
				}
			}
		})
	})
}
