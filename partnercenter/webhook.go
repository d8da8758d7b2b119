package partnercenter

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Webhook request headers Partner Center sends with each event.
const (
	HeaderCertificateURL     = "X-MS-Certificate-Url"
	HeaderSignatureAlgorithm = "X-MS-Signature-Algorithm"
	HeaderSignature          = "X-MS-Signature"
)

// ErrWebhookSignature is wrapped by every verification failure.
var ErrWebhookSignature = errors.New("partnercenter: webhook signature not verified")

// WebhookVerifier checks that a webhook POST was signed by Partner Center (or
// the simulator): the signing certificate must come from an allowed host, and
// the body's RSA-SHA256 signature must verify against it.
type WebhookVerifier struct {
	allowedHosts []string
	allowHTTP    bool
	httpClient   *http.Client

	mu    sync.Mutex
	certs map[string]*rsa.PublicKey
}

// WebhookVerifierConfig configures a WebhookVerifier.
type WebhookVerifierConfig struct {
	// AllowedCertificateHosts are the hosts (host or host:port) the
	// x-ms-certificate-url may name; nothing else is fetched.
	AllowedCertificateHosts []string
	// AllowHTTP permits a plain-http certificate URL (the local simulator).
	AllowHTTP bool
	// HTTPClient fetches certificates; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// NewWebhookVerifier returns a verifier that caches each certificate it fetches.
func NewWebhookVerifier(cfg WebhookVerifierConfig) *WebhookVerifier {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	hosts := make([]string, len(cfg.AllowedCertificateHosts))
	for i, h := range cfg.AllowedCertificateHosts {
		hosts[i] = strings.ToLower(h)
	}
	return &WebhookVerifier{allowedHosts: hosts, allowHTTP: cfg.AllowHTTP, httpClient: hc, certs: map[string]*rsa.PublicKey{}}
}

// Verify checks a received webhook request's signature and parses its event.
func (v *WebhookVerifier) Verify(ctx context.Context, header http.Header, body []byte) (WebhookEvent, error) {
	sig, err := signatureFrom(header)
	if err != nil {
		return WebhookEvent{}, err
	}
	if alg := header.Get(HeaderSignatureAlgorithm); alg != "" && !strings.EqualFold(alg, "rsa-sha256") {
		return WebhookEvent{}, fmt.Errorf("%w: unsupported algorithm %q", ErrWebhookSignature, alg)
	}
	key, err := v.certificateKey(ctx, header.Get(HeaderCertificateURL))
	if err != nil {
		return WebhookEvent{}, err
	}
	digest := sha256.Sum256(body)
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: %v", ErrWebhookSignature, err)
	}
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return WebhookEvent{}, fmt.Errorf("parse webhook event: %w", err)
	}
	if ev.EventName == "" {
		return WebhookEvent{}, errors.New("parse webhook event: no EventName")
	}
	return ev, nil
}

// signatureFrom reads "Authorization: Signature <base64>" or, for
// registrations made with signatureTokenToMsSignatureHeader, x-ms-signature.
func signatureFrom(h http.Header) ([]byte, error) {
	raw := h.Get("Authorization")
	if raw == "" {
		raw = h.Get(HeaderSignature)
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(raw), " ")
	if !ok || !strings.EqualFold(scheme, "Signature") {
		return nil, fmt.Errorf("%w: no Signature authorization", ErrWebhookSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64", ErrWebhookSignature)
	}
	return sig, nil
}

func (v *WebhookVerifier) certificateKey(ctx context.Context, certURL string) (*rsa.PublicKey, error) {
	u, err := url.Parse(certURL)
	if err != nil || certURL == "" {
		return nil, fmt.Errorf("%w: missing or invalid certificate URL", ErrWebhookSignature)
	}
	if u.Scheme != "https" && !(v.allowHTTP && u.Scheme == "http") {
		return nil, fmt.Errorf("%w: certificate URL scheme %q not allowed", ErrWebhookSignature, u.Scheme)
	}
	host := strings.ToLower(u.Host)
	if !slices.Contains(v.allowedHosts, host) && !slices.Contains(v.allowedHosts, strings.ToLower(u.Hostname())) {
		return nil, fmt.Errorf("%w: certificate host %q not allowed", ErrWebhookSignature, u.Host)
	}
	v.mu.Lock()
	key, ok := v.certs[certURL]
	v.mu.Unlock()
	if ok {
		return key, nil
	}
	key, err = v.fetch(ctx, certURL)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.certs[certURL] = key
	v.mu.Unlock()
	return key, nil
}

func (v *WebhookVerifier) fetch(ctx context.Context, certURL string) (*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, certURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch webhook certificate: %w", err)
	}
	resp, err := v.httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch webhook certificate: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch webhook certificate: HTTP %d", resp.StatusCode)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch webhook certificate: %w", err)
	}
	if block, _ := pem.Decode(der); block != nil {
		der = block.Bytes
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse webhook certificate: %w", err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: certificate key is not RSA", ErrWebhookSignature)
	}
	return key, nil
}
