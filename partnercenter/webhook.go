package partnercenter

import (
	"cmp"
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
	"time"

	"golang.org/x/time/rate"
)

// Webhook request headers Partner Center sends with each event.
const (
	HeaderCertificateURL     = "X-MS-Certificate-Url"
	HeaderSignatureAlgorithm = "X-MS-Signature-Algorithm"
	HeaderSignature          = "X-MS-Signature"
)

// ErrWebhookSignature is wrapped by every verification failure.
var ErrWebhookSignature = errors.New("partnercenter: webhook signature not verified")

// Defaults of the certificate fetch and cache.
const (
	DefaultCertificateFetchTimeout = 10 * time.Second
	DefaultCertificateTTL          = 24 * time.Hour
	// certificateFailureTTL is how long a failed fetch is remembered, so forged events naming a
	// URL that does not serve a certificate do not each cause a fetch.
	certificateFailureTTL = time.Minute
	// maxCachedCertificates bounds the cache: certificate URLs come from unauthenticated
	// requests, and an allowed host has many paths.
	maxCachedCertificates = 32
	maxCertificateBytes   = 64 << 10
	// DefaultCertificateFetchesPerMinute bounds the fetches of certificates not in the cache
	// under each path prefix. Partner Center signs with one certificate for months, so a burst of
	// new certificate URLs is someone probing through partnerflow.
	DefaultCertificateFetchesPerMinute = 10
	// DefaultCertificateFetchesPerMinutePerSource bounds the fetches one source's events cause:
	// less than a prefix's budget, so one source cannot spend a prefix's budget alone.
	DefaultCertificateFetchesPerMinutePerSource = 2
	// maxBudgetKeys bounds how many sources and how many path prefixes the fetch budgets track.
	maxBudgetKeys = 1024
	// maxKnownGoodKeys bounds the keys remembered for having verified a genuine event.
	maxKnownGoodKeys = 4
)

// WebhookVerifier checks that a webhook POST was signed by Partner Center (or
// the simulator): the signing certificate must come from an allowed host, and
// the body's RSA-SHA256 signature must verify against it.
type WebhookVerifier struct {
	allowedHosts []string
	allowHTTP    bool
	httpClient   *http.Client
	ttl          time.Duration
	now          func() time.Time

	mu sync.Mutex
	// bySource and byPrefix are the fetch budgets: forged events from one source, or naming
	// paths under one prefix, spend only their own.
	bySource, byPrefix *fetchBudget
	certs              map[string]*cachedCertificate // by scheme, host and path
	// knownGood are the keys that verified a genuine event: a later event signed with one of
	// them verifies whatever certificate URL it names, without a fetch and so without a budget.
	knownGood []knownKey
	// fetches counts certificate fetches (tests read it through CertificateFetches).
	fetches int
}

// cachedCertificate is a fetched certificate's key, or the error fetching it gave, until expires.
type cachedCertificate struct {
	key     *rsa.PublicKey
	err     error
	expires time.Time
	ready   chan struct{} // closed once key or err is set; concurrent requests wait on it
}

// knownKey is a certificate key that verified a genuine event, trusted until expires.
type knownKey struct {
	key     *rsa.PublicKey
	expires time.Time
}

// WebhookVerifierConfig configures a WebhookVerifier.
type WebhookVerifierConfig struct {
	// AllowedCertificateHosts are the hosts (host or host:port) the
	// x-ms-certificate-url may name; nothing else is fetched.
	AllowedCertificateHosts []string
	// AllowHTTP permits a plain-http certificate URL (the local simulator).
	AllowHTTP bool
	// HTTPClient fetches certificates; nil means a client with FetchTimeout. Whatever the
	// client, redirects are not followed: a certificate is taken only from the allowed host.
	HTTPClient *http.Client
	// FetchTimeout bounds one fetch when HTTPClient is nil or has no timeout; 0 means
	// DefaultCertificateFetchTimeout.
	FetchTimeout time.Duration
	// CertificateTTL is how long a fetched certificate is trusted before it is fetched again;
	// 0 means DefaultCertificateTTL.
	CertificateTTL time.Duration
	// FetchesPerMinute bounds fetches of certificates not in the cache under each path prefix (a
	// burst of as many, then that rate); 0 means DefaultCertificateFetchesPerMinute. Beyond it,
	// an event naming an unknown certificate is refused without a fetch, unless a known good
	// certificate verifies it.
	FetchesPerMinute int
	// FetchesPerMinutePerSource bounds the fetches caused by the events of one source (see
	// WithWebhookSource) in the same way; 0 means DefaultCertificateFetchesPerMinutePerSource.
	FetchesPerMinutePerSource int
}

// NewWebhookVerifier returns a verifier that caches each certificate it fetches.
func NewWebhookVerifier(cfg WebhookVerifierConfig) *WebhookVerifier {
	timeout := cmp.Or(cfg.FetchTimeout, DefaultCertificateFetchTimeout)
	perMinute := max(cmp.Or(cfg.FetchesPerMinute, DefaultCertificateFetchesPerMinute), 1)
	perSource := max(cmp.Or(cfg.FetchesPerMinutePerSource, DefaultCertificateFetchesPerMinutePerSource), 1)
	hc := &http.Client{Timeout: timeout}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
		if hc.Timeout == 0 {
			hc.Timeout = timeout
		}
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hosts := make([]string, len(cfg.AllowedCertificateHosts))
	for i, h := range cfg.AllowedCertificateHosts {
		hosts[i] = strings.ToLower(h)
	}
	return &WebhookVerifier{
		allowedHosts: hosts, allowHTTP: cfg.AllowHTTP, httpClient: hc,
		ttl: cmp.Or(cfg.CertificateTTL, DefaultCertificateTTL), now: time.Now,
		bySource: newFetchBudget(perSource), byPrefix: newFetchBudget(perMinute),
		certs: map[string]*cachedCertificate{},
	}
}

// webhookSourceKey is the context key of WithWebhookSource.
type webhookSourceKey struct{}

// WithWebhookSource returns ctx carrying source, the client (address or address block) a webhook
// request came from, so that Verify charges certificate fetches to that source's own budget.
// Without it only the path prefix budget applies.
func WithWebhookSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, webhookSourceKey{}, source)
}

// fetchBudget is a certificate-fetch allowance per key (a source or a path prefix). It tracks at
// most maxBudgetKeys keys: a key that has spent nothing is forgotten first, then any, so that
// many keys cost bounded memory and never block a key that has not spent its own allowance.
type fetchBudget struct {
	every rate.Limit
	burst int
	byKey map[string]*rate.Limiter
}

func newFetchBudget(perMinute int) *fetchBudget {
	return &fetchBudget{
		every: rate.Every(time.Minute / time.Duration(perMinute)),
		burst: perMinute,
		byKey: map[string]*rate.Limiter{},
	}
}

func (b *fetchBudget) limiter(key string, now time.Time) *rate.Limiter {
	if l, ok := b.byKey[key]; ok {
		return l
	}
	if len(b.byKey) >= maxBudgetKeys {
		for k, l := range b.byKey {
			if l.TokensAt(now) >= float64(b.burst) {
				delete(b.byKey, k)
			}
		}
		for k := range b.byKey {
			if len(b.byKey) < maxBudgetKeys {
				break
			}
			delete(b.byKey, k)
		}
	}
	l := rate.NewLimiter(b.every, b.burst)
	b.byKey[key] = l
	return l
}

// takeFetchLocked spends one fetch of the source's budget and of the prefix's, or neither.
func (v *WebhookVerifier) takeFetchLocked(source, prefix string) bool {
	now := v.now()
	byPrefix := v.byPrefix.limiter(prefix, now)
	if byPrefix.TokensAt(now) < 1 {
		return false
	}
	if source != "" && !v.bySource.limiter(source, now).AllowN(now, 1) {
		return false
	}
	return byPrefix.AllowN(now, 1)
}

// CertificateFetches is how many times the verifier has fetched a certificate.
func (v *WebhookVerifier) CertificateFetches() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.fetches
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
	certURL := header.Get(HeaderCertificateURL)
	loc, err := v.certificateLocation(certURL)
	if err != nil {
		return WebhookEvent{}, err
	}
	digest := sha256.Sum256(body)
	if !v.verifiesWithKnownGood(digest[:], sig) {
		source, _ := ctx.Value(webhookSourceKey{}).(string)
		key, expires, err := v.certificateKey(ctx, source, loc, certURL)
		if err != nil {
			return WebhookEvent{}, err
		}
		if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
			return WebhookEvent{}, fmt.Errorf("%w: %v", ErrWebhookSignature, err)
		}
		v.rememberKnownGood(key, expires)
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

// verifiesWithKnownGood reports whether a key that verified a genuine event before verifies sig.
func (v *WebhookVerifier) verifiesWithKnownGood(digest, sig []byte) bool {
	v.mu.Lock()
	now := v.now()
	keys := make([]*rsa.PublicKey, 0, len(v.knownGood))
	for _, k := range v.knownGood {
		if now.Before(k.expires) {
			keys = append(keys, k.key)
		}
	}
	v.mu.Unlock()
	for _, key := range keys {
		if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest, sig) == nil {
			return true
		}
	}
	return false
}

// rememberKnownGood keeps key, which has just verified a genuine event, until expires; the oldest
// known key makes room. Only a verified signature adds a key, so forged events cannot push
// Partner Center's out.
func (v *WebhookVerifier) rememberKnownGood(key *rsa.PublicKey, expires time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	kept := v.knownGood[:0]
	for _, k := range v.knownGood {
		if now.Before(k.expires) && !k.key.Equal(key) {
			kept = append(kept, k)
		}
	}
	if len(kept) >= maxKnownGoodKeys {
		kept = kept[1:]
	}
	v.knownGood = append(kept, knownKey{key: key, expires: expires})
}

// certificateLocation is where a certificate URL points, once its scheme and host are allowed:
// the cache key (scheme, host and path) and the path prefix whose fetch budget it spends.
type certificateLocation struct {
	cacheKey, prefix string
}

func (v *WebhookVerifier) certificateLocation(certURL string) (certificateLocation, error) {
	u, err := url.Parse(certURL)
	if err != nil || certURL == "" {
		return certificateLocation{}, fmt.Errorf("%w: missing or invalid certificate URL", ErrWebhookSignature)
	}
	if u.Scheme != "https" && !(v.allowHTTP && u.Scheme == "http") {
		return certificateLocation{}, fmt.Errorf(
			"%w: certificate URL scheme %q not allowed",
			ErrWebhookSignature, u.Scheme,
		)
	}
	host := strings.ToLower(u.Host)
	// An allowed host named without a port allows the scheme's own port only.
	defaultPort := u.Port() == "" ||
		(u.Scheme == "https" && u.Port() == "443") ||
		(u.Scheme == "http" && u.Port() == "80")
	allowed := slices.Contains(v.allowedHosts, host) ||
		(defaultPort && slices.Contains(v.allowedHosts, strings.ToLower(u.Hostname())))
	if u.User != nil || !allowed {
		return certificateLocation{}, fmt.Errorf("%w: certificate host %q not allowed", ErrWebhookSignature, u.Host)
	}
	origin, path := u.Scheme+"://"+host, u.EscapedPath()
	return certificateLocation{cacheKey: origin + path, prefix: origin + path[:strings.LastIndex(path, "/")+1]}, nil
}

// certificateKey is the key of the certificate at loc, from the cache or fetched if the source's
// and the prefix's budgets allow, and until when it is trusted.
func (v *WebhookVerifier) certificateKey(
	ctx context.Context, source string, loc certificateLocation, certURL string,
) (*rsa.PublicKey, time.Time, error) {
	cacheKey := loc.cacheKey
	v.mu.Lock()
	entry, ok := v.certs[cacheKey]
	if ok {
		select {
		case <-entry.ready:
			if !v.now().Before(entry.expires) {
				ok = false
			}
		default: // a fetch is under way: wait for it
		}
	}
	if !ok && !v.takeFetchLocked(source, loc.prefix) {
		v.mu.Unlock()
		return nil, time.Time{}, fmt.Errorf(
			"%w: too many new certificate URLs from this source or under %s; %s not fetched",
			ErrWebhookSignature, loc.prefix, cacheKey,
		)
	}
	if !ok {
		entry = &cachedCertificate{ready: make(chan struct{})}
		v.evictLocked()
		v.certs[cacheKey] = entry
		v.fetches++
		v.mu.Unlock()
		key, err := v.fetch(context.WithoutCancel(ctx), certURL)
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrWebhookSignature, err)
		}
		v.mu.Lock()
		entry.key, entry.err = key, err
		entry.expires = v.now().Add(v.ttl)
		if err != nil {
			entry.expires = v.now().Add(certificateFailureTTL)
		}
		close(entry.ready)
	}
	v.mu.Unlock()

	select {
	case <-entry.ready:
	case <-ctx.Done():
		return nil, time.Time{}, fmt.Errorf("fetch webhook certificate: %w", ctx.Err())
	}
	return entry.key, entry.expires, entry.err
}

// evictLocked makes room for one more certificate: expired entries go first, then the one that
// expires soonest.
func (v *WebhookVerifier) evictLocked() {
	if len(v.certs) < maxCachedCertificates {
		return
	}
	now := v.now()
	var soonest string
	for k, e := range v.certs {
		select {
		case <-e.ready:
		default:
			continue // being fetched
		}
		if !now.Before(e.expires) {
			delete(v.certs, k)
			continue
		}
		if soonest == "" || e.expires.Before(v.certs[soonest].expires) {
			soonest = k
		}
	}
	if len(v.certs) >= maxCachedCertificates && soonest != "" {
		delete(v.certs, soonest)
	}
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
		// A redirect lands here too: it is not followed.
		return nil, fmt.Errorf("fetch webhook certificate: HTTP %d", resp.StatusCode)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, maxCertificateBytes))
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
