package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// adatum is the demo reseller SeedDemo creates (partnered, agreement signed).
const adatum = "66666666-6666-4666-8666-666666666666"

// BenchmarkSimCreateCustomer is one persisted POST /v1/customers (through the
// simulator's handler, without a network) in a world of 100 and of 10,000
// tenants: the cost of a change should not grow with the world.
func BenchmarkSimCreateCustomer(b *testing.B) {
	for _, size := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("tenants=%d", size), func(b *testing.B) {
			s, err := sim.New(sim.Config{DataFile: filepath.Join(b.TempDir(), "sim.json")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.SeedDemo(); err != nil {
				b.Fatal(err)
			}
			if _, err := s.AddResellerCustomers(adatum, size); err != nil {
				b.Fatal(err)
			}
			h := s.Handler()
			token, err := s.MintToken(sim.TokenRequest{})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				n++
				body := fmt.Sprintf(
					`{"companyProfile":{"domain":"bench%d"},`+
						`"billingProfile":{"email":"a@bench%d.example","companyName":"Bench %d",`+
						`"defaultAddress":{"country":"US"}},"associatedPartnerId":%q}`,
					n,
					n,
					n,
					adatum,
				)
				req := httptest.NewRequest(http.MethodPost, "/v1/customers", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("MS-RequestId", fmt.Sprintf("bench-%d", n))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					b.Fatalf("create customer: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkSimLookups are the reads of the flows whose answer does not grow
// with the world, in a world of 1,000 and of 10,000 customers of one
// reseller: finding a customer by its domain (the invitation flow), the first
// page of another reseller's two customers (the removal flow) and the
// provider's indirect resellers.
func BenchmarkSimLookups(b *testing.B) {
	const litware = "77777777-7777-4777-8777-777777777777"
	for _, size := range []int{1_000, 10_000} {
		s, err := sim.New(sim.Config{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.SeedDemo(); err != nil {
			b.Fatal(err)
		}
		ids, err := s.AddResellerCustomers(adatum, size)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.AddResellerCustomers(litware, 2); err != nil {
			b.Fatal(err)
		}
		h := s.Handler()
		token, err := s.MintToken(sim.TokenRequest{})
		if err != nil {
			b.Fatal(err)
		}
		var domain string
		{
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/sim/tenants/"+ids[size/2], nil)
			h.ServeHTTP(rec, req)
			var t sim.Tenant
			if err := json.Unmarshal(rec.Body.Bytes(), &t); err != nil {
				b.Fatal(err)
			}
			domain = t.Domain
		}
		paths := map[string]string{
			"by-domain": "/v1/customers?size=500&filter=" + url.QueryEscape(
				`{"Field":"Domain","Value":"`+domain+`","Operator":"starts_with"}`,
			),
			"reseller-customers": "/v1/customers?size=200&filter=" + url.QueryEscape(
				`{"Field":"IndirectReseller","Value":"`+litware+`","Operator":"starts_with"}`,
			),
			"indirect-resellers": "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf",
		}
		for _, name := range []string{"by-domain", "reseller-customers", "indirect-resellers"} {
			b.Run(fmt.Sprintf("%s/tenants=%d", name, size), func(b *testing.B) {
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, paths[name], nil)
					req.Header.Set("Authorization", "Bearer "+token)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", paths[name], rec.Code, rec.Body)
					}
				}
			})
		}
		s.Close()
	}
}
