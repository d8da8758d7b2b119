package partnercenter_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// docRequest reads a recorded request body and lets edit change it.
func docRequest(t *testing.T, file string, edit func(map[string]any)) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(body)
	}
	return body
}

// idOf reads the "id" of a JSON answer.
func idOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %s (%v)", body, err)
	}
	return v.ID
}

// addPartner adds a partnered indirect reseller with a signed agreement.
func (e *simEnv) addPartner(domain, mpn, tenantID string) {
	e.t.Helper()
	in := map[string]any{
		"domain":          domain,
		"companyName":     domain,
		"mpnId":           mpn,
		"country":         "US",
		"agreementSigned": true,
		"authorized":      true,
		"users":           []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
	}
	if tenantID != "" {
		in["tenantId"] = tenantID
	}
	if st, body := e.post("/sim/partners", in); st != 201 {
		e.t.Fatalf("add partner %s: %d %v", domain, st, body)
	}
}

// TestSimMatchesDocumentedCommerceShapes runs Microsoft's documented
// requests of customer onboarding against the simulator, in order, and
// compares each answer with the recorded example answer (see sameShape).
func TestSimMatchesDocumentedCommerceShapes(t *testing.T) {
	e := newSimEnv(t, "")
	// The PartnerIDs and the support contact tenant of the examples.
	e.addPartner("reseller-5357564.onmicrosoft.com", "5357564", "")
	e.addPartner("reseller-517285.onmicrosoft.com", "517285", "")
	e.addPartner("reseller-5357563.onmicrosoft.com", "5357563", "")
	e.addPartner("treyresearch.onmicrosoft.com", "4391507", "3b33e682-00c3-41ee-9dd2-a548adf56438")

	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	var direct, indirect, nceCart, attestedCart, nceSub, addonCart, baseSub, addonSub string
	var order string
	step(
		"create a customer (201, the direct example; the indirect example's companyName, links and "+
			"allowDelegatedAccess allowed)",
		func(t *testing.T) {
			status, body := e.raw("POST", "/v1/customers", docRequest(t, "create-customer.request.json", nil), nil)
			sameShape(t, "create-customer.response.json", 201, status, body,
				[]string{"companyProfile.companyName", "companyProfile.links", "allowDelegatedAccess"}, nil)
			direct = idOf(t, body)
		},
	)
	step("get the customer by ID", func(t *testing.T) {
		status, body := e.raw("GET", "/v1/customers/"+direct, nil, nil)
		sameShape(t, "get-customer.response.json", 200, status, body, nil, nil)
	})
	step("create a customer for an indirect reseller (201)", func(t *testing.T) {
		req := docRequest(t, "create-customer-indirect-reseller.request.json", func(m map[string]any) {
			m["AssociatedPartnerId"] = adatumID
		})
		status, body := e.raw("POST", "/v1/customers", req, nil)
		sameShape(t, "create-customer-indirect-reseller.response.json", 201, status, body, nil, nil)
		indirect = idOf(t, body)
	})
	step("create a new-commerce licence cart (201)", func(t *testing.T) {
		status, body := e.raw("POST", "/v1/customers/"+direct+"/carts",
			docRequest(t, "create-cart-nce.request.json", nil), nil)
		sameShape(t, "create-cart-nce.response.json", 201, status, body, nil, nil)
		nceCart = idOf(t, body)
	})
	step("create a cart with the partner-of-record attestation and additional resellers (201)", func(t *testing.T) {
		status, body := e.raw("POST", "/v1/customers/"+indirect+"/carts",
			docRequest(t, "create-cart-attestation.request.json", nil), nil)
		// The example's first line has no participants; its second has.
		sameShape(t, "create-cart-attestation.response.json", 201, status, body,
			[]string{"lineItems[].participants"}, nil)
		attestedCart = idOf(t, body)
	})
	step("update a cart at the documented path with its trailing slash (201)", func(t *testing.T) {
		status, body := e.raw("PUT", "/v1/customers/"+direct+"/carts/"+nceCart+"/",
			docRequest(t, "update-cart.request.json", nil), nil)
		// The example writes ProvisioningContext where every other answer
		// has provisioningContext; the simulator's attestation rule on this
		// reservation adds an error the example does not have; the example
		// lacks the expiration and status every other cart answer has.
		sameShape(t, "update-cart.response.json", 201, status, body,
			[]string{"lineItems[].provisioningContext", "lineItems[].error", "expirationTimestamp", "status"},
			[]string{"lineItems[].ProvisioningContext"})
		var cart partnercenter.Cart
		_ = json.Unmarshal(body, &cart)
		if pc := cart.LineItems[0].ProvisioningContext; pc["subscriptionId"] == "" || pc["scope"] != "shared" {
			t.Errorf("provisioning context keys as answered: %v", pc)
		}
	})
	step("confirm the customer's acceptance of the MCA (201)", func(t *testing.T) {
		status, body := e.raw("POST", "/v1/customers/"+indirect+"/agreements",
			docRequest(t, "customer-agreement.request.json", nil), nil)
		sameShape(t, "customer-agreement.response.json", 201, status, body, nil, nil)
	})
	step("the same confirmation again is 600061", func(t *testing.T) {
		status, body := e.raw("POST", "/v1/customers/"+indirect+"/agreements",
			docRequest(t, "customer-agreement.request.json", nil), nil)
		sameShape(t, "customer-agreement-already-exists.409.json", 409, status, body, nil, nil)
	})
	step("list the customer's confirmations", func(t *testing.T) {
		status, body := e.raw("GET", "/v1/customers/"+indirect+"/agreements", nil, nil)
		sameShape(t, "customer-agreements.response.json", 200, status, body, []string{"attributes"}, nil)
	})
	step("check out the attested cart (201)", func(t *testing.T) {
		status, body := e.raw("POST", "/v1/customers/"+indirect+"/carts/"+attestedCart+"/checkout", nil, nil)
		// Only the example's second line has a reseller on record.
		sameShape(t, "checkout-cart.response.json", 201, status, body,
			[]string{"orders[].lineItems[].partnerIdOnRecord", "orders[].lineItems[].additionalPartnerIdsOnRecord"},
			nil)
		var res partnercenter.CheckoutResult
		_ = json.Unmarshal(body, &res)
		order = res.Orders[0].ID
		nceSub = res.Orders[0].LineItems[1].SubscriptionID
		if li := res.Orders[0].LineItems[1]; li.PartnerIDOnRecord != "5357564" ||
			strings.Join(li.AdditionalPartnerIDsOnRecord, ",") != "517285,5357563" {
			t.Errorf("partners on record = %+v", li)
		}
	})
	step("get the order (the example is a reservation order: new-commerce keys allowed)", func(t *testing.T) {
		status, body := e.raw("GET", "/v1/customers/"+indirect+"/orders/"+order, nil, nil)
		sameShape(t, "get-order.response.json", 200, status, body, []string{
			"alternateId", "transactionType", "client", "links.patchOperation",
			"lineItems[].subscriptionId", "lineItems[].termDuration", "lineItems[].transactionType",
			"lineItems[].partnerIdOnRecord", "lineItems[].additionalPartnerIdsOnRecord", "lineItems[].links.product",
			"lineItems[].links.availability",
		}, nil)
	})
	e.advance(2 * time.Minute)
	step("the order's provisioning status once provisioned", func(t *testing.T) {
		status, body := e.raw("GET", "/v1/customers/"+indirect+"/orders/"+order+"/provisioningstatus", nil, nil)
		sameShape(t, "order-provisioning-status.response.json", 200, status, body, nil, nil)
	})
	step("get the new-commerce subscription", func(t *testing.T) {
		status, body := e.raw("GET", "/v1/customers/"+indirect+"/subscriptions/"+nceSub, nil, nil)
		sameShape(t, "get-subscription-nce.response.json", 200, status, body,
			[]string{"cancellationAllowedUntilDate"}, nil)
	})
	step(
		"list the customer's subscriptions (the example is a software subscription, without refund options)",
		func(t *testing.T) {
			status, body := e.raw("GET", "/v1/customers/"+indirect+"/subscriptions", nil, nil)
			sameShape(t, "subscriptions-list.response.json", 200, status, body, []string{"items[].refundOptions"}, nil)
		},
	)
	step("make the example's indirect reseller the subscription's support contact", func(t *testing.T) {
		status, body := e.raw("PUT", "/v1/customers/"+indirect+"/subscriptions/"+nceSub+"/supportcontact",
			docRequest(t, "update-support-contact.request.json", nil), nil)
		sameShape(t, "update-support-contact.response.json", 200, status, body, nil, nil)
	})
	step("create a cart with add-ons for a new base subscription (201)", func(t *testing.T) {
		status, body := e.raw("POST", "/v1/customers/"+indirect+"/carts",
			docRequest(t, "create-cart-addons.request.json", nil), nil)
		sameShape(t, "create-cart-addons.response.json", 201, status, body,
			[]string{"lineItems[].provisioningContext", "lineItems[].addonItems[].provisioningContext"}, nil)
		addonCart = idOf(t, body)
		status, body = e.raw("POST", "/v1/customers/"+indirect+"/carts/"+addonCart+"/checkout", nil, nil)
		if status != 201 {
			t.Fatalf("checkout: %d %s", status, body)
		}
		var res partnercenter.CheckoutResult
		_ = json.Unmarshal(body, &res)
		if len(res.Orders) != 1 || len(res.Orders[0].LineItems) != 3 {
			t.Fatalf("orders = %+v", res.Orders)
		}
		baseSub, addonSub = res.Orders[0].LineItems[0].SubscriptionID, res.Orders[0].LineItems[1].SubscriptionID
	})
	e.advance(2 * time.Minute)
	step("get the add-on subscription (new-commerce keys allowed)", func(t *testing.T) {
		status, body := e.raw("GET", "/v1/customers/"+indirect+"/subscriptions/"+addonSub, nil, nil)
		sameShape(t, "get-subscription-addon.response.json", 200, status, body, []string{
			"productType", "hasPurchasableAddons", "isTrial", "billingCycle", "renewalTermDuration",
			"isMicrosoftProduct", "partnerId", "attentionNeeded", "actionTaken", "publisherName",
		}, nil)
		var sub partnercenter.Subscription
		_ = json.Unmarshal(body, &sub)
		if sub.ParentSubscriptionID != baseSub {
			t.Errorf("parent = %s, want %s", sub.ParentSubscriptionID, baseSub)
		}
	})
	step("create a cart with an add-on for the existing base subscription (201)", func(t *testing.T) {
		req := docRequest(t, "create-cart-addon-existing.request.json", func(m map[string]any) {
			m["LineItems"].([]any)[0].(map[string]any)["ProvisioningContext"] = map[string]any{
				"ParentSubscriptionId": baseSub,
			}
		})
		status, body := e.raw("POST", "/v1/customers/"+indirect+"/carts", req, nil)
		sameShape(t, "create-cart-addon-existing.response.json", 201, status, body, nil, nil)
	})
}

func TestSimCatalogRefusals(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	in := newCustomer("catalogue")
	in.AssociatedPartnerID = adatumID
	cust, err := e.c.CreateCustomer(rid("create"), in)
	if err != nil {
		t.Fatal(err)
	}
	attest(t, e, cust.ID)
	li := func(item string, qty int, cycle, term string) partnercenter.CartLineItem {
		return partnercenter.CartLineItem{CatalogItemID: item, Quantity: qty, BillingCycle: cycle, TermDuration: term}
	}
	cartOf := func(lines ...partnercenter.CartLineItem) (partnercenter.Cart, error) {
		return e.c.CreateCart(rid("cart"), cust.ID, partnercenter.Cart{LineItems: lines})
	}
	buy := func(lines ...partnercenter.CartLineItem) (partnercenter.CheckoutResult, error) {
		c, err := cartOf(lines...)
		if err != nil {
			return partnercenter.CheckoutResult{}, err
		}
		return e.c.CheckoutCart(rid("checkout"), cust.ID, c.ID)
	}
	e3 := li(sim.CatalogM365E3, 5, "Monthly", "P1Y")
	res, err := buy(e3, li(sim.CatalogAzurePlan, 1, "none", ""), li(sim.CatalogLegacyBase, 2, "annual", ""))
	if err != nil || len(res.Orders) != 3 {
		t.Fatalf("licences, Azure plan and a base offer in one cart: %+v, err %v", res, err)
	}
	e.advance(2 * time.Minute)
	subs, err := e.c.ListSubscriptions(ctx, cust.ID)
	if err != nil || len(subs) != 3 {
		t.Fatalf("subscriptions = %+v, err %v", subs, err)
	}
	byOffer := map[string]partnercenter.Subscription{}
	for _, s := range subs {
		byOffer[s.OfferID] = s
	}
	if s := byOffer[sim.CatalogAzurePlan]; s.BillingType != "usage" || s.UnitType != "Usage-based" || s.Quantity != 1 ||
		s.BillingCycle != partnercenter.BillingCycleNone {
		t.Errorf("Azure plan subscription = %+v", s)
	}
	if s := byOffer[sim.CatalogM365E3]; s.BillingType != "license" ||
		s.BillingCycle != partnercenter.BillingCycleMonthly || s.TermDuration != "P1Y" ||
		!s.CommitmentEndDate.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)) || len(s.RefundOptions) != 1 {
		t.Errorf("E3 subscription = %+v", s)
	}
	base := byOffer[sim.CatalogLegacyBase]

	lineErrors := []struct {
		name string
		line partnercenter.CartLineItem
		code int
	}{
		{
			"an unknown catalog item is 10001",
			li("NOPE:0001:NOPE", 1, "monthly", "P1M"), partnercenter.CodeInvalidCatalogItem,
		},
		{
			"Business Basic above its 300 seats is 10002",
			li(sim.CatalogM365BusinessBasic, 301, "monthly", "P1M"), partnercenter.CodeQuantityOutOfRange,
		},
		{
			"an Azure plan with a quantity of 2 is 10002",
			li(sim.CatalogAzurePlan, 2, "none", ""), partnercenter.CodeQuantityOutOfRange,
		},
		{
			"an Azure plan billed monthly is 10010",
			li(sim.CatalogAzurePlan, 1, "monthly", ""), partnercenter.CodeCartInvalidInput,
		},
		{
			"a one-month term billed annually is 10010",
			li(sim.CatalogM365E3, 1, "annual", "P1M"), partnercenter.CodeCartInvalidInput,
		},
		{
			"a reservation without attestation is 10012",
			li(sim.CatalogReservation, 1, "one_time", "P1Y"), partnercenter.CodeAttestationNotAccepted,
		},
		{
			"an add-on without a parent is 10010",
			li(sim.CatalogLegacyAddonA, 1, "monthly", ""), partnercenter.CodeCartInvalidInput,
		},
		{"an add-on for a subscription the customer does not have is 10007", func() partnercenter.CartLineItem {
			l := li(sim.CatalogLegacyAddonA, 1, "monthly", "")
			l.ProvisioningContext = map[string]string{"parentSubscriptionId": "00000000-0000-4000-8000-000000000000"}
			return l
		}(), partnercenter.CodeCartSubscriptionNotValid},
	}
	for _, tt := range lineErrors {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cartOf(tt.line)
			if err != nil || c.LineItems[0].Error == nil || c.LineItems[0].Error.ErrorCode != tt.code {
				t.Fatalf("cart = %+v, err %v", c, err)
			}
			_, err = e.c.CheckoutCart(rid("checkout"), cust.ID, c.ID)
			wantCode(t, err, 400, partnercenter.CodeCartItemErrors)
			var pe *partnercenter.Error
			if errors.As(err, &pe); len(pe.Data) != 1 || !strings.Contains(pe.Data[0], "Line item 0") {
				t.Errorf("data = %q", pe.Data)
			}
		})
	}
	t.Run("an add-on for its base subscription is sold, and names the parent", func(t *testing.T) {
		l := li(sim.CatalogLegacyAddonB, 3, "monthly", "")
		l.ProvisioningContext = map[string]string{"ParentSubscriptionId": strings.ToUpper(base.ID)}
		res, err := buy(l)
		if err != nil {
			t.Fatal(err)
		}
		e.advance(2 * time.Minute)
		sub, err := e.c.GetSubscription(ctx, cust.ID, res.Orders[0].LineItems[0].SubscriptionID)
		if err != nil || !strings.EqualFold(sub.ParentSubscriptionID, base.ID) || sub.Links.ParentSubscription == nil {
			t.Errorf("add-on = %+v, err %v", sub, err)
		}
	})
	requestErrors := []struct {
		name   string
		lines  []partnercenter.CartLineItem
		status int
		code   int
	}{
		{
			"an add-on for a subscription of another product is 800029",
			[]partnercenter.CartLineItem{func() partnercenter.CartLineItem {
				l := li(sim.CatalogLegacyAddonA, 1, "monthly", "")
				l.ProvisioningContext = map[string]string{"parentSubscriptionId": byOffer[sim.CatalogM365E3].ID}
				return l
			}()},
			400, partnercenter.CodeAddonNotRelated,
		},
		{
			"an add-on nested under a product it does not belong to is 800029",
			[]partnercenter.CartLineItem{func() partnercenter.CartLineItem {
				l := li(sim.CatalogM365E3, 1, "monthly", "P1M")
				l.AddonItems = []partnercenter.CartLineItem{li(sim.CatalogLegacyAddonA, 1, "monthly", "")}
				return l
			}()},
			400, partnercenter.CodeAddonNotRelated,
		},
		{
			"more than five additional resellers is 800002",
			[]partnercenter.CartLineItem{func() partnercenter.CartLineItem {
				l := li(sim.CatalogM365E3, 1, "monthly", "P1M")
				l.Participants = []partnercenter.Participant{{
					Key:   partnercenter.ParticipantTransactionReseller,
					Value: "1234567",
				}}
				for range 6 {
					l.Participants = append(l.Participants, partnercenter.Participant{
						Key:   partnercenter.ParticipantAdditionalTransactionReseller,
						Value: "1234567",
					})
				}
				return l
			}()},
			400, partnercenter.CodeInvalidRequestInput,
		},
		{
			"an additional reseller that is not partnered is 800016",
			[]partnercenter.CartLineItem{func() partnercenter.CartLineItem {
				l := li(sim.CatalogM365E3, 1, "monthly", "P1M")
				l.Participants = []partnercenter.Participant{{
					Key:   partnercenter.ParticipantAdditionalTransactionReseller,
					Value: "3456789",
				}}
				return l
			}()},
			400, partnercenter.CodeNotIndirectReseller,
		},
	}
	for _, tt := range requestErrors {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cartOf(tt.lines...)
			wantCode(t, err, tt.status, tt.code)
		})
	}
	t.Run("a second Azure plan is 403 800089 at checkout", func(t *testing.T) {
		_, err := buy(li(sim.CatalogAzurePlan, 1, "none", ""))
		wantCode(t, err, 403, partnercenter.CodeAssetLimitExceeded)
	})
	t.Run("two Azure plans in one cart for a new customer are 403 800089", func(t *testing.T) {
		other, err := e.c.CreateCustomer(rid("create"), newCustomer("twoplans"))
		if err != nil {
			t.Fatal(err)
		}
		attest(t, e, other.ID)
		c, err := e.c.CreateCart(rid("cart"), other.ID, partnercenter.Cart{LineItems: []partnercenter.CartLineItem{
			li(sim.CatalogAzurePlan, 1, "none", ""),
			li(sim.CatalogAzurePlan, 1, "none", ""),
		}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.c.CheckoutCart(rid("checkout"), other.ID, c.ID)
		wantCode(t, err, 403, partnercenter.CodeAssetLimitExceeded)
	})
	t.Run("a reseller removed after the cart was made is refused at checkout", func(t *testing.T) {
		l := li(sim.CatalogM365E3, 1, "monthly", "P1M")
		l.Participants = []partnercenter.Participant{{
			Key:   partnercenter.ParticipantTransactionReseller,
			Value: "1234567",
		}}
		c, err := cartOf(l)
		if err != nil {
			t.Fatal(err)
		}
		if st, body := e.post("/sim/partner-actions/remove-reseller", map[string]string{
			"providerId":       sim.DefaultHomePartner.TenantID,
			"resellerTenantId": adatumID,
		}); st != 200 {
			t.Fatalf("remove reseller: %d %v", st, body)
		}
		_, err = e.c.CheckoutCart(rid("checkout"), cust.ID, c.ID)
		wantCode(t, err, 400, partnercenter.CodeNotIndirectReseller)
	})
}

// attest confirms the MCA for a customer.
func attest(t *testing.T, e *simEnv, customerID string) {
	t.Helper()
	_, err := e.c.CreateCustomerAgreement(rid("mca"), customerID, partnercenter.CustomerAgreement{
		PrimaryContact: partnercenter.Contact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"},
		TemplateID:     sim.MCATemplateID,
		DateAgreed:     partnercenter.NewTime(e.now().Add(-time.Hour)),
		Type:           partnercenter.AgreementTypeMCA,
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSimCheckoutIdempotent(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	cust, err := e.c.CreateCustomer(rid("create"), newCustomer("retrier"))
	if err != nil {
		t.Fatal(err)
	}
	attest(t, e, cust.ID)
	cart, err := e.c.CreateCart(rid("cart"), cust.ID, partnercenter.Cart{LineItems: []partnercenter.CartLineItem{
		{CatalogItemID: sim.CatalogM365BusinessBasic, Quantity: 3, BillingCycle: "monthly", TermDuration: "P1M"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.c.GetCart(ctx, cust.ID, cart.ID)
	if err != nil || got.ID != cart.ID || got.LineItems[0].Quantity != 3 {
		t.Fatalf("get cart = %+v, err %v", got, err)
	}

	checkoutCtx := rid("checkout")
	e.sim.SetFaults(sim.Faults{DropAfterWriteRate: 1})
	_, err = e.c.CheckoutCart(checkoutCtx, cust.ID, cart.ID)
	if !partnercenter.IsRetryable(err) {
		t.Fatalf("dropped checkout: err = %v, want a retryable transport failure", err)
	}
	e.sim.SetFaults(sim.Faults{})
	first, err := e.c.CheckoutCart(checkoutCtx, cust.ID, cart.ID)
	if err != nil || len(first.Orders) != 1 {
		t.Fatalf("retry with the same request ID = %+v, err %v", first, err)
	}
	again, err := e.c.CheckoutCart(rid("checkout-again"), cust.ID, cart.ID)
	if err != nil || len(again.Orders) != 1 || again.Orders[0].ID != first.Orders[0].ID {
		t.Fatalf("a repeat with another request ID = %+v, err %v", again, err)
	}
	e.advance(2 * time.Minute)
	subs, err := e.c.ListSubscriptions(ctx, cust.ID)
	if err != nil || len(subs) != 1 || subs[0].Quantity != 3 || subs[0].OrderID != first.Orders[0].ID {
		t.Fatalf("one order, one subscription: %+v, err %v", subs, err)
	}

	t.Run(
		"with RefuseResubmittedCart a repeat with another request ID is 800065, a retry with the same still "+
			"the first result",
		func(t *testing.T) {
			e := newSimEnvWith(t, func(c *sim.Config) { c.RefuseResubmittedCart = true })
			cust, err := e.c.CreateCustomer(rid("create"), newCustomer("strict"))
			if err != nil {
				t.Fatal(err)
			}
			attest(t, e, cust.ID)
			cart, err := e.c.CreateCart(rid("cart"), cust.ID, partnercenter.Cart{
				LineItems: []partnercenter.CartLineItem{
					{CatalogItemID: sim.CatalogM365E3, Quantity: 1, BillingCycle: "monthly", TermDuration: "P1M"},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := rid("checkout")
			first, err := e.c.CheckoutCart(ctx, cust.ID, cart.ID)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := e.c.CheckoutCart(ctx, cust.ID, cart.ID); err != nil ||
				again.Orders[0].ID != first.Orders[0].ID {
				t.Errorf("same request ID: %+v, err %v", again, err)
			}
			_, err = e.c.CheckoutCart(rid("other"), cust.ID, cart.ID)
			wantCode(t, err, 400, partnercenter.CodeCartAlreadySubmitted)
		},
	)
}

func TestSimProvisioningDelay(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	cust, err := e.c.CreateCustomer(rid("create"), newCustomer("slowpoke"))
	if err != nil {
		t.Fatal(err)
	}
	attest(t, e, cust.ID)
	buy := func() partnercenter.Order {
		t.Helper()
		cart, err := e.c.CreateCart(rid("cart"), cust.ID, partnercenter.Cart{LineItems: []partnercenter.CartLineItem{
			{CatalogItemID: sim.CatalogM365E3, Quantity: 2, BillingCycle: "monthly", TermDuration: "P1M"}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.c.CheckoutCart(rid("checkout"), cust.ID, cart.ID)
		if err != nil {
			t.Fatal(err)
		}
		return res.Orders[0]
	}
	status := func(o partnercenter.Order) (string, partnercenter.OrderProvisioningStatus) {
		t.Helper()
		got, err := e.c.GetOrder(ctx, cust.ID, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := e.c.GetOrderProvisioningStatus(ctx, cust.ID, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status, ps
	}
	e.sim.SetProvisioningDelay(10 * time.Minute)
	slow := buy()
	if st, body := e.post("/sim/provisioning", map[string]string{"delay": "30s"}); st != 200 || body["delay"] != "30s" {
		t.Fatalf("set delay: %d %v", st, body)
	}
	fast := buy()
	e.advance(time.Minute)
	if st, ps := status(slow); st != partnercenter.OrderStatusPending || ps.Fulfilled() ||
		ps.Items[0].Status != partnercenter.ProvisioningPrefulfillmentPending {
		t.Errorf("slow order after a minute: %s %+v", st, ps)
	}
	if st, ps := status(fast); st != partnercenter.OrderStatusCompleted || !ps.Fulfilled() ||
		ps.Items[0].QuantityProvisioningInformation[0].Quantity != 2 {
		t.Errorf("fast order after a minute: %s %+v", st, ps)
	}
	if _, err := e.c.GetSubscription(
		ctx, cust.ID, slow.LineItems[0].SubscriptionID,
	); !partnercenter.IsCode(err, partnercenter.CodeSubscriptionNotFound) {
		t.Errorf("the slow order's subscription before provisioning: err = %v", err)
	}
	e.advance(10 * time.Minute)
	if st, ps := status(slow); st != partnercenter.OrderStatusCompleted || !ps.Fulfilled() {
		t.Errorf("slow order after ten minutes: %s %+v", st, ps)
	}
	if sub, err := e.c.GetSubscription(ctx, cust.ID, slow.LineItems[0].SubscriptionID); err != nil ||
		sub.Status != partnercenter.SubscriptionStatusActive {
		t.Errorf("the slow order's subscription: %+v, err %v", sub, err)
	}
}

func TestSimCustomerFields(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	in := newCustomer("fields")
	in.BillingProfile.DefaultAddress.FirstName, in.BillingProfile.DefaultAddress.LastName = "Grace", "Hopper"
	in.BillingProfile.Culture = "EN-US"
	created, err := e.c.CreateCustomer(rid("create"), in)
	if err != nil {
		t.Fatal(err)
	}
	if created.DelegatedAccess() || created.AllowDelegatedAccess == nil || created.BillingProfile.Culture != "en-US" ||
		created.BillingProfile.Attributes.Etag == "" || len(created.UserCredentials.Password) < 12 ||
		created.UserCredentials.UserName != "admin" {
		t.Errorf("created = %+v", created)
	}
	got, err := e.c.GetCustomer(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserCredentials != nil || len(got.CustomDomains) != 1 || got.CustomDomains[0] != "fields.onmicrosoft.com" ||
		got.Links == nil || got.BillingProfile.FirstName != "Grace" ||
		got.BillingProfile.Attributes.Etag != created.BillingProfile.Attributes.Etag ||
		got.CompanyProfile.Address == nil || got.CompanyProfile.Address.City != "Redmond" ||
		got.CompanyProfile.Email != in.BillingProfile.Email {
		t.Errorf("read back = %+v", got)
	}

	t.Run(
		"a retried create with the same request ID returns the first customer, even with another body",
		func(t *testing.T) {
			ctx := rid("create-twice")
			first, err := e.c.CreateCustomer(ctx, newCustomer("twice-a"))
			if err != nil {
				t.Fatal(err)
			}
			second, err := e.c.CreateCustomer(ctx, newCustomer("twice-b"))
			if err != nil || second.ID != first.ID || second.UserCredentials == nil ||
				second.UserCredentials.Password != first.UserCredentials.Password {
				t.Errorf("second = %+v, err %v", second, err)
			}
			if found, _ := e.c.FindCustomersByDomain(context.Background(), "twice-b"); len(found) != 0 {
				t.Errorf("a second tenant: %+v", found)
			}
		},
	)
	t.Run("enableGDAPByDefault false is sent and recorded; omitted reads as true", func(t *testing.T) {
		var sent map[string]any
		capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &sent)
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"x"}`))
		}))
		defer capture.Close()
		c, err := partnercenter.New(testConfig(t, capture.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateCustomer(rid("create"), newCustomer("nogdap")); err != nil {
			t.Fatal(err)
		}
		if v, ok := sent["enableGDAPByDefault"]; !ok || v != false {
			t.Errorf("sent enableGDAPByDefault = %v (present %v)", v, ok)
		}
		noGDAP, err := e.c.CreateCustomer(rid("create"), newCustomer("nogdap"))
		if err != nil {
			t.Fatal(err)
		}
		tenant := simTenant(t, e, noGDAP.ID)
		if tenant["enableGDAPByDefault"] != nil {
			t.Errorf("false recorded as %v", tenant["enableGDAPByDefault"])
		}
		status, body := e.raw("POST", "/v1/customers",
			docRequest(t, "create-customer.request.json", func(m map[string]any) {
				m["CompanyProfile"] = map[string]any{"Domain": "omitted.onmicrosoft.com"}
			}), nil)
		if status != 201 {
			t.Fatalf("create without the flag: %d %s", status, body)
		}
		if tenant := simTenant(t, e, idOf(t, body)); tenant["enableGDAPByDefault"] != true {
			t.Errorf("omitted recorded as %v", tenant["enableGDAPByDefault"])
		}
	})
	t.Run("countries that need a registration number answer 600049, 600051 and 600002", func(t *testing.T) {
		ua := newCustomer("ukraine")
		ua.BillingProfile.DefaultAddress.Country = "UA"
		_, err := e.c.CreateCustomer(rid("ua"), ua)
		wantCode(t, err, 400, partnercenter.CodeOrgRegistrationMissing)
		ua.CompanyProfile.OrganizationRegistrationNumber = "1234567"
		_, err = e.c.CreateCustomer(rid("ua"), ua)
		wantCode(t, err, 400, partnercenter.CodePhoneNumberMissing)
		us := newCustomer("usreg")
		us.CompanyProfile.OrganizationRegistrationNumber = "1234567"
		_, err = e.c.CreateCustomer(rid("us"), us)
		wantCode(t, err, 400, partnercenter.CodeOrgRegistrationNotSupported)
	})
	t.Run("a changed phone number makes a second attestation; the same contact is 600061", func(t *testing.T) {
		a := partnercenter.CustomerAgreement{
			PrimaryContact: partnercenter.Contact{
				FirstName:   "Ada",
				LastName:    "Lovelace",
				Email:       "ada@example.com",
				PhoneNumber: "1",
			},
			TemplateID: sim.MCATemplateID,
			DateAgreed: partnercenter.NewTime(e.now().Add(-time.Hour)),
			Type:       partnercenter.AgreementTypeMCA,
		}
		first, err := e.c.CreateCustomerAgreement(rid("mca"), created.ID, a)
		if err != nil || first.UserID == "" {
			t.Fatalf("first = %+v, err %v", first, err)
		}
		a.DateAgreed = partnercenter.NewTime(e.now().Add(-time.Minute))
		_, err = e.c.CreateCustomerAgreement(rid("mca"), created.ID, a)
		wantCode(t, err, 409, partnercenter.CodeAgreementAlreadyExists)
		var pe *partnercenter.Error
		if errors.As(err, &pe); pe.ErrorName != "PartnerConfirmedAgreementAlreadyExists" {
			t.Errorf("error name = %q", pe.ErrorName)
		}
		a.PrimaryContact.PhoneNumber = "2"
		if _, err := e.c.CreateCustomerAgreement(rid("mca"), created.ID, a); err != nil {
			t.Fatal(err)
		}
		list, err := e.c.ListCustomerAgreements(ctx, created.ID)
		if err != nil || len(list) != 2 || list[0].AgreementLink == "" || list[0].UserID != "" {
			t.Errorf("agreements = %+v, err %v", list, err)
		}
	})
}

// simTenant reads a tenant through the simulator's admin API.
func simTenant(t *testing.T, e *simEnv, id string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(fetch(t, e.srv.URL+"/sim/tenants/"+id), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSimUSGovernmentCustomer(t *testing.T) {
	e := newSimEnv(t, "")
	st, body := e.post("/sim/tenants", map[string]any{
		"domain":      "agency.onmicrosoft.us",
		"country":     "US",
		"companyName": "Agency",
		"cloud":       "usgov",
		"users":       []map[string]any{{"upn": "admin@agency.onmicrosoft.us", "globalAdmin": true}},
	})
	if st != 201 {
		t.Fatalf("add tenant: %d %v", st, body)
	}
	id := body["tenantId"].(string)
	if got := simTenant(t, e, id); got["cloud"] != sim.CloudUSGov {
		t.Errorf("tenant = %v", got)
	}
	if st, body := e.post("/sim/tenants", map[string]any{
		"domain":      "x.onmicrosoft.com",
		"country":     "US",
		"companyName": "X",
		"cloud":       "mars",
	}); st != 400 {
		t.Errorf("unknown cloud: %d %v", st, body)
	}
	if st, body := e.post("/sim/customer-actions/accept-reseller", map[string]string{
		"domain":    "agency.onmicrosoft.us",
		"partnerId": sim.DefaultHomePartner.TenantID,
		"upn":       "admin@agency.onmicrosoft.us",
	}); st != 200 {
		t.Fatalf("accept: %d %v", st, body)
	}
	_, err := e.c.CreateCustomerAgreement(rid("mca"), id, partnercenter.CustomerAgreement{
		PrimaryContact: partnercenter.Contact{FirstName: "A", LastName: "B", Email: "a@agency.gov"},
		TemplateID:     sim.MCATemplateID,
		DateAgreed:     partnercenter.NewTime(e.now().Add(-time.Hour)),
		Type:           partnercenter.AgreementTypeMCA,
	})
	wantCode(t, err, 400, 0)
	cart, err := e.c.CreateCart(rid("cart"), id, partnercenter.Cart{LineItems: []partnercenter.CartLineItem{
		{CatalogItemID: sim.CatalogM365E3, Quantity: 1, BillingCycle: "monthly", TermDuration: "P1M"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CheckoutCart(rid("checkout"), id, cart.ID); err != nil {
		t.Errorf("a US Government customer's checkout needs no MCA confirmation: %v", err)
	}
}

// moreErrorTableCalls are simulator calls answering the onboarding codes of
// Microsoft's error table beyond the reseller and MCA ones, for
// TestSimErrorStatusesFollowTheErrorTable; customerID is a customer
// associated with a reseller whose MCA is not confirmed yet.
func moreErrorTableCalls(t *testing.T, e *simEnv, customerID string) map[int]func() error {
	ctx := context.Background()
	line := func(item string, qty int, cycle, term string) partnercenter.CartLineItem {
		return partnercenter.CartLineItem{CatalogItemID: item, Quantity: qty, BillingCycle: cycle, TermDuration: term}
	}
	// attested returns a customer with a confirmed MCA.
	attested := func(domain string) string {
		c, err := e.c.CreateCustomer(rid("create"), newCustomer(domain))
		if err != nil {
			t.Fatal(err)
		}
		attest(t, e, c.ID)
		return c.ID
	}
	checkout := func(cust string, lines ...partnercenter.CartLineItem) error {
		c, err := e.c.CreateCart(rid("cart"), cust, partnercenter.Cart{LineItems: lines})
		if err != nil {
			return err
		}
		_, err = e.c.CheckoutCart(rid("checkout"), cust, c.ID)
		return err
	}
	country := func(cc, reg string) error {
		in := newCustomer("reg-" + strings.ToLower(cc) + "-" + reg)
		in.BillingProfile.DefaultAddress.Country = cc
		in.CompanyProfile.OrganizationRegistrationNumber = reg
		_, err := e.c.CreateCustomer(rid("create"), in)
		return err
	}
	return map[int]func() error{
		partnercenter.CodeOrderNotFound: func() error {
			_, err := e.c.GetOrder(ctx, customerID, "000000000000")
			return err
		},
		partnercenter.CodeSubscriptionNotFound: func() error {
			_, err := e.c.GetSubscription(ctx, customerID, "00000000-0000-4000-8000-000000000000")
			return err
		},
		partnercenter.CodeOrgRegistrationNotSupported: func() error { return country("US", "123") },
		partnercenter.CodeOrgRegistrationMissing:      func() error { return country("AM", "") },
		partnercenter.CodePhoneNumberMissing:          func() error { return country("KZ", "123456789012") },
		partnercenter.CodeInvalidRequestInput: func() error {
			l := line(sim.CatalogM365E3, 1, "monthly", "P1M")
			for range partnercenter.MaxAdditionalResellers + 1 {
				l.Participants = append(l.Participants, partnercenter.Participant{
					Key:   partnercenter.ParticipantAdditionalTransactionReseller,
					Value: "1234567",
				})
			}
			_, err := e.c.CreateCart(rid("cart"), customerID, partnercenter.Cart{
				LineItems: []partnercenter.CartLineItem{l},
			})
			return err
		},
		partnercenter.CodeCartItemErrors: func() error {
			return checkout(attested("itemerrors"), line("NOPE:0001:NOPE", 1, "monthly", "P1M"))
		},
		partnercenter.CodeAddonNotRelated: func() error {
			l := line(sim.CatalogM365E3, 1, "monthly", "P1M")
			l.AddonItems = []partnercenter.CartLineItem{line(sim.CatalogLegacyAddonA, 1, "monthly", "")}
			_, err := e.c.CreateCart(rid("cart"), customerID, partnercenter.Cart{
				LineItems: []partnercenter.CartLineItem{l},
			})
			return err
		},
		partnercenter.CodeCartAlreadySubmitted: func() error {
			strict := newSimEnvWith(t, func(c *sim.Config) { c.RefuseResubmittedCart = true })
			cust, err := strict.c.CreateCustomer(rid("create"), newCustomer("resubmitted"))
			if err != nil {
				return err
			}
			attest(t, strict, cust.ID)
			c, err := strict.c.CreateCart(rid("cart"), cust.ID, partnercenter.Cart{
				LineItems: []partnercenter.CartLineItem{line(sim.CatalogM365E3, 1, "monthly", "P1M")},
			})
			if err != nil {
				return err
			}
			if _, err := strict.c.CheckoutCart(rid("checkout"), cust.ID, c.ID); err != nil {
				return err
			}
			_, err = strict.c.CheckoutCart(rid("checkout"), cust.ID, c.ID)
			return err
		},
		partnercenter.CodeAssetLimitExceeded: func() error {
			return checkout(
				attested("twoazureplans"),
				line(sim.CatalogAzurePlan, 1, "none", ""),
				line(sim.CatalogAzurePlan, 1, "none", ""),
			)
		},
	}
}
