package sim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
			n := 0
			for b.Loop() {
				n++
				body := fmt.Sprintf(`{"companyProfile":{"domain":"bench%d"},"billingProfile":{"email":"a@bench%d.example","companyName":"Bench %d","defaultAddress":{"country":"US"}},"associatedPartnerId":%q}`, n, n, n, adatum)
				req := httptest.NewRequest(http.MethodPost, "/v1/customers", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer x")
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
