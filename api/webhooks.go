package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/workflows"
)

// gdapEvents are the Partner Center events about a GDAP relationship, which names the one
// invitation that created it.
var gdapEvents = []string{
	partnercenter.EventGDAPApproved, partnercenter.EventGDAPActivated,
	partnercenter.EventGDAPTerminated, partnercenter.EventGDAPExpired,
}

// maxHintedInvitations caps how many pending invitations one reseller-acceptance event wakes.
const maxHintedInvitations = 500

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

// routeWebhookEvent signals the workflows an event concerns.
func (s *Server) routeWebhookEvent(ctx context.Context, ev partnercenter.WebhookEvent) webhookOutcome {
	resourceID := lastPathSegment(ev.ResourceURI)
	signal := workflows.PartnerCenterEvent{EventName: ev.EventName, ResourceID: resourceID}
	switch {
	case slices.Contains(gdapEvents, ev.EventName):
		return s.signalGDAPInvitation(ctx, signal)
	case ev.EventName == partnercenter.EventResellerRelationshipAccepted:
		return s.signalPendingInvitations(ctx, signal)
	}
	return webhookOutcome{result: "ignored"}
}

// signalGDAPInvitation signals the invitation that created the event's GDAP relationship.
func (s *Server) signalGDAPInvitation(ctx context.Context, signal workflows.PartnerCenterEvent) webhookOutcome {
	inv, err := s.store.InvitationByGDAP(ctx, signal.ResourceID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && inv.PartnerID != s.flows.PartnerID) {
		detail := fmt.Sprintf("no invitation created GDAP relationship %q", signal.ResourceID)
		return webhookOutcome{
			result:  "refused: " + detail,
			problem: NewProblem(http.StatusNotFound, "unknown-resource", "Unknown resource", detail),
		}
	}
	if err != nil {
		err = fmt.Errorf("find the invitation of GDAP relationship %s: %w", signal.ResourceID, err)
		return webhookOutcome{result: "failed: " + err.Error(), problem: problemInternal(), err: err}
	}
	err = s.signalInvitation(ctx, inv.WorkflowID, signal)
	var finished *serviceerror.NotFound
	switch {
	case errors.As(err, &finished):
		// An active invitation has handed its relationship to the GDAP watch.
		if s.signalInvitation(ctx, workflows.GDAPWatchWorkflowID(signal.ResourceID), signal) == nil {
			return webhookOutcome{signalled: 1, result: "signalled the GDAP watch of invitation " + inv.ID}
		}
		return webhookOutcome{result: "ignored: the workflow of invitation " + inv.ID + " has finished"}
	case err != nil:
		return webhookOutcome{result: "failed: " + err.Error(), problem: problemUnavailable("the invitation's workflow could not be signalled; retry"), err: err}
	}
	return webhookOutcome{signalled: 1, result: "signalled invitation " + inv.ID}
}

// signalPendingInvitations passes a reseller acceptance to every pending invitation: before
// acceptance no invitation knows the customer's tenant, so each workflow checks with the
// service whether the acceptance was its own.
func (s *Server) signalPendingInvitations(ctx context.Context, signal workflows.PartnerCenterEvent) webhookOutcome {
	pending, err := s.pendingInvitations(ctx)
	if err != nil {
		return webhookOutcome{result: "failed: " + err.Error(), problem: problemInternal(), err: err}
	}
	var (
		out  webhookOutcome
		errs []error
	)
	var finished *serviceerror.NotFound
	for _, inv := range pending {
		err := s.signalInvitation(ctx, inv.WorkflowID, signal)
		switch {
		case errors.As(err, &finished):
		case err != nil:
			errs = append(errs, err)
		default:
			out.signalled++
		}
	}
	out.result = fmt.Sprintf("signalled %d of %d pending invitations", out.signalled, len(pending))
	if err := errors.Join(errs...); err != nil {
		out.result = fmt.Sprintf("failed: %s; %v", out.result, err)
		out.problem, out.err = problemUnavailable("some invitations' workflows could not be signalled; retry"), err
	}
	return out
}

// pendingInvitations returns up to maxHintedInvitations of the partner's pending invitations.
func (s *Server) pendingInvitations(ctx context.Context) ([]models.Invitation, error) {
	var all []models.Invitation
	f := models.ListFilter{PartnerID: s.flows.PartnerID, Status: models.InvitationPending}
	for len(all) < maxHintedInvitations {
		f.Limit = min(maxListLimit, maxHintedInvitations-len(all))
		page, next, err := models.List[models.Invitation](ctx, s.store, f)
		if err != nil {
			return nil, fmt.Errorf("list pending invitations: %w", err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return all, nil
}

func (s *Server) signalInvitation(ctx context.Context, workflowID string, signal workflows.PartnerCenterEvent) error {
	if s.temporal == nil {
		return errors.New("signal invitation workflow: Temporal is not configured")
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
