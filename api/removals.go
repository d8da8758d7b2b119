package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/workflows"
)

// removals is the API's side of the partnership removal flow.
var removals = flowAPI[models.Removal, workflows.RemovalState]{
	desc:         workflows.RemovalFlow,
	statuses:     models.RemovalStatuses,
	searchColumn: models.RemovalSearchColumn,
	partnerOf:    func(r *models.Removal) string { return r.PartnerID },
	workflowOf:   func(r *models.Removal) string { return r.WorkflowID },
}

const (
	removalIDPrefix  = "rem_"
	maxAttestedBy    = 200
	deliveryPageSize = 100
)

var deliveryStatuses = []string{models.DeliveryPending, models.DeliveryDelivered, models.DeliveryFailed}

// removalRegistration is everything the engine needs of the partnership removal flow.
var removalRegistration = flowRegistration{
	desc:     removals.desc,
	statuses: removals.statuses,
	open:     models.RemovalOpen,
	section:  navLink{Key: models.KindRemoval + "s", Label: "Removals", Path: "/removals"},
	routes:   (*Server).removalRoutes,
	overview: overviewOf[models.Removal](flowOverview{
		Kind:     models.KindRemoval,
		Title:    "Partnership removals",
		ListPath: "/removals",
		Noun:     "removal",
		Nouns:    "removals",
		Statuses: removals.statuses,
		Funnel: []funnelStep{
			{"attested", "Attested"},
			{"partnership-ended", "Partnership ended"},
			{"planned", "Recipients listed"},
			{"completed", "Everyone told"},
		},
		DoneStep:  "completed",
		DoneLabel: "Median time to tell everyone",
		NoneDone:  "No removal finished yet.",
	}),
	mailKinds:         []string{notify.KindRemovalReseller, notify.KindRemovalCustomer},
	closeNeverStarted: removals.closeNeverStarted,
	benchKind:         "removal",
}

// removalRoutes registers the removal flow's JSON API and dashboard pages.
func (s *Server) removalRoutes(root, v1 *gin.RouterGroup) {
	partnering, reader := keyRule(partnershipRoles...), keyRule(anyRole...)
	s.handle(v1, "POST", "/resellers/:id/removal", partnering, s.createRemoval)
	s.handle(v1, "GET", "/removals", reader, listHandler(s, removals, viewRemoval))
	s.handle(v1, "GET", "/removals/:id", reader, detailHandler(s, removals, s.removalDetail))
	s.handle(v1, "GET", "/removals/:id/steps", reader, stepsHandler(s, removals))
	s.handle(v1, "GET", "/removals/:id/deliveries", reader, s.listRemovalDeliveries)
	s.handle(v1, "POST", "/removals/:id/retry", partnering, s.retryRemoval)
	s.removalPages(root)
}

type createRemovalRequest struct {
	Attestation *bool  `json:"attestation"`
	AttestedBy  string `json:"attestedBy"`
}

// createRemoval removes an active reseller partnership. Partner Center asks the provider for a
// good-faith attestation before it removes a partnership; partnerflow requires the same and
// keeps it as evidence: who attested, with which key, from which address, when.
func (s *Server) createRemoval(c *gin.Context) {
	var req createRemovalRequest
	if !bindJSON(c, &req) {
		return
	}
	attestedBy, err := removalAttestation(req)
	if err != nil {
		writeError(c, err)
		return
	}
	reseller, ok := resellers.load(c, s)
	if !ok {
		return
	}
	rm, err := s.startRemoval(c, reseller, attestedBy)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/v1/removals/"+rm.ID)
	c.JSON(
		http.StatusAccepted,
		gin.H{"id": rm.ID, "status": rm.Status, "workflowId": rm.WorkflowID, "resellerId": rm.ResellerID},
	)
}

// removalAttestation checks the good-faith attestation Partner Center asks for and returns who
// attests.
func removalAttestation(req createRemovalRequest) (string, error) {
	if req.Attestation == nil || !*req.Attestation {
		return "", Invalid(
			"attestation",
			"must be true: you attest in good faith that you may end this partnership, as Partner Center requires",
		)
	}
	attestedBy := strings.TrimSpace(req.AttestedBy)
	if attestedBy == "" || utf8.RuneCountInString(attestedBy) > maxAttestedBy {
		return "", Invalid("attestedBy", "must name the person who attests, 1 to %d characters", maxAttestedBy)
	}
	return attestedBy, nil
}

// startRemoval removes an active partnership, keeping the attestation (who, the caller's key,
// its IP, when) as evidence, as the API and the dashboard's form both take it.
func (s *Server) startRemoval(c *gin.Context, reseller *models.Reseller, attestedBy string) (*models.Removal, error) {
	if reseller.Status != models.ResellerActive {
		p := NewProblem(http.StatusConflict, "reseller-not-active", "The reseller is not active",
			"the partnership is "+reseller.Status+"; only an active partnership can be removed")
		if reseller.Status == models.ResellerRemoved {
			// A retry after a lost answer: point at the removal that ended the partnership.
			if rm, err := s.store.LatestRemoval(c.Request.Context(), reseller.ID); err == nil {
				p.Location = "/v1/removals/" + rm.ID
			}
		}
		return nil, p
	}
	now := s.flows.Now().UTC()
	keyID := ""
	if key := callerKey(c); key != nil {
		keyID = key.ID
	}
	rm := &models.Removal{
		ID:               newFlowID(removalIDPrefix),
		PartnerID:        s.flows.PartnerID,
		ResellerID:       reseller.ID,
		ResellerTenantID: reseller.TenantID,
		ResellerName:     reseller.CompanyName,
		Status:           models.RemovalNotifying,
		AttestedBy:       attestedBy,
		AttestedKeyID:    keyID,
		AttestedIP:       c.ClientIP(),
		AttestedAt:       now,
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	rm.WorkflowID = workflows.RemovalWorkflowID(rm.ID)
	in := workflows.RemovalInput{
		RemovalID:        rm.ID,
		PartnerID:        rm.PartnerID,
		ResellerID:       rm.ResellerID,
		ResellerTenantID: rm.ResellerTenantID,
	}
	s.flows.Removal.configureRemoval(&in)
	insert := func(ctx context.Context, with ...models.With) (string, error) {
		open, err := s.store.CreateRemoval(ctx, rm, with...)
		if errors.Is(err, models.ErrConflict) && open != nil {
			return "/v1/removals/" + open.ID, err
		}
		return "", err
	}
	attested := models.WithStep(models.FlowStep{
		FlowKind:       models.KindRemoval,
		FlowID:         rm.ID,
		Name:           "attested",
		Detail:         fmt.Sprintf("by %s with API key %s from %s", attestedBy, keyID, rm.AttestedIP),
		IdempotencyKey: rm.ID + "/attested",
		At:             now,
	})
	err := removals.start(c.Request.Context(), s, rm, rm.WorkflowID, in, removalAttributes(rm), insert, attested)
	if err != nil {
		return nil, err
	}
	return rm, nil
}

func removalAttributes(rm *models.Removal) startAttributes {
	return flowAttributes(rm.PartnerID, models.RemovalNotifying, "", rm.ResellerTenantID)
}

// configureRemoval applies the configured delivery policy to a removal's input.
func (c RemovalConfig) configureRemoval(in *workflows.RemovalInput) {
	in.MaxAttempts, in.InitialInterval = c.DeliveryAttempts, c.DeliveryRetryInterval
}

// retryRemoval sends a finished removal's failed deliveries again.
func (s *Server) retryRemoval(c *gin.Context) {
	rm, ok := removals.load(c, s)
	if !ok {
		return
	}
	if rm.Status == models.RemovalNotifying {
		writeProblem(c, removals.problemOpen("/v1/removals/"+rm.ID))
		return
	}
	ctx := c.Request.Context()
	in := workflows.RemovalInput{
		RemovalID:        rm.ID,
		PartnerID:        rm.PartnerID,
		ResellerID:       rm.ResellerID,
		ResellerTenantID: rm.ResellerTenantID,
		Retry:            true,
	}
	s.flows.Removal.configureRemoval(&in)
	// The deliveries become pending and the command that runs the workflow again is recorded
	// in one transaction, so a crash between them leaves nothing pending that nobody delivers.
	cmd, err := newStartCommand(removals.desc, rm.ID, rm.WorkflowID, in, removalAttributes(rm))
	if err != nil {
		writeError(c, err)
		return
	}
	cmd.Name = models.StartAgain
	n, err := s.store.RetryFailedDeliveries(ctx, models.KindRemoval, rm.ID, models.WithCommand(cmd))
	if err != nil {
		writeError(c, err)
		return
	}
	if n == 0 {
		writeProblem(c, removals.problemClosed("no delivery of this removal has failed; there is nothing to retry"))
		return
	}
	if err := s.perform(ctx, cmd, in); err != nil {
		s.logger.WarnContext(ctx, "the removal's deliveries are retried later", "id", rm.ID, "error", err)
	}
	c.JSON(http.StatusAccepted, gin.H{"id": rm.ID, "retried": n})
}

// removalView is a removal as the API shows it.
type removalView struct {
	ID               string                 `json:"id"`
	Status           string                 `json:"status"`
	ResellerID       string                 `json:"resellerId"`
	ResellerTenantID string                 `json:"resellerTenantId"`
	ResellerName     string                 `json:"resellerName"`
	WorkflowID       string                 `json:"workflowId"`
	Attestation      attestationView        `json:"attestation"`
	FailureReason    string                 `json:"failureReason,omitempty"`
	CreatedAt        time.Time              `json:"createdAt"`
	UpdatedAt        time.Time              `json:"updatedAt"`
	Recipients       *models.DeliveryCounts `json:"recipients,omitempty"`
	// StillListed says Microsoft still lists the partnership (live state only).
	StillListed *bool          `json:"stillListedAtMicrosoft,omitempty"`
	Deliveries  []deliveryView `json:"deliveries,omitempty"`
	// DeliveriesNextCursor continues the deliveries at .../deliveries.
	DeliveriesNextCursor string `json:"deliveriesNextCursor,omitempty"`
	timeline
	Live bool `json:"live"`
}

type attestationView struct {
	AttestedBy string    `json:"attestedBy"`
	KeyID      string    `json:"keyId"`
	ClientIP   string    `json:"clientIp"`
	At         time.Time `json:"at"`
}

type deliveryView struct {
	ID          int64      `json:"id"`
	Channel     string     `json:"channel"`
	Recipient   string     `json:"recipient"`
	Name        string     `json:"name,omitempty"`
	Role        string     `json:"role"`
	Language    string     `json:"language"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"lastError,omitempty"`
	DeliveredAt *time.Time `json:"deliveredAt,omitempty"`
}

func viewRemoval(rm *models.Removal) removalView {
	return removalView{
		ID:               rm.ID,
		Status:           rm.Status,
		ResellerID:       rm.ResellerID,
		ResellerTenantID: rm.ResellerTenantID,
		ResellerName:     rm.ResellerName,
		WorkflowID:       rm.WorkflowID,
		FailureReason:    rm.FailureReason,
		CreatedAt:        rm.CreatedAt.UTC(),
		UpdatedAt:        rm.UpdatedAt.UTC(),
		Attestation: attestationView{
			AttestedBy: rm.AttestedBy,
			KeyID:      rm.AttestedKeyID,
			ClientIP:   rm.AttestedIP,
			At:         rm.AttestedAt.UTC(),
		},
	}
}

func viewDeliveries(ds []models.Delivery) []deliveryView {
	out := make([]deliveryView, len(ds))
	for i, d := range ds {
		out[i] = deliveryView{
			ID:          d.ID,
			Channel:     d.Channel,
			Recipient:   d.Recipient,
			Name:        d.RecipientName,
			Role:        d.Role,
			Language:    d.Language,
			Status:      d.Status,
			Attempts:    d.Attempts,
			LastError:   redactURLs(d.LastError),
			DeliveredAt: d.DeliveredAt,
		}
	}
	return out
}

// removalDetailView is the removal with its recipients' counts, the first deliveries, a page of
// its timeline and its live state.
func (s *Server) removalDetailView(
	ctx context.Context,
	rm *models.Removal,
	cursor string,
	live *workflows.RemovalState,
) (removalView, error) {
	v := viewRemoval(rm)
	if live == nil {
		if st, ok := removals.state(ctx, s, rm); ok {
			live = &st
		}
	}
	counts, err := s.store.CountDeliveries(ctx, models.KindRemoval, rm.ID)
	if err != nil {
		return v, fmt.Errorf("count the deliveries of removal %s: %w", rm.ID, err)
	}
	v.Recipients = &counts
	ds, next, err := s.store.ListDeliveries(ctx, models.KindRemoval, rm.ID, "", 0, deliveryPageSize)
	if err != nil {
		return v, fmt.Errorf("deliveries of removal %s: %w", rm.ID, err)
	}
	v.Deliveries = viewDeliveries(ds)
	if next != 0 {
		v.DeliveriesNextCursor = strconv.FormatInt(next, 10)
	}
	if v.timeline, err = removals.timeline(ctx, s, rm.ID, cursor, timelinePage); err != nil {
		return v, fmt.Errorf("timeline of removal %s: %w", rm.ID, err)
	}
	if live != nil {
		v.Live, v.StillListed = true, &live.StillListed
		if live.Status != "" {
			v.Status = live.Status
		}
	}
	return v, nil
}

func (s *Server) removalDetail(ctx context.Context, rm *models.Removal, live *workflows.RemovalState) (any, error) {
	return s.removalDetailView(ctx, rm, "", live)
}

// listRemovalDeliveries pages through a removal's delivery records, optionally of one status.
func (s *Server) listRemovalDeliveries(c *gin.Context) {
	rm, ok := removals.load(c, s)
	if !ok {
		return
	}
	status, err := statusQuery(c, deliveryStatuses)
	if err != nil {
		writeError(c, err)
		return
	}
	var after int64
	if cur := c.Query("cursor"); cur != "" {
		n, err := strconv.ParseInt(cur, 10, 64)
		if err != nil || n < 0 {
			writeProblem(c, Invalid("cursor", "the cursor is not one this API returned"))
			return
		}
		after = n
	}
	limit, err := limitQuery(c, deliveryPageSize, maxListLimit)
	if err != nil {
		writeError(c, err)
		return
	}
	ds, next, err := s.store.ListDeliveries(c.Request.Context(), models.KindRemoval, rm.ID, status, after, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	cursor := ""
	if next != 0 {
		cursor = strconv.FormatInt(next, 10)
	}
	c.JSON(http.StatusOK, gin.H{"items": viewDeliveries(ds), "nextCursor": cursor})
}

// removalPages registers the removal flow's dashboard pages.
// removalNotices are the outcomes the removal page reports.
var removalNotices = map[string]string{
	"created": "The partnership is removed; partnerflow is telling the reseller, its customers and your systems.",
}

func (s *Server) removalPages(root *gin.RouterGroup) {
	s.removalFormRoutes(root)
	s.handle(root, "GET", "/removals", sessionRule(), dashboardList(s, removals, listPage{
		Heading: "Partnership removals", Path: "/removals", TableID: "removals", Empty: "No removals",
		Columns: []string{"Reseller", "Status", "Attested by", "Created"}, SearchLabel: "Reseller name",
	}, func(rm *models.Removal, now time.Time) listRow {
		return listRow{
			ID:     rm.ID,
			Link:   "/removals/" + rm.ID,
			Title:  rm.ResellerName,
			Status: rm.Status,
			Cells:  []string{rm.AttestedBy, agoText(now, rm.CreatedAt)},
		}
	}))
	s.handle(root, "GET", "/removals/:id", sessionRule(), func(c *gin.Context) {
		rm, ok := dashboardLoad(c, s, removals)
		if !ok {
			return
		}
		v, err := s.removalDetailView(c.Request.Context(), rm, c.Query("steps"), nil)
		if err != nil {
			writeError(c, err)
			return
		}
		now := s.flows.Now()
		frame := s.dashboardFrame(c, "Removal of "+rm.ResellerName)
		frame.Nav = models.KindRemoval + "s"
		page := detailPage{
			pageFrame: frame,
			BackURL:   "/removals",
			BackLabel: "Removals",
			Heading:   "Removal of " + v.ResellerName,
			Status:    v.Status,
			Live:      v.Live,
			Starting:  v.startingText(),
			Notice:    dashboardNotice(removalNotices, c),
		}
		page.Facts = []fact{
			{
				Label:    "Reseller",
				Value:    v.ResellerName,
				Link:     "/resellers/" + v.ResellerID,
				LinkID:   "reseller-link",
				LinkText: "partnership",
			},
			{
				Label: "Attested by",
				ID:    "attested-by",
				Value: v.Attestation.AttestedBy,
				Note: "with API key " + v.Attestation.KeyID + " from " + v.Attestation.ClientIP + " on " +
					v.Attestation.At.Format(stepTimeLayout),
			},
			createdFact(now, v.CreatedAt), s.workflowFact(v.WorkflowID),
		}
		if v.StillListed != nil && *v.StillListed {
			page.LiveFacts = []fact{{
				Label: "Partner Center",
				ID:    "still-listed",
				Err:   true,
				Value: "still lists the partnership: remove it in Partner Center (Indirect resellers); there is no " +
					"API for it",
			}}
		}
		page.Progress = newProgress(*v.Recipients)
		for _, d := range v.Deliveries {
			if d.Status == models.DeliveryFailed {
				page.Facts = append(
					page.Facts,
					fact{Label: "Failed: " + d.Recipient, Value: redactURLs(d.LastError), Err: true},
				)
			}
		}
		page.withTimeline("/removals/"+rm.ID, v.timeline)
		s.renderPage(c, http.StatusOK, "detail", page)
	})
}
