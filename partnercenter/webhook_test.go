package partnercenter_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter"
)

// signer is a Partner Center stand-in: an RSA key and the certificate that carries it.
type signer struct {
	key *rsa.PrivateKey
	der []byte
}

func newSigner(t *testing.T) signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "webhook test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return signer{key: key, der: der}
}

func (s signer) headers(t *testing.T, certURL string, body []byte) http.Header {
	t.Helper()
	digest := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Signature "+base64.StdEncoding.EncodeToString(sig))
	h.Set(partnercenter.HeaderCertificateURL, certURL)
	return h
}

// certServer serves the signer's certificate at /cert and counts every request it gets.
type certServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newCertServer(t *testing.T, handler http.HandlerFunc) *certServer {
	t.Helper()
	cs := &certServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.hits.Add(1)
		handler(w, r)
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *certServer) host(t *testing.T) string {
	u, err := url.Parse(cs.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

var eventBody = []byte(`{"EventName":"granular-admin-relationship-approved",` +
	`"ResourceUri":"https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships/r1",` +
	`"ResourceName":"r1","AuditUri":"","ResourceChangeUtcDate":"2026-12-01T10:00:00Z"}`)

func TestWebhookCertificateIsFetchedOnceAndCached(t *testing.T) {
	s := newSigner(t)
	cs := newCertServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(s.der) })
	v := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{cs.host(t)},
		AllowHTTP:               true,
	})
	ctx := context.Background()
	certURL := cs.URL + "/cert"

	if _, err := v.Verify(ctx, s.headers(t, certURL, eventBody), eventBody); err != nil {
		t.Fatalf("a signed event must verify: %v", err)
	}
	forger := newSigner(t)
	for i := range 20 {
		// Forged events naming the same certificate, with and without a query string.
		u := certURL
		if i%2 == 1 {
			u += "?n=" + string(rune('a'+i))
		}
		if _, err := v.Verify(
			ctx, forger.headers(t, u, eventBody), eventBody,
		); !errors.Is(err, partnercenter.ErrWebhookSignature) {
			t.Fatalf("a forged event must be refused as unsigned, got %v", err)
		}
	}
	if _, err := v.Verify(ctx, s.headers(t, certURL, eventBody), eventBody); err != nil {
		t.Fatalf("the cached certificate must still verify: %v", err)
	}
	if got := cs.hits.Load(); got != 1 || v.CertificateFetches() != 1 {
		t.Fatalf(
			"22 events naming one certificate fetched it %d times (verifier counted %d), want once",
			got, v.CertificateFetches(),
		)
	}

	// An unlisted host is refused before anything is fetched.
	other := newCertServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(forger.der) })
	if _, err := v.Verify(
		ctx, forger.headers(t, other.URL+"/cert", eventBody), eventBody,
	); !errors.Is(err, partnercenter.ErrWebhookSignature) {
		t.Fatalf("an unlisted certificate host must be refused, got %v", err)
	}
	if other.hits.Load() != 0 || v.CertificateFetches() != 1 {
		t.Fatalf("an unlisted host was fetched %d times", other.hits.Load())
	}
}

func TestWebhookCertificateFetchFailuresAreRememberedBriefly(t *testing.T) {
	cs := newCertServer(t, func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
	v := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{cs.host(t)},
		AllowHTTP:               true,
	})
	forger := newSigner(t)
	for range 10 {
		if _, err := v.Verify(
			context.Background(), forger.headers(t, cs.URL+"/nothing", eventBody), eventBody,
		); err == nil {
			t.Fatal("a certificate URL that serves nothing must not verify")
		}
	}
	if got := cs.hits.Load(); got != 1 {
		t.Fatalf("10 forged events naming a missing certificate caused %d fetches, want 1", got)
	}
}

func TestWebhookCertificateRedirectIsNotFollowed(t *testing.T) {
	s := newSigner(t)
	cs := newCertServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/real" {
			_, _ = w.Write(s.der)
			return
		}
		http.Redirect(w, r, "/real", http.StatusFound)
	})
	// Even a client that would follow redirects does not follow them here.
	v := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{cs.host(t)},
		AllowHTTP:               true,
		HTTPClient:              &http.Client{},
	})
	_, err := v.Verify(context.Background(), s.headers(t, cs.URL+"/moved", eventBody), eventBody)
	if err == nil {
		t.Fatal("a certificate behind a redirect must not be used")
	}
	if got := cs.hits.Load(); got != 1 {
		t.Fatalf("the certificate host got %d requests, want only the first (the redirect not followed)", got)
	}
}

func TestWebhookCertificateFetchTimesOut(t *testing.T) {
	release := make(chan struct{})
	cs := newCertServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	v := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{cs.host(t)},
		AllowHTTP:               true,
		FetchTimeout:            200 * time.Millisecond,
	})
	s := newSigner(t)
	// The request's own context never ends: only the fetch timeout can end the wait.
	_, err := v.Verify(context.Background(), s.headers(t, cs.URL+"/slow", eventBody), eventBody)
	var netErr interface{ Timeout() bool }
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("a certificate server that never answers must time out, got %v", err)
	}
}

func TestWebhookCertificateMustBeHTTPSUnlessAllowed(t *testing.T) {
	s := newSigner(t)
	cs := newCertServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(s.der) })
	v := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{cs.host(t)},
	})
	if _, err := v.Verify(
		context.Background(), s.headers(t, cs.URL+"/cert", eventBody), eventBody,
	); !errors.Is(err, partnercenter.ErrWebhookSignature) {
		t.Fatalf("a plain-http certificate URL must be refused, got %v", err)
	}
	if cs.hits.Load() != 0 {
		t.Fatal("a plain-http certificate URL was fetched")
	}
}

func TestNewWebhookCertificateURLsAreFetchedAtABoundedRate(t *testing.T) {
	cs := newCertServer(t, func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
	v := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{cs.host(t)},
		AllowHTTP:               true,
		FetchesPerMinute:        5,
	})
	forger := newSigner(t)
	for i := range 30 {
		u := fmt.Sprintf("%s/probe-%d", cs.URL, i)
		if _, err := v.Verify(
			context.Background(), forger.headers(t, u, eventBody), eventBody,
		); !errors.Is(err, partnercenter.ErrWebhookSignature) {
			t.Fatalf("a forged event must be refused as unsigned, got %v", err)
		}
	}
	// A burst of 5, then one every 12 seconds: the 30 events come well within that.
	if got := cs.hits.Load(); got < 5 || got > 6 {
		t.Fatalf("30 forged events naming new certificate URLs caused %d fetches, want the burst of 5", got)
	}
}

func TestWebhookCertificateHostsAreMatchedExactly(t *testing.T) {
	v := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{"api.partnercenter.microsoft.com"},
	})
	s := newSigner(t)
	for _, u := range []string{
		"https://api.partnercenter.microsoft.com:8443/cert",
		"https://api.partnercenter.microsoft.com.evil.example/cert",
		"https://user@api.partnercenter.microsoft.com/cert",
		"https://evil.example/cert",
	} {
		if _, err := v.Verify(
			context.Background(), s.headers(t, u, eventBody), eventBody,
		); !errors.Is(err, partnercenter.ErrWebhookSignature) || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("%s must be refused before any fetch, got %v", u, err)
		}
	}
	if v.CertificateFetches() != 0 {
		t.Fatalf("%d fetches for hosts that are not allowed", v.CertificateFetches())
	}
}
