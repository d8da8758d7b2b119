package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// TestEveryFlowEventIsRouted holds the webhook endpoint to the flow descriptors: an event a flow
// waits for and no route delivers would leave its workflows polling.
func TestEveryFlowEventIsRouted(t *testing.T) {
	f := newFlowFixture(t)
	routed := f.server.RoutedEvents()
	for _, fl := range workflows.Flows {
		for _, ev := range fl.Events {
			if !slices.Contains(routed, ev) {
				t.Errorf("flow %s waits for %s, which the webhook does not route", fl.Kind, ev)
			}
		}
	}
	if len(routed) != len(workflows.WebhookEvents()) {
		t.Errorf("routed %v, the flows wait for %v", routed, workflows.WebhookEvents())
	}
}

// TestTheTimelineIsPaged reads a long timeline page by page through the API and the dashboard.
func TestTheTimelineIsPaged(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	f.live(inv.WorkflowID, pending())
	base := f.clock.Now()
	for i := range 250 {
		err := f.store.AddStep(
			context.Background(), models.KindInvitation, inv.ID, "reminder",
			fmt.Sprintf("reminder %d", i), fmt.Sprintf("k/%d", i), base.Add(time.Duration(i+1)*time.Second),
		)
		if err != nil {
			t.Fatal(err)
		}
	}
	var detail struct {
		Steps           []struct{ Name, Detail string }
		StepsNextCursor string
	}
	r := f.sales.Do("GET", "/v1/invitations/"+inv.ID, nil)
	if err := json.Unmarshal(r.Body, &detail); err != nil || r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if len(detail.Steps) != 100 || detail.StepsNextCursor == "" || detail.Steps[0].Name != "created" {
		t.Fatalf("the detail must hold the first 100 steps and a cursor: %d %q",
			len(detail.Steps), detail.StepsNextCursor)
	}
	seen, cursor, pages := len(detail.Steps), detail.StepsNextCursor, 0
	for cursor != "" {
		var page struct {
			Items      []struct{ Detail string }
			NextCursor string
		}
		r := f.sales.Do("GET", "/v1/invitations/"+inv.ID+"/steps?limit=70&cursor="+url.QueryEscape(cursor), nil)
		if err := json.Unmarshal(r.Body, &page); err != nil || r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if pages == 0 && page.Items[0].Detail != "reminder 99" {
			t.Fatalf("the second page must go on where the first ended, got %q", page.Items[0].Detail)
		}
		seen, cursor, pages = seen+len(page.Items), page.NextCursor, pages+1
	}
	if seen != 251 || pages != 3 {
		t.Fatalf("paged %d steps in %d more pages, want 251 in 3", seen, pages)
	}
	for q, field := range map[string]string{"?cursor=***": "cursor", "?limit=0": "limit", "?limit=201": "limit"} {
		r := f.sales.Do("GET", "/v1/invitations/"+inv.ID+"/steps"+q, nil)
		if r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte(`"field":"`+field+`"`)) {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := f.sales.Do("GET", "/v1/invitations/inv_0000000000000000/steps", nil); r.Status != http.StatusNotFound {
		t.Errorf("an unknown invitation's timeline: %d", r.Status)
	}

	cookie := f.signIn(t, models.RoleSalesAgent)
	page := f.browser(t).Do("GET", "/invitations/"+inv.ID, nil, "Cookie", cookie)
	later := anchor(page.Body, "later-steps")
	if strings.Count(string(page.Body), "<strong>") != 100 || later == "" {
		t.Fatalf("the dashboard must show 100 steps and a link to the later ones (%q)", later)
	}
	next := f.browser(t).Do("GET", strings.ReplaceAll(later, "&amp;", "&"), nil, "Cookie", cookie)
	if !bytes.Contains(next.Body, []byte("reminder 99")) ||
		bytes.Contains(next.Body, []byte("<strong>created</strong>")) {
		t.Fatal("the later page must go on where the first ended")
	}
}

// TestTheDashboardRefusesWhatTheAPIRefuses: a cancel reason too long for the API is refused on
// the dashboard too, with the same words, instead of being cut.
func TestTheDashboardRefusesWhatTheAPIRefuses(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	f.live(inv.WorkflowID, pending())
	long := strings.Repeat("x", 501)
	api := f.admin.Do("POST", "/v1/invitations/"+inv.ID+"/cancel", map[string]string{"reason": long})
	if api.Status != http.StatusBadRequest || !bytes.Contains(api.Body, []byte("at most 500 characters")) {
		t.Fatalf("API: %d %s", api.Status, api.Body)
	}
	cookie := f.signIn(t, models.RoleAdminAgent)
	page := f.browser(t).Do("GET", "/invitations/"+inv.ID, nil, "Cookie", cookie)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page.Body)[1]
	before := len(f.temporal.updateCalls())
	r := f.browser(t).Do("POST", "/invitations/"+inv.ID+"/cancel",
		"csrf="+url.QueryEscape(string(csrf))+"&reason="+long,
		"Content-Type", formContentType, "Cookie", cookie)
	if r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte("at most 500 characters")) {
		t.Fatalf("dashboard: %d", r.Status)
	}
	if len(f.temporal.updateCalls()) != before {
		t.Fatal("a refused cancel must not reach the workflow")
	}
}

// TestRepeatedAcknowledgementsAreRecordedOncePerUPN bounds what a customer's link can write.
func TestRepeatedAcknowledgementsAreRecordedOncePerUPN(t *testing.T) {
	f := newFlowFixture(t)
	inv := f.invite(t, "contoso.onmicrosoft.com")
	f.live(inv.WorkflowID, pending())
	browser := f.browser(t)
	for i := range 6 {
		f.clock.Advance(time.Minute)
		upn := "admin@contoso.onmicrosoft.com"
		if i%2 == 1 {
			upn = "it@contoso.onmicrosoft.com"
		}
		if r := browser.Do("POST", f.acceptPath(inv), "upn="+url.QueryEscape(upn),
			"Content-Type", formContentType); r.Status != http.StatusSeeOther {
			t.Fatalf("acknowledge: %d %s", r.Status, r.Body)
		}
	}
	if got := f.steps(t, inv.ID, "acknowledged"); len(got) != 2 {
		t.Fatalf("6 posts by 2 accounts must be 2 steps, got %d", len(got))
	}
}
