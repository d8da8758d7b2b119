package partnercenter_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// nceSubscription buys 10 seats of Microsoft 365 E3 for a new customer of Adatum (PartnerID
// 1234567) and returns the customer ID and the provisioned subscription.
func (e *simEnv) nceSubscription(name string) (string, partnercenter.Subscription) {
	e.t.Helper()
	cust, sub := e.bought(name, partnercenter.CartLineItem{
		CatalogItemID: sim.CatalogM365E3, Quantity: 10, BillingCycle: "monthly", TermDuration: "P1M",
		Participants: []partnercenter.Participant{
			{Key: partnercenter.ParticipantTransactionReseller, Value: "1234567"},
		},
	})
	if sub.Quantity != 10 || sub.PartnerID != "1234567" {
		e.t.Fatalf("subscription = %+v", sub)
	}
	return cust, sub
}

// bought creates a customer of Adatum with an attested MCA, checks out one line for it and
// returns the customer ID and the provisioned subscription.
func (e *simEnv) bought(name string, line partnercenter.CartLineItem) (string, partnercenter.Subscription) {
	e.t.Helper()
	in := newCustomer(name)
	in.AssociatedPartnerID = adatumID
	cust, err := e.c.CreateCustomer(rid(name), in)
	if err != nil {
		e.t.Fatal(err)
	}
	cart, err := e.c.CreateCart(rid(name+"-cart"), cust.ID, partnercenter.Cart{
		LineItems: []partnercenter.CartLineItem{line},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	attest(e.t, e, cust.ID)
	if _, err := e.c.CheckoutCart(rid(name+"-checkout"), cust.ID, cart.ID); err != nil {
		e.t.Fatal(err)
	}
	e.advance(2 * time.Minute)
	subs, err := e.c.ListSubscriptions(context.Background(), cust.ID)
	if err != nil || len(subs) != 1 {
		e.t.Fatalf("subscriptions = %+v, err %v", subs, err)
	}
	return cust.ID, subs[0]
}

// subscriptionErrorTableCalls are calls of "Update a subscription by ID" that produce the error
// table's codes, for TestSimErrorStatusesFollowTheErrorTable; each works on its own subscription.
func subscriptionErrorTableCalls(e *simEnv) map[int]func() error {
	patch := func(name string, change func(*partnercenter.Subscription)) func() error {
		return func() error {
			cust, sub := e.nceSubscription(name)
			change(&sub)
			_, err := e.c.UpdateSubscription(rid(name+"-patch"), cust, sub)
			return err
		}
	}
	late := func(name string, change func(*partnercenter.Subscription)) func() error {
		return func() error {
			cust, sub := e.nceSubscription(name)
			e.advance(8 * 24 * time.Hour)
			change(&sub)
			_, err := e.c.UpdateSubscription(rid(name+"-patch"), cust, sub)
			return err
		}
	}
	return map[int]func() error{
		partnercenter.CodeSubscriptionQuantityOutOfRange: patch("range", func(s *partnercenter.Subscription) {
			s.Quantity = -1
		}),
		partnercenter.CodeBillingCycleNotUpdatable: patch("cycle", func(s *partnercenter.Subscription) {
			s.BillingCycle = "annual"
		}),
		partnercenter.CodeProviderNotPartnerOfRecord: patch("provider", func(s *partnercenter.Subscription) {
			s.PartnerID = sim.DefaultHomePartner.MPNID
		}),
		partnercenter.CodeSeatReductionWindowPassed: late("reduce", func(s *partnercenter.Subscription) {
			s.Quantity = 1
		}),
		partnercenter.CodeCancellationWindowPassed: late("cancel", func(s *partnercenter.Subscription) {
			s.Status = partnercenter.SubscriptionStatusDeleted
		}),
		partnercenter.CodeSubscriptionDeleted: func() error {
			cust, sub := e.nceSubscription("deleted")
			sub.Status = partnercenter.SubscriptionStatusDeleted
			if _, err := e.c.UpdateSubscription(rid("deleted-cancel"), cust, sub); err != nil {
				return err
			}
			_, err := e.c.UpdateSubscription(rid("deleted-patch"), cust, sub)
			return err
		},
		partnercenter.CodeSubscriptionSuspended: func() error {
			cust, sub := e.nceSubscription("suspended")
			sub.Status = partnercenter.SubscriptionStatusSuspended
			if _, err := e.c.UpdateSubscription(rid("suspended-suspend"), cust, sub); err != nil {
				return err
			}
			sub.Quantity = 3
			_, err := e.c.UpdateSubscription(rid("suspended-patch"), cust, sub)
			return err
		},
		partnercenter.CodeSeatsNotUpdatable: func() error {
			cust, sub := e.bought("usage", partnercenter.CartLineItem{
				CatalogItemID: sim.CatalogAzurePlan, Quantity: 1, BillingCycle: "none",
			})
			sub.Quantity = 2
			_, err := e.c.UpdateSubscription(rid("usage-patch"), cust, sub)
			return err
		},
	}
}

// TestSimUpdatesSubscriptionsAsPartnerCenterDoes drives "Update a subscription by ID" through
// the client: seats up at any time and down only inside the new-commerce window, cancel only
// inside it, suspend and reactivate, auto-renew, the partner of record checked on every seat or
// partner change, and the error table's refusals.
func TestSimUpdatesSubscriptionsAsPartnerCenterDoes(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	e.addPartner("fourthcoffee.onmicrosoft.com", "4567890", "")
	cust, sub := e.nceSubscription("seats")
	update := func(name string, change func(*partnercenter.Subscription)) (partnercenter.Subscription, error) {
		t.Helper()
		cur, err := e.c.GetSubscription(ctx, cust, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		change(&cur)
		return e.c.UpdateSubscription(rid(name), cust, cur)
	}
	mustUpdate := func(name string, change func(*partnercenter.Subscription)) partnercenter.Subscription {
		t.Helper()
		got, err := update(name, change)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if again, _ := e.c.GetSubscription(ctx, cust, sub.ID); again.Quantity != got.Quantity ||
			again.Status != got.Status || again.AutoRenewEnabled != got.AutoRenewEnabled ||
			again.PartnerID != got.PartnerID {
			t.Fatalf("%s: answered %+v, kept %+v", name, got, again)
		}
		return got
	}

	if got := mustUpdate("more", func(s *partnercenter.Subscription) { s.Quantity = 12 }); got.Quantity != 12 {
		t.Fatalf("seats up: %d", got.Quantity)
	}
	if got := mustUpdate("fewer", func(s *partnercenter.Subscription) { s.Quantity = 8 }); got.Quantity != 8 {
		t.Fatalf("seats down inside the window: %d", got.Quantity)
	}
	refusals := []struct {
		name         string
		change       func(*partnercenter.Subscription)
		status, code int
	}{
		{"no seats is out of range (2002)", func(s *partnercenter.Subscription) { s.Quantity = -1 }, 400,
			partnercenter.CodeSubscriptionQuantityOutOfRange},
		{"over the offer's maximum is out of range (2002)", func(s *partnercenter.Subscription) { s.Quantity = 1e7 },
			400, partnercenter.CodeSubscriptionQuantityOutOfRange},
		{"the billing cycle changes with the order (2054)",
			func(s *partnercenter.Subscription) { s.BillingCycle = "annual" }, 400,
			partnercenter.CodeBillingCycleNotUpdatable},
		{"a status the partner cannot set (800002)", func(s *partnercenter.Subscription) { s.Status = "expired" }, 400,
			partnercenter.CodeInvalidRequestInput},
		{"the provider itself cannot be partner of record (2072)",
			func(s *partnercenter.Subscription) { s.PartnerID = sim.DefaultHomePartner.MPNID }, 404,
			partnercenter.CodeProviderNotPartnerOfRecord},
		{"an unknown PartnerID (800015)", func(s *partnercenter.Subscription) { s.PartnerID = "9999999" }, 404,
			partnercenter.CodeResellerNotFound},
		{"a reseller not partnered with the provider (800016)",
			func(s *partnercenter.Subscription) { s.PartnerID = "3456789" }, 400,
			partnercenter.CodeNotIndirectReseller},
		{"a reseller without the partner agreement (900123)",
			func(s *partnercenter.Subscription) { s.PartnerID = "2345678" }, 403,
			partnercenter.CodeResellerAgreementNotAccepted},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := update("refused", tc.change)
			wantCode(t, err, tc.status, tc.code)
			if got, _ := e.c.GetSubscription(ctx, cust, sub.ID); got.Quantity != 8 || got.PartnerID != "1234567" ||
				got.BillingCycle != "monthly" || got.Status != partnercenter.SubscriptionStatusActive {
				t.Fatalf("a refused update changed the subscription: %+v", got)
			}
		})
	}
	t.Run("another authorized reseller becomes partner of record", func(t *testing.T) {
		if got := mustUpdate("move", func(s *partnercenter.Subscription) { s.PartnerID = "4567890" }); got.PartnerID !=
			"4567890" {
			t.Fatalf("partner of record %q", got.PartnerID)
		}
		mustUpdate("back", func(s *partnercenter.Subscription) { s.PartnerID = "1234567" })
	})
	t.Run("auto-renew turns off and on", func(t *testing.T) {
		if got := mustUpdate("renew-off", func(s *partnercenter.Subscription) { s.AutoRenewEnabled = false }); got.
			AutoRenewEnabled {
			t.Fatal("auto-renew still on")
		}
		mustUpdate("renew-on", func(s *partnercenter.Subscription) { s.AutoRenewEnabled = true })
	})
	t.Run("a suspended subscription takes no seat change until reactivated", func(t *testing.T) {
		mustUpdate("suspend", func(s *partnercenter.Subscription) {
			s.Status = partnercenter.SubscriptionStatusSuspended
		})
		_, err := update("suspended-seats", func(s *partnercenter.Subscription) { s.Quantity = 9 })
		wantCode(t, err, 400, partnercenter.CodeSubscriptionSuspended)
		got := mustUpdate("reactivate", func(s *partnercenter.Subscription) {
			s.Status, s.Quantity = partnercenter.SubscriptionStatusActive, 9
		})
		if got.Status != partnercenter.SubscriptionStatusActive || got.Quantity != 9 {
			t.Fatalf("reactivated %+v", got)
		}
	})

	e.advance(7*24*time.Hour + time.Minute)
	t.Run("after the window seats go up, not down, and the subscription cannot be cancelled", func(t *testing.T) {
		_, err := update("late-fewer", func(s *partnercenter.Subscription) { s.Quantity = 5 })
		wantCode(t, err, 400, partnercenter.CodeSeatReductionWindowPassed)
		_, err = update("late-cancel", func(s *partnercenter.Subscription) {
			s.Status = partnercenter.SubscriptionStatusDeleted
		})
		wantCode(t, err, 400, partnercenter.CodeCancellationWindowPassed)
		if got := mustUpdate("late-more", func(s *partnercenter.Subscription) { s.Quantity = 11 }); got.Quantity != 11 {
			t.Fatalf("seats up after the window: %d", got.Quantity)
		}
	})
	t.Run("a seat change checks the partner of record again once the partnership is removed", func(t *testing.T) {
		if st, body := e.post("/sim/partner-actions/remove-reseller", map[string]any{
			"providerId": sim.DefaultHomePartner.TenantID, "resellerTenantId": adatumID,
		}); st != 200 {
			t.Fatalf("remove the partnership: %d %v", st, body)
		}
		_, err := update("orphan-seats", func(s *partnercenter.Subscription) { s.Quantity = 12 })
		wantCode(t, err, 400, partnercenter.CodeNotIndirectReseller)
		got := mustUpdate("orphan-moved", func(s *partnercenter.Subscription) {
			s.Quantity, s.PartnerID = 12, "4567890"
		})
		if got.Quantity != 12 || got.PartnerID != "4567890" {
			t.Fatalf("seats with a valid partner of record: %+v", got)
		}
	})
}

// TestSimCancelsInsideTheWindowAndRemovesTheRelationshipOnlyWhenNothingBills: a subscription
// cancelled inside its window is deleted and takes no further update; the reseller relationship
// goes only once no subscription is active and no new-commerce one is merely suspended.
func TestSimCancelsInsideTheWindowAndRemovesTheRelationshipOnlyWhenNothingBills(t *testing.T) {
	e := newSimEnv(t, "")
	cust, sub := e.nceSubscription("leaving")
	sub.Status = partnercenter.SubscriptionStatusSuspended
	if _, err := e.c.UpdateSubscription(rid("suspend"), cust, sub); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.RemoveResellerRelationship(rid("remove-suspended"), cust)
	wantCode(t, err, 400, 0)

	sub.Status = partnercenter.SubscriptionStatusDeleted
	got, err := e.c.UpdateSubscription(rid("cancel"), cust, sub)
	if err != nil || got.Status != partnercenter.SubscriptionStatusDeleted {
		t.Fatalf("cancel inside the window: %+v %v", got, err)
	}
	sub.Status, sub.Quantity = partnercenter.SubscriptionStatusActive, 3
	_, err = e.c.UpdateSubscription(rid("after-cancel"), cust, sub)
	wantCode(t, err, 400, partnercenter.CodeSubscriptionDeleted)

	removed, err := e.c.RemoveResellerRelationship(rid("remove"), cust)
	if err != nil || removed.RelationshipToPartner != partnercenter.RelationshipNone {
		t.Fatalf("remove once nothing bills: %+v %v", removed, err)
	}
}

// TestSimValidatesPartnersOfRecord: "Validate reseller partner of record" answers one result per
// PartnerID, valid only for an authorized indirect reseller of the provider.
func TestSimValidatesPartnersOfRecord(t *testing.T) {
	e := newSimEnv(t, "")
	ids := []string{"1234567", "3456789", "2345678", sim.DefaultHomePartner.MPNID, "9999999"}
	got, err := e.c.ValidateResellers(rid("validate"), ids)
	if err != nil || len(got) != len(ids) {
		t.Fatalf("results %+v, err %v", got, err)
	}
	for i, r := range got {
		valid := i == 0
		if r.PartnerID != ids[i] || r.IsValidPartnerIDOnRecord != valid ||
			(r.ErrorCode == partnercenter.CodeInvalidPartnerOfRecord) == valid || !valid && r.ErrorDescription == "" {
			t.Errorf("%s: %+v", ids[i], r)
		}
	}
	_, err = e.c.ValidateResellers(rid("validate-none"), nil)
	wantCode(t, err, 400, partnercenter.CodeInvalidRequestInput)
}

// TestARenewalAsksForTheSameRolesOrDropsGlobalAdministrator: a relationship's renewal keeps its
// customer, duration and roles; the variant without Global Administrator turns auto-extension on,
// and the simulator (as Graph) takes both, while it refuses auto-extension with Global
// Administrator.
func TestARenewalAsksForTheSameRolesOrDropsGlobalAdministrator(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	ga := partnercenter.GlobalAdministratorRoleID
	old, err := e.c.CreateGDAPRelationship(rid("old"), partnercenter.NewGDAPRelationship{
		DisplayName: "Fabrikam full", Duration: "P365D",
		Customer: &partnercenter.GDAPCustomer{TenantID: fabrikamID},
		AccessDetails: partnercenter.AccessDetails{UnifiedRoles: []partnercenter.UnifiedRole{
			{RoleDefinitionID: helpdesk}, {RoleDefinitionID: ga},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if old, err = e.c.GetGDAPRelationship(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	roles := func(r partnercenter.AccessDetails) (ids []string) {
		for _, u := range r.UnifiedRoles {
			ids = append(ids, u.RoleDefinitionID)
		}
		return ids
	}

	same, ok := old.Renewal("Fabrikam full 2", false)
	if !ok || same.Duration != "P365D" || same.Customer.TenantID != fabrikamID || same.AutoExtendDuration != "" ||
		!slices.Equal(roles(same.AccessDetails), []string{helpdesk, ga}) {
		t.Fatalf("same roles: %+v", same)
	}
	renewed, err := e.c.CreateGDAPRelationship(rid("same"), same)
	if err != nil || !slices.Equal(roles(renewed.AccessDetails), []string{helpdesk, ga}) {
		t.Fatalf("renewed %+v, err %v", renewed, err)
	}

	safer, ok := old.Renewal("Fabrikam helpdesk", true)
	if !ok || safer.Duration != "P365D" || safer.AutoExtendDuration != partnercenter.AutoExtendP180D ||
		!slices.Equal(roles(safer.AccessDetails), []string{helpdesk}) {
		t.Fatalf("without Global Administrator: %+v", safer)
	}
	if rel, err := e.c.CreateGDAPRelationship(rid("safer"), safer); err != nil ||
		rel.AutoExtendDuration != partnercenter.AutoExtendP180D {
		t.Fatalf("created %+v, err %v", rel, err)
	}
	withGA := same
	withGA.DisplayName, withGA.AutoExtendDuration = "Fabrikam extending", partnercenter.AutoExtendP180D
	if _, err := e.c.CreateGDAPRelationship(rid("ga-extend"), withGA); !partnercenter.IsStatus(err, 400) {
		t.Fatalf("auto-extension with Global Administrator must be refused: %v", err)
	}

	gaOnly := old
	gaOnly.AccessDetails.UnifiedRoles = []partnercenter.UnifiedRole{{RoleDefinitionID: ga}}
	if _, ok := gaOnly.Renewal("nothing", true); ok {
		t.Fatal("a relationship of Global Administrator alone has nothing left to renew without it")
	}
}
