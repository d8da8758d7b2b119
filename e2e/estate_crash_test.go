package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

var (
	estateCrashCustomers = flag.Int("estatecrash.customers", 100,
		"TestEstateSyncSurvivesSIGKILLsMidPass: customers in the seeded estate (one GDAP relationship each)")
	estateCrashResellers = flag.Int("estatecrash.resellers", 4,
		"TestEstateSyncSurvivesSIGKILLsMidPass: indirect resellers in the seeded estate")
	estateCrashKills = flag.Int("estatecrash.kills", 4,
		"TestEstateSyncSurvivesSIGKILLsMidPass: SIGKILLs, one while a pass's changes are delivered and the "+
			"others while a pass reads the estate (at least 3)")
)

// estateHang is how long the sync may go without completing a pass after a restart before the
// test calls it stalled. It is a hang detector, not a measurement: an estate activity a kill
// interrupts is retried when its heartbeat timeout (20 seconds, withEstateCalls) runs out.
const estateHang = 2 * time.Minute

// TestEstateSyncSurvivesSIGKILLsMidPass runs the estate sync on the built binary's `dev` with a
// pass every 3 seconds over an estate seeded in its simulator after the first pass (so all of it
// is news), and kills the process with SIGKILL at random moments, restarting it on the same data
// directory each time: first while the pass that reads the new estate is under way, then while
// that pass's changes are delivered, then while later passes are under way. Between kills the
// world changes outside partnerflow: a customer terminates a GDAP relationship, the simulator's
// clock moves two weeks (relationships end), another customer terminates one. Invitations and
// partnership requests wait meanwhile without polling (estateFlows); their customers and
// resellers consent between kills. Afterwards:
//
//   - the sync never stalled: after every restart it completed the pass it was in, and it went on
//     to complete passes after the last kill;
//   - nothing was lost: the directory holds the whole estate, each customer with its reseller,
//     every change the directory recorded was delivered, each estate customer and relationship
//     was announced as added, and nothing as gone or moved to another reseller (nothing was);
//   - each change once: one delivery row per change for the subscription, and the receiver got
//     every event ID with one payload and one delivery ID (a kill between the send and its record
//     sends the same delivery again: that is the documented at-least-once window, reported);
//   - no flow stalled and none took a consent twice: every waiting flow ended active, each step
//     once, one partnership per reseller tenant and one GDAP relationship per customer;
//   - no alert or change twice: no two changes of one kind for one subject and what it says (an
//     expiry threshold and end date, a status), and each terminated relationship reached
//     terminated once.
//
// The estate's size is small by default; the full size (each pass then counts 600
// relationships' access assignments, two minutes at the sync's call budget, until all are
// counted):
//
//	go test -count=1 -v -timeout 90m ./e2e -run TestEstateSyncSurvivesSIGKILLsMidPass \
//		-estatecrash.customers 3000 -estatecrash.resellers 10
func TestEstateSyncSurvivesSIGKILLsMidPass(t *testing.T) {
	if testing.Short() {
		t.Skip("the estate crash test runs the binary for minutes")
	}
	if *estateCrashKills < 3 {
		t.Fatalf("-estatecrash.kills %d: at least 3", *estateCrashKills)
	}
	start := time.Now()
	hooks := newEstateHooks(t)
	dataDir := t.TempDir()
	// Flows poll less often than the sync runs, so they leave it to the sync (estateFlows); the
	// partner's contact hears of the access the customers remove (checkAlertedOnce).
	env := devEnv(t, dataDir, "PARTNERFLOW_WEBHOOK_ALLOW_PRIVATE=true", "PARTNERFLOW_ESTATE_SYNC_EVERY=3s",
		"PARTNERFLOW_POLL_INTERVAL=10s", "PARTNERFLOW_CONTACT_EMAIL=ops@partner.example")
	e := &estateRun{w: &crashWorld{t: t, p: startDev(t, dataDir, env)}, dataDir: dataDir, env: env}
	seed := uint64(time.Now().UnixNano())
	e.rng = rand.New(rand.NewPCG(seed, seed>>7))
	t.Logf("kill seed %d", seed)

	// The demo world's first pass imports it quietly; the estate seeded after it is news.
	before := e.waitSync("the first pass", func(v estateSyncView) bool { return v.CompletedPass >= 1 })
	e.subID = e.subscribe(hooks)
	e.firstChange = e.lastChangeID() + 1
	e.seedEstate()
	flows := e.startWaitingFlows()
	// Each invitation's customer becomes the partner's customer, with the GDAP relationship the
	// invitation asked for.
	wantCustomers := before.Customers + *estateCrashCustomers + len(flows.invitations)
	wantRelationships := before.Relationships + *estateCrashCustomers + len(flows.invitations)

	// Kill 1 at a random moment of the pass that reads the new estate (it counts the access
	// assignments of three relationships in four, 600 at most, at five calls a second); kill 2
	// while that pass's changes are delivered; the others at random moments of later passes. After
	// each kill but the first the world changes, for the next passes to find.
	terminated := []*estateGDAP{}
	var lost []*crashFlow
	for k := range *estateCrashKills {
		switch k {
		case 0:
			counts := min(*estateCrashCustomers*3/4, 600)
			e.killDuringAPass(1, time.Duration(counts)*time.Second/5+2*time.Second)
			continue
		case 1:
			e.killWhileDelivering(2, e.lastKillCompleted)
		default:
			e.killDuringAPass(k+1, e.measurePass())
		}
		if k <= 2 {
			// The waiting flows' customers and resellers consent, half after the second kill and
			// half after the third, while the sync and the flows are killed around them.
			e.act(flows, k-1)
		}
		if k == 2 {
			e.advanceClock("336h")
			// The customers of the first wave's invitations remove the partner's access: the
			// sync alerts each once, however the kills that follow fall.
			lost = e.terminateActive(flows, 0)
		} else {
			terminated = append(terminated, e.terminateOne(len(terminated)))
		}
	}

	// At least two more passes after the last kill's, with each terminated relationship seen
	// terminated by the directory, and every change delivered.
	target := e.lastKillCompleted + 2
	e.waitSync(fmt.Sprintf("pass %d", target), func(v estateSyncView) bool { return v.CompletedPass >= target })
	for _, g := range terminated {
		e.waitTerminated(g)
	}
	e.waitDelivered()
	settled := e.waitSync("the last pass", func(v estateSyncView) bool { return v.CompletedPass >= target })
	if settled.Customers != wantCustomers || settled.Relationships != wantRelationships {
		t.Errorf("the directory holds %d customers and %d relationships, the world %d and %d",
			settled.Customers, settled.Relationships, wantCustomers, wantRelationships)
	}
	if settled.LastError != "" {
		t.Errorf("the sync's last error: %s", settled.LastError)
	}
	e.checkFlowsOnce(flows)
	e.checkAlertedOnce(lost)
	relationships := e.relationships()
	e.w.p.stop()
	final := e.lastView

	changes, deliveries := e.readStore()
	e.checkDeliveredOnce(hooks, changes, deliveries)
	e.checkNoChangeTwice(changes, terminated)
	e.checkEstateAnnounced(changes, relationships)
	e.checkResellers()
	byKind := map[string]int{}
	for _, c := range changes {
		byKind[strings.TrimPrefix(c.Kind, models.KindDirectory+".")]++
	}
	t.Logf("figure: %d customers and %d relationships seeded, %d passes completed, %d SIGKILLs "+
		"(moments let be because the pass ended first: %d), %d changes %v, %d deliveries, %d events received "+
		"again under their delivery ID, in %v",
		*estateCrashCustomers, *estateCrashCustomers, final.CompletedPass, e.kills, e.skipped, len(changes),
		byKind, len(deliveries), hooks.redelivered(), time.Since(start).Round(time.Second))
}

// estateSyncView is GET /v1/directory/sync.
type estateSyncView struct {
	Pass          int64  `json:"pass"`
	CompletedPass int64  `json:"completedPass"`
	Customers     int    `json:"customers"`
	Relationships int    `json:"relationships"`
	LastError     string `json:"lastError"`
}

// estateRun is the state of the estate crash test.
type estateRun struct {
	w       *crashWorld
	dataDir string
	env     []string
	rng     *rand.Rand
	subID   string
	// firstChange is the first change recorded after the subscription: the ones before it may
	// have been delivered before it existed.
	firstChange int64
	batch       string
	// customers are the seeded estate's customers, in order.
	customers         []estateCustomer
	lastView          estateSyncView
	kills, skipped    int
	lastKillCompleted int64
	used              map[string]bool
}

type estateCustomer struct {
	TenantID         string `json:"tenantId"`
	Domain           string `json:"domain"`
	ResellerTenantID string `json:"resellerTenantId"`
}

// estateGDAP is a relationship of the simulator's Graph.
type estateGDAP struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Status      string `json:"status"`
	Customer    struct {
		TenantID string `json:"tenantId"`
	} `json:"customer"`
}

// sync reads the sync; ok is false while dev does not answer.
func (e *estateRun) sync() (estateSyncView, bool) {
	var v estateSyncView
	code, out := e.w.api("GET", "/v1/directory/sync", nil)
	if code != http.StatusOK {
		return v, false
	}
	if err := json.Unmarshal(out, &v); err != nil {
		e.w.t.Fatalf("GET /v1/directory/sync: %v %s", err, out)
	}
	e.lastView = v
	return v, true
}

// waitSync polls the sync every 50 ms until ok holds; a sync that does not get there within
// estateHang has stalled.
func (e *estateRun) waitSync(what string, ok func(estateSyncView) bool) estateSyncView {
	e.w.t.Helper()
	return e.waitSyncEvery(50*time.Millisecond, what, ok)
}

// passStart waits for a pass to start, polling every 10 ms to see it start: the passes that
// find little take a few hundred milliseconds.
func (e *estateRun) passStart() estateSyncView {
	e.w.t.Helper()
	return e.waitSyncEvery(10*time.Millisecond, "a pass starting", func(v estateSyncView) bool {
		return v.Pass > v.CompletedPass
	})
}

func (e *estateRun) waitSyncEvery(every time.Duration, what string, ok func(estateSyncView) bool) estateSyncView {
	e.w.t.Helper()
	for end := time.Now().Add(estateHang); ; time.Sleep(every) {
		if v, up := e.sync(); up && ok(v) {
			return v
		}
		if time.Now().After(end) {
			e.w.t.Fatalf("the estate sync stalled: %s not reached within %v: %+v", what, estateHang, e.lastView)
		}
	}
}

func (e *estateRun) subscribe(h *estateHooks) string {
	t := e.w.t
	code, out := e.w.api("POST", "/v1/webhook-subscriptions", map[string]any{
		"url": h.URL, "events": []string{"directory.*"},
	})
	if code != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	var v struct{ ID, Secret string }
	_ = json.Unmarshal(out, &v)
	h.setSecret(v.Secret)
	return v.ID
}

func (e *estateRun) seedEstate() {
	t := e.w.t
	code, out := e.w.try("POST", e.w.p.sim+"/sim/estate", map[string]any{
		"customers": *estateCrashCustomers, "gdapPerCustomer": 1, "resellers": *estateCrashResellers,
		"expiringWithinDays": []int{20, 10},
	}, false)
	if code != http.StatusCreated {
		t.Fatalf("seed the estate: %d %s", code, out)
	}
	var sum struct {
		Batch        string            `json:"batch"`
		Customers    []estateCustomer  `json:"customers"`
		GDAPByStatus map[string]int    `json:"gdapByStatus"`
		Resellers    []json.RawMessage `json:"resellers"`
	}
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatal(err)
	}
	e.batch, e.customers = sum.Batch, sum.Customers
	t.Logf("seeded estate %s: %d customers, %d resellers, relationships %v",
		sum.Batch, len(sum.Customers), len(sum.Resellers), sum.GDAPByStatus)
}

// measurePass waits for the next pass and returns how long it took from its start to its end.
func (e *estateRun) measurePass() time.Duration {
	v := e.passStart()
	started := time.Now()
	e.waitSync(fmt.Sprintf("pass %d", v.Pass), func(x estateSyncView) bool { return x.CompletedPass >= v.Pass })
	return time.Since(started)
}

// killDuringAPass waits for a pass to start and kills dev at a random moment within estimate of
// its start; when the pass ends before that moment, it measures the next pass and tries again
// with its duration.
func (e *estateRun) killDuringAPass(n int, estimate time.Duration) {
	for {
		estimate = max(estimate, 100*time.Millisecond)
		v := e.passStart()
		at := time.Duration(e.rng.Int64N(int64(estimate)))
		time.Sleep(at)
		if now, up := e.sync(); up && now.CompletedPass < v.Pass {
			e.kill(n, fmt.Sprintf("%v into pass %d", at.Round(time.Millisecond), v.Pass), now.CompletedPass)
			return
		}
		e.skipped++
		estimate = e.measurePass()
	}
}

// killWhileDelivering waits until pass has completed and the dispatcher has begun to send its
// events, and kills dev at a random moment of the next 100 ms: while the rest are sent.
func (e *estateRun) killWhileDelivering(n int, pass int64) {
	t := e.w.t
	v := e.waitSync(fmt.Sprintf("pass %d", pass), func(x estateSyncView) bool { return x.CompletedPass >= pass })
	store := e.openStore()
	var sent int64
	for end := time.Now().Add(estateHang); sent == 0; time.Sleep(5 * time.Millisecond) {
		if err := store.DB.Model(&models.WebhookDelivery{}).Where("status = ?", models.WebhookDelivered).
			Count(&sent).Error; err != nil {
			t.Fatal(err)
		}
		if time.Now().After(end) {
			t.Fatalf("no event of pass %d was delivered", pass)
		}
	}
	closeStore(store)
	at := time.Duration(e.rng.Int64N(int64(100 * time.Millisecond)))
	time.Sleep(at)
	e.kill(n, fmt.Sprintf("%v after the first event of pass %d was delivered", at.Round(time.Millisecond), pass),
		v.CompletedPass)
}

// kill sends dev SIGKILL, says how far the delivery of changes had got, restarts dev on the same
// data directory and waits until the sync completes a pass after completed: it must not stall.
func (e *estateRun) kill(n int, when string, completed int64) {
	t := e.w.t
	if err := e.w.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = e.w.p.cmd.Wait()
	e.kills++
	killed := time.Now()
	store := e.openStore()
	var undelivered, sent, deliveries int64
	for _, q := range []struct {
		n     *int64
		model any
		where string
	}{
		{&undelivered, &models.DirectoryChange{}, "delivered_at IS NULL AND kind NOT LIKE 'signal.%'"},
		{&sent, &models.WebhookDelivery{}, "status = 'delivered'"},
		{&deliveries, &models.WebhookDelivery{}, "1 = 1"},
	} {
		if err := store.DB.Model(q.model).Where(q.where).Count(q.n).Error; err != nil {
			t.Fatal(err)
		}
	}
	closeStore(store)
	e.w.p = startDev(t, e.dataDir, e.env)
	ready := time.Since(killed)
	what := fmt.Sprintf("a pass after pass %d, after SIGKILL %d", completed, n)
	done := e.waitSync(what, func(x estateSyncView) bool { return x.CompletedPass > completed })
	e.lastKillCompleted = done.CompletedPass
	took := time.Since(killed)
	t.Logf("SIGKILL %d %s (%d changes not in the outbox yet, %d of %d deliveries sent): ready again in %v, "+
		"pass %d completed %v after the kill",
		n, when, undelivered, sent, deliveries, ready.Round(time.Millisecond), done.CompletedPass,
		took.Round(time.Millisecond))
}

// relationships reads every GDAP relationship from the simulator's Graph, page by page.
func (e *estateRun) relationships() []estateGDAP {
	var all []estateGDAP
	path := "/v1.0/tenantRelationships/delegatedAdminRelationships"
	for path != "" {
		var page struct {
			Value []estateGDAP `json:"value"`
			Next  string       `json:"@odata.nextLink"`
		}
		e.w.simList(path, &page)
		all = append(all, page.Value...)
		path = strings.TrimPrefix(page.Next, e.w.p.sim)
	}
	return all
}

// terminateOne has the customer of an active estate relationship that extends itself (so it
// raises no expiry alert of its own) terminate it, as a customer's Global admin does.
func (e *estateRun) terminateOne(n int) *estateGDAP {
	t := e.w.t
	if e.used == nil {
		e.used = map[string]bool{}
	}
	domains := map[string]string{}
	for _, c := range e.customers {
		domains[c.TenantID] = c.Domain
	}
	for _, g := range e.relationships() {
		domain, ours := domains[g.Customer.TenantID]
		if !ours || g.Status != "active" || e.used[g.ID] || !e.extends(g) {
			continue
		}
		e.used[g.ID] = true
		code, out := e.w.try("POST", e.w.p.sim+"/sim/customer-actions/terminate-gdap",
			map[string]string{"relationshipId": g.ID, "upn": "admin@" + domain}, false)
		if code != http.StatusOK {
			t.Fatalf("terminate %s: %d %s", g.ID, code, out)
		}
		t.Logf("change %d: the customer terminated GDAP relationship %s (%s)", n+1, g.DisplayName, g.ID)
		return &g
	}
	t.Fatal("no active estate relationship left to terminate")
	return nil
}

// extends says whether an estate relationship is one of the eight in twenty that extend
// themselves: the cycle of partnercenter/sim/estate.go, by its number in the estate.
func (e *estateRun) extends(g estateGDAP) bool {
	var i, k int
	if _, err := fmt.Sscanf(strings.TrimPrefix(g.DisplayName, "estate-"+e.batch+"-"), "%d-%d", &i, &k); err != nil {
		return false
	}
	return (i-1)%20 < 8 && k == 1
}

func (e *estateRun) advanceClock(d string) {
	t := e.w.t
	code, out := e.w.try("POST", e.w.p.sim+"/sim/clock", map[string]string{"advance": d}, false)
	if code != http.StatusOK {
		t.Fatalf("advance the simulator's clock: %d %s", code, out)
	}
	t.Logf("change: the simulator's clock moved %s (relationships ending within it expire)", d)
}

// waitTerminated waits until the directory shows the relationship terminated.
func (e *estateRun) waitTerminated(g *estateGDAP) {
	t := e.w.t
	for end := time.Now().Add(estateHang); ; time.Sleep(200 * time.Millisecond) {
		code, out := e.w.api("GET", "/v1/directory/"+g.Customer.TenantID, nil)
		if code == http.StatusOK {
			var v struct {
				Relationships []struct{ ID, Status string } `json:"relationships"`
			}
			_ = json.Unmarshal(out, &v)
			for _, r := range v.Relationships {
				if r.ID == g.ID && r.Status == "terminated" {
					return
				}
			}
		}
		if time.Now().After(end) {
			t.Fatalf("the directory never showed %s terminated: %d %s", g.ID, code, out)
		}
	}
}

// waitDelivered waits until every change the directory recorded is delivered to the receiver.
func (e *estateRun) waitDelivered() {
	t := e.w.t
	store := e.openStore()
	defer closeStore(store)
	var undelivered, pending int64
	for end := time.Now().Add(estateHang); ; time.Sleep(200 * time.Millisecond) {
		if err := store.DB.Model(&models.DirectoryChange{}).Where("delivered_at IS NULL AND kind NOT LIKE ?",
			models.SignalPrefix+"%").Count(&undelivered).Error; err != nil {
			t.Fatal(err)
		}
		if err := store.DB.Model(&models.WebhookDelivery{}).Where("status <> ?", models.WebhookDelivered).
			Count(&pending).Error; err != nil {
			t.Fatal(err)
		}
		if undelivered == 0 && pending == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%d changes not delivered by the sync, %d webhook deliveries not delivered", undelivered, pending)
		}
	}
}

// lastChangeID is the ID of the directory's latest change (0 when none).
func (e *estateRun) lastChangeID() int64 {
	store := e.openStore()
	defer closeStore(store)
	var last models.DirectoryChange
	if err := store.DB.Order("id DESC").Limit(1).Find(&last).Error; err != nil {
		e.w.t.Fatal(err)
	}
	return last.ID
}

func (e *estateRun) openStore() *models.Store {
	store, err := models.Open(filepath.Join(e.dataDir, "partnerflow.db"))
	if err != nil {
		e.w.t.Fatal(err)
	}
	return store
}

func closeStore(s *models.Store) {
	if db, err := s.DB.DB(); err == nil {
		_ = db.Close()
	}
}

// readStore reads the directory's changes and the subscription's deliveries from the app
// database dev left.
func (e *estateRun) readStore() ([]models.DirectoryChange, []models.WebhookDelivery) {
	t := e.w.t
	store := e.openStore()
	defer closeStore(store)
	var changes []models.DirectoryChange
	if err := store.DB.Where("partner_id = ? AND kind NOT LIKE ? AND id >= ?", simPartnerID,
		models.SignalPrefix+"%", e.firstChange).Order("id").Find(&changes).Error; err != nil {
		t.Fatal(err)
	}
	var deliveries []models.WebhookDelivery
	if err := store.DB.Where("subscription_id = ?", e.subID).Order("created_at, id").
		Find(&deliveries).Error; err != nil {
		t.Fatal(err)
	}
	return changes, deliveries
}

// checkDeliveredOnce holds that every change was delivered, as exactly one delivery row of the
// subscription whose event ID is the change's key, and that the receiver got every delivery with
// that row's payload and ID and nothing else. A delivery sent again under its ID (a kill between
// the send and its record) is counted, as checkMailLogicallyOnce does for mail.
func (e *estateRun) checkDeliveredOnce(h *estateHooks, changes []models.DirectoryChange,
	deliveries []models.WebhookDelivery) {
	t := e.w.t
	if len(changes) == 0 {
		t.Fatal("the sync recorded no change")
	}
	rows := map[string][]models.WebhookDelivery{}
	for _, d := range deliveries {
		rows[d.EventID] = append(rows[d.EventID], d)
	}
	keys := map[string]bool{}
	for _, c := range changes {
		keys[c.Key] = true
		if c.DeliveredAt == nil {
			t.Errorf("change %s was never delivered", c.Key)
		}
		if n := len(rows[c.Key]); n != 1 {
			t.Errorf("change %s has %d delivery rows for the subscription, want 1", c.Key, n)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bad != 0 {
		t.Errorf("%d webhook deliveries had a bad signature", h.bad)
	}
	for id, ds := range rows {
		if !keys[id] {
			t.Errorf("delivery of event %s, which is no change of the directory", id)
		}
		d := ds[0]
		if d.Status != models.WebhookDelivered {
			t.Errorf("delivery %s of %s is %s: %s", d.ID, id, d.Status, d.LastError)
		}
		got := h.arrivals[id]
		if len(got) == 0 {
			t.Errorf("the receiver never got event %s (delivery %s, %s)", id, d.ID, d.Status)
		}
		for _, a := range got {
			if a.body != d.Payload || a.delivery != d.ID || a.eventType != d.EventType {
				t.Errorf("event %s arrived as delivery %s %s %s, the outbox holds %s %s %s",
					id, a.delivery, a.eventType, a.body, d.ID, d.EventType, d.Payload)
			}
		}
	}
	for id, got := range h.arrivals {
		if len(rows[id]) == 0 {
			t.Errorf("the receiver got event %s (%d times), which no delivery row holds", id, len(got))
		}
	}
	t.Logf("%d changes, %d deliveries, %d events received, %d of them again under the same delivery ID",
		len(changes), len(deliveries), len(h.arrivals), h.redeliveredLocked())
}

// stamped is the end of a change key that says when: status changes, what is gone and reseller
// moves carry the moment they were found, so their logical identity is the key without it.
var stamped = regexp.MustCompile(`/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// checkNoChangeTwice holds that no change was recorded twice under different keys: one kind for
// one subject saying one thing (an expiry threshold and end date, a status, ...), and that each
// terminated relationship reached terminated exactly once, each of its statuses once at most.
func (e *estateRun) checkNoChangeTwice(changes []models.DirectoryChange, terminated []*estateGDAP) {
	t := e.w.t
	logical := map[string][]string{}
	toStatus := map[string]map[string]int{} // relationship → status → changes to it
	for _, c := range changes {
		if c.Kind == models.ChangeGDAPExpiring {
			// directory.gdap.expiring/<id>/<days>/<end date>: once per threshold and end date.
			parts := strings.Split(c.Key, "/")
			if len(parts) != 4 || parts[1] != c.SubjectID {
				t.Errorf("expiry alert with an unexpected key %s", c.Key)
				continue
			}
			id := c.Kind + " " + c.SubjectID + " within " + parts[2] + " days of " + parts[3]
			logical[id] = append(logical[id], c.Key)
			continue
		}
		id := stamped.ReplaceAllString(c.Key, "")
		logical[id] = append(logical[id], c.Key)
		if c.Kind == models.ChangeGDAPStatus {
			parts := strings.Split(id, "/")
			status := parts[len(parts)-1]
			if toStatus[c.SubjectID] == nil {
				toStatus[c.SubjectID] = map[string]int{}
			}
			toStatus[c.SubjectID][status]++
		}
	}
	for id, keys := range logical {
		if len(keys) != 1 {
			sort.Strings(keys)
			t.Errorf("%s was recorded %d times: %v", id, len(keys), keys)
		}
	}
	for _, g := range terminated {
		if n := toStatus[g.ID]["terminated"]; n != 1 {
			t.Errorf("relationship %s changed to terminated %d times, want once: %v", g.ID, n, toStatus[g.ID])
		}
		t.Logf("terminated relationship %s: status changes %v", g.DisplayName, toStatus[g.ID])
	}
}

// checkEstateAnnounced holds that the estate, seeded after the first pass, was announced
// whole: each customer and each relationship added once; that nothing was announced gone (the
// test removes nothing); and that no customer moved between resellers (none did).
func (e *estateRun) checkEstateAnnounced(changes []models.DirectoryChange, relationships []estateGDAP) {
	t := e.w.t
	added := map[string]int{}
	for _, c := range changes {
		switch c.Kind {
		case models.ChangeCustomerAdded, models.ChangeGDAPAdded:
			added[c.SubjectID]++
		case models.ChangeCustomerGone, models.ChangeGDAPGone, models.ChangeCustomerReseller:
			t.Errorf("%s %s: %s (the test removed nothing and moved no customer)", c.Kind, c.SubjectID, c.Detail)
		}
	}
	missing := 0
	for _, c := range e.customers {
		if added[c.TenantID] != 1 {
			missing++
			if missing <= 5 {
				t.Errorf("estate customer %s was announced added %d times", c.TenantID, added[c.TenantID])
			}
		}
	}
	ours := 0
	for _, g := range relationships {
		if !strings.HasPrefix(g.DisplayName, "estate-"+e.batch+"-") {
			continue
		}
		ours++
		if added[g.ID] != 1 {
			missing++
			if missing <= 5 {
				t.Errorf("estate relationship %s was announced added %d times", g.ID, added[g.ID])
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d estate customers and relationships not announced added exactly once",
			missing, len(e.customers)+ours)
	}
}

// checkResellers holds that the directory has each estate customer with the reseller the
// simulator associated it with: no reseller's page was lost to a kill.
func (e *estateRun) checkResellers() {
	t := e.w.t
	store := e.openStore()
	defer closeStore(store)
	var rows []models.DirectoryCustomer
	if err := store.DB.Where("partner_id = ?", simPartnerID).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	byTenant := map[string]models.DirectoryCustomer{}
	for _, r := range rows {
		byTenant[r.TenantID] = r
	}
	wrong := 0
	for _, c := range e.customers {
		r, ok := byTenant[c.TenantID]
		if !ok || r.Gone || r.ResellerTenantID != c.ResellerTenantID {
			if wrong++; wrong <= 5 {
				t.Errorf("estate customer %s: the directory has %+v, want reseller %q",
					c.TenantID, r, c.ResellerTenantID)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d estate customers are not in the directory with their reseller", wrong, len(e.customers))
	}
}

// estateHooks is the partner's webhook receiver for the directory's events: it verifies each
// request's signature and keeps every arrival by event ID.
type estateHooks struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	bad      int
	arrivals map[string][]estateArrival
}

type estateArrival struct{ delivery, eventType, body string }

func newEstateHooks(t *testing.T) *estateHooks {
	h := &estateHooks{arrivals: map[string][]estateArrival{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		err := notify.Verify(h.secret, r.Header.Get(notify.SignatureHeader), body, time.Now(), 5*time.Minute)
		if err != nil {
			h.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev struct{ ID, Type string }
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
			h.bad++
			http.Error(w, "no event ID", http.StatusBadRequest)
			return
		}
		h.arrivals[ev.ID] = append(h.arrivals[ev.ID], estateArrival{
			delivery: r.Header.Get(notify.DeliveryHeader), eventType: ev.Type, body: string(body),
		})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *estateHooks) setSecret(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secret = s
}

func (h *estateHooks) redelivered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.redeliveredLocked()
}

func (h *estateHooks) redeliveredLocked() int {
	n := 0
	for _, a := range h.arrivals {
		if len(a) > 1 {
			n++
		}
	}
	return n
}
