package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// peakHeap samples the heap (reachable or not yet collected) every 10 ms until stop is called
// and returns the highest sample.
func peakHeap() (stop func() uint64) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			mu.Lock()
			peak = max(peak, samples[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkSeedEstate seeds an estate of N customers with one GDAP relationship each (50
// resellers, custom domains, expiring relationships), in memory and persisted to a data file.
// It reports the seconds; the heap the new world holds afterwards (world-MiB, the simulator's
// memory being its source of truth); the highest heap while seeding, garbage not yet collected
// included (heap-MiB); and the data file's size with its WAL. The seeding's own memory is one
// batch of estateBatch customers: with GOMEMLIMIT a little above the world, heap-MiB stays
// under it. Run it once per size:
//
//	go test ./partnercenter/sim -run XXX -bench BenchmarkSeedEstate -benchtime 1x
func BenchmarkSeedEstate(b *testing.B) {
	for _, tc := range []struct {
		customers int
		file      bool
	}{{10_000, false}, {100_000, false}, {10_000, true}, {100_000, true}} {
		kind := "memory"
		if tc.file {
			kind = "file"
		}
		b.Run(fmt.Sprintf("customers=%d/%s", tc.customers, kind), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				cfg := sim.Config{}
				if tc.file {
					cfg.DataFile = filepath.Join(b.TempDir(), "sim.db")
				}
				s, err := sim.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.SeedDemo(); err != nil {
					b.Fatal(err)
				}
				before := liveHeap()
				stop := peakHeap()
				b.StartTimer()
				sum, err := s.SeedEstate(sim.EstateSpec{
					Customers: tc.customers, GDAPPerCustomer: 1, Resellers: 50, CustomDomains: true,
					ExpiringWithinDays: []int{1, 7, 30},
				})
				b.StopTimer()
				peak := stop()
				if err != nil {
					b.Fatal(err)
				}
				if len(sum.Customers) != tc.customers || sum.GDAPRelationships != tc.customers {
					b.Fatalf("seeded %d customers, %d relationships", len(sum.Customers), sum.GDAPRelationships)
				}
				world := liveHeap() - before
				const mib = 1 << 20
				b.ReportMetric(float64(world)/mib, "world-MiB")
				b.ReportMetric(float64(peak)/mib, "heap-MiB")
				if tc.file {
					var size int64
					for _, suffix := range []string{"", "-wal"} {
						if fi, err := os.Stat(cfg.DataFile + suffix); err == nil {
							size += fi.Size()
						}
					}
					b.ReportMetric(float64(size)/mib, "file-MiB")
				}
				s.Close()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkEstatePages is one page of each list an estate sync reads (the customer list at 500,
// the GDAP list at 300, first and following page) through the simulator's handler, in an estate
// of 10,000 and of 100,000 customers with one relationship each: a page should cost the same in
// both.
func BenchmarkEstatePages(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		s, err := sim.New(sim.Config{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.SeedEstate(sim.EstateSpec{Customers: n, GDAPPerCustomer: 1}); err != nil {
			b.Fatal(err)
		}
		pcToken, err := s.MintToken(sim.TokenRequest{AppOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		graphToken, err := s.MintToken(sim.TokenRequest{AppOnly: true, Resource: sim.ResourceGraph})
		if err != nil {
			b.Fatal(err)
		}
		h := s.Handler()
		get := func(b *testing.B, target, token, continuation string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if continuation != "" {
				req.Header.Set(partnercenter.HeaderContinuationToken, continuation)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
			}
			return rec
		}
		const gdap = "/v1.0/tenantRelationships/delegatedAdminRelationships"
		first := get(b, gdap+"?$top=300", graphToken, "")
		var page partnercenter.GraphCollection[partnercenter.GDAPRelationship]
		if err := json.Unmarshal(first.Body.Bytes(), &page); err != nil || page.NextLink == "" {
			b.Fatalf("first GDAP page: %v", err)
		}
		next := page.NextLink[len("http://example.com"):]
		customers := get(b, "/v1/customers?size=500", pcToken, "")
		var cpage partnercenter.Collection[partnercenter.Customer]
		if err := json.Unmarshal(customers.Body.Bytes(), &cpage); err != nil || cpage.ContinuationToken == "" {
			b.Fatalf("first customer page: %v", err)
		}
		for _, bc := range []struct {
			name, target, token, continuation string
		}{
			{"gdap-first", gdap + "?$top=300", graphToken, ""},
			{"gdap-next", next, graphToken, ""},
			{"customers-first", "/v1/customers?size=500", pcToken, ""},
			{"customers-next", "/v1/customers?seekOperation=Next", pcToken, cpage.ContinuationToken},
		} {
			b.Run(bc.name+"/customers="+strconv.Itoa(n), func(b *testing.B) {
				for b.Loop() {
					get(b, bc.target, bc.token, bc.continuation)
				}
			})
		}
		s.Close()
	}
}
