package sim

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// Access tokens are RS256 JWTs signed with a key of their own (not the
// webhook key), persisted so that tokens and cached JWKS survive a restart.
const (
	accessTokenLifetime = time.Hour
	// graphAppID and partnerCenterAppID are the other audiences the services
	// accept: their resource apps' IDs.
	graphAppID         = "00000003-0000-0000-c000-000000000000"
	partnerCenterAppID = "fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd"
	// PermissionGDAP is the Graph permission the GDAP API needs, as an app
	// role (app-only) or a delegated scope (App+User).
	PermissionGDAP = "DelegatedAdminRelationship.ReadWrite.All"
	// permissionGDAPRead also lets a caller read relationships.
	permissionGDAPRead = "DelegatedAdminRelationship.Read.All"
	// PermissionCrossTenantRead is the Graph permission findTenantInformationByDomainName needs,
	// delegated or application, and the only one it accepts ("tenantRelationship:
	// findTenantInformationByDomainName", Permissions: no higher privilege is listed).
	PermissionCrossTenantRead = "CrossTenantInformation.ReadBasic.All"
	// partnerCenterScope is the delegated scope of a Partner Center token.
	partnerCenterScope = "user_impersonation"
)

// accessClaims are the claims of the simulator's access tokens (those
// Microsoft's v1.0 tokens carry, minus the ones nobody checks).
type accessClaims struct {
	jwt.Claims
	TenantID string   `json:"tid"`
	ObjectID string   `json:"oid"`
	AppID    string   `json:"appid"`
	AZP      string   `json:"azp"`
	IDType   string   `json:"idtyp"`
	UPN      string   `json:"upn,omitempty"`
	Name     string   `json:"name,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	Scope    string   `json:"scp,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Version  string   `json:"ver"`
}

// idClaims are the claims of an ID token (OpenID Connect, v2.0).
type idClaims struct {
	jwt.Claims
	TenantID          string   `json:"tid"`
	ObjectID          string   `json:"oid"`
	UPN               string   `json:"upn"`
	PreferredUsername string   `json:"preferred_username"`
	Name              string   `json:"name"`
	AMR               []string `json:"amr"`
	Roles             []string `json:"roles,omitempty"`
	Nonce             string   `json:"nonce,omitempty"`
	Version           string   `json:"ver"`
}

// ensureTokenKey loads the persisted token signing key or makes a new one,
// and prepares the signer; callers own s exclusively (New).
func (s *Server) ensureTokenKey() error {
	var key *rsa.PrivateKey
	if block, _ := pem.Decode([]byte(s.st.TokenKeyPEM)); block != nil {
		if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
			key = k
		}
	}
	if key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return fmt.Errorf("generate token signing key: %w", err)
		}
		key = k
		s.st.TokenKeyPEM = string(
			pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		)
		s.st.mark(kindMeta, metaToken)
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("token signing key thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: jwk.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return fmt.Errorf("token signer: %w", err)
	}
	s.tokenKey, s.tokenJWK, s.tokenSigner = key, jwk, signer
	return nil
}

// sign serializes claims as a JWT signed with the token key.
func (s *Server) sign(claims any) (string, error) {
	tok, err := jwt.Signed(s.tokenSigner).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

// issuer is the issuer of a tenant's tokens, as its OpenID configuration
// states it.
func (s *Server) issuer(base, tenantID string) string { return base + "/" + tenantID + "/v2.0" }

// grantee is who an access token stands for: a user of a tenant signed in to
// an app (App+User), or the app itself (app-only).
type grantee struct {
	dir      directory
	user     User // zero for app-only
	clientID string
	mfa      bool
}

// accessToken mints an access token for aud with the delegated scopes (App+User)
// or app roles (app-only); the lifetime runs on the wall clock (time.Now, not
// Config.Now nor /sim/clock), as clients cache tokens by theirs, so advancing
// the simulated world by days does not expire tokens in flight.
func (s *Server) accessToken(base string, g grantee, aud string, perms []string) (string, error) {
	now := time.Now().UTC()
	c := accessClaims{
		Claims: jwt.Claims{
			Issuer:    s.issuer(base, g.dir.id),
			Audience:  jwt.Audience{aud},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(accessTokenLifetime)),
			ID:        newID(),
		},
		TenantID: g.dir.id, AppID: g.clientID, AZP: g.clientID, Version: "1.0",
	}
	if g.user.UPN == "" {
		c.IDType, c.ObjectID, c.Roles = "app", servicePrincipalID(g.dir.id, g.clientID), perms
	} else {
		c.IDType, c.ObjectID, c.UPN, c.Name, c.Scope = "user", userObjectID(g.dir.id, g.user.UPN), g.user.UPN,
			displayName(g.user.UPN), strings.Join(perms, " ")
		c.AMR = amr(g.mfa)
	}
	c.Subject = c.ObjectID
	tok, err := s.sign(c)
	if err == nil {
		s.issued.add(&s.issued.access, tok)
	}
	return tok, err
}

// idToken mints the OpenID Connect ID token of a user sign-in.
func (s *Server) idToken(base string, g grantee, nonce string) (string, error) {
	now := time.Now().UTC()
	oid := userObjectID(g.dir.id, g.user.UPN)
	return s.sign(idClaims{
		Claims: jwt.Claims{
			Issuer:    s.issuer(base, g.dir.id),
			Audience:  jwt.Audience{g.clientID},
			Subject:   oid,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(accessTokenLifetime)),
		},
		TenantID:          g.dir.id,
		ObjectID:          oid,
		UPN:               g.user.UPN,
		PreferredUsername: g.user.UPN,
		Name:              displayName(g.user.UPN),
		AMR:               amr(g.mfa),
		Roles:             g.user.AppRoles,
		Nonce:             nonce,
		Version:           "2.0",
	})
}

func amr(mfa bool) []string {
	if mfa {
		return []string{"pwd", "mfa"}
	}
	return []string{"pwd"}
}

// userObjectID is a user's stable object ID (oid) in its tenant.
func userObjectID(tenantID, upn string) string {
	return nameUUID(strings.ToLower(tenantID) + "/user/" + strings.ToLower(upn))
}

// servicePrincipalID is the object ID of an app's service principal in a tenant.
func servicePrincipalID(tenantID, clientID string) string {
	return nameUUID(strings.ToLower(tenantID) + "/sp/" + strings.ToLower(clientID))
}

// displayName is a user's name: the UPN's local part, capitalized.
func displayName(upn string) string {
	local, _, _ := strings.Cut(upn, "@")
	if local == "" {
		return upn
	}
	return strings.ToUpper(local[:1]) + local[1:]
}

// Resources a TokenRequest names.
const (
	ResourcePartnerCenter = "partnercenter"
	ResourceGraph         = "graph"
)

// TokenRequest describes a token MintToken (and POST /sim/tokens) issues
// without a sign-in; the zero value is the home partner's admin user signed in
// to the demo app with MFA, for Partner Center.
type TokenRequest struct {
	// UPN is the signed-in user; empty means admin@<the tenant's domain>.
	UPN string `json:"upn,omitempty"`
	// SkipMFA leaves "mfa" out of the token's amr (the user signed in with a
	// password only). POST /sim/tokens reads it from "mfa": false.
	SkipMFA bool `json:"-"`
	// AppOnly makes an app-only token (client credentials) instead.
	AppOnly bool `json:"appOnly,omitempty"`
	// Resource is ResourcePartnerCenter (default) or ResourceGraph, or the
	// audience itself.
	Resource string `json:"resource,omitempty"`
	// TenantID is the tenant the token is issued in; empty means the home
	// partner's.
	TenantID string `json:"tenantId,omitempty"`
	// Permissions replaces the delegated scopes (App+User) or app roles
	// (app-only) the token carries: by default user_impersonation for Partner
	// Center, DelegatedAdminRelationship.ReadWrite.All for Graph (app-only Graph
	// tokens also CrossTenantInformation.ReadBasic.All).
	Permissions []string `json:"permissions,omitempty"`
	// ClientID is the app; empty means DemoApp.
	ClientID string `json:"clientId,omitempty"`
}

// MintToken issues an access token as Entra ID would after a sign-in (or a
// client-credentials grant), for tests and scripts that need no browser.
func (s *Server) MintToken(req TokenRequest) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mintToken(req)
}

// mintToken is MintToken; callers hold s.mu.
func (s *Server) mintToken(req TokenRequest) (string, error) {
	dir, ok := s.directory(req.TenantID)
	if !ok {
		return "", fmt.Errorf("mint token: no tenant %q", req.TenantID)
	}
	var aud string
	switch strings.ToLower(req.Resource) {
	case "", ResourcePartnerCenter, pc.PartnerCenterAudience:
		aud = pc.PartnerCenterAudience
	case ResourceGraph, pc.GraphAudience:
		aud = pc.GraphAudience
	default:
		return "", fmt.Errorf("mint token: unknown resource %q (partnercenter or graph)", req.Resource)
	}
	g := grantee{dir: dir, clientID: req.ClientID, mfa: !req.SkipMFA}
	if g.clientID == "" {
		g.clientID = DemoApp.ClientID
	}
	perms := req.Permissions
	if !req.AppOnly {
		upn := req.UPN
		if upn == "" {
			upn = "admin@" + dir.domain
		}
		u, ok := dir.user(upn)
		if !ok {
			return "", fmt.Errorf("mint token: %s has no user %s", dir.domain, upn)
		}
		g.user = u
	}
	if perms == nil {
		perms = defaultPermissions(aud, req.AppOnly)
	}
	return s.accessToken(s.publicURL(), g, aud, perms)
}

// defaultPermissions are the scopes or roles partnerflow's app registration
// has consent for on a resource: its app-only Graph token also reads other
// tenants' basic information (findTenantInformationByDomainName), which only
// app-only calls make.
func defaultPermissions(aud string, appOnly bool) []string {
	switch {
	case aud == pc.GraphAudience && appOnly:
		return []string{PermissionGDAP, PermissionCrossTenantRead}
	case aud == pc.GraphAudience:
		return []string{PermissionGDAP}
	case appOnly:
		return nil
	}
	return []string{partnerCenterScope}
}

// caller is the verified identity behind a service call.
type caller struct {
	tenantID string
	clientID string
	upn      string // empty for app-only
	mfa      bool
	perms    []string
}

func (c *caller) appOnly() bool { return c.upn == "" }

type callerKey struct{}

// callerOf is the identity service() verified for the request; nil when a
// handler runs without service() (tests calling it directly).
func callerOf(r *http.Request) *caller {
	c, _ := r.Context().Value(callerKey{}).(*caller)
	return c
}

// userCall refuses an app-only call to the App+User-only variant of an
// operation whose route also serves app-only calls (the route's credential
// is the most permissive of its operations'); it reports whether the call
// may go on.
func (s *Server) userCall(w http.ResponseWriter, r *http.Request) bool {
	if c := callerOf(r); c != nil && c.appOnly() {
		s.pcFail(w, http.StatusForbidden, 0, AppOnlyRefused)
		return false
	}
	return true
}

// authFailure is a refused token: the HTTP status and the Partner Center
// code and Graph code answered with the description.
type authFailure struct {
	status    int
	pcCode    int
	graphCode string
	message   string
}

// Partner Center answers to refused tokens (see README.md, "Tokens").
const (
	// CodeMFARequired is the Partner Center error code (HTTP 401) of an
	// App+User call whose token lacks the mfa claim, as Microsoft announced
	// it for the enforcement from 1 April 2026.
	CodeMFARequired = 900421
	// CodeInvalidToken is the Partner Center error code (HTTP 401) of a token
	// Partner Center does not accept (seen for a wrong audience; the
	// simulator answers it for every invalid token).
	CodeInvalidToken = 900420
	// AppOnlyRefused is the description (HTTP 403, code 0) of an app-only
	// call to an operation that supports App+User credentials only: the text
	// Partner Center answers in the field (it documents no code).
	AppOnlyRefused = "This resource can't be accessed by application credentials."
)

func unauthenticated(message string) *authFailure {
	return &authFailure{
		status:    http.StatusUnauthorized,
		pcCode:    CodeInvalidToken,
		graphCode: "InvalidAuthenticationToken",
		message:   message,
	}
}

// graphNeed names the Graph permissions of which a call's token must carry
// one (app roles app-only, delegated scopes App+User); the first is the one
// the refusal names.
type graphNeed func(r *http.Request) []string

// gdapNeed is what the GDAP API asks: DelegatedAdminRelationship.ReadWrite.All,
// or Read.All for reads.
func gdapNeed(r *http.Request) []string {
	if r.Method == http.MethodGet {
		return []string{PermissionGDAP, permissionGDAPRead}
	}
	return []string{PermissionGDAP}
}

// crossTenantNeed is what findTenantInformationByDomainName asks.
func crossTenantNeed(*http.Request) []string { return []string{PermissionCrossTenantRead} }

// authenticate verifies the bearer token of a service call and applies the
// route's credential and, on Graph, its permission; it needs no lock (the key
// and home partner never change).
func (s *Server) authenticate(
	r *http.Request, graphAPI bool, cred pc.Credential, need graphNeed,
) (*caller, *authFailure) {
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	raw = strings.TrimSpace(raw)
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, unauthenticated("Access token is empty.")
	}
	c, why := s.verifyToken(raw, graphAPI)
	if c == nil {
		return nil, unauthenticated(why)
	}
	if graphAPI {
		if need == nil {
			need = gdapNeed
		}
		perms := need(r)
		if !slices.ContainsFunc(c.perms, func(p string) bool { return slices.Contains(perms, p) }) {
			kind := "delegated permission (scp)"
			if c.appOnly() {
				kind = "application permission (roles)"
			}
			return nil, &authFailure{
				status:    http.StatusForbidden,
				graphCode: "Authorization_RequestDenied",
				message: "Insufficient privileges to complete the operation. The token needs the " +
					perms[0] + " " + kind + ".",
			}
		}
		return c, nil
	}
	switch {
	case cred == pc.AppUser && c.appOnly():
		return nil, &authFailure{status: http.StatusForbidden, message: AppOnlyRefused}
	case !c.appOnly() && !c.mfa:
		return nil, &authFailure{status: http.StatusUnauthorized, pcCode: CodeMFARequired,
			message: "MFA is required: the App+User access token has no mfa claim (amr)."}
	}
	return c, nil
}

// What a refused token's 401 says (Graph's wording where Graph has one).
const (
	msgTokenMalformed = "CompactToken parsing failed: the access token is not a JWT."
	msgTokenKey       = "Access token validation failure: the token is not signed by a key of the tenant " +
		"(unknown kid or bad signature)."
	msgTokenExpired  = "Lifetime validation failed, the token is expired."
	msgTokenAudience = "Access token validation failure. Invalid audience: the token is not for this service."
	msgTokenTenant   = "Access token validation failure: the token was issued for another tenant."
	msgTokenRevoked  = "Access token validation failure: the user's sessions were revoked after the token was issued."
)

// verifyToken checks a bearer token: a JWT signed with the token key, valid
// now on the real clock, for the service's audience, issued in the home
// partner's tenant. It answers the caller, or why the token is refused.
func (s *Server) verifyToken(raw string, graphAPI bool) (*caller, string) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, msgTokenMalformed
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID != s.tokenJWK.KeyID {
		return nil, msgTokenKey
	}
	var c accessClaims
	if err := tok.Claims(&s.tokenKey.PublicKey, &c); err != nil {
		return nil, msgTokenKey
	}
	now := time.Now()
	if c.Expiry == nil || c.Claims.ValidateWithLeeway(jwt.Expected{Time: now}, time.Minute) != nil {
		return nil, msgTokenExpired
	}
	want := jwt.Audience{pc.PartnerCenterAudience, partnerCenterAppID}
	if graphAPI {
		want = jwt.Audience{pc.GraphAudience, graphAppID}
	}
	if c.Claims.ValidateWithLeeway(jwt.Expected{AnyAudience: want, Time: now}, time.Minute) != nil {
		return nil, msgTokenAudience
	}
	if !strings.EqualFold(c.TenantID, s.home.TenantID) {
		return nil, msgTokenTenant
	}
	out := &caller{tenantID: c.TenantID, clientID: c.AppID, perms: c.Roles}
	if c.IDType != "app" {
		if c.UPN == "" {
			return nil, msgTokenMalformed
		}
		out.upn, out.mfa, out.perms = c.UPN, slices.Contains(c.AMR, "mfa"), strings.Fields(c.Scope)
		if revoked, ok := s.sessionsRevoked.Load(revocationKey(c.TenantID, c.UPN)); ok && c.IssuedAt != nil &&
			c.IssuedAt.Time().Before(revoked.(time.Time).Truncate(time.Second)) {
			return nil, msgTokenRevoked
		}
	}
	return out, ""
}

// revocationKey names a user's sessions in Server.sessionsRevoked.
func revocationKey(tenantID, upn string) string {
	return strings.ToLower(tenantID + "|" + upn)
}

// withCaller is r carrying the verified caller.
func withCaller(r *http.Request, c *caller) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
}
