package api

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageTemplates holds each page parsed together with the shared layout.
var pageTemplates = parsePages("accept", "message", "list", "detail", "overview", "partnership", "agreement", "evidence", "connection")

func parsePages(names ...string) map[string]*template.Template {
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.New(n).Funcs(pageFuncs).ParseFS(templateFS, "templates/base.html", "templates/"+n+".html"))
	}
	return out
}

// pageFuncs are the functions every page may call: t looks up a customer page's string in a
// language ({{t .Lang "accept.heading" .PartnerName .CustomerDomain}}).
var pageFuncs = template.FuncMap{"t": translate}

// Limits of what the pages record and show.
const (
	maxUserAgent = 200
)

// pageFrame is what the shared layout needs from every page.
type pageFrame struct {
	Title string
	Brand string
	// Lang is the page's language (<html lang>); empty means English.
	Lang string
	// User is the signed-in operator's key name on dashboard pages; empty on customer pages.
	User string
	// Menu is the dashboard's navigation (on dashboard pages); Nav is the key of the one
	// this page belongs to.
	Menu []navLink
	Nav  string
	// ConnectionNeeded shows the dashboard's banner asking a global admin to connect Partner
	// Center, which flows that need App+User calls wait for.
	ConnectionNeeded bool
}

// navLink is one section of the dashboard's navigation: the overview, then one per flow kind.
type navLink struct {
	Key, Label, Path string
}

// renderPage writes an HTML page.
func (s *Server) renderPage(c *gin.Context, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pageTemplates[name].ExecuteTemplate(&buf, "base", data); err != nil {
		writeError(c, fmt.Errorf("render the %s page: %w", name, err))
		return
	}
	pageHeaders(c)
	c.Status(status)
	_, _ = c.Writer.Write(buf.Bytes())
}

// pageHeaders are the headers of every HTML page. They keep the customer's link, which carries
// a token, out of Referer headers sent to Microsoft's pages and out of caches, and the page out
// of other sites' frames, where a visitor could be tricked into clicking.
func pageHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
}

// messagePage is a page that only says something: an error or a closed door.
type messagePage struct {
	pageFrame
	Heading string
	Message string
}

// writePageProblem answers err as problem+json to JSON clients and as a page to browsers.
func (s *Server) writePageProblem(c *gin.Context, err error, asJSON bool, frame pageFrame) {
	if asJSON {
		writeError(c, err)
		return
	}
	p := answer(c, err)
	frame.Title = p.Title
	s.renderPage(c, p.Status, "message", messagePage{pageFrame: frame, Heading: p.Title, Message: p.Detail})
	c.Abort()
}

// wantsJSON reports whether the client asked for JSON rather than a page.
func wantsJSON(c *gin.Context) bool {
	return strings.Contains(c.GetHeader("Accept"), "application/json")
}

func (s *Server) customerFrame() pageFrame {
	brand := s.shownPartnerName()
	if brand == "" {
		brand = "partnerflow"
	}
	return pageFrame{Brand: brand}
}

// invitationFromLink checks the link's token and finds its invitation. The token names the
// invitation it was made for, so one customer's link never opens another's invitation.
// The page in the customer's language says the same as the English problem JSON clients get.
func (s *Server) invitationFromLink(c *gin.Context, asJSON bool) (*models.Invitation, bool) {
	lang := s.customerLanguage(c)
	refuse := func(status int, slug, key string) (*models.Invitation, bool) {
		p := NewProblem(status, slug, translate("en", key+".title"), translate("en", key+".detail", s.partnerName()))
		if !asJSON {
			p = NewProblem(status, slug, translate(lang, key+".title"), translate(lang, key+".detail", s.localPartnerName(lang)))
		}
		p.Instance = "/accept" // never echo the token
		s.writePageProblem(c, p, asJSON, s.customerPageFrame(c, lang))
		return nil, false
	}
	id, err := s.links.Verify(links.PurposeAcceptInvitation, c.Param("token"), s.flows.Now())
	switch {
	case errors.Is(err, links.ErrExpired):
		return refuse(http.StatusGone, "link-expired", "link.expired")
	case err != nil:
		return refuse(http.StatusBadRequest, "invalid-link", "link.invalid")
	}
	inv, err := invitations.find(c.Request.Context(), s, id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return refuse(http.StatusNotFound, "not-found", "link.gone")
	case err != nil:
		writeError(c, fmt.Errorf("find the invitation of a customer link: %w", err))
		return nil, false
	}
	return inv, true
}

// customerPageFrame is the frame of a customer page in lang, which it announces in the
// Content-Language header as well.
func (s *Server) customerPageFrame(c *gin.Context, lang string) pageFrame {
	c.Header("Content-Language", lang)
	frame := s.customerFrame()
	frame.Lang = lang
	return frame
}

// shownPartnerName is the partner's name as customers see it (connection.PartnerName): the
// configured one, or else the company name the Partner Center connection read from the
// partner's profile; "" when neither is known.
func (s *Server) shownPartnerName() string {
	if s.connection == nil {
		return s.flows.PartnerName
	}
	return connection.PartnerName(s.flows.PartnerName, s.connection.CompanyName())
}

// localPartnerName is the partner's name, or "your partner" in lang when none is known.
func (s *Server) localPartnerName(lang string) string {
	if name := s.shownPartnerName(); name != "" {
		return name
	}
	return translate(lang, "partner.unknown")
}

func (s *Server) partnerName() string {
	if name := s.shownPartnerName(); name != "" {
		return name
	}
	return "your partner"
}

// acceptPage is the customer's landing page.
type acceptPage struct {
	pageFrame
	PartnerName    string
	CustomerDomain string
	Roles          []string
	Duration       string
	AutoExtend     bool
	ExpiresAt      string
	ExpiresIn      string
	Status         string
	StatusText     string
	// AdminAccess says the invitation asks for admin roles; without, the page shows the reseller
	// step alone.
	AdminAccess bool
	// Portal is where the customer accepts, as the page's sentences name it ("in the Microsoft
	// 365 admin center", or the Office admin portal for US Government).
	Portal           string
	Done             bool
	Closed           bool
	ResellerAccepted bool
	GDAPApproved     bool
	RelationshipURL  string
	GDAPApprovalURL  string
	UPN              string
	UPNError         string
	// Languages offer the page in the other languages.
	Languages []languageLink
}

// acceptState is the landing page's content for JSON clients.
type acceptState struct {
	Status                 string    `json:"status"`
	PartnerName            string    `json:"partnerName"`
	CustomerDomain         string    `json:"customerDomain"`
	AdminAccess            bool      `json:"adminAccess"`
	Cloud                  string    `json:"cloud"`
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
		AdminAccess: inv.AdminAccess, Cloud: cloudOf(inv),
	}
	for _, r := range rolesOf(inv) {
		st.Roles = append(st.Roles, r.Name)
	}
	live, ok := invitations.liveState(c.Request.Context(), s, inv)
	if !ok {
		return st
	}
	if live.Status != "" {
		st.Status = live.Status
	}
	st.ResellerAccepted, st.GDAPApproved = live.ResellerAccepted, live.GDAPApproved
	if models.InvitationOpen(st.Status) {
		st.RelationshipRequestURL, st.GDAPApprovalURL = s.relationshipLink(inv, live.RelationshipRequestURL), live.GDAPApprovalURL
	}
	return st
}

// customerStatusText says in lang where an invitation stands, for its customer.
func customerStatusText(lang, status string) string {
	if text := translate(lang, "status."+status); text != "status."+status {
		return text
	}
	return status
}

// acceptPageOf is the landing page in lang.
func (s *Server) acceptPageOf(c *gin.Context, lang string, inv *models.Invitation, st acceptState) acceptPage {
	frame := s.customerPageFrame(c, lang)
	frame.Title = translate(lang, "accept.title", inv.CustomerDomain)
	now := s.flows.Now()
	return acceptPage{
		pageFrame: frame, PartnerName: s.localPartnerName(lang), CustomerDomain: st.CustomerDomain, Roles: st.Roles,
		Duration: localCount(lang, st.DurationDays, "day"), AutoExtend: st.AutoExtend,
		ExpiresAt: localDateTime(lang, st.ExpiresAt), ExpiresIn: localUntil(lang, now, st.ExpiresAt),
		Status: st.Status, StatusText: customerStatusText(lang, st.Status), Done: st.Status == models.InvitationActive,
		AdminAccess: st.AdminAccess, Portal: translate(lang, "accept.portal."+st.Cloud),
		Closed:           !models.InvitationOpen(st.Status) && st.Status != models.InvitationActive,
		ResellerAccepted: st.ResellerAccepted, GDAPApproved: st.GDAPApproved,
		RelationshipURL: st.RelationshipRequestURL, GDAPApprovalURL: st.GDAPApprovalURL,
		Languages: languageLinks,
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
	// At most one "opened" step per link, client and hour, however often the page is loaded.
	if err := s.recordLinkStep(c, models.KindInvitation, inv.ID, "opened", detail, openedStepKey(c, inv.ID, "opened", now), now, maxOpenedSteps); err != nil {
		s.logger.ErrorContext(c.Request.Context(), "record that an invitation was opened", "invitation_id", inv.ID, "error", err)
	}
	st := s.customerState(c, inv)
	if asJSON {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, st)
		return
	}
	s.renderPage(c, http.StatusOK, "accept", s.acceptPageOf(c, s.customerLanguage(c), inv, st))
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
	lang := s.customerLanguage(c)
	if !models.InvitationOpen(inv.Status) {
		p := invitations.problemClosed("This invitation is " + inv.Status + "; there is nothing left to accept.")
		if !asJSON {
			p.Title, p.Detail = translate(lang, "invitation.closed.title"), translate(lang, "invitation.closed.detail", customerStatusText(lang, inv.Status))
		}
		s.writePageProblem(c, p, asJSON, s.customerPageFrame(c, lang))
		return
	}
	if !validEmail(upn) || !strings.HasSuffix(upn, "@"+inv.CustomerDomain) {
		p := Invalid("upn", "use your administrator account of %s, such as admin@%s", inv.CustomerDomain, inv.CustomerDomain)
		if asJSON {
			writeProblem(c, p)
			return
		}
		page := s.acceptPageOf(c, lang, inv, s.customerState(c, inv))
		page.UPN, page.UPNError = req.UPN, translate(lang, "accept.upn.error", inv.CustomerDomain)
		s.renderPage(c, http.StatusBadRequest, "accept", page)
		return
	}
	now := s.flows.Now().UTC()
	detail := "upn=" + upn + " ip=" + c.ClientIP() + " ua=" + truncate(c.Request.UserAgent(), maxUserAgent)
	// A customer's repeated posts are recorded once per UPN.
	key := inv.ID + "/acknowledged/" + upn
	if err := s.recordLinkStep(c, models.KindInvitation, inv.ID, "acknowledged", detail, key, now, maxAcknowledgedSteps); err != nil {
		writeError(c, fmt.Errorf("record the acknowledgement of invitation %s: %w", inv.ID, err))
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
