package sim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

const litwareTenant = "77777777-7777-4777-8777-777777777777"

// listedDomains pages GET /v1/customers with the filter (none when field is
// empty) and the page size, following the continuation tokens, and returns
// the domains listed.
func listedDomains(t *testing.T, s *Server, field, value string, size int) []string {
	t.Helper()
	q := url.Values{"size": {strconv.Itoa(size)}}
	if field != "" {
		q.Set("filter", `{"Field":"`+field+`","Value":"`+value+`","Operator":"starts_with"}`)
	}
	target, token := "/v1/customers?"+q.Encode(), ""
	bearer := mustToken(t, s, TokenRequest{})
	var out []string
	for range 1000 {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		if token != "" {
			req.Header.Set(pc.HeaderContinuationToken, token)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		var page pc.Collection[pc.Customer]
		if err := json.Unmarshal(rec.Body.Bytes(), &page); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
		}
		if len(page.Items) > size {
			t.Fatalf("a page of %d, asked for %d", len(page.Items), size)
		}
		for _, c := range page.Items {
			out = append(out, c.CompanyProfile.Domain)
		}
		if page.ContinuationToken == "" {
			return out
		}
		target, token = "/v1/customers?seekOperation=Next", page.ContinuationToken
	}
	t.Fatal("more than 1000 pages")
	return nil
}

// everyCustomer is what the customer list answered when it looked at every
// tenant: the customers the filter matches, in domain order.
func everyCustomer(s *Server, field, value string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, t := range s.st.Tenants {
		switch {
		case !t.isCustomer():
			continue
		case field == "Domain" && !strings.HasPrefix(strings.ToLower(t.Domain), strings.ToLower(value)):
			continue
		case field == "IndirectReseller" && (t.AssociatedPartnerID == "" ||
			!strings.HasPrefix(strings.ToLower(t.AssociatedPartnerID), strings.ToLower(value))):
			continue
		}
		out = append(out, strings.ToLower(t.Domain))
	}
	slices.Sort(out)
	return out
}

// The customer list reads indexes instead of every tenant; it must list what
// a look at every tenant did, page by page, while customers are added, move
// to another reseller, leave, and across a restart.
func TestCustomerListMatchesEveryTenant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.db")
	sv := serve(t, path, newClock().now)
	adatum, err := sv.s.AddResellerCustomers(adatumTenant, 40)
	if err != nil {
		t.Fatal(err)
	}
	litware, err := sv.s.AddResellerCustomers(litwareTenant, 12)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{
		"adatum-zz.onmicrosoft.com", "litware-aa.onmicrosoft.com", "Mixed-Case.onmicrosoft.com",
	} {
		if st := sv.post(t, "/sim/tenants", map[string]any{"domain": d, "country": "US", "companyName": d,
			"users": []User{{UPN: "admin@" + d, GlobalAdmin: true}}}); st != http.StatusCreated {
			t.Fatalf("tenant %s: %d", d, st)
		}
	}
	if _, err := sv.c.CreateCustomer(withID("new"), newCustomerBody("adatum-new.onmicrosoft.com")); err != nil {
		t.Fatal(err)
	}
	domainOf := func(id string) string {
		c, err := sv.c.GetCustomer(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return c.CompanyProfile.Domain
	}
	// A litware customer moves to adatum, an adatum customer to the home
	// partner, another leaves; a tenant that was no customer becomes one.
	moves := []map[string]string{
		{"domain": domainOf(litware[3]), "partnerId": adatumTenant},
		{"domain": domainOf(adatum[7]), "partnerId": DefaultHomePartner.TenantID},
		{"domain": "litware-aa.onmicrosoft.com", "partnerId": litwareTenant},
	}
	for _, m := range moves {
		m["upn"] = "admin@" + m["domain"]
		if st := sv.post(t, "/sim/customer-actions/accept-reseller", m); st != http.StatusOK {
			t.Fatalf("accept %v: %d", m, st)
		}
	}
	if _, err := sv.c.RemoveResellerRelationship(withID("leave"), adatum[11]); err != nil {
		t.Fatal(err)
	}

	filters := []struct{ field, value string }{
		{"", ""},
		{"Domain", "adatum-"},
		{"Domain", "LITWARE"},
		{"Domain", "mixed-case.onmicrosoft.com"},
		{"Domain", "nobody"},
		{"IndirectReseller", adatumTenant},
		{"IndirectReseller", litwareTenant},
		{"IndirectReseller", "6"},
		{"IndirectReseller", "66666666-6666-4666-8666-66666666666X"},
	}
	check := func(t *testing.T, s *Server) {
		for _, f := range filters {
			want := everyCustomer(s, f.field, f.value)
			for _, size := range []int{1, 7, 500} {
				if got := listedDomains(t, s, f.field, f.value, size); !slices.Equal(got, want) {
					t.Errorf("filter %s %q, pages of %d: listed %q, want %q", f.field, f.value, size, got, want)
				}
			}
		}
	}
	check(t, sv.s)
	sv.close(t)
	check(t, serve(t, path, newClock().now).s)
}

// A stored answer is replayed for a day, then forgotten (in memory and in the
// file): the same request ID is then a new request.
func TestStoredAnswersExpireAfterADay(t *testing.T) {
	clock := newClock()
	sv := serve(t, filepath.Join(t.TempDir(), "sim.db"), clock.now)
	first, err := sv.c.CreateCustomer(withID("create"), newCustomerBody("expiring.onmicrosoft.com"))
	if err != nil {
		t.Fatal(err)
	}
	expire := func() {
		sv.s.mu.Lock()
		defer sv.s.mu.Unlock()
		sv.s.st.expireAnswers(sv.s.now())
		if err := sv.s.flush(); err != nil {
			t.Fatal(err)
		}
	}
	clock.advance(answerRetention - time.Second)
	expire()
	if again, err := sv.c.CreateCustomer(withID("create"), newCustomerBody("expiring.onmicrosoft.com")); err != nil ||
		again.ID != first.ID {
		t.Errorf("a retry within the day = %+v, err %v; want the stored answer", again, err)
	}
	clock.advance(time.Second)
	expire()
	if err := sv.s.CheckStorage(); err != nil {
		t.Fatal(err)
	}
	sv.s.mu.Lock()
	left := len(sv.s.st.Idempotency)
	sv.s.mu.Unlock()
	if left != 0 {
		t.Errorf("%d stored answers left after a day", left)
	}
	_, err = sv.c.CreateCustomer(withID("create"), newCustomerBody("expiring.onmicrosoft.com"))
	if !pc.IsStatus(err, http.StatusConflict) {
		t.Errorf("the same request ID after a day: err %v, want the taken domain's 409", err)
	}
}

// The delivery log keeps the latest deliveries, however many events were
// emitted, and attempts at deliveries it dropped change nothing.
func TestDeliveryLogKeepsTheLatest(t *testing.T) {
	var l deliveryLog
	const added = 2*deliveryLogSize + 500
	for i := range added {
		seq := l.add(Delivery{URL: strconv.Itoa(i)})
		if seq != i {
			t.Fatalf("delivery %d got sequence number %d", i, seq)
		}
	}
	l.record(0, 3, 0, errors.New("refused"))
	l.record(added-1, 1, http.StatusOK, nil)
	got := l.latest()
	if len(got) != deliveryLogSize {
		t.Fatalf("the log holds %d deliveries, want %d", len(got), deliveryLogSize)
	}
	if first, last := got[0], got[len(got)-1]; first.URL != strconv.Itoa(added-deliveryLogSize) ||
		first.Attempts != 0 || last.URL != strconv.Itoa(added-1) || !last.Delivered || last.Attempts != 1 {
		t.Errorf("the log runs from %+v to %+v", first, last)
	}
}
