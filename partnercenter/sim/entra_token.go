package sim

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// grantDeviceCode is the device code flow's grant type.
const grantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// token answers POST /{tenant}/oauth2/v2.0/token for the grant types
// client_credentials, authorization_code, refresh_token and device_code.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	d, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.entraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must be form-encoded.")
		return
	}
	grant := r.PostForm.Get("grant_type")
	a, secret, ok := s.client(w, r, d)
	if !ok {
		return
	}
	switch grant {
	case "client_credentials":
		if secret == "" {
			s.entraError(
				w,
				r,
				http.StatusUnauthorized,
				"invalid_client",
				7000218,
				"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
			)
			return
		}
		s.clientCredentials(w, r, d, a)
	case "authorization_code":
		s.redeemCode(w, r, d, a)
	case "refresh_token":
		s.redeemRefreshToken(w, r, d, a)
	case grantDeviceCode:
		s.redeemDeviceCode(w, r, d, a)
	case "":
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_request",
			900144,
			"The request body must contain the following parameter: 'grant_type'.",
		)
	default:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"unsupported_grant_type",
			70003,
			"The app requested an unsupported grant type '%s'.",
			grant,
		)
	}
}

// client authenticates the app of a token request: client_id and
// client_secret in the form or HTTP Basic. A secret is optional (public
// clients send none) but must be right when sent.
func (s *Server) client(w http.ResponseWriter, r *http.Request, d directory) (*App, string, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	a := s.app(id)
	if a == nil {
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"unauthorized_client",
			700016,
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the "+
				"application has not been installed by the administrator of the tenant or consented to by any user "+
				"in the tenant.",
			id,
			d.name,
		)
		return nil, "", false
	}
	if secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(a.ClientSecret)) != 1 {
		s.entraError(
			w,
			r,
			http.StatusUnauthorized,
			"invalid_client",
			7000215,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "+
				"not the client secret ID, for a secret added to app '%s'.",
			a.ClientID,
		)
		return nil, "", false
	}
	return a, secret, true
}

// clientCredentials issues an app-only token for <resource>/.default.
func (s *Server) clientCredentials(w http.ResponseWriter, r *http.Request, d directory, a *App) {
	scope := strings.TrimSpace(r.PostForm.Get("scope"))
	res, ok := strings.CutSuffix(scope, "/.default")
	if !ok || strings.Contains(res, " ") {
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_scope",
			1002012,
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with "+
				"/.default suffixed to the resource identifier (application ID URI).",
			scope,
		)
		return
	}
	aud := resourceAudience(res)
	if aud == "" {
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_resource",
			500011,
			"The resource principal named %s was not found in the tenant named %s.",
			res,
			d.name,
		)
		return
	}
	tok, err := s.accessToken(s.baseURL(r), grantee{dir: d, clientID: a.ClientID}, aud, defaultPermissions(aud, true))
	if err != nil {
		s.entraError(w, r, http.StatusInternalServerError, "server_error", 90100, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(accessTokenLifetime.Seconds()),
		"ext_expires_in": int(accessTokenLifetime.Seconds()), "access_token": tok})
}

// redeemCode redeems an authorization code (single-use, 10 minutes, same
// client and redirect URI, PKCE S256).
func (s *Server) redeemCode(w http.ResponseWriter, r *http.Request, d directory, a *App) {
	c := s.flows.codes[r.PostForm.Get("code")]
	switch {
	case c == nil:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			9002313,
			"Invalid request. Request is malformed or invalid: the authorization code is unknown.",
		)
	case c.redeemed:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			54005,
			"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing "+
				"refresh token.",
		)
	case !s.now().Before(c.issued.Add(codeLifetime)):
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			70008,
			"The provided authorization code or refresh token has expired due to inactivity. Send a new interactive "+
				"authorization request for this user and resource.",
		)
	case !strings.EqualFold(c.clientID, a.ClientID) || c.tenantID != d.id:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			70000,
			"The provided value for the 'code' parameter is not valid: it was issued to another client or tenant.",
		)
	case r.PostForm.Get("redirect_uri") != c.redirectURI:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			70000,
			"The provided value for the 'redirect_uri' is not valid. The value must exactly match the redirect URI "+
				"used to obtain the authorization code.",
		)
	case c.challenge != "" && s256(r.PostForm.Get("code_verifier")) != c.challenge:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			501481,
			"The Code_Verifier does not match the code_challenge supplied in the authorization request.",
		)
	default:
		c.redeemed = true
		u, _ := d.user(c.upn)
		s.userTokens(w, r, grantee{dir: d, user: u, clientID: a.ClientID, mfa: c.mfa}, c.scope, c.nonce)
	}
}

// redeemRefreshToken redeems a refresh token for a token of any resource
// (Entra's refresh tokens are multi-resource), returning a new refresh
// token; the old one stays valid (Entra does not revoke it).
func (s *Server) redeemRefreshToken(w http.ResponseWriter, r *http.Request, d directory, a *App) {
	key := tokenHash(r.PostForm.Get("refresh_token"))
	g := s.st.RefreshTokens[key]
	now := s.now()
	switch {
	case g == nil || g.TenantID != d.id:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			9002313,
			"Invalid request. Request is malformed or invalid: the refresh token is unknown.",
		)
		return
	case !strings.EqualFold(g.ClientID, a.ClientID):
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			70000,
			"Provided grant is invalid or malformed: the refresh token was issued to another client.",
		)
		return
	case !g.RevokedAt.IsZero():
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			50173,
			"The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might "+
				"have changed or reset their password. The grant was issued on '%s' and the TokensValidFrom date "+
				"(before which tokens are not valid) for this user is '%s'.",
			g.IssuedAt.Format("2006-01-02T15:04:05.0000000Z"),
			g.RevokedAt.Format("2006-01-02T15:04:05.0000000Z"),
		)
		return
	case g.lapsed(now):
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			700082,
			"The refresh token has expired due to inactivity. The token was issued on %s and was inactive for "+
				"90.00:00:00.",
			g.IssuedAt.Format("2006-01-02T15:04:05.0000000Z"),
		)
		return
	}
	u, ok := d.user(g.UPN)
	if !ok {
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_grant",
			50034,
			"The user account %s does not exist in the %s directory.",
			g.UPN,
			d.domain,
		)
		return
	}
	g.LastUsedAt = now
	s.st.mark(kindRefreshToken, key)
	scope := r.PostForm.Get("scope")
	if strings.TrimSpace(scope) == "" {
		scope = g.Scope
	}
	if !strings.Contains(" "+strings.ToLower(scope)+" ", " offline_access ") {
		scope += " offline_access"
	}
	s.userTokens(w, r, grantee{dir: d, user: u, clientID: a.ClientID, mfa: g.MFA}, scope, "")
}

// redeemDeviceCode answers a device code poll: pending, declined, expired,
// or the tokens (once).
func (s *Server) redeemDeviceCode(w http.ResponseWriter, r *http.Request, d directory, a *App) {
	code := r.PostForm.Get("device_code")
	if code == "" {
		code = r.PostForm.Get("code")
	}
	f := s.flows.devices[code]
	switch {
	case f == nil || !strings.EqualFold(f.clientID, a.ClientID) || f.tenantID != d.id:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"bad_verification_code",
			70000,
			"The device code is unknown to the tenant and the client.",
		)
	case f.redeemed:
		s.entraError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "The device code was already redeemed.")
	case f.declined:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"authorization_declined",
			70000,
			"The end user denied the authorization request.",
		)
	case f.approved:
		f.redeemed = true
		u, _ := d.user(f.upn)
		s.userTokens(w, r, grantee{dir: d, user: u, clientID: a.ClientID, mfa: f.mfa}, f.scope, "")
	case !s.now().Before(f.issued.Add(deviceCodeLifetime)):
		s.entraError(w, r, http.StatusBadRequest, "expired_token", 70019, "Verification code expired.")
	default:
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"authorization_pending",
			70016,
			"OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
		)
	}
}

// userTokens answers a user grant: an access token for the first resource of
// scope, a new refresh token with offline_access, an ID token with openid.
func (s *Server) userTokens(w http.ResponseWriter, r *http.Request, g grantee, scope, nonce string) {
	sr := parseScope(scope)
	if sr.aud == "" {
		s.entraError(
			w,
			r,
			http.StatusBadRequest,
			"invalid_resource",
			500011,
			"The resource principal named %s was not found in the tenant named %s.",
			sr.unknown,
			g.dir.name,
		)
		return
	}
	base := s.baseURL(r)
	at, err := s.accessToken(base, g, sr.aud, sr.perms)
	if err != nil {
		s.entraError(w, r, http.StatusInternalServerError, "server_error", 90100, "%v", err)
		return
	}
	out := map[string]any{
		"token_type":     "Bearer",
		"scope":          strings.Join(sr.granted, " "),
		"expires_in":     int(accessTokenLifetime.Seconds()),
		"ext_expires_in": int(accessTokenLifetime.Seconds()),
		"access_token":   at,
	}
	if sr.offline {
		rt := "sim-rt." + randomToken(48)
		s.issued.add(&s.issued.refresh, rt)
		key := tokenHash(rt)
		s.st.RefreshTokens[key] = &refreshGrant{
			TenantID: g.dir.id,
			UPN:      g.user.UPN,
			ClientID: g.clientID,
			Scope:    scope,
			MFA:      g.mfa,
			IssuedAt: s.now(),
		}
		s.st.mark(kindRefreshToken, key)
		out["refresh_token"] = rt
	}
	if sr.openid {
		id, err := s.idToken(base, g, nonce)
		if err != nil {
			s.entraError(w, r, http.StatusInternalServerError, "server_error", 90100, "%v", err)
			return
		}
		out["id_token"] = id
	}
	writeJSON(w, http.StatusOK, out)
}
