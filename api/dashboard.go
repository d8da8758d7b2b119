package api

import (
	"crypto/hmac"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// The dashboard is built from shared parts every flow kind fills: a list page (filter by status,
// search, paging), a detail page (facts, live state, action forms and the paged timeline), and
// the actions, which send the same validated updates as the JSON API.

// requireSession lets signed-in operators through and sends anyone else to the sign-in page,
// to come back afterwards. Bad bearer keys are throttled as on /v1.
func (s *Server) requireSession(c *gin.Context) {
	if s.bearerThrottled(c) {
		return
	}
	key, err := s.keyFromRequest(c)
	if err != nil {
		pageHeaders(c)
		c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
		c.Abort()
		return
	}
	c.Set(ctxAPIKey, key)
	c.Next()
}

func (s *Server) dashboardFrame(c *gin.Context, title string) pageFrame {
	return pageFrame{
		Title:            title,
		Brand:            "partnerflow",
		User:             callerName(c),
		Menu:             s.sections,
		ConnectionNeeded: s.connectionNeeded(c),
	}
}

// addSection adds a page that is no flow's (the connection) to the dashboard's navigation.
func (s *Server) addSection(key, label, path string) {
	s.sections = append(s.sections, navLink{Key: key, Label: label, Path: path})
}

// dashboardPageSize is how many flows a list page shows.
const dashboardPageSize = 20

// listRow is one flow in a list page: a link, its status badge, then the kind's own cells.
type listRow struct {
	ID     string
	Link   string
	Title  string
	Status string
	Cells  []string
}

type statusOption struct {
	Value    string
	Selected bool
}

// listPage is the shared list of one flow kind.
type listPage struct {
	pageFrame
	Heading string
	// Path is the list's own address; TableID names its table for tests and scripts.
	Path    string
	TableID string
	// Columns head the table: the title's, "Status", then one per cell.
	Columns  []string
	Rows     []listRow
	Statuses []statusOption
	Status   string
	Search   string
	// SearchLabel says what the search matches, such as "Customer domain".
	SearchLabel string
	NextURL     string
	Notice      string
	Empty       string
	// New is the form that starts a flow of the kind, offered to the roles NewRoles names.
	New      *action
	NewRoles []models.Role
}

// dashboardList serves a flow kind's list page. It reads the filter as the JSON API does; a
// bad filter becomes a notice and the unfiltered first page rather than an error page.
func dashboardList[R models.FlowRow, S any](
	s *Server,
	f flowAPI[R, S],
	page listPage,
	row func(r *R, now time.Time) listRow,
) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := page
		p.pageFrame = s.dashboardFrame(c, page.Heading)
		p.Nav = f.desc.Kind + "s"
		if !holdsRole(c, page.NewRoles...) {
			p.New = nil
		}
		lf, err := f.listFilter(c, s, dashboardPageSize)
		if bad := problemFor(err); bad != nil {
			p.Notice = "Ignored " + bad.Field + ": " + bad.Detail + "."
			lf = models.ListFilter{PartnerID: s.flows.PartnerID, Limit: dashboardPageSize, SearchColumn: f.searchColumn}
		}
		items, next, err := f.list(c.Request.Context(), s, lf)
		if errors.Is(err, models.ErrBadCursor) {
			p.Notice = "That page link is not valid; showing the first page."
			lf.Cursor = ""
			items, next, err = f.list(c.Request.Context(), s, lf)
		}
		if err != nil {
			writeError(c, err)
			return
		}
		p.Status, p.Search = lf.Status, lf.Search
		for _, st := range f.statuses {
			p.Statuses = append(p.Statuses, statusOption{Value: st, Selected: st == lf.Status})
		}
		now := s.flows.Now()
		for i := range items {
			p.Rows = append(p.Rows, row(&items[i], now))
		}
		if next != "" {
			q := url.Values{"cursor": {next}}
			if lf.Status != "" {
				q.Set("status", lf.Status)
			}
			if lf.Search != "" {
				q.Set("customer", lf.Search)
			}
			p.NextURL = page.Path + "?" + q.Encode()
		}
		s.renderPage(c, http.StatusOK, "list", p)
	}
}

// fact is one labelled value on a detail page: plain, code, a list, or an error, with an
// optional link after it.
type fact struct {
	Label string
	Value string
	ID    string
	Code  bool
	Err   bool
	List  []string
	// Note follows the value, such as a status in brackets.
	Note     string
	Link     string
	LinkID   string
	LinkText string
}

// action is a form on a detail page that sends one of the flow's updates.
type action struct {
	Path  string
	ID    string
	Label string
	// Danger marks an action that cannot be undone; Reason asks for an optional reason.
	Danger bool
	Reason bool
	// Link makes the action a link to a page of its own (a form that asks for more, such as an
	// attestation) instead of a form posted at once.
	Link bool
}

// stepRow is one timeline entry as the dashboard shows it.
type stepRow struct {
	Name   string
	Detail string
	At     string
}

// detailPage is the shared detail page of one flow.
type detailPage struct {
	pageFrame
	BackURL   string
	BackLabel string
	Heading   string
	Status    string
	Facts     []fact
	// Live says whether the workflow answered; LiveFacts are what it said.
	Live      bool
	LiveFacts []fact
	// Starting says the workflow has not started yet, and what happens next.
	Starting string
	Notice   string
	CSRF     string
	Actions  []action
	Steps    []stepRow
	// LaterSteps continues the timeline on the next page.
	LaterSteps string
	// Progress, when set, draws how far a flow's deliveries are.
	Progress *progress
}

// progress is a bar of deliveries: delivered, failed and pending shares of the total.
type progress struct {
	Counts                      models.DeliveryCounts
	DeliveredPct, FailedPct     int
	DeliveredWidth, FailedWidth string
}

func newProgress(c models.DeliveryCounts) *progress {
	p := &progress{Counts: c}
	if c.Total > 0 {
		p.DeliveredPct, p.FailedPct = int(c.Delivered*100/c.Total), int(c.Failed*100/c.Total)
		p.DeliveredWidth = strconv.FormatFloat(float64(c.Delivered)*100/float64(c.Total), 'f', 2, 64) + "%"
		p.FailedWidth = strconv.FormatFloat(float64(c.Failed)*100/float64(c.Total), 'f', 2, 64) + "%"
	}
	return p
}

const stepTimeLayout = "2006-01-02 15:04:05 UTC"

// withTimeline fills the page's timeline from a page of the flow's steps.
func (p *detailPage) withTimeline(path string, tl timeline) {
	for _, st := range tl.Steps {
		p.Steps = append(p.Steps, stepRow{Name: st.Name, Detail: st.Detail, At: st.At.Format(stepTimeLayout)})
	}
	if tl.NextCursor != "" {
		p.LaterSteps = path + "?" + url.Values{"steps": {tl.NextCursor}}.Encode()
	}
}

// dashboardLoad finds the partner's flow named in the path, or answers a not-found page.
func dashboardLoad[R models.FlowRow, S any](c *gin.Context, s *Server, f flowAPI[R, S]) (*R, bool) {
	row, err := f.find(c.Request.Context(), s, c.Param("id"))
	switch {
	case errors.Is(err, models.ErrNotFound):
		s.writePageProblem(c, err, false, s.dashboardFrame(c, "Not found"))
	case err != nil:
		writeError(c, err)
	}
	return row, err == nil
}

// csrfToken binds the dashboard's forms to the operator's session, so another site cannot make
// a signed-in operator's browser act on a flow.
func (s *Server) csrfToken(c *gin.Context) string {
	session, _ := c.Cookie(SessionCookie)
	return s.sign("csrf", session)
}

// checkCSRF refuses a form not sent from the dashboard with the operator's session.
func (s *Server) checkCSRF(c *gin.Context) bool {
	session, err := c.Cookie(SessionCookie)
	if err != nil || !hmac.Equal([]byte(c.PostForm("csrf")), []byte(s.sign("csrf", session))) {
		s.writePageProblem(
			c,
			problemForbidden("the form is stale or was not sent from the dashboard; reload the page and try again"),
			false,
			s.dashboardFrame(c, "Not allowed"),
		)
		return false
	}
	return true
}

// dashboardAction runs an update from a detail page's form, then shows the page again:
// redirected with the outcome on success, with the refusal otherwise. arg builds the update's
// argument from the form with the same validation as the JSON API; render shows the page.
func dashboardAction[R models.FlowRow, S any](
	s *Server,
	f flowAPI[R, S],
	update, done string,
	arg func(c *gin.Context) (any, error),
	render func(c *gin.Context, status int, row *R, notice string),
) gin.HandlerFunc {
	return func(c *gin.Context) {
		row, ok := dashboardLoad(c, s, f)
		if !ok || !s.checkCSRF(c) {
			return
		}
		a, err := arg(c)
		if err == nil {
			_, err = f.update(c, s, row, update, a, "")
		}
		if err != nil {
			p := answer(c, err)
			render(c, p.Status, row, p.Detail)
			return
		}
		c.Redirect(
			http.StatusSeeOther,
			strings.TrimSuffix(c.Request.URL.Path, "/"+lastSegment(c.Request.URL.Path))+"?done="+done,
		)
	}
}

func lastSegment(path string) string {
	return path[strings.LastIndex(path, "/")+1:]
}

// dashboardNotices are the outcomes an action reports after redirecting back; only these fixed
// texts are shown, never text taken from the URL.
func dashboardNotice(notices map[string]string, c *gin.Context) string {
	return notices[c.Query("done")]
}

// temporalURL is the workflow's page in the Temporal Web UI, or "" when no UI is configured.
func (s *Server) temporalURL(workflowID string) string {
	if s.flows.TemporalUIURL == "" {
		return ""
	}
	return strings.TrimRight(s.flows.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(s.flows.Namespace) +
		"/workflows/" + url.PathEscape(workflowID)
}

// workflowFact shows a flow's workflow ID with its Temporal Web UI link.
func (s *Server) workflowFact(workflowID string) fact {
	return fact{
		Label:    "Workflow",
		Value:    workflowID,
		Code:     true,
		Link:     s.temporalURL(workflowID),
		LinkID:   "temporal-link",
		LinkText: "open in Temporal",
	}
}

// createdFact says when a flow was created and how long ago.
func createdFact(now, at time.Time) fact {
	return fact{Label: "Created", Value: at.UTC().Format(stepTimeLayout) + " (" + agoText(now, at) + ")"}
}

// itoa is strconv.Itoa for templates' facts.
func itoa(n int) string { return strconv.Itoa(n) }

// waitActions registers the resend and cancel forms of a flow that waits for people, at
// <base>/:id/resend and <base>/:id/cancel, for the roles the flow's API lets resend and cancel;
// render shows the flow's page again.
func waitActions[R models.FlowRow, S any](
	root *gin.RouterGroup,
	s *Server,
	f flowAPI[R, S],
	base string,
	roles []models.Role,
	render func(c *gin.Context, status int, row *R, notice string),
) {
	rule := sessionRule(roles...)
	s.handle(root, "POST", base+"/:id/resend", rule, dashboardAction(s, f, workflows.UpdateResend, "resent",
		func(c *gin.Context) (any, error) { return workflows.ResendRequest{By: callerName(c)}, nil }, render))
	s.handle(root, "POST", base+"/:id/cancel", rule, dashboardAction(s, f, workflows.UpdateCancel, "cancelled",
		func(c *gin.Context) (any, error) { return cancelRequest(callerName(c), c.PostForm("reason")) }, render))
}
