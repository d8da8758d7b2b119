package api

import (
	"bytes"
	"crypto/hmac"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageTemplates holds each page parsed together with the shared layout.
var pageTemplates = parsePages("accept", "message", "dashboard", "invitation")

func parsePages(names ...string) map[string]*template.Template {
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.ParseFS(templateFS, "templates/base.html", "templates/"+n+".html"))
	}
	return out
}

// Limits of what the pages record and show.
const (
	maxUserAgent      = 200
	dashboardPageSize = 20
)

// pageFrame is what the shared layout needs from every page.
type pageFrame struct {
	Title string
	Brand string
	// User is the signed-in operator's key name on dashboard pages; empty on customer pages.
	User string
}

// renderPage writes an HTML page. The headers keep the customer's link, which carries a token,
// out of Referer headers sent to Microsoft's pages and out of caches, and the page out of frames.
func (s *Server) renderPage(c *gin.Context, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pageTemplates[name].ExecuteTemplate(&buf, "base", data); err != nil {
		fail(c, fmt.Errorf("render the %s page: %w", name, err))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	c.Status(status)
	_, _ = c.Writer.Write(buf.Bytes())
}

// messagePage is a page that only says something: an error or a closed door.
type messagePage struct {
	pageFrame
	Heading string
	Message string
}

// writePageProblem answers p as problem+json to JSON clients and as a page to browsers.
func (s *Server) writePageProblem(c *gin.Context, p *Problem, asJSON bool, frame pageFrame) {
	if asJSON {
		writeProblem(c, p)
		return
	}
	frame.Title = p.Title
	s.renderPage(c, p.Status, "message", messagePage{pageFrame: frame, Heading: p.Title, Message: p.Detail})
	c.Abort()
}

// wantsJSON reports whether the client asked for JSON rather than a page.
func wantsJSON(c *gin.Context) bool {
	return strings.Contains(c.GetHeader("Accept"), "application/json")
}

func (s *Server) customerFrame() pageFrame {
	brand := s.flows.PartnerName
	if brand == "" {
		brand = "partnerflow"
	}
	return pageFrame{Brand: brand}
}

// invitationFromLink checks the link's token and finds its invitation. The token names the
// invitation it was made for, so one customer's link never opens another's invitation.
func (s *Server) invitationFromLink(c *gin.Context, asJSON bool) (*models.Invitation, bool) {
	refuse := func(p *Problem) (*models.Invitation, bool) {
		p.Instance = "/accept" // never echo the token
		s.writePageProblem(c, p, asJSON, s.customerFrame())
		return nil, false
	}
	id, err := s.links.Verify(links.PurposeAcceptInvitation, c.Param("token"), s.flows.Now())
	switch {
	case errors.Is(err, links.ErrExpired):
		return refuse(NewProblem(http.StatusGone, "link-expired", "This link has expired",
			"The invitation is no longer open. Ask "+s.partnerName()+" to send a new one."))
	case err != nil:
		return refuse(NewProblem(http.StatusBadRequest, "invalid-link", "This link is not valid",
			"The link is incomplete or was altered. Open it again from the invitation e-mail, or ask "+s.partnerName()+" for a new one."))
	}
	inv, err := s.store.Invitation(c.Request.Context(), id)
	if errors.Is(err, models.ErrNotFound) || (err == nil && inv.PartnerID != s.flows.PartnerID) {
		return refuse(NewProblem(http.StatusNotFound, "not-found", "This invitation no longer exists",
			"Ask "+s.partnerName()+" to send a new one if you still expect it."))
	}
	if err != nil {
		fail(c, fmt.Errorf("find the invitation of a customer link: %w", err))
		return nil, false
	}
	return inv, true
}

func (s *Server) partnerName() string {
	if s.flows.PartnerName == "" {
		return "your partner"
	}
	return s.flows.PartnerName
}

// acceptPage is the customer's landing page.
type acceptPage struct {
	pageFrame
	PartnerName      string
	CustomerDomain   string
	Roles            []string
	Duration         string
	AutoExtend       bool
	ExpiresAt        string
	ExpiresIn        string
	Status           string
	StatusText       string
	Done             bool
	Closed           bool
	ResellerAccepted bool
	GDAPApproved     bool
	RelationshipURL  string
	GDAPApprovalURL  string
	UPN              string
	UPNError         string
}

// acceptState is the landing page's content for JSON clients.
type acceptState struct {
	Status                 string    `json:"status"`
	PartnerName            string    `json:"partnerName"`
	CustomerDomain         string    `json:"customerDomain"`
	Roles                  []string  `json:"roles"`
	DurationDays           int       `json:"durationDays"`
	AutoExtend             bool      `json:"autoExtend"`
	ExpiresAt              time.Time `json:"expiresAt"`
	ResellerAccepted       bool      `json:"resellerAccepted"`
	GDAPApproved           bool      `json:"gdapApproved"`
	RelationshipRequestURL string    `json:"relationshipRequestUrl,omitempty"`
	GDAPApprovalURL        string    `json:"gdapApprovalUrl,omitempty"`
}

// customerState is what the customer may see: the record, with the workflow's live status and
// Microsoft links when it answers. Links are shown only while the invitation is open.
func (s *Server) customerState(c *gin.Context, inv *models.Invitation) acceptState {
	st := acceptState{
		Status: inv.Status, PartnerName: s.partnerName(), CustomerDomain: inv.CustomerDomain, DurationDays: inv.DurationDays,
		AutoExtend: inv.AutoExtend, ExpiresAt: inv.ExpiresAt.UTC(), Roles: []string{},
	}
	for _, r := range rolesOf(inv) {
		st.Roles = append(st.Roles, r.Name)
	}
	live, err := s.queryInvitation(c.Request.Context(), inv.WorkflowID)
	if err != nil {
		s.logger.WarnContext(c.Request.Context(), "customer page shown without live state", "invitation_id", inv.ID, "error", err)
		return st
	}
	if live.Status != "" {
		st.Status = live.Status
	}
	st.ResellerAccepted, st.GDAPApproved = live.ResellerAccepted, live.GDAPApproved
	if models.InvitationOpen(st.Status) {
		st.RelationshipRequestURL, st.GDAPApprovalURL = live.RelationshipRequestURL, live.GDAPApprovalURL
	}
	return st
}

var customerStatusText = map[string]string{
	models.InvitationPending:   "Waiting for your administrator to accept",
	models.InvitationAccepted:  "Reseller relationship accepted; the admin roles wait for approval",
	models.InvitationGranting:  "Approved; access is being set up",
	models.InvitationActive:    "All done",
	models.InvitationDeclined:  "This invitation was declined",
	models.InvitationExpired:   "This invitation has expired",
	models.InvitationCancelled: "This invitation was cancelled",
	models.InvitationFailed:    "This invitation could not be completed",
}

func (s *Server) acceptPageOf(inv *models.Invitation, st acceptState) acceptPage {
	frame := s.customerFrame()
	frame.Title = "Invitation for " + inv.CustomerDomain
	now := s.flows.Now()
	text := customerStatusText[st.Status]
	if text == "" {
		text = st.Status
	}
	return acceptPage{
		pageFrame: frame, PartnerName: st.PartnerName, CustomerDomain: st.CustomerDomain, Roles: st.Roles,
		Duration: plural(st.DurationDays, "day"), AutoExtend: st.AutoExtend,
		ExpiresAt: st.ExpiresAt.Format("2 January 2006, 15:04 UTC"), ExpiresIn: untilText(now, st.ExpiresAt),
		Status: st.Status, StatusText: text, Done: st.Status == models.InvitationActive,
		Closed:           !models.InvitationOpen(st.Status) && st.Status != models.InvitationActive,
		ResellerAccepted: st.ResellerAccepted, GDAPApproved: st.GDAPApproved,
		RelationshipURL: st.RelationshipRequestURL, GDAPApprovalURL: st.GDAPApprovalURL,
	}
}

// showAcceptPage renders the customer's landing page and records that it was opened.
func (s *Server) showAcceptPage(c *gin.Context) {
	asJSON := wantsJSON(c)
	inv, ok := s.invitationFromLink(c, asJSON)
	if !ok {
		return
	}
	now := s.flows.Now().UTC()
	detail := "ip=" + c.ClientIP() + " ua=" + truncate(c.Request.UserAgent(), maxUserAgent)
	key := inv.ID + "/opened/" + strconv.FormatInt(now.Unix(), 10)
	if err := s.store.AddInvitationStep(c.Request.Context(), inv.ID, "opened", detail, key, now); err != nil {
		s.logger.ErrorContext(c.Request.Context(), "record that an invitation was opened", "invitation_id", inv.ID, "error", err)
	}
	st := s.customerState(c, inv)
	if asJSON {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, st)
		return
	}
	s.renderPage(c, http.StatusOK, "accept", s.acceptPageOf(inv, st))
}

type acknowledgeRequest struct {
	UPN string `json:"upn"`
}

// acknowledgeAcceptance records who is about to accept at Microsoft, and sends them there.
// It is evidence of intent, not the acceptance: that happens in the Microsoft 365 admin
// center, and the workflow learns of it from Partner Center.
func (s *Server) acknowledgeAcceptance(c *gin.Context) {
	jsonBody := c.ContentType() == "application/json"
	asJSON := jsonBody || wantsJSON(c)
	inv, ok := s.invitationFromLink(c, asJSON)
	if !ok {
		return
	}
	var req acknowledgeRequest
	if jsonBody {
		if !bindJSON(c, &req) {
			return
		}
	} else {
		req.UPN = c.PostForm("upn")
	}
	upn := strings.ToLower(strings.TrimSpace(req.UPN))
	if !models.InvitationOpen(inv.Status) {
		s.writePageProblem(c, problemInvitationClosed("This invitation is "+inv.Status+"; there is nothing left to accept."), asJSON, s.customerFrame())
		return
	}
	if !validEmail(upn) || !strings.HasSuffix(upn, "@"+inv.CustomerDomain) {
		p := Invalid("upn", "use your administrator account of %s, such as admin@%s", inv.CustomerDomain, inv.CustomerDomain)
		if asJSON {
			writeProblem(c, p)
			return
		}
		page := s.acceptPageOf(inv, s.customerState(c, inv))
		page.UPN, page.UPNError = req.UPN, "Use your administrator account of "+inv.CustomerDomain+"."
		s.renderPage(c, http.StatusBadRequest, "accept", page)
		return
	}
	now := s.flows.Now().UTC()
	detail := "upn=" + upn + " ip=" + c.ClientIP() + " ua=" + truncate(c.Request.UserAgent(), maxUserAgent)
	key := inv.ID + "/acknowledged/" + strconv.FormatInt(now.Unix(), 10) + "/" + upn
	if err := s.store.AddInvitationStep(c.Request.Context(), inv.ID, "acknowledged", detail, key, now); err != nil {
		fail(c, fmt.Errorf("record the acknowledgement of invitation %s: %w", inv.ID, err))
		return
	}
	st := s.customerState(c, inv)
	if asJSON {
		c.JSON(http.StatusOK, gin.H{"status": st.Status, "relationshipRequestUrl": st.RelationshipRequestURL, "gdapApprovalUrl": st.GDAPApprovalURL})
		return
	}
	next := st.RelationshipRequestURL
	if st.ResellerAccepted {
		next = st.GDAPApprovalURL
	}
	if next == "" {
		// The links are still being prepared; the page says so.
		next = c.Request.URL.Path
	}
	c.Redirect(http.StatusSeeOther, next)
}

// requireSession lets signed-in operators through and sends anyone else to the sign-in page,
// to come back afterwards.
func (s *Server) requireSession(c *gin.Context) {
	key, err := s.keyFromRequest(c)
	if err != nil {
		c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
		c.Abort()
		return
	}
	c.Set(ctxAPIKey, key)
	c.Next()
}

func (s *Server) dashboardFrame(c *gin.Context, title string) pageFrame {
	return pageFrame{Title: title, Brand: "partnerflow", User: callerName(c)}
}

// dashboardRow is one invitation in the dashboard's list.
type dashboardRow struct {
	ID             string
	CustomerDomain string
	Status         string
	Age            string
	Expiry         string
}

type statusOption struct {
	Value    string
	Selected bool
}

type dashboardPage struct {
	pageFrame
	Rows     []dashboardRow
	Statuses []statusOption
	Status   string
	NextURL  string
	Notice   string
}

// dashboard lists the partner's invitations, newest first.
func (s *Server) dashboard(c *gin.Context) {
	page := dashboardPage{pageFrame: s.dashboardFrame(c, "Invitations")}
	f := models.InvitationFilter{PartnerID: s.flows.PartnerID, Limit: dashboardPageSize, Cursor: c.Query("cursor")}
	switch st := c.Query("status"); {
	case st == "":
	case slices.Contains(models.InvitationStatuses, st):
		f.Status = st
	default:
		page.Notice = "Unknown status " + strconv.Quote(st) + "; showing every invitation."
	}
	page.Status = f.Status
	for _, st := range models.InvitationStatuses {
		page.Statuses = append(page.Statuses, statusOption{Value: st, Selected: st == f.Status})
	}
	items, next, err := s.store.ListInvitations(c.Request.Context(), f)
	if errors.Is(err, models.ErrBadCursor) {
		page.Notice = "That page link is not valid; showing the first page."
		f.Cursor = ""
		items, next, err = s.store.ListInvitations(c.Request.Context(), f)
	}
	if err != nil {
		fail(c, err)
		return
	}
	now := s.flows.Now()
	for _, inv := range items {
		row := dashboardRow{ID: inv.ID, CustomerDomain: inv.CustomerDomain, Status: inv.Status, Age: agoText(now, inv.CreatedAt), Expiry: "—"}
		if models.InvitationOpen(inv.Status) {
			row.Expiry = untilText(now, inv.ExpiresAt)
		}
		page.Rows = append(page.Rows, row)
	}
	if next != "" {
		q := url.Values{"cursor": {next}}
		if f.Status != "" {
			q.Set("status", f.Status)
		}
		page.NextURL = "/?" + q.Encode()
	}
	s.renderPage(c, http.StatusOK, "dashboard", page)
}

// dashboardStep is one timeline entry as the dashboard shows it.
type dashboardStep struct {
	Name   string
	Detail string
	At     string
}

type invitationPage struct {
	pageFrame
	Invitation  invitationView
	Roles       []string
	Steps       []dashboardStep
	Created     string
	Expiry      string
	TemporalURL string
	// ResellerState and GDAPState say where the customer's two consents stand, when the
	// workflow answered.
	ResellerState string
	GDAPState     string
	// Notice reports the outcome of an action; CSRF, CanResend and CanCancel drive its forms.
	Notice    string
	CSRF      string
	CanResend bool
	CanCancel bool
}

// dashboardNotices are the outcomes a dashboard action reports after redirecting back; only
// these fixed texts are shown, never text taken from the URL.
var dashboardNotices = map[string]string{
	"resent":    "The invitation was sent again.",
	"cancelled": "The invitation is cancelled.",
}

// dashboardInvitation shows one invitation, its timeline and its live state.
func (s *Server) dashboardInvitation(c *gin.Context) {
	inv, ok := s.dashboardLoad(c)
	if !ok {
		return
	}
	s.renderInvitationPage(c, http.StatusOK, inv, dashboardNotices[c.Query("done")])
}

// dashboardLoad finds the partner's invitation named in the path, or answers a not-found page.
func (s *Server) dashboardLoad(c *gin.Context) (*models.Invitation, bool) {
	inv, err := s.store.Invitation(c.Request.Context(), c.Param("id"))
	if errors.Is(err, models.ErrNotFound) || (err == nil && inv.PartnerID != s.flows.PartnerID) {
		s.writePageProblem(c, problemInvitationNotFound(), false, s.dashboardFrame(c, "Not found"))
		return nil, false
	}
	if err != nil {
		fail(c, err)
		return nil, false
	}
	return inv, true
}

// csrfToken binds the dashboard's forms to the operator's session, so another site cannot make
// a signed-in operator's browser resend or cancel an invitation.
func (s *Server) csrfToken(c *gin.Context) string {
	session, _ := c.Cookie(SessionCookie)
	return s.sign("csrf", session)
}

// dashboardAction runs resend or cancel from the invitation page's forms, then shows the page
// again: redirected with the outcome on success, with the workflow's refusal otherwise.
func (s *Server) dashboardAction(update string) gin.HandlerFunc {
	return func(c *gin.Context) {
		inv, ok := s.dashboardLoad(c)
		if !ok {
			return
		}
		session, err := c.Cookie(SessionCookie)
		if err != nil || !hmac.Equal([]byte(c.PostForm("csrf")), []byte(s.sign("csrf", session))) {
			s.writePageProblem(c, problemForbidden("the form is stale or was not sent from the dashboard; reload the page and try again"), false, s.dashboardFrame(c, "Not allowed"))
			return
		}
		var arg any = workflows.ResendRequest{By: callerName(c)}
		done := "resent"
		if update == workflows.UpdateCancel {
			reason := strings.TrimSpace(c.PostForm("reason"))
			if utf8.RuneCountInString(reason) > maxCancelReason {
				reason = string([]rune(reason)[:maxCancelReason])
			}
			arg, done = workflows.CancelRequest{By: callerName(c), Reason: reason}, "cancelled"
		}
		if _, p := s.sendUpdate(c, inv, update, arg); p != nil {
			s.renderInvitationPage(c, p.Status, inv, p.Detail)
			return
		}
		c.Redirect(http.StatusSeeOther, "/invitations/"+url.PathEscape(inv.ID)+"?done="+done)
	}
}

func (s *Server) renderInvitationPage(c *gin.Context, status int, inv *models.Invitation, notice string) {
	v, err := s.detailedView(c.Request.Context(), inv)
	if err != nil {
		fail(c, err)
		return
	}
	now := s.flows.Now()
	page := invitationPage{
		pageFrame: s.dashboardFrame(c, inv.CustomerDomain), Invitation: v,
		Created: v.CreatedAt.Format(stepTimeLayout) + " (" + agoText(now, v.CreatedAt) + ")", Expiry: "—",
		TemporalURL: s.temporalURL(inv.WorkflowID), Notice: notice, CSRF: s.csrfToken(c),
		CanResend: v.Status == models.InvitationPending, CanCancel: models.InvitationOpen(v.Status),
	}
	if models.InvitationOpen(v.Status) {
		page.Expiry = v.ExpiresAt.Format(stepTimeLayout) + " (" + untilText(now, v.ExpiresAt) + ")"
	}
	page.ResellerState, page.GDAPState = consentText(v.ResellerAccepted, "accepted"), consentText(v.GDAPApproved, "approved")
	for _, r := range v.Roles {
		page.Roles = append(page.Roles, r.Name)
	}
	for _, st := range v.Steps {
		page.Steps = append(page.Steps, dashboardStep{Name: st.Name, Detail: st.Detail, At: st.At.Format(stepTimeLayout)})
	}
	s.renderPage(c, status, "invitation", page)
}

func consentText(given *bool, yes string) string {
	switch {
	case given == nil:
		return "unknown"
	case *given:
		return yes
	}
	return "waiting"
}

const stepTimeLayout = "2006-01-02 15:04:05 UTC"

// temporalURL is the workflow's page in the Temporal Web UI, or "" when no UI is configured.
func (s *Server) temporalURL(workflowID string) string {
	if s.flows.TemporalUIURL == "" {
		return ""
	}
	return strings.TrimRight(s.flows.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(s.flows.Namespace) +
		"/workflows/" + url.PathEscape(workflowID)
}

// untilText says how long until t: "expires in 12 days", or "expired".
func untilText(now, t time.Time) string {
	if !t.After(now) {
		return "expired"
	}
	return "expires in " + spanText(t.Sub(now))
}

// agoText says how long ago t was: "3 days ago".
func agoText(now, t time.Time) string {
	if now.Sub(t) < time.Minute {
		return "just now"
	}
	return spanText(now.Sub(t)) + " ago"
}

// spanText rounds a span down to its largest whole unit.
func spanText(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	}
	return "less than a minute"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// truncate cuts s to at most n characters without splitting one.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
