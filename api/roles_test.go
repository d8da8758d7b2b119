package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/models"
)

// readmeRoleRow is one row of the README's Roles table: its routes ("METHOD path", gin's :param
// form) and the roles partnerflow asks for.
type readmeRoleRow struct {
	action string
	routes []string
	roles  []models.Role
	// everyOtherGET is the last row: every GET the table does not name, for every role.
	everyOtherGET bool
}

var (
	readmeRoute = regexp.MustCompile("`(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`")
	readmeParam = regexp.MustCompile(`\{(\w+)\}`)
	readmeRole  = regexp.MustCompile("`(admin-agent|sales-agent|global-admin)`")
)

// readmeRoles parses the README's "### Roles" table.
func readmeRoles(t *testing.T) []readmeRoleRow {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### Roles\n")
	if !ok {
		t.Fatal("README has no ### Roles section")
	}
	section, _, _ = strings.Cut(section, "\n#")
	var rows []readmeRoleRow
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || strings.HasPrefix(cells[1], "---") || strings.TrimSpace(cells[1]) == "action" {
			continue
		}
		row := readmeRoleRow{action: strings.TrimSpace(cells[1])}
		for _, m := range readmeRoute.FindAllStringSubmatch(cells[2], -1) {
			row.routes = append(row.routes, m[1]+" "+readmeParam.ReplaceAllString(m[2], ":$1"))
		}
		row.everyOtherGET = strings.Contains(cells[2], "every other `GET`")
		if strings.TrimSpace(cells[4]) == "every role" {
			row.roles = slices.Clone(models.AllRoles)
		}
		for _, m := range readmeRole.FindAllStringSubmatch(cells[4], -1) {
			row.roles = append(row.roles, models.Role(m[1]))
		}
		if len(row.roles) == 0 || len(row.routes) == 0 && !row.everyOtherGET {
			t.Fatalf("README's Roles row %q names no roles or no routes", row.action)
		}
		rows = append(rows, row)
	}
	if len(rows) < 5 {
		t.Fatalf("README's Roles table has %d rows", len(rows))
	}
	return rows
}

// effective is who a rule lets through: a global admin holds every role, and a session rule
// without roles lets every signed-in role in.
func effective(roles []models.Role) []string {
	if len(roles) == 0 {
		roles = models.AllRoles
	}
	out := []string{string(models.RoleGlobalAdmin)}
	for _, r := range roles {
		out = append(out, string(r))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestRolesAreTheREADMEsTable holds the README's Roles table and the routes' rules together: each
// route the table names has exactly its roles, every route that changes something is named, and
// every other GET lets every role read.
func TestRolesAreTheREADMEsTable(t *testing.T) {
	f := newFixture(t, nil)
	named := map[string]bool{}
	var everyRole []string
	for _, row := range readmeRoles(t) {
		if row.everyOtherGET {
			everyRole = effective(row.roles)
			continue
		}
		for _, route := range row.routes {
			if named[route] {
				t.Errorf("README names %s twice", route)
			}
			named[route] = true
			rule, ok := f.server.RouteAccess(route)
			if !ok {
				t.Errorf("README's row %q names %s, which the API does not have", row.action, route)
				continue
			}
			if rule.Kind != api.AccessKey && rule.Kind != api.AccessSession {
				t.Errorf("%s is %s, not a route for roles", route, rule.Kind)
				continue
			}
			if got, want := effective(rule.Roles), effective(row.roles); !slices.Equal(got, want) {
				t.Errorf("%s lets %v through; README's row %q says %v", route, got, row.action, want)
			}
		}
	}
	if everyRole == nil {
		t.Fatal(`README's Roles table has no "every other GET" row`)
	}
	for _, route := range f.server.Routes() {
		name := route[0] + " " + route[1]
		rule, _ := f.server.RouteAccess(name)
		if named[name] || rule.Kind != api.AccessKey && rule.Kind != api.AccessSession {
			continue
		}
		if route[0] != "GET" {
			t.Errorf("%s changes something and README's Roles table does not name it", name)
			continue
		}
		if got := effective(rule.Roles); !slices.Equal(got, everyRole) {
			t.Errorf("%s lets only %v read; name it in README's Roles table", name, got)
		}
	}
}

// TestOpenAPIStatesEachRoutesRoles checks the document's x-roles on every operation for roles
// against the route's rule, so the OpenAPI document says who may call what.
func TestOpenAPIStatesEachRoutesRoles(t *testing.T) {
	f := newFixture(t, nil)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Roles []string `json:"x-roles"`
			}
			if method == "parameters" || json.Unmarshal(raw, &op) != nil {
				continue
			}
			route := strings.ToUpper(method) + " " + readmeParam.ReplaceAllString(path, ":$1")
			rule, ok := f.server.RouteAccess(route)
			if !ok {
				continue // TestOpenAPIDocumentsEveryRouteAndNothingElse says so
			}
			if rule.Kind != api.AccessKey && rule.Kind != api.AccessSession {
				if op.Roles != nil {
					t.Errorf("%s is %s, yet the document gives it x-roles", route, rule.Kind)
				}
				continue
			}
			checked++
			if want := effective(rule.Roles); !slices.Equal(op.Roles, want) {
				t.Errorf("%s: x-roles %v, the route lets %v through", route, op.Roles, want)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d operations for roles in the document", checked)
	}
}

// TestTheDashboardOffersOnlyTheActionsTheOperatorsRolesAllow: an action the role lacks is not on
// the page (and the update refuses it if forced, as the route tests show).
func TestTheDashboardOffersOnlyTheActionsTheOperatorsRolesAllow(t *testing.T) {
	f := newFlowFixture(t)
	withAdmin := f.invite(t, "contoso.onmicrosoft.com")
	r := f.sales.Do("POST", "/v1/invitations", variant(resellerOnly(), map[string]any{
		"customerDomain": "fabrikam.onmicrosoft.com",
	}))
	var alone created
	r.JSON(t, &alone)
	r = f.sales.Do("POST", "/v1/resellers", map[string]any{"email": "admin@adatum.example", "companyName": "Adatum"})
	var partnership struct{ ID string }
	r.JSON(t, &partnership)
	if alone.ID == "" || partnership.ID == "" {
		t.Fatal("the flows were not created")
	}
	sales, admin := f.signIn(t, models.RoleSalesAgent), f.signIn(t, models.RoleAdminAgent)
	cases := []struct {
		name, page, cookie, action string
		offered                    bool
	}{
		{"an admin agent may resend an invitation with admin access", "/invitations/" + withAdmin.ID, admin,
			"resend", true},
		{"a sales agent may not", "/invitations/" + withAdmin.ID, sales, "resend", false},
		{"nor cancel it", "/invitations/" + withAdmin.ID, sales, "cancel", false},
		{"a sales agent may cancel an invitation without admin access", "/invitations/" + alone.ID, sales,
			"cancel", true},
		{"a sales agent may resend a partnership request", "/resellers/" + partnership.ID, sales, "resend", true},
		{"an admin agent may not", "/resellers/" + partnership.ID, admin, "resend", false},
		{"nor cancel it", "/resellers/" + partnership.ID, admin, "cancel", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page := f.browser(t).Do("GET", tc.page, nil, "Cookie", tc.cookie)
			if page.Status != http.StatusOK {
				t.Fatalf("%d %s", page.Status, page.Body)
			}
			form := `action="` + tc.page + "/" + tc.action + `"`
			if got := strings.Contains(string(page.Body), form); got != tc.offered {
				t.Fatalf("%s offered: %v, want %v", form, got, tc.offered)
			}
		})
	}
}
