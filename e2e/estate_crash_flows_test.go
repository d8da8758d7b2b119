package e2e

import (
	"fmt"
	"net/http"
	"path"
	"time"

	"github.com/partnerflow/partnerflow/models"
)

// estateFlows are the flows that wait during the estate crash test without polling Partner
// Center (dev polls less often than the sync runs, so they leave it to the sync): invitations,
// whose customers act between kills (their webhook events may reach a dead dev, the sync's
// events are the safety net), and partnership requests, which only the sync can wake: Partner
// Center sends no event when a reseller authorizes its provider.
type estateFlows struct {
	invitations, resellers []*crashFlow
}

// estateWaitingFlows is how many of each kind wait; half act after the first kill, the rest after
// the second.
const estateWaitingFlows = 4

// startWaitingFlows makes the flows' customers and resellers in the simulator, starts the flows
// and waits until each has sent its request.
func (e *estateRun) startWaitingFlows() *estateFlows {
	w := e.w
	flows := &estateFlows{}
	for i := range estateWaitingFlows {
		domain := fmt.Sprintf("estatewait%d.onmicrosoft.com", i)
		w.simAdd("/sim/tenants", map[string]any{
			"domain": domain, "country": "US", "companyName": fmt.Sprintf("Estate Wait %d", i),
			"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
		})
		f := &crashFlow{domain: domain, wave: i % 2, done: map[string]bool{}}
		w.create(f, "/v1/invitations", map[string]any{"customerDomain": domain, "customerEmail": "admin@" + domain,
			"roles": []string{"Helpdesk Administrator"}, "durationDays": 90})
		flows.invitations = append(flows.invitations, f)

		reseller := fmt.Sprintf("estatewaitres%d.onmicrosoft.com", i)
		mpnID := fmt.Sprintf("66600%02d", i)
		w.simAdd("/sim/partners", map[string]any{
			"domain": reseller, "country": "US", "companyName": fmt.Sprintf("Estate Wait Reseller %d", i),
			"mpnId": mpnID, "agreementSigned": true,
			"users": []map[string]any{{"upn": "admin@" + reseller, "globalAdmin": true}},
		})
		r := &crashFlow{domain: reseller, wave: i % 2, done: map[string]bool{}}
		w.create(r, "/v1/resellers", map[string]any{
			"email": "admin@" + reseller, "companyName": fmt.Sprintf("Estate Wait Reseller %d", i), "mpnId": mpnID,
		})
		flows.resellers = append(flows.resellers, r)
	}
	e.waitFlows("sent its request", flows, func(f *crashFlow) bool { return hasStep(f.view, "sent") })
	return flows
}

// act has the customers and resellers of one wave consent at Microsoft: each invitation's
// customer accepts the reseller relationship and approves the GDAP relationship, each reseller's
// Global admin authorizes the provider.
func (e *estateRun) act(flows *estateFlows, wave int) {
	w := e.w
	for end := time.Now().Add(estateHang); ; time.Sleep(200 * time.Millisecond) {
		pending := 0
		for _, f := range flows.invitations {
			if f.wave == wave && !f.done["approve-gdap"] {
				w.acceptInvitation(f)
				pending++
			}
		}
		for _, f := range flows.resellers {
			if f.wave != wave || f.done["authorize-provider"] {
				continue
			}
			pending++
			w.act(f, "authorize-provider", func() (int, []byte) {
				return w.try("POST", w.p.sim+"/sim/customer-actions/authorize-provider", map[string]string{
					"resellerDomain": f.domain, "providerId": simPartnerID, "upn": "admin@" + f.domain,
				}, false)
			})
		}
		if pending == 0 {
			w.t.Logf("the customers and resellers of wave %d consented", wave)
			return
		}
		if time.Now().After(end) {
			w.t.Fatalf("the consents of wave %d were not taken within %v", wave, estateHang)
		}
	}
}

// waitFlows reads every flow until each satisfies ok; a flow that does not within estateHang
// has stalled.
func (e *estateRun) waitFlows(what string, flows *estateFlows, ok func(*crashFlow) bool) {
	w := e.w
	all := append(append([]*crashFlow{}, flows.invitations...), flows.resellers...)
	for end := time.Now().Add(estateHang); ; time.Sleep(500 * time.Millisecond) {
		var stalled *crashFlow
		for _, f := range all {
			if !w.refresh(f) || !ok(f) {
				stalled = f
				break
			}
		}
		if stalled == nil {
			return
		}
		if time.Now().After(end) {
			w.t.Fatalf("flow %s has not %s within %v: %s %v", stalled.path, what, estateHang, stalled.status,
				stalled.view["steps"])
		}
	}
}

// checkFlowsOnce waits for every waiting flow to end active and holds that each took its
// consent once: one step each on its timeline, one partnership for each reseller's tenant, one
// GDAP relationship for each invitation's customer.
func (e *estateRun) checkFlowsOnce(flows *estateFlows) {
	w := e.w
	e.waitFlows("become active", flows, func(f *crashFlow) bool {
		return f.status == models.InvitationActive || f.status == models.ResellerActive
	})
	once := func(f *crashFlow, steps ...string) {
		for _, name := range steps {
			if n := stepCount(f.view, name); n != 1 {
				w.t.Errorf("%s: step %s %d times, want once: %v", f.path, name, n, f.view["steps"])
			}
		}
	}
	for _, f := range flows.invitations {
		once(f, "reseller-accepted", "gdap-approved", "gdap-active", "watching")
	}
	for _, f := range flows.resellers {
		once(f, "authorized", "verified")
	}
	perTenant := map[string]int{}
	for _, g := range e.relationships() {
		perTenant[g.Customer.TenantID]++
	}
	for _, f := range flows.invitations {
		tenant, _ := f.view["customerTenantId"].(string)
		if tenant == "" || perTenant[tenant] != 1 {
			w.t.Errorf("%s: %d GDAP relationships for customer tenant %q, want 1", f.path, perTenant[tenant], tenant)
		}
	}
	store := e.openStore()
	defer closeStore(store)
	for _, f := range flows.resellers {
		tenant, _ := f.view["tenantId"].(string)
		var n int64
		if err := store.DB.Model(&models.Reseller{}).Where("tenant_id = ?", tenant).Count(&n).Error; err != nil {
			w.t.Fatal(err)
		}
		if tenant == "" || n != 1 {
			w.t.Errorf("%s: %d partnerships hold reseller tenant %q, want 1", f.path, n, tenant)
		}
	}
	w.t.Logf("%d invitations and %d partnership requests that did not poll ended active, each consent taken once",
		len(flows.invitations), len(flows.resellers))
}

func stepCount(view map[string]any, name string) int {
	steps, _ := view["steps"].([]any)
	n := 0
	for _, s := range steps {
		if m, _ := s.(map[string]any); m["name"] == name {
			n++
		}
	}
	return n
}

// terminateActive waits until the invitations of one wave are active and has each customer
// remove the partner's access: the estate sync, which watches their relationships (they started
// no GDAP watch), owes each one alert, through the kills that follow.
func (e *estateRun) terminateActive(flows *estateFlows, wave int) []*crashFlow {
	w := e.w
	var out []*crashFlow
	for _, f := range flows.invitations {
		if f.wave == wave {
			out = append(out, f)
		}
	}
	e.waitFlows("become active", &estateFlows{invitations: out}, func(f *crashFlow) bool {
		return f.status == models.InvitationActive && hasStep(f.view, "watching")
	})
	for _, f := range out {
		rel, _ := f.view["gdapRelationshipId"].(string)
		code, body := w.try("POST", w.p.sim+"/sim/customer-actions/terminate-gdap",
			map[string]string{"relationshipId": rel, "upn": "admin@" + f.domain}, false)
		if code != http.StatusOK {
			w.t.Fatalf("terminate %s: %d %s", rel, code, body)
		}
		w.t.Logf("the customer of %s removed the partner's access (%s)", f.path, rel)
	}
	return out
}

// checkAlertedOnce waits until each invitation whose access was removed carries the sync's
// access-lost alert and holds that it carries it once, with one message to the partner's contact
// in the outbox, sent.
func (e *estateRun) checkAlertedOnce(lost []*crashFlow) {
	w := e.w
	e.waitFlows("been alerted", &estateFlows{invitations: lost}, func(f *crashFlow) bool {
		return hasStep(f.view, models.StepAccessLost)
	})
	store := e.openStore()
	defer closeStore(store)
	for _, f := range lost {
		if n := stepCount(f.view, models.StepAccessLost); n != 1 {
			w.t.Errorf("%s: %d access-lost alerts, want 1: %v", f.path, n, f.view["steps"])
		}
		var mails []models.OutboxMessage
		key := path.Base(f.path) + "/" + models.StepAccessLost
		if err := store.DB.Where("idempotency_key = ?", key).Find(&mails).Error; err != nil {
			w.t.Fatal(err)
		}
		if len(mails) != 1 || (mails[0].Status != models.OutboxSent && mails[0].Status != models.OutboxLogged) {
			w.t.Errorf("%s: the contact's alert %q in the outbox: %+v", f.path, key, mails)
		}
	}
	w.t.Logf("%d invitations whose customers removed the access were alerted once each", len(lost))
}
