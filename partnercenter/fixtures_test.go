package partnercenter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter"
)

// fixtureServer answers every request with the bytes of one documented
// example, so the client is checked against Microsoft's wire format.
func fixtureServer(t *testing.T, status int, file string) *partnercenter.HTTPClient {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig(t, srv.URL)
	cfg.AdminPortalURL = partnercenter.DefaultAdminPortalURL
	c, err := partnercenter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientReadsDocumentedResponses(t *testing.T) {
	ctx := partnercenter.WithRequestID(context.Background(), "fixture")
	tests := []struct {
		name  string
		file  string
		check func(t *testing.T, c *partnercenter.HTTPClient)
	}{
		{
			"create customer returns the tenant and the one-time admin credentials", "create-customer.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CreateCustomer(ctx, partnercenter.NewCustomer{})
				if err != nil {
					t.Fatal(err)
				}
				if got.ID != "dfd8cc0a-c592-468c-8461-869a38d24738" || got.CompanyProfile.Domain != "xyz.ccsctp.net" ||
					got.RelationshipToPartner != "none" {
					t.Errorf("customer = %+v", got)
				}
				if got.UserCredentials == nil || got.UserCredentials.UserName != "admin" ||
					got.UserCredentials.Password == "" {
					t.Errorf("credentials = %+v", got.UserCredentials)
				}
				if got.BillingProfile.DefaultAddress.Country != "US" {
					t.Errorf("billing country = %q", got.BillingProfile.DefaultAddress.Country)
				}
			},
		},
		{
			"relationship request carries the admin-center invitation URL", "relationship-request.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.RelationshipRequestURL(ctx, partnercenter.RelationshipRequestOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got.URL == "" || got.Attributes.ObjectType != "RelationshipRequest" {
					t.Errorf("request = %+v", got)
				}
			},
		},
		{
			"a new GDAP relationship with an empty activatedDateTime parses, with its ETag and approval link",
			"gdap-create.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CreateGDAPRelationship(ctx, partnercenter.NewGDAPRelationship{})
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != partnercenter.GDAPStatusCreated || got.ETag == "" ||
					len(got.AccessDetails.UnifiedRoles) != 2 {
					t.Errorf("relationship = %+v", got)
				}
				if !got.ActivatedDateTime.IsZero() || got.EndDateTime.Year() != 2024 {
					t.Errorf("activated %v end %v", got.ActivatedDateTime, got.EndDateTime)
				}
				want := "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/" +
					"granularAdminRelationships/" + got.ID
				if got.ApprovalURL != want {
					t.Errorf("approval URL = %q, want %q", got.ApprovalURL, want)
				}
			},
		},
		{
			"checkout returns orders with subscriptions and the reseller on record", "checkout-cart.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CheckoutCart(ctx, "c", "cart")
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Orders) != 1 || len(got.Orders[0].LineItems) != 2 {
					t.Fatalf("result = %+v", got)
				}
				li := got.Orders[0].LineItems[1]
				if li.SubscriptionID == "" || li.PartnerIDOnRecord != "517285" ||
					len(li.AdditionalPartnerIDsOnRecord) != 2 {
					t.Errorf("line item = %+v", li)
				}
				if got.Orders[0].CreationDate.Year() != 2021 || got.Orders[0].Status != "pending" {
					t.Errorf("order = %+v", got.Orders[0])
				}
			},
		},
		{
			"an updated cart keeps its line items", "update-cart.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.UpdateCart(ctx, "c", partnercenter.Cart{ID: "b4c8fdea-cbe4-4d17-9576-13fcacbf9605"})
				if err != nil {
					t.Fatal(err)
				}
				if len(got.LineItems) != 1 || got.LineItems[0].CatalogItemID != "DG7GMGF0DWTL:0001:DG7GMGF0DSJB" ||
					got.LineItems[0].ProvisioningContext["scope"] != "shared" {
					t.Errorf("cart = %+v", got)
				}
			},
		},
		{
			"an MPN profile names the partner", "mpn-profile.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.GetMPNProfile(ctx, "4391507")
				if err != nil || got.MPNID != "4391507" || got.PartnerName != "Microsoft Partner" {
					t.Errorf("profile = %+v, err %v", got, err)
				}
			},
		},
		{
			"a signed partner agreement reads as signed", "agreement-status.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.GetAgreementStatus(ctx, "123456")
				if err != nil || !got.IsAgreementSigned {
					t.Errorf("status = %+v, err %v", got, err)
				}
			},
		},
		{"the MCA template is found", "agreements-mca.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.GetMCATemplate(ctx)
			if err != nil || got.TemplateID != "117a77b0-9360-443b-8795-c6dedc750cf9" ||
				got.AgreementType != partnercenter.AgreementTypeMCA {
				t.Errorf("template = %+v, err %v", got, err)
			}
		}},
		{
			"the indirect reseller list names each reseller with its PartnerID, state and location",
			"indirect-resellers.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.ListIndirectResellers(ctx)
				if err != nil || len(got) != 2 {
					t.Fatalf("resellers = %+v, err %v", got, err)
				}
				r := got[1]
				if r.Name != "ReleCloud" || r.RelationshipType != partnercenter.RelationshipTypeIndirectCSPOf ||
					r.State != "Active" || r.MPNID != "4847433" || r.Location != "BR" {
					t.Errorf("reseller = %+v", r)
				}
			},
		},
		{
			"a reseller's customers list reads as one last page", "reseller-customers.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, next, err := c.ListResellerCustomers(ctx, "484e548c-f5f3-4528-93a9-c16c6373cb59", "")
				if err != nil || next != "" || len(got) != 2 {
					t.Fatalf("customers = %+v, next %q, err %v", got, next, err)
				}
				if got[0].ID != "53eb21cb-6b2d-4ee5-9e92-27dfc927e93c" ||
					got[0].CompanyProfile.Domain != "FourthCoffee137.onmicrosoft.com" ||
					got[0].RelationshipToPartner != partnercenter.RelationshipReseller {
					t.Errorf("customer = %+v", got[0])
				}
			},
		},
		{
			"a removed relationship answers in PascalCase and reads as none for the customer called",
			"remove-reseller-relationship.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.RemoveResellerRelationship(ctx, "c501c3c4-d776-40ef-9ecf-9cefb59442c1")
				if err != nil || got.RelationshipToPartner != partnercenter.RelationshipNone ||
					got.ID != "c501c3c4-d776-40ef-9ecf-9cefb59442c1" {
					t.Errorf("customer = %+v, err %v", got, err)
				}
			},
		},
		{
			"a webhook registration names its URL and events", "webhook-registration.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.RegisterWebhook(ctx, partnercenter.WebhookRegistration{})
				if err != nil || got.SubscriberID == "" || len(got.WebhookEvents) != 2 {
					t.Errorf("registration = %+v, err %v", got, err)
				}
			},
		},
		{
			"a customer read by ID has its delegated access, domains, profiles' contact, address, ETag and links",
			"get-customer.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.GetCustomer(ctx, "eebd1b55-5360-4438-a11d-5c06918c3014")
				if err != nil {
					t.Fatal(err)
				}
				if !got.DelegatedAccess() || len(got.CustomDomains) != 1 ||
					got.CustomDomains[0] != "abcdefgh1234.ccsctp.net" || got.Links == nil ||
					got.Links.Self.URI != "/customers/eebd1b55-5360-4438-a11d-5c06918c3014" {
					t.Errorf("customer = %+v", got)
				}
				cp := got.CompanyProfile
				if cp.Address == nil || cp.Address.Region != "wa" || cp.Address.PhoneNumber != "1234567890" ||
					cp.Email != "a@a.com" || cp.Links == nil {
					t.Errorf("company profile = %+v", cp)
				}
				bp := got.BillingProfile
				if bp.FirstName != "d0d89d776d03471c819bf772191ed728" || bp.LastName == "" ||
					bp.Attributes.Etag != "-4242348048554929329" || bp.Links == nil ||
					bp.DefaultAddress.State != "WA" || bp.DefaultAddress.FirstName != "1kl as" ||
					bp.DefaultAddress.AddressLine1 != "1 ms way" {
					t.Errorf("billing profile = %+v", bp)
				}
			},
		},
		{
			"a customer created for an indirect reseller names the reseller and has the credentials once",
			"create-customer-indirect-reseller.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CreateCustomer(ctx, partnercenter.NewCustomer{})
				if err != nil {
					t.Fatal(err)
				}
				if got.AssociatedPartnerID != "484e548c-f5f3-4528-93a9-c16c6373cb59" || !got.DelegatedAccess() ||
					got.UserCredentials == nil || got.UserCredentials.Password != "0Krha*Io" ||
					got.CompanyProfile.Links == nil || got.BillingProfile.Attributes.Etag != "-8799889149591823008" ||
					got.BillingProfile.DefaultAddress.PhoneNumber != "4255550101" {
					t.Errorf("customer = %+v", got)
				}
			},
		},
		{
			"a new-commerce cart line has an empty provisioning context and an order group",
			"create-cart-nce.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CreateCart(ctx, "c", partnercenter.Cart{})
				if err != nil || len(got.LineItems) != 1 {
					t.Fatalf("cart = %+v, err %v", got, err)
				}
				li := got.LineItems[0]
				if li.ProvisioningContext == nil || len(li.ProvisioningContext) != 0 || li.OrderGroup != "0" ||
					li.TermDuration != "P1M" || got.Links == nil || got.Status != partnercenter.CartStatusActive {
					t.Errorf("cart = %+v", got)
				}
			},
		},
		{
			"a cart's participants name the transaction reseller and the additional ones",
			"create-cart-attestation.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CreateCart(ctx, "c", partnercenter.Cart{})
				if err != nil || len(got.LineItems) != 2 {
					t.Fatalf("cart = %+v, err %v", got, err)
				}
				if r := got.LineItems[1].Reseller(); r != "5357564" || len(got.LineItems[1].Participants) != 3 ||
					got.LineItems[0].Reseller() != "" {
					t.Errorf("lines = %+v", got.LineItems)
				}
			},
		},
		{
			"a cart with add-ons nests them under the base line", "create-cart-addons.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CreateCart(ctx, "c", partnercenter.Cart{})
				if err != nil || len(got.LineItems) != 1 || len(got.LineItems[0].AddonItems) != 2 ||
					got.LineItems[0].AddonItems[1].CatalogItemID != "43FCE491-76D1-4BCC-B709-8A288786DBAE" {
					t.Errorf("cart = %+v, err %v", got, err)
				}
			},
		},
		{
			"an add-on for an existing subscription names it in the provisioning context",
			"create-cart-addon-existing.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CreateCart(ctx, "c", partnercenter.Cart{})
				if err != nil || len(got.LineItems) != 1 ||
					got.LineItems[0].ProvisioningContext[partnercenter.ProvisioningParentSubscriptionID] !=
						"97555B61-7461-477A-A98C-9C76148783E4" {
					t.Errorf("cart = %+v, err %v", got, err)
				}
			},
		},
		{
			"a checked-out order has its currency symbol, links and line links", "checkout-cart.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CheckoutCart(ctx, "c", "cart")
				if err != nil || len(got.Orders) != 1 {
					t.Fatalf("result = %+v, err %v", got, err)
				}
				o := got.Orders[0]
				if o.CurrencySymbol != "$" || o.Links == nil || o.Links.PatchOperation.Method != "PATCH" ||
					o.Links.ProvisioningStatus.URI == "" || o.Client == nil {
					t.Errorf("order = %+v", o)
				}
				if l := o.LineItems[0].Links; l == nil ||
					l.Availability.URI != "/products/CFQ7TTC0LH0Z/skus/0001/availabilities/CFQ7TTC0K18P?country=US" {
					t.Errorf("line links = %+v", l)
				}
			},
		},
		{
			"an order read by ID has its currency symbol and provisioning link", "get-order.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.GetOrder(ctx, "c", "YxH1q4KScfvfkJQjgRI8QY1DznnUWZTH1")
				if err != nil || got.CurrencySymbol != "$" || got.Status != partnercenter.OrderStatusCompleted ||
					got.Links == nil || got.Links.ProvisioningStatus == nil || got.LineItems[0].Links == nil ||
					got.LineItems[0].Links.SKU == nil {
					t.Errorf("order = %+v, err %v", got, err)
				}
			},
		},
		{
			"an order's provisioning status reads fulfilled, with the quantity provisioned",
			"order-provisioning-status.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.GetOrderProvisioningStatus(ctx, "c", "o")
				if err != nil || !got.Fulfilled() || got.Items[0].QuantityProvisioningInformation[0].Quantity != 1 ||
					got.Attributes.ObjectType != "Collection" {
					t.Errorf("status = %+v, err %v", got, err)
				}
			},
		},
		{
			"a new-commerce subscription has its term, dates, refund options, links and (empty) partner",
			"get-subscription-nce.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.GetSubscription(ctx, "c", "a4c1340d-6911-4758-bba3-0c4c6007d161")
				if err != nil {
					t.Fatal(err)
				}
				if got.OfferName != "Microsoft 365 Business Basic" || got.UnitType != "Licenses" ||
					got.BillingType != "license" || got.ContractType != "subscription" || got.ProductType == nil ||
					got.ProductType.ID != "OnlineServicesNCE" || got.PartnerID != "" ||
					got.PublisherName != "Microsoft Corporation" {
					t.Errorf("subscription = %+v", got)
				}
				if !got.CommitmentEndDate.Equal(time.Date(2022, 1, 13, 0, 0, 0, 0, time.UTC)) ||
					got.EffectiveStartDate.IsZero() || len(got.RefundOptions) != 1 ||
					got.RefundOptions[0].Type != "Full" ||
					!got.RefundOptions[0].ExpiresAt.Equal(time.Date(2021, 1, 15, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("dates and refunds = %+v", got)
				}
				if got.Links == nil || got.Links.Availability == nil || got.Links.Self == nil {
					t.Errorf("links = %+v", got.Links)
				}
			},
		},
		{
			"an add-on subscription names its parent", "get-subscription-addon.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.GetSubscription(ctx, "c", "968BA1CF-C146-4ADF-A300-308DCF718EEE")
				if err != nil || got.ParentSubscriptionID != "1C2B75C1-74A5-472A-A729-7F8CEFC477F9" ||
					got.Links == nil || got.Links.ParentSubscription == nil || got.Attributes.Etag == "" {
					t.Errorf("subscription = %+v, err %v", got, err)
				}
			},
		},
		{
			"an Azure subscription is usage-billed with its entitlement", "get-subscription-azure.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.GetSubscription(ctx, "c", "A356AC8C-E310-44F4-BF85-C7F29044AF99")
				if err != nil || got.BillingType != "usage" || got.UnitType != "Usage-based" ||
					got.EntitlementID == "" || got.CommitmentEndDate.Year() != 9999 {
					t.Errorf("subscription = %+v, err %v", got, err)
				}
			},
		},
		{
			"a customer's subscriptions list their cancellation deadline and billing cycle",
			"subscriptions-list.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.ListSubscriptions(ctx, "c")
				if err != nil || len(got) != 1 || got[0].BillingCycle != partnercenter.BillingCycleTriennial ||
					got[0].CancellationAllowedUntilDate.IsZero() || got[0].TermDuration != "P3Y" {
					t.Errorf("subscriptions = %+v, err %v", got, err)
				}
			},
		},
		{
			"a support contact carries its link", "update-support-contact.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.UpdateSupportContact(ctx, "c", "s", partnercenter.SupportContact{})
				if err != nil || got.SupportMPNID != "4391507" || got.Name != "Trey Research" || got.Links == nil ||
					got.Links.Self == nil {
					t.Errorf("support contact = %+v, err %v", got, err)
				}
			},
		},
		{
			"an MCA attestation names the partner user who made it", "customer-agreement.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.CreateCustomerAgreement(ctx, "c", partnercenter.CustomerAgreement{})
				if err != nil || got.UserID != "3d6f2c09-eb40-48ca-a4b3-d24c9c007531" ||
					got.PrimaryContact.PhoneNumber != "1234567890" || got.DateAgreed.Year() != 2018 {
					t.Errorf("agreement = %+v, err %v", got, err)
				}
			},
		},
		{
			"a customer's attestations list their agreement link and zone-less dates",
			"customer-agreements.response.json",
			func(t *testing.T, c *partnercenter.HTTPClient) {
				got, err := c.ListCustomerAgreements(ctx, "c")
				if err != nil || len(got) != 2 || got[1].AgreementLink != "https://aka.ms/customeragreement" ||
					!got[0].DateAgreed.Equal(time.Date(2019, 8, 26, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("agreements = %+v, err %v", got, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, fixtureServer(t, http.StatusOK, tt.file)) })
	}
}

func TestClientTypesDocumentedErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		status int
		file   string
		call   func(c *partnercenter.HTTPClient) error
		code   int
	}{
		{
			"an unknown PartnerID is 404 with code 3000",
			http.StatusNotFound, "mpn-profile-not-found.404.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetMPNProfile(ctx, "9999999"); return err },
			partnercenter.CodeMPNNotFound,
		},
		{
			"an unsigned partner agreement is code 2203",
			http.StatusBadRequest, "agreement-status-not-signed.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "123456"); return err },
			partnercenter.CodeAgreementNotSignedForRegion,
		},
		{
			"a reseller in another region is code 2201",
			http.StatusBadRequest, "agreement-status-region-mismatch.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "1234567"); return err },
			partnercenter.CodeRegionMismatch,
		},
		{
			"a non-numeric MPN ID is code 2000",
			http.StatusBadRequest, "agreement-status-mpn-not-numeric.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "abc"); return err },
			partnercenter.CodeInvalidInput,
		},
		{
			"a tenant ID that is not a GUID is code 2000",
			http.StatusBadRequest, "agreement-status-tenant-not-guid.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "1"); return err },
			partnercenter.CodeInvalidInput,
		},
		{
			"both identifiers at once are code 2000",
			http.StatusBadRequest, "agreement-status-both-ids.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "1"); return err },
			partnercenter.CodeInvalidInput,
		},
		{
			"no identifier is code 2001",
			http.StatusBadRequest, "agreement-status-no-id.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, ""); return err },
			partnercenter.CodeMissingIdentifier,
		},
		{
			"an unknown or unmigrated MPN ID is code 2200",
			http.StatusBadRequest, "agreement-status-mpn-invalid.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "123456"); return err },
			partnercenter.CodeMPNInvalid,
		},
		{
			"an MPN ID without indirect reseller enrollment is code 2204",
			http.StatusBadRequest, "agreement-status-not-indirect-reseller.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "123456"); return err },
			partnercenter.CodeNotAnIndirectReseller,
		},
		{
			"a tenant ID without an account is code 2205",
			http.StatusBadRequest, "agreement-status-tenant-not-found.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "1"); return err },
			partnercenter.CodeTenantNotFound,
		},
		{
			"a tenant ID whose account has not signed the MPA is code 2206",
			http.StatusBadRequest, "agreement-status-tenant-not-signed.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "1"); return err },
			partnercenter.CodeTenantAgreementNotSigned,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(fixtureServer(t, tt.status, tt.file))
			if !partnercenter.IsCode(err, tt.code) || partnercenter.IsRetryable(err) {
				t.Errorf("err = %v, want non-retryable code %d", err, tt.code)
			}
		})
	}
}

func TestClientKeepsDocumentedErrorFields(t *testing.T) {
	ctx := partnercenter.WithRequestID(context.Background(), "fixture")
	t.Run("the 600061 body's extended fields", func(t *testing.T) {
		_, err := fixtureServer(t, http.StatusConflict, "customer-agreement-already-exists.409.json").
			CreateCustomerAgreement(ctx, "c", partnercenter.CustomerAgreement{})
		var e *partnercenter.Error
		if !errors.As(err, &e) || e.Code != partnercenter.CodeAgreementAlreadyExists ||
			e.ErrorName != "PartnerConfirmedAgreementAlreadyExists" || e.Message == "" || e.Description == "" ||
			e.ServiceRetryable == nil || *e.ServiceRetryable || e.ErrorMessageExtended != "InternalErrorCode=600061" ||
			e.Parameters == nil {
			t.Errorf("err = %#v", err)
		}
	})
	t.Run("source and data", func(t *testing.T) {
		_, err := fixtureServer(t, http.StatusBadRequest, "agreement-status-not-signed.400.json").
			GetAgreementStatus(ctx, "123456")
		var e *partnercenter.Error
		if !errors.As(err, &e) || e.Source != "PartnerFD" || len(e.Data) != 1 ||
			e.Data[0] != "https://docs.microsoft.com/partner-center/mpa-indirect-provider-faq" {
			t.Errorf("err = %#v", err)
		}
	})
}

func TestWebhookEventFixtureParses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "webhook-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev partnercenter.WebhookEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventName != partnercenter.EventTestCreated ||
		!ev.ResourceChangeUtcDate.Equal(time.Date(2017, 11, 16, 16, 19, 6, 352027600, time.UTC)) {
		t.Errorf("event = %+v", ev)
	}
}

// shapeDiff lists where got lacks the shape of the documented want: a key
// missing (keys compare case-sensitively, so PascalCase matters), a value of
// another JSON kind, a documented non-empty array that is empty, or a key
// the documentation does not have (unless allowed, by path). A null in want
// matches anything; every element of a got array is compared with want's
// first element.
func shapeDiff(want, got any, path string, allowed map[string]bool) []string {
	kind := func(v any) string {
		switch v.(type) {
		case nil:
			return "null"
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "bool"
		case map[string]any:
			return "object"
		case []any:
			return "array"
		}
		return fmt.Sprintf("%T", v)
	}
	at := func(p string) string {
		if p == "" {
			return "(body)"
		}
		return p
	}
	if want == nil {
		return nil
	}
	if kind(want) != kind(got) {
		return []string{fmt.Sprintf("%s: documented %s, simulated %s", at(path), kind(want), kind(got))}
	}
	var diffs []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		join := func(k string) string {
			if path == "" {
				return k
			}
			return path + "." + k
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, join(k)+": missing in the simulator's answer")
				continue
			}
			diffs = append(diffs, shapeDiff(wv, gv, join(k), allowed)...)
		}
		for k := range g {
			if _, ok := w[k]; !ok && !allowed[join(k)] {
				diffs = append(diffs, join(k)+": not in the documented example")
			}
		}
	case []any:
		g := got.([]any)
		if len(w) > 0 && len(g) == 0 {
			diffs = append(diffs, at(path)+": documented with items, simulated empty")
		}
		if len(w) > 0 {
			for _, gv := range g {
				diffs = append(diffs, shapeDiff(w[0], gv, path+"[]", allowed)...)
			}
		}
	}
	slices.Sort(diffs)
	return slices.Compact(diffs)
}

// raw sends a request to the simulator as the client would (bearer token,
// request ID on writes) and returns the status and the body.
func (e *simEnv) raw(method, path string, body any, header http.Header) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token(path))
	if method != http.MethodGet {
		req.Header.Set("MS-RequestId", partnercenter.NewRequestID())
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestSimMatchesDocumentedShapes asks the simulator what each recorded
// example answers and checks the simulator answers with the same status and
// the same shape (and, for errors, the same code and source).
func TestSimMatchesDocumentedShapes(t *testing.T) {
	e := newSimEnv(t, "")
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
	customers, err := e.sim.AddResellerCustomers(adatumID, 2)
	if err != nil {
		t.Fatal(err)
	}
	const litwareID = "77777777-7777-4777-8777-777777777777"
	resellerFilter := url.QueryEscape(
		`{"Field":"IndirectReseller","Value":"` + adatumID + `","Operator":"starts_with"}`,
	)
	tests := []struct {
		name    string
		file    string
		status  int
		method  string
		path    string
		body    any
		allowed []string
	}{
		{
			"indirect reseller list", "indirect-resellers.response.json", 200, "GET",
			"/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf", nil, nil,
		},
		{
			"customers of an indirect reseller", "reseller-customers.response.json", 200, "GET",
			"/v1/customers?size=0&filter=" + resellerFilter, nil, []string{"links"},
		},
		{
			"relationship removal", "remove-reseller-relationship.response.json", 200, "PATCH",
			"/v1/customers/" + customers[0],
			map[string]any{"relationshipToPartner": "none", "attributes": map[string]string{"objectType": "Customer"}},
			nil,
		},
		{"MPN profile", "mpn-profile.response.json", 200, "GET", "/v1/profiles/mpn?mpnId=1234567", nil, nil},
		{
			"unknown MPN profile", "mpn-profile-not-found.404.json", 404, "GET",
			"/v1/profiles/mpn?mpnId=9999999", nil, nil,
		},
		{
			"signed agreement, asked with the documented lower-case mpnid",
			"agreement-status.response.json", 200, "GET",
			"/v1/compliance/csp/agreementstatus?mpnid=1234567", nil, nil,
		},
		{
			"agreement not signed (litware)", "agreement-status-not-signed.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus?mpnId=2345678", nil, nil,
		},
		{
			"reseller in another region", "agreement-status-region-mismatch.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus?mpnId=4567890", nil, nil,
		},
		{
			"non-numeric MPN ID", "agreement-status-mpn-not-numeric.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus?mpnId=abc", nil, nil,
		},
		{
			"tenant ID not a GUID", "agreement-status-tenant-not-guid.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus?tenantId=not-a-guid", nil, nil,
		},
		{
			"neither identifier", "agreement-status-no-id.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus", nil, nil,
		},
		{
			"both identifiers", "agreement-status-both-ids.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus?mpnId=1234567&tenantId=" + adatumID, nil, nil,
		},
		{
			"unknown MPN ID", "agreement-status-mpn-invalid.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus?mpnId=9999999", nil, nil,
		},
		{
			"partner without indirect reseller enrollment",
			"agreement-status-not-indirect-reseller.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus?mpnId=5678901", nil, nil,
		},
		{
			"unknown tenant", "agreement-status-tenant-not-found.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus?tenantId=12345678-ACBD-1234-ABCD-123456789ABC", nil, nil,
		},
		{
			"tenant without the MPA (litware)", "agreement-status-tenant-not-signed.400.json", 400, "GET",
			"/v1/compliance/csp/agreementstatus?tenantId=" + litwareID, nil, nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.raw(tt.method, tt.path, tt.body, nil)
			sameShape(t, tt.file, tt.status, status, body, tt.allowed, nil)
		})
	}
}

// sameShape compares a simulated answer with a recorded example: the same
// status, the same shape (see shapeDiff; allowed lists keys the simulator
// may add, quirks documented keys it need not have, both by path) and, for
// errors, the same code and source.
func sameShape(t *testing.T, file string, wantStatus, status int, body []byte, allowed, quirks []string) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if status != wantStatus {
		t.Fatalf("status %d, documented %d: %s", status, wantStatus, body)
	}
	var want, got any
	if err := json.Unmarshal(doc, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("simulated body: %v: %s", err, body)
	}
	allow := map[string]bool{}
	for _, p := range allowed {
		allow[p] = true
	}
	skip := map[string]bool{}
	for _, p := range quirks {
		skip[p+": missing in the simulator's answer"] = true
	}
	for _, d := range shapeDiff(want, got, "", allow) {
		if !skip[d] {
			t.Error(d)
		}
	}
	if w, ok := want.(map[string]any); ok && wantStatus >= 400 {
		g := got.(map[string]any)
		if w["code"] != g["code"] || w["source"] != g["source"] {
			t.Errorf("code %v source %v, documented code %v source %v", g["code"], g["source"], w["code"], w["source"])
		}
	}
}

// TestSimErrorStatusesFollowTheErrorTable checks the HTTP status the
// simulator gives the codes recorded from Microsoft's error code table.
func TestSimErrorStatusesFollowTheErrorTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "error-code-statuses.json"))
	if err != nil {
		t.Fatal(err)
	}
	var table map[string]int
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	e := newSimEnv(t, "")
	in := newCustomer("tabled")
	in.AssociatedPartnerID = adatumID
	cust, err := e.c.CreateCustomer(rid("create"), in)
	if err != nil {
		t.Fatal(err)
	}
	cart := func(reseller string) error {
		li := partnercenter.CartLineItem{
			CatalogItemID: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			Quantity:      1,
			BillingCycle:  "monthly",
			TermDuration:  "P1M",
			Participants: []partnercenter.Participant{{
				Key:   partnercenter.ParticipantTransactionReseller,
				Value: reseller,
			}},
		}
		_, err := e.c.CreateCart(rid("cart"), cust.ID, partnercenter.Cart{LineItems: []partnercenter.CartLineItem{li}})
		return err
	}
	calls := map[int]func() error{
		partnercenter.CodeResellerNotFound:             func() error { return cart("9999999") },
		partnercenter.CodeNotIndirectReseller:          func() error { return cart("3456789") },
		partnercenter.CodeResellerAgreementNotAccepted: func() error { return cart("2345678") },
		partnercenter.CodeMCANotAccepted: func() error {
			c, err := e.c.CreateCart(rid("cart-ok"), cust.ID, partnercenter.Cart{
				LineItems: []partnercenter.CartLineItem{{
					CatalogItemID: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
					Quantity:      1,
					BillingCycle:  "monthly",
					TermDuration:  "P1M",
				}},
			})
			if err != nil {
				return err
			}
			_, err = e.c.CheckoutCart(rid("checkout"), cust.ID, c.ID)
			return err
		},
	}
	for code, call := range moreErrorTableCalls(t, e, cust.ID) {
		calls[code] = call
	}
	for code, call := range subscriptionErrorTableCalls(e) {
		calls[code] = call
	}
	for codeText, status := range table {
		code, _ := strconv.Atoi(codeText)
		t.Run(codeText, func(t *testing.T) {
			call, ok := calls[code]
			if !ok {
				t.Fatalf("no simulator call produces code %d", code)
			}
			wantCode(t, call(), status, code)
		})
	}
}
