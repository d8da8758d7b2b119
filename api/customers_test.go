package api_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/partnerflow/partnerflow/api"
)

func validCustomer() map[string]any {
	return map[string]any{
		"companyName": "Contoso Italia", "domainPrefix": "contosoitalia", "country": "IT", "language": "it",
		"contact":  map[string]any{"firstName": "Maria", "lastName": "Rossi", "email": "maria@contoso.it"},
		"address":  map[string]any{"line1": "Via Roma 1", "city": "Milano", "postalCode": "20121"},
		"products": []map[string]any{{"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS", "quantity": 3, "billingCycle": "monthly", "termDuration": "P1M"}},
	}
}

// TestAnOnboardingIsValidatedBeforeAnythingStarts refuses, naming the field, what Partner Center
// would refuse: forms, country rules and products it does not sell.
func TestAnOnboardingIsValidatedBeforeAnythingStarts(t *testing.T) {
	f := newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.Catalog = func(_ context.Context, id, country string) (bool, error) {
			return id == "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS" && country != "KP", nil
		}
	})
	set := func(path []string, v any) map[string]any {
		body := validCustomer()
		m := body
		for _, k := range path[:len(path)-1] {
			m = m[k].(map[string]any)
		}
		m[path[len(path)-1]] = v
		return body
	}
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"a domain prefix with spaces", set([]string{"domainPrefix"}, "contoso italia"), "domainPrefix"},
		{"a country name instead of its code", set([]string{"country"}, "Italy"), "country"},
		{"an Italian postal code of four digits", set([]string{"address", "postalCode"}, "2012"), "address.postalCode"},
		{"a US address without its state", func() map[string]any {
			b := set([]string{"country"}, "US")
			b["address"] = map[string]any{"line1": "1 Main St", "city": "Redmond", "postalCode": "98052"}
			return b
		}(), "address.state"},
		{"a Turkish company without its registration number", func() map[string]any {
			b := set([]string{"country"}, "TR")
			b["address"] = map[string]any{"line1": "İstiklal 1", "city": "İstanbul", "postalCode": "34433"}
			return b
		}(), "registrationNumber"},
		{"a phone with letters", set([]string{"contact", "phone"}, "call me"), "contact.phone"},
		{"no products", set([]string{"products"}, []any{}), "products"},
		{"a malformed catalog item", set([]string{"products"}, []map[string]any{{"catalogItemId": "E3", "quantity": 1, "billingCycle": "monthly"}}), "products[0].catalogItemId"},
		{"a catalog item Partner Center does not sell", set([]string{"products"}, []map[string]any{{"catalogItemId": "CFQ7TTC0ZZZZ:0001:CFQ7TTC0ZZZZ", "quantity": 1, "billingCycle": "monthly"}}), "products[0].catalogItemId"},
		{"a quantity of zero", set([]string{"products"}, []map[string]any{{"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS", "quantity": 0, "billingCycle": "monthly"}}), "products[0].quantity"},
		{"an unknown reseller", set([]string{"resellerId"}, "res_nobody"), "resellerId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.sales.Do("POST", "/v1/customers", tc.body)
			if r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte(`"field":"`+tc.field+`"`)) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}
	if n := len(f.temporal.startCalls()); n != 0 {
		t.Fatalf("refused requests started %d workflows", n)
	}
	if r := f.sales.Do("POST", "/v1/customers", validCustomer()); r.Status != http.StatusCreated {
		t.Fatalf("a valid request: %d %s", r.Status, r.Body)
	}
	if r := f.sales.Do("POST", "/v1/customers", validCustomer()); r.Status != http.StatusConflict || r.Header.Get("Location") == "" {
		t.Fatalf("a second open onboarding of the domain: %d", r.Status)
	}
}
