package partnercenter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	c, err := partnercenter.New(partnercenter.Config{PartnerCenterURL: srv.URL, GraphURL: srv.URL, AdminPortalURL: partnercenter.DefaultAdminPortalURL})
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
		{"create customer returns the tenant and the one-time admin credentials", "create-customer.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.CreateCustomer(ctx, partnercenter.NewCustomer{})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "dfd8cc0a-c592-468c-8461-869a38d24738" || got.CompanyProfile.Domain != "xyz.ccsctp.net" || got.RelationshipToPartner != "none" {
				t.Errorf("customer = %+v", got)
			}
			if got.UserCredentials == nil || got.UserCredentials.UserName != "admin" || got.UserCredentials.Password == "" {
				t.Errorf("credentials = %+v", got.UserCredentials)
			}
			if got.BillingProfile.DefaultAddress.Country != "US" {
				t.Errorf("billing country = %q", got.BillingProfile.DefaultAddress.Country)
			}
		}},
		{"relationship request carries the admin-center invitation URL", "relationship-request.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.RelationshipRequestURL(ctx, partnercenter.RelationshipRequestOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.URL == "" || got.Attributes.ObjectType != "RelationshipRequest" {
				t.Errorf("request = %+v", got)
			}
		}},
		{"a new GDAP relationship with an empty activatedDateTime parses, with its ETag and approval link", "gdap-create.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.CreateGDAPRelationship(ctx, partnercenter.NewGDAPRelationship{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != partnercenter.GDAPStatusCreated || got.ETag == "" || len(got.AccessDetails.UnifiedRoles) != 2 {
				t.Errorf("relationship = %+v", got)
			}
			if !got.ActivatedDateTime.IsZero() || got.EndDateTime.Year() != 2024 {
				t.Errorf("activated %v end %v", got.ActivatedDateTime, got.EndDateTime)
			}
			want := "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/granularAdminRelationships/" + got.ID
			if got.ApprovalURL != want {
				t.Errorf("approval URL = %q, want %q", got.ApprovalURL, want)
			}
		}},
		{"checkout returns orders with subscriptions and the reseller on record", "checkout-cart.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.CheckoutCart(ctx, "c", "cart")
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Orders) != 1 || len(got.Orders[0].LineItems) != 2 {
				t.Fatalf("result = %+v", got)
			}
			li := got.Orders[0].LineItems[1]
			if li.SubscriptionID == "" || li.PartnerIDOnRecord != "517285" || len(li.AdditionalPartnerIDsOnRecord) != 2 {
				t.Errorf("line item = %+v", li)
			}
			if got.Orders[0].CreationDate.Year() != 2021 || got.Orders[0].Status != "pending" {
				t.Errorf("order = %+v", got.Orders[0])
			}
		}},
		{"an updated cart keeps its line items", "update-cart.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.UpdateCart(ctx, "c", partnercenter.Cart{ID: "b4c8fdea-cbe4-4d17-9576-13fcacbf9605"})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.LineItems) != 1 || got.LineItems[0].CatalogItemID != "DG7GMGF0DWTL:0001:DG7GMGF0DSJB" || got.LineItems[0].ProvisioningContext["scope"] != "shared" {
				t.Errorf("cart = %+v", got)
			}
		}},
		{"an MPN profile names the partner", "mpn-profile.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.GetMPNProfile(ctx, "4391507")
			if err != nil || got.MPNID != "4391507" || got.PartnerName != "Microsoft Partner" {
				t.Errorf("profile = %+v, err %v", got, err)
			}
		}},
		{"a signed partner agreement reads as signed", "agreement-status.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.GetAgreementStatus(ctx, "123456")
			if err != nil || !got.IsAgreementSigned {
				t.Errorf("status = %+v, err %v", got, err)
			}
		}},
		{"the MCA template is found", "agreements-mca.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.GetMCATemplate(ctx)
			if err != nil || got.TemplateID != "117a77b0-9360-443b-8795-c6dedc750cf9" || got.AgreementType != partnercenter.AgreementTypeMCA {
				t.Errorf("template = %+v, err %v", got, err)
			}
		}},
		{"a webhook registration names its URL and events", "webhook-registration.response.json", func(t *testing.T, c *partnercenter.HTTPClient) {
			got, err := c.RegisterWebhook(ctx, partnercenter.WebhookRegistration{})
			if err != nil || got.SubscriberID == "" || len(got.WebhookEvents) != 2 {
				t.Errorf("registration = %+v, err %v", got, err)
			}
		}},
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
		{"an unknown PartnerID is 404 with code 3000", http.StatusNotFound, "mpn-profile-not-found.404.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetMPNProfile(ctx, "9999999"); return err }, partnercenter.CodeMPNNotFound},
		{"an unsigned partner agreement is code 2203", http.StatusBadRequest, "agreement-status-not-signed.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "123456"); return err }, partnercenter.CodeAgreementNotSignedForRegion},
		{"a reseller in another region is code 2201", http.StatusBadRequest, "agreement-status-region-mismatch.400.json",
			func(c *partnercenter.HTTPClient) error { _, err := c.GetAgreementStatus(ctx, "1234567"); return err }, partnercenter.CodeRegionMismatch},
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

func TestWebhookEventFixtureParses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "webhook-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev partnercenter.WebhookEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventName != partnercenter.EventTestCreated || !ev.ResourceChangeUtcDate.Equal(time.Date(2017, 11, 16, 16, 19, 6, 352027600, time.UTC)) {
		t.Errorf("event = %+v", ev)
	}
}
