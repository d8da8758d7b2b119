package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/models"
)

type notification struct {
	ID        int64      `json:"id"`
	Key       string     `json:"key"`
	To        string     `json:"to"`
	Subject   string     `json:"subject"`
	Kind      string     `json:"kind"`
	Language  string     `json:"language"`
	Status    string     `json:"status"`
	Error     string     `json:"error"`
	CreatedAt time.Time  `json:"createdAt"`
	SentAt    *time.Time `json:"sentAt"`
}

type notificationPage struct {
	Items      []notification `json:"items"`
	NextCursor string         `json:"nextCursor"`
}

// seedOutbox writes n messages alternating between two recipients; the last one failed.
func seedOutbox(t *testing.T, store *models.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		to, lang := "admin@contoso.onmicrosoft.com", "it"
		if i%2 == 1 {
			to, lang = "ops@fabrikam.example", "en"
		}
		m, err := store.EnqueueMail(ctx, &models.OutboxMessage{
			IdempotencyKey: fmt.Sprintf("inv_%d/invitation/0", i), ToAddress: to, Subject: fmt.Sprintf("message %d", i),
			Body:     "secret https://onboard.example/accept/token-" + fmt.Sprint(i),
			HTML:     "<a href=\"https://onboard.example/accept/token\">x</a>",
			Language: lang, Kind: "invitation",
		})
		if err != nil {
			t.Fatal(err)
		}
		status, errText := models.OutboxSent, ""
		if i == n-1 {
			status, errText = models.OutboxFailed, "550 5.1.1 mailbox unavailable"
		}
		if err := store.MarkMail(ctx, m.ID, status, errText); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNotificationsListTheOutbox(t *testing.T) {
	f := newFlowFixture(t)
	seedOutbox(t, f.store, 5)

	t.Run("every role reads the outbox, newest first, without the bodies", func(t *testing.T) {
		for _, role := range models.AllRoles {
			resp := f.anon.As(f.keys[role]).Do("GET", "/v1/notifications", nil)
			if resp.Status != http.StatusOK {
				t.Fatalf("%s: %d %s", role, resp.Status, resp.Body)
			}
			if strings.Contains(string(resp.Body), "secret") || strings.Contains(string(resp.Body), "/accept/") {
				t.Fatalf("the list must not carry message bodies and their links: %s", resp.Body)
			}
			var page notificationPage
			resp.JSON(t, &page)
			if len(page.Items) != 5 || page.NextCursor != "" || page.Items[0].Subject != "message 4" ||
				page.Items[4].Subject != "message 0" {
				t.Fatalf("%s: %+v", role, page)
			}
			first, last := page.Items[0], page.Items[4]
			if first.Status != models.OutboxFailed || first.Error != "550 5.1.1 mailbox unavailable" ||
				first.SentAt != nil || last.Status != models.OutboxSent || last.SentAt == nil ||
				last.Kind != "invitation" || last.Language != "it" || last.To != "admin@contoso.onmicrosoft.com" ||
				last.Key != "inv_0/invitation/0" || last.CreatedAt.IsZero() {
				t.Fatalf("fields: %+v / %+v", first, last)
			}
		}
	})

	t.Run("a caller without a key is refused", func(t *testing.T) {
		if resp := f.anon.Do("GET", "/v1/notifications", nil); resp.Status != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.Status)
		}
	})

	t.Run("filters by recipient and status", func(t *testing.T) {
		var page notificationPage
		f.sales.Do("GET", "/v1/notifications?recipient=ops%40fabrikam.example", nil).JSON(t, &page)
		if len(page.Items) != 2 || page.Items[0].Subject != "message 3" || page.Items[1].Subject != "message 1" {
			t.Fatalf("by recipient: %+v", page.Items)
		}
		page = notificationPage{}
		f.sales.Do("GET", "/v1/notifications?status=failed", nil).JSON(t, &page)
		if len(page.Items) != 1 || page.Items[0].Subject != "message 4" {
			t.Fatalf("by status: %+v", page.Items)
		}
	})

	t.Run("pages follow the cursor to the end", func(t *testing.T) {
		var subjects []string
		path := "/v1/notifications?limit=2"
		for range 5 {
			var page notificationPage
			f.sales.Do("GET", path, nil).JSON(t, &page)
			for _, n := range page.Items {
				subjects = append(subjects, n.Subject)
			}
			if page.NextCursor == "" {
				break
			}
			path = "/v1/notifications?limit=2&cursor=" + page.NextCursor
		}
		if fmt.Sprint(subjects) != "[message 4 message 3 message 2 message 1 message 0]" {
			t.Fatalf("pages %v", subjects)
		}
	})

	bad := []struct{ name, query, field string }{
		{"an unknown status is refused", "status=lost", "status"},
		{"a limit of zero is refused", "limit=0", "limit"},
		{"a limit over the page size is refused", "limit=201", "limit"},
		{"a limit that is not a number is refused", "limit=ten", "limit"},
		{"a cursor the API did not make is refused", "cursor=***", "cursor"},
		{"a recipient that is not an address is refused", "recipient=ops", "recipient"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.sales.Do("GET", "/v1/notifications?"+tc.query, nil)
			if resp.Status != http.StatusBadRequest ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("status %d %s", resp.Status, resp.Header.Get("Content-Type"))
			}
			if p := resp.Problem(t); p["field"] != tc.field {
				t.Fatalf("the problem must name %s: %v", tc.field, p)
			}
		})
	}
}
