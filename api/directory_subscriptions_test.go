package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

// seedDirectorySubscriptions runs a third pass over the seeded directory that reads alpha's
// subscriptions (Business Basic through the reseller, an Azure plan suspended and one gone since
// the pass before) and is refused beta's; gamma's are not read.
func (f *flowFixture) seedDirectorySubscriptions(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	end := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	basic := models.DirectorySubscription{ID: "sub-basic", OfferID: "CFQ7TTC0LH18:0001",
		OfferName: "Microsoft 365 Business Basic", FriendlyName: "Sales seats", Quantity: 12, Status: "active",
		BillingCycle: "monthly", TermDuration: "P1Y", CommitmentEndsAt: &end, AutoRenew: true,
		ResellerPartnerID: "7654321"}
	azure := models.DirectorySubscription{ID: "sub-azure", OfferID: "DZH318Z0BPS6:0001", OfferName: "Azure plan",
		Quantity: 1, Status: "active", BillingCycle: "monthly"}
	old := models.DirectorySubscription{ID: "sub-old", OfferID: "CFQ7TTC0LDPB:0001", OfferName: "Exchange Online",
		Quantity: 3, Status: "active", BillingCycle: "annual", TermDuration: "P1Y"}
	for i, at := range []time.Time{f.clock.Now().Add(time.Minute), f.clock.Now().Add(2 * time.Minute)} {
		p, err := f.store.BeginDirectoryPass(ctx, partnerID, at)
		if err != nil {
			t.Fatal(err)
		}
		customers := []models.DirectoryCustomer{
			{PartnerID: partnerID, TenantID: dirAlpha, CompanyName: "Alpha Corp", Domain: "alpha.onmicrosoft.com"},
			{PartnerID: partnerID, TenantID: dirBeta, CompanyName: `<b>Beta</b> & "Sons"`,
				Domain: "beta.onmicrosoft.com"},
			{PartnerID: partnerID, TenantID: dirGamma, CompanyName: "Gamma", Domain: "gamma.onmicrosoft.com"},
		}
		if _, err := f.store.SaveDirectoryCustomers(ctx, p, customers, at); err != nil {
			t.Fatal(err)
		}
		subs := []models.DirectorySubscription{basic, azure, old}
		if i == 1 {
			azure.Status = "suspended"
			subs = []models.DirectorySubscription{basic, azure}
		}
		if _, err := f.store.SaveDirectorySubscriptions(ctx, p, partnerID, dirAlpha, subs, at); err != nil {
			t.Fatal(err)
		}
		if err := f.store.RefuseDirectorySubscriptions(ctx, p, partnerID, dirBeta,
			`list subscriptions: 403 <Forbidden> "customer"`, at); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.EndDirectoryPass(ctx, partnerID, p, false, at); err != nil {
			t.Fatal(err)
		}
	}
}

type directorySubscriptionsDetail struct {
	Subscriptions []struct {
		ID                string     `json:"id"`
		OfferID           string     `json:"offerId"`
		OfferName         string     `json:"offerName"`
		FriendlyName      string     `json:"friendlyName"`
		Quantity          int        `json:"quantity"`
		Status            string     `json:"status"`
		TermDuration      string     `json:"termDuration"`
		BillingCycle      string     `json:"billingCycle"`
		CommitmentEndsAt  *time.Time `json:"commitmentEndsAt"`
		AutoRenew         bool       `json:"autoRenew"`
		ResellerPartnerID string     `json:"resellerPartnerId"`
		Gone              bool       `json:"gone"`
	} `json:"subscriptions"`
	SubscriptionsRead *struct {
		ReadAt        time.Time  `json:"readAt"`
		ListedAt      *time.Time `json:"listedAt"`
		Pass          int64      `json:"pass"`
		Subscriptions int        `json:"subscriptions"`
		Error         string     `json:"error"`
	} `json:"subscriptionsRead"`
	Changes []struct {
		Kind      string `json:"kind"`
		SubjectID string `json:"subjectId"`
	} `json:"changes"`
}

func TestTheDirectoryAPIShowsACustomersSubscriptions(t *testing.T) {
	f := newFlowFixture(t)
	f.seedDirectory(t)
	f.seedDirectorySubscriptions(t)
	get := func(tenant string) directorySubscriptionsDetail {
		t.Helper()
		resp := f.sales.Do("GET", "/v1/directory/"+tenant, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		var d directorySubscriptionsDetail
		resp.JSON(t, &d)
		return d
	}

	alpha := get(dirAlpha)
	if len(alpha.Subscriptions) != 3 {
		t.Fatalf("alpha's subscriptions: %+v", alpha.Subscriptions)
	}
	// The listed ones by name, then the gone one.
	azure, basic, old := alpha.Subscriptions[0], alpha.Subscriptions[1], alpha.Subscriptions[2]
	if azure.ID != "sub-azure" || azure.Status != "suspended" || azure.CommitmentEndsAt != nil || azure.Gone {
		t.Errorf("the Azure plan: %+v", azure)
	}
	if basic.ID != "sub-basic" || basic.OfferName != "Microsoft 365 Business Basic" ||
		basic.FriendlyName != "Sales seats" || basic.Quantity != 12 || basic.TermDuration != "P1Y" ||
		basic.BillingCycle != "monthly" || basic.CommitmentEndsAt == nil ||
		!basic.CommitmentEndsAt.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)) || !basic.AutoRenew ||
		basic.ResellerPartnerID != "7654321" || basic.OfferID != "CFQ7TTC0LH18:0001" {
		t.Errorf("Business Basic: %+v", basic)
	}
	if old.ID != "sub-old" || !old.Gone {
		t.Errorf("the gone subscription: %+v", old)
	}
	if r := alpha.SubscriptionsRead; r == nil || r.Error != "" || r.ListedAt == nil || r.Subscriptions != 2 ||
		r.Pass != 4 {
		t.Errorf("alpha's read: %+v", r)
	}
	var changes []string
	for _, c := range alpha.Changes {
		if strings.HasPrefix(c.Kind, "directory.subscription.") {
			changes = append(changes, c.Kind+" "+c.SubjectID)
		}
	}
	joined := strings.Join(changes, ",")
	if len(changes) != 2 || !strings.Contains(joined, models.ChangeSubscriptionStatus+" sub-azure") ||
		!strings.Contains(joined, models.ChangeSubscriptionGone+" sub-old") {
		t.Errorf("alpha's subscription changes: %v", changes)
	}

	beta := get(dirBeta)
	if r := beta.SubscriptionsRead; len(beta.Subscriptions) != 0 || r == nil || !strings.Contains(r.Error, "403") ||
		r.ListedAt != nil {
		t.Errorf("beta, refused: %+v %+v", beta.Subscriptions, r)
	}
	gamma := get(dirGamma)
	if gamma.Subscriptions == nil || len(gamma.Subscriptions) != 0 || gamma.SubscriptionsRead != nil {
		t.Errorf("gamma, never read: %+v %+v", gamma.Subscriptions, gamma.SubscriptionsRead)
	}
}

func TestTheDirectoryCustomerPageShowsItsSubscriptions(t *testing.T) {
	f := newFlowFixture(t)
	f.seedDirectory(t)
	f.seedDirectorySubscriptions(t)
	cookie := f.signIn(t, models.RoleSalesAgent)
	browser := f.browser(t)
	get := func(tenant string) string {
		t.Helper()
		resp := browser.Do("GET", "/directory/"+tenant, nil, "Cookie", cookie)
		if resp.Status != http.StatusOK {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		return string(resp.Body)
	}
	alpha := get(dirAlpha)
	for _, want := range []string{
		`<table id="subscriptions">`, `<tr id="subscription-sub-basic">`, "Sales seats",
		"Microsoft 365 Business Basic", "<td>12</td>", "<td>P1Y, billed monthly</td>", "<td>2027-03-01</td>",
		"<td>7654321</td>", `<tr id="subscription-sub-azure">`, `<span class="badge expired">suspended</span>`,
		`<tr id="subscription-sub-old">`, "no longer listed", `<p class="muted" id="subscriptions-read">Read `,
	} {
		if !strings.Contains(alpha, want) {
			t.Errorf("want %s\nin %s", want, alpha)
		}
	}
	beta := get(dirBeta)
	for _, want := range []string{`<p class="err" id="subscriptions-read">Partner Center refused to list them`,
		"403 &lt;Forbidden&gt; &#34;customer&#34;", `id="no-subscriptions"`} {
		if !strings.Contains(beta, want) {
			t.Errorf("want %s\nin %s", want, beta)
		}
	}
	if strings.Contains(beta, "<Forbidden>") {
		t.Error("the refusal must be escaped")
	}
	gamma := get(dirGamma)
	if !strings.Contains(gamma, "Not read yet: the estate sync reads 200 customers") ||
		!strings.Contains(gamma, `id="no-subscriptions"`) {
		t.Errorf("gamma, never read: %s", gamma)
	}
}

// Webhook subscriptions may name the subscriptions' changes, which the directory's kinds were
// extended with; a name that is not one of them is refused.
func TestWebhookSubscriptionsMayNameTheSubscriptionEvents(t *testing.T) {
	f := newSubscriptionFixture(t, testdb.SQLite(t), false)
	admin := f.as[models.RoleGlobalAdmin]
	events := slices.Clone(models.SubscriptionChangeKinds)
	resp := admin.Do("POST", "/v1/webhook-subscriptions", map[string]any{
		"url": "https://93.184.215.14/hooks", "events": events,
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("%v: %d %s", events, resp.Status, resp.Body)
	}
	resp = admin.Do("POST", "/v1/webhook-subscriptions", map[string]any{
		"url": "https://93.184.215.14/hooks", "events": []string{"directory.subscription.renamed"},
	})
	if p := resp.Problem(t); resp.Status != http.StatusBadRequest || p["field"] != "events" {
		t.Fatalf("an unknown subscription event: %d %v", resp.Status, p)
	}
}
