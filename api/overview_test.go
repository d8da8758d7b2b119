package api_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/models"
)

// seedInvitation stores an invitation of partner with its timeline, each step the given time
// after its creation, as the workflow and the landing page would have written them.
func (f *flowFixture) seedInvitation(
	t *testing.T, id, partner, status string, created time.Time, steps map[string]time.Duration,
) {
	t.Helper()
	ctx := context.Background()
	inv := &models.Invitation{
		ID:             id,
		PartnerID:      partner,
		CustomerDomain: id + ".onmicrosoft.com",
		CustomerEmail:  "admin@" + id + ".onmicrosoft.com",
		Roles:          roleUserAdmin,
		DurationDays:   730,
		Status:         status,
		WorkflowID:     "invitation/" + id,
		CreatedAt:      created,
		UpdatedAt:      created,
		ExpiresAt:      created.Add(90 * 24 * time.Hour),
	}
	if _, err := f.store.CreateInvitation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	for name, after := range steps {
		if err := f.store.AddStep(ctx, models.KindInvitation, id, name, "", "", created.Add(after)); err != nil {
			t.Fatal(err)
		}
	}
}

// svgOf returns the inline SVG element with id, or "" when the page has none.
func svgOf(body, id string) string {
	return regexp.MustCompile(`<svg[^>]* id="` + regexp.QuoteMeta(id) + `"[\s\S]*?</svg>`).FindString(body)
}

func TestTheOverviewDrawsEachFlowKind(t *testing.T) {
	f := newFlowFixture(t)
	t0 := f.clock.Now().Add(-10 * 24 * time.Hour)
	// Three sent, two opened (one twice), one accepted by the customer after 3 days 4 hours.
	f.seedInvitation(t, "inv_a", partnerID, models.InvitationAccepted, t0, map[string]time.Duration{
		"sent": time.Minute, "opened": time.Hour, "acknowledged": 2 * time.Hour, "reseller-accepted": 76 * time.Hour,
	})
	f.seedInvitation(t, "inv_b", partnerID, models.InvitationPending, t0.Add(time.Hour), map[string]time.Duration{
		"sent": time.Minute, "opened": time.Hour,
	})
	if err := f.store.AddStep(context.Background(), models.KindInvitation, "inv_b", "opened", "", "",
		t0.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.seedInvitation(t, "inv_c", partnerID, models.InvitationPending, t0.Add(2*time.Hour),
		map[string]time.Duration{"sent": time.Minute})
	// Another partner's invitations in the same database are not this partner's numbers.
	f.seedInvitation(t, "inv_x", "another-partner", models.InvitationActive, t0, map[string]time.Duration{
		"sent": time.Minute, "opened": time.Minute, "reseller-accepted": time.Hour, "gdap-approved": time.Hour,
		"active": time.Hour,
	})
	cookie := f.signIn(t, models.RoleSalesAgent)
	resp := f.browser(t).Do("GET", "/overview", nil, "Cookie", cookie)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /overview: %d %s", resp.Status, resp.Body)
	}
	body := string(resp.Body)

	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"the status chart has a bar per status, sized by its count and coloured as its badge",
			svgOf(body, "invitation-statuses"), []string{
				`role="img"`, `aria-labelledby="invitation-statuses-title"`,
				`Invitations by status: pending 2, accepted 1, granting 0, active 0, declined 0, expired 0, ` +
					`cancelled 0, failed 0</title>`,
				`<text x="0" y="19">pending</text>` +
					`<rect class="bar pending" x="160" y="5" width="380" height="18" rx="3"/>` +
					`<text class="value" x="548" y="19">2</text>`,
				`<rect class="bar accepted" x="160" y="33" width="190" height="18" rx="3"/>` +
					`<text class="value" x="358" y="47">1</text>`,
				`<rect class="bar failed" x="160" y="201" width="0"`,
			}},
		{"the funnel counts each step once per invitation, with its share of the sent ones",
			svgOf(body, "invitation-funnel"), []string{
				`role="img"`,
				`Sent 3 (100%), Link opened 2 (67%), Reseller accepted 1 (33%), GDAP approved 0 (0%), ` +
					`Active 0 (0%)</title>`,
				`>Sent</text><rect class="bar step" x="160" y="5" width="380" height="18" rx="3"/>` +
					`<text class="value" x="548" y="19">3 · 100%</text>`,
				`>Link opened</text><rect class="bar step" x="160" y="33" width="253" height="18" rx="3"/>` +
					`<text class="value" x="421" y="47">2 · 67%</text>`,
				`>Reseller accepted</text><rect class="bar step" x="160" y="61" width="126" height="18" rx="3"/>` +
					`<text class="value" x="294" y="75">1 · 33%</text>`,
				`>0 · 0%</text>`,
			}},
		{"the median time to accept is said and drawn on the 90 days an invitation waits", body, []string{
			`<p id="invitation-median"><strong>3 days 4 hours</strong> ` +
				`<span class="muted">over 1 invitation</span></p>`,
			`<title id="invitation-median-title">Median time to accept: 3 days 4 hours, ` +
				`on a scale of 0 to 90 days</title>`,
			`<rect class="median" x="160" y="4" width="13" height="18" rx="3"/>`,
			`>90 days</text>`,
		}},
		{"the section counts the partner's invitations and links their list", body, []string{
			`<span id="invitation-total">3 invitations</span> · <a href="/">`,
		}},
		{"the navigation marks the overview as the current page", body, []string{
			`<a id="nav-overview" href="/overview" aria-current="page">Overview</a>` +
				`<a id="nav-invitations" href="/">Invitations</a>`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == "" {
				t.Fatalf("the chart is missing: %s", body)
			}
			for _, want := range tc.want {
				if !strings.Contains(tc.in, want) {
					t.Errorf("want %s\nin %s", want, tc.in)
				}
			}
		})
	}

	t.Run("the page runs no script and loads nothing, as its Content-Security-Policy demands", func(t *testing.T) {
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("Content-Security-Policy = %q", csp)
		}
		for _, banned := range []string{"<script", "<img", "<link", "<use", "href=\"http", "xlink:href", "url("} {
			if strings.Contains(body, banned) {
				t.Errorf("the page must not contain %q", banned)
			}
		}
	})

	t.Run("the invitation list marks itself in the navigation", func(t *testing.T) {
		list := f.browser(t).Do("GET", "/", nil, "Cookie", cookie)
		if want := `<a id="nav-overview" href="/overview">Overview</a><a id="nav-invitations" href="/" ` +
			`aria-current="page">Invitations</a>`; !strings.Contains(string(list.Body), want) {
			t.Fatalf("want %s in %s", want, list.Body)
		}
	})
}

func TestTheOverviewBeforeAnythingHappened(t *testing.T) {
	cases := []struct {
		name   string
		seed   func(t *testing.T, f *flowFixture)
		want   []string
		absent []string
	}{
		{
			name: "a partner without invitations is told so instead of empty charts",
			seed: func(*testing.T, *flowFixture) {},
			want: []string{
				`<span id="invitation-total">0 invitations</span>`,
				`<p class="muted" id="invitation-empty">No invitations yet.</p>`,
			},
			absent: []string{"<svg"},
		},
		{
			name: "invitations nobody accepted have no median",
			seed: func(t *testing.T, f *flowFixture) {
				f.seedInvitation(t, "inv_a", partnerID, models.InvitationPending, f.clock.Now(),
					map[string]time.Duration{"sent": time.Minute, "opened": time.Hour})
			},
			want: []string{
				`<p class="muted" id="invitation-median">No invitation accepted yet.</p>`,
				`1 · 100%`,
				`<span id="invitation-total">1 invitation</span>`,
			},
			absent: []string{`id="invitation-median-chart"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlowFixture(t)
			tc.seed(t, f)
			resp := f.browser(t).Do("GET", "/overview", nil, "Cookie", f.signIn(t, models.RoleAdminAgent))
			body := string(resp.Body)
			if resp.Status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.Status, body)
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("want %s in %s", want, body)
				}
			}
			for _, no := range tc.absent {
				if strings.Contains(body, no) {
					t.Errorf("must not contain %s: %s", no, body)
				}
			}
		})
	}
}

func TestTheOverviewNeedsASignedInOperator(t *testing.T) {
	f := newFlowFixture(t)
	f.seedInvitation(t, "inv_a", partnerID, models.InvitationPending, f.clock.Now(),
		map[string]time.Duration{"sent": time.Minute})
	resp := f.browser(t).Do("GET", "/overview", nil)
	if want := "/login?next=" + url.QueryEscape("/overview"); resp.Status != http.StatusSeeOther ||
		resp.Header.Get("Location") != want {
		t.Fatalf("status %d Location %q, want 303 to %s", resp.Status, resp.Header.Get("Location"), want)
	}
	if strings.Contains(string(resp.Body), "<svg") {
		t.Fatal("the redirect must not show the numbers")
	}
}
