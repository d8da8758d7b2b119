package notify

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// The headers every webhook request carries.
const (
	// SignatureHeader is "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
	SignatureHeader = "Partnerflow-Signature"
	// EventHeader names the event type, such as "invitation.active".
	EventHeader = "Partnerflow-Event"
	// DeliveryHeader is the same on every retry of one delivery, so receivers can drop duplicates.
	DeliveryHeader = "Partnerflow-Delivery"
)

// DefaultTolerance is how far a signature's timestamp may be from the receiver's clock before
// Verify refuses it as a possible replay.
const DefaultTolerance = 5 * time.Minute

// WebhookTimeout bounds one delivery attempt, connection and response included.
const WebhookTimeout = 10 * time.Second

// WebhookSecretPrefix starts every webhook secret, so people and secret scanners recognise one.
const WebhookSecretPrefix = "whsec_"

// Verification failures; Verify wraps one of them with the reason.
var (
	// ErrBadSignature is a signature header that is malformed or does not match the body.
	ErrBadSignature = errors.New("invalid webhook signature")
	// ErrStaleSignature is a matching signature whose timestamp is outside the tolerance.
	ErrStaleSignature = errors.New("webhook signature timestamp outside the tolerance")
)

// NewWebhookSecret returns a fresh signing secret: 32 random bytes, base64url, with the prefix.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return WebhookSecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Sign returns the signature header value for body sent at t; the HMAC key is the secret as the
// partner was shown it, prefix included.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(signature(secret, ts, body))
}

func signature(secret, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// Verify checks a signature header against the body as received: one of its v1 signatures must
// match, and its timestamp must be within tolerance of now (DefaultTolerance when tolerance is
// not positive), so a captured request cannot be replayed later.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %q is not key=value", ErrBadSignature, part)
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return fmt.Errorf("%w: v1 is not hex", ErrBadSignature)
			}
			sigs = append(sigs, sig)
		}
	}
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no timestamp t", ErrBadSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrBadSignature)
	}
	want := signature(secret, ts, body)
	matched := false
	for _, sig := range sigs {
		matched = matched || hmac.Equal(sig, want)
	}
	if !matched {
		return fmt.Errorf("%w: no v1 signature matches the body", ErrBadSignature)
	}
	if age := now.Sub(time.Unix(sent, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf(
			"%w: signed %s from now, the tolerance is %s",
			ErrStaleSignature,
			age.Round(time.Second),
			tolerance,
		)
	}
	return nil
}

// WebhookSender delivers signed webhook requests to partners' systems. Its connections only go
// to public addresses unless private ones are allowed: the check runs on the address actually
// dialled, after DNS, so a name that later resolves to an internal address reaches nothing.
type WebhookSender struct {
	client       *http.Client
	allowPrivate bool
}

// NewWebhookSender returns a sender with a 10-second timeout that follows no redirects;
// allowPrivate lets it reach loopback, private and link-local addresses (tests, closed networks).
func NewWebhookSender(allowPrivate bool) *WebhookSender {
	dialer := &net.Dialer{Timeout: WebhookTimeout, Control: dialControl(allowPrivate)}
	transport := &http.Transport{
		// No proxy: a proxy would be dialled instead of the receiver, and the address check with it.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   WebhookTimeout,
		ResponseHeaderTimeout: WebhookTimeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &WebhookSender{
		allowPrivate: allowPrivate,
		client: &http.Client{
			Transport: transport,
			Timeout:   WebhookTimeout,
			// A redirect could lead anywhere the subscription's URL was not checked to go.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// maxExcerpt bounds how much of a refusing receiver's answer an error carries.
const maxExcerpt = 200

// Send posts body, signed with secret, to url. A 2xx answer is a delivery; any other answer is
// an error naming the status and the start of the body.
func (s *WebhookSender) Send(ctx context.Context, url, secret, eventType, deliveryID string, body []byte) error {
	if err := checkScheme(url); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "partnerflow-webhooks/1")
	req.Header.Set(EventHeader, eventType)
	req.Header.Set(DeliveryHeader, deliveryID)
	req.Header.Set(SignatureHeader, Sign(secret, time.Now(), body))
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook %s: %w", deliveryID, err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4*maxExcerpt))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	if excerpt := bodyExcerpt(head); excerpt != "" {
		return fmt.Errorf("the receiver answered %s: %s", resp.Status, excerpt)
	}
	return fmt.Errorf("the receiver answered %s", resp.Status)
}

// bodyExcerpt is the start of a response body on one line of printable text.
func bodyExcerpt(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "?"))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxExcerpt {
		s = string(r[:maxExcerpt]) + "…"
	}
	return s
}

// ErrPrivateAddress is an address webhooks may not reach: loopback, private, link-local,
// unspecified, multicast or otherwise not a public unicast address.
var ErrPrivateAddress = errors.New("not a public address")

// CheckAddress refuses an address webhooks may not reach unless allowPrivate.
func CheckAddress(addr netip.Addr, allowPrivate bool) error {
	addr = addr.Unmap()
	if allowPrivate || publicAddress(addr) {
		return nil
	}
	return fmt.Errorf("%s is %w", addr, ErrPrivateAddress)
}

// nonPublic are ranges netip's predicates do not name but that are no place for a webhook:
// carrier-grade NAT, IETF protocol assignments, documentation and benchmarking networks, the
// reserved class E, and IPv6's discard, NAT64 well-known, documentation and site-local prefixes.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fec0::/10"),
}

func publicAddress(a netip.Addr) bool {
	// IsGlobalUnicast is false for loopback, link-local, unspecified, multicast and broadcast.
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// dialControl refuses, at connect time, every address CheckAddress refuses.
func dialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook dial %s: %w", address, err)
		}
		if err := CheckAddress(ap.Addr(), allowPrivate); err != nil {
			return fmt.Errorf("webhook refused to connect: %w", err)
		}
		return nil
	}
}

// maxWebhookURL bounds a subscription's URL.
const maxWebhookURL = 2048

// CheckWebhookURL validates a subscription's URL as an operator gives it: http or https, a
// host, no credentials or fragment, and a host whose every address is public unless
// allowPrivate. Deliveries check the address again when they connect, against DNS rebinding.
func CheckWebhookURL(ctx context.Context, rawURL string, allowPrivate bool) error {
	if len(rawURL) > maxWebhookURL {
		return fmt.Errorf("must be at most %d characters", maxWebhookURL)
	}
	if err := checkScheme(rawURL); err != nil {
		return err
	}
	u, _ := url.Parse(rawURL)
	if u.User != nil {
		return errors.New("must not carry credentials: receivers authenticate partnerflow by the signature")
	}
	if u.Fragment != "" || strings.Contains(rawURL, "#") {
		return errors.New("must not have a fragment")
	}
	host := u.Hostname()
	if allowPrivate {
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return CheckAddress(addr, false)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("the host %s does not resolve", host)
	}
	for _, a := range addrs {
		if err := CheckAddress(a, false); err != nil {
			return fmt.Errorf("the host %s resolves to %w", host, err)
		}
	}
	return nil
}

func checkScheme(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errors.New("must be an absolute http or https URL")
	}
	return nil
}

// SecretBox keeps secrets encrypted at rest with AES-256-GCM: webhook secrets (which cannot be
// hashed like API keys because every delivery signs with them) and new tenants' first passwords
// (revealed once).
type SecretBox struct{ aead cipher.AEAD }

// NewSecretBox is the box of webhook secrets.
func NewSecretBox(signingKey []byte) *SecretBox {
	return NewSecretBoxFor(signingKey, "partnerflow webhook secrets")
}

// NewCredentialBox is the box of new tenants' first admin passwords, under a key of its own.
func NewCredentialBox(signingKey []byte) *SecretBox {
	return NewSecretBoxFor(signingKey, "partnerflow tenant credentials")
}

// NewOutboxBox is the box of mail bodies kept in the outbox, which carry customers' link tokens.
func NewOutboxBox(signingKey []byte) *SecretBox {
	return NewSecretBoxFor(signingKey, "partnerflow outbox")
}

// NewConnectionBox is the box of the Partner Center connection's refresh token.
func NewConnectionBox(signingKey []byte) *SecretBox {
	return NewSecretBoxFor(signingKey, "partnerflow partner center connection")
}

// NewSecretBoxFor derives the box's key for one purpose from the API's signing key with
// HKDF-SHA256, so the api and worker processes, which share the signing key, open what the
// other sealed.
func NewSecretBoxFor(signingKey []byte, purpose string) *SecretBox {
	key, err := hkdf.Key(sha256.New, signingKey, nil, purpose, 32)
	if err != nil {
		panic(fmt.Sprintf("derive the webhook secret key: %v", err))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(fmt.Sprintf("webhook secret cipher: %v", err))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("webhook secret cipher: %v", err))
	}
	return &SecretBox{aead: aead}
}

// Seal encrypts a secret, bound to its owner's ID (a subscription's, an onboarding's) so that a
// ciphertext copied onto another row does not open.
func (b *SecretBox) Seal(subscriptionID, secret string) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return b.aead.Seal(nonce, nonce, []byte(secret), []byte(subscriptionID))
}

// Open decrypts what Seal made for the same subscription.
func (b *SecretBox) Open(subscriptionID string, sealed []byte) (string, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("open secret: ciphertext too short")
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(subscriptionID))
	if err != nil {
		return "", fmt.Errorf(
			"open the secret of %s (was PARTNERFLOW_SIGNING_KEY or PARTNERFLOW_CODEC_KEY changed?): %w",
			subscriptionID,
			err,
		)
	}
	return string(plain), nil
}
