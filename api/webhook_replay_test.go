package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// datedEvent is a GDAP approval of rel-2 that changed at changed (zero: no date).
func datedEvent(t *testing.T, changed time.Time) []byte {
	t.Helper()
	ev := partnercenter.WebhookEvent{
		EventName:    partnercenter.EventGDAPApproved,
		ResourceURI:  gdapURI("rel-2"),
		ResourceName: "delegatedAdminRelationship",
	}
	if !changed.IsZero() {
		ev.ResourceChangeUtcDate = partnercenter.NewTime(changed)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebhookEventsOutsideTheReplayWindowAreRefused(t *testing.T) {
	f, signer, _ := webhookFixture(t)
	now := f.clock.Now()
	cases := []struct {
		name    string
		changed time.Time
		status  int
	}{
		{"an event older than the window is refused",
			now.Add(-api.WebhookReplayWindow - time.Minute), http.StatusBadRequest},
		{"an event without a date is refused", time.Time{}, http.StatusBadRequest},
		{"an event just inside the window is accepted",
			now.Add(-api.WebhookReplayWindow + time.Minute), http.StatusAccepted},
		{"an event dated ahead of the clock (the simulator's moved clock) is accepted",
			now.Add(48 * time.Hour), http.StatusAccepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, signals := len(f.webhookEvents(t)), len(f.temporal.signalCalls())
			body := datedEvent(t, tc.changed)
			resp := f.anon.Do("POST", "/webhooks/partner-center", body, signer.headers(t, signer.key, body)...)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			if tc.status != http.StatusBadRequest {
				return
			}
			if resp.Problem(t)["type"] != api.ProblemTypePrefix+"webhook-stale" {
				t.Fatalf("want webhook-stale: %s", resp.Body)
			}
			if len(f.webhookEvents(t)) != before || len(f.temporal.signalCalls()) != signals {
				t.Fatal("a refused event must be neither stored nor signalled")
			}
		})
	}
}

func TestAnEventThatFailedIsProcessedWhenPartnerCenterRetriesIt(t *testing.T) {
	f, signer, invs := webhookFixture(t)
	f.temporal.set(func(ft *fakeTemporal) {
		ft.signalErr[invs[1].WorkflowID] = serviceerror.NewUnavailable("connection refused")
	})
	body := eventBody(t, partnercenter.EventGDAPApproved, gdapURI("rel-2"))
	if resp := f.anon.Do("POST", "/webhooks/partner-center", body,
		signer.headers(t, signer.key, body)...); resp.Status != http.StatusServiceUnavailable {
		t.Fatalf("a failed signal must answer 503: %d %s", resp.Status, resp.Body)
	}
	f.temporal.set(func(ft *fakeTemporal) { delete(ft.signalErr, invs[1].WorkflowID) })
	resp := f.anon.Do("POST", "/webhooks/partner-center", body, signer.headers(t, signer.key, body)...)
	if resp.Status != http.StatusAccepted || !strings.Contains(string(resp.Body), `"signalled":1`) {
		t.Fatalf("Partner Center's retry of a failed event must be processed, not taken for a duplicate: %d %s",
			resp.Status, resp.Body)
	}
}

func TestUnverifiedWebhookCallersLearnNothingOfWhy(t *testing.T) {
	signer := newWebhookSigner(t)
	// The verifier trusts a host where nothing listens: fetching its certificate fails with a
	// network error, which the caller must not see.
	verifier := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{signer.host, "127.0.0.1:1"},
		AllowHTTP:               true,
	})
	f := newFlowFixture(t, func(fc *api.FlowConfig) { fc.Webhooks = verifier })
	body := eventBody(t, partnercenter.EventGDAPApproved, gdapURI("rel-2"))
	headers := append(signer.headers(t, signer.key, body),
		partnercenter.HeaderCertificateURL, "http://127.0.0.1:1/certificate.cer")
	resp := f.anon.Do("POST", "/webhooks/partner-center", body, headers...)
	if resp.Status != http.StatusUnauthorized || resp.Problem(t)["type"] != api.ProblemTypePrefix+"webhook-signature" {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	for _, leak := range []string{"127.0.0.1", "dial", "refused", "connect", "certificate.cer"} {
		if strings.Contains(string(resp.Body), leak) {
			t.Fatalf("the answer tells an unverified caller %q: %s", leak, resp.Body)
		}
	}
	if !strings.Contains(f.logs.String(), "connection refused") {
		t.Fatalf("the reason must be in the log: %s", f.logs.String())
	}

	// The database failing is not told either.
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	verified := eventBody(t, partnercenter.EventGDAPApproved, gdapURI("rel-2"))
	resp = f.anon.Do("POST", "/webhooks/partner-center", verified, signer.headers(t, signer.key, verified)...)
	if resp.Status != http.StatusInternalServerError || strings.Contains(strings.ToLower(string(resp.Body)), "sql") ||
		strings.Contains(string(resp.Body), "closed") {
		t.Fatalf("a database failure must answer a bare 500: %d %s", resp.Status, resp.Body)
	}
}
