package partnercenter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/partnerflow/partnerflow/partnercenter"
)

// budgetWorld is a certificate host serving Partner Center's certificate under /certs/ and
// nothing anywhere else, with a verifier allowing 5 new certificate fetches a minute under each
// path prefix and 2 for each source.
type budgetWorld struct {
	pc     signer
	forger signer
	cs     *certServer
	v      *partnercenter.WebhookVerifier
}

func newBudgetWorld(t *testing.T) *budgetWorld {
	t.Helper()
	w := &budgetWorld{pc: newSigner(t), forger: newSigner(t)}
	w.cs = newCertServer(t, func(rw http.ResponseWriter, r *http.Request) {
		if len(r.URL.Path) > len("/certs/") && r.URL.Path[:len("/certs/")] == "/certs/" {
			_, _ = rw.Write(w.pc.der)
			return
		}
		http.NotFound(rw, r)
	})
	w.v = partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts:   []string{w.cs.host(t)},
		AllowHTTP:                 true,
		FetchesPerMinute:          5,
		FetchesPerMinutePerSource: 2,
	})
	return w
}

// forge sends n forged events from source, each naming a new certificate path under prefix.
func (w *budgetWorld) forge(t *testing.T, source, prefix string, n int) {
	t.Helper()
	ctx := partnercenter.WithWebhookSource(context.Background(), source)
	for i := range n {
		u := fmt.Sprintf("%s%s%s-%d", w.cs.URL, prefix, source, i)
		if _, err := w.v.Verify(
			ctx, w.forger.headers(t, u, eventBody), eventBody,
		); !errors.Is(err, partnercenter.ErrWebhookSignature) {
			t.Fatalf("a forged event must be refused as unsigned, got %v", err)
		}
	}
}

func TestWebhookCertificateFetchBudgets(t *testing.T) {
	const partnerCenter = "partner-center"
	for _, tc := range []struct {
		name string
		// drain is what the attacker does first; the genuine event then names certificate.
		drain       func(t *testing.T, w *budgetWorld)
		certificate string
		// maxFetches bounds the certificate host's requests caused by the whole test.
		maxFetches int64
	}{
		{
			name: "forged events from one source naming new paths do not spend another source's budget",
			drain: func(t *testing.T, w *budgetWorld) {
				// The attacker's paths share the genuine certificate's prefix.
				w.forge(t, "203.0.113.9", "/certs/", 30)
			},
			certificate: "/certs/current.cer",
			maxFetches:  2 + 1,
		},
		{
			name: "forged events from many sources under one prefix do not spend another prefix's budget",
			drain: func(t *testing.T, w *budgetWorld) {
				for i := range 10 {
					w.forge(t, fmt.Sprintf("198.51.100.%d", i), "/probe/", 3)
				}
			},
			certificate: "/certs/current.cer",
			maxFetches:  5 + 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newBudgetWorld(t)
			tc.drain(t, w)
			ctx := partnercenter.WithWebhookSource(context.Background(), partnerCenter)
			if _, err := w.v.Verify(ctx, w.pc.headers(t, w.cs.URL+tc.certificate, eventBody), eventBody); err != nil {
				t.Fatalf("a genuine event naming a certificate not yet fetched must verify: %v", err)
			}
			if got := w.cs.hits.Load(); got > tc.maxFetches {
				t.Fatalf("the certificate host got %d requests, want at most %d", got, tc.maxFetches)
			}
		})
	}
}

func TestGenuineEventReusesAKnownGoodCertificateWhenTheBudgetIsSpent(t *testing.T) {
	w := newBudgetWorld(t)
	// Sources are unknown here (the caller did not say): every event shares the budgets.
	ctx := context.Background()
	if _, err := w.v.Verify(ctx, w.pc.headers(t, w.cs.URL+"/certs/current.cer", eventBody), eventBody); err != nil {
		t.Fatalf("a genuine event must verify: %v", err)
	}
	w.forge(t, "", "/certs/", 30)
	w.forge(t, "", "/other/", 30)
	fetches := w.cs.hits.Load()

	// Partner Center names the certificate it signed with under a new URL; the budget is spent,
	// but its key is the one that verified a genuine event before.
	if _, err := w.v.Verify(ctx, w.pc.headers(t, w.cs.URL+"/certs/renamed.cer", eventBody), eventBody); err != nil {
		t.Fatalf("a genuine event signed with a known good certificate must verify without a fetch: %v", err)
	}
	if got := w.cs.hits.Load(); got != fetches {
		t.Fatalf("verifying with a known good certificate fetched %d more times", got-fetches)
	}
	// The known good key verifies only what it signed.
	if _, err := w.v.Verify(
		ctx, w.forger.headers(t, w.cs.URL+"/certs/renamed.cer", eventBody), eventBody,
	); !errors.Is(err, partnercenter.ErrWebhookSignature) {
		t.Fatalf("a forged event naming a known URL must be refused, got %v", err)
	}
	// And an unlisted host is still refused, whatever the signature.
	if _, err := w.v.Verify(
		ctx, w.pc.headers(t, "https://evil.example/certs/current.cer", eventBody), eventBody,
	); !errors.Is(err, partnercenter.ErrWebhookSignature) {
		t.Fatalf("an event naming an unlisted certificate host must be refused, got %v", err)
	}
}
