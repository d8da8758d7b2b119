package api

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// Staff sign in to the dashboard with their Microsoft Entra account in the partner tenant
// (OpenID Connect, authorization code with PKCE and a nonce): MFA is required (the ID token's
// amr), and the partnerflow roles are the app roles the user is assigned on partnerflow's app
// (values admin-agent, sales-agent, global-admin, in the ID token's roles claim). The session is
// kept server-side as an API key's is; API keys remain for machines and the bootstrap key for
// first setup.

// StaffSignIn signs the partner's staff in with Microsoft (*partnercenter.Entra satisfies it).
type StaffSignIn interface {
	SignInURL(redirectURI, state, verifier, nonce string) string
	SignIn(ctx context.Context, redirectURI, code, verifier, nonce string) (partnercenter.Identity, error)
}

// SignInPath is where Entra ID sends a staff member back: the API's public base URL plus this
// path is the second redirect URI to register on the app (CallbackPath is the connection's).
const SignInPath = "/auth/signin"

// signInCookie carries a staff sign-in in progress (state, PKCE verifier, nonce and where to go
// next, sealed) from /login/microsoft to SignInPath.
const signInCookie = "pf_signin"

// staffSignInTTL is how long a started staff sign-in may take.
const staffSignInTTL = 10 * time.Minute

// pendingStaffSignIn is what the sign-in cookie seals.
type pendingStaffSignIn struct {
	State, Verifier, Nonce, Next string
	Expires                      time.Time
}

// staffSignInBinding is the purpose the sign-in cookie is sealed for.
const staffSignInBinding = "staff-sign-in"

func problemStaffSignIn(status int, kind, title, detail string) *Problem {
	return NewProblem(status, "sign-in-"+kind, title, detail)
}

func (s *Server) setSignInCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: signInCookie, Value: value, Path: SignInPath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(c),
	})
}

// signInRedirectURI is the address Entra ID sends a staff member back to.
func (s *Server) signInRedirectURI(c *gin.Context) string {
	return strings.TrimSuffix(s.redirectURI(c), CallbackPath) + SignInPath
}

// startStaffSignIn sends the browser to Microsoft's sign-in with a fresh state, verifier and
// nonce sealed in a cookie that only the sign-in's answer reads.
func (s *Server) startStaffSignIn(c *gin.Context) {
	if s.staffSignIn == nil {
		s.writePageProblem(c, problemStaffSignIn(http.StatusNotFound, "not-configured", "No Microsoft sign-in here",
			"this deployment has no Entra app configured; sign in with an API key"), false, pageFrame{})
		return
	}
	pending := pendingStaffSignIn{
		State: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(),
		Next: safeNext(c.Query("next")), Expires: time.Now().Add(staffSignInTTL).UTC(),
	}
	plain, err := json.Marshal(pending)
	if err != nil {
		writeError(c, fmt.Errorf("seal the sign-in: %w", err))
		return
	}
	sealed := s.connectBox.Seal(staffSignInBinding, string(plain))
	s.setSignInCookie(c, base64.RawURLEncoding.EncodeToString(sealed), int(staffSignInTTL.Seconds()))
	c.Redirect(http.StatusSeeOther,
		s.staffSignIn.SignInURL(s.signInRedirectURI(c), pending.State, pending.Verifier, pending.Nonce))
}

// takeStaffSignIn reads and clears the sign-in this browser started.
func (s *Server) takeStaffSignIn(c *gin.Context) (pendingStaffSignIn, error) {
	var pending pendingStaffSignIn
	raw, err := c.Cookie(signInCookie)
	s.setSignInCookie(c, "", -1)
	again := "; start again from the sign-in page"
	if err != nil || raw == "" {
		return pending, problemStaffSignIn(http.StatusBadRequest, "state-mismatch", "This sign-in was not started here",
			"no sign-in was started from this browser in the last 10 minutes"+again)
	}
	sealed, err := base64.RawURLEncoding.DecodeString(raw)
	if err == nil {
		var plain string
		if plain, err = s.connectBox.Open(staffSignInBinding, sealed); err == nil {
			err = json.Unmarshal([]byte(plain), &pending)
		}
	}
	switch {
	case err != nil:
		return pending, problemStaffSignIn(http.StatusBadRequest, "state-mismatch", "This sign-in was not started here",
			"the sign-in cookie is damaged"+again)
	case !time.Now().Before(pending.Expires):
		return pending, problemStaffSignIn(http.StatusBadRequest, "expired", "The sign-in took too long",
			"a sign-in must be completed within 10 minutes"+again)
	case !hmac.Equal([]byte(c.Query("state")), []byte(pending.State)):
		return pending, problemStaffSignIn(http.StatusBadRequest, "state-mismatch", "This sign-in was not started here",
			"the answer does not belong to the sign-in this browser started"+again)
	}
	return pending, nil
}

// staffRoles are the partnerflow roles among a user's app roles.
func staffRoles(appRoles []string) models.Roles {
	var roles []models.Role
	for _, v := range appRoles {
		if r, ok := models.ParseRole(v); ok {
			roles = append(roles, r)
		}
	}
	return models.NewRoles(roles...)
}

// finishStaffSignIn takes Microsoft's answer: nothing is signed in unless the state is this
// browser's sign-in, the code redeems with its verifier, and the ID token names a user of the
// partner tenant, with this sign-in's nonce, who used MFA and holds a partnerflow app role.
func (s *Server) finishStaffSignIn(c *gin.Context) {
	refuse := func(p *Problem) {
		if p.Status == http.StatusForbidden {
			s.authFailed(c)
		}
		p.Instance = SignInPath // never echo the code
		s.writePageProblem(c, p, false, pageFrame{})
	}
	if s.staffSignIn == nil {
		refuse(problemStaffSignIn(http.StatusNotFound, "not-configured", "No Microsoft sign-in here",
			"this deployment has no Entra app configured; sign in with an API key"))
		return
	}
	if s.authThrottled(c) {
		return
	}
	pending, err := s.takeStaffSignIn(c)
	if e := c.Query("error"); e != "" {
		// Only fixed text is shown: the URL is anyone's to write.
		detail := "Microsoft Entra ID answered an error"
		if entraErrorCode.MatchString(e) {
			detail = "Microsoft Entra ID answered " + e
		}
		refuse(problemStaffSignIn(http.StatusBadRequest, "failed", "Microsoft did not sign you in",
			detail+"; start again from the sign-in page"))
		return
	}
	var p *Problem
	if errors.As(err, &p) {
		refuse(p)
		return
	}
	ctx := c.Request.Context()
	id, err := s.staffSignIn.SignIn(ctx, s.signInRedirectURI(c), c.Query("code"), pending.Verifier, pending.Nonce)
	switch {
	case errors.Is(err, partnercenter.ErrMFARequired):
		refuse(problemStaffSignIn(http.StatusForbidden, "mfa-required", "Multi-factor authentication is required",
			"partnerflow signs staff in only after multi-factor authentication; sign in again and approve the "+
				"second factor"))
		return
	case err != nil:
		s.logger.WarnContext(ctx, "a staff sign-in was refused", "error", err)
		refuse(problemStaffSignIn(http.StatusForbidden, "refused", "Microsoft's answer was not accepted",
			err.Error()))
		return
	}
	roles := staffRoles(id.Roles)
	if roles == "" {
		refuse(problemStaffSignIn(http.StatusForbidden, "no-role", "Your account has no partnerflow role",
			id.UPN+" holds none of partnerflow's app roles (admin-agent, sales-agent, global-admin); ask an "+
				"administrator of the partner tenant to assign you one in Microsoft Entra ID"))
		return
	}
	now := time.Now()
	session, err := s.store.CreateStaffSession(ctx, id.ObjectID, id.UPN, roles, now, sessionTTL)
	if err != nil {
		writeError(c, err)
		return
	}
	s.logger.InfoContext(ctx, "staff signed in with Microsoft", "upn", id.UPN, "roles", string(roles))
	s.setSessionCookie(c, session, int(sessionTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, pending.Next)
}
