package api

import (
	"context"
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

// webhookOutcome is what processing one event did: the result stored with the event and the
// answer Partner Center gets.
type webhookOutcome struct {
	signalled int
	result    string
	problem   *Problem
	err       error
}

// partnerCenterWebhook receives a Partner Center event. Only a verified event is stored, and it
// is stored before it is processed, so every event that reached a workflow is on record.
// Events are hints: the workflows confirm them with the service, so a repeated event is
// harmless and Partner Center's retries need no deduplication here.
func (s *Server) partnerCenterWebhook(c *gin.Context) {
	if s.flows.Webhooks == nil {
		writeProblem(c, problemUnavailable("Partner Center webhooks are not configured"))
		return
	}
	body, ok := readBody(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ev, err := s.flows.Webhooks.Verify(ctx, c.Request.Header, body)
	if err != nil {
		writeProblem(c, NewProblem(http.StatusUnauthorized, "webhook-signature", "The event is not signed by Partner Center", err.Error()))
		return
	}
	row := &models.WebhookEvent{
		EventName: ev.EventName, ResourceURI: ev.ResourceURI, ResourceName: ev.ResourceName, Body: string(body),
	}
	if !ev.ResourceChangeUtcDate.IsZero() {
		row.ChangedAt = ev.ResourceChangeUtcDate.UTC().Format(time.RFC3339)
	}
	if err := s.store.SaveWebhookEvent(ctx, row); err != nil {
		fail(c, fmt.Errorf("store webhook event %s: %w", ev.EventName, err))
		return
	}
	out := s.routeWebhookEvent(ctx, ev)
	if err := s.store.FinishWebhookEvent(context.WithoutCancel(ctx), row.ID, out.result); err != nil {
		s.logger.ErrorContext(ctx, "record webhook event result", "event_id", row.ID, "result", out.result, "error", err)
	}
	if out.err != nil {
		c.Set(ctxError, out.err)
	}
	if out.problem != nil {
		writeProblem(c, out.problem)
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
	return route(ctx, workflows.PartnerCenterEvent{EventName: ev.EventName, ResourceID: lastPathSegment(ev.ResourceURI)})
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
