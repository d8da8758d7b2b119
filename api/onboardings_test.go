package api_test

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

func validCustomer() map[string]any {
	return map[string]any{
		"companyName": "Contoso Italia", "domainPrefix": "contosoitalia", "country": "IT", "language": "it",
		"contact": map[string]any{"firstName": "Maria", "lastName": "Rossi", "email": "maria@contoso.it"},
		"address": map[string]any{"line1": "Via Roma 1", "city": "Milano", "postalCode": "20121"},
		"products": []map[string]any{{
			"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			"quantity":      3,
			"billingCycle":  "monthly",
			"termDuration":  "P1M",
		}},
	}
}

// TestAnOnboardingIsValidatedBeforeAnythingStarts refuses, naming the field, what Partner Center
// would refuse: forms, country rules and products it does not sell.
func TestAnOnboardingIsValidatedBeforeAnythingStarts(t *testing.T) {
	f := newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.Onboarding.Catalog = func(_ context.Context, id, country string) (bool, error) {
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
		{"a malformed catalog item", set(
			[]string{"products"},
			[]map[string]any{{"catalogItemId": "E3", "quantity": 1, "billingCycle": "monthly"}},
		), "products[0].catalogItemId"},
		{"a catalog item Partner Center does not sell", set([]string{"products"}, []map[string]any{
			{"catalogItemId": "CFQ7TTC0ZZZZ:0001:CFQ7TTC0ZZZZ", "quantity": 1, "billingCycle": "monthly"},
		}), "products[0].catalogItemId"},
		{"a quantity of zero", set([]string{"products"}, []map[string]any{
			{"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS", "quantity": 0, "billingCycle": "monthly"},
		}), "products[0].quantity"},
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
	if r := f.sales.Do("POST", "/v1/customers", validCustomer()); r.Status != http.StatusConflict ||
		r.Header.Get("Location") == "" {
		t.Fatalf("a second open onboarding of the domain: %d", r.Status)
	}
}

// TestOnboardingsAnswerTheSameUnderTheirDeprecatedCustomersName holds /v1/customers, the
// deprecated first name scripts still call, to the answers of /v1/onboardings.
func TestOnboardingsAnswerTheSameUnderTheirDeprecatedCustomersName(t *testing.T) {
	f := newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.Onboarding.Catalog = func(context.Context, string, string) (bool, error) { return true, nil }
	})
	other := validCustomer()
	other["domainPrefix"] = "contosomilano"
	created := map[string]map[string]any{}
	for base, body := range map[string]map[string]any{"/v1/onboardings": validCustomer(), "/v1/customers": other} {
		r := f.sales.Do("POST", base, body)
		var got map[string]any
		r.JSON(t, &got)
		id, _ := got["id"].(string)
		if r.Status != http.StatusCreated || r.Header.Get("Location") != "/v1/onboardings/"+id {
			t.Fatalf("create through %s: %d, Location %q, %s", base, r.Status, r.Header.Get("Location"), r.Body)
		}
		created[base] = got
	}
	a, b := created["/v1/onboardings"], created["/v1/customers"]
	if a["status"] != b["status"] || !reflect.DeepEqual(slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b))) {
		t.Fatalf("creates answer differently: %v and %v", a, b)
	}
	for _, c := range created {
		id := c["id"].(string)
		onb, cus := f.sales.Do("GET", "/v1/onboardings/"+id, nil), f.sales.Do("GET", "/v1/customers/"+id, nil)
		if onb.Status != http.StatusOK || cus.Status != onb.Status || !bytes.Equal(onb.Body, cus.Body) {
			t.Fatalf("detail of %s: %d %s, and as a customer %d %s", id, onb.Status, onb.Body, cus.Status, cus.Body)
		}
	}
}

// TestAnOnboardingShowsItsCartAndSubscriptionsInTheAPIsStyle: the cart and the subscriptions come
// from workflow and store types without JSON names, and still answer in camelCase, as the
// document says (the fixture's client holds every response to api/openapi.json).
func TestAnOnboardingShowsItsCartAndSubscriptionsInTheAPIsStyle(t *testing.T) {
	f := newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.Onboarding.Catalog = func(context.Context, string, string) (bool, error) { return true, nil }
	})
	r := f.sales.Do("POST", "/v1/customers", validCustomer())
	var created struct {
		ID         string `json:"id"`
		WorkflowID string `json:"workflowId"`
	}
	r.JSON(t, &created)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	sub := models.CustomerSubscription{
		ID:             "sub-1",
		CustomerID:     created.ID,
		OrderID:        "ord-1",
		OfferID:        "CFQ7TTC0LFLZ:0002",
		Name:           "Microsoft 365 E3",
		Quantity:       3,
		Status:         "active",
		PartnerID:      "1234567",
		SupportContact: "Adatum",
		CreatedAt:      f.clock.Now(),
	}
	if err := f.store.SaveSubscriptions(context.Background(), []models.CustomerSubscription{sub}); err != nil {
		t.Fatal(err)
	}
	f.temporal.set(func(ft *fakeTemporal) {
		ft.states[created.WorkflowID] = workflows.OnboardingState{
			Status:        models.OnboardingReview,
			CheckoutError: "a line was refused",
			Cart: workflows.CartState{
				ID: "cart-1",
				Lines: []workflows.CartLine{{
					CatalogItemID: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
					Name:          "Microsoft 365 E3",
					Quantity:      3,
					BillingCycle:  "monthly",
					TermDuration:  "P1M",
					Reseller:      "1234567",
					ErrorCode:     800002,
					Error:         "the reseller is not authorized",
				}},
			},
		}
	})
	line := map[string]any{
		"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
		"name":          "Microsoft 365 E3",
		"quantity":      3.0,
		"billingCycle":  "monthly",
		"termDuration":  "P1M",
		"partnerId":     "1234567",
		"errorCode":     800002.0,
		"error":         "the reseller is not authorized",
	}
	cart := map[string]any{"id": "cart-1", "lines": []any{line}}
	cases := []struct {
		name, path string
		want       map[string]any
	}{
		{"the onboarding shows its cart and subscriptions in camelCase", "/v1/customers/" + created.ID, map[string]any{
			"cart": cart,
			"subscriptions": []any{map[string]any{
				"id":             "sub-1",
				"orderId":        "ord-1",
				"offerId":        "CFQ7TTC0LFLZ:0002",
				"name":           "Microsoft 365 E3",
				"quantity":       3.0,
				"status":         "active",
				"partnerId":      "1234567",
				"supportContact": "Adatum",
				"createdAt":      f.clock.Now().UTC().Format(time.RFC3339),
			}},
		}},
		{
			"the cart under review is in camelCase",
			"/v1/customers/" + created.ID + "/cart",
			map[string]any{"cart": cart},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.sales.Do("GET", tc.path, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			var got map[string]any
			r.JSON(t, &got)
			for k, want := range tc.want {
				if !reflect.DeepEqual(got[k], want) {
					t.Errorf("%s:\n got %#v\nwant %#v", k, got[k], want)
				}
			}
		})
	}
}
