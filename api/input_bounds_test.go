package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/api"
)

// long is a value over every free-text bound of the API.
var long = strings.Repeat("x", 1001)

// TestFreeTextFieldsAreBounded refuses an over-long value of every free-text field with a 400
// problem naming the field, before anything is stored or started.
func TestFreeTextFieldsAreBounded(t *testing.T) {
	f := newFlowFixture(t)
	customer := func(edit func(b map[string]any)) map[string]any {
		b := validCustomer()
		edit(b)
		return b
	}
	address := func(field, value string) map[string]any {
		return customer(func(b map[string]any) { b["address"].(map[string]any)[field] = value })
	}
	longEmail := strings.Repeat("a", 65) + "@contoso.example"
	cases := []struct {
		name, path string
		body       any
		field      string
	}{
		{"an address line of 1,001 characters", "/v1/customers", address("line1", long), "address.line1"},
		{"a city of 1,001 characters", "/v1/customers", address("city", long), "address.city"},
		{"a state of 1,001 characters", "/v1/customers", address("state", long), "address.state"},
		{"a postal code of 1,001 characters in a country whose format is not checked", "/v1/customers",
			customer(func(b map[string]any) {
				b["country"] = "NL"
				b["address"].(map[string]any)["postalCode"] = long
			}), "address.postalCode"},
		{"a registration number of 1,001 characters", "/v1/customers",
			customer(func(b map[string]any) { b["registrationNumber"] = long }), "registrationNumber"},
		{"a reseller ID of 1,001 characters", "/v1/customers",
			customer(func(b map[string]any) { b["resellerId"] = long }), "resellerId"},
		{"a contact e-mail whose local part is over 64 characters", "/v1/customers",
			customer(func(b map[string]any) { b["contact"].(map[string]any)["email"] = longEmail }), "contact.email"},
		{"an invited customer's e-mail whose local part is over 64 characters", "/v1/invitations",
			with(map[string]any{"customerEmail": longEmail}), "customerEmail"},
		{"a role name of 1,001 characters", "/v1/invitations", with(map[string]any{"roles": []string{long}}), "roles"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			client := f.sales
			if tc.path == "/v1/invitations" {
				client = f.admin
			}
			r := client.Do("POST", tc.path, tc.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %.300s", r.Status, r.Body)
			}
			p := r.Problem(t)
			if p["type"] != api.ProblemTypePrefix+"invalid-field" || p["field"] != tc.field {
				t.Fatalf("want invalid-field naming %s, got %.300v", tc.field, p)
			}
			if strings.Contains(string(r.Body), long) {
				t.Fatal("the problem echoes the over-long value")
			}
		})
	}
	if n := len(f.temporal.startCalls()); n != 0 {
		t.Fatalf("refused requests started %d workflows", n)
	}

	// The attestation of an onboarding that exists.
	created := f.sales.Do("POST", "/v1/customers", validCustomer())
	if created.Status != http.StatusCreated {
		t.Fatalf("a valid onboarding: %d %s", created.Status, created.Body)
	}
	var onb struct{ ID string }
	created.JSON(t, &onb)
	attest := func(first, last, email string) map[string]any {
		return map[string]any{
			"primaryContact": map[string]any{"firstName": first, "lastName": last, "email": email},
			"dateAgreed":     "2025-03-10",
		}
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"an attesting first name of 1,001 characters", attest(long, "Rossi", "maria@contoso.it"),
			"primaryContact.firstName"},
		{"an attesting last name of 1,001 characters", attest("Maria", long, "maria@contoso.it"),
			"primaryContact.lastName"},
		{"an attesting e-mail whose local part is over 64 characters", attest("Maria", "Rossi", longEmail),
			"primaryContact.email"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			r := f.sales.Do("POST", "/v1/customers/"+onb.ID+"/agreement", tc.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %.300s", r.Status, r.Body)
			}
			if p := r.Problem(t); p["field"] != tc.field {
				t.Fatalf("want the problem to name %s, got %.300v", tc.field, p)
			}
		})
	}
}
