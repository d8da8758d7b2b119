package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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

// authenticate accepts `Authorization: Bearer <key>` or, for browsers, the session cookie.
// Without either, or with an unknown or revoked key, it answers 401 and stops.
func (s *Server) authenticate(c *gin.Context) {
	key, err := s.keyFromRequest(c)
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="partnerflow"`)
		writeProblem(c, problemUnauthorized(err.Error()))
		return
	}
	c.Set(ctxAPIKey, key)
	c.Next()
}

func (s *Server) keyFromRequest(c *gin.Context) (*models.APIKey, error) {
	if header := c.GetHeader("Authorization"); header != "" {
		token, ok := strings.CutPrefix(header, "Bearer ")
		if !ok || strings.TrimSpace(token) == "" {
			return nil, errors.New("the Authorization header must be `Bearer <api key>`")
		}
		key, err := s.store.AuthenticateAPIKey(c.Request.Context(), strings.TrimSpace(token))
		if err != nil {
			return nil, errors.New("the API key is unknown or revoked")
		}
		return key, nil
	}
	if cookie, err := c.Cookie(SessionCookie); err == nil {
		return s.keyFromSession(c, cookie)
	}
	return nil, errors.New("send `Authorization: Bearer <api key>`")
}

// requireRole lets the request through only when the caller's key holds one of roles.
func requireRole(roles ...models.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := callerKey(c)
		for _, r := range roles {
			if key != nil && key.Roles.Has(r) {
				c.Next()
				return
			}
		}
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = string(r)
		}
		writeProblem(c, problemForbidden("this action needs the role "+strings.Join(names, " or ")))
	}
}

// newSession signs "<keyID>.<expiry>" with the server's signing key.
func (s *Server) newSession(keyID string, now time.Time) string {
	payload := keyID + "." + strconv.FormatInt(now.Add(sessionTTL).Unix(), 10)
	return payload + "." + s.sign("session", payload)
}

func (s *Server) keyFromSession(c *gin.Context, cookie string) (*models.APIKey, error) {
	invalid := errors.New("the session is invalid or expired: sign in again")
	parts := strings.Split(cookie, ".")
	if len(parts) != 3 || !hmac.Equal([]byte(s.sign("session", parts[0]+"."+parts[1])), []byte(parts[2])) {
		return nil, invalid
	}
	expiry, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || time.Now().Unix() > expiry {
		return nil, invalid
	}
	key, err := s.store.APIKeyByID(c.Request.Context(), parts[0])
	if err != nil {
		return nil, invalid
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

func setSessionCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.Request.TLS != nil,
	})
}
