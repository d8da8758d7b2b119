package partnercenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrConnectionNeeded is wrapped by every error of an App+User call that has no usable partner
// connection: never connected, the refresh token revoked or lapsed, or the sign-in lacked MFA.
// It is a wait for the partner's global admin to connect again, never a failure of the flow.
var ErrConnectionNeeded = errors.New("the Partner Center connection (App+User sign-in with MFA) is needed")

// UserTokens gives the App+User access tokens of the partner user who connected partnerflow
// (Microsoft's secure application model).
type UserTokens interface {
	// UserToken returns an access token for scope; an error wrapping ErrConnectionNeeded when
	// no connection can give one.
	UserToken(ctx context.Context, scope string) (*oauth2.Token, error)
}

// EntraConfig configures an Entra: the partner's app registration in its own tenant.
type EntraConfig struct {
	// AuthorityURL is Entra ID's base URL; empty means DefaultAuthorityURL.
	AuthorityURL string
	TenantID     string
	ClientID     string
	ClientSecret string
	// HTTPClient carries the calls; nil means a client with a 30-second timeout.
	HTTPClient *http.Client
}

// Entra earns partnerflow's tokens from Microsoft Entra ID with the OAuth 2.0 grants the secure
// application model uses: client credentials (app-only), authorization code with PKCE (a partner
// admin connects from the dashboard), device code (`partnerflow connect`) and refresh token.
//
// golang.org/x/oauth2 carries the grants rather than MSAL for Go: MSAL refuses an authority
// that is not https, and partnerflow must run against its simulator on plain loopback HTTP;
// the token cache MSAL would keep is partnerflow's own sealed database row anyway.
type Entra struct {
	cfg      EntraConfig
	endpoint oauth2.Endpoint
	issuer   string
}

// Scopes a partner connection asks for: Partner Center's delegated scope, a refresh token, and
// the ID token that names who signed in and how (amr).
var connectScopes = []string{PartnerCenterUserScope, "offline_access", "openid", "profile"}

// NewEntra checks cfg and builds an Entra.
func NewEntra(cfg EntraConfig) (*Entra, error) {
	if cfg.AuthorityURL == "" {
		cfg.AuthorityURL = DefaultAuthorityURL
	}
	base, err := parseBase(cfg.AuthorityURL)
	if err != nil {
		return nil, fmt.Errorf("entra authority URL: %w", err)
	}
	if cfg.TenantID == "" || cfg.ClientID == "" {
		return nil, errors.New("entra: the partner tenant ID and the app's client ID are required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	root := strings.TrimSuffix(base.String(), "/") + "/" + url.PathEscape(cfg.TenantID)
	return &Entra{
		cfg: cfg,
		endpoint: oauth2.Endpoint{
			AuthURL:       root + "/oauth2/v2.0/authorize",
			TokenURL:      root + "/oauth2/v2.0/token",
			DeviceAuthURL: root + "/oauth2/v2.0/devicecode",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
		issuer: root + "/v2.0",
	}, nil
}

// TokenURL is the tenant's token endpoint.
func (e *Entra) TokenURL() string { return e.endpoint.TokenURL }

func (e *Entra) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, e.cfg.HTTPClient)
}

// AppTokens is a cached, self-refreshing source of app-only tokens for a service (its audience,
// e.g. PartnerCenterAudience).
func (e *Entra) AppTokens(audience string) oauth2.TokenSource {
	cc := clientcredentials.Config{
		ClientID:     e.cfg.ClientID,
		ClientSecret: e.cfg.ClientSecret,
		TokenURL:     e.endpoint.TokenURL,
		Scopes:       []string{audience + "/.default"},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	return oauth2.ReuseTokenSource(nil, cc.TokenSource(e.ctx(context.Background())))
}

func (e *Entra) oauth(redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     e.cfg.ClientID,
		ClientSecret: e.cfg.ClientSecret,
		Endpoint:     e.endpoint,
		RedirectURL:  redirectURI,
		Scopes:       connectScopes,
	}
}

// AuthCodeURL is where a partner admin signs in to connect partnerflow: the authorization code
// grant with PKCE (S256 of verifier), state binding the answer to this sign-in, and the admin
// forced to choose the account.
func (e *Entra) AuthCodeURL(redirectURI, state, verifier string) string {
	return e.oauth(redirectURI).AuthCodeURL(
		state,
		oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "select_account"),
	)
}

// Grant is what a sign-in gave: the refresh token to keep sealed, and who signed in.
type Grant struct {
	RefreshToken string
	// AccessToken is Partner Center's App+User token, valid until Expiry.
	AccessToken string
	Expiry      time.Time
	Identity    Identity
}

// Identity is the signed-in user as the verified ID token names them.
type Identity struct {
	TenantID string `json:"tid"`
	ObjectID string `json:"oid"`
	UPN      string `json:"upn"`
	Name     string `json:"name"`
	// Methods is the token's amr: how the user authenticated ("pwd", "mfa", ...).
	Methods []string `json:"amr"`
	// Roles are the values of the app roles the user is assigned on this app (staff sign-in).
	Roles []string `json:"roles"`
	Nonce string   `json:"nonce"`
}

// ErrMFARequired is returned for a sign-in without multi-factor authentication: Partner Center
// refuses App+User calls without it since 1 April 2026.
var ErrMFARequired = errors.New("the sign-in did not use multi-factor authentication (its amr claim has no \"mfa\"); " +
	"Partner Center requires MFA for App+User calls")

// Exchange redeems an authorization code with its PKCE verifier and checks the sign-in: an ID
// token signed by the tenant's keys, for this app, from the partner tenant, with MFA.
func (e *Entra) Exchange(ctx context.Context, redirectURI, code, verifier string) (Grant, error) {
	tok, err := e.oauth(redirectURI).Exchange(e.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Grant{}, fmt.Errorf("redeem the sign-in code: %w", describeOAuthError(err))
	}
	return e.grant(ctx, tok)
}

// DeviceAuth starts a device code sign-in (`partnerflow connect` on a headless install).
func (e *Entra) DeviceAuth(ctx context.Context) (*oauth2.DeviceAuthResponse, error) {
	da, err := e.oauth("").DeviceAuth(e.ctx(ctx))
	if err != nil {
		return nil, fmt.Errorf("start the device sign-in: %w", describeOAuthError(err))
	}
	return da, nil
}

// DeviceGrant waits until the user completed the device sign-in (or it expired) and checks it
// as Exchange does.
func (e *Entra) DeviceGrant(ctx context.Context, da *oauth2.DeviceAuthResponse) (Grant, error) {
	tok, err := e.oauth("").DeviceAccessToken(e.ctx(ctx), da)
	if err != nil {
		return Grant{}, fmt.Errorf("device sign-in: %w", describeOAuthError(err))
	}
	return e.grant(ctx, tok)
}

func (e *Entra) grant(ctx context.Context, tok *oauth2.Token) (Grant, error) {
	if tok.RefreshToken == "" {
		return Grant{}, errors.New("the sign-in returned no refresh token (was offline_access consented?)")
	}
	id, err := e.identity(ctx, tok)
	if err != nil {
		return Grant{}, err
	}
	return Grant{RefreshToken: tok.RefreshToken, AccessToken: tok.AccessToken, Expiry: tok.Expiry, Identity: id}, nil
}

// identity checks a sign-in's ID token: signed by the tenant's keys, for this app, naming a user
// of the partner tenant who used MFA.
func (e *Entra) identity(ctx context.Context, tok *oauth2.Token) (Identity, error) {
	var id Identity
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return id, errors.New("the sign-in returned no ID token")
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, e.cfg.HTTPClient), e.issuer)
	if err != nil {
		return id, fmt.Errorf("read the tenant's OpenID configuration: %w", err)
	}
	idt, err := provider.VerifierContext(
		oidc.ClientContext(ctx, e.cfg.HTTPClient),
		&oidc.Config{ClientID: e.cfg.ClientID},
	).Verify(ctx, raw)
	if err != nil {
		return id, fmt.Errorf("verify the ID token: %w", err)
	}
	if err := idt.Claims(&id); err != nil {
		return id, fmt.Errorf("read the ID token: %w", err)
	}
	if !strings.EqualFold(id.TenantID, e.cfg.TenantID) {
		return id, fmt.Errorf(
			"the account belongs to tenant %s, not to the partner tenant %s",
			id.TenantID, e.cfg.TenantID,
		)
	}
	if !slices.Contains(id.Methods, "mfa") {
		return id, ErrMFARequired
	}
	return id, nil
}

// signInScopes are a staff sign-in's: the ID token and the user's profile, no API access.
var signInScopes = []string{"openid", "profile"}

// SignInURL is where a member of the partner's staff signs in to partnerflow's dashboard
// (OpenID Connect, authorization code with PKCE): state and nonce bind the answer to this
// sign-in.
func (e *Entra) SignInURL(redirectURI, state, verifier, nonce string) string {
	cfg := e.oauth(redirectURI)
	cfg.Scopes = signInScopes
	return cfg.AuthCodeURL(
		state,
		oauth2.S256ChallengeOption(verifier),
		oidc.Nonce(nonce),
		oauth2.SetAuthURLParam("prompt", "select_account"),
	)
}

// SignIn redeems a staff sign-in's code and checks it as a connection's (ID token of the partner
// tenant, with MFA) and its nonce; the identity carries the user's app roles.
func (e *Entra) SignIn(ctx context.Context, redirectURI, code, verifier, nonce string) (Identity, error) {
	cfg := e.oauth(redirectURI)
	cfg.Scopes = signInScopes
	tok, err := cfg.Exchange(e.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("redeem the sign-in code: %w", describeOAuthError(err))
	}
	id, err := e.identity(ctx, tok)
	if err != nil {
		return id, err
	}
	if nonce == "" || id.Nonce != nonce {
		return Identity{}, errors.New("the ID token's nonce is not this sign-in's")
	}
	return id, nil
}

// Refresh redeems a refresh token for an access token of scope. Entra answers with a new
// refresh token (rotation) that replaces the old one. An invalid_grant answer (revoked, lapsed
// after 90 days unused, or the user's password changed) wraps ErrConnectionNeeded.
func (e *Entra) Refresh(ctx context.Context, refreshToken, scope string) (*oauth2.Token, error) {
	form := url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "scope": {scope + " offline_access"},
		"client_id": {e.cfg.ClientID}, "client_secret": {e.cfg.ClientSecret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("refresh the partner connection: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("refresh the partner connection: %w", err)
	}
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
		entraError
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("refresh the partner connection: HTTP %d, unreadable answer", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		err := out.entraError.err(resp.StatusCode)
		if out.Error == "invalid_grant" {
			return nil, fmt.Errorf("%w: %w", ErrConnectionNeeded, err)
		}
		return nil, fmt.Errorf("refresh the partner connection: %w", err)
	}
	tok := &oauth2.Token{
		AccessToken:  out.AccessToken,
		TokenType:    "Bearer",
		RefreshToken: out.RefreshToken,
		Expiry:       time.Now().Add(time.Duration(out.ExpiresIn) * time.Second),
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	return tok, nil
}

// entraError is Entra ID's error answer.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
}

func (e entraError) err(status int) error {
	if e.Error == "" {
		return fmt.Errorf("HTTP %d", status)
	}
	desc, _, _ := strings.Cut(e.ErrorDescription, "\r\n")
	return fmt.Errorf("%s: %s", e.Error, desc)
}

// describeOAuthError keeps Entra's error code and the first line of its description, which names
// the AADSTS code, and drops the rest (trace IDs, timestamps).
func describeOAuthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		desc, _, _ := strings.Cut(re.ErrorDescription, "\r\n")
		return fmt.Errorf("%s: %s", re.ErrorCode, desc)
	}
	return err
}

// CodeMFARequired is Partner Center's code for an App+User call whose token carries no MFA claim
// (HTTP 401), enforced since 1 April 2026 (as partners' notices of Microsoft's announcement
// quote it; Microsoft's articles give no body).
const CodeMFARequired = 900421

// NeedsConnection reports whether err is a call that waits for the partner's App+User
// connection: none could give a token, or the service refused the token for lacking MFA.
func NeedsConnection(err error) bool {
	if errors.Is(err, ErrConnectionNeeded) {
		return true
	}
	var pcErr *Error
	return errors.As(err, &pcErr) && pcErr.StatusCode == http.StatusUnauthorized && pcErr.Code == CodeMFARequired
}
