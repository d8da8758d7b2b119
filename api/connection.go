package api

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/workflowservice/v1"
	"golang.org/x/oauth2"

	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// The Partner Center connection (Microsoft's secure application model): a global admin of the
// partner signs in once, with MFA, from the dashboard (authorization code with PKCE, the state
// and verifier sealed in a short-lived cookie bound to the operator's session); partnerflow
// keeps the refresh token sealed, and the flows that waited for it are signalled to go on.

// ConnectCookie carries a dashboard sign-in to Microsoft in progress (its state and PKCE
// verifier, sealed and bound to the session) from /connection/start to /auth/callback.
const ConnectCookie = "pf_connect"

// CallbackPath is where Entra ID sends the partner admin back: the API's public base URL plus
// this path is the redirect URI to register on the app.
const CallbackPath = "/auth/callback"

// connectSignInTTL is how long a started sign-in may take.
const connectSignInTTL = 10 * time.Minute

// Problems of the connection routes.
var (
	problemConnectionNotConfigured = func() *Problem {
		return NewProblem(http.StatusNotFound, "connection-not-configured", "No Partner Center connection here",
			"this deployment has no Partner Center app configured (PARTNERCENTER_TENANT_ID, PARTNERCENTER_CLIENT_ID)")
	}
	problemDoctorUnavailable = func() *Problem {
		return NewProblem(http.StatusNotFound, "connection-doctor-unavailable", "The checks are not available here",
			"this process was started without the Partner Center client the checks call; run `partnerflow doctor`")
	}
	problemStateMismatch = func(d string) *Problem {
		return NewProblem(http.StatusBadRequest, "connection-state-mismatch", "This sign-in was not started here", d)
	}
	problemSignInExpired = func() *Problem {
		return NewProblem(http.StatusBadRequest, "connection-sign-in-expired", "The sign-in took too long",
			"a sign-in must be completed within 10 minutes; start again from the connection page")
	}
	problemSignInFailed = func(d string) *Problem {
		return NewProblem(http.StatusBadRequest, "connection-sign-in-failed", "Microsoft did not sign you in", d)
	}
	problemConnectionRefused = func(d string) *Problem {
		return NewProblem(http.StatusBadRequest, "connection-refused", "The sign-in cannot connect Partner Center", d)
	}
	problemMFARequired = func() *Problem {
		return NewProblem(http.StatusForbidden, "connection-mfa-required", "Multi-factor authentication is required",
			"the sign-in did not use multi-factor authentication, which Partner Center requires for App+User calls; "+
				"sign in again and approve the MFA request")
	}
)

func (s *Server) connectionRoutes(root, v1 *gin.RouterGroup) {
	s.handle(root, "GET", "/connection", sessionRule(), s.showConnection)
	s.handle(root, "POST", "/connection/start", sessionRule(globalAdmin...), s.startConnection)
	s.handle(root, "POST", "/connection/doctor", sessionRule(globalAdmin...), s.connectionDoctorPage)
	s.handle(root, "GET", CallbackPath, sessionRule(globalAdmin...), s.connectionCallback)
	s.handle(v1, "GET", "/connection", keyRule(anyRole...), s.getConnection)
	s.handle(v1, "POST", "/connection/doctor", keyRule(globalAdmin...), s.runDoctor)
	if s.connection != nil {
		s.addSection("connection", "Partner Center", "/connection")
	}
}

// connectionConfigured answers that there is no connection here, and false, when there is none.
func (s *Server) connectionConfigured(c *gin.Context, asJSON bool) bool {
	if s.connection == nil {
		s.writePageProblem(c, problemConnectionNotConfigured(), asJSON, s.dashboardFrame(c, "Not found"))
		return false
	}
	return true
}

// connectionNeeded reports whether the dashboard's banner asks for a sign-in: a connection is
// configured and does not work (never made, or lost). It reads one row.
func (s *Server) connectionNeeded(c *gin.Context) bool {
	if s.connection == nil {
		return false
	}
	row, err := s.connection.Status(c.Request.Context())
	if err != nil {
		s.logger.WarnContext(c.Request.Context(), "read the Partner Center connection for the banner", "error", err)
		return false
	}
	return !row.Connected()
}

// connectionState is the connection as GET /v1/connection answers it: who connected and how it
// stands, never the token.
type connectionState struct {
	Connected   bool       `json:"connected"`
	UPN         string     `json:"upn,omitempty"`
	Name        string     `json:"name,omitempty"`
	ConnectedAt *time.Time `json:"connectedAt,omitempty"`
	LastUsedAt  *time.Time `json:"lastUsedAt,omitempty"`
	LapsesAt    *time.Time `json:"lapsesAt,omitempty"`
	LostAt      *time.Time `json:"lostAt,omitempty"`
	LostReason  string     `json:"lostReason,omitempty"`
	// WaitingFlows is how many flows wait for the connection, when Temporal answered.
	WaitingFlows *int64 `json:"waitingFlows,omitempty"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func connectionStateOf(row *models.PartnerConnection) connectionState {
	st := connectionState{
		Connected: row.Connected(), UPN: row.UPN, Name: row.Name, ConnectedAt: utcPtr(row.ConnectedAt),
		LastUsedAt: utcPtr(row.LastUsedAt), LostAt: utcPtr(row.LostAt), LostReason: row.LostReason,
	}
	if lapses := row.LapsesAt(); !lapses.IsZero() {
		st.LapsesAt = utcPtr(&lapses)
	}
	return st
}

// getConnection answers GET /v1/connection.
func (s *Server) getConnection(c *gin.Context) {
	if !s.connectionConfigured(c, true) {
		return
	}
	row, err := s.connection.Status(c.Request.Context())
	if err != nil {
		writeError(c, fmt.Errorf("read the Partner Center connection: %w", err))
		return
	}
	st := connectionStateOf(row)
	if n, ok := s.countWaitingFlows(c.Request.Context()); ok {
		st.WaitingFlows = &n
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, st)
}

// doctorAnswer is the doctor's report as POST /v1/connection/doctor answers it.
type doctorAnswer struct {
	Checks []connection.Check `json:"checks"`
	OK     bool               `json:"ok"`
}

// runDoctor answers POST /v1/connection/doctor.
func (s *Server) runDoctor(c *gin.Context) {
	if s.doctor == nil {
		writeProblem(c, problemDoctorUnavailable())
		return
	}
	checks := s.doctor(c.Request.Context())
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, doctorAnswer{Checks: checks, OK: connection.OK(checks)})
}

// connectionPage is the dashboard's page of the connection.
type connectionPage struct {
	pageFrame
	Connected bool
	// State is "connected", "lost" or "not connected", for the badge.
	State   string
	Facts   []fact
	Notice  string
	Waiting string
	// CanConnect shows the sign-in button (global admins); CanCheck the checks' button.
	CanConnect bool
	CanCheck   bool
	CSRF       string
	// Checks are the doctor's lines after "Run checks".
	Checks []connection.Check
	Ran    bool
	AllOK  bool
}

// showConnection serves the connection page.
func (s *Server) showConnection(c *gin.Context) {
	if !s.connectionConfigured(c, false) {
		return
	}
	page, ok := s.connectionPageOf(c)
	if !ok {
		return
	}
	if c.Query("done") == "connected" {
		n, _ := strconv.Atoi(c.Query("resumed"))
		page.Notice = fmt.Sprintf(
			"Connected as %s; %s resumed.",
			page.connectedAs(),
			countOf(int64(max(n, 0)), "waiting flow", "waiting flows"),
		)
	}
	s.renderPage(c, http.StatusOK, "connection", page)
}

// connectionDoctorPage runs the checks from the connection page's button and shows them there.
func (s *Server) connectionDoctorPage(c *gin.Context) {
	if !s.connectionConfigured(c, false) || !s.checkCSRF(c) {
		return
	}
	if s.doctor == nil {
		s.writePageProblem(c, problemDoctorUnavailable(), false, s.dashboardFrame(c, "Not available"))
		return
	}
	checks := s.doctor(c.Request.Context())
	page, ok := s.connectionPageOf(c)
	if !ok {
		return
	}
	page.Checks, page.Ran, page.AllOK = checks, true, connection.OK(checks)
	s.renderPage(c, http.StatusOK, "connection", page)
}

func (s *Server) connectionPageOf(c *gin.Context) (connectionPage, bool) {
	row, err := s.connection.Status(c.Request.Context())
	if err != nil {
		writeError(c, fmt.Errorf("read the Partner Center connection: %w", err))
		return connectionPage{}, false
	}
	page := connectionPage{
		pageFrame: s.dashboardFrame(c, "Partner Center connection"),
		Connected: row.Connected(),
		CSRF:      s.csrfToken(c),
	}
	page.Nav = "connection"
	// The page itself says what the banner would.
	page.ConnectionNeeded = false
	key := callerKey(c)
	page.CanConnect = key != nil && key.Roles.Has(models.RoleGlobalAdmin)
	page.CanCheck = page.CanConnect && s.doctor != nil
	now := s.flows.Now()
	at := func(t *time.Time) string {
		return t.UTC().Format(stepTimeLayout) + " (" + agoText(now, *t) + ")"
	}
	switch {
	case row.Connected():
		page.State = "connected"
	case row.LostAt != nil:
		page.State = "lost"
	default:
		page.State = "not connected"
	}
	if row.UPN != "" {
		who := row.UPN
		if row.Name != "" {
			who = row.Name + " (" + row.UPN + ")"
		}
		page.Facts = append(page.Facts, fact{Label: "Connected as", Value: who, ID: "connected-as"})
	}
	if row.ConnectedAt != nil {
		page.Facts = append(page.Facts, fact{Label: "Connected", Value: at(row.ConnectedAt), ID: "connected-at"})
	}
	if row.ConnectedAt != nil {
		used := "not yet"
		if row.LastUsedAt != nil {
			used = at(row.LastUsedAt)
		}
		page.Facts = append(page.Facts, fact{Label: "Last used", Value: used, ID: "last-used"})
	}
	if lapses := row.LapsesAt(); !lapses.IsZero() && row.Connected() {
		page.Facts = append(page.Facts, fact{Label: "Lapses", ID: "lapses-at",
			Value: lapses.UTC().Format(stepTimeLayout) + " (" + untilText(now, lapses) + ") unless used before"})
		if row.LapseWarnedAt != nil {
			page.Facts = append(
				page.Facts,
				fact{Label: "Lapse warning", Value: "sent " + at(row.LapseWarnedAt), ID: "lapse-warned-at", Err: true},
			)
		}
	}
	if row.CompanyName != "" {
		shown := "customers see this name"
		if name := s.shownPartnerName(); name != row.CompanyName {
			shown = "customers see " + name + " (PARTNERFLOW_PARTNER_NAME)"
		}
		page.Facts = append(
			page.Facts,
			fact{Label: "Partner profile", Value: row.CompanyName + "; " + shown, ID: "company-name"},
		)
	}
	if row.LostAt != nil {
		page.Facts = append(page.Facts, fact{Label: "Lost", Value: at(row.LostAt), ID: "lost-at", Err: true},
			fact{Label: "Why", Value: row.LostReason, ID: "lost-reason", Err: true})
	}
	if n, ok := s.countWaitingFlows(c.Request.Context()); ok && n > 0 {
		page.Waiting = countOf(n, "flow waits", "flows wait") + " for the connection."
	}
	return page, true
}

// connectedAs names the connected user for the page's notice.
func (p connectionPage) connectedAs() string {
	for _, f := range p.Facts {
		if f.ID == "connected-as" {
			return f.Value
		}
	}
	return "a partner admin"
}

// pendingSignIn is a dashboard sign-in to Microsoft in progress, sealed in ConnectCookie.
type pendingSignIn struct {
	State    string    `json:"s"`
	Verifier string    `json:"v"`
	Expires  time.Time `json:"e"`
}

// sessionBinding binds a pending sign-in to the operator's session: the cookie does not open
// with another session.
func sessionBinding(session string) string { return "session:" + session }

// redirectURI is the callback address Entra ID sends the admin back to.
func (s *Server) redirectURI(c *gin.Context) string {
	base := strings.TrimRight(s.flows.BaseURL, "/")
	if base == "" {
		scheme := "http"
		if s.secure(c) {
			scheme = "https"
		}
		base = scheme + "://" + c.Request.Host
	}
	return base + CallbackPath
}

func (s *Server) setConnectCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: ConnectCookie, Value: value, Path: CallbackPath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(c),
	})
}

// startConnection begins a global admin's sign-in: a random state and PKCE verifier, sealed in
// a cookie bound to the session, and the way to Microsoft's sign-in page.
func (s *Server) startConnection(c *gin.Context) {
	if !s.connectionConfigured(c, false) || !s.checkCSRF(c) {
		return
	}
	session, _ := c.Cookie(SessionCookie)
	pending := pendingSignIn{
		State:    oauth2.GenerateVerifier(),
		Verifier: oauth2.GenerateVerifier(),
		Expires:  s.flows.Now().Add(connectSignInTTL).UTC(),
	}
	plain, err := json.Marshal(pending)
	if err != nil {
		writeError(c, fmt.Errorf("seal the sign-in: %w", err))
		return
	}
	sealed := s.connectBox.Seal(sessionBinding(session), string(plain))
	s.setConnectCookie(c, base64.RawURLEncoding.EncodeToString(sealed), int(connectSignInTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, s.connection.Entra().AuthCodeURL(s.redirectURI(c), pending.State, pending.Verifier))
}

// takePendingSignIn reads the sign-in this browser started with this session, and clears the
// cookie: a sign-in is answered once, whatever the answer.
func (s *Server) takePendingSignIn(c *gin.Context) (pendingSignIn, error) {
	var pending pendingSignIn
	raw, err := c.Cookie(ConnectCookie)
	s.setConnectCookie(c, "", -1)
	if err != nil || raw == "" {
		return pending, problemStateMismatch(
			"no sign-in was started from this browser in the last 10 minutes; start again from the connection page",
		)
	}
	session, _ := c.Cookie(SessionCookie)
	sealed, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return pending, problemStateMismatch("the sign-in cookie is damaged; start again from the connection page")
	}
	plain, err := s.connectBox.Open(sessionBinding(session), sealed)
	if err != nil || json.Unmarshal([]byte(plain), &pending) != nil {
		return pending, problemStateMismatch(
			"the sign-in was started in another session; start again from the connection page",
		)
	}
	if !s.flows.Now().Before(pending.Expires) {
		return pending, problemSignInExpired()
	}
	return pending, nil
}

// entraErrorCode is the shape of an OAuth error code; anything else in the URL is not shown.
var entraErrorCode = regexp.MustCompile(`^[a-z_]{1,64}$`)

// connectionCallback takes Microsoft's answer to a dashboard sign-in. Nothing is stored unless
// the state matches the sign-in this session started, the code redeems with its verifier, and
// the ID token names a user of the partner tenant who used MFA; then the connection is stored
// and every flow waiting for it is signalled.
func (s *Server) connectionCallback(c *gin.Context) {
	asJSON := wantsJSON(c)
	if !s.connectionConfigured(c, asJSON) {
		return
	}
	refuse := func(err error) {
		p := answer(c, err)
		p.Instance = CallbackPath // never echo the code
		s.writePageProblem(c, p, asJSON, s.dashboardFrame(c, p.Title))
	}
	pending, notPending := s.takePendingSignIn(c)
	if e := c.Query("error"); e != "" {
		// Only fixed text is shown: the URL is anyone's to write.
		detail := "Microsoft Entra ID answered an error; start again from the connection page"
		switch {
		case e == "access_denied":
			detail = "the sign-in was cancelled, or consent was refused, at Microsoft; start again from the " +
				"connection page"
		case entraErrorCode.MatchString(e):
			detail = "Microsoft Entra ID answered " + e + "; start again from the connection page"
		}
		refuse(problemSignInFailed(detail))
		return
	}
	if notPending != nil {
		refuse(notPending)
		return
	}
	state := c.Query("state")
	if state == "" || !hmac.Equal([]byte(state), []byte(pending.State)) {
		refuse(problemStateMismatch(
			"the answer does not belong to the sign-in this browser started; start again from the connection page",
		))
		return
	}
	code := c.Query("code")
	if code == "" {
		refuse(problemConnectionRefused("Microsoft's answer carries no authorization code"))
		return
	}
	ctx := c.Request.Context()
	grant, err := s.connection.Entra().Exchange(ctx, s.redirectURI(c), code, pending.Verifier)
	if errors.Is(err, partnercenter.ErrMFARequired) {
		refuse(problemMFARequired())
		return
	}
	if err != nil {
		refuse(problemConnectionRefused(err.Error()))
		return
	}
	row, err := s.connection.Connect(ctx, grant)
	if err != nil {
		writeError(c, fmt.Errorf("store the Partner Center connection: %w", err))
		return
	}
	s.logger.InfoContext(ctx, "Partner Center connected", "upn", row.UPN, "by", callerName(c))
	// The signals go on if the admin's browser leaves.
	resumeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	n, err := connection.ResumeWaitingFlows(resumeCtx, s.temporal, s.flows.PartnerID, s.logger)
	if err != nil {
		// The flows recheck by themselves (workflows' connectionRecheck): log, do not fail.
		s.logger.ErrorContext(
			ctx,
			"signal the flows waiting for the Partner Center connection",
			"error", err,
			"signalled", n,
		)
	}
	c.Redirect(http.StatusSeeOther, "/connection?done=connected&resumed="+strconv.Itoa(n))
}

// countWaitingFlows asks Temporal's visibility how many flows wait for the connection; ok is
// false when it does not answer in time (the pages then leave the number out).
func (s *Server) countWaitingFlows(ctx context.Context) (int64, bool) {
	if s.temporal == nil {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := s.temporal.CountWorkflow(
		ctx,
		&workflowservice.CountWorkflowExecutionsRequest{Query: connection.WaitingQuery(s.flows.PartnerID)},
	)
	if err != nil {
		s.logger.WarnContext(ctx, "count the flows waiting for the Partner Center connection", "error", err)
		return 0, false
	}
	return resp.GetCount(), true
}

// newConnectBox is the box of pending sign-ins' cookies, under a key of its own.
func newConnectBox(signingKey []byte) *notify.SecretBox {
	return notify.NewSecretBoxFor(signingKey, "partnerflow connection sign-in")
}
