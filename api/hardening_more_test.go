package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/models"
)

// A removal's deliveries can go to webhook subscriptions, whose URLs carry tokens: the removal's
// detail shows a delivery's error with every URL cut to scheme and host (issue 21 item 6).
func TestRemovalDeliveryErrorsDoNotShowTheSubscriptionURL(t *testing.T) {
	f := newFlowFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	reseller := f.activeReseller(t, "66666666-6666-4666-8666-666666666666")
	rm := &models.Removal{
		ID:           "rem_redact",
		PartnerID:    partnerID,
		ResellerID:   reseller.ID,
		ResellerName: reseller.CompanyName,
		Status:       models.RemovalCompleted,
		WorkflowID:   "removal/rem_redact",
		AttestedBy:   "Ops",
		AttestedAt:   now,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := models.Create(ctx, f.store, models.KindRemoval, rm); err != nil {
		t.Fatal(err)
	}
	leak := `post webhook: Post "https://hooks.example.com/tenant-7f2c/receive?token=s3cr3t-t0ken": ` +
		`dial tcp: connection refused`
	if err := f.store.DB.Create(&models.Delivery{
		FlowKind:  models.KindRemoval,
		FlowID:    rm.ID,
		Channel:   models.ChannelWebhook,
		Recipient: "sub_1",
		Role:      "customer",
		Status:    models.DeliveryFailed,
		Attempts:  3,
		LastError: leak,
		CreatedAt: now,
		UpdatedAt: now,
	}).Error; err != nil {
		t.Fatal(err)
	}
	resp := f.admin.Do("GET", "/v1/removals/"+rm.ID, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	body := string(resp.Body)
	if strings.Contains(body, "s3cr3t-t0ken") || strings.Contains(body, "tenant-7f2c") ||
		!strings.Contains(body, "https://hooks.example.com") {
		t.Fatalf("the removal's detail shows the subscription URL's path or query, or lost its host: %s", body)
	}
	page := f.browser(t).Do("GET", "/removals/"+rm.ID, nil, "Cookie", f.signIn(t, models.RoleAdminAgent))
	if page.Status != http.StatusOK || strings.Contains(string(page.Body), "s3cr3t-t0ken") {
		t.Fatalf("the removal's page (%d) shows the subscription URL's query", page.Status)
	}
}

// A first admin password nobody asked for within the reveal window is gone, and the refusal says
// so instead of naming a revealer (issue 21 item 8).
func TestALapsedRevealIsRefusedAsLapsed(t *testing.T) {
	f := newFlowFixture(t)
	ctx := context.Background()
	created := f.clock.Now().Add(-models.CredentialsRevealWindow - time.Hour)
	row := &models.Onboarding{
		ID:          "cus_lapsed",
		PartnerID:   partnerID,
		CompanyName: "Lapsed",
		Domain:      "lapsed.onmicrosoft.com",
		Status:      models.OnboardingCompleted,
		WorkflowID:  "customer/cus_lapsed",
		CreatedAt:   created,
		UpdatedAt:   created,
		ExpiresAt:   created.AddDate(0, 0, 90),
	}
	if err := models.Create(ctx, f.store, models.KindOnboarding, row); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DB.Create(&models.CustomerCredentials{
		CustomerID:         row.ID,
		UserName:           "admin@lapsed.onmicrosoft.com",
		PasswordCiphertext: "c2VhbGVk",
		CreatedAt:          created,
	}).Error; err != nil {
		t.Fatal(err)
	}
	resp := f.admin.Do("POST", "/v1/customers/"+row.ID+"/credentials/reveal", nil)
	if resp.Status != http.StatusConflict || resp.Problem(t)["type"] != api.ProblemTypePrefix+"credentials-lapsed" {
		t.Fatalf("a lapsed reveal: %d %s\n%s", resp.Status, resp.Body, f.logs.String())
	}
	var creds models.CustomerCredentials
	if err := f.store.DB.Where("customer_id = ?", row.ID).First(&creds).Error; err != nil ||
		creds.PasswordCiphertext != "" {
		t.Fatalf("the sealed password is still stored: %+v %v", creds, err)
	}
}
