package api

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · partnerflow</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1b1f24}
input{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}
button{padding:.5rem 1rem}.err{color:#b00020}</style></head>
<body><h1>partnerflow</h1>
{{if .Microsoft}}<p><a id="signin-microsoft" href="/login/microsoft?next={{.Next}}">Sign in with Microsoft</a>
(your account in the partner's tenant, with multi-factor authentication)</p><p>Or sign in with an API key.</p>
{{else}}<p>Sign in with an API key.</p>{{end}}<p>The session also lets the Temporal Web UI decrypt payloads
through partnerflow's codec endpoint.</p>
{{if .Error}}<p class="err" id="error">{{.Error}}</p>{{end}}
<form method="post" action="/login"><input type="hidden" name="next" value="{{.Next}}">
<label for="key">API key</label><input id="key" name="key" type="password" autocomplete="off" required>
<button id="signin" type="submit">Sign in</button></form></body></html>`))

// safeNext keeps redirects after sign-in on this site: it accepts only a path of this site,
// one that parses with no scheme and no host, starts with a single slash and holds no
// backslash or control character (browsers drop tabs and newlines, so "/\t/evil.example"
// would become "//evil.example"), and answers "/" for anything else.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, `\`) {
		return "/"
	}
	for _, r := range next {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	// The decoded path must hold no control character, backslash or leading "//" either.
	if strings.HasPrefix(u.Path, "//") || strings.ContainsAny(u.Path, `\`) ||
		strings.IndexFunc(u.Path, unicode.IsControl) >= 0 {
		return "/"
	}
	return next
}

func (s *Server) showLogin(c *gin.Context) {
	pageHeaders(c)
	_ = loginPage.Execute(c.Writer, gin.H{"Next": safeNext(c.Query("next")), "Microsoft": s.staffSignIn != nil})
}

// crossOrigin tells the sign-in and sign-out forms from forms other sites post (CSRF) by the
// headers browsers set: Sec-Fetch-Site, or, in older browsers, Origin.
var crossOrigin = http.NewCrossOriginProtection()

// crossSite answers 403 and reports true when another site's page posted the request: signing
// a visitor in with the attacker's key, or out, is not another site's to do. Scripts send
// neither header and pass; so does an older browser's form whose Origin is the public URL,
// which a proxy in front may not pass on as the Host.
func (s *Server) crossSite(c *gin.Context) bool {
	err := crossOrigin.Check(c.Request)
	if err == nil {
		return false
	}
	if origin := c.GetHeader("Origin"); origin != "" && origin == publicOrigin(s.flows.BaseURL) {
		return false
	}
	writeProblem(
		c,
		problemForbidden("the form was posted from another site; sign in from partnerflow's own sign-in page"),
	)
	return true
}

// publicOrigin is the origin (scheme and host) of the public URL, as browsers send it in Origin.
func publicOrigin(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// login exchanges an API key for a session cookie; the session lives in the database, so
// signing out or revoking the key ends it. Failed attempts are throttled per client, and other
// sites' forms are refused.
func (s *Server) login(c *gin.Context) {
	if s.crossSite(c) || s.authThrottled(c) {
		return
	}
	next := safeNext(c.PostForm("next"))
	key, err := s.store.AuthenticateAPIKey(c.Request.Context(), strings.TrimSpace(c.PostForm("key")))
	if err != nil {
		if errors.Is(err, models.ErrInvalidKey) {
			s.authFailed(c)
		} else {
			c.Set(ctxError, err)
		}
		pageHeaders(c)
		c.Status(http.StatusUnauthorized)
		_ = loginPage.Execute(c.Writer, gin.H{"Next": next, "Microsoft": s.staffSignIn != nil,
			"Error": "That API key is unknown or revoked."})
		return
	}
	now := time.Now()
	session, err := s.store.CreateSession(c.Request.Context(), key.ID, now, sessionTTL)
	if err != nil {
		writeError(c, err)
		return
	}
	if _, err := s.store.PruneSessions(c.Request.Context(), now.Add(-24*time.Hour)); err != nil {
		s.logger.WarnContext(c.Request.Context(), "could not prune ended sessions", "error", err)
	}
	s.touchKey(c, key)
	s.setSessionCookie(c, session, int(sessionTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, next)
}

// logout ends the session server-side and clears the cookie; other sites' forms are refused.
func (s *Server) logout(c *gin.Context) {
	if s.crossSite(c) {
		return
	}
	if session, err := c.Cookie(SessionCookie); err == nil && session != "" {
		if err := s.store.EndSession(c.Request.Context(), session, time.Now()); err != nil {
			writeError(c, err)
			return
		}
	}
	s.setSessionCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/login")
}
