package sim

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// entraError writes Entra's error answer: 400 (401 for invalid_client) with
// {"error","error_description":"AADSTS<code>: ...","error_codes":[code],...}.
func (s *Server) entraError(
	w http.ResponseWriter,
	r *http.Request,
	status int,
	name string,
	code int,
	format string,
	args ...any,
) {
	trace, corr := newID(), r.Header.Get("client-request-id")
	if corr == "" {
		corr = newID()
	}
	ts := s.cfg.Now().UTC().Format("2006-01-02 15:04:05Z")
	writeJSON(w, status, map[string]any{
		"error": name,
		"error_description": fmt.Sprintf(
			"AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			code,
			fmt.Sprintf(format, args...),
			trace,
			corr,
			ts,
		),
		"error_codes":    []int{code},
		"timestamp":      ts,
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code),
	})
}

// tenantOf is the directory the request's {tenant} names, or writes
// AADSTS90002.
func (s *Server) tenantOf(w http.ResponseWriter, r *http.Request) (directory, bool) {
	d, ok := s.directory(r.PathValue("tenant"))
	if !ok {
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_tenant",
			90002,
			"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the "+
				"correct cloud.",
			r.PathValue("tenant"),
		)
	}
	return d, ok
}

// openIDConfiguration answers GET /{tenant}/v2.0/.well-known/openid-configuration.
func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	d, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	base := s.baseURL(r)
	t := base + "/" + d.id
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer(base, d.id),
		"authorization_endpoint":                t + "/oauth2/v2.0/authorize",
		"token_endpoint":                        t + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         t + "/oauth2/v2.0/devicecode",
		"jwks_uri":                              t + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"grant_types_supported": []string{
			"authorization_code",
			"refresh_token",
			"client_credentials",
			"urn:ietf:params:oauth:grant-type:device_code",
		},
		"code_challenge_methods_supported": []string{"S256"},
		"claims_supported": []string{
			"sub",
			"iss",
			"aud",
			"exp",
			"iat",
			"nbf",
			"tid",
			"oid",
			"upn",
			"preferred_username",
			"name",
			"amr",
			"nonce",
		},
		"tenant_region_scope": "NA",
	})
}

// keys answers GET /{tenant}/discovery/v2.0/keys: the token signing key.
func (s *Server) keys(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.tenantOf(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{s.tokenJWK}})
}

// authorize answers GET /{tenant}/oauth2/v2.0/authorize: the user picker
// page of a valid request, an error page for an unknown app or redirect URI
// (Entra does not redirect those), a redirect with an error otherwise.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d, ok := s.directory(r.PathValue("tenant"))
	if !ok {
		s.signInError(w, http.StatusBadRequest, 90002, "Tenant '"+r.PathValue("tenant")+"' not found.")
		return
	}
	a := s.app(q.Get("client_id"))
	if a == nil {
		s.signInError(
			w,
			http.StatusBadRequest,
			700016,
			"Application with identifier '"+q.Get("client_id")+"' was not found in the directory '"+d.name+"'.",
		)
		return
	}
	redirect := q.Get("redirect_uri")
	if !a.redirectAllowed(redirect) {
		s.signInError(
			w,
			http.StatusBadRequest,
			50011,
			"The redirect URI '"+redirect+"' specified in the request does not match the redirect URIs "+
				"configured for the application '"+a.ClientID+"'.",
		)
		return
	}
	fail := func(name, desc string) {
		v := url.Values{"error": {name}, "error_description": {desc}}
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		http.Redirect(w, r, withQuery(redirect, v), http.StatusFound)
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case q.Get("response_type") != "code":
		fail(
			"unsupported_response_type",
			"AADSTS700054: response_type '"+q.Get("response_type")+
				"' is not enabled for the application; the simulator supports code.",
		)
		return
	case strings.TrimSpace(q.Get("scope")) == "":
		fail("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'scope'.")
		return
	case challenge != "" && method != "S256":
		fail(
			"invalid_request",
			"code_challenge_method must be S256 (the simulator refuses plain and a missing method).",
		)
		return
	}
	now := s.now()
	s.flows.prune(now)
	in := &signIn{
		tenantID:    d.id,
		clientID:    a.ClientID,
		redirectURI: redirect,
		scope:       q.Get("scope"),
		state:       q.Get("state"),
		nonce:       q.Get("nonce"),
		challenge:   challenge,
		loginHint:   q.Get("login_hint"),
		started:     now,
	}
	id := randomToken(16)
	s.flows.signIns[id] = in
	s.pickUserPage(w, r.URL.Path, id, d, in)
}

// withQuery adds v to the query of uri.
func withQuery(uri string, v url.Values) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + v.Encode()
}

// signInStep answers the sign-in pages' forms (POST to the authorize URL or
// to /devicelogin): a user picked → the MFA page; MFA approved or skipped →
// the code redirect, or the device login done.
func (s *Server) signInStep(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.signInError(w, http.StatusBadRequest, 900144, "The sign-in form could not be read.")
		return
	}
	in := s.flows.signIns[r.PostForm.Get("flow")]
	if in == nil {
		s.signInError(w, http.StatusBadRequest, 90014, "This sign-in is unknown or has expired; start again.")
		return
	}
	d, ok := s.directory(in.tenantID)
	if !ok {
		s.signInError(w, http.StatusBadRequest, 90002, "Tenant '"+in.tenantID+"' not found.")
		return
	}
	flow := r.PostForm.Get("flow")
	if r.PostForm.Get("deny") != "" && in.device != nil {
		in.device.declined = true
		delete(s.flows.signIns, flow)
		s.renderSignIn(w, http.StatusOK, signInView{
			Title:  "Sign-in declined",
			Step:   "done",
			Result: "You declined to sign in to the application on your device. You may now close this window.",
		})
		return
	}
	u, ok := d.user(r.PostForm.Get("upn"))
	if !ok {
		s.pickUserPage(w, r.URL.Path, flow, d, in)
		return
	}
	mfa := r.PostForm.Get("mfa")
	if mfa != "approve" && mfa != "skip" {
		s.renderSignIn(w, http.StatusOK, signInView{
			Title:  "Approve sign-in request",
			Step:   "mfa",
			Action: r.URL.Path,
			Flow:   flow,
			UPN:    u.UPN,
			Tenant: d.name,
		})
		return
	}
	delete(s.flows.signIns, flow)
	if in.device != nil {
		in.device.upn, in.device.mfa, in.device.approved = u.UPN, mfa == "approve", true
		s.renderSignIn(w, http.StatusOK, signInView{
			Title: "You're signed in",
			Step:  "done",
			Result: "You have signed in to the application on your device as " + u.UPN +
				". You may now close this window.",
		})
		return
	}
	code := randomToken(32)
	s.flows.codes[code] = &authCode{
		tenantID:    in.tenantID,
		clientID:    in.clientID,
		redirectURI: in.redirectURI,
		challenge:   in.challenge,
		scope:       in.scope,
		nonce:       in.nonce,
		upn:         u.UPN,
		mfa:         mfa == "approve",
		issued:      s.now(),
	}
	v := url.Values{"code": {code}}
	if in.state != "" {
		v.Set("state", in.state)
	}
	http.Redirect(w, r, withQuery(in.redirectURI, v), http.StatusFound)
}

// deviceCode answers POST /{tenant}/oauth2/v2.0/devicecode.
func (s *Server) deviceCode(w http.ResponseWriter, r *http.Request) {
	d, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.entraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must be form-encoded.")
		return
	}
	a := s.app(r.PostForm.Get("client_id"))
	if a == nil {
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"unauthorized_client",
			700016,
			"Application with identifier '%s' was not found in the directory '%s'.",
			r.PostForm.Get("client_id"),
			d.name,
		)
		return
	}
	if strings.TrimSpace(r.PostForm.Get("scope")) == "" {
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_request",
			900144,
			"The request body must contain the following parameter: 'scope'.",
		)
		return
	}
	now := s.now()
	s.flows.prune(now)
	f := &deviceFlow{
		deviceCode: randomToken(32),
		userCode:   newUserCode(),
		tenantID:   d.id,
		clientID:   a.ClientID,
		scope:      r.PostForm.Get("scope"),
		issued:     now,
	}
	s.flows.devices[f.deviceCode], s.flows.userCodes[f.userCode] = f, f
	uri := s.baseURL(r) + "/devicelogin"
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": f.deviceCode, "user_code": f.userCode, "verification_uri": uri,
		"expires_in": int(deviceCodeLifetime.Seconds()), "interval": deviceCodeInterval,
		"message": "To sign in, use a web browser to open the page " + uri + " and enter the code " + f.userCode +
			" to authenticate.",
	})
}

// deviceLoginPage answers GET /devicelogin: the code entry page.
func (s *Server) deviceLoginPage(w http.ResponseWriter, _ *http.Request) {
	s.renderSignIn(w, http.StatusOK, signInView{Title: "Enter code", Step: "code", Action: "/devicelogin"})
}

// deviceLoginPost answers POST /devicelogin: the code entered (→ the user
// picker), then the sign-in steps.
func (s *Server) deviceLoginPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.signInError(w, http.StatusBadRequest, 900144, "The form could not be read.")
		return
	}
	if r.PostForm.Get("flow") != "" {
		s.signInStep(w, r)
		return
	}
	f := s.pendingDevice(r.PostForm.Get("otc"))
	if f == nil {
		s.renderSignIn(w, http.StatusOK, signInView{Title: "Enter code", Step: "code", Action: "/devicelogin",
			Result: "That code didn't work. Check the code and try again.", Code: 70018})
		return
	}
	d, _ := s.directory(f.tenantID)
	in := &signIn{tenantID: f.tenantID, clientID: f.clientID, scope: f.scope, device: f, started: s.now()}
	id := randomToken(16)
	s.flows.signIns[id] = in
	s.pickUserPage(w, "/devicelogin", id, d, in)
}

// pendingDevice is the device flow of a user code still waiting for its
// user, or nil; callers hold s.mu.
func (s *Server) pendingDevice(userCode string) *deviceFlow {
	f := s.flows.userCodes[strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(userCode), "-", ""))]
	if f == nil || f.approved || f.declined || !s.now().Before(f.issued.Add(deviceCodeLifetime)) {
		return nil
	}
	return f
}

func (s *Server) pickUserPage(w http.ResponseWriter, action, flow string, d directory, in *signIn) {
	users := make([]User, 0, len(d.users))
	for _, u := range d.users {
		if strings.EqualFold(u.UPN, in.loginHint) {
			users = append([]User{u}, users...)
		} else {
			users = append(users, u)
		}
	}
	v := signInView{
		Title:  "Pick an account",
		Step:   "pick",
		Action: action,
		Flow:   flow,
		Tenant: d.name,
		App:    in.clientID,
		Device: in.device != nil,
	}
	for _, u := range users {
		v.Users = append(v.Users, userView{UPN: u.UPN, Name: displayName(u.UPN), GlobalAdmin: u.GlobalAdmin})
	}
	s.renderSignIn(w, http.StatusOK, v)
}

func (s *Server) signInError(w http.ResponseWriter, status, code int, message string) {
	s.renderSignIn(w, status, signInView{
		Title:  "Sorry, but we're having trouble signing you in.",
		Step:   "error",
		Code:   code,
		Result: fmt.Sprintf("AADSTS%d: %s", code, message),
	})
}

func (s *Server) renderSignIn(w http.ResponseWriter, status int, v signInView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := signInPages.Execute(w, v); err != nil {
		s.log.Error("render sign-in page", "err", err)
	}
}

type userView struct {
	UPN, Name   string
	GlobalAdmin bool
}

// signInView is what a sign-in page shows; Step is pick, mfa, code, done or error.
type signInView struct {
	Title, Step, Action, Flow, UPN, Tenant, App, Result string
	Users                                               []userView
	Device                                              bool
	Code                                                int
}

// signInPages stand in for login.microsoftonline.com. Their element IDs and
// names are stable because headless-browser tests click them: the user
// buttons button[name=upn][value=<upn>], the MFA buttons #approve and
// #skip-mfa, the device code input #otc and button #next, #deny on a device
// login, and #result / #error for the outcome.
var signInPages = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} – Microsoft Entra ID (simulator)</title>
<style>
body{font-family:Segoe UI,system-ui,sans-serif;background:#f3f2f1;margin:0}
header{background:#2f2f2f;color:#fff;padding:12px 24px;font-weight:600}
main{max-width:440px;margin:48px auto;background:#fff;padding:32px 44px;box-shadow:0 2px 6px #0003}
button{display:block;width:100%;margin-top:12px;padding:10px;font-size:1em;border:1px solid #8a8886;` +
	`background:#fff;text-align:left;cursor:pointer}
button.primary{background:#0067b8;color:#fff;border:0;text-align:center}
button.secondary{text-align:center;color:#a4262c}
input{width:100%;padding:6px;font-size:1.1em;box-sizing:border-box;letter-spacing:.2em}
.note{color:#605e5c;font-size:.9em} small{color:#605e5c}
</style></head>
<body><header>Microsoft Entra ID · partnerflow simulator</header><main>
<h1>{{.Title}}</h1>
{{if eq .Step "error"}}<p id="error" data-code="{{.Code}}">{{.Result}}</p>{{end}}
{{if eq .Step "done"}}<p id="result">{{.Result}}</p>{{end}}
{{if eq .Step "code"}}<form method="post" action="{{.Action}}">
{{if .Result}}<p id="error" data-code="{{.Code}}">{{.Result}}</p>{{end}}
<p>Enter the code displayed on your app or device.</p>
<input id="otc" name="otc" autocomplete="off" required placeholder="Code">
<button id="next" class="primary" type="submit">Next</button>
</form>{{end}}
{{if eq .Step "pick"}}<form method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.Flow}}">
<p class="note">Signing in to <strong>{{.Tenant}}</strong> for the app {{.App}}.</p>
{{range .Users}}<button type="submit" name="upn" value="{{.UPN}}">{{.Name}}<br>` +
	`<small>{{.UPN}}{{if .GlobalAdmin}} · Global admin{{end}}</small></button>
{{end}}
{{if .Device}}<button id="deny" class="secondary" type="submit" name="deny" value="1">` +
	`Cancel: don't sign in on the device</button>{{end}}
</form>{{end}}
{{if eq .Step "mfa"}}<form method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.Flow}}"><input type="hidden" name="upn" value="{{.UPN}}">
<p>{{.UPN}}</p>
<p>Open your Authenticator app and approve the request to sign in.</p>
<button id="approve" class="primary" type="submit" name="mfa" value="approve">Approve sign-in request</button>
<button id="skip-mfa" class="secondary" type="submit" name="mfa" value="skip">` +
	`Skip MFA (simulator: to test the refusal)</button>
<p class="note">Skipping signs in with a password only: the tokens' amr is ["pwd"], ` +
	`which Partner Center refuses for App+User calls.</p>
</form>{{end}}
</main></body></html>`))
