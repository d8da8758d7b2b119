// Package partnercenter is partnerflow's client for the Partner Center REST
// API and the Microsoft Graph GDAP API: one interface (Client) for everything
// the onboarding flows need, and one HTTP implementation (HTTPClient) that
// talks to the real services or to the local simulator in package sim.
//
// Idempotency: every mutating call needs a request ID supplied by the caller
// through WithRequestID; it is sent as MS-RequestId so that a retry after a
// timeout is recognised by the service and never performs the change twice.
// A mutating call without one fails with ErrNoRequestID. MS-CorrelationId is
// fresh on every call.
package partnercenter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Default endpoints of the real services.
const (
	DefaultPartnerCenterURL = "https://api.partnercenter.microsoft.com"
	DefaultGraphURL         = "https://graph.microsoft.com"
	DefaultAdminPortalURL   = "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/" +
		"granularAdminRelationships/"
	PartnerCenterScope = "https://api.partnercenter.microsoft.com/.default"
	GraphScope         = "https://graph.microsoft.com/.default"
	// DefaultAuthorityURL is Microsoft Entra ID's sign-in service.
	DefaultAuthorityURL = "https://login.microsoftonline.com"
	// SimulatorApprovalPath is where the simulator serves GDAP approval pages.
	SimulatorApprovalPath = "/sim/admin/granularAdminRelationships/"
)

// ErrNoRequestID is returned by a mutating call whose context carries no
// request ID (see WithRequestID).
var ErrNoRequestID = errors.New("partnercenter: mutating call without a request ID (use WithRequestID)")

// Config configures an HTTPClient.
type Config struct {
	// PartnerCenterURL is the Partner Center base URL (without /v1).
	PartnerCenterURL string
	// GraphURL is the Microsoft Graph base URL (without /v1.0).
	GraphURL string
	// TenantID, ClientID and ClientSecret are the partner's Entra app, which
	// earns the app-only tokens (client credentials).
	TenantID     string
	ClientID     string
	ClientSecret string
	// AuthorityURL is Entra ID's base URL; empty means DefaultAuthorityURL.
	// The simulator serves the same paths.
	AuthorityURL string
	// UserTokens gives the App+User tokens of the connected partner user;
	// nil means no connection: App+User-only operations fail with
	// ErrConnectionNeeded.
	UserTokens UserTokens
	// AdminPortalURL prefixes a GDAP relationship ID to form its approval link.
	AdminPortalURL string
	// HTTPClient carries the calls; nil means a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each call; 0 means 30 seconds.
	Timeout time.Duration
}

// HTTPClient implements Client over HTTP.
type HTTPClient struct {
	pcURL, graphURL *url.URL
	adminPortalURL  string
	httpClient      *http.Client
	pcTokens        oauth2.TokenSource
	graphTokens     oauth2.TokenSource
	userTokens      UserTokens
	now             func() time.Time
}

var _ Client = (*HTTPClient)(nil)

// New builds an HTTPClient. App-only tokens come from the client
// credentials of cfg's app (one cached, self-refreshing token source per
// service); App+User tokens from cfg.UserTokens. Which one a call sends is the
// credential table's choice (Operations).
func New(cfg Config) (*HTTPClient, error) {
	if cfg.PartnerCenterURL == "" {
		cfg.PartnerCenterURL = DefaultPartnerCenterURL
	}
	if cfg.GraphURL == "" {
		cfg.GraphURL = DefaultGraphURL
	}
	pcURL, err := parseBase(cfg.PartnerCenterURL)
	if err != nil {
		return nil, fmt.Errorf("partner center URL: %w", err)
	}
	graphURL, err := parseBase(cfg.GraphURL)
	if err != nil {
		return nil, fmt.Errorf("graph URL: %w", err)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.TenantID == "" {
		return nil, errors.New("partnercenter: PARTNERCENTER_TENANT_ID, PARTNERCENTER_CLIENT_ID and " +
			"PARTNERCENTER_CLIENT_SECRET are required (the partner's Entra app)")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	entra, err := NewEntra(EntraConfig{
		AuthorityURL: cfg.AuthorityURL,
		TenantID:     cfg.TenantID,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		HTTPClient:   hc,
	})
	if err != nil {
		return nil, err
	}
	c := &HTTPClient{
		pcURL:          pcURL,
		graphURL:       graphURL,
		httpClient:     hc,
		now:            time.Now,
		adminPortalURL: cfg.AdminPortalURL,
		userTokens:     cfg.UserTokens,
	}
	c.pcTokens, c.graphTokens = entra.AppTokens(PartnerCenterAudience), entra.AppTokens(GraphAudience)
	if c.adminPortalURL == "" {
		c.adminPortalURL = DefaultAdminPortalURL
		if pcURL.Scheme == "http" {
			// The simulator (plain HTTP on loopback) serves the approval pages itself.
			c.adminPortalURL = strings.TrimSuffix(pcURL.String(), "/") + SimulatorApprovalPath
		}
	}
	return c, nil
}

func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	return u, nil
}

// GDAPApprovalURL is the link the customer's Global admin opens to approve
// the GDAP relationship with the given ID.
func (c *HTTPClient) GDAPApprovalURL(relationshipID string) string {
	return c.adminPortalURL + url.PathEscape(relationshipID)
}

type requestIDKey struct{}

// WithRequestID returns a context whose calls send id as MS-RequestId. Derive
// it from something stable (workflow ID plus step name) so that a retry reuses
// it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request ID WithRequestID stored, if any.
func RequestIDFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(requestIDKey{}).(string)
	return id, ok && id != ""
}

// NewRequestID returns a random UUID suitable as a request ID.
func NewRequestID() string { return newUUID() }

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:36], b[10:16])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

// service selects the base URL and token source of a call.
type service int

const (
	partnerCenter service = iota
	graph
)

// token is the access token a call sends: the credential table's choice.
// An operation without an entry is a programming error, refused before any
// request leaves.
func (c *HTTPClient) token(ctx context.Context, cl call) (*oauth2.Token, error) {
	op, ok := OperationNamed(cl.op)
	if !ok {
		return nil, fmt.Errorf("%q has no entry in the credential table (partnercenter.Operations)", cl.op)
	}
	switch {
	case op.Credential == AppUser && c.userTokens == nil:
		return nil, fmt.Errorf("%s: %w", op.Credential, ErrConnectionNeeded)
	case op.Credential == AppUser:
		return c.userTokens.UserToken(ctx, PartnerCenterUserScope)
	case cl.svc == graph:
		return c.graphTokens.Token()
	}
	return c.pcTokens.Token()
}

// call describes one HTTP exchange.
type call struct {
	op      string
	svc     service
	method  string
	path    string
	query   url.Values
	body    any
	ifMatch string
	// header holds extra request headers (e.g. MS-ContinuationToken).
	header http.Header
	// link, when set, is the whole URL of the request instead of path and query: a Graph
	// @odata.nextLink checked by graphListURL, or a path that must keep OData's quotes and
	// parentheses as written. It is always on the call's own service.
	link *url.URL
	out  any
}

// do performs one call: no retries (the workflow engine owns retry policy),
// one MS-RequestId per logical operation, one MS-CorrelationId per attempt.
func (c *HTTPClient) do(ctx context.Context, cl call) error {
	requestID, ok := RequestIDFrom(ctx)
	if !ok {
		if cl.method != http.MethodGet {
			return fmt.Errorf("%s: %w", cl.op, ErrNoRequestID)
		}
		requestID = newUUID()
	}
	err := c.exchange(ctx, cl, requestID)
	var pcErr *Error
	if errors.As(err, &pcErr) && pcErr.StatusCode == http.StatusUnauthorized && pcErr.Code != CodeMFARequired {
		// The service refused a cached App+User token the user's sessions were revoked after:
		// redeem the connection again, once (which finds the connection lost, if it is).
		if op, _ := OperationNamed(cl.op); op.Credential == AppUser {
			if f, ok := c.userTokens.(interface{ Forget() }); ok {
				f.Forget()
				err = c.exchange(ctx, cl, requestID)
			}
		}
	}
	return err
}

// exchange sends one request of a call and reads its answer.
func (c *HTTPClient) exchange(ctx context.Context, cl call, requestID string) error {
	base := c.pcURL
	if cl.svc == graph {
		base = c.graphURL
	}
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + cl.path
	u.RawQuery = cl.query.Encode()
	if cl.link != nil {
		u = *cl.link
	}

	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", cl.op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("%s: build request: %w", cl.op, err)
	}
	tok, err := c.token(ctx, cl)
	if err != nil {
		return &Error{Op: cl.op, RequestID: requestID, Err: fmt.Errorf("get access token: %w", err)}
	}
	tok.SetAuthHeader(req)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("MS-RequestId", requestID)
	req.Header.Set("MS-CorrelationId", newUUID())
	req.Header.Set("X-Locale", "en-US")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.ifMatch != "" {
		req.Header.Set("If-Match", cl.ifMatch)
	}
	for k, vs := range cl.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%s: %w", cl.op, ctxErr)
		}
		return &Error{Op: cl.op, RequestID: requestID, Err: err}
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &Error{Op: cl.op, RequestID: requestID, Err: fmt.Errorf("read response: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newHTTPError(cl.op, requestID, resp, respBody, c.now())
	}
	if cl.out == nil || len(bytes.TrimSpace(respBody)) == 0 {
		return nil
	}
	if err := json.Unmarshal(respBody, cl.out); err != nil {
		return fmt.Errorf("%s: decode response: %w", cl.op, err)
	}
	return nil
}
