package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

const (
	adatumTenant   = "66666666-6666-4666-8666-666666666666"
	fabrikamTenant = "22222222-2222-4222-8222-222222222222"
	helpdeskRole   = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
)

// served is a simulator on a data file, served over HTTP, with a client.
type served struct {
	s   *Server
	srv *httptest.Server
	c   *pc.HTTPClient
}

func serve(t *testing.T, dataFile string, now func() time.Time) *served {
	t.Helper()
	s, err := New(Config{DataFile: dataFile, ActivationDelay: time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	s.SetPublicURL(srv.URL)
	if err := s.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	c, err := pc.New(pc.Config{
		PartnerCenterURL: srv.URL,
		GraphURL:         srv.URL,
		AuthorityURL:     srv.URL,
		TenantID:         DefaultHomePartner.TenantID,
		ClientID:         DemoApp.ClientID,
		ClientSecret:     DemoApp.ClientSecret,
		UserTokens:       mintedUserTokens{s},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &served{s: s, srv: srv, c: c}
}

// close stops the simulator and returns its world as JSON (every persisted
// field; maps marshal in key order).
func (sv *served) close(t *testing.T) []byte {
	t.Helper()
	sv.srv.Close()
	sv.s.Close()
	b, err := json.Marshal(sv.s.st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored opens the data file as a start does and returns the world it holds
// as JSON, without starting a server (whose scanner could change it).
func stored(t *testing.T, path string) []byte {
	t.Helper()
	db, st, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testClock is a clock the test moves while the server's scanner reads it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (sv *served) post(t *testing.T, path string, body any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(sv.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func withID(id string) context.Context { return pc.WithRequestID(context.Background(), id) }

func newCustomerBody(domain string) pc.NewCustomer {
	return pc.NewCustomer{
		CompanyProfile: pc.CompanyProfile{Domain: domain},
		BillingProfile: pc.BillingProfile{Email: "it@" + domain, CompanyName: "Co " + domain,
			DefaultAddress: pc.Address{Country: "US", City: "Redmond", AddressLine1: "1 Way", PostalCode: "98052"}},
		AssociatedPartnerID: adatumTenant,
	}
}

// buildWorld makes one of every kind of entity the simulator stores, through
// its service and admin paths.
func buildWorld(t *testing.T, sv *served, clock *testClock) (customerID string) {
	t.Helper()
	cust, err := sv.c.CreateCustomer(withID("world-create"), newCustomerBody("durable.onmicrosoft.com"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sv.c.CreateCustomerAgreement(withID("world-mca"), cust.ID, pc.CustomerAgreement{
		PrimaryContact: pc.Contact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@durable.example"},
		TemplateID:     MCATemplateID,
		DateAgreed:     pc.NewTime(clock.now().Add(-time.Hour)),
		Type:           pc.AgreementTypeMCA,
	}); err != nil {
		t.Fatal(err)
	}
	cart, err := sv.c.CreateCart(withID("world-cart"), cust.ID, pc.Cart{LineItems: []pc.CartLineItem{{
		CatalogItemID: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS", Quantity: 3, BillingCycle: "monthly", TermDuration: "P1Y",
		Participants: []pc.Participant{{Key: pc.ParticipantTransactionReseller, Value: "1234567"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sv.c.CheckoutCart(withID("world-checkout"), cust.ID, cart.ID)
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Minute) // the order is provisioned
	subID := res.Orders[0].LineItems[0].SubscriptionID
	if _, err := sv.c.UpdateSupportContact(withID("world-support"), cust.ID, subID, pc.SupportContact{
		SupportTenantID: adatumTenant,
		SupportMPNID:    "1234567",
	}); err != nil {
		t.Fatal(err)
	}
	rel, err := sv.c.CreateGDAPRelationship(withID("world-gdap"), pc.NewGDAPRelationship{
		DisplayName:   "Durable helpdesk",
		Duration:      "P730D",
		Customer:      &pc.GDAPCustomer{TenantID: fabrikamTenant},
		AccessDetails: pc.AccessDetails{UnifiedRoles: []pc.UnifiedRole{{RoleDefinitionID: helpdeskRole}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sv.c.LockGDAPForApproval(withID("world-lock"), rel.ID); err != nil {
		t.Fatal(err)
	}
	if st := sv.post(t, "/sim/customer-actions/approve-gdap", map[string]string{
		"relationshipId": rel.ID,
		"upn":            "admin@fabrikam.onmicrosoft.com",
	}); st != http.StatusOK {
		t.Fatalf("approve: %d", st)
	}
	if st := sv.post(t, "/sim/clock", map[string]string{"advance": "2m"}); st != http.StatusOK {
		t.Fatalf("clock: %d", st)
	}
	if _, err := sv.c.CreateAccessAssignment(withID("world-assign"), rel.ID, pc.NewAccessAssignment{
		AccessContainer: pc.AccessContainer{
			AccessContainerID:   "9a4a1d2b-1111-4c3d-8e5f-000000000001",
			AccessContainerType: "securityGroup",
		},
		AccessDetails: pc.AccessDetails{UnifiedRoles: []pc.UnifiedRole{{RoleDefinitionID: helpdeskRole}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sv.c.RegisterWebhook(withID("world-webhook"), pc.WebhookRegistration{
		WebhookURL:    "http://127.0.0.1:9/webhooks",
		WebhookEvents: []string{pc.EventResellerRelationshipAccepted, pc.EventGDAPActivated},
	}); err != nil {
		t.Fatal(err)
	}
	if st := sv.post(t, "/sim/partners", map[string]any{
		"domain":          "newreseller.onmicrosoft.com",
		"country":         "US",
		"companyName":     "New Reseller",
		"mpnId":           "7654321",
		"agreementSigned": true,
		"users":           []User{{UPN: "admin@newreseller.onmicrosoft.com", GlobalAdmin: true}},
	}); st != http.StatusCreated {
		t.Fatalf("partner: %d", st)
	}
	if st := sv.post(t, "/sim/customer-actions/authorize-provider", map[string]string{
		"resellerDomain": "newreseller.onmicrosoft.com",
		"providerId":     DefaultHomePartner.TenantID,
		"upn":            "admin@newreseller.onmicrosoft.com",
	}); st != http.StatusOK {
		t.Fatalf("authorize: %d", st)
	}
	return cust.ID
}

func TestWorldSurvivesRestart(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "simulator.json")

	first := serve(t, path, clock.now)
	customerID := buildWorld(t, first, clock)
	if err := first.s.CheckStorage(); err != nil {
		t.Fatal(err)
	}
	retried, err := first.c.CreateCustomer(withID("retried"), newCustomerBody("retried.onmicrosoft.com"))
	if err != nil {
		t.Fatal(err)
	}
	before := first.close(t)
	if len(first.s.st.GDAP) != 1 || len(first.s.st.Subscriptions) != 1 || first.s.st.Webhook == nil ||
		first.s.st.ClockOffset == 0 {
		t.Fatalf("the world lacks something to carry over: %s", before)
	}

	if after := stored(t, path); !bytes.Equal(before, after) {
		t.Errorf("the world changed across a restart:\nbefore %s\nafter  %s", before, after)
	}

	third := serve(t, path, clock.now)
	t.Run("it answers as before and keeps working", func(t *testing.T) {
		got, err := third.c.GetCustomer(context.Background(), customerID)
		if err != nil || got.CompanyProfile.Domain != "durable.onmicrosoft.com" {
			t.Errorf("customer = %+v, err %v", got, err)
		}
		again, err := third.c.CreateCustomer(withID("retried"), newCustomerBody("other.onmicrosoft.com"))
		if err != nil || again.ID != retried.ID || again.UserCredentials == nil ||
			*again.UserCredentials != *retried.UserCredentials {
			t.Errorf(
				"a retried request after the restart = %+v, err %v; want the stored answer %+v",
				again,
				err,
				retried,
			)
		}
		if _, err := third.c.CreateCustomer(withID("after"), newCustomerBody("after.onmicrosoft.com")); err != nil {
			t.Fatal(err)
		}
		// Users are found by UPN through an index rebuilt at start.
		if st := third.post(t, "/sim/customer-actions/accept-reseller", map[string]string{
			"partnerId": DefaultHomePartner.TenantID,
			"upn":       "ADMIN@contoso.onmicrosoft.com",
		}); st != http.StatusOK {
			t.Errorf("accept by UPN after the restart: %d", st)
		}
		if st := third.post(t, "/sim/customer-actions/accept-reseller", map[string]string{"partnerId": adatumTenant,
			"upn": "admin@after.onmicrosoft.com"}); st != http.StatusConflict {
			t.Errorf("accept by the UPN of a customer created after the restart (already adatum's): %d, want 409", st)
		}
		if err := third.s.CheckStorage(); err != nil {
			t.Error(err)
		}
	})
}

// A change writes the rows of what it changed and nothing else, however big
// the world is (SQLite's count of changed rows, not a timing).
func TestChangeWritesOnlyItsRows(t *testing.T) {
	sv := serve(t, filepath.Join(t.TempDir(), "sim.db"), newClock().now)
	if _, err := sv.s.AddResellerCustomers(adatumTenant, 2000); err != nil {
		t.Fatal(err)
	}
	changes := func() int {
		t.Helper()
		sv.s.mu.Lock()
		defer sv.s.mu.Unlock()
		var n int
		if err := sv.s.db.db.QueryRow(`SELECT total_changes()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	start := changes()
	if _, err := sv.c.CreateCustomer(withID("one"), newCustomerBody("one.onmicrosoft.com")); err != nil {
		t.Fatal(err)
	}
	if got := changes() - start; got != 2 {
		t.Errorf("creating a customer wrote %d rows, want 2 (the tenant and the stored answer)", got)
	}
	start = changes()
	if st := sv.post(t, "/sim/clock", map[string]string{"advance": "1h"}); st != http.StatusOK {
		t.Fatalf("clock: %d", st)
	}
	if got := changes() - start; got != 1 {
		t.Errorf("moving the clock wrote %d rows, want 1", got)
	}
	start = changes()
	if _, err := sv.c.GetCustomer(context.Background(), adatumTenant); err == nil {
		t.Error("a partner tenant answered as a customer")
	}
	if got := changes() - start; got != 0 {
		t.Errorf("a read wrote %d rows", got)
	}
}

// legacy-simulator.json is a snapshot written by the JSON-file simulator
// (commit 5e796d6: demo world, a customer of adatum created with request ID
// legacy-create, its MCA, a cart checked out, an approved GDAP relationship,
// a webhook registration, a clock offset of 2h), without its signing key and
// certificate so that no private key is checked in.
func TestLegacySnapshotIsImported(t *testing.T) {
	legacy, err := os.ReadFile(filepath.Join("testdata", "legacy-simulator.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := newState()
	if err := json.Unmarshal(legacy, want); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "simulator.json")
	if err := os.WriteFile(path, legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := stored(t, path), mustJSON(t, want); !bytes.Equal(got, want) {
		t.Errorf("imported world differs:\ngot  %s\nwant %s", got, want)
	}
	var customerID string
	for id, tn := range want.Tenants {
		if tn.Domain == "legacyco.onmicrosoft.com" {
			customerID = id
		}
	}

	first := serve(t, path, newClock().now)
	t.Run("it answers from the imported world", func(t *testing.T) {
		c, err := first.c.GetCustomer(context.Background(), customerID)
		if err != nil || c.AssociatedPartnerID != adatumTenant {
			t.Errorf("customer = %+v, err %v", c, err)
		}
		again, err := first.c.CreateCustomer(withID("legacy-create"), newCustomerBody("whatever.onmicrosoft.com"))
		if err != nil || again.ID != customerID {
			t.Errorf("replayed create = %+v, err %v", again, err)
		}
		if reg, err := first.c.GetWebhookRegistration(context.Background()); err != nil ||
			reg.WebhookURL != "http://127.0.0.1:9/webhooks" {
			t.Errorf("webhook = %+v, err %v", reg, err)
		}
		if subs, err := first.c.ListSubscriptions(context.Background(), customerID); err != nil || len(subs) != 1 {
			t.Errorf("subscriptions = %+v, err %v", subs, err)
		}
	})
	t.Run("the file is now a SQLite database and the snapshot is kept beside it", func(t *testing.T) {
		head := make([]byte, len(sqliteHeader))
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Read(head); err != nil || !bytes.Equal(head, sqliteHeader) {
			t.Errorf("data file starts with %q", head)
		}
		kept, err := os.ReadFile(path + ".legacy")
		if err != nil || !bytes.Equal(kept, legacy) {
			t.Errorf("kept snapshot: %d bytes, err %v", len(kept), err)
		}
		if _, err := os.Stat(path + ".import"); !os.IsNotExist(err) {
			t.Errorf("the import's temporary file is left: %v", err)
		}
	})
	if _, err := first.c.CreateCustomer(
		withID("after-import"), newCustomerBody("afterimport.onmicrosoft.com"),
	); err != nil {
		t.Fatal(err)
	}
	before := first.close(t)

	if after := stored(t, path); !bytes.Equal(before, after) {
		t.Errorf("the imported world changed across a restart:\nbefore %s\nafter  %s", before, after)
	}
	if kept, err := os.ReadFile(path + ".legacy"); err != nil || !bytes.Equal(kept, legacy) {
		t.Errorf("the kept snapshot changed: %d bytes, err %v", len(kept), err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A data file that is neither SQLite nor a snapshot stops the start with an
// error naming it, and is left alone.
func TestUnreadableDataFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "simulator.json")
	if err := os.WriteFile(path, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{DataFile: path})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "not json" {
		t.Errorf("the file was changed: %q", b)
	}
}
