package api

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · partnerflow</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1b1f24}
input{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}button{padding:.5rem 1rem}.err{color:#b00020}</style></head>
<body><h1>partnerflow</h1><p>Sign in with an API key. The session also lets the Temporal Web UI decrypt payloads through partnerflow's codec endpoint.</p>
{{if .Error}}<p class="err" id="error">{{.Error}}</p>{{end}}
<form method="post" action="/login"><input type="hidden" name="next" value="{{.Next}}">
<label for="key">API key</label><input id="key" name="key" type="password" autocomplete="off" required>
<button id="signin" type="submit">Sign in</button></form></body></html>`))

// safeNext keeps redirects after sign-in on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/"
	}
	return next
}

func (s *Server) showLogin(c *gin.Context) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(c.Writer, gin.H{"Next": safeNext(c.Query("next"))})
}

// login exchanges an API key for a signed session cookie.
func (s *Server) login(c *gin.Context) {
	next := safeNext(c.PostForm("next"))
	key, err := s.store.AuthenticateAPIKey(c.Request.Context(), strings.TrimSpace(c.PostForm("key")))
	if err != nil {
		c.Header("Content-Type", "text/html; charset=utf-8")
		c.Status(http.StatusUnauthorized)
		_ = loginPage.Execute(c.Writer, gin.H{"Next": next, "Error": "That API key is unknown or revoked."})
		return
	}
	setSessionCookie(c, s.newSession(key.ID, time.Now()), int(sessionTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) logout(c *gin.Context) {
	setSessionCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/login")
}
