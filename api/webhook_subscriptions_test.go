package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

const subscriptionPartner = "7f2c9a1e-4b3d-4e5f-8a6b-1c2d3e4f5a6b"

// subscriptionFixture is the API of one partner with a client per role.
type subscriptionFixture struct {
	store *models.Store
	as    map[models.Role]*testapi.Client
}

func newSubscriptionFixture(t *testing.T, store *models.Store, allowPrivate bool) *subscriptionFixture {
	t.Helper()
	srv := api.New(api.Config{
		Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SigningKey: bytes.Repeat([]byte{3}, 32),
		Flows: api.FlowConfig{PartnerID: subscriptionPartner}, WebhookAllowPrivate: allowPrivate,
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	f := &subscriptionFixture{store: store, as: map[models.Role]*testapi.Client{}}
	for _, r := range models.AllRoles {
		key, _, err := store.CreateAPIKey(context.Background(), string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		f.as[r] = apiClient(t, hs.URL, nil).As(key)
	}
	return f
}

func TestWebhookSubscriptionsRefuseBadInputNamingTheField(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		f := newSubscriptionFixture(t, store, false)
		admin := f.as[models.RoleGlobalAdmin]
		valid := func(change func(m map[string]any)) map[string]any {
			m := map[string]any{"url": "https://93.184.215.14/hooks", "events": []string{"invitation.active"}}
			change(m)
			return m
		}
		cases := []struct {
			name  string
			body  any
			field string
		}{
			{"a loopback URL is refused",
				valid(func(m map[string]any) { m["url"] = "http://127.0.0.1:8080/hooks" }), "url"},
			{"a private network URL is refused",
				valid(func(m map[string]any) { m["url"] = "http://10.0.0.7/hooks" }), "url"},
			{"the cloud metadata address is refused",
				valid(func(m map[string]any) { m["url"] = "http://169.254.169.254/latest/meta-data" }), "url"},
			{"an IPv6 loopback URL is refused",
				valid(func(m map[string]any) { m["url"] = "http://[::1]:8080/hooks" }), "url"},
			{"a name resolving to loopback is refused",
				valid(func(m map[string]any) { m["url"] = "http://localhost:8080/hooks" }), "url"},
			{"a URL that is not http or https is refused",
				valid(func(m map[string]any) { m["url"] = "file:///etc/passwd" }), "url"},
			{"a missing URL is refused", valid(func(m map[string]any) { delete(m, "url") }), "url"},
			{"credentials in the URL are refused",
				valid(func(m map[string]any) { m["url"] = "https://u:p@93.184.215.14/hooks" }), "url"},
			{"no events are refused", valid(func(m map[string]any) { m["events"] = []string{} }), "events"},
			{"an unknown kind is refused",
				valid(func(m map[string]any) { m["events"] = []string{"customer.active"} }), "events"},
			{"an unknown status is refused",
				valid(func(m map[string]any) { m["events"] = []string{"invitation.done"} }), "events"},
			{"an event without a status is refused",
				valid(func(m map[string]any) { m["events"] = []string{"invitation"} }), "events"},
			{"a wildcard inside a status is refused",
				valid(func(m map[string]any) { m["events"] = []string{"invitation.act*"} }), "events"},
			{"a long description is refused",
				valid(func(m map[string]any) { m["description"] = strings.Repeat("d", 201) }), "description"},
			{"an unknown field is refused", valid(func(m map[string]any) { m["secret"] = "mine" }), "secret"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp := admin.Do("POST", "/v1/webhook-subscriptions", tc.body)
				if resp.Status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", resp.Status, resp.Body)
				}
				if p := resp.Problem(t); p["field"] != tc.field {
					t.Fatalf("problem %v, want field %q", p, tc.field)
				}
			})
		}
		subs, err := store.WebhookSubscriptions(context.Background(), subscriptionPartner)
		if err != nil || len(subs) != 0 {
			t.Fatalf("refused requests stored %d subscriptions (%v)", len(subs), err)
		}
	})
}

func TestPrivateWebhookURLsAreAcceptedWhenAllowed(t *testing.T) {
	f := newSubscriptionFixture(t, testdb.SQLite(t), true)
	for _, url := range []string{"http://127.0.0.1:8080/hooks", "http://10.0.0.7/hooks", "http://[::1]:9/hooks"} {
		if resp := f.as[models.RoleGlobalAdmin].Do("POST", "/v1/webhook-subscriptions", map[string]any{
			"url":    url,
			"events": []string{"*"},
		}); resp.Status != http.StatusCreated {
			t.Fatalf("%s with private addresses allowed: %d %s", url, resp.Status, resp.Body)
		}
	}
}

func TestAWebhookSecretIsShownOnceAndNotStoredInTheClear(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		f := newSubscriptionFixture(t, store, false)
		admin := f.as[models.RoleGlobalAdmin]
		resp := admin.Do("POST", "/v1/webhook-subscriptions", map[string]any{
			"url": "https://93.184.215.14/hooks",
			"events": []string{
				"invitation.*", "reseller.verification_failed", "removal.completed", "invitation.*",
			},
			"description": " CRM ",
		})
		if resp.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		var created struct {
			ID, URL, Secret, Description, CreatedAt string
			Events                                  []string
		}
		resp.JSON(t, &created)
		if !strings.HasPrefix(created.Secret, "whsec_") || len(created.Secret) != len("whsec_")+43 ||
			created.ID == "" || created.CreatedAt == "" || created.Description != "CRM" ||
			strings.Join(created.Events, ",") != "invitation.*,reseller.verification_failed,removal.completed" {
			t.Fatalf("created %+v", created)
		}

		rows, err := store.WebhookSubscriptions(ctx, subscriptionPartner)
		if err != nil || len(rows) != 1 {
			t.Fatal(rows, err)
		}
		random := created.Secret[len("whsec_"):]
		if bytes.Contains(rows[0].SecretCiphertext, []byte(random)) || len(rows[0].SecretCiphertext) == 0 {
			t.Fatal("the stored secret is the plaintext")
		}

		list := admin.Do("GET", "/v1/webhook-subscriptions", nil)
		if list.Status != http.StatusOK || strings.Contains(string(list.Body), random) ||
			strings.Contains(string(list.Body), `"secret"`) ||
			!strings.Contains(string(list.Body), created.ID) {
			t.Fatalf("list: %d %s", list.Status, list.Body)
		}

		if resp := admin.Do(
			"DELETE", "/v1/webhook-subscriptions/"+created.ID, nil,
		); resp.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", resp.Status, resp.Body)
		}
		if resp := admin.Do(
			"DELETE", "/v1/webhook-subscriptions/"+created.ID, nil,
		); resp.Status != http.StatusNotFound {
			t.Fatalf("a second delete: %d", resp.Status)
		}
		if list := admin.Do("GET", "/v1/webhook-subscriptions", nil); strings.Contains(string(list.Body), created.ID) {
			t.Fatalf("a deleted subscription is listed: %s", list.Body)
		}
	})
}

func TestWebhookRoutesNeedTheirRoles(t *testing.T) {
	f := newSubscriptionFixture(t, testdb.SQLite(t), false)
	create := map[string]any{"url": "https://93.184.215.14/hooks", "events": []string{"*"}}
	cases := []struct {
		name         string
		method, path string
		body         any
		allowed      []models.Role
	}{
		{"only a global admin subscribes", "POST", "/v1/webhook-subscriptions", create,
			[]models.Role{models.RoleGlobalAdmin}},
		{"only a global admin lists subscriptions", "GET", "/v1/webhook-subscriptions", nil,
			[]models.Role{models.RoleGlobalAdmin}},
		{"only a global admin deletes a subscription", "DELETE", "/v1/webhook-subscriptions/whs_unknown", nil,
			[]models.Role{models.RoleGlobalAdmin}},
		{"global and admin agents read the delivery log", "GET", "/v1/webhook-deliveries", nil,
			[]models.Role{models.RoleGlobalAdmin, models.RoleAdminAgent}},
		{"only a global admin retries a delivery", "POST", "/v1/webhook-deliveries/whd_unknown/retry", nil,
			[]models.Role{models.RoleGlobalAdmin}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, role := range models.AllRoles {
				resp := f.as[role].Do(tc.method, tc.path, tc.body)
				allowed := false
				for _, a := range tc.allowed {
					allowed = allowed || a == role
				}
				if forbidden := resp.Status == http.StatusForbidden; forbidden == allowed {
					t.Errorf("%s: status %d", role, resp.Status)
				}
			}
			if resp := f.as[models.RoleGlobalAdmin].As("").
				Do(tc.method, tc.path, tc.body); resp.Status != http.StatusUnauthorized {
				t.Errorf("without a key: %d", resp.Status)
			}
		})
	}
}

func TestTheDeliveryLogRefusesBadQueriesNamingTheParameter(t *testing.T) {
	f := newSubscriptionFixture(t, testdb.SQLite(t), false)
	for query, field := range map[string]string{
		"?status=sent": "status", "?limit=0": "limit", "?limit=201": "limit", "?limit=ten": "limit",
		"?cursor=bogus": "cursor",
	} {
		resp := f.as[models.RoleAdminAgent].Do("GET", "/v1/webhook-deliveries"+query, nil)
		if resp.Status != http.StatusBadRequest || resp.Problem(t)["field"] != field {
			t.Errorf("%s: %d %s, want a problem naming %s", query, resp.Status, resp.Body, field)
		}
	}
	if resp := f.as[models.RoleGlobalAdmin].
		Do("POST", "/v1/webhook-deliveries/whd_unknown/retry", nil); resp.Status != http.StatusNotFound {
		t.Errorf("retry of an unknown delivery: %d", resp.Status)
	}
}
