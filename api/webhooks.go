package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/workflows"
)

// eventRoute takes a verified Partner Center event to the workflows it concerns. Each flow's
// API file registers a route for every event its descriptor lists (workflows.Flow.Events).
type eventRoute func(ctx context.Context, signal workflows.PartnerCenterEvent) webhookOutcome

// routeEvents registers the routes of a flow's events.
func (s *Server) routeEvents(routes map[string]eventRoute) {
	for name, route := range routes {
		s.eventRoutes[name] = route
	}
}

// webhookOutcome is what processing one event did: the result stored with the event and, when
// err is set, the error Partner Center is answered with.
type webhookOutcome struct {
	signalled int
	result    string
	err       error
}

// WebhookReplayWindow is how old a Partner Center event may be, by its ResourceChangeUtcDate:
// an older one is refused, so a captured event cannot be played back later. Within the window
// the SHA-256 of the body makes each event count once. Events are hints the flows confirm with
// the service, and they poll too, so an event Partner Center retries after a longer outage is
// not lost: its change is seen at the next poll.
const WebhookReplayWindow = time.Hour

// partnerCenterWebhook receives a Partner Center event. Only a verified event is stored, and it
// is stored before it is processed, so every event that reached a workflow is on record.
//
// An event whose body was accepted before (Partner Center's retry, or someone replaying it) is
// answered 200 with "duplicate": true and nothing signalled, so Partner Center stops retrying.
// An event older than WebhookReplayWindow, or without a date, is refused (400 webhook-stale)
// and not stored. Callers whose signature does not verify learn no more than that: why (a
// certificate fetch's DNS or TLS error, a wrong key) goes to the log.
func (s *Server) partnerCenterWebhook(c *gin.Context) {
	if s.flows.Webhooks == nil {
		writeProblem(c, problemUnavailable("Partner Center webhooks are not configured"))
		return
	}
	body, ok := readBody(c)
	if !ok {
		return
	}
	// Certificate fetches are budgeted per source too, so one sender cannot spend them all.
	ctx := partnercenter.WithWebhookSource(c.Request.Context(), clientKey(c))
	ev, err := s.flows.Webhooks.Verify(ctx, c.Request.Header, body)
	if err != nil {
		s.logger.WarnContext(
			ctx,
			"Partner Center webhook refused",
			"request_id", c.GetString(ctxRequestID),
			"error", err,
		)
		writeProblem(c, NewProblem(
			http.StatusUnauthorized,
			"webhook-signature",
			"The event is not signed by Partner Center",
			"the signature, its certificate or the certificate URL did not verify",
		))
		return
	}
	changed := ev.ResourceChangeUtcDate.UTC()
	if changed.IsZero() || s.flows.Now().Sub(changed) > WebhookReplayWindow {
		s.logger.WarnContext(ctx, "stale Partner Center webhook refused", "request_id", c.GetString(ctxRequestID),
			"event", ev.EventName, "resource", ev.ResourceURI, "changed_at", changed)
		writeProblem(c, NewProblem(
			http.StatusBadRequest,
			"webhook-stale",
			"The event is too old",
			fmt.Sprintf(
				"events dated more than %s ago (ResourceChangeUtcDate) are refused as replays",
				WebhookReplayWindow,
			),
		))
		return
	}
	sum := sha256.Sum256(body)
	first, err := s.store.ClaimWebhookReceipt(ctx, sum, changed, WebhookReplayWindow)
	if err != nil {
		writeError(c, err)
		return
	}
	if !first {
		c.JSON(http.StatusOK, gin.H{"received": true, "duplicate": true, "signalled": 0})
		return
	}
	release := func() {
		if err := s.store.ReleaseWebhookReceipt(context.WithoutCancel(ctx), sum); err != nil {
			s.logger.ErrorContext(ctx, "release webhook receipt", "error", err)
		}
	}
	row := &models.WebhookEvent{
		EventName: ev.EventName, ResourceURI: ev.ResourceURI, ResourceName: ev.ResourceName, Body: string(body),
		ChangedAt: changed.Format(time.RFC3339),
	}
	if err := s.store.SaveWebhookEvent(ctx, row); err != nil {
		release()
		writeError(c, fmt.Errorf("store webhook event %s: %w", ev.EventName, err))
		return
	}
	out := s.routeWebhookEvent(ctx, ev)
	if err := s.store.FinishWebhookEvent(context.WithoutCancel(ctx), row.ID, out.result); err != nil {
		s.logger.ErrorContext(
			ctx,
			"record webhook event result",
			"event_id", row.ID,
			"result", out.result,
			"error", err,
		)
	}
	if out.err != nil {
		if p := problemFor(out.err); p == nil || p.Status >= http.StatusInternalServerError {
			// Partner Center retries; the retry must be processed, not taken for a duplicate.
			release()
		}
		writeError(c, out.err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"received": true, "signalled": out.signalled})
}

// routeWebhookEvent signals the workflows an event concerns; an event no flow waits for is
// stored and ignored.
func (s *Server) routeWebhookEvent(ctx context.Context, ev partnercenter.WebhookEvent) webhookOutcome {
	route, ok := s.eventRoutes[ev.EventName]
	if !ok {
		return webhookOutcome{result: "ignored"}
	}
	return route(
		ctx,
		workflows.PartnerCenterEvent{EventName: ev.EventName, ResourceID: lastPathSegment(ev.ResourceURI)},
	)
}

func (s *Server) signalWorkflow(ctx context.Context, workflowID string, signal workflows.PartnerCenterEvent) error {
	if s.temporal == nil {
		return errors.New("signal workflow: Temporal is not configured")
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := s.temporal.SignalWorkflow(ctx, workflowID, "", workflows.SignalPartnerCenterEvent, signal); err != nil {
		return fmt.Errorf("signal %s to %s: %w", signal.EventName, workflowID, err)
	}
	return nil
}

// lastPathSegment is the ID at the end of a resource URI such as
// https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships/<id>.
func lastPathSegment(uri string) string {
	p := uri
	if u, err := url.Parse(uri); err == nil {
		p = u.Path
	}
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndex(p, "/")+1:]
}
