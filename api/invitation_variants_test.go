package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/workflows"
)

// resellerOnly is a valid request for the reseller relationship alone.
func resellerOnly() map[string]any {
	return map[string]any{
		"customerDomain": "contoso.onmicrosoft.com",
		"customerEmail":  "admin@contoso.onmicrosoft.com",
		"adminAccess":    false,
	}
}

// variant returns a copy of body with fields set; a nil value removes the field.
func variant(body map[string]any, fields map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	for k, v := range fields {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// usGovPortal stands in for the Office admin portal for US Government in these tests.
const usGovPortal = "https://portal.usgov.example/prefix"

// usGovRelationshipURL is relationshipURL as a US Government customer is sent to it.
const usGovRelationshipURL = "https://portal.usgov.example/prefix/Adminportal/Home" +
	"?invType=ResellerRelationship&partnerId=" + partnerID + "&msppId=0#/BillingAccounts/partner-invitation"

func TestInvitationVariantsAreValidatedFieldByField(t *testing.T) {
	f := newFlowFixture(t)
	cases := []struct {
		name   string
		body   map[string]any
		field  string
		detail string
	}{
		{"roles without admin access are refused, not silently dropped",
			variant(resellerOnly(), map[string]any{"roles": []string{"User Administrator"}}), "roles",
			"adminAccess false"},
		{"even an empty list of roles is refused without admin access",
			variant(resellerOnly(), map[string]any{"roles": []string{}}), "roles", "adminAccess false"},
		{"a duration without admin access is refused",
			variant(resellerOnly(), map[string]any{"durationDays": 30}), "durationDays", "adminAccess false"},
		{"auto-extend without admin access is refused",
			variant(resellerOnly(), map[string]any{"autoExtend": true}), "autoExtend", "adminAccess false"},
		{"a GDAP display name without admin access is refused",
			variant(resellerOnly(), map[string]any{"displayName": "contoso"}), "displayName", "adminAccess false"},
		{"assignments without admin access are refused",
			variant(resellerOnly(), map[string]any{"assignments": []map[string]any{
				{"securityGroupId": groupHelpdesk, "roles": []string{"User Administrator"}},
			}}), "assignments", "adminAccess false"},
		{"adminAccess that is not a boolean is refused",
			variant(resellerOnly(), map[string]any{"adminAccess": "no"}), "adminAccess", ""},
		{"admin access still needs roles", with(map[string]any{"adminAccess": true, "roles": nil}), "roles", ""},
		{"an unknown cloud is refused", with(map[string]any{"cloud": "china"}), "cloud", "usgov"},
		{"a cloud that is not a string is refused", with(map[string]any{"cloud": 1}), "cloud", ""},
		{"a US Government customer cannot be invited without admin access, and is told why",
			variant(resellerOnly(), map[string]any{"cloud": "usgov"}), "adminAccess", "US Government"},
		{"a domain under onmicrosoft.us is a US Government tenant, so no admin access is refused for it too",
			variant(resellerOnly(), map[string]any{"customerDomain": "agency.onmicrosoft.us"}), "adminAccess",
			"US Government"},
		{"a domain under onmicrosoft.us is not in the public cloud",
			with(map[string]any{"customerDomain": "agency.onmicrosoft.us", "cloud": "public"}), "cloud", "usgov"},
		{"the reseller-only request is still checked like any other",
			variant(resellerOnly(), map[string]any{"customerEmail": "admin@"}), "customerEmail", ""},
		{"its reseller is checked too",
			variant(resellerOnly(), map[string]any{"indirectResellerId": "reseller-1"}), "indirectResellerId", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.admin.Do("POST", "/v1/invitations", tc.body)
			if resp.Status != http.StatusBadRequest ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("status %d, want a 400 problem: %s", resp.Status, resp.Body)
			}
			p := resp.Problem(t)
			if p["type"] != api.ProblemTypePrefix+"invalid-field" || p["field"] != tc.field {
				t.Fatalf("want invalid-field naming %s, got %v", tc.field, p)
			}
			if detail, _ := p["detail"].(string); !strings.Contains(detail, tc.detail) {
				t.Fatalf("the detail must say why (%q): %q", tc.detail, detail)
			}
			if len(f.invitations(t)) != 0 || len(f.temporal.startCalls()) != 0 {
				t.Fatal("a refused request wrote or started something")
			}
		})
	}
}

func TestAnInvitationWithoutAdminAccessAsksForTheResellerRelationshipAlone(t *testing.T) {
	// Configured default assignments must not creep into an invitation that asks for no roles.
	f := newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.Invitation.DefaultAssignments = []workflows.AccessAssignment{
			{SecurityGroupID: groupHelpdesk, RoleIDs: []string{roleUserAdmin}},
		}
	})
	resp := f.admin.Do("POST", "/v1/invitations", variant(resellerOnly(), map[string]any{"language": "it"}))
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	var c struct {
		created
		AdminAccess *bool  `json:"adminAccess"`
		Cloud       string `json:"cloud"`
	}
	resp.JSON(t, &c)
	if c.AdminAccess == nil || *c.AdminAccess || c.Cloud != models.CloudPublic {
		t.Fatalf("the answer must say what was asked for: %s", resp.Body)
	}
	in := startInput[workflows.InvitationInput](f.temporal.startCalls()[0])
	if !in.NoAdminAccess || len(in.RoleIDs) != 0 || in.DurationDays != 0 || in.AutoExtend ||
		len(in.Assignments) != 0 || in.DisplayName != "" || in.Cloud != models.CloudPublic || in.Language != "it" ||
		in.ContactEmail != "escalations@fabrikam.example" {
		t.Fatalf("workflow input: %+v", in)
	}
	rows := f.invitations(t)
	if len(rows) != 1 || rows[0].AdminAccess || rows[0].Roles != "" || rows[0].DurationDays != 0 ||
		rows[0].Cloud != models.CloudPublic {
		t.Fatalf("stored row: %+v", rows)
	}

	f.live(c.WorkflowID, workflows.InvitationState{
		Status:                 models.InvitationPending,
		RelationshipRequestURL: relationshipURL,
	})
	var got struct {
		AdminAccess *bool  `json:"adminAccess"`
		Cloud       string `json:"cloud"`
		Roles       []any  `json:"roles"`
		RelURL      string `json:"relationshipRequestUrl"`
	}
	detail := f.sales.Do("GET", "/v1/invitations/"+c.ID, nil)
	detail.JSON(t, &got)
	if detail.Status != http.StatusOK || got.AdminAccess == nil || *got.AdminAccess ||
		got.Cloud != models.CloudPublic || len(got.Roles) != 0 || got.RelURL != relationshipURL {
		t.Fatalf("detail: %d %s", detail.Status, detail.Body)
	}
	list := f.sales.Do("GET", "/v1/invitations", nil)
	if !strings.Contains(string(list.Body), `"adminAccess":false`) {
		t.Fatalf("the list must show adminAccess: %s", list.Body)
	}

	// With admin access, as before: adminAccess true or left out.
	for _, body := range []map[string]any{
		with(map[string]any{"customerDomain": "fabrikam.onmicrosoft.com", "adminAccess": true}),
		with(map[string]any{"customerDomain": "northwind.onmicrosoft.com"}),
	} {
		r := f.admin.Do("POST", "/v1/invitations", body)
		if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `"adminAccess":true`) {
			t.Fatalf("create with admin access: %d %s", r.Status, r.Body)
		}
		if in := startInput[workflows.InvitationInput](
			f.temporal.startCalls()[len(f.temporal.startCalls())-1],
		); in.NoAdminAccess || len(in.RoleIDs) != 2 {
			t.Fatalf("workflow input: %+v", in)
		}
	}
}

func TestTheLandingPageOfAnInvitationWithoutAdminAccess(t *testing.T) {
	f := newFlowFixture(t)
	resp := f.admin.Do("POST", "/v1/invitations", resellerOnly())
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	var inv created
	resp.JSON(t, &inv)
	path := f.acceptPath(inv)
	browser := f.browser(t)

	t.Run("the page shows the reseller step alone", func(t *testing.T) {
		f.live(inv.WorkflowID, workflows.InvitationState{
			Status:                 models.InvitationPending,
			RelationshipRequestURL: relationshipURL,
		})
		page := browser.Do("GET", path, nil)
		body := string(page.Body)
		if page.Status != http.StatusOK || anchor(page.Body, "accept-reseller") != relationshipURL ||
			anchor(page.Body, "approve-gdap") != "" {
			t.Fatalf("status %d: %s", page.Status, body)
		}
		for _, want := range []string{
			"asks to become the Microsoft reseller of contoso.onmicrosoft.com",
			"asks for no admin rights in your organisation",
			"accepts the reseller relationship in the Microsoft 365 admin center: one step",
			`id="no-admin-access"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the page must say %q", want)
			}
		}
		for _, unwanted := range []string{
			`id="roles"`, `id="duration"`, "Step 2", "Approve the admin roles", "help administer",
		} {
			if strings.Contains(body, unwanted) {
				t.Errorf("the page must not show %q", unwanted)
			}
		}
		assertNoRawStrings(t, body)
	})

	t.Run("JSON clients learn that no admin access is asked for", func(t *testing.T) {
		var got struct {
			AdminAccess *bool    `json:"adminAccess"`
			Cloud       string   `json:"cloud"`
			Roles       []string `json:"roles"`
			RelURL      string   `json:"relationshipRequestUrl"`
			GDAPURL     string   `json:"gdapApprovalUrl"`
		}
		r := browser.Do("GET", path, nil, "Accept", "application/json")
		r.JSON(t, &got)
		if got.AdminAccess == nil || *got.AdminAccess || got.Cloud != models.CloudPublic || len(got.Roles) != 0 ||
			got.RelURL != relationshipURL || got.GDAPURL != "" {
			t.Fatalf("JSON: %s", r.Body)
		}
	})

	t.Run("the acknowledgement leads to the reseller acceptance", func(t *testing.T) {
		post := browser.Do("POST", path, "upn=admin%40contoso.onmicrosoft.com", "Content-Type", formContentType)
		if post.Status != http.StatusSeeOther || post.Header.Get("Location") != relationshipURL {
			t.Fatalf("%d %q", post.Status, post.Header.Get("Location"))
		}
	})

	for _, lang := range notify.Languages() {
		for _, st := range []struct {
			name string
			st   workflows.InvitationState
			id   string
		}{
			{"waiting", workflows.InvitationState{
				Status:                 models.InvitationPending,
				RelationshipRequestURL: relationshipURL,
			}, "accept-reseller"},
			{"done", workflows.InvitationState{Status: models.InvitationActive, ResellerAccepted: true}, "done"},
		} {
			t.Run(lang+"/"+st.name, func(t *testing.T) {
				f.live(inv.WorkflowID, st.st)
				page := browser.Do("GET", path+"?lang="+lang, nil)
				body := string(page.Body)
				if page.Status != http.StatusOK || !strings.Contains(body, `id="`+st.id+`"`) ||
					strings.Contains(body, `id="approve-gdap"`) || strings.Contains(body, `id="roles"`) {
					t.Fatalf("status %d:\n%s", page.Status, body)
				}
				assertNoRawStrings(t, body)
			})
		}
	}
	f.live(inv.WorkflowID, workflows.InvitationState{Status: models.InvitationActive, ResellerAccepted: true})
	if done := string(browser.Do("GET", path, nil).Body); !strings.Contains(
		done, "is now your Microsoft reseller, with no admin rights",
	) {
		t.Fatalf("the done page must say no admin rights were given: %s", done)
	}
}

func TestAUSGovernmentCustomerIsSentToTheUSGovernmentPortal(t *testing.T) {
	f := newFlowFixture(t, func(fc *api.FlowConfig) { fc.Invitation.USGovPortalURL = usGovPortal })
	resp := f.admin.Do("POST", "/v1/invitations", with(map[string]any{"cloud": "USGov"}))
	if resp.Status != http.StatusCreated || !strings.Contains(string(resp.Body), `"cloud":"usgov"`) {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	var inv created
	resp.JSON(t, &inv)
	if in := startInput[workflows.InvitationInput](f.temporal.startCalls()[0]); in.Cloud != models.CloudUSGov ||
		in.NoAdminAccess {
		t.Fatalf("workflow input: %+v", in)
	}
	if rows := f.invitations(t); len(rows) != 1 || rows[0].Cloud != models.CloudUSGov || !rows[0].AdminAccess {
		t.Fatalf("row: %+v", rows)
	}
	f.live(inv.WorkflowID, pending())
	browser := f.browser(t)

	page := browser.Do("GET", f.acceptPath(inv), nil)
	body := string(page.Body)
	if got := anchor(page.Body, "accept-reseller"); got != usGovRelationshipURL {
		t.Fatalf("the reseller step must lead to the US Government portal: %q", got)
	}
	if !strings.Contains(body, "in the Microsoft Office admin portal for US Government") ||
		strings.Contains(body, "Microsoft 365 admin center") {
		t.Fatalf("the page must name the US Government portal: %s", body)
	}
	if anchor(page.Body, "approve-gdap") != approvalURL {
		t.Fatalf("the admin roles are still asked for: %s", body)
	}
	var st struct {
		Cloud  string `json:"cloud"`
		RelURL string `json:"relationshipRequestUrl"`
	}
	browser.Do("GET", f.acceptPath(inv), nil, "Accept", "application/json").JSON(t, &st)
	if st.Cloud != models.CloudUSGov || st.RelURL != usGovRelationshipURL {
		t.Fatalf("JSON: %+v", st)
	}
	if post := browser.Do("POST", f.acceptPath(inv), "upn=admin%40contoso.onmicrosoft.com",
		"Content-Type", formContentType); post.Header.Get("Location") != usGovRelationshipURL {
		t.Fatalf("the acknowledgement must lead to the US Government portal: %d %q",
			post.Status, post.Header.Get("Location"))
	}
	var detail struct {
		Cloud  string `json:"cloud"`
		RelURL string `json:"relationshipRequestUrl"`
	}
	f.sales.Do("GET", "/v1/invitations/"+inv.ID, nil).JSON(t, &detail)
	if detail.Cloud != models.CloudUSGov || detail.RelURL != usGovRelationshipURL {
		t.Fatalf("the API must show the link the customer gets: %+v", detail)
	}
	for _, lang := range notify.Languages() {
		p := string(browser.Do("GET", f.acceptPath(inv)+"?lang="+lang, nil).Body)
		assertNoRawStrings(t, p)
	}

	// The default portal is Microsoft's.
	g := newFlowFixture(t)
	other := g.admin.Do("POST", "/v1/invitations", with(map[string]any{"cloud": "usgov"}))
	var oc created
	other.JSON(t, &oc)
	g.live(oc.WorkflowID, pending())
	if got := anchor(g.browser(t).Do("GET", g.acceptPath(oc), nil).Body, "accept-reseller"); !strings.HasPrefix(
		got, api.DefaultUSGovPortalURL+"/Adminportal/Home?invType=ResellerRelationship",
	) {
		t.Fatalf("by default the link is on %s: %q", api.DefaultUSGovPortalURL, got)
	}
}

func TestTheDashboardShowsWhatAnInvitationAsksFor(t *testing.T) {
	f := newFlowFixture(t)
	if r := f.admin.Do("POST", "/v1/invitations", resellerOnly()); r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	// Left out, the cloud of a domain under onmicrosoft.us is US Government.
	if r := f.admin.Do("POST", "/v1/invitations", with(map[string]any{
		"customerDomain": "agency.onmicrosoft.us",
	})); r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `"cloud":"usgov"`) {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	cookie := f.signIn(t, models.RoleSalesAgent)
	list := string(f.browser(t).Do("GET", "/", nil, "Cookie", cookie).Body)
	if !strings.Contains(list, "<th>Access</th>") || !strings.Contains(list, "<td>Reseller only</td>") ||
		!strings.Contains(list, "<td>Admin roles (GDAP), US Government</td>") {
		t.Fatalf("the list must show what each invitation asks for: %s", list)
	}
	rows := f.invitations(t)
	for _, row := range rows {
		f.live(row.WorkflowID, workflows.InvitationState{
			Status:                 models.InvitationPending,
			RelationshipRequestURL: relationshipURL,
		})
		page := string(f.browser(t).Do("GET", "/invitations/"+row.ID, nil, "Cookie", cookie).Body)
		switch {
		case !row.AdminAccess:
			if !strings.Contains(page, "not requested: the reseller relationship alone") ||
				strings.Contains(page, `id="gdap-state"`) || strings.Contains(page, `id="roles"`) {
				t.Fatalf("reseller-only detail: %s", page)
			}
		default:
			if !strings.Contains(page, "requested (GDAP)") ||
				!strings.Contains(page, `<dd id="cloud">US Government</dd>`) ||
				!strings.Contains(page, `id="gdap-state"`) {
				t.Fatalf("US Government detail: %s", page)
			}
		}
	}
}
