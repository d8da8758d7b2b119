package sim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// waitingWorld adds n GDAP relationships waiting for the customer's approval
// (as n invitations waiting in dev leave them) and writes them.
func waitingWorld(b *testing.B, s *Server, n int) {
	b.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for i := range n {
		id := fmt.Sprintf("waiting-%05d", i)
		s.st.putGDAP(&gdapRecord{
			ID:          id,
			DisplayName: id,
			Duration:    "P730D",
			Phase:       pc.GDAPStatusApprovalPending,
			Roles:       []pc.UnifiedRole{{RoleDefinitionID: helpdeskRole}},
			CreatedAt:   now,
			ModifiedAt:  now,
			LockedAt:    now,
			Version:     2,
			Notified:    map[string]bool{},
		})
	}
	if err := s.flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScan is one tick of the webhook scanner (every 200 ms, under the
// server's lock) in a world of 1,000 and of 10,000 relationships waiting for
// approval, with three relationships due each tick: approved longer than the
// activation delay ago, so that the tick emits their activation. The waiting
// ones should cost nothing.
func BenchmarkScan(b *testing.B) {
	for _, size := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("waiting=%d", size), func(b *testing.B) {
			s, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			waitingWorld(b, s, size)
			s.mu.Lock()
			defer s.mu.Unlock()
			now := s.now()
			var due []*gdapRecord
			for i := range 3 {
				id := fmt.Sprintf("due-%d", i)
				g := &gdapRecord{
					ID:          id,
					DisplayName: id,
					Duration:    "P730D",
					Phase:       pc.GDAPStatusApproved,
					Roles:       []pc.UnifiedRole{{RoleDefinitionID: helpdeskRole}},
					CreatedAt:   now,
					ModifiedAt:  now,
					LockedAt:    now,
					ApprovedAt:  now.Add(-time.Hour),
					Version:     3,
					Notified:    map[string]bool{},
				}
				s.st.putGDAP(g)
				due = append(due, g)
			}
			s.scan()
			for b.Loop() {
				// Each tick finds the three due again, as if just approved.
				for _, g := range due {
					clear(g.Notified)
					s.st.mark(kindGDAP, g.ID)
				}
				if !s.scan() {
					b.Fatal("the due relationships emitted nothing")
				}
			}
		})
	}
}

// BenchmarkCreateGDAP is one persisted POST of a GDAP relationship (through
// the simulator's handler, with an MS-RequestId, without a network) in a
// world of 1,000 and of 10,000 relationships waiting for approval.
func BenchmarkCreateGDAP(b *testing.B) {
	for _, size := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("waiting=%d", size), func(b *testing.B) {
			s, err := New(Config{DataFile: filepath.Join(b.TempDir(), "sim.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.SeedDemo(); err != nil {
				b.Fatal(err)
			}
			waitingWorld(b, s, size)
			h := s.Handler()
			token, err := s.MintToken(TokenRequest{Resource: ResourceGraph})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				n++
				body := fmt.Sprintf(
					`{"displayName":"bench %d","duration":"P730D","customer":{"tenantId":%q},`+
						`"accessDetails":{"unifiedRoles":[{"roleDefinitionId":%q}]}}`,
					n,
					fabrikamTenant,
					helpdeskRole,
				)
				req := httptest.NewRequest(
					http.MethodPost,
					"/v1.0/tenantRelationships/delegatedAdminRelationships",
					strings.NewReader(body),
				)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("MS-RequestId", fmt.Sprintf("bench-%d", n))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					b.Fatalf("create GDAP relationship: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
