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
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter"
)

// fuzzWebhooks is a verifier that trusts one self-signed certificate served over HTTP, and the
// key that signs events with it.
type fuzzWebhooks struct {
	verifier *partnercenter.WebhookVerifier
	key      *rsa.PrivateKey
	certURL  string
}

func newFuzzWebhooks(t testing.TB) *fuzzWebhooks {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "partner-center-fuzz"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(der) }))
	t.Cleanup(srv.Close)
	v := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{strings.TrimPrefix(srv.URL, "http://")}, AllowHTTP: true,
	})
	return &fuzzWebhooks{verifier: v, key: key, certURL: srv.URL + "/certificate.cer"}
}

func (w *fuzzWebhooks) headers(t testing.TB, body []byte) http.Header {
	digest := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, w.key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Signature "+base64.StdEncoding.EncodeToString(sig))
	h.Set(partnercenter.HeaderCertificateURL, w.certURL)
	h.Set(partnercenter.HeaderSignatureAlgorithm, "rsa-sha256")
	return h
}

var webhookSeeds = []string{
	`{"EventName":"granular-admin-relationship-approved",` +
		`"ResourceUri":"https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships/rel-1",` +
		`"ResourceName":"delegatedAdminRelationship",` +
		`"AuditUri":"https://api.partnercenter.microsoft.com/v1/auditrecords/1",` +
		`"ResourceChangeUtcDate":"2025-03-10T10:00:00.1234567Z"}`,
	`{"EventName":"customer-relationship-accepted","ResourceChangeUtcDate":"2025-03-10T10:00:00"}`,
	`{"EventName":"test-created","ResourceChangeUtcDate":null}`,
	`{"EventName":"x","ResourceChangeUtcDate":""}`,
	`{"EventName":"x","ResourceChangeUtcDate":"2025-03-10T10:00:00+14:00"}`,
	`{"EventName":"x","ResourceChangeUtcDate":"9999-12-31T23:59:59-01:00"}`,
	`{"EventName":""}`,
	`{"eventname":"lower-case keys match too"}`,
	`[]`,
	``,
}

// FuzzWebhookEvent verifies and parses arbitrary event bodies signed by the trusted
// certificate: a body is accepted only with an EventName, an accepted event written back as
// JSON parses to the same event, and the same signature never verifies another body.
func FuzzWebhookEvent(f *testing.F) {
	for _, s := range webhookSeeds {
		f.Add([]byte(s), []byte(`{"EventName":"other"}`))
	}
	w := newFuzzWebhooks(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body, other []byte) {
		h := w.headers(t, body)
		ev, err := w.verifier.Verify(ctx, h, body)
		if string(other) != string(body) {
			if _, err := w.verifier.Verify(ctx, h, other); !errors.Is(err, partnercenter.ErrWebhookSignature) {
				t.Fatalf("the signature of %q verified %q: %v", body, other, err)
			}
		}
		if err != nil {
			if errors.Is(err, partnercenter.ErrWebhookSignature) {
				t.Fatalf("a body signed by the trusted certificate was refused as unsigned: %v", err)
			}
			return
		}
		if ev.EventName == "" {
			t.Fatalf("an event without EventName was accepted: %q", body)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("an accepted event does not marshal: %v", err)
		}
		back, err := w.verifier.Verify(ctx, w.headers(t, again), again)
		if err != nil {
			t.Fatalf("the accepted event %q written back as %s is refused: %v", body, again, err)
		}
		if back.EventName != ev.EventName || back.ResourceURI != ev.ResourceURI ||
			back.ResourceName != ev.ResourceName || back.AuditURI != ev.AuditURI ||
			!back.ResourceChangeUtcDate.Equal(ev.ResourceChangeUtcDate.Time) {
			t.Fatalf("the event %+v came back as %+v", ev, back)
		}
	})
}

// FuzzWebhookHeaders sends a valid event body with arbitrary signature headers: nothing but the
// trusted certificate's signature over the body is accepted, and no certificate is fetched from
// a host the verifier does not trust.
func FuzzWebhookHeaders(f *testing.F) {
	f.Add("Signature AAAA", "", "rsa-sha256", "")
	f.Add("Signature", "http://evil.example/cert.cer", "", "")
	f.Add("", "", "RSA-SHA256", "Signature !!")
	f.Add("Bearer x", "https://api.partnercenter.microsoft.com/webhooks/v1/cert.cer", "hmac", "")
	f.Add("signature "+strings.Repeat("A", 344), "file:///etc/passwd", "rsa-sha256", "")
	w := newFuzzWebhooks(f)
	body := []byte(webhookSeeds[0])
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, authorization, certURL, algorithm, msSignature string) {
		h := http.Header{}
		for k, v := range map[string]string{"Authorization": authorization, partnercenter.HeaderCertificateURL: certURL,
			partnercenter.HeaderSignatureAlgorithm: algorithm, partnercenter.HeaderSignature: msSignature} {
			if v != "" {
				h.Set(k, v)
			}
		}
		if certURL == "" {
			h.Set(partnercenter.HeaderCertificateURL, w.certURL)
		}
		if _, err := w.verifier.Verify(ctx, h, body); err == nil {
			t.Fatalf("headers %v verified a body the trusted key did not sign in them", h)
		}
	})
}
