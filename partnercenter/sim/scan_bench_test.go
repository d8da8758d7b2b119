package sim

import (
	"fmt"
	"testing"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// BenchmarkSimScan is one tick of the webhook scanner (every 200 ms, under the
// server's lock) with 100 and 10,000 GDAP relationships waiting for the
// customer's approval, as invitations waiting in dev leave them.
func BenchmarkSimScan(b *testing.B) {
	for _, size := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("relationships=%d", size), func(b *testing.B) {
			s, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := s.now()
			for i := range size {
				id := fmt.Sprintf("rel-%05d", i)
				s.st.GDAP[id] = &gdapRecord{ID: id, DisplayName: id, Duration: "P730D", Phase: pc.GDAPStatusApprovalPending,
					CreatedAt: now, ModifiedAt: now, LockedAt: now, Version: 2, Notified: map[string]bool{}}
			}
			for b.Loop() {
				s.mu.Lock()
				if s.scan() {
					b.Fatal("a waiting relationship emitted an event")
				}
				s.mu.Unlock()
			}
		})
	}
}
