package sim

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// An estate is made outside partnerflow: seeding it sends no event for its past, and the
// scanner then emits, exactly when due, what a full scan would (the ends of the relationships
// that do not extend themselves), also after a restart.
func TestEstateOwesNoEventForItsPast(t *testing.T) {
	w := &scanWorld{t: t, path: filepath.Join(t.TempDir(), "sim.db"), clock: newClock()}
	w.start()
	if _, err := w.s.SeedEstate(EstateSpec{
		Customers: 100, GDAPPerCustomer: 2, Resellers: 2, ExpiringWithinDays: []int{1, 7},
	}); err != nil {
		t.Fatal(err)
	}
	if got := w.tick(); len(got) != 0 {
		t.Fatalf("seeding emitted %q", got)
	}
	// Relationships 19, 59, 99, 139 and 179 of the cycle end within a day (those of 39, 79, ...
	// within seven).
	got := w.advance(25 * time.Hour)
	if len(got) != 5 {
		t.Fatalf("a day later: %q, want the 5 relationships ending within a day", got)
	}
	for _, e := range got {
		if !strings.HasPrefix(e, pc.EventGDAPExpired+" ") {
			t.Errorf("%s, want only expiries", e)
		}
	}
	w.restart()
	if got := w.tick(); len(got) != 0 {
		t.Fatalf("after a restart: %q", got)
	}
	// A week later: those five, and whichever of the others end that week (the tick checked
	// them against a full scan).
	got = w.advance(6 * 24 * time.Hour)
	ended := map[string]bool{}
	w.s.mu.Lock()
	for _, e := range got {
		id := strings.TrimPrefix(e, pc.EventGDAPExpired+" ")
		if g := w.s.st.GDAP[id]; g != nil && id != e {
			ended[g.DisplayName[len(g.DisplayName)-len("000020-2"):]] = true
		}
	}
	w.s.mu.Unlock()
	for _, j := range []int{39, 79, 119, 159, 199} {
		if name := fmt.Sprintf("%06d-%d", j/2+1, j%2+1); !ended[name] {
			t.Errorf("relationship %s (the cycle's %d) did not expire within the week: %q", name, j, got)
		}
	}
	if len(ended) != len(got) {
		t.Errorf("a week later: %q, want only expiries", got)
	}
}

// gdapOrder holds exactly the relationships not deleted, in list order, through creation,
// deletion, an estate and a restart.
func TestGDAPListOrderFollowsTheWorld(t *testing.T) {
	w := &scanWorld{t: t, path: filepath.Join(t.TempDir(), "sim.db"), clock: newClock()}
	w.start()
	check := func(when string) {
		t.Helper()
		w.s.mu.Lock()
		defer w.s.mu.Unlock()
		var want []*gdapRecord
		for _, g := range w.s.st.GDAP {
			if g.Phase != phaseDeleted {
				want = append(want, g)
			}
		}
		slices.SortFunc(want, compareGDAP)
		if !slices.Equal(w.s.st.gdapOrder, want) {
			t.Fatalf("%s: the list order has %d relationships, want %d", when, len(w.s.st.gdapOrder), len(want))
		}
	}
	kept := w.relationship("kept", "P730D", "")
	gone := w.relationship("deleted", "P730D", "")
	w.call(http.MethodDelete, gdapPath+"/"+gone, nil)
	check("after a deletion")
	if _, err := w.s.SeedEstate(EstateSpec{Customers: 50, GDAPPerCustomer: 3}); err != nil {
		t.Fatal(err)
	}
	w.clock.advance(time.Second)
	w.relationship("after the estate", "P730D", "")
	check("after an estate")
	w.restart()
	check("after a restart")
	w.s.mu.Lock()
	last := w.s.st.gdapOrder[len(w.s.st.gdapOrder)-1]
	first := w.s.st.gdapAfter(time.Time{}, "", 1)[0]
	w.s.mu.Unlock()
	if last.DisplayName != "after the estate" || first.ID == gone || first.ID == kept {
		t.Errorf("first %s, last %s: the estate's relationships are older", first.DisplayName, last.DisplayName)
	}
}
