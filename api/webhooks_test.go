package api_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

// webhookSigner signs events the way Partner Center does, with a self-signed certificate
// served over HTTP by a test server the verifier is told to trust.
type webhookSigner struct {
	key     *rsa.PrivateKey
	certURL string
	host    string
}

var (
	signingKeysOnce sync.Once
	signingKeys     [2]*rsa.PrivateKey
)

// rsaKeys makes two RSA keys once per test binary: the trusted one and a stranger's.
func rsaKeys(t *testing.T) [2]*rsa.PrivateKey {
	t.Helper()
	signingKeysOnce.Do(func() {
		for i := range signingKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			signingKeys[i] = k
		}
	})
	return signingKeys
}

func newWebhookSigner(t *testing.T) *webhookSigner {
	t.Helper()
	key := rsaKeys(t)[0]
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "partner-center-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(der) }))
	t.Cleanup(certs.Close)
	return &webhookSigner{
		key:     key,
		certURL: certs.URL + "/certificate.cer",
		host:    strings.TrimPrefix(certs.URL, "http://"),
	}
}

func (s *webhookSigner) verifier() *partnercenter.WebhookVerifier {
	return partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{s.host},
		AllowHTTP:               true,
	})
}

// headers signs body with key as Partner Center would.
func (s *webhookSigner) headers(t *testing.T, key *rsa.PrivateKey, body []byte) []string {
	t.Helper()
	digest := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return []string{
		"Authorization", "Signature " + base64.StdEncoding.EncodeToString(sig),
		partnercenter.HeaderCertificateURL, s.certURL,
		partnercenter.HeaderSignatureAlgorithm, "rsa-sha256",
	}
}

func eventBody(t *testing.T, name, resourceURI string) []byte {
	t.Helper()
	b, err := json.Marshal(partnercenter.WebhookEvent{
		EventName: name, ResourceURI: resourceURI, ResourceName: "delegatedAdminRelationship",
		// Now, to the nanosecond: within the replay window, and each body new.
		ResourceChangeUtcDate: partnercenter.NewTime(time.Now()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gdapURI(id string) string {
	return "https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships/" + id
}

func (f *flowFixture) webhookEvents(t *testing.T) []models.WebhookEvent {
	t.Helper()
	var rows []models.WebhookEvent
	if err := f.store.DB.Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// webhookFixture is a flow fixture that trusts the signer's certificate, with two invitations
// of which the second has GDAP relationship rel-2.
func webhookFixture(t *testing.T) (*flowFixture, *webhookSigner, [2]created) {
	t.Helper()
	signer := newWebhookSigner(t)
	f := newFlowFixture(t, func(fc *api.FlowConfig) { fc.Webhooks = signer.verifier() })
	invs := [2]created{f.invite(t, "contoso.onmicrosoft.com"), f.invite(t, "fabrikam.onmicrosoft.com")}
	if err := models.Record(context.Background(), f.store, models.KindInvitation, invs[1].ID,
		models.InvitationChange{Set: models.Invitation{GDAPRelationshipID: "rel-2"}}); err != nil {
		t.Fatal(err)
	}
	return f, signer, invs
}

func TestWebhookEventsMustBeSignedByPartnerCenter(t *testing.T) {
	f, signer, _ := webhookFixture(t)
	body := eventBody(t, partnercenter.EventGDAPApproved, gdapURI("rel-2"))
	stranger := rsaKeys(t)[1]
	otherHost := append(signer.headers(t, signer.key, body),
		partnercenter.HeaderCertificateURL, "http://127.0.0.1:1/certificate.cer")
	cases := []struct {
		name    string
		body    []byte
		headers []string
	}{
		{"an event without a signature is refused", body, nil},
		{"an event signed by another key is refused", body, signer.headers(t, stranger, body)},
		{"an event altered after signing is refused",
			[]byte(strings.Replace(string(body), "rel-2", "rel-9", 1)), signer.headers(t, signer.key, body)},
		{"a certificate from a host not allowed is refused", body, otherHost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.anon.Do("POST", "/webhooks/partner-center", tc.body, tc.headers...)
			if resp.Status != http.StatusUnauthorized ||
				resp.Problem(t)["type"] != api.ProblemTypePrefix+"webhook-signature" {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			if rows := f.webhookEvents(t); len(rows) != 0 {
				t.Fatalf("an unverified event was stored: %+v", rows)
			}
			if s := f.temporal.signalCalls(); len(s) != 0 {
				t.Fatalf("an unverified event signalled: %+v", s)
			}
		})
	}
}

func TestGDAPEventsSignalTheInvitationThatCreatedTheRelationship(t *testing.T) {
	f, signer, invs := webhookFixture(t)
	deliver := func(body []byte, status int) (signalled int, duplicate bool) {
		t.Helper()
		resp := f.anon.Do("POST", "/webhooks/partner-center", body, signer.headers(t, signer.key, body)...)
		if resp.Status != status {
			t.Fatalf("status %d, want %d: %s", resp.Status, status, resp.Body)
		}
		var got struct {
			Received  bool `json:"received"`
			Duplicate bool `json:"duplicate"`
			Signalled int  `json:"signalled"`
		}
		resp.JSON(t, &got)
		if !got.Received {
			t.Fatalf("not received: %s", resp.Body)
		}
		return got.Signalled, got.Duplicate
	}
	body := eventBody(t, partnercenter.EventGDAPApproved, gdapURI("rel-2"))
	if n, dup := deliver(body, http.StatusAccepted); n != 1 || dup {
		t.Fatalf("the first delivery must signal once, got %d (duplicate %v)", n, dup)
	}
	// Partner Center retrying (or anyone replaying) the same body: answered 200 so the retries
	// stop, and nothing is stored or signalled.
	if n, dup := deliver(body, http.StatusOK); n != 0 || !dup {
		t.Fatalf("the same body again must be a duplicate, got %d signalled (duplicate %v)", n, dup)
	}
	// A later event about the same relationship is a new body and is signalled.
	later := eventBody(t, partnercenter.EventGDAPApproved, gdapURI("rel-2"))
	if n, dup := deliver(later, http.StatusAccepted); n != 1 || dup {
		t.Fatalf("a new event must signal, got %d (duplicate %v)", n, dup)
	}
	signals := f.temporal.signalCalls()
	want := signalCall{WorkflowID: invs[1].WorkflowID, Name: workflows.SignalPartnerCenterEvent,
		Event: workflows.PartnerCenterEvent{EventName: partnercenter.EventGDAPApproved, ResourceID: "rel-2"}}
	if len(signals) != 2 || signals[0] != want || signals[1] != want {
		t.Fatalf("got signals %+v, want twice %+v", signals, want)
	}
	var sent partnercenter.WebhookEvent
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatal(err)
	}
	rows := f.webhookEvents(t)
	if len(rows) != 2 || rows[0].EventName != partnercenter.EventGDAPApproved ||
		rows[0].ResourceURI != gdapURI("rel-2") || rows[0].Body != string(body) || rows[0].ProcessedAt == nil ||
		!strings.Contains(rows[0].Result, invs[1].ID) ||
		rows[0].ChangedAt != sent.ResourceChangeUtcDate.UTC().Format(time.RFC3339) {
		t.Fatalf("stored events: %+v", rows)
	}
}

func TestWebhookEventsThatConcernNoInvitation(t *testing.T) {
	f, signer, _ := webhookFixture(t)
	cases := []struct {
		name    string
		event   string
		uri     string
		status  int
		typ     string
		result  string
		prepare func()
	}{
		{"an event about an unknown GDAP relationship is refused and recorded",
			partnercenter.EventGDAPTerminated, gdapURI("rel-404"), http.StatusNotFound, "unknown-resource", "refused: ",
			nil},
		{"an event partnerflow does not handle is stored and ignored", partnercenter.EventTestCreated,
			"https://api.partnercenter.microsoft.com/webhooks/v1/registration/validationEvents/1",
			http.StatusAccepted, "", "ignored", nil},
		{"an event for a finished workflow with no GDAP watch is ignored",
			partnercenter.EventGDAPExpired, gdapURI("rel-2"), http.StatusAccepted, "", "ignored: ",
			func() {
				f.temporal.set(func(ft *fakeTemporal) {
					for id := range ft.running {
						ft.signalErr[id] = serviceerror.NewNotFound("workflow execution already completed")
					}
					ft.signalErr[workflows.GDAPWatchWorkflowID("rel-2")] =
						serviceerror.NewNotFound("workflow not found")
				})
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare()
			}
			before := len(f.webhookEvents(t))
			body := eventBody(t, tc.event, tc.uri)
			resp := f.anon.Do("POST", "/webhooks/partner-center", body, signer.headers(t, signer.key, body)...)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			if tc.typ != "" && resp.Problem(t)["type"] != api.ProblemTypePrefix+tc.typ {
				t.Fatalf("want %s: %s", tc.typ, resp.Body)
			}
			rows := f.webhookEvents(t)
			if len(rows) != before+1 || !strings.HasPrefix(rows[len(rows)-1].Result, tc.result) ||
				rows[len(rows)-1].ProcessedAt == nil {
				t.Fatalf("the event must be stored with result %q: %+v", tc.result, rows)
			}
			if s := f.temporal.signalCalls(); len(s) != 0 {
				t.Fatalf("no workflow may be signalled: %+v", s)
			}
		})
	}
}

func TestAResellerAcceptanceSignalsOnlyTheCustomersInvitation(t *testing.T) {
	simulator := testsim.Start(t, sim.Config{})
	signer := newWebhookSigner(t)
	f := newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.Webhooks, fc.Invitation.Customers = signer.verifier(), simulator.Client(t)
	})
	// Several invitations wait; the customer of the first one accepts at Partner Center.
	var pending []created
	for _, d := range []string{
		"contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com", "tailspin.onmicrosoft.com", "wingtip.onmicrosoft.com",
	} {
		pending = append(pending, f.invite(t, d))
	}
	accept, err := json.Marshal(map[string]string{
		"domain":    "contoso.onmicrosoft.com",
		"partnerId": simulator.TenantID,
		"upn":       "admin@contoso.onmicrosoft.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(simulator.URL+"/sim/customer-actions/accept-reseller", "application/json",
		bytes.NewReader(accept))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the customer's acceptance at the simulator answered %d", resp.StatusCode)
	}
	const contosoTenant = "11111111-1111-4111-8111-111111111111"
	// northwind is already the partner's (advisor) customer and has no invitation.
	const northwindTenant = "33333333-3333-4333-8333-333333333333"
	customerURI := func(id string) string { return "https://api.partnercenter.microsoft.com/v1/customers/" + id }

	cases := []struct {
		name     string
		tenant   string
		faults   sim.Faults
		status   int
		typ      string
		result   string
		signalTo string
	}{
		{"the acceptance reaches only the open invitation for the customer's domain",
			contosoTenant, sim.Faults{}, http.StatusAccepted, "",
			"signalled invitation " + pending[0].ID, pending[0].WorkflowID},
		{"an acceptance by a customer with no open invitation is stored and ignored",
			northwindTenant, sim.Faults{}, http.StatusAccepted, "",
			"ignored: no open invitation for northwind.onmicrosoft.com", ""},
		{"an acceptance naming a tenant that is no customer of the partner is refused",
			"99999999-9999-4999-8999-999999999999", sim.Faults{}, http.StatusNotFound, "unknown-resource",
			"refused: ", ""},
		{"Partner Center failing for now makes Partner Center deliver the event again, and wakes nobody",
			contosoTenant, sim.Faults{Rate500: 1}, http.StatusServiceUnavailable, "unavailable",
			"failed: ", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			simulator.SetFaults(tc.faults)
			defer simulator.SetFaults(sim.Faults{})
			before := len(f.temporal.signalCalls())
			body := eventBody(t, partnercenter.EventResellerRelationshipAccepted, customerURI(tc.tenant))
			resp := f.anon.Do("POST", "/webhooks/partner-center", body, signer.headers(t, signer.key, body)...)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			if tc.typ != "" && resp.Problem(t)["type"] != api.ProblemTypePrefix+tc.typ {
				t.Fatalf("want %s: %s", tc.typ, resp.Body)
			}
			rows := f.webhookEvents(t)
			if last := rows[len(rows)-1]; !strings.HasPrefix(last.Result, tc.result) {
				t.Fatalf("the event must be stored with result %q: %+v", tc.result, last)
			}
			got := f.temporal.signalCalls()[before:]
			if tc.signalTo == "" {
				if len(got) != 0 {
					t.Fatalf("no workflow may be signalled: %+v", got)
				}
				return
			}
			want := workflows.PartnerCenterEvent{
				EventName:  partnercenter.EventResellerRelationshipAccepted,
				ResourceID: tc.tenant,
			}
			if len(got) != 1 || got[0].WorkflowID != tc.signalTo || got[0].Event != want {
				t.Fatalf("exactly one signal, to %s, with %d invitations pending: %+v", tc.signalTo, len(pending), got)
			}
		})
	}
}

func TestAResellerAcceptanceWithoutPartnerCenterIsAHintToEveryPendingInvitation(t *testing.T) {
	f, signer, invs := webhookFixture(t)
	third := f.invite(t, "litware.onmicrosoft.com")
	if err := models.Record(context.Background(), f.store, models.KindInvitation, third.ID,
		models.InvitationChange{Status: models.InvitationActive}); err != nil {
		t.Fatal(err)
	}
	customer := "4d2c9b1a-7e6f-4a5b-8c3d-2e1f0a9b8c7d"
	body := eventBody(t, partnercenter.EventResellerRelationshipAccepted,
		"https://api.partnercenter.microsoft.com/v1/customers/"+customer)
	resp := f.anon.Do("POST", "/webhooks/partner-center", body, signer.headers(t, signer.key, body)...)
	if resp.Status != http.StatusAccepted || !strings.Contains(string(resp.Body), `"signalled":2`) {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	got := map[string]workflows.PartnerCenterEvent{}
	for _, s := range f.temporal.signalCalls() {
		got[s.WorkflowID] = s.Event
	}
	want := workflows.PartnerCenterEvent{
		EventName:  partnercenter.EventResellerRelationshipAccepted,
		ResourceID: customer,
	}
	if len(got) != 2 || got[invs[0].WorkflowID] != want || got[invs[1].WorkflowID] != want {
		t.Fatalf("every pending invitation, and only those, must get the hint: %+v", got)
	}

	f.temporal.set(func(ft *fakeTemporal) {
		ft.signalErr[invs[0].WorkflowID] = serviceerror.NewUnavailable("connection refused")
	})
	body = eventBody(t, partnercenter.EventResellerRelationshipAccepted,
		"https://api.partnercenter.microsoft.com/v1/customers/"+customer)
	resp = f.anon.Do("POST", "/webhooks/partner-center", body, signer.headers(t, signer.key, body)...)
	if resp.Status != http.StatusServiceUnavailable {
		t.Fatalf("a signal that could not be delivered must make Partner Center retry: %d %s", resp.Status, resp.Body)
	}
	rows := f.webhookEvents(t)
	if last := rows[len(rows)-1]; !strings.HasPrefix(last.Result, "failed: ") {
		t.Fatalf("the failure must be recorded with the event: %+v", last)
	}
}

func TestWebhooksWithoutAVerifierAreRefused(t *testing.T) {
	f := newFlowFixture(t)
	resp := f.anon.Do("POST", "/webhooks/partner-center",
		eventBody(t, partnercenter.EventGDAPApproved, gdapURI("rel-1")))
	if resp.Status != http.StatusServiceUnavailable || len(f.webhookEvents(t)) != 0 {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
}

func TestGDAPEventsAfterActivationReachTheGDAPWatch(t *testing.T) {
	f, signer, _ := webhookFixture(t)
	f.temporal.set(func(ft *fakeTemporal) {
		for id := range ft.running {
			ft.signalErr[id] = serviceerror.NewNotFound("workflow execution already completed")
		}
	})
	body := eventBody(t, partnercenter.EventGDAPTerminated, gdapURI("rel-2"))
	resp := f.anon.Do("POST", "/webhooks/partner-center", body, signer.headers(t, signer.key, body)...)
	if resp.Status != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	s := f.temporal.signalCalls()
	if len(s) != 1 || s[0].WorkflowID != workflows.GDAPWatchWorkflowID("rel-2") ||
		s[0].Name != workflows.SignalPartnerCenterEvent {
		t.Fatalf("the terminated relationship's watch must be woken: %+v", s)
	}
}

func TestGDAPEventsReachOnlyWorkflowsThatActOnThem(t *testing.T) {
	cases := []struct {
		status, event, result, signalled string
		// estateWatch: the estate sync watches the relationship, no GDAP watch does.
		estateWatch bool
	}{
		{models.InvitationGranting, partnercenter.EventGDAPActivated, "ignored: ", "", false},
		{models.InvitationGranting, partnercenter.EventGDAPTerminated, "ignored: ", "", false},
		{models.InvitationActive, partnercenter.EventGDAPActivated, "ignored: ", "", false},
		{models.InvitationActive, partnercenter.EventGDAPTerminated, "signalled the GDAP watch",
			workflows.GDAPWatchWorkflowID("rel-2"), false},
		{models.InvitationActive, partnercenter.EventGDAPTerminated, "signalled the estate sync",
			workflows.EstateSyncWorkflowID(partnerID) + " " + workflows.SignalSyncNow, true},
		{models.InvitationPending, partnercenter.EventGDAPActivated, "signalled invitation", "invitation", false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %s estate-watched %t", tc.status, tc.event, tc.estateWatch), func(t *testing.T) {
			f, signer, invs := webhookFixture(t)
			change := models.InvitationChange{Status: tc.status, Set: models.Invitation{EstateWatch: tc.estateWatch}}
			if err := models.Record(context.Background(), f.store, models.KindInvitation, invs[1].ID,
				change); err != nil {
				t.Fatal(err)
			}
			body := eventBody(t, tc.event, gdapURI("rel-2"))
			resp := f.anon.Do("POST", "/webhooks/partner-center", body, signer.headers(t, signer.key, body)...)
			if resp.Status != http.StatusAccepted {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			rows := f.webhookEvents(t)
			if len(rows) != 1 || !strings.HasPrefix(rows[0].Result, tc.result) {
				t.Fatalf("the event must be stored with result %q: %+v", tc.result, rows)
			}
			s := f.temporal.signalCalls()
			switch {
			case tc.signalled == "" && len(s) != 0:
				t.Fatalf("a %s invitation reads the relationship itself; nothing may be woken: %+v", tc.status, s)
			case tc.signalled != "" && (len(s) != 1 || !strings.HasPrefix(s[0].WorkflowID+" "+s[0].Name, tc.signalled)):
				t.Fatalf("want one signal to %s: %+v", tc.signalled, s)
			}
		})
	}
}
