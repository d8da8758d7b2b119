package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

const (
	partnerID         = "7f1c3a52-0d4e-4a8e-9b61-2c5d8e4f9a10"
	groupHelpdesk     = "0b9e6d3c-5a1f-4c2e-8d7b-6e3f2a1c9d84"
	groupSecurity     = "a4c2e8f1-3b5d-4f6a-9c7e-1d2b3a4c5e6f"
	roleUserAdmin     = "fe930be7-5e62-47db-91af-98c3a49a38b1"
	roleHelpdeskAdmin = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
	roleGlobalReader  = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
)

var signingKey = bytes.Repeat([]byte{1}, 32)

// clock is a settable time source for FlowConfig.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// flowFixture is an API server over a fresh database and a fake Temporal, with a key per role.
type flowFixture struct {
	store    *models.Store
	server   *api.Server
	temporal *fakeTemporal
	clock    *clock
	baseURL  string
	anon     *testapi.Client
	admin    *testapi.Client
	sales    *testapi.Client
	keys     map[models.Role]string
	logs     *lockedBuffer
}

// lockedBuffer collects the server's log lines; handlers write to it concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newFlowFixture(t *testing.T, configure ...func(*api.FlowConfig)) *flowFixture {
	t.Helper()
	store := testdb.SQLite(t)
	var handler http.Handler
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	f := &flowFixture{
		store:    store,
		temporal: newFakeTemporal(),
		baseURL:  hs.URL,
		keys:     map[models.Role]string{},
		logs:     &lockedBuffer{},
		clock:    &clock{t: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)},
	}
	flows := api.FlowConfig{
		PartnerID: partnerID, PartnerName: "Fabrikam Cloud Services", BaseURL: hs.URL,
		ContactEmail: "escalations@fabrikam.example", Now: f.clock.Now,
	}
	for _, fn := range configure {
		fn(&flows)
	}
	f.server = api.New(api.Config{
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
		Store:  store, Temporal: f.temporal, Registry: prometheus.NewRegistry(),
		SigningKey: signingKey, MaxBodyBytes: 64 << 10, Flows: flows,
	})
	handler = f.server.Handler()
	f.anon = apiClient(t, hs.URL, nil)
	for _, r := range models.AllRoles {
		key, _, err := store.CreateAPIKey(context.Background(), string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[r] = key
	}
	f.admin, f.sales = f.anon.As(f.keys[models.RoleAdminAgent]), f.anon.As(f.keys[models.RoleSalesAgent])
	return f
}

// invitations returns every stored invitation of the test partner.
func (f *flowFixture) invitations(t *testing.T) []models.Invitation {
	t.Helper()
	items, _, err := models.List[models.Invitation](context.Background(), f.store, models.ListFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

type created struct {
	ID             string    `json:"id"`
	Status         string    `json:"status"`
	AcceptURL      string    `json:"acceptUrl"`
	WorkflowID     string    `json:"workflowId"`
	CustomerDomain string    `json:"customerDomain"`
	ExpiresAt      time.Time `json:"expiresAt"`
}

// invite creates an invitation for domain and fails the test unless it is created.
func (f *flowFixture) invite(t *testing.T, domain string) created {
	t.Helper()
	body := validInvitation()
	body["customerDomain"] = domain
	resp := f.admin.Do("POST", "/v1/invitations", body)
	if resp.Status != http.StatusCreated {
		t.Fatalf("invite %s: %d %s", domain, resp.Status, resp.Body)
	}
	var c created
	resp.JSON(t, &c)
	return c
}

func validInvitation() map[string]any {
	return map[string]any{
		"customerDomain": "contoso.onmicrosoft.com",
		"customerEmail":  "admin@contoso.onmicrosoft.com",
		"roles":          []string{"User Administrator", roleHelpdeskAdmin},
		"durationDays":   730,
		"autoExtend":     true,
		"assignments": []map[string]any{
			{"securityGroupId": groupHelpdesk, "roles": []string{"Helpdesk Administrator"}},
		},
	}
}

// with returns a copy of the valid invitation with fields set; a nil value removes the field.
func with(fields map[string]any) map[string]any {
	body := validInvitation()
	maps.Copy(body, fields)
	for k, v := range fields {
		if v == nil {
			delete(body, k)
		}
	}
	return body
}

func TestInvitationRequestsAreValidatedBeforeAnythingStarts(t *testing.T) {
	f := newFlowFixture(t)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"a customer domain that is not a domain name is refused",
			with(map[string]any{"customerDomain": "contoso"}), "customerDomain"},
		{"a customer domain with an empty label is refused",
			with(map[string]any{"customerDomain": "contoso..com"}), "customerDomain"},
		{"a customer domain with a space is refused",
			with(map[string]any{"customerDomain": "con toso.com"}), "customerDomain"},
		{"a missing customer domain is refused", with(map[string]any{"customerDomain": nil}), "customerDomain"},
		{"a customer e-mail without a domain is refused",
			with(map[string]any{"customerEmail": "admin@"}), "customerEmail"},
		{"a customer e-mail with a display name is refused",
			with(map[string]any{"customerEmail": "Admin <admin@contoso.com>"}), "customerEmail"},
		{"a missing customer e-mail is refused", with(map[string]any{"customerEmail": nil}), "customerEmail"},
		{"an invitation without roles is refused", with(map[string]any{"roles": []string{}}), "roles"},
		{"an unknown Entra role is refused",
			with(map[string]any{"roles": []string{"User Administrator", "Coffee Administrator"}}), "roles"},
		{"a duration of zero days is refused", with(map[string]any{"durationDays": 0}), "durationDays"},
		{"a duration over two years is refused", with(map[string]any{"durationDays": 731}), "durationDays"},
		{"a duration that is not a number is refused",
			with(map[string]any{"durationDays": "two years"}), "durationDays"},
		{"auto-extend with Global Administrator is refused, as Partner Center refuses it",
			with(map[string]any{
				"roles": []string{"Global Administrator"},
				"assignments": []map[string]any{
					{"securityGroupId": groupHelpdesk, "roles": []string{"Global Administrator"}},
				},
			}), "autoExtend"},
		{"a display name over 50 characters is refused",
			with(map[string]any{"displayName": strings.Repeat("x", 51)}), "displayName"},
		{"an indirect reseller ID that is not a tenant ID is refused",
			with(map[string]any{"indirectResellerId": "reseller-1"}), "indirectResellerId"},
		{"a malformed contact e-mail is refused", with(map[string]any{"contactEmail": "ops"}), "contactEmail"},
		{"an empty list of assignments is refused",
			with(map[string]any{"assignments": []map[string]any{}}), "assignments"},
		{"omitted assignments without configured defaults are refused",
			with(map[string]any{"assignments": nil}), "assignments"},
		{"an assignment to a group that is not a GUID is refused",
			with(map[string]any{"assignments": []map[string]any{
				{"securityGroupId": "Helpdesk", "roles": []string{"User Administrator"}},
			}}), "assignments[0].securityGroupId"},
		{"the same group assigned twice is refused",
			with(map[string]any{"assignments": []map[string]any{
				{"securityGroupId": groupHelpdesk, "roles": []string{"User Administrator"}},
				{"securityGroupId": strings.ToUpper(groupHelpdesk), "roles": []string{"Helpdesk Administrator"}},
			}}), "assignments[1].securityGroupId"},
		{"an assignment of a role that was not requested is refused",
			with(map[string]any{"assignments": []map[string]any{
				{"securityGroupId": groupHelpdesk, "roles": []string{"Global Reader"}},
			}}), "assignments[0].roles"},
		{"an assignment of an unknown role is refused",
			with(map[string]any{"assignments": []map[string]any{
				{"securityGroupId": groupHelpdesk, "roles": []string{"Root"}},
			}}), "assignments[0].roles"},
		{"an assignment without roles is refused",
			with(map[string]any{"assignments": []map[string]any{
				{"securityGroupId": groupHelpdesk, "roles": []string{}},
			}}), "assignments[0].roles"},
		{"an unknown field is refused and named", with(map[string]any{"gdap": true}), "gdap"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.admin.Do("POST", "/v1/invitations", tc.body)
			if resp.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.Status, resp.Body)
			}
			p := resp.Problem(t)
			if p["type"] != api.ProblemTypePrefix+"invalid-field" || p["field"] != tc.field {
				t.Fatalf("want invalid-field naming %s, got %v", tc.field, p)
			}
			if n := len(f.invitations(t)); n != 0 {
				t.Fatalf("a refused request wrote %d invitations", n)
			}
			if n := len(f.temporal.startCalls()); n != 0 {
				t.Fatalf("a refused request started %d workflows", n)
			}
		})
	}
}

// Partner Center lets admin and sales agents ask a customer for a reseller relationship (seed
// 004) and only admin agents request GDAP: a sales agent invites without admin access, and
// resends or cancels only such invitations.
func TestSalesAgentsInviteWithoutAdminAccessAndAdminAgentsWithIt(t *testing.T) {
	f := newFlowFixture(t)
	cases := []struct {
		name   string
		client *testapi.Client
		status int
		field  string
	}{
		{"a caller without a key is refused", f.anon, http.StatusUnauthorized, ""},
		{"a sales agent cannot ask for admin access", f.sales, http.StatusForbidden, "adminAccess"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.client.Do("POST", "/v1/invitations", validInvitation())
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.field != "" {
				if p := r.Problem(t); p["field"] != tc.field || p["type"] != api.ProblemTypePrefix+"forbidden" ||
					!strings.Contains(p["detail"].(string), `"adminAccess": false`) {
					t.Fatalf("the refusal must name the field and the way out: %v", p)
				}
			}
			if len(f.invitations(t)) != 0 || len(f.temporal.startCalls()) != 0 {
				t.Fatal("a refused caller wrote or started something")
			}
		})
	}

	r := f.sales.Do("POST", "/v1/invitations", variant(resellerOnly(), map[string]any{
		"customerDomain": "fabrikam.onmicrosoft.com",
	}))
	if r.Status != http.StatusCreated {
		t.Fatalf("a sales agent asks for the reseller relationship alone: %d %s", r.Status, r.Body)
	}
	var resellerOnlyInv created
	r.JSON(t, &resellerOnlyInv)
	for _, action := range []string{"resend", "cancel"} {
		before := len(f.temporal.updateCalls())
		r := f.sales.Do("POST", "/v1/invitations/"+resellerOnlyInv.ID+"/"+action, nil)
		if r.Status != http.StatusOK || len(f.temporal.updateCalls()) != before+1 {
			t.Fatalf("a sales agent may %s its invitation without admin access: %d %s", action, r.Status, r.Body)
		}
	}
	if r := f.anon.As(f.keys[models.RoleGlobalAdmin]).
		Do("POST", "/v1/invitations", validInvitation()); r.Status != http.StatusCreated {
		t.Fatalf("a global admin may do everything an admin agent may: %d %s", r.Status, r.Body)
	}
}

func TestCreatingAnInvitationRecordsItAndStartsItsWorkflow(t *testing.T) {
	f := newFlowFixture(t)
	f.activeReseller(t, "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
	resp := f.admin.Do("POST", "/v1/invitations", with(map[string]any{
		"customerDomain": "Contoso.OnMicrosoft.com", "indirectResellerId": "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
	}))
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	var c created
	resp.JSON(t, &c)
	wantWorkflowID := "invitation/" + c.ID
	wantExpiry := f.clock.Now().Add(90 * 24 * time.Hour)
	if resp.Header.Get("Location") != "/v1/invitations/"+c.ID || c.Status != "pending" ||
		c.WorkflowID != wantWorkflowID || c.CustomerDomain != "contoso.onmicrosoft.com" ||
		!c.ExpiresAt.Equal(wantExpiry) {
		t.Fatalf("answer: %s (Location %q)", resp.Body, resp.Header.Get("Location"))
	}
	token, ok := strings.CutPrefix(c.AcceptURL, f.baseURL+"/accept/")
	if !ok {
		t.Fatalf("the accept URL must be on the public base: %s", c.AcceptURL)
	}
	if id, err := links.NewSigner(signingKey).
		Verify(links.PurposeAcceptInvitation, token, f.clock.Now()); err != nil || id != c.ID {
		t.Fatalf("the accept URL must carry a token for this invitation: %q %v", id, err)
	}

	rows := f.invitations(t)
	if len(rows) != 1 || rows[0].ID != c.ID || rows[0].Status != models.InvitationPending ||
		rows[0].WorkflowID != wantWorkflowID || rows[0].Roles != roleUserAdmin+","+roleHelpdeskAdmin ||
		!rows[0].ExpiresAt.Equal(wantExpiry) || rows[0].PartnerID != partnerID {
		t.Fatalf("stored row: %+v", rows)
	}

	starts := f.temporal.startCalls()
	if len(starts) != 1 {
		t.Fatalf("want one start, got %d", len(starts))
	}
	opts, in := starts[0].Options, startInput[workflows.InvitationInput](starts[0])
	if starts[0].Workflow != "Invitation" || opts.ID != wantWorkflowID || opts.TaskQueue != workflows.TaskQueue ||
		opts.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL ||
		opts.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE ||
		!opts.WorkflowExecutionErrorWhenAlreadyStarted {
		t.Fatalf("start options: %+v", opts)
	}
	attrs := opts.TypedSearchAttributes
	for key, want := range map[temporal.SearchAttributeKeyKeyword]string{
		workflows.PartnerIDKey: partnerID, workflows.CustomerDomainKey: "contoso.onmicrosoft.com",
		workflows.ResellerPartnerIDKey: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", workflows.FlowStatusKey: "pending",
	} {
		if got, ok := attrs.GetKeyword(key); !ok || got != want {
			t.Errorf("search attribute %s = %q, want %q", key.GetName(), got, want)
		}
	}
	if in.InvitationID != c.ID || in.PartnerID != partnerID || in.CustomerDomain != "contoso.onmicrosoft.com" ||
		!slices.Equal(in.RoleIDs, []string{roleUserAdmin, roleHelpdeskAdmin}) ||
		in.DurationDays != 730 || !in.AutoExtend ||
		in.DisplayName != "Fabrikam contoso.onmicrosoft.com" || in.ContactEmail != "escalations@fabrikam.example" ||
		!in.ExpiresAt.Equal(wantExpiry) || in.Policy.PollEvery != workflows.DefaultInvitationPolicy.PollEvery ||
		len(in.Assignments) != 1 || in.Assignments[0].SecurityGroupID != groupHelpdesk ||
		!slices.Equal(in.Assignments[0].RoleIDs, []string{roleHelpdeskAdmin}) {
		t.Fatalf("workflow input: %+v", in)
	}
}

func TestDefaultsFillWhatARequestLeavesOut(t *testing.T) {
	f := newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.PartnerName = "Northwind"
		fc.Invitation.DefaultAssignments = []workflows.AccessAssignment{
			{SecurityGroupID: groupHelpdesk, RoleIDs: []string{roleUserAdmin, roleGlobalReader}},
			{SecurityGroupID: groupSecurity, RoleIDs: []string{"5d6b6bb7-de71-4623-b4af-96380a352509"}},
		}
	})
	long := strings.Repeat("a", 60) + ".com"
	resp := f.admin.Do("POST", "/v1/invitations", with(map[string]any{
		"customerDomain": long, "roles": []string{"User Administrator"}, "assignments": nil,
		"contactEmail": "desk@northwind.example", "autoExtend": false,
	}))
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	in := startInput[workflows.InvitationInput](f.temporal.startCalls()[0])
	if len(in.Assignments) != 1 || in.Assignments[0].SecurityGroupID != groupHelpdesk ||
		!slices.Equal(in.Assignments[0].RoleIDs, []string{roleUserAdmin}) {
		t.Fatalf("default assignments must be narrowed to the requested roles: %+v", in.Assignments)
	}
	if want := ("Northwind " + long)[:50]; in.DisplayName != want {
		t.Fatalf("the default display name must be cut to 50 characters: %q", in.DisplayName)
	}
	if in.ContactEmail != "desk@northwind.example" {
		t.Fatalf("the request's contact wins over the default: %q", in.ContactEmail)
	}

	resp = f.admin.Do("POST", "/v1/invitations", with(map[string]any{
		"customerDomain": "litware.com", "roles": []string{"Exchange Administrator"}, "assignments": nil,
	}))
	if resp.Status != http.StatusBadRequest || resp.Problem(t)["field"] != "assignments" {
		t.Fatalf("defaults that grant none of the requested roles: %d %s", resp.Status, resp.Body)
	}
}

func TestACustomerHasAtMostOneOpenInvitation(t *testing.T) {
	f := newFlowFixture(t)
	first := f.invite(t, "contoso.onmicrosoft.com")
	resp := f.admin.Do("POST", "/v1/invitations", with(map[string]any{"customerDomain": "CONTOSO.onmicrosoft.com"}))
	if resp.Status != http.StatusConflict {
		t.Fatalf("second invitation: %d %s", resp.Status, resp.Body)
	}
	p := resp.Problem(t)
	want := "/v1/invitations/" + first.ID
	if p["type"] != api.ProblemTypePrefix+"invitation-open" || p["location"] != want ||
		resp.Header.Get("Location") != want {
		t.Fatalf("the conflict must point at the open invitation %s: %v (Location %q)",
			want, p, resp.Header.Get("Location"))
	}
	if n := len(f.temporal.startCalls()); n != 1 {
		t.Fatalf("the refused invitation started a workflow: %d starts", n)
	}
	if n := len(f.invitations(t)); n != 1 {
		t.Fatalf("want the one open invitation, got %d rows", n)
	}

	if err := models.Record(context.Background(), f.store, models.KindInvitation, first.ID,
		models.InvitationChange{Status: models.InvitationExpired}); err != nil {
		t.Fatal(err)
	}
	f.temporal.set(func(ft *fakeTemporal) { delete(ft.running, first.WorkflowID) })
	again := f.invite(t, "contoso.onmicrosoft.com")
	if again.ID == first.ID {
		t.Fatal("a closed invitation must not block a new one")
	}
}

type invitationBody struct {
	ID                     string `json:"id"`
	Status                 string `json:"status"`
	AcceptURL              string `json:"acceptUrl"`
	GDAPRelationshipID     string `json:"gdapRelationshipId"`
	Live                   bool   `json:"live"`
	GDAPStatus             string `json:"gdapStatus"`
	ResellerAccepted       *bool  `json:"resellerAccepted"`
	GDAPApproved           *bool  `json:"gdapApproved"`
	RelationshipRequestURL string `json:"relationshipRequestUrl"`
	GDAPApprovalURL        string `json:"gdapApprovalUrl"`
	Roles                  []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"roles"`
	Steps []struct {
		Name   string    `json:"name"`
		Detail string    `json:"detail"`
		At     time.Time `json:"at"`
	} `json:"steps"`
	Assignments []struct {
		SecurityGroupID string `json:"securityGroupId"`
		Status          string `json:"status"`
	} `json:"assignments"`
}

func TestAnInvitationShowsItsTimelineAndTheWorkflowsLiveState(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	live := workflows.InvitationState{
		Status:             models.InvitationAccepted,
		ResellerAccepted:   true,
		GDAPStatus:         "approvalPending",
		GDAPRelationshipID: "rel-1",
		RelationshipRequestURL: "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship&partnerId=" +
			partnerID,
		GDAPApprovalURL: "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/" +
			"granularAdminRelationships/rel-1",
		Assignments: []workflows.AssignmentState{{SecurityGroupID: groupHelpdesk, Status: "pending"}},
	}
	f.temporal.set(func(ft *fakeTemporal) { ft.states[inv.WorkflowID] = live })

	for _, reader := range []*testapi.Client{f.admin, f.sales} {
		resp := reader.Do("GET", "/v1/invitations/"+inv.ID, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("get: %d %s", resp.Status, resp.Body)
		}
		var got invitationBody
		resp.JSON(t, &got)
		if got.ID != inv.ID || got.AcceptURL != inv.AcceptURL || len(got.Steps) != 1 || got.Steps[0].Name != "created" {
			t.Fatalf("record and timeline: %s", resp.Body)
		}
		if len(got.Roles) != 2 || got.Roles[0].Name != "User Administrator" {
			t.Fatalf("roles must be shown by name: %s", resp.Body)
		}
		if !got.Live || got.Status != models.InvitationAccepted || got.GDAPStatus != "approvalPending" ||
			got.ResellerAccepted == nil || !*got.ResellerAccepted ||
			got.GDAPApproved == nil || *got.GDAPApproved || got.RelationshipRequestURL != live.RelationshipRequestURL ||
			got.GDAPApprovalURL != live.GDAPApprovalURL || got.GDAPRelationshipID != "rel-1" ||
			len(got.Assignments) != 1 {
			t.Fatalf("live state: %s", resp.Body)
		}
	}

	f.temporal.set(func(ft *fakeTemporal) { ft.queryErr = context.DeadlineExceeded })
	resp := f.admin.Do("GET", "/v1/invitations/"+inv.ID, nil)
	var got invitationBody
	resp.JSON(t, &got)
	if resp.Status != http.StatusOK || got.Live || got.Status != models.InvitationPending ||
		got.ResellerAccepted != nil || len(got.Steps) != 1 {
		t.Fatalf("a workflow that does not answer leaves the database's view: %d %s", resp.Status, resp.Body)
	}

	// Once the workflow records its state with a step, the detail reads it from the row and asks
	// the workflow nothing (a query would replay a flow the worker's cache evicted).
	recorded := live
	recorded.GDAPStatus, recorded.GDAPApproved = "approved", true
	state, err := json.Marshal(recorded)
	if err != nil {
		t.Fatal(err)
	}
	if err := models.Record(context.Background(), f.store, models.KindInvitation, inv.ID, models.InvitationChange{
		Status: models.InvitationAccepted, Step: "gdap-approved", State: string(state),
	}); err != nil {
		t.Fatal(err)
	}
	var queries int
	f.temporal.set(func(ft *fakeTemporal) { queries = ft.queries })
	resp = f.admin.Do("GET", "/v1/invitations/"+inv.ID, nil)
	got = invitationBody{}
	resp.JSON(t, &got)
	if resp.Status != http.StatusOK || !got.Live || got.Status != models.InvitationAccepted ||
		got.GDAPStatus != "approved" || got.GDAPApproved == nil || !*got.GDAPApproved || len(got.Steps) != 2 ||
		len(got.Assignments) != 1 {
		t.Fatalf("the recorded state: %d %s", resp.Status, resp.Body)
	}
	f.temporal.set(func(ft *fakeTemporal) {
		if ft.queries != queries {
			t.Errorf("the detail asked the workflow %d times, want none", ft.queries-queries)
		}
	})
	// A child workflow (the GDAP watch) records into the row without the state: the row's status
	// is the newest.
	if err := models.Record(context.Background(), f.store, models.KindInvitation, inv.ID, models.InvitationChange{
		Status: models.InvitationActive, Step: "active",
	}); err != nil {
		t.Fatal(err)
	}
	got = invitationBody{}
	f.admin.Do("GET", "/v1/invitations/"+inv.ID, nil).JSON(t, &got)
	if got.Status != models.InvitationActive || got.GDAPStatus != "approved" {
		t.Fatalf("the row's status over the recorded state's: %+v", got)
	}

	if r := f.admin.Do("GET", "/v1/invitations/inv_0000000000000000", nil); r.Status != http.StatusNotFound ||
		r.Problem(t)["type"] != api.ProblemTypePrefix+"not-found" {
		t.Fatalf("an unknown invitation: %d %s", r.Status, r.Body)
	}
}

func TestListingInvitations(t *testing.T) {
	f := newFlowFixture(t)
	var ids []string
	for _, d := range []string{"alpha.com", "bravo.com", "charlie.com", "delta.com", "echo.com"} {
		ids = append(ids, f.invite(t, d).ID)
		f.clock.Advance(time.Minute)
	}
	if err := models.Record(context.Background(), f.store, models.KindInvitation, ids[1],
		models.InvitationChange{Status: models.InvitationActive}); err != nil {
		t.Fatal(err)
	}
	type page struct {
		Items []struct {
			ID             string `json:"id"`
			Status         string `json:"status"`
			CustomerDomain string `json:"customerDomain"`
			AcceptURL      string `json:"acceptUrl"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	list := func(query string) page {
		t.Helper()
		resp := f.sales.Do("GET", "/v1/invitations?"+query, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("list ?%s: %d %s", query, resp.Status, resp.Body)
		}
		var p page
		resp.JSON(t, &p)
		return p
	}

	t.Run("pages follow the cursor, newest first, each invitation once", func(t *testing.T) {
		var got []string
		cursor, pages := "", 0
		for {
			p := list("limit=2&cursor=" + cursor)
			pages++
			for _, it := range p.Items {
				got = append(got, it.ID)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
			if pages > 5 {
				t.Fatal("the cursor never ends")
			}
		}
		want := slices.Clone(ids)
		slices.Reverse(want)
		if pages != 3 || !slices.Equal(got, want) {
			t.Fatalf("%d pages %v, want 3 pages %v", pages, got, want)
		}
	})
	t.Run("status filters", func(t *testing.T) {
		p := list("status=active")
		if len(p.Items) != 1 || p.Items[0].ID != ids[1] || p.Items[0].Status != "active" {
			t.Fatalf("status=active: %+v", p)
		}
	})
	t.Run("customer filters by domain prefix", func(t *testing.T) {
		p := list("customer=CHAR")
		if len(p.Items) != 1 || p.Items[0].CustomerDomain != "charlie.com" || p.Items[0].AcceptURL == "" {
			t.Fatalf("customer=CHAR: %+v", p)
		}
	})
	t.Run("creation time bounds filter", func(t *testing.T) {
		start := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
		p := list("createdAfter=" + start.Add(90*time.Second).Format(time.RFC3339) +
			"&createdBefore=" + start.Add(210*time.Second).Format(time.RFC3339))
		if len(p.Items) != 2 || p.Items[0].ID != ids[3] || p.Items[1].ID != ids[2] {
			t.Fatalf("time window: %+v", p)
		}
	})

	bad := []struct {
		name, query, field string
	}{
		{"an unknown status is refused", "status=lost", "status"},
		{"a limit of zero is refused", "limit=0", "limit"},
		{"a limit over 200 is refused", "limit=201", "limit"},
		{"a limit that is not a number is refused", "limit=ten", "limit"},
		{"a creation time that is not RFC 3339 is refused", "createdBefore=yesterday", "createdBefore"},
		{"a malformed lower time bound is refused", "createdAfter=2025-13-01", "createdAfter"},
		{"a cursor this API did not make is refused", "cursor=Z2FyYmFnZQ", "cursor"},
		{"a cursor that is not base64 is refused", "cursor=***", "cursor"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.admin.Do("GET", "/v1/invitations?"+tc.query, nil)
			if resp.Status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			if p := resp.Problem(t); p["type"] != api.ProblemTypePrefix+"invalid-field" || p["field"] != tc.field {
				t.Fatalf("want field %s: %v", tc.field, p)
			}
		})
	}
	if r := f.anon.Do("GET", "/v1/invitations", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("listing without a key: %d", r.Status)
	}
}

func TestResendAndCancelAreUpdatesTheWorkflowMayRefuse(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")

	f.temporal.set(func(ft *fakeTemporal) {
		ft.updateState = workflows.InvitationState{Status: models.InvitationPending, RemindersSent: 2}
	})
	resp := f.admin.Do("POST", "/v1/invitations/"+inv.ID+"/resend", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("resend: %d %s", resp.Status, resp.Body)
	}
	var got struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		RemindersSent int    `json:"remindersSent"`
	}
	resp.JSON(t, &got)
	if got.ID != inv.ID || got.Status != "pending" || got.RemindersSent != 2 {
		t.Fatalf("resend answer: %s", resp.Body)
	}

	f.temporal.set(func(ft *fakeTemporal) {
		ft.updateState = workflows.InvitationState{Status: models.InvitationCancelled}
	})
	resp = f.admin.Do("POST", "/v1/invitations/"+inv.ID+"/cancel", map[string]any{
		"reason": "customer chose another partner",
	})
	resp.JSON(t, &got)
	if resp.Status != http.StatusOK || got.Status != "cancelled" {
		t.Fatalf("cancel: %d %s", resp.Status, resp.Body)
	}
	updates := f.temporal.updateCalls()
	if len(updates) != 2 {
		t.Fatalf("want two updates, got %d", len(updates))
	}
	wantArgs := []any{
		workflows.ResendRequest{By: "admin-agent"},
		workflows.CancelRequest{By: "admin-agent", Reason: "customer chose another partner"},
	}
	for i, name := range []string{workflows.UpdateResend, workflows.UpdateCancel} {
		u := updates[i]
		if u.WorkflowID != inv.WorkflowID || u.UpdateName != name ||
			u.WaitForStage != client.WorkflowUpdateStageCompleted ||
			len(u.Args) != 1 || u.Args[0] != wantArgs[i] {
			t.Fatalf("update %d: %+v", i, u)
		}
	}

	refusals := []struct {
		name      string
		updateErr error
		resultErr error
		status    int
		typ       string
		detail    string
	}{
		{"an update the workflow's validator rejects is a 409 with its reason", nil,
			temporal.NewApplicationError("the invitation was already cancelled", "InvitationClosed"),
			http.StatusConflict, "invitation-closed", "the invitation was already cancelled"},
		{"an update to a finished workflow is a 409",
			serviceerror.NewNotFound("workflow execution already completed"), nil,
			http.StatusConflict, "invitation-closed", "finished"},
		{"a Temporal that does not answer is a 503", serviceerror.NewUnavailable("connection refused"), nil,
			http.StatusServiceUnavailable, "unavailable", ""},
		{"an update whose activity failed is a 503, not a refusal",
			nil, activityFailure("SendInvitationMail", "smtp: 421 try later"),
			http.StatusServiceUnavailable, "unavailable", ""},
	}
	for _, tc := range refusals {
		for _, action := range []string{"resend", "cancel"} {
			t.Run(action+": "+tc.name, func(t *testing.T) {
				f.temporal.set(func(ft *fakeTemporal) { ft.updateErr, ft.updateResultErr = tc.updateErr, tc.resultErr })
				resp := f.admin.Do("POST", "/v1/invitations/"+inv.ID+"/"+action, nil)
				if resp.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
				}
				p := resp.Problem(t)
				if p["type"] != api.ProblemTypePrefix+tc.typ || !strings.Contains(fmt.Sprint(p["detail"]), tc.detail) {
					t.Fatalf("problem: %v", p)
				}
			})
		}
	}
	f.temporal.set(func(ft *fakeTemporal) { ft.updateErr, ft.updateResultErr = nil, nil })

	before := len(f.temporal.updateCalls())
	checks := []struct {
		name   string
		client *testapi.Client
		path   string
		body   any
		status int
		field  string
	}{
		{"a sales agent cannot cancel one asking for admin access", f.sales,
			"/v1/invitations/" + inv.ID + "/cancel", nil, http.StatusForbidden, "adminAccess"},
		{"a sales agent cannot resend one asking for admin access", f.sales,
			"/v1/invitations/" + inv.ID + "/resend", nil, http.StatusForbidden, "adminAccess"},
		{"an unknown invitation cannot be cancelled", f.admin, "/v1/invitations/inv_0000000000000000/cancel", nil,
			http.StatusNotFound, ""},
		{"a cancel reason over 500 characters is refused", f.admin, "/v1/invitations/" + inv.ID + "/cancel",
			map[string]any{"reason": strings.Repeat("r", 501)}, http.StatusBadRequest, "reason"},
		{"a cancel body with an unknown field is refused", f.admin, "/v1/invitations/" + inv.ID + "/cancel",
			map[string]any{"why": "x"}, http.StatusBadRequest, "why"},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.client.Do("POST", tc.path, tc.body)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			if tc.field != "" && resp.Problem(t)["field"] != tc.field {
				t.Fatalf("want field %s: %s", tc.field, resp.Body)
			}
			if n := len(f.temporal.updateCalls()); n != before {
				t.Fatal("a refused request reached the workflow")
			}
		})
	}
}

// activityFailure is the error a client gets when an update handler returns a failed
// activity's error: converted from the failure the server sends, as the SDK does.
func activityFailure(activityType, message string) error {
	return temporal.GetDefaultFailureConverter().FailureToError(&failurepb.Failure{
		Message: "activity error",
		FailureInfo: &failurepb.Failure_ActivityFailureInfo{ActivityFailureInfo: &failurepb.ActivityFailureInfo{
			ActivityType: &commonpb.ActivityType{Name: activityType}, ActivityId: "7",
		}},
		Cause: &failurepb.Failure{Message: message, FailureInfo: &failurepb.Failure_ApplicationFailureInfo{
			ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "SMTPError"},
		}},
	})
}

// activeReseller records an active, verified partnership with a reseller tenant.
func (f *flowFixture) activeReseller(t *testing.T, tenantID string) *models.Reseller {
	t.Helper()
	now := f.clock.Now()
	r := &models.Reseller{
		ID:          "res_" + tenantID[:8],
		PartnerID:   partnerID,
		CompanyName: "Adatum",
		Email:       "admin@" + tenantID[:8] + ".example",
		Language:    "en",
		MPNID:       "1234567",
		TenantID:    tenantID,
		Status:      models.ResellerActive,
		WorkflowID:  "reseller/" + tenantID,
		CreatedAt:   now,
		UpdatedAt:   now,
		ExpiresAt:   now.Add(time.Hour),
	}
	if _, err := f.store.CreateReseller(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}
