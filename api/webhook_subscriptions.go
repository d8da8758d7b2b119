package api

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

// Bounds of a webhook subscription.
const (
	maxWebhookEvents        = 50
	maxWebhookDescription   = 200
	maxWebhookSubscriptions = 25
)

// webhookRoutes registers the partner's subscriptions to flow events and the delivery log.
func (s *Server) webhookRoutes(v1 *gin.RouterGroup) {
	s.handle(v1, "POST", "/webhook-subscriptions", keyRule(globalAdmin...), s.createWebhookSubscription)
	s.handle(v1, "GET", "/webhook-subscriptions", keyRule(globalAdmin...), s.listWebhookSubscriptions)
	s.handle(v1, "DELETE", "/webhook-subscriptions/:id", keyRule(globalAdmin...), s.deleteWebhookSubscription)
	s.handle(v1, "GET", "/webhook-deliveries", keyRule(adminRoles...), s.listWebhookDeliveries)
	s.handle(v1, "POST", "/webhook-deliveries/:id/retry", keyRule(globalAdmin...), s.retryWebhookDelivery)
}

// webhookEventStatuses names, for each flow kind, the statuses its "<kind>.<status>" events
// report: every registered flow's statuses, the connection's events and the directory's.
func webhookEventStatuses() map[string][]string {
	out := map[string][]string{
		// Not a flow: the Partner Center connection stopped working (connection.lost) or would
		// lapse within 14 days (connection.lapsing).
		models.KindConnection: models.ConnectionEvents,
		// Not a flow: what the estate sync found changed in the partner's directory
		// (directory.customer.added, directory.gdap.expiring, …).
		models.KindDirectory: models.DirectoryEvents(),
	}
	for _, reg := range flowRegistrations {
		out[reg.desc.Kind] = reg.statuses
	}
	return out
}

// knownEvent reports whether a subscription may name an event: "<kind>.<status>", "<kind>.*"
// or "*".
func knownEvent(name string) bool {
	if name == "*" {
		return true
	}
	kind, status, ok := strings.Cut(name, ".")
	statuses, known := webhookEventStatuses()[kind]
	return ok && known && (status == "*" || slices.Contains(statuses, status))
}

// webhookSubscriptionView is a subscription as the API shows it; the secret only in the answer
// to its creation.
type webhookSubscriptionView struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description,omitempty"`
	Secret      string    `json:"secret,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

func viewWebhookSubscription(sub models.WebhookSubscription) webhookSubscriptionView {
	return webhookSubscriptionView{
		ID:          sub.ID,
		URL:         sub.URL,
		Events:      sub.EventList(),
		Description: sub.Description,
		CreatedAt:   sub.CreatedAt.UTC(),
	}
}

type createWebhookSubscriptionRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

// createWebhookSubscription registers an endpoint; the answer is the only time its signing
// secret is shown.
func (s *Server) createWebhookSubscription(c *gin.Context) {
	var req createWebhookSubscriptionRequest
	if !bindJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	req.URL = strings.TrimSpace(req.URL)
	if req.URL == "" {
		writeProblem(c, Invalid("url", "an http or https URL is required"))
		return
	}
	if err := notify.CheckWebhookURL(ctx, req.URL, s.webhookAllowPrivate); err != nil {
		writeProblem(c, Invalid("url", "%s", err.Error()))
		return
	}
	events, err := webhookEvents(req.Events)
	if err != nil {
		writeError(c, err)
		return
	}
	req.Description = strings.TrimSpace(req.Description)
	if utf8.RuneCountInString(req.Description) > maxWebhookDescription {
		writeProblem(c, Invalid("description", "must be at most %d characters", maxWebhookDescription))
		return
	}
	existing, err := s.store.WebhookSubscriptions(ctx, s.flows.PartnerID)
	if err != nil {
		writeError(c, err)
		return
	}
	if len(existing) >= maxWebhookSubscriptions {
		writeProblem(c, NewProblem(http.StatusConflict, "webhook-subscription-limit", "Too many webhook subscriptions",
			"delete one of the "+strconv.Itoa(len(existing))+" subscriptions first; one endpoint can take many events"))
		return
	}
	secret := notify.NewWebhookSecret()
	sub := &models.WebhookSubscription{
		ID: models.NewWebhookSubscriptionID(), PartnerID: s.flows.PartnerID, URL: req.URL,
		Events: strings.Join(events, ","), Description: req.Description,
	}
	sub.SecretCiphertext = s.webhookSecrets.Seal(sub.ID, secret)
	if err := s.store.CreateWebhookSubscription(ctx, sub); err != nil {
		writeError(c, err)
		return
	}
	view := viewWebhookSubscription(*sub)
	view.Secret = secret
	c.JSON(http.StatusCreated, view)
}

// webhookEvents validates a subscription's events, dropping repeats.
func webhookEvents(names []string) ([]string, error) {
	if len(names) == 0 || len(names) > maxWebhookEvents {
		return nil, Invalid(
			"events",
			"name 1 to %d events such as invitation.active, reseller.* or *",
			maxWebhookEvents,
		)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if !knownEvent(n) {
			kinds := slices.Sorted(maps.Keys(webhookEventStatuses()))
			return nil, Invalid(
				"events",
				"unknown event %q: use <kind>.<status> such as invitation.active, <kind>.* or *; the kinds are %s",
				n,
				strings.Join(kinds, ", "),
			)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (s *Server) listWebhookSubscriptions(c *gin.Context) {
	subs, err := s.store.WebhookSubscriptions(c.Request.Context(), s.flows.PartnerID)
	if err != nil {
		writeError(c, err)
		return
	}
	items := make([]webhookSubscriptionView, len(subs))
	for i, sub := range subs {
		items[i] = viewWebhookSubscription(sub)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) deleteWebhookSubscription(c *gin.Context) {
	err := s.store.RevokeWebhookSubscription(c.Request.Context(), s.flows.PartnerID, c.Param("id"))
	if errors.Is(err, models.ErrNotFound) {
		p := problemNotFound()
		p.Detail = "no webhook subscription with this ID"
		writeProblem(c, p)
		return
	}
	if err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// webhookDeliveryView is one entry of the delivery log.
type webhookDeliveryView struct {
	ID             string          `json:"id"`
	SubscriptionID string          `json:"subscriptionId"`
	EventType      string          `json:"eventType"`
	EventID        string          `json:"eventId"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	LastError      string          `json:"lastError,omitempty"`
	NextAttemptAt  *time.Time      `json:"nextAttemptAt,omitempty"`
	DeliveredAt    *time.Time      `json:"deliveredAt,omitempty"`
	CreatedAt      time.Time       `json:"createdAt"`
	Payload        json.RawMessage `json:"payload"`
}

// viewWebhookDelivery shows a delivery with the URLs in its error cut to scheme and host: admin
// agents read the log, but only global admins may see where subscriptions post.
func viewWebhookDelivery(d models.WebhookDelivery) webhookDeliveryView {
	v := webhookDeliveryView{
		ID:             d.ID,
		SubscriptionID: d.SubscriptionID,
		EventType:      d.EventType,
		EventID:        d.EventID,
		Status:         d.Status,
		Attempts:       d.Attempts,
		LastError:      redactURLs(d.LastError),
		CreatedAt:      d.CreatedAt.UTC(),
		Payload:        json.RawMessage(d.Payload),
	}
	if d.Status == models.WebhookPending {
		next := d.NextAttemptAt.UTC()
		v.NextAttemptAt = &next
	}
	if d.DeliveredAt != nil {
		at := d.DeliveredAt.UTC()
		v.DeliveredAt = &at
	}
	return v
}

// urlInText finds http and https URLs in free text: the scheme, any user information, the host,
// then any path, query or fragment.
var urlInText = regexp.MustCompile(`(?i)\b(https?://)(?:[^/?#\s"'<>\\@]*@)?([^/?#\s"'<>\\@]+)([/?#][^\s"'<>\\]*)?`)

// redactURLs keeps only the scheme and host of every URL in text, such as a failed attempt's
// error, which names the URL posted to (and any it was redirected to): a receiver's path and
// query often carry a token.
func redactURLs(text string) string {
	return urlInText.ReplaceAllStringFunc(text, func(u string) string {
		m := urlInText.FindStringSubmatch(u)
		if m[3] == "" {
			return m[1] + m[2]
		}
		return m[1] + m[2] + "/…"
	})
}

// listWebhookDeliveries serves the delivery log, newest first.
func (s *Server) listWebhookDeliveries(c *gin.Context) {
	f := models.WebhookDeliveryFilter{
		PartnerID:      s.flows.PartnerID,
		SubscriptionID: c.Query("subscription"),
		Limit:          defaultListLimit,
		Cursor:         c.Query("cursor"),
	}
	var err error
	if f.Status, err = statusQuery(c, models.WebhookDeliveryStatuses); err != nil {
		writeError(c, err)
		return
	}
	if f.Limit, err = limitQuery(c, f.Limit, maxListLimit); err != nil {
		writeError(c, err)
		return
	}
	items, next, err := s.store.WebhookDeliveries(c.Request.Context(), f)
	if err != nil {
		writeError(c, err)
		return
	}
	views := make([]webhookDeliveryView, len(items))
	for i, d := range items {
		views[i] = viewWebhookDelivery(d)
	}
	c.JSON(http.StatusOK, gin.H{"items": views, "nextCursor": next})
}

// retryWebhookDelivery sends a failed delivery again, with a fresh schedule of attempts.
func (s *Server) retryWebhookDelivery(c *gin.Context) {
	d, err := s.store.RetryWebhookDelivery(c.Request.Context(), s.flows.PartnerID, c.Param("id"))
	switch {
	case errors.Is(err, models.ErrNotFound):
		p := problemNotFound()
		p.Detail = "no webhook delivery with this ID"
		writeProblem(c, p)
	case errors.Is(err, models.ErrConflict):
		writeProblem(c, NewProblem(
			http.StatusConflict,
			"webhook-delivery-not-retryable",
			"The delivery cannot be retried",
			"only a failed delivery of a subscription that still exists can be retried",
		))
	case err != nil:
		writeError(c, err)
	default:
		c.JSON(http.StatusOK, viewWebhookDelivery(*d))
	}
}
