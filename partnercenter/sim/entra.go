package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// The simulator is also Microsoft Entra ID for the home partner's tenant (and,
// so that tests can hold a token of another tenant, for every tenant of the
// world): OpenID configuration, JWKS, the authorization code flow with PKCE
// and its sign-in pages, refresh tokens, client credentials and the device
// code flow, on login.microsoftonline.com's paths. README.md ("Entra ID")
// lists the error answers.

// Lifetimes of Entra's grants. Authorization codes, device codes and refresh
// tokens run on the simulated clock (Server.now, so /sim/clock can expire
// them); access tokens on the real one (see accessToken).
const (
	codeLifetime        = 10 * time.Minute
	deviceCodeLifetime  = 15 * time.Minute
	deviceCodeInterval  = 5 // seconds
	refreshInactivity   = 90 * 24 * time.Hour
	pendingFlowLifetime = time.Hour
)

// App is an app registration in the home partner's tenant.
type App struct {
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	RedirectURIs []string `json:"redirectUris"`
}

// DemoApp is the app registration SeedDemo adds: partnerflow's app in the
// home partner's tenant, for dev and tests. Its loopback redirect URIs match
// on any port.
var DemoApp = App{
	ClientID:     "5d8c1f3a-9b2e-4c47-a1f0-3e6b7d9c2a15",
	ClientSecret: "sim-demo-secret-5d8c1f3a",
	RedirectURIs: []string{
		"http://localhost/auth/callback", "http://127.0.0.1/auth/callback",
		"http://localhost/auth/signin", "http://127.0.0.1/auth/signin",
	},
}

// refreshGrant is a refresh token Entra issued (persisted by the SHA-256 of
// its value, which is never stored).
type refreshGrant struct {
	TenantID   string    `json:"tenantId"`
	UPN        string    `json:"upn"`
	ClientID   string    `json:"clientId"`
	Scope      string    `json:"scope"`
	MFA        bool      `json:"mfa"`
	IssuedAt   time.Time `json:"issuedAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
	RevokedAt  time.Time `json:"revokedAt,omitzero"`
}

// lapsed reports whether the token went unused for 90 days at now.
func (g *refreshGrant) lapsed(now time.Time) bool {
	last := g.IssuedAt
	if g.LastUsedAt.After(last) {
		last = g.LastUsedAt
	}
	return !now.Before(last.Add(refreshInactivity))
}

// entraFlows are the sign-ins in progress; they live in memory only (a
// restart ends them, as it would a browser session), guarded by s.mu.
type entraFlows struct {
	signIns   map[string]*signIn     // by ID (a hidden form field)
	codes     map[string]*authCode   // by code
	devices   map[string]*deviceFlow // by device code
	userCodes map[string]*deviceFlow // by user code
}

func newEntraFlows() entraFlows {
	return entraFlows{
		signIns:   map[string]*signIn{},
		codes:     map[string]*authCode{},
		devices:   map[string]*deviceFlow{},
		userCodes: map[string]*deviceFlow{},
	}
}

// signIn is a browser sign-in between its pages: an authorization request,
// or a device login once its user code was entered.
type signIn struct {
	tenantID, clientID, redirectURI, scope, state, nonce, challenge, loginHint string
	device                                                                     *deviceFlow
	started                                                                    time.Time
}

// authCode is an authorization code, single-use.
type authCode struct {
	tenantID, clientID, redirectURI, challenge, scope, nonce, upn string
	mfa                                                           bool
	issued                                                        time.Time
	redeemed                                                      bool
}

// deviceFlow is a device authorization and what its user did.
type deviceFlow struct {
	deviceCode, userCode, tenantID, clientID, scope string
	issued                                          time.Time
	upn                                             string
	mfa, approved, declined, redeemed               bool
}

// prune forgets the sign-ins, codes and device flows older than an hour.
func (f *entraFlows) prune(now time.Time) {
	cutoff := now.Add(-pendingFlowLifetime)
	for k, v := range f.signIns {
		if v.started.Before(cutoff) {
			delete(f.signIns, k)
		}
	}
	for k, v := range f.codes {
		if v.issued.Before(cutoff) {
			delete(f.codes, k)
		}
	}
	for k, v := range f.devices {
		if v.issued.Before(cutoff) {
			delete(f.devices, k)
			delete(f.userCodes, v.userCode)
		}
	}
}

// directory is a tenant as Entra sees it: its users.
type directory struct {
	id, domain, name string
	users            []User
}

func (d directory) user(upn string) (User, bool) {
	for _, u := range d.users {
		if strings.EqualFold(u.UPN, upn) {
			return u, true
		}
	}
	return User{}, false
}

// directory finds a tenant by ID or domain ("" , "organizations" and "common"
// mean the home partner's); callers hold s.mu.
func (s *Server) directory(tenant string) (directory, bool) {
	k := strings.ToLower(strings.TrimSpace(tenant))
	switch k {
	case "", "organizations", "common", strings.ToLower(s.home.TenantID), strings.ToLower(s.home.Domain):
		return directory{
			id:     s.home.TenantID,
			domain: s.home.Domain,
			name:   s.home.CompanyName,
			users:  s.homeUsers(),
		}, true
	}
	t := s.st.Tenants[k]
	if t == nil {
		t = s.st.tenantByDomain(k)
	}
	if t == nil {
		return directory{}, false
	}
	return directory{id: t.ID, domain: t.Domain, name: t.CompanyName, users: t.Users}, true
}

// homeUsers are the home partner's users: admin@ (Global admin) and agent@.
func (s *Server) homeUsers() []User {
	return []User{
		{UPN: "admin@" + s.home.Domain, GlobalAdmin: true, AppRoles: []string{"global-admin"}},
		{UPN: "agent@" + s.home.Domain},
		{UPN: "adminagent@" + s.home.Domain, AppRoles: []string{"admin-agent"}},
		{UPN: "salesagent@" + s.home.Domain, AppRoles: []string{"sales-agent"}},
	}
}

// app finds an app registration by client ID; callers hold s.mu.
func (s *Server) app(clientID string) *App { return s.st.Apps[strings.ToLower(clientID)] }

// putApp registers an app; callers hold s.mu.
func (s *Server) putApp(a App) {
	k := strings.ToLower(a.ClientID)
	a.RedirectURIs = slices.Clone(a.RedirectURIs)
	s.st.Apps[k] = &a
	s.st.mark(kindApp, k)
}

// redirectAllowed reports whether uri is one of the app's redirect URIs:
// equal, or for a loopback URI (http://127.0.0.1 or http://localhost) equal
// but for the port, as Entra matches loopback redirect URIs.
func (a *App) redirectAllowed(uri string) bool {
	if uri == "" {
		return false
	}
	if slices.Contains(a.RedirectURIs, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || !isLoopback(u) {
		return false
	}
	for _, reg := range a.RedirectURIs {
		r, err := url.Parse(reg)
		if err == nil && isLoopback(r) && r.Hostname() == u.Hostname() && r.Path == u.Path && r.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

func isLoopback(u *url.URL) bool {
	return u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || strings.EqualFold(u.Hostname(), "localhost"))
}

// baseURL is the simulator's public URL, or the request's own when none is
// configured; callers hold s.mu.
func (s *Server) baseURL(r *http.Request) string {
	if u := s.publicURL(); u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// randomToken is a random URL-safe string of n bytes of entropy.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// userCodeAlphabet avoids letters and digits users confuse.
const userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func newUserCode() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i, v := range b {
		b[i] = userCodeAlphabet[int(v)%len(userCodeAlphabet)]
	}
	return string(b)
}

// tokenHash is the key a refresh token is kept under.
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

var guidShape = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// scopeRequest is a user grant's scope parameter, read as Entra reads it.
type scopeRequest struct {
	aud     string   // the resource of the first resource scope
	perms   []string // its permissions (scp)
	granted []string // the resource scopes answered in "scope"
	offline bool     // offline_access: a refresh token
	openid  bool     // openid: an ID token
	unknown string   // a scope of a resource the simulator does not know
}

// parseScope reads a space-separated scope list. A scope without a resource
// is Microsoft Graph's, as Entra reads it; ".default" stands for what the
// demo app has consent for.
func parseScope(scope string) scopeRequest {
	var out scopeRequest
	for _, f := range strings.Fields(scope) {
		switch strings.ToLower(f) {
		case "openid":
			out.openid = true
			continue
		case "offline_access":
			out.offline = true
			continue
		case "profile", "email":
			continue
		}
		res, perm := pc.GraphAudience, f
		if i := strings.LastIndex(f, "/"); i >= 0 {
			res, perm = strings.TrimSuffix(f[:i], "/"), f[i+1:]
		}
		aud := resourceAudience(res)
		if aud == "" {
			if out.unknown == "" {
				out.unknown = f
			}
			continue
		}
		if out.aud == "" {
			out.aud = aud
		}
		if aud != out.aud {
			continue
		}
		if perm == ".default" {
			out.perms = append(out.perms, defaultPermissions(aud, false)...)
		} else {
			out.perms = append(out.perms, perm)
		}
		out.granted = append(out.granted, f)
	}
	if out.aud == "" && out.unknown == "" {
		out.aud, out.perms, out.granted = pc.GraphAudience, []string{"User.Read"},
			[]string{pc.GraphAudience + "/User.Read"}
	}
	return out
}

// resourceAudience is the audience of a resource named by its URI or app
// ID, or "" for a resource the simulator does not serve.
func resourceAudience(res string) string {
	switch strings.ToLower(res) {
	case pc.PartnerCenterAudience, partnerCenterAppID:
		return pc.PartnerCenterAudience
	case pc.GraphAudience, graphAppID:
		return pc.GraphAudience
	}
	return ""
}
