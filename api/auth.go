package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

// SessionCookie holds an operator's signed session for the dashboard and the Web UI's codec calls.
const SessionCookie = "pf_session"

// sessionTTL is how long a dashboard login lasts.
const sessionTTL = 12 * time.Hour

// callerKey is the authenticated key of the request, or nil.
func callerKey(c *gin.Context) *models.APIKey {
	if v, ok := c.Get(ctxAPIKey); ok {
		return v.(*models.APIKey)
	}
	return nil
}

// errBadKey is a presented bearer key that is unknown or revoked: a guess, counted against the
// client.
var errBadKey = errors.New("the API key is unknown or revoked")

// authenticate accepts `Authorization: Bearer <key>` or, for browsers, the session cookie.
// Without either, or with an unknown or revoked key, it answers 401 and stops; a client that
// keeps presenting bad keys is answered 429 until its failures' bucket refills.
func (s *Server) authenticate(c *gin.Context) {
	if s.bearerThrottled(c) {
		return
	}
	key, err := s.keyFromRequest(c)
	if _, broken := c.Get(ctxError); err != nil && broken {
		// The database did not answer: the cause is logged, the caller hears only that.
		writeProblem(c, problemUnavailable("the credentials could not be checked; try again"))
		return
	}
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="partnerflow"`)
		writeProblem(c, problemUnauthorized(err.Error()))
		return
	}
	c.Set(ctxAPIKey, key)
	c.Next()
}

// bearerThrottled answers 429 and reports true when the request presents a bearer key and its
// client has used up its failures; every route that takes a key checks it first, so keys cannot
// be guessed on one route while another refuses. A session cookie is never counted: an expired
// one is not a guess.
func (s *Server) bearerThrottled(c *gin.Context) bool {
	return c.GetHeader("Authorization") != "" && s.authThrottled(c)
}

func (s *Server) keyFromRequest(c *gin.Context) (*models.APIKey, error) {
	if header := c.GetHeader("Authorization"); header != "" {
		token, ok := strings.CutPrefix(header, "Bearer ")
		if !ok || strings.TrimSpace(token) == "" {
			return nil, errors.New("the Authorization header must be `Bearer <api key>`")
		}
		key, err := s.store.AuthenticateAPIKey(c.Request.Context(), strings.TrimSpace(token))
		if errors.Is(err, models.ErrInvalidKey) {
			s.authFailed(c)
			return nil, errBadKey
		}
		if err != nil {
			c.Set(ctxError, err)
			return nil, errors.New("the API key could not be checked; try again")
		}
		s.touchKey(c, key)
		return key, nil
	}
	if cookie, err := c.Cookie(SessionCookie); err == nil {
		key, err := s.keyFromSession(c, cookie)
		if err != nil {
			return nil, err
		}
		c.Set(ctxSession, true)
		s.touchKey(c, key)
		return key, nil
	}
	return nil, errors.New("send `Authorization: Bearer <api key>`")
}

// touchKey records that key was used (at most one write a minute per key); a staff member's
// session has no API key to record it on.
func (s *Server) touchKey(c *gin.Context, key *models.APIKey) {
	if strings.HasPrefix(key.ID, models.StaffKeyPrefix) {
		return
	}
	if err := s.store.TouchAPIKey(c.Request.Context(), key, time.Now()); err != nil {
		s.logger.WarnContext(c.Request.Context(), "could not record an API key's use", "api_key", key.ID, "error", err)
	}
}

// requireRole lets the request through only when the caller's key holds one of roles.
func requireRole(roles ...models.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if holdsRole(c, roles...) {
			c.Next()
			return
		}
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = string(r)
		}
		writeProblem(c, problemForbidden("this action needs the role "+strings.Join(names, " or ")))
	}
}

// holdsRole reports whether the caller's key (or the key its session signed in with) holds one of
// roles.
func holdsRole(c *gin.Context, roles ...models.Role) bool {
	key := callerKey(c)
	return key != nil && slices.ContainsFunc(roles, key.Roles.Has)
}

func (s *Server) keyFromSession(c *gin.Context, cookie string) (*models.APIKey, error) {
	key, err := s.store.SessionKey(c.Request.Context(), cookie, time.Now())
	if errors.Is(err, models.ErrNoSession) {
		return nil, errors.New("the session is invalid, expired or signed out: sign in again")
	}
	if err != nil {
		c.Set(ctxError, err)
		return nil, errors.New("the session could not be checked; try again")
	}
	return key, nil
}

// sign is an HMAC-SHA256 of msg under the signing key, separated by purpose so a signature made
// for one use is worthless for another.
func (s *Server) sign(purpose, msg string) string {
	mac := hmac.New(sha256.New, s.signingKey)
	fmt.Fprintf(mac, "%s\x00%s", purpose, msg)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// secure reports whether browsers reach partnerflow over https: the public URL says so (behind
// a TLS proxy the Go server itself never sees TLS), or this connection is TLS.
func (s *Server) secure(c *gin.Context) bool {
	return s.httpsPublic || c.Request.TLS != nil
}

// hsts tells browsers to come back only over https when partnerflow is served over https.
func (s *Server) hsts(c *gin.Context) {
	if s.secure(c) {
		c.Header("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	c.Next()
}

func (s *Server) setSessionCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(c),
	})
}

// CSRFHeader carries the dashboard's CSRF token on /v1 calls a browser session makes.
const CSRFHeader = "X-CSRF-Token"

// guardV1 protects /v1 from cross-site requests and ambiguous bodies: a request that changes
// something must carry a JSON body (or none), and when the session cookie rather than a bearer
// key authenticated it, the session's CSRF token in X-CSRF-Token, which another site cannot
// read.
func (s *Server) guardV1(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	if c.GetBool(ctxSession) {
		session, _ := c.Cookie(SessionCookie)
		if !hmac.Equal([]byte(c.GetHeader(CSRFHeader)), []byte(s.sign("csrf", session))) {
			writeProblem(c, problemForbidden("a browser session must send its CSRF token in "+CSRFHeader+
				"; scripts use `Authorization: Bearer <api key>`"))
			return
		}
	}
	hasBody := c.Request.ContentLength > 0 ||
		c.Request.ContentLength < 0 && c.Request.Body != nil && c.Request.Body != http.NoBody
	if hasBody && c.ContentType() != "application/json" {
		writeProblem(c, problemNotAcceptable())
		return
	}
	c.Next()
}
