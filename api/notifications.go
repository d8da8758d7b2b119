package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

// notificationRoutes registers the outbox: every message partnerflow sent or is sending.
func (s *Server) notificationRoutes(v1 *gin.RouterGroup) {
	s.handle(v1, "GET", "/notifications", keyRule(anyRole...), s.listNotifications)
}

// notificationView is an outbox message as the API lists it, without the bodies: they carry
// customers' signed links.
type notificationView struct {
	ID int64 `json:"id"`
	// Key is the message's idempotency key; it names the flow the message belongs to.
	Key       string     `json:"key"`
	To        string     `json:"to"`
	Subject   string     `json:"subject"`
	Kind      string     `json:"kind,omitempty"`
	Language  string     `json:"language,omitempty"`
	Status    string     `json:"status"`
	Error     string     `json:"error,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	SentAt    *time.Time `json:"sentAt,omitempty"`
}

// listNotifications serves GET /v1/notifications: the outbox newest first, filtered by
// recipient and status, page by page.
func (s *Server) listNotifications(c *gin.Context) {
	f := models.OutboxFilter{Limit: defaultListLimit, Cursor: c.Query("cursor")}
	if r := strings.TrimSpace(c.Query("recipient")); r != "" {
		if !validEmail(r) {
			writeProblem(c, Invalid("recipient", "must be an e-mail address such as admin@contoso.com"))
			return
		}
		f.Recipient = r
	}
	var err error
	if f.Status, err = statusQuery(c, models.OutboxStatuses); err != nil {
		writeError(c, err)
		return
	}
	if f.Limit, err = limitQuery(c, f.Limit, maxListLimit); err != nil {
		writeError(c, err)
		return
	}
	msgs, next, err := s.store.ListOutbox(c.Request.Context(), f)
	if err != nil {
		writeError(c, err)
		return
	}
	items := make([]notificationView, len(msgs))
	for i, m := range msgs {
		items[i] = notificationView{
			ID: m.ID, Key: m.IdempotencyKey, To: m.ToAddress, Subject: m.Subject, Kind: m.Kind, Language: m.Language,
			Status: m.Status, Error: m.Error, CreatedAt: m.CreatedAt.UTC(), SentAt: utcOrNil(m.SentAt),
		}
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "nextCursor": next})
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
