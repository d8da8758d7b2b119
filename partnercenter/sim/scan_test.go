package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// scanWorld is a simulator on a data file whose webhook scanner the test
// runs itself, tick by tick, with a clock the test moves.
type scanWorld struct {
	t     *testing.T
	path  string
	clock *testClock
	s     *Server
}

const gdapPath = "/v1.0/tenantRelationships/delegatedAdminRelationships"

// start opens the world at w.path with the background scanner stopped (and
// with it webhook delivery: emitted events stay in the delivery log), and
// subscribes to every time-derived event.
func (w *scanWorld) start() {
	w.t.Helper()
	s, err := New(
		Config{DataFile: w.path, ActivationDelay: time.Minute, Now: w.clock.now, PublicURL: "http://sim.test"},
	)
	if err != nil {
		w.t.Fatal(err)
	}
	s.cancel()
	s.wg.Wait()
	w.t.Cleanup(s.Close)
	w.s = s
	if err := s.SeedDemo(); err != nil {
		w.t.Fatal(err)
	}
	if s.st.Webhook != nil {
		return // kept from before a restart
	}
	w.call(http.MethodPost, "/webhooks/v1/registration", map[string]any{
		"WebhookUrl": "http://127.0.0.1:9/hooks",
		"WebhookEvents": []string{
			pc.EventGDAPActivated, pc.EventGDAPTerminated, pc.EventGDAPExpired, pc.EventGDAPAssignmentActivated,
		},
	})
}

// restart closes the simulator and opens its data file again.
func (w *scanWorld) restart() {
	w.t.Helper()
	w.s.Close()
	w.start()
}

// call sends a request to the simulator's handler and fails the test unless
// it succeeds; it returns the decoded answer.
func (w *scanWorld) call(method, path string, body any) map[string]any {
	w.t.Helper()
	code, out := w.do(method, path, body)
	if code >= 300 {
		w.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// do sends a request to the simulator's handler and returns the status code
// and the decoded answer.
func (w *scanWorld) do(method, path string, body any) (int, map[string]any) {
	w.t.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, strings.NewReader(string(b)))
	res := ResourcePartnerCenter
	if strings.HasPrefix(path, "/v1.0/") {
		res = ResourceGraph
	}
	req.Header.Set("Authorization", "Bearer "+mustToken(w.t, w.s, TokenRequest{Resource: res}))
	if method == http.MethodPatch || method == http.MethodDelete {
		req.Header.Set("If-Match", "*")
	}
	rec := httptest.NewRecorder()
	w.s.Handler().ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// relationship creates a GDAP relationship for fabrikam and returns its ID.
func (w *scanWorld) relationship(name, duration, autoExtend string) string {
	w.t.Helper()
	return w.call(http.MethodPost, gdapPath, map[string]any{
		"displayName":        name,
		"duration":           duration,
		"autoExtendDuration": autoExtend,
		"customer":           map[string]string{"tenantId": fabrikamTenant},
		"accessDetails":      map[string]any{"unifiedRoles": []map[string]string{{"roleDefinitionId": helpdeskRole}}},
	})["id"].(string)
}

func (w *scanWorld) lock(id string) {
	w.call(http.MethodPost, gdapPath+"/"+id+"/requests", map[string]string{"action": pc.GDAPActionLockForApproval})
}

func (w *scanWorld) approve(id string) {
	w.call(
		http.MethodPost,
		"/sim/customer-actions/approve-gdap",
		map[string]string{"relationshipId": id, "upn": "admin@fabrikam.onmicrosoft.com"},
	)
}

func (w *scanWorld) terminate(id string) {
	w.call(http.MethodPost, gdapPath+"/"+id+"/requests", map[string]string{"action": pc.GDAPActionTerminate})
}

func (w *scanWorld) assign(id string, group int) {
	w.call(http.MethodPost, gdapPath+"/"+id+"/accessAssignments", map[string]any{
		"accessContainer": map[string]string{
			"accessContainerId":   fmt.Sprintf("9a4a1d2b-1111-4c3d-8e5f-%012d", group),
			"accessContainerType": "securityGroup",
		},
		"accessDetails": map[string]any{"unifiedRoles": []map[string]string{{"roleDefinitionId": helpdeskRole}}},
	})
}

// owed is what the scanner emitted before it kept a schedule, when a tick
// looked at every relationship: the event each one's status calls for and
// every assignment's activation, unless already delivered. Each is written
// "<event> <relationship ID>[/accessAssignments/<assignment ID>]".
func owed(s *Server, now time.Time) []string {
	var out []string
	for _, g := range s.st.GDAP {
		if g.Phase == "deleted" {
			continue
		}
		status, _, _ := g.status(now, s.cfg.ActivationDelay)
		if event := statusEvent(status); event != "" && !g.Notified[event] {
			out = append(out, event+" "+g.ID)
		}
		for _, a := range g.Assignments {
			if !a.Notified && a.status(now, s.cfg.ActivationDelay) == pc.AssignmentStatusActive {
				out = append(out, pc.EventGDAPAssignmentActivated+" "+g.ID+"/accessAssignments/"+a.ID)
			}
		}
	}
	slices.Sort(out)
	return out
}

// tick runs one tick of the scanner and checks that it emits exactly what
// looking at every relationship would, and writes what it records; it
// returns what it emitted.
func (w *scanWorld) tick() []string {
	w.t.Helper()
	s := w.s
	s.mu.Lock()
	want := owed(s, s.now())
	before := len(s.Deliveries())
	s.scan()
	var got []string
	for _, d := range s.Deliveries()[before:] {
		got = append(got, d.Event.EventName+" "+strings.TrimPrefix(d.Event.ResourceURI, "http://sim.test"+gdapPath+"/"))
	}
	slices.Sort(got)
	err := s.flush()
	s.mu.Unlock()
	if err != nil {
		w.t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		w.t.Errorf("the tick emitted %q, want %q", got, want)
	}
	if err := s.CheckStorage(); err != nil {
		w.t.Error(err)
	}
	return got
}

// advance moves the clock and runs a tick.
func (w *scanWorld) advance(d time.Duration) []string {
	w.t.Helper()
	w.clock.advance(d)
	return w.tick()
}

// The scanner keeps a schedule instead of looking at every relationship on
// every tick; it must still emit each time-derived event exactly when, and as
// often as, looking at every relationship did: activation after the delay,
// assignment activation, termination, the end of a relationship, the expiry
// of a request, after a restart and after the clock moved by /sim/clock.
func TestScanEmitsWhatAFullScanWould(t *testing.T) {
	w := &scanWorld{t: t, path: filepath.Join(t.TempDir(), "sim.db"), clock: newClock()}
	w.start()
	short := w.relationship("one day", "P1D", "")
	month := w.relationship("forty days", "P40D", "")
	long := w.relationship("two years", "P730D", "")
	extending := w.relationship("extending", "P90D", "P180D")
	ended := w.relationship("terminated", "P730D", "")
	waiting := w.relationship("waiting", "P730D", "")
	w.relationship("never sent", "P730D", "")
	deleted := w.relationship("deleted", "P730D", "")
	for _, id := range []string{short, month, long, extending, ended, waiting} {
		w.lock(id)
	}
	w.call(http.MethodDelete, gdapPath+"/"+deleted, nil)
	for _, id := range []string{short, month, long, extending, ended} {
		w.approve(id)
	}
	if got := w.tick(); len(got) != 0 {
		t.Errorf("at approval: %q", got)
	}
	if got := w.advance(59 * time.Second); len(got) != 0 {
		t.Errorf("before the activation delay: %q", got)
	}
	if got := w.advance(time.Second); len(got) != 5 {
		t.Errorf("at the activation delay: %q, want five activations", got)
	}
	w.assign(long, 1)
	w.assign(long, 2)
	w.assign(extending, 1)
	w.terminate(ended)
	if got := w.advance(30 * time.Second); len(got) != 0 {
		t.Errorf("halfway: %q", got)
	}
	if got := w.advance(30 * time.Second); len(got) != 4 {
		t.Errorf("after the delay: %q, want three assignments and a termination", got)
	}
	w.call(http.MethodPatch, gdapPath+"/"+long, map[string]string{"autoExtendDuration": "P180D"})
	w.call(http.MethodPatch, gdapPath+"/"+long, map[string]string{"autoExtendDuration": "PT0S"})
	// The one-day relationship ends a day after its activation: expiring then gives no event,
	// expired (deprovisioned, the activation delay later) gives -expired.
	if got := w.advance(24*time.Hour - time.Minute); len(got) != 0 {
		t.Errorf("at the one-day relationship's end: %q, want nothing while it is expiring", got)
	}
	if got := w.advance(time.Minute); len(got) != 1 {
		t.Errorf("after a day: %q, want the one-day relationship expired", got)
	}
	w.restart()
	if got := w.tick(); len(got) != 0 {
		t.Errorf("after the restart: %q", got)
	}
	w.assign(month, 1)
	w.restart()
	if got := w.advance(time.Minute); len(got) != 1 {
		t.Errorf("an assignment made before a restart: %q", got)
	}
	w.call(http.MethodPost, "/sim/clock", map[string]string{"advance": "2160h"})
	if got := w.tick(); len(got) != 2 {
		t.Errorf("90 days on: %q, want the request's expiry and the forty-day relationship's end", got)
	}
	if got := w.advance(730 * 24 * time.Hour); len(got) != 1 {
		t.Errorf("two years on: %q, want the two-year relationship's end", got)
	}
	if got := w.advance(730 * 24 * time.Hour); len(got) != 0 {
		t.Errorf("nothing is left to come: %q", got)
	}
}

// A relationship waiting for the customer's approval is next due when its
// request expires, 90 days on: the ticks until then do not look at it.
func TestWaitingRelationshipsAreNotLookedAt(t *testing.T) {
	w := &scanWorld{t: t, path: filepath.Join(t.TempDir(), "sim.db"), clock: newClock()}
	w.start()
	for i := range 50 {
		w.lock(w.relationship(fmt.Sprintf("waiting %d", i), "P730D", ""))
	}
	locked := w.clock.now()
	w.tick()
	w.restart()
	w.tick()
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.st.due) != 50 || len(s.st.touched) != 0 {
		t.Fatalf("%d relationships scheduled, %d left to schedule; want 50 and none", len(s.st.due), len(s.st.touched))
	}
	if next, want := s.st.due[0].dueAt, locked.Add(gdapApprovalWindow); !next.Equal(want) {
		t.Errorf("the first relationship is due at %s, want %s", next, want)
	}
}

// A relationship that does not extend itself is active until its end, expiring (Graph: "has passed
// its expiration date") for the activation delay, then expired ("the system completes the
// deprovisioning"): the scanner sends -expired then, and nothing while it is expiring, when it can
// no longer be changed, terminated or given access. One the scanner first sees past its end gets
// no -activated.
func TestGDAPIsExpiringAfterItsEnd(t *testing.T) {
	w := &scanWorld{t: t, path: filepath.Join(t.TempDir(), "sim.db"), clock: newClock()}
	w.start()
	status := func(id string) string {
		w.t.Helper()
		return w.call(http.MethodGet, gdapPath+"/"+id, nil)["status"].(string)
	}
	seen := w.relationship("seen", "P1D", "")
	w.lock(seen)
	w.approve(seen)
	if got := w.advance(time.Minute); !slices.Equal(got, []string{pc.EventGDAPActivated + " " + seen}) {
		t.Fatalf("at activation: %q", got)
	}
	w.assign(seen, 1)
	if got := w.advance(time.Minute); len(got) != 1 {
		t.Fatalf("the assignment's activation: %q", got)
	}
	got := w.advance(24*time.Hour - time.Minute - time.Second)
	if len(got) != 0 || status(seen) != pc.GDAPStatusActive {
		t.Fatalf("a second before its end: %q, %s; want nothing, active", got, status(seen))
	}
	if got := w.advance(time.Second); len(got) != 0 || status(seen) != pc.GDAPStatusExpiring {
		t.Fatalf("at its end: %q, %s; want nothing, expiring", got, status(seen))
	}
	for name, req := range map[string]struct {
		method, path string
		body         any
	}{
		"PATCH": {http.MethodPatch, gdapPath + "/" + seen, map[string]string{"autoExtendDuration": "PT0S"}},
		"terminate": {http.MethodPost, gdapPath + "/" + seen + "/requests",
			map[string]string{"action": pc.GDAPActionTerminate}},
		"an access assignment": {http.MethodPost, gdapPath + "/" + seen + "/accessAssignments", map[string]any{
			"accessContainer": map[string]string{
				"accessContainerId":   "9a4a1d2b-1111-4c3d-8e5f-000000000002",
				"accessContainerType": "securityGroup",
			},
			"accessDetails": map[string]any{"unifiedRoles": []map[string]string{{"roleDefinitionId": helpdeskRole}}},
		}},
	} {
		if code, out := w.do(req.method, req.path, req.body); code != http.StatusBadRequest {
			t.Errorf("%s while expiring: %d %v, want 400", name, code, out)
		}
	}
	if code, out := w.do(http.MethodPost, "/sim/customer-actions/terminate-gdap", map[string]string{
		"relationshipId": seen, "upn": "admin@fabrikam.onmicrosoft.com",
	}); code != http.StatusConflict {
		t.Errorf("the customer ending it while expiring: %d %v, want 409", code, out)
	}
	if got := w.advance(time.Minute - time.Second); len(got) != 0 || status(seen) != pc.GDAPStatusExpiring {
		t.Fatalf("a second before the delay is over: %q, %s", got, status(seen))
	}
	if got := w.advance(time.Second); !slices.Equal(got, []string{pc.EventGDAPExpired + " " + seen}) ||
		status(seen) != pc.GDAPStatusExpired {
		t.Fatalf("the delay after its end: %q, %s; want -expired, expired", got, status(seen))
	}

	unseen := w.relationship("unseen", "P1D", "")
	w.lock(unseen)
	w.approve(unseen)
	w.tick()
	w.clock.advance(time.Minute + 24*time.Hour + 30*time.Second) // past its end, no tick on the way
	if got := w.tick(); len(got) != 0 || status(unseen) != pc.GDAPStatusExpiring {
		t.Fatalf("first seen past its end: %q, %s; want nothing, expiring", got, status(unseen))
	}
	if got := w.advance(30 * time.Second); !slices.Equal(got, []string{pc.EventGDAPExpired + " " + unseen}) {
		t.Fatalf("once deprovisioned: %q, want only -expired", got)
	}
	if got := w.advance(730 * 24 * time.Hour); len(got) != 0 {
		t.Errorf("nothing is left to come: %q", got)
	}
}
