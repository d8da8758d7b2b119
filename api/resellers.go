package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/workflows"
)

// resellers is the API's side of the indirect reseller partnership flow.
var resellers = flowAPI[models.Reseller, workflows.ResellerState]{
	desc:         workflows.ResellerFlow,
	statuses:     models.ResellerStatuses,
	searchColumn: models.ResellerSearchColumn,
	partnerOf:    func(r *models.Reseller) string { return r.PartnerID },
	workflowOf:   func(r *models.Reseller) string { return r.WorkflowID },
}

// Input limits of a partnership request.
const (
	maxCompanyName   = 200
	resellerIDPrefix = "res_"
)

// mpnPattern is a PartnerID (formerly MPN ID): digits.
var mpnPattern = regexp.MustCompile(`^[0-9]{5,10}$`)

// resellerRegistration is everything the engine needs of the reseller partnership flow.
var resellerRegistration = flowRegistration{
	desc:     resellers.desc,
	statuses: resellers.statuses,
	open:     models.ResellerOpen,
	section:  navLink{Key: models.KindReseller + "s", Label: "Resellers", Path: "/resellers"},
	routes:   (*Server).resellerRoutes,
	links: []linkPage{{path: "/partner/:token",
		show: func(s *Server) gin.HandlerFunc { return s.showPartnershipPage },
		post: func(s *Server) gin.HandlerFunc { return s.acknowledgePartnership }}},
	overview: overviewOf[models.Reseller](flowOverview{
		Kind:     models.KindReseller,
		Title:    "Resellers",
		ListPath: "/resellers",
		Noun:     "partnership request",
		Nouns:    "partnership requests",
		Statuses: resellers.statuses,
		Funnel: []funnelStep{
			{"sent", "Sent"}, {"opened", "Link opened"}, {"authorized", "Authorized"}, {"verified", "Verified"},
		},
		DoneStep:  "authorized",
		DoneLabel: "Median time to authorize",
		NoneDone:  "No reseller authorized yet.",
		// A partnership imported from Partner Center was never sent: it counts in the statuses,
		// not in the requests' funnel and their time to authorize.
		only: []string{"f.source = '" + models.ResellerSourceRequest + "'"},
	}),
	mailKinds: []string{notify.KindResellerInvitation, notify.KindResellerReminder, notify.KindResellerResend,
		notify.KindResellerEscalation, notify.KindResellerVerified, notify.KindResellerVerificationFailed},
	closeNeverStarted: resellers.closeNeverStarted,
	benchKind:         "reseller",
}

// resellerRoutes registers the partnership flow's JSON API and dashboard pages.
func (s *Server) resellerRoutes(root, v1 *gin.RouterGroup) {
	partnering, reader := keyRule(partnershipRoles...), keyRule(anyRole...)
	s.handle(v1, "POST", "/resellers", partnering, s.createReseller)
	s.handle(v1, "GET", "/resellers", reader, listHandler(s, resellers, s.viewReseller))
	s.handle(v1, "GET", "/resellers/:id", reader, detailHandler(s, resellers, s.resellerDetail))
	s.handle(v1, "GET", "/resellers/:id/steps", reader, stepsHandler(s, resellers))
	s.handle(
		v1,
		"POST",
		"/resellers/:id/resend",
		partnering,
		updateHandler(s, resellers, workflows.UpdateResend, resendArg, s.resellerDetail),
	)
	s.handle(
		v1,
		"POST",
		"/resellers/:id/cancel",
		partnering,
		updateHandler(s, resellers, workflows.UpdateCancel, cancelArg, s.resellerDetail),
	)
	s.handle(
		v1,
		"POST",
		"/resellers/:id/verify",
		partnering,
		updateHandler(s, resellers, workflows.UpdateVerify, verifyArg, s.resellerDetail),
	)
	s.resellerPages(root)
}

func verifyArg(c *gin.Context) (any, bool) {
	return workflows.VerifyRequest{By: callerName(c)}, true
}

type createResellerRequest struct {
	Email        string `json:"email"`
	CompanyName  string `json:"companyName"`
	MPNID        string `json:"mpnId"`
	Language     string `json:"language"`
	ContactEmail string `json:"contactEmail"`
}

// resellerInput checks a request completely, before anything is written or started.
func (s *Server) resellerInput(req createResellerRequest) (workflows.ResellerInput, error) {
	in := workflows.ResellerInput{
		ResellerStart: models.ResellerStart{PartnerID: s.flows.PartnerID},
		Policy:        s.flows.Wait,
	}
	// The estate sync lists the provider's indirect resellers every pass and tells the request
	// whose reseller appeared.
	in.Policy.NoPolling = in.Policy.NoPolling || s.flows.EstateSynced
	in.Email = strings.ToLower(strings.TrimSpace(req.Email))
	if !validEmail(in.Email) {
		return in, Invalid("email", "must be the reseller contact's e-mail address, such as admin@adatum.com")
	}
	in.CompanyName = strings.TrimSpace(req.CompanyName)
	if in.CompanyName == "" || utf8.RuneCountInString(in.CompanyName) > maxCompanyName {
		return in, Invalid(
			"companyName",
			"must be the reseller's company name as in Partner Center, 1 to %d characters",
			maxCompanyName,
		)
	}
	in.MPNID = strings.TrimSpace(req.MPNID)
	if in.MPNID != "" && !mpnPattern.MatchString(in.MPNID) {
		return in, Invalid("mpnId", "must be the reseller's PartnerID (MPN ID): 5 to 10 digits")
	}
	lang, err := s.requestLanguage(req.Language)
	if err != nil {
		return in, err
	}
	in.Language = lang
	in.ContactEmail = strings.TrimSpace(req.ContactEmail)
	if in.ContactEmail == "" {
		in.ContactEmail = s.flows.ContactEmail
	} else if !validEmail(in.ContactEmail) {
		return in, Invalid("contactEmail", "must be an e-mail address")
	}
	return in, nil
}

// requestLanguage validates a request's language for messages, defaulting to the configured one.
func (s *Server) requestLanguage(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return s.flows.DefaultLanguage, nil
	}
	lang, ok := notify.ParseLanguage(raw)
	if !ok {
		return "", Invalid(
			"language",
			"unsupported language %q: use one of %s",
			raw,
			strings.Join(notify.Languages(), ", "),
		)
	}
	return lang, nil
}

// createReseller records a partnership request and starts its workflow.
func (s *Server) createReseller(c *gin.Context) {
	var req createResellerRequest
	if !bindJSON(c, &req) {
		return
	}
	r, err := s.startReseller(c.Request.Context(), req)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/v1/resellers/"+r.ID)
	c.JSON(http.StatusCreated, gin.H{
		"id":         r.ID,
		"status":     r.Status,
		"workflowId": r.WorkflowID,
		"landingUrl": s.partnershipURL(r),
		"expiresAt":  r.ExpiresAt,
	})
}

// startReseller checks a partnership request as the API and the dashboard's form both take it,
// records it and starts its workflow; the error is the problem to answer with.
func (s *Server) startReseller(ctx context.Context, req createResellerRequest) (*models.Reseller, error) {
	in, err := s.resellerInput(req)
	if err != nil {
		return nil, err
	}
	now := s.flows.Now().UTC()
	r := &models.Reseller{
		ID: newFlowID(resellerIDPrefix), PartnerID: in.PartnerID, CompanyName: in.CompanyName, Email: in.Email,
		Language: in.Language, MPNID: in.MPNID, Status: models.ResellerPending,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.flows.Reseller.ExpireAfter),
	}
	r.WorkflowID = workflows.ResellerWorkflowID(r.ID)
	in.ResellerID, in.ExpiresAt = r.ID, r.ExpiresAt
	insert := func(ctx context.Context, with ...models.With) (string, error) {
		open, err := s.store.CreateReseller(ctx, r, with...)
		if errors.Is(err, models.ErrConflict) && open != nil {
			return "/v1/resellers/" + open.ID, err
		}
		return "", err
	}
	attrs := flowAttributes(in.PartnerID, models.ResellerPending, "", "")
	if err := resellers.start(ctx, s, r, r.WorkflowID, in, attrs, insert); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Server) partnershipURL(r *models.Reseller) string {
	return s.links.PartnershipURL(s.flows.BaseURL, r.ID, r.ExpiresAt)
}

// resellerView is a partnership as the API shows it.
type resellerView struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	CompanyName   string `json:"companyName"`
	Email         string `json:"email"`
	Language      string `json:"language"`
	MPNID         string `json:"mpnId,omitempty"`
	TenantID      string `json:"tenantId,omitempty"`
	Location      string `json:"location,omitempty"`
	FailureCode   string `json:"failureCode,omitempty"`
	FailureReason string `json:"failureReason,omitempty"`
	RemindersSent int    `json:"remindersSent"`
	// Source is where the partnership came from: "request" or "partner-center" (imported by the
	// estate sync; it has no contact, landing link or expiry).
	Source     string     `json:"source"`
	WorkflowID string     `json:"workflowId"`
	LandingURL string     `json:"landingUrl,omitempty"`
	VerifiedAt *time.Time `json:"verifiedAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	timeline
	// Live says whether Authorized came from the workflow (flowAPI.state).
	Live       bool  `json:"live"`
	Authorized *bool `json:"authorized,omitempty"`
}

func (s *Server) viewReseller(r *models.Reseller) resellerView {
	v := resellerView{
		ID:            r.ID,
		Status:        r.Status,
		CompanyName:   r.CompanyName,
		Email:         r.Email,
		Language:      r.Language,
		MPNID:         r.MPNID,
		TenantID:      r.TenantID,
		Location:      r.Location,
		FailureCode:   r.FailureCode,
		FailureReason: r.FailureReason,
		RemindersSent: r.RemindersSent,
		Source:        firstOf(r.Source, models.ResellerSourceRequest),
		WorkflowID:    r.WorkflowID,
		VerifiedAt:    r.VerifiedAt,
		CreatedAt:     r.CreatedAt.UTC(),
		UpdatedAt:     r.UpdatedAt.UTC(),
	}
	// An imported partnership was never requested: nobody got a link, nothing expires.
	if v.Source == models.ResellerSourceRequest {
		expires := r.ExpiresAt.UTC()
		v.LandingURL, v.ExpiresAt = s.partnershipURL(r), &expires
	}
	return v
}

// resellerView with a page of its timeline and the live state.
func (s *Server) resellerDetailView(
	ctx context.Context,
	r *models.Reseller,
	cursor string,
	live *workflows.ResellerState,
) (resellerView, error) {
	v := s.viewReseller(r)
	if live == nil {
		if st, ok := resellers.state(ctx, s, r); ok {
			live = &st
		}
	}
	tl, err := resellers.timeline(ctx, s, r.ID, cursor, timelinePage)
	if err != nil {
		return v, fmt.Errorf("timeline of reseller %s: %w", r.ID, err)
	}
	v.timeline = tl
	if live != nil {
		v.Live, v.Authorized = true, &live.Authorized
		// A finished workflow still answers with its last state; a removal may have ended the
		// partnership since, so the live status counts only while the request is open.
		if live.Status != "" && models.ResellerOpen(r.Status) {
			v.Status = live.Status
		}
		if live.FailureReason != "" {
			v.FailureCode, v.FailureReason = live.FailureCode, live.FailureReason
		}
		v.MPNID, v.TenantID, v.Location = firstOf(live.MPNID, v.MPNID), firstOf(live.TenantID, v.TenantID),
			firstOf(live.Location, v.Location)
		v.RemindersSent = max(v.RemindersSent, live.RemindersSent)
	}
	return v, nil
}

func (s *Server) resellerDetail(ctx context.Context, r *models.Reseller, live *workflows.ResellerState) (any, error) {
	return s.resellerDetailView(ctx, r, "", live)
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkIndirectReseller refuses naming a reseller that is not an active partner of the
// provider, with the reason as an invalid field.
func (s *Server) checkIndirectReseller(ctx context.Context, field, tenantID string) (*models.Reseller, error) {
	r, err := s.store.ActiveReseller(ctx, s.flows.PartnerID, tenantID)
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, models.ErrNotFound) {
		return nil, err
	}
	latest, err := s.store.LatestResellerByTenant(ctx, s.flows.PartnerID, tenantID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return nil, Invalid(
			field,
			"%s is not one of your indirect resellers: partner with it first (POST /v1/resellers)",
			tenantID,
		)
	case err != nil:
		return nil, err
	case latest.Status == models.ResellerVerificationFailed:
		return nil, Invalid(
			field,
			"reseller %s failed verification (%s: %s): it cannot be named until it is verified",
			latest.CompanyName,
			latest.FailureCode,
			latest.FailureReason,
		)
	}
	return nil, Invalid(
		field,
		"reseller %s is %s, not active: only an active, verified reseller can be named",
		latest.CompanyName,
		latest.Status,
	)
}

// newFlowID returns a random flow ID with the kind's prefix.
func newFlowID(prefix string) string {
	return prefix + randomHex(8)
}

// The reseller's landing page: what the provider asks, where to authorize it at Microsoft, and a
// form to give the reseller's PartnerID, which lets partnerflow recognise the authorization.

type partnershipPage struct {
	pageFrame
	PartnerName     string
	CompanyName     string
	Status          string
	StatusText      string
	ExpiresAt       string
	AuthorizeURL    string
	Open            bool
	Done            bool
	MPNID           string
	MPNError        string
	Acknowledged    bool
	VerifyingReason string
}

// partnershipLink is the reseller's link to the partnership page.
var partnershipLink = customerLink{
	purpose:  links.PurposeResellerPartnership,
	instance: "/partner",
	catalog:  "partnership.link",
}

// partnershipPageOf is the landing page in the reseller's language: the link's ?lang=, the
// browser's, or the default.
func (s *Server) partnershipPageOf(c *gin.Context, r *models.Reseller) partnershipPage {
	lang := s.customerLanguage(c)
	frame := s.customerPageFrame(c, lang)
	frame.Title = translate(lang, "partnership.title", r.CompanyName)
	return partnershipPage{
		pageFrame: frame, PartnerName: s.localPartnerName(lang), CompanyName: r.CompanyName, Status: r.Status,
		StatusText: translate(lang, "partnership.status."+r.Status),
		ExpiresAt:  notify.FormatDate(lang, r.ExpiresAt.UTC()), AuthorizeURL: s.flows.Reseller.PartnershipURL,
		Open: r.Status == models.ResellerPending, Done: r.Status == models.ResellerActive, MPNID: r.MPNID,
		VerifyingReason: r.FailureReason,
	}
}

// showPartnershipPage renders the reseller's landing page and records that it was opened.
func (s *Server) showPartnershipPage(c *gin.Context) {
	asJSON := wantsJSON(c)
	r, ok := rowFromLink(s, c, resellers, partnershipLink, asJSON)
	if !ok {
		return
	}
	now := s.flows.Now().UTC()
	detail := "ip=" + c.ClientIP() + " ua=" + truncate(c.Request.UserAgent(), maxUserAgent)
	key := openedStepKey(c, r.ID, "opened", now)
	if err := s.recordLinkStep(c, models.KindReseller, r.ID, "opened", detail, key, now, maxOpenedSteps); err != nil {
		s.logger.ErrorContext(
			c.Request.Context(),
			"record that a partnership request was opened",
			"reseller_id", r.ID,
			"error", err,
		)
	}
	page := s.partnershipPageOf(c, r)
	if asJSON {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"status": r.Status, "partnerName": page.PartnerName, "companyName": r.CompanyName,
			"authorizeUrl": page.AuthorizeURL, "expiresAt": r.ExpiresAt.UTC(), "mpnId": r.MPNID})
		return
	}
	s.renderPage(c, http.StatusOK, "partnership", page)
}

// acknowledgePartnership records the PartnerID typed on the landing page (the first one kept,
// each one on the timeline). Anyone holding the link can type anything here, so it never
// identifies the reseller: the match needs the company that authorized the provider in Partner
// Center, and a PartnerID that disagrees with it stops the request for the provider's review.
func (s *Server) acknowledgePartnership(c *gin.Context) {
	jsonBody := c.ContentType() == "application/json"
	asJSON := jsonBody || wantsJSON(c)
	r, ok := rowFromLink(s, c, resellers, partnershipLink, asJSON)
	if !ok {
		return
	}
	var req struct {
		MPNID string `json:"mpnId"`
	}
	if jsonBody {
		if !bindJSON(c, &req) {
			return
		}
	} else {
		req.MPNID = c.PostForm("mpnId")
	}
	mpn := strings.TrimSpace(req.MPNID)
	if r.Status != models.ResellerPending {
		s.writePageProblem(
			c,
			resellers.problemClosed("This request is "+r.Status+"; there is nothing left to do here."),
			asJSON,
			s.customerFrame(),
		)
		return
	}
	if !mpnPattern.MatchString(mpn) {
		if asJSON {
			writeProblem(c, Invalid("mpnId", "must be your PartnerID (MPN ID): 5 to 10 digits"))
			return
		}
		page := s.partnershipPageOf(c, r)
		page.MPNID, page.MPNError = mpn, "mpn"
		s.renderPage(c, http.StatusBadRequest, "partnership", page)
		return
	}
	now := s.flows.Now().UTC()
	ctx := c.Request.Context()
	if r.MPNID == "" {
		if err := models.Record(
			ctx,
			s.store,
			models.KindReseller,
			r.ID,
			models.ResellerChange{Set: models.Reseller{MPNID: mpn}, At: now},
		); err != nil {
			writeError(c, err)
			return
		}
	}
	detail := "mpnId=" + mpn + " ip=" + c.ClientIP() + " ua=" + truncate(c.Request.UserAgent(), maxUserAgent)
	if err := s.recordLinkStep(
		c,
		models.KindReseller,
		r.ID,
		"acknowledged",
		detail,
		r.ID+"/acknowledged/"+mpn,
		now,
		maxAcknowledgedSteps,
	); err != nil {
		writeError(c, err)
		return
	}
	if asJSON {
		c.JSON(http.StatusOK, gin.H{"status": r.Status, "authorizeUrl": s.flows.Reseller.PartnershipURL})
		return
	}
	if s.flows.Reseller.PartnershipURL == "" {
		c.Redirect(http.StatusSeeOther, c.Request.URL.Path)
		return
	}
	c.Redirect(http.StatusSeeOther, s.flows.Reseller.PartnershipURL)
}

// resellerPages registers the partnership flow's dashboard pages and forms.
func (s *Server) resellerPages(root *gin.RouterGroup) {
	s.handle(root, "GET", "/resellers", sessionRule(), dashboardList(s, resellers, listPage{
		Heading: "Resellers", Path: "/resellers", TableID: "resellers", Empty: "No resellers",
		Columns: []string{"Reseller", "Status", "PartnerID", "Created"}, SearchLabel: "Company name",
		New:      &action{Path: newResellerPath, ID: "new-partnership", Label: "New partnership"},
		NewRoles: partnershipRoles,
	}, func(rs *models.Reseller, now time.Time) listRow {
		return listRow{
			ID:     rs.ID,
			Link:   "/resellers/" + rs.ID,
			Title:  rs.CompanyName,
			Status: rs.Status,
			Cells:  []string{firstOf(rs.MPNID, "—"), agoText(now, rs.CreatedAt)},
		}
	}))
	s.handle(root, "GET", "/resellers/:id", sessionRule(), func(c *gin.Context) {
		if rs, ok := dashboardLoad(c, s, resellers); ok {
			s.renderResellerPage(c, http.StatusOK, rs, dashboardNotice(resellerNotices, c))
		}
	})
	waitActions(root, s, resellers, "/resellers", partnershipRoles, s.renderResellerPage)
	s.handle(root, "POST", "/resellers/:id/verify", sessionRule(partnershipRoles...), dashboardAction(
		s,
		resellers,
		workflows.UpdateVerify,
		"verified",
		func(c *gin.Context) (any, error) { return workflows.VerifyRequest{By: callerName(c)}, nil },
		s.renderResellerPage,
	))
	s.resellerFormRoutes(root)
}

// resellerSourceText says on the dashboard where a partnership came from.
func resellerSourceText(source string) string {
	if source == models.ResellerSourcePartnerCenter {
		return "imported from Partner Center (authorized before partnerflow)"
	}
	return "partnership request"
}

var resellerNotices = map[string]string{
	"created":   "The partnership request is on its way: the reseller's mail is being sent.",
	"resent":    "The partnership request was sent again.",
	"cancelled": "The partnership request is cancelled.",
	"verified":  "The reseller was checked again; see its status.",
}

// renderResellerPage shows one partnership on the shared detail page.
func (s *Server) renderResellerPage(c *gin.Context, status int, rs *models.Reseller, notice string) {
	v, err := s.resellerDetailView(c.Request.Context(), rs, c.Query("steps"), nil)
	if err != nil {
		writeError(c, err)
		return
	}
	now := s.flows.Now()
	frame := s.dashboardFrame(c, rs.CompanyName)
	frame.Nav = models.KindReseller + "s"
	page := detailPage{
		pageFrame: frame,
		BackURL:   "/resellers",
		BackLabel: "Resellers",
		Heading:   v.CompanyName,
		Status:    v.Status,
		Notice:    notice,
		CSRF:      s.csrfToken(c),
		Live:      v.Live,
		Starting:  v.startingText(),
	}
	page.Facts = []fact{
		{Label: "Contact", Value: firstOf(v.Email, "none")}, {Label: "Language", Value: v.Language},
		{Label: "PartnerID", ID: "mpn-id", Value: firstOf(v.MPNID, "not known yet")},
		{Label: "Source", ID: "source", Value: resellerSourceText(v.Source)},
	}
	if v.TenantID != "" {
		page.Facts = append(
			page.Facts,
			fact{Label: "Reseller tenant", Value: v.TenantID, Code: true},
			fact{Label: "Location", Value: v.Location},
		)
	}
	if v.FailureReason != "" {
		label := "Verification"
		if v.Status == models.ResellerNeedsReview {
			label = "Needs your review"
		}
		page.Facts = append(page.Facts, fact{
			Label: label,
			ID:    "failure",
			Value: strings.TrimPrefix(v.FailureCode+": ", ": ") + v.FailureReason,
			Err:   true,
		})
	}
	page.Facts = append(page.Facts, createdFact(now, v.CreatedAt))
	if v.LandingURL != "" {
		page.Facts = append(
			page.Facts,
			fact{Label: "Reminders sent", Value: itoa(v.RemindersSent)},
			fact{Label: "Reseller's link", ID: "landing-url", Value: v.LandingURL, Code: true},
		)
	}
	page.Facts = append(page.Facts, s.workflowFact(v.WorkflowID))
	if v.Authorized != nil {
		page.LiveFacts = []fact{
			{Label: "Authorized at Microsoft", ID: "authorized", Value: consentText(v.Authorized, "yes")},
		}
	}
	base := "/resellers/" + rs.ID
	// Only an operator whose roles may work with resellers is offered the actions.
	mayAct := holdsRole(c, partnershipRoles...)
	switch {
	case !mayAct:
	case v.Status == models.ResellerPending:
		page.Actions = append(
			page.Actions,
			action{Path: base + "/resend", ID: "resend", Label: "Send the request again"},
		)
	case v.Status == models.ResellerVerificationFailed:
		page.Actions = append(page.Actions, action{Path: base + "/verify", ID: "verify", Label: "Verify again"})
	case v.Status == models.ResellerNeedsReview:
		page.Actions = append(page.Actions, action{Path: base + "/verify", ID: "verify", Label: "Check again"})
	}
	if mayAct && v.Status == models.ResellerActive {
		page.Actions = append(page.Actions, action{
			Path: base + "/removal", ID: "remove-partnership", Label: "Remove the partnership…",
			Danger: true, Link: true,
		})
	}
	if mayAct && models.ResellerOpen(v.Status) {
		page.Actions = append(
			page.Actions,
			action{Path: base + "/cancel", ID: "cancel", Label: "Cancel the request", Danger: true, Reason: true},
		)
	}
	page.withTimeline(base, v.timeline)
	s.renderPage(c, status, "detail", page)
}
