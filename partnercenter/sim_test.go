package partnercenter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"golang.org/x/oauth2"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

const (
	contosoID  = "11111111-1111-4111-8111-111111111111"
	fabrikamID = "22222222-2222-4222-8222-222222222222"
	adatumID   = "66666666-6666-4666-8666-666666666666"
	userAdmin  = "fe930be7-5e62-47db-91af-98c3a49a38b1"
	helpdesk   = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
	groupA     = "9a4a1d2b-1111-4c3d-8e5f-000000000001"
)

// simEnv is the client talking to a seeded simulator over real HTTP, with a
// clock the test moves.
type simEnv struct {
	t     *testing.T
	srv   *httptest.Server
	sim   *sim.Server
	c     *partnercenter.HTTPClient
	mu    sync.Mutex
	clock time.Time
}

func newSimEnv(t *testing.T, dataFile string) *simEnv {
	t.Helper()
	return newSimEnvWith(t, func(cfg *sim.Config) { cfg.DataFile = dataFile })
}

// newSimEnvWith is newSimEnv with the simulator's configuration changed by
// edit. It serves the simulator as testsim does, seeded, and checks its
// storage: without a data file the simulator gets one in the test's temporary
// directory, and after every call but reads (and when the test ends) the file must hold
// exactly the world in memory, or the test fails naming the call whose change
// was not written.
func newSimEnvWith(t *testing.T, edit func(*sim.Config)) *simEnv {
	t.Helper()
	e := &simEnv{t: t, clock: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	cfg := sim.Config{ActivationDelay: time.Minute, Now: e.now, WebhookRetryDelay: 20 * time.Millisecond}
	edit(&cfg)
	if cfg.DataFile == "" {
		cfg.DataFile = filepath.Join(t.TempDir(), "sim.db")
	}
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("start the simulator: %v", err)
	}
	t.Cleanup(s.Close)
	h := s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.Method == http.MethodGet {
			return // reads change nothing; the check at the end would see it if one did
		}
		if err := s.CheckStorage(); err != nil {
			t.Errorf("after %s %s: %v", r.Method, r.URL.Path, err)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if err := s.CheckStorage(); err != nil {
			t.Errorf("at the end: %v", err)
		}
	})
	s.SetPublicURL(srv.URL)
	if err := s.SeedDemo(); err != nil {
		t.Fatalf("seed the simulator: %v", err)
	}
	c, err := partnercenter.New(partnercenter.Config{
		PartnerCenterURL: srv.URL,
		GraphURL:         srv.URL,
		AuthorityURL:     srv.URL,
		TenantID:         sim.DefaultHomePartner.TenantID,
		ClientID:         sim.DemoApp.ClientID,
		ClientSecret:     sim.DemoApp.ClientSecret,
		UserTokens:       simUser{s},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.sim, e.srv, e.c = s, srv, c
	return e
}

// simUser is the home partner's admin, connected with MFA: each App+User token is minted by
// the simulator.
type simUser struct{ s *sim.Server }

func (u simUser) UserToken(context.Context, string) (*oauth2.Token, error) {
	tok, err := u.s.MintToken(sim.TokenRequest{})
	return &oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: time.Now().Add(30 * time.Minute)}, err
}

// token is an App+User token of the home partner's admin for the service path belongs to.
func (e *simEnv) token(path string) string {
	e.t.Helper()
	req := sim.TokenRequest{}
	if strings.HasPrefix(path, "/v1.0/") {
		req.Resource = sim.ResourceGraph
	}
	tok, err := e.sim.MintToken(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *simEnv) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

func (e *simEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock = e.clock.Add(d)
}

// post sends a JSON body to a /sim path and returns the status and body.
func (e *simEnv) post(path string, body any) (int, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(e.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func rid(name string) context.Context {
	return partnercenter.WithRequestID(context.Background(), name+"/"+partnercenter.NewRequestID())
}

func newCustomer(domain string) partnercenter.NewCustomer {
	return partnercenter.NewCustomer{
		CompanyProfile: partnercenter.CompanyProfile{Domain: domain},
		BillingProfile: partnercenter.BillingProfile{
			Email:       "it@" + domain,
			Culture:     "en-US",
			Language:    "en",
			CompanyName: "New Co",
			DefaultAddress: partnercenter.Address{
				Country:      "US",
				City:         "Redmond",
				AddressLine1: "1 Way",
				PostalCode:   "98052",
			},
		},
	}
}

func wantCode(t *testing.T, err error, status, code int) {
	t.Helper()
	if !partnercenter.IsStatus(err, status) || (code != 0 && !partnercenter.IsCode(err, code)) {
		t.Fatalf("err = %v, want HTTP %d code %d", err, status, code)
	}
	if partnercenter.IsRetryable(err) {
		t.Fatalf("err = %v is retryable, want a business refusal", err)
	}
}

func TestSimResellerRelationship(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()

	req, err := e.c.RelationshipRequestURL(ctx, partnercenter.RelationshipRequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(req.URL)
	if !strings.HasPrefix(req.URL, e.srv.URL+"/sim/admin/partner-invitation?") ||
		u.Query().Get("partnerId") != sim.DefaultHomePartner.TenantID {
		t.Fatalf("invitation URL = %s", req.URL)
	}
	if _, err := e.c.GetCustomer(ctx, contosoID); !partnercenter.IsStatus(err, 404) {
		t.Fatalf("before acceptance: err = %v, want 404", err)
	}

	home := sim.DefaultHomePartner.TenantID
	tests := []struct {
		name   string
		body   map[string]string
		status int
		reason string
	}{
		{
			"accept by a user who is not Global admin is refused",
			map[string]string{
				"domain":    "contoso.onmicrosoft.com",
				"partnerId": home,
				"upn":       "user@contoso.onmicrosoft.com",
			},
			403, sim.ReasonNotGlobalAdmin,
		},
		{
			"accept by a customer in another country is refused",
			map[string]string{
				"domain":    "tailspin.onmicrosoft.com",
				"partnerId": home,
				"upn":       "admin@tailspin.onmicrosoft.com",
			},
			403, sim.ReasonRegionMismatch,
		},
		{
			"accept by a syndication customer is refused",
			map[string]string{
				"domain":    "wingtip.onmicrosoft.com",
				"partnerId": home,
				"upn":       "admin@wingtip.onmicrosoft.com",
			},
			403, sim.ReasonSyndication,
		},
		{
			"accept by the Global admin succeeds",
			map[string]string{
				"domain":    "contoso.onmicrosoft.com",
				"partnerId": home,
				"upn":       "admin@contoso.onmicrosoft.com",
			},
			200, "",
		},
		{
			"a second acceptance is refused as already accepted",
			map[string]string{
				"domain":    "contoso.onmicrosoft.com",
				"partnerId": home,
				"upn":       "admin@contoso.onmicrosoft.com",
			},
			409, sim.ReasonAlreadyAccepted,
		},
		{
			"an existing advisor customer can accept",
			map[string]string{
				"domain":    "northwind.onmicrosoft.com",
				"partnerId": home,
				"upn":       "admin@northwind.onmicrosoft.com",
			},
			200, "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.post("/sim/customer-actions/accept-reseller", tt.body)
			if status != tt.status || (tt.reason != "" && body["error"] != tt.reason) {
				t.Errorf("status %d body %v, want %d %s", status, body, tt.status, tt.reason)
			}
		})
	}

	got, err := e.c.GetCustomer(ctx, contosoID)
	if err != nil || got.RelationshipToPartner != partnercenter.RelationshipReseller {
		t.Fatalf("customer = %+v, err %v", got, err)
	}
	found, err := e.c.FindCustomersByDomain(ctx, "contoso")
	if err != nil || len(found) != 1 || found[0].ID != contosoID {
		t.Fatalf("found = %+v, err %v", found, err)
	}
	removed, err := e.c.RemoveResellerRelationship(rid("remove"), contosoID)
	if err != nil || removed.RelationshipToPartner != partnercenter.RelationshipNone {
		t.Fatalf("removed = %+v, err %v", removed, err)
	}

	t.Run("a two-tier invitation names the reseller and the provider", func(t *testing.T) {
		req, err := e.c.RelationshipRequestURL(ctx, partnercenter.RelationshipRequestOptions{
			IndirectResellerID: adatumID,
		})
		if err != nil {
			t.Fatal(err)
		}
		q, _ := url.Parse(req.URL)
		if q.Query().Get("partnerId") != adatumID || q.Query().Get("indirectCSPId") != home ||
			q.Query().Get("invType") != "IndirectResellerRelationship" {
			t.Errorf("URL = %s", req.URL)
		}
	})
}

func TestSimCreateCustomer(t *testing.T) {
	e := newSimEnv(t, "")

	t.Run("a new customer comes with one-time admin credentials and a reseller relationship", func(t *testing.T) {
		got, err := e.c.CreateCustomer(rid("create"), newCustomer("newco"))
		if err != nil {
			t.Fatal(err)
		}
		if got.UserCredentials == nil || got.UserCredentials.Password == "" ||
			got.CompanyProfile.Domain != "newco.onmicrosoft.com" || got.RelationshipToPartner != "reseller" {
			t.Errorf("customer = %+v", got)
		}
		again, err := e.c.GetCustomer(context.Background(), got.ID)
		if err != nil || again.UserCredentials != nil {
			t.Errorf("read back = %+v, err %v; credentials must not be readable again", again, err)
		}
	})

	t.Run("a dropped response retried with the same MS-RequestId creates exactly one tenant", func(t *testing.T) {
		ctx := rid("create-dropped")
		e.sim.SetFaults(sim.Faults{DropAfterWriteRate: 1})
		_, err := e.c.CreateCustomer(ctx, newCustomer("dropped"))
		if !partnercenter.IsRetryable(err) {
			t.Fatalf("err = %v, want a retryable transport failure", err)
		}
		e.sim.SetFaults(sim.Faults{})
		got, err := e.c.CreateCustomer(ctx, newCustomer("dropped"))
		if err != nil || got.UserCredentials == nil {
			t.Fatalf("retry = %+v, err %v", got, err)
		}
		found, err := e.c.FindCustomersByDomain(context.Background(), "dropped")
		if err != nil || len(found) != 1 || found[0].ID != got.ID {
			t.Errorf("tenants for dropped = %+v, err %v", found, err)
		}
	})

	t.Run("a different request ID for a taken domain is refused", func(t *testing.T) {
		_, err := e.c.CreateCustomer(rid("create-again"), newCustomer("dropped"))
		wantCode(t, err, 409, 0)
	})

	t.Run("a customer for a partnered indirect reseller is associated with it", func(t *testing.T) {
		in := newCustomer("resold")
		in.AssociatedPartnerID = adatumID
		got, err := e.c.CreateCustomer(rid("create-resold"), in)
		if err != nil || got.AssociatedPartnerID != adatumID {
			t.Errorf("customer = %+v, err %v", got, err)
		}
	})

	t.Run("a customer in a country needing a registration number is refused without one", func(t *testing.T) {
		in := newCustomer("ukraine")
		in.BillingProfile.DefaultAddress.Country = "UA"
		_, err := e.c.CreateCustomer(rid("create-ua"), in)
		wantCode(t, err, 400, 0)
	})
}

func TestSimFaults(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()

	t.Run("an injected 429 carries Retry-After into Error.RetryAfter", func(t *testing.T) {
		e.sim.SetFaults(sim.Faults{Rate429: 1, RetryAfterSeconds: 7})
		_, err := e.c.GetMPNProfile(ctx, "1234567")
		if !partnercenter.IsStatus(err, 429) || partnercenter.RetryAfter(err) != 7*time.Second ||
			!partnercenter.IsRetryable(err) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("an injected 500 is retryable", func(t *testing.T) {
		e.sim.SetFaults(sim.Faults{Rate500: 1})
		_, err := e.c.GetMPNProfile(ctx, "1234567")
		if !partnercenter.IsStatus(err, 500) || !partnercenter.IsRetryable(err) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("faults set over HTTP never touch /sim paths and can be cleared", func(t *testing.T) {
		status, _ := e.post("/sim/faults", map[string]any{"rate500": 1, "latencyMs": 1})
		if status != 200 {
			t.Fatalf("set faults: %d", status)
		}
		if status, _ := e.post("/sim/clock", map[string]string{"advance": "1s"}); status != 200 {
			t.Errorf("/sim/clock under faults: %d", status)
		}
		req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/sim/faults", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("clear faults: %v %v", resp, err)
		}
		if _, err := e.c.GetMPNProfile(ctx, "1234567"); err != nil {
			t.Errorf("after clearing: %v", err)
		}
	})
	t.Run("a call without a bearer token is 401 in the Partner Center envelope", func(t *testing.T) {
		resp, err := http.Get(e.srv.URL + "/v1/profiles/mpn")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body partnercenter.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != 401 || body.Description == "" {
			t.Errorf("status %d body %+v", resp.StatusCode, body)
		}
	})
}

func TestSimGDAP(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	create := func(name, autoExtend string, roles ...string) (partnercenter.GDAPRelationship, error) {
		in := partnercenter.NewGDAPRelationship{
			DisplayName:        name,
			Duration:           "P730D",
			Customer:           &partnercenter.GDAPCustomer{TenantID: fabrikamID},
			AutoExtendDuration: autoExtend,
		}
		for _, r := range roles {
			in.AccessDetails.UnifiedRoles = append(
				in.AccessDetails.UnifiedRoles,
				partnercenter.UnifiedRole{RoleDefinitionID: r},
			)
		}
		return e.c.CreateGDAPRelationship(rid("gdap"), in)
	}

	rel, err := create("Fabrikam helpdesk", "P180D", helpdesk, userAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Status != partnercenter.GDAPStatusCreated || rel.ETag == "" ||
		rel.ApprovalURL != e.srv.URL+partnercenter.SimulatorApprovalPath+rel.ID {
		t.Fatalf("created = %+v", rel)
	}
	status := func() string {
		t.Helper()
		got, err := e.c.GetGDAPRelationship(ctx, rel.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}

	t.Run("approval before lockForApproval is refused", func(t *testing.T) {
		if st, body := e.post("/sim/customer-actions/approve-gdap", map[string]string{
			"relationshipId": rel.ID,
			"upn":            "admin@fabrikam.onmicrosoft.com",
		}); st != 409 {
			t.Errorf("status %d %v", st, body)
		}
	})
	if _, err := e.c.LockGDAPForApproval(rid("lock"), rel.ID); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != partnercenter.GDAPStatusApprovalPending {
		t.Fatalf("status = %s", got)
	}
	t.Run("approval by a user who is not Global admin is refused", func(t *testing.T) {
		if st, body := e.post("/sim/customer-actions/approve-gdap", map[string]string{
			"relationshipId": rel.ID,
			"upn":            "helpdesk@fabrikam.onmicrosoft.com",
		}); st != 403 || body["error"] != sim.ReasonNotGlobalAdmin {
			t.Errorf("status %d %v", st, body)
		}
	})
	t.Run("approval by another customer's Global admin is refused", func(t *testing.T) {
		if st, body := e.post("/sim/customer-actions/approve-gdap", map[string]string{
			"relationshipId": rel.ID,
			"upn":            "admin@contoso.onmicrosoft.com",
		}); st != 403 {
			t.Errorf("status %d %v", st, body)
		}
	})
	if st, body := e.post("/sim/customer-actions/approve-gdap", map[string]string{
		"relationshipId": rel.ID,
		"upn":            "admin@fabrikam.onmicrosoft.com",
	}); st != 200 {
		t.Fatalf("approve: %d %v", st, body)
	}
	t.Run("an approved relationship cannot be approved again", func(t *testing.T) {
		if st, body := e.post("/sim/customer-actions/approve-gdap", map[string]string{
			"relationshipId": rel.ID,
			"upn":            "admin@fabrikam.onmicrosoft.com",
		}); st != 409 || body["error"] != sim.ReasonAlreadyAccepted {
			t.Errorf("status %d %v", st, body)
		}
	})
	t.Run("status goes approved, activating, active over the activation delay", func(t *testing.T) {
		if got := status(); got != partnercenter.GDAPStatusApproved {
			t.Errorf("at approval: %s", got)
		}
		e.advance(40 * time.Second)
		if got := status(); got != partnercenter.GDAPStatusActivating {
			t.Errorf("after 40s: %s", got)
		}
		e.advance(time.Minute)
		got, err := e.c.GetGDAPRelationship(ctx, rel.ID)
		if err != nil || got.Status != partnercenter.GDAPStatusActive || got.ActivatedDateTime.IsZero() ||
			!got.EndDateTime.Equal(got.ActivatedDateTime.Add(730*24*time.Hour)) {
			t.Errorf("after delay: %+v, err %v", got, err)
		}
	})
	t.Run("access assignments go pending then active", func(t *testing.T) {
		a, err := e.c.CreateAccessAssignment(rid("assign"), rel.ID, partnercenter.NewAccessAssignment{
			AccessContainer: partnercenter.AccessContainer{
				AccessContainerID:   groupA,
				AccessContainerType: "securityGroup",
			},
			AccessDetails: partnercenter.AccessDetails{
				UnifiedRoles: []partnercenter.UnifiedRole{{RoleDefinitionID: helpdesk}},
			},
		})
		if err != nil || a.Status != partnercenter.AssignmentStatusPending {
			t.Fatalf("assignment = %+v, err %v", a, err)
		}
		e.advance(2 * time.Minute)
		got, err := e.c.GetAccessAssignment(ctx, rel.ID, a.ID)
		if err != nil || got.Status != partnercenter.AssignmentStatusActive {
			t.Errorf("assignment = %+v, err %v", got, err)
		}
		list, err := e.c.ListAccessAssignments(ctx, rel.ID)
		if err != nil || len(list) != 1 {
			t.Errorf("list = %+v, err %v", list, err)
		}
	})
	t.Run("a second assignment for the same security group is refused", func(t *testing.T) {
		_, err := e.c.CreateAccessAssignment(rid("assign2"), rel.ID, partnercenter.NewAccessAssignment{
			AccessContainer: partnercenter.AccessContainer{
				AccessContainerID:   groupA,
				AccessContainerType: "securityGroup",
			},
			AccessDetails: partnercenter.AccessDetails{
				UnifiedRoles: []partnercenter.UnifiedRole{{RoleDefinitionID: userAdmin}},
			},
		})
		wantCode(t, err, 409, 0)
	})
	t.Run("an assignment of a role outside the relationship is refused", func(t *testing.T) {
		_, err := e.c.CreateAccessAssignment(rid("assign3"), rel.ID, partnercenter.NewAccessAssignment{
			AccessContainer: partnercenter.AccessContainer{
				AccessContainerID:   "9a4a1d2b-1111-4c3d-8e5f-000000000002",
				AccessContainerType: "securityGroup",
			},
			AccessDetails: partnercenter.AccessDetails{
				UnifiedRoles: []partnercenter.UnifiedRole{{RoleDefinitionID: partnercenter.GlobalAdministratorRoleID}},
			},
		})
		wantCode(t, err, 400, 0)
	})
	t.Run("changing auto-extend needs the current ETag", func(t *testing.T) {
		_, err := e.c.UpdateGDAPAutoExtend(rid("patch-stale"), rel.ID, rel.ETag, "PT0S")
		wantCode(t, err, 412, 0)
		cur, err := e.c.GetGDAPRelationship(ctx, rel.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.c.UpdateGDAPAutoExtend(rid("patch"), rel.ID, cur.ETag, "PT0S")
		if err != nil || got.AutoExtendDuration != "PT0S" || got.ETag == cur.ETag {
			t.Errorf("patched = %+v, err %v", got, err)
		}
	})
	t.Run("terminate goes terminationRequested, terminating, terminated", func(t *testing.T) {
		if _, err := e.c.TerminateGDAPRelationship(rid("terminate"), rel.ID); err != nil {
			t.Fatal(err)
		}
		if got := status(); got != partnercenter.GDAPStatusTerminationRequested {
			t.Errorf("at once: %s", got)
		}
		e.advance(40 * time.Second)
		if got := status(); got != partnercenter.GDAPStatusTerminating {
			t.Errorf("after 40s: %s", got)
		}
		e.advance(time.Minute)
		if got := status(); got != partnercenter.GDAPStatusTerminated {
			t.Errorf("after delay: %s", got)
		}
	})

	rules := []struct {
		name string
		run  func() error
		want int
	}{
		{"auto-extend with Global Administrator is refused", func() error {
			_, err := create("GA extend", "P180D", partnercenter.GlobalAdministratorRoleID)
			return err
		}, 400},
		{"a duration over two years is refused", func() error {
			_, err := e.c.CreateGDAPRelationship(rid("long"), partnercenter.NewGDAPRelationship{
				DisplayName: "too long",
				Duration:    "P3Y",
				AccessDetails: partnercenter.AccessDetails{
					UnifiedRoles: []partnercenter.UnifiedRole{{RoleDefinitionID: helpdesk}},
				},
			})
			return err
		}, 400},
		{"a display name used before is refused", func() error {
			_, err := create("Fabrikam helpdesk", "", helpdesk)
			return err
		}, 409},
		{"a display name over 50 characters is refused", func() error {
			_, err := create(strings.Repeat("x", 51), "", helpdesk)
			return err
		}, 400},
		{"terminating a relationship that is not active is refused", func() error {
			r, err := create("not active", "", helpdesk)
			if err != nil {
				return err
			}
			_, err = e.c.TerminateGDAPRelationship(rid("t"), r.ID)
			return err
		}, 400},
		{"deleting without If-Match is refused", func() error {
			r, err := create("delete me", "", helpdesk)
			if err != nil {
				return err
			}
			return e.c.DeleteGDAPRelationship(rid("d"), r.ID, "")
		}, 400},
		{"deleting after lockForApproval is refused", func() error {
			r, err := create("locked", "", helpdesk)
			if err != nil {
				return err
			}
			if _, err := e.c.LockGDAPForApproval(rid("l"), r.ID); err != nil {
				return err
			}
			cur, _ := e.c.GetGDAPRelationship(ctx, r.ID)
			return e.c.DeleteGDAPRelationship(rid("d"), r.ID, cur.ETag)
		}, 400},
	}
	for _, tt := range rules {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.run(), tt.want, 0) })
	}

	t.Run("a created relationship deleted with its ETag is gone", func(t *testing.T) {
		r, err := create("short lived", "", helpdesk)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.c.DeleteGDAPRelationship(rid("del"), r.ID, r.ETag); err != nil {
			t.Fatal(err)
		}
		_, err = e.c.GetGDAPRelationship(ctx, r.ID)
		wantCode(t, err, 404, 0)
	})
	t.Run("a request not approved within 90 days expires and cannot be approved", func(t *testing.T) {
		r, err := create("will expire", "", helpdesk)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.LockGDAPForApproval(rid("lock"), r.ID); err != nil {
			t.Fatal(err)
		}
		if st, _ := e.post("/sim/clock", map[string]string{"advance": "2160h"}); st != 200 {
			t.Fatalf("advance clock: %d", st)
		}
		got, _ := e.c.GetGDAPRelationship(ctx, r.ID)
		if got.Status != partnercenter.GDAPStatusExpired {
			t.Errorf("status = %s", got.Status)
		}
		if st, body := e.post("/sim/customer-actions/approve-gdap", map[string]string{
			"relationshipId": r.ID,
			"upn":            "admin@fabrikam.onmicrosoft.com",
		}); st != 409 || body["error"] != sim.ReasonExpired {
			t.Errorf("approve expired: %d %v", st, body)
		}
	})
}

func TestSimIndirectResellers(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	if st, body := e.post("/sim/partners", map[string]any{
		"domain":          "fourthcoffee.onmicrosoft.com",
		"companyName":     "Fourth Coffee",
		"mpnId":           "4567890",
		"country":         "DE",
		"agreementSigned": true,
	}); st != 201 {
		t.Fatalf("add partner: %d %v", st, body)
	}
	if st, body := e.post("/sim/partners", map[string]any{
		"domain":           "direct.onmicrosoft.com",
		"companyName":      "Direct Only",
		"mpnId":            "5678901",
		"country":          "US",
		"agreementSigned":  true,
		"indirectReseller": false,
	}); st != 201 {
		t.Fatalf("add partner: %d %v", st, body)
	}

	t.Run("a known PartnerID has a profile", func(t *testing.T) {
		p, err := e.c.GetMPNProfile(ctx, "1234567")
		if err != nil || p.PartnerName != "Adatum Reseller" {
			t.Errorf("profile = %+v, err %v", p, err)
		}
	})
	checks := []struct {
		name   string
		call   func() error
		status int
		code   int
	}{
		{
			"an unknown PartnerID is 404 code 3000",
			func() error { _, err := e.c.GetMPNProfile(ctx, "9999999"); return err },
			404, partnercenter.CodeMPNNotFound,
		},
		{
			"a reseller without a signed agreement is 2203",
			func() error { _, err := e.c.GetAgreementStatus(ctx, "2345678"); return err },
			400, partnercenter.CodeAgreementNotSignedForRegion,
		},
		{
			"a reseller in another region is 2201",
			func() error { _, err := e.c.GetAgreementStatus(ctx, "4567890"); return err },
			400, partnercenter.CodeRegionMismatch,
		},
		{
			"a partner that is not an indirect reseller is 2204",
			func() error { _, err := e.c.GetAgreementStatus(ctx, "5678901"); return err },
			400, partnercenter.CodeNotAnIndirectReseller,
		},
		{
			"an unknown MPN ID in the agreement check is 2200",
			func() error { _, err := e.c.GetAgreementStatus(ctx, "9999999"); return err },
			400, partnercenter.CodeMPNInvalid,
		},
		{
			"a non-numeric MPN ID is 2000",
			func() error { _, err := e.c.GetAgreementStatus(ctx, "abc"); return err },
			400, partnercenter.CodeInvalidInput,
		},
	}
	for _, tt := range checks {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(), tt.status, tt.code) })
	}
	t.Run("a signed reseller's agreement is signed", func(t *testing.T) {
		st, err := e.c.GetAgreementStatus(ctx, "1234567")
		if err != nil || !st.IsAgreementSigned {
			t.Errorf("status = %+v, err %v", st, err)
		}
	})
	t.Run("a reseller appears in the provider's list once its admin authorizes the provider", func(t *testing.T) {
		names := func() []string {
			list, err := e.c.ListIndirectResellers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range list {
				out = append(out, r.MPNID)
			}
			return out
		}
		if got := strings.Join(names(), ","); got != "1234567,2345678" {
			t.Errorf("before: %s", got)
		}
		home := sim.DefaultHomePartner.TenantID
		if st, body := e.post("/sim/customer-actions/authorize-provider", map[string]string{
			"resellerDomain": "proseware.onmicrosoft.com",
			"providerId":     home,
			"upn":            "agent@proseware.onmicrosoft.com",
		}); st != 403 || body["error"] != sim.ReasonNotGlobalAdmin {
			t.Errorf("non-admin authorize: %d %v", st, body)
		}
		if st, body := e.post("/sim/customer-actions/authorize-provider", map[string]string{
			"resellerDomain": "proseware.onmicrosoft.com",
			"providerId":     home,
			"upn":            "admin@proseware.onmicrosoft.com",
		}); st != 200 {
			t.Errorf("authorize: %d %v", st, body)
		}
		if got := strings.Join(names(), ","); got != "1234567,2345678,3456789" {
			t.Errorf("after: %s", got)
		}
	})
}

func TestSimCommerce(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	in := newCustomer("shopper")
	in.AssociatedPartnerID = adatumID
	cust, err := e.c.CreateCustomer(rid("create"), in)
	if err != nil {
		t.Fatal(err)
	}
	line := func(item string, qty int, reseller string) partnercenter.CartLineItem {
		li := partnercenter.CartLineItem{
			CatalogItemID: item,
			Quantity:      qty,
			BillingCycle:  "monthly",
			TermDuration:  "P1M",
		}
		if reseller != "" {
			li.Participants = []partnercenter.Participant{{
				Key:   partnercenter.ParticipantTransactionReseller,
				Value: reseller,
			}}
		}
		return li
	}
	const e3 = "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS"

	// HTTP statuses as Microsoft's error code table gives them.
	resellerChecks := []struct {
		name   string
		mpn    string
		status int
		code   int
	}{
		{
			"a cart naming an unknown reseller PartnerID is 404 800015",
			"9999999", 404, partnercenter.CodeResellerNotFound,
		},
		{
			"a cart naming a reseller not partnered with the provider is 400 800016",
			"3456789", 400, partnercenter.CodeNotIndirectReseller,
		},
		{
			"a cart naming a reseller without the partner agreement is 403 900123",
			"2345678", 403, partnercenter.CodeResellerAgreementNotAccepted,
		},
	}
	for _, tt := range resellerChecks {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.c.CreateCart(rid("cart"), cust.ID, partnercenter.Cart{
				LineItems: []partnercenter.CartLineItem{line(e3, 5, tt.mpn)},
			})
			wantCode(t, err, tt.status, tt.code)
		})
	}
	t.Run("line item problems are reported on the line with codes 10001, 10002 and 10012", func(t *testing.T) {
		cart, err := e.c.CreateCart(rid("cart-errors"), cust.ID, partnercenter.Cart{
			LineItems: []partnercenter.CartLineItem{
				line("NOPE:0001:NOPE", 1, ""), line(e3, 1_000_000, ""), line("DG7GMGF0DWTL:0001:DG7GMGF0DSJB", 1, ""),
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []int{
			partnercenter.CodeInvalidCatalogItem,
			partnercenter.CodeQuantityOutOfRange,
			partnercenter.CodeAttestationNotAccepted,
		} {
			if li := cart.LineItems[i]; li.Error == nil || li.Error.ErrorCode != want {
				t.Errorf("line %d error = %+v, want %d", i, li.Error, want)
			}
		}
	})

	cart, err := e.c.CreateCart(rid("cart-ok"), cust.ID, partnercenter.Cart{
		LineItems: []partnercenter.CartLineItem{line(e3, 5, "1234567")},
	})
	if err != nil || cart.ID == "" || !cart.ExpirationTimestamp.Equal(cart.CreationTimestamp.Add(7*24*time.Hour)) {
		t.Fatalf("cart = %+v, err %v", cart, err)
	}
	cart.LineItems[0].Quantity = 10
	if cart, err = e.c.UpdateCart(rid("cart-update"), cust.ID, cart); err != nil || cart.LineItems[0].Quantity != 10 {
		t.Fatalf("update = %+v, err %v", cart, err)
	}

	t.Run("checkout without an attested MCA is 403 code 13605", func(t *testing.T) {
		_, err := e.c.CheckoutCart(rid("checkout-early"), cust.ID, cart.ID)
		wantCode(t, err, 403, partnercenter.CodeMCANotAccepted)
	})
	tmpl, err := e.c.GetMCATemplate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	attest := partnercenter.CustomerAgreement{
		PrimaryContact: partnercenter.Contact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@shopper.example"},
		TemplateID:     tmpl.TemplateID,
		DateAgreed:     partnercenter.NewTime(e.now().Add(-time.Hour)),
		Type:           partnercenter.AgreementTypeMCA,
	}
	if _, err := e.c.CreateCustomerAgreement(rid("mca"), cust.ID, attest); err != nil {
		t.Fatal(err)
	}
	t.Run("the same attestation again is 600061", func(t *testing.T) {
		_, err := e.c.CreateCustomerAgreement(rid("mca-again"), cust.ID, attest)
		wantCode(t, err, 409, partnercenter.CodeAgreementAlreadyExists)
	})
	t.Run("an attestation dated in the future is refused", func(t *testing.T) {
		a := attest
		a.PrimaryContact.Email = "other@shopper.example"
		a.DateAgreed = partnercenter.NewTime(e.now().Add(time.Hour))
		_, err := e.c.CreateCustomerAgreement(rid("mca-future"), cust.ID, a)
		wantCode(t, err, 400, 0)
	})
	if list, err := e.c.ListCustomerAgreements(ctx, cust.ID); err != nil || len(list) != 1 {
		t.Fatalf("agreements = %+v, err %v", list, err)
	}

	res, err := e.c.CheckoutCart(rid("checkout"), cust.ID, cart.ID)
	if err != nil || len(res.Orders) != 1 || res.Orders[0].LineItems[0].PartnerIDOnRecord != "1234567" {
		t.Fatalf("checkout = %+v, err %v", res, err)
	}
	order := res.Orders[0]
	t.Run("a repeated checkout of the same cart returns the first result", func(t *testing.T) {
		again, err := e.c.CheckoutCart(rid("checkout-again"), cust.ID, cart.ID)
		if err != nil || len(again.Orders) != 1 || again.Orders[0].ID != order.ID {
			t.Errorf("again = %+v, err %v", again, err)
		}
	})
	t.Run("an order is pending, then provisioned with its subscriptions", func(t *testing.T) {
		o, err := e.c.GetOrder(ctx, cust.ID, order.ID)
		if err != nil || o.Status != partnercenter.OrderStatusPending {
			t.Errorf("order = %+v, err %v", o, err)
		}
		if subs, _ := e.c.ListSubscriptions(ctx, cust.ID); len(subs) != 0 {
			t.Errorf("subscriptions before provisioning = %d", len(subs))
		}
		e.advance(2 * time.Minute)
		ps, err := e.c.GetOrderProvisioningStatus(ctx, cust.ID, order.ID)
		if err != nil || ps.TotalCount != 1 || ps.Items[0].Status != "fulfilled" {
			t.Errorf("provisioning = %+v, err %v", ps, err)
		}
		subs, err := e.c.ListSubscriptions(ctx, cust.ID)
		if err != nil || len(subs) != 1 || subs[0].Quantity != 10 || subs[0].PartnerID != "1234567" {
			t.Fatalf("subscriptions = %+v, err %v", subs, err)
		}
		sc, err := e.c.UpdateSupportContact(rid("support"), cust.ID, subs[0].ID, partnercenter.SupportContact{
			SupportTenantID: adatumID,
			SupportMPNID:    "1234567",
		})
		if err != nil || sc.Name != "Adatum Reseller" {
			t.Errorf("support contact = %+v, err %v", sc, err)
		}
		_, err = e.c.UpdateSupportContact(rid("support-bad"), cust.ID, subs[0].ID, partnercenter.SupportContact{
			SupportTenantID: adatumID,
			SupportMPNID:    "2345678",
		})
		wantCode(t, err, 400, partnercenter.CodeNotIndirectReseller)
		got, err := e.c.GetSubscription(ctx, cust.ID, subs[0].ID)
		if err != nil || got.ID != subs[0].ID {
			t.Errorf("subscription = %+v, err %v", got, err)
		}
	})
	t.Run("removing the relationship is refused while subscriptions are active", func(t *testing.T) {
		_, err := e.c.RemoveResellerRelationship(rid("remove"), cust.ID)
		wantCode(t, err, 400, 0)
	})
	t.Run("a cart older than 7 days cannot be checked out", func(t *testing.T) {
		old, err := e.c.CreateCart(rid("cart-old"), cust.ID, partnercenter.Cart{
			LineItems: []partnercenter.CartLineItem{line(e3, 1, "")},
		})
		if err != nil {
			t.Fatal(err)
		}
		e.advance(7*24*time.Hour + time.Second)
		_, err = e.c.CheckoutCart(rid("checkout-old"), cust.ID, old.ID)
		wantCode(t, err, 400, 0)
	})
}

func TestSimWebhooks(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	u, _ := url.Parse(e.srv.URL)
	verifier := partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
		AllowedCertificateHosts: []string{u.Host},
		AllowHTTP:               true,
	})
	events := make(chan partnercenter.WebhookEvent, 10)
	failures := 1
	var mu sync.Mutex
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		fail := failures > 0
		failures--
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		ev, err := verifier.Verify(r.Context(), r.Header, body)
		if err != nil {
			t.Errorf("verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		events <- ev
	}))
	defer receiver.Close()

	reg, err := e.c.RegisterWebhook(rid("webhook"), partnercenter.WebhookRegistration{
		WebhookURL: receiver.URL,
		WebhookEvents: []string{
			partnercenter.EventResellerRelationshipAccepted,
			partnercenter.EventGDAPApproved,
			partnercenter.EventGDAPActivated,
		},
	})
	if err != nil || reg.SubscriberID == "" {
		t.Fatalf("register = %+v, err %v", reg, err)
	}
	if got, err := e.c.GetWebhookRegistration(ctx); err != nil || got.WebhookURL != receiver.URL {
		t.Fatalf("get registration = %+v, err %v", got, err)
	}
	wait := func(name string) partnercenter.WebhookEvent {
		t.Helper()
		select {
		case ev := <-events:
			if ev.EventName != name {
				t.Fatalf("event %s, want %s", ev.EventName, name)
			}
			return ev
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s event", name)
		}
		return partnercenter.WebhookEvent{}
	}

	t.Run("acceptance is delivered signed, after a failed first attempt", func(t *testing.T) {
		e.post("/sim/customer-actions/accept-reseller", map[string]string{
			"domain":    "contoso.onmicrosoft.com",
			"partnerId": sim.DefaultHomePartner.TenantID,
			"upn":       "admin@contoso.onmicrosoft.com",
		})
		ev := wait(partnercenter.EventResellerRelationshipAccepted)
		if !strings.HasSuffix(ev.ResourceURI, "/v1/customers/"+contosoID) {
			t.Errorf("resource = %s", ev.ResourceURI)
		}
		var d []sim.Delivery
		for deadline := time.Now().Add(
			2 * time.Second,
		); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if d = e.sim.Deliveries(); len(d) == 1 && d[0].Delivered {
				break
			}
		}
		if len(d) != 1 || d[0].Attempts != 2 || !d[0].Delivered {
			t.Errorf("deliveries = %+v", d)
		}
	})
	t.Run("GDAP approval and activation are delivered", func(t *testing.T) {
		rel, err := e.c.CreateGDAPRelationship(rid("gdap"), partnercenter.NewGDAPRelationship{
			DisplayName: "hooks",
			Duration:    "P90D",
			AccessDetails: partnercenter.AccessDetails{
				UnifiedRoles: []partnercenter.UnifiedRole{{RoleDefinitionID: helpdesk}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.LockGDAPForApproval(rid("lock"), rel.ID); err != nil {
			t.Fatal(err)
		}
		e.post("/sim/customer-actions/approve-gdap", map[string]string{
			"relationshipId": rel.ID,
			"upn":            "admin@fabrikam.onmicrosoft.com",
		})
		wait(partnercenter.EventGDAPApproved)
		e.advance(2 * time.Minute)
		ev := wait(partnercenter.EventGDAPActivated)
		if !strings.HasSuffix(ev.ResourceURI, rel.ID) {
			t.Errorf("resource = %s", ev.ResourceURI)
		}
	})
	t.Run("a tampered body or a foreign certificate host fails verification", func(t *testing.T) {
		body := []byte(`{"EventName":"test-created"}`)
		h := http.Header{}
		h.Set("Authorization", "Signature AAAA")
		h.Set(partnercenter.HeaderCertificateURL, e.srv.URL+sim.CertificatePath)
		if _, err := verifier.Verify(ctx, h, body); err == nil {
			t.Error("tampered body verified")
		}
		h.Set(partnercenter.HeaderCertificateURL, "http://evil.example"+sim.CertificatePath)
		if _, err := verifier.Verify(ctx, h, body); err == nil {
			t.Error("foreign certificate host accepted")
		}
	})
	if err := e.c.DeleteWebhookRegistration(rid("unregister")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.GetWebhookRegistration(ctx); !partnercenter.IsStatus(err, 404) {
		t.Errorf("after delete: %v", err)
	}
}

func TestSimPersistence(t *testing.T) {
	dataFile := filepath.Join(t.TempDir(), "sim.json")
	first := newSimEnv(t, dataFile)
	created, err := first.c.CreateCustomer(rid("create"), newCustomer("durable"))
	if err != nil {
		t.Fatal(err)
	}
	certBefore := fetch(t, first.srv.URL+sim.CertificatePath)
	first.srv.Close()
	first.sim.Close()

	second := newSimEnv(t, dataFile)
	got, err := second.c.GetCustomer(context.Background(), created.ID)
	if err != nil || got.CompanyProfile.Domain != "durable.onmicrosoft.com" {
		t.Errorf("after restart: %+v, err %v", got, err)
	}
	if !bytes.Equal(certBefore, fetch(t, second.srv.URL+sim.CertificatePath)) {
		t.Error("the webhook signing certificate changed across restarts")
	}
	if st, body := second.post("/sim/tenants", map[string]any{
		"domain":      "contoso.onmicrosoft.com",
		"country":     "US",
		"companyName": "dup",
	}); st != 409 {
		t.Errorf("seeded tenants lost: %d %v", st, body)
	}
}

func fetch(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

func TestSimPages(t *testing.T) {
	e := newSimEnv(t, "")
	req, err := e.c.RelationshipRequestURL(context.Background(), partnercenter.RelationshipRequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	page := string(fetch(t, req.URL))
	for _, want := range []string{`id="upn"`, `id="accept"`, sim.DefaultHomePartner.CompanyName} {
		if !strings.Contains(page, want) {
			t.Errorf("invitation page lacks %s", want)
		}
	}
	submit := func(u, upn string) (int, string) {
		resp, err := http.PostForm(u, url.Values{"upn": {upn}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name   string
		upn    string
		status int
		class  string
	}{
		{
			"the page refuses a user who is not Global admin and changes nothing",
			"user@contoso.onmicrosoft.com", 403, `class="refused" data-reason="not-global-admin"`,
		},
		{
			"the page refuses a customer in another region",
			"admin@tailspin.onmicrosoft.com", 403, `data-reason="region-mismatch"`,
		},
		{"the page accepts for the Global admin", "admin@contoso.onmicrosoft.com", 200, `class="ok"`},
		{
			"the page refuses an invitation already accepted",
			"admin@contoso.onmicrosoft.com", 409, `data-reason="already-accepted"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := submit(req.URL, tt.upn)
			if status != tt.status || !strings.Contains(body, tt.class) {
				t.Errorf("status %d, body lacks %s", status, tt.class)
			}
		})
	}

	rel, err := e.c.CreateGDAPRelationship(rid("gdap"), partnercenter.NewGDAPRelationship{
		DisplayName: "page",
		Duration:    "P30D",
		AccessDetails: partnercenter.AccessDetails{
			UnifiedRoles: []partnercenter.UnifiedRole{{RoleDefinitionID: helpdesk}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.LockGDAPForApproval(rid("lock"), rel.ID); err != nil {
		t.Fatal(err)
	}
	approval := string(fetch(t, rel.ApprovalURL))
	for _, want := range []string{`id="upn"`, `id="approve"`, helpdesk, "P30D"} {
		if !strings.Contains(approval, want) {
			t.Errorf("approval page lacks %s", want)
		}
	}
	if status, body := submit(rel.ApprovalURL, "helpdesk@fabrikam.onmicrosoft.com"); status != 403 ||
		!strings.Contains(body, "not-global-admin") {
		t.Errorf("non-admin approval: %d", status)
	}
	if status, body := submit(rel.ApprovalURL, "admin@fabrikam.onmicrosoft.com"); status != 200 ||
		!strings.Contains(body, `class="ok"`) {
		t.Errorf("admin approval: %d", status)
	}
	if got, _ := e.c.GetGDAPRelationship(context.Background(), rel.ID); got.Status != partnercenter.GDAPStatusApproved {
		t.Errorf("status after page approval = %s", got.Status)
	}
}
