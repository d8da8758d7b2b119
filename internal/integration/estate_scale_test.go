package integration

import (
	"context"
	"flag"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

var estateCustomers = flag.Int("estate.customers", 0,
	"measure the estate sync on an estate of this many customers, each with one GDAP relationship (0 skips)")

// TestEstateSyncAtScale measures a first and an incremental pass of the estate sync through the
// real parts, at the call budget production uses, and reports the figures (README's "The
// partner's estate" quotes them); it asserts what the passes found, never how long they took.
//
//	go test ./internal/integration -run TestEstateSyncAtScale -estate.customers 100000 -v -timeout 60m
func TestEstateSyncAtScale(t *testing.T) {
	n := *estateCustomers
	if n == 0 {
		t.Skip("opt-in: -estate.customers N")
	}
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			calls := &countingTransport{}
			h := assembleWith(t, dialect, workflows.WaitPolicy{Reminders: []time.Duration{72 * time.Hour},
				PollEvery: time.Hour}, "", calls)
			seeded := time.Now()
			estate, err := h.sim.SeedEstate(sim.EstateSpec{Customers: n, GDAPPerCustomer: 1, Resellers: 20})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("seeded %d customers and %d GDAP relationships in %v", len(estate.Customers),
				estate.GDAPRelationships, time.Since(seeded).Round(time.Millisecond))

			before, began := calls.n.Load(), time.Now()
			var usage syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
			cpu0 := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
			h.startEstateSync(24 * time.Hour)
			first := waitPassFor(t, h, 1, time.Hour)
			took, made := time.Since(began), calls.n.Load()-before
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
			cpu := time.Duration(usage.Utime.Nano()+usage.Stime.Nano()) - cpu0
			if first.Customers < n || first.Relationships < estate.GDAPRelationships {
				t.Fatalf("the first pass saw %d customers and %d relationships of %d and %d", first.Customers,
					first.Relationships, n, estate.GDAPRelationships)
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			t.Logf("first pass (%s): %v, %d Partner Center and Graph calls, CPU %v, peak RSS of the whole "+
				"test process (Temporal, simulator, database, worker) %d MiB, heap %d MiB", dialect,
				took.Round(time.Second), made, cpu.Round(time.Millisecond), usage.Maxrss/1024, m.HeapInuse>>20)

			// An incremental pass over the same estate.
			before, began = calls.n.Load(), time.Now()
			cpu0 = time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
			if r := h.global.Do("POST", "/v1/directory/sync", nil); r.Status != 202 {
				t.Fatalf("sync now: %d %s", r.Status, r.Body)
			}
			waitPassFor(t, h, 2, time.Hour)
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
			cpu = time.Duration(usage.Utime.Nano()+usage.Stime.Nano()) - cpu0
			t.Logf("incremental pass (%s): %v, %d calls, CPU %v", dialect, time.Since(began).Round(time.Second),
				calls.n.Load()-before, cpu.Round(time.Millisecond))
		})
	}
}

// waitPassFor is waitPass with a longer deadline, for large estates.
func waitPassFor(t *testing.T, h *harness, n int64, limit time.Duration) *models.DirectorySync {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		d, err := h.store.DirectorySyncOf(context.Background(), sim.DefaultHomePartner.TenantID)
		if err == nil && d.CompletedPass >= n {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync did not complete pass %d within %v: %+v %v", n, limit, d, err)
		}
		time.Sleep(time.Second)
	}
}
