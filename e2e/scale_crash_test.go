package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testsmtp"
	"github.com/partnerflow/partnerflow/models"
)

var (
	scaleFlows = flag.Int(
		"crash.flows", 0, "TestManyFlowsSurviveSIGKILLsWhileBeingCreated: how many flows (0 skips it)",
	)
	scaleKills = flag.Int(
		"crash.kills", 10,
		"TestManyFlowsSurviveSIGKILLsWhileBeingCreated: how many SIGKILLs while the flows are created",
	)
)

// TestManyFlowsSurviveSIGKILLsWhileBeingCreated is the reliability figure in README: a mix of
// every flow kind — invitations, reseller partnerships, customer onboardings through checkout,
// and removals of half the partnerships — created by a client that retries every create whose
// answer it lost, while dev is killed with SIGKILL -crash.kills times during the creation and
// the simulator answers 20% of calls 429, 10% 500 and drops 10% of answers after the write.
// Every flow must reach its end (none lost) with everything once (none doubled). It runs only
// when asked:
//
//	go test -count=1 -v -timeout 60m ./e2e -run TestManyFlowsSurviveSIGKILLsWhileBeingCreated -crash.flows 1000
func TestManyFlowsSurviveSIGKILLsWhileBeingCreated(t *testing.T) {
	if *scaleFlows == 0 {
		t.Skip("run with -crash.flows N (README's reliability figure)")
	}
	mail := testsmtp.Start(t)
	hooks := newHookLog(t)
	dataDir := t.TempDir()
	env := devEnv(t, dataDir, "SMTP_URL="+mail.URL, "PARTNERFLOW_WEBHOOK_ALLOW_PRIVATE=true")
	w := &crashWorld{t: t, p: startDev(t, dataDir, env)}
	w.subscribe(hooks)
	faults := map[string]any{"rate429": 0.2, "retryAfterSeconds": 1, "rate500": 0.1, "dropAfterWriteRate": 0.1}
	setFaults := func() { w.try("POST", w.p.sim+"/sim/faults", faults, false) }

	n := *scaleFlows
	nResellers, nCustomers := n/5, n*3/20
	nRemovals := nResellers / 2
	nInvitations := n - nResellers - nCustomers - nRemovals
	type planned struct {
		kind, collection string
		body             map[string]any
		flow             *crashFlow
	}
	var plan []*planned
	for i := range nInvitations {
		domain := fmt.Sprintf("scale%d.onmicrosoft.com", i)
		w.simAdd("/sim/tenants", map[string]any{
			"domain": domain, "country": "US", "companyName": fmt.Sprintf("Scale %d", i),
			"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
		})
		plan = append(plan, &planned{
			kind: models.KindInvitation, collection: "/v1/invitations",
			flow: &crashFlow{domain: domain, done: map[string]bool{}},
			body: map[string]any{
				"customerDomain": domain, "customerEmail": "admin@" + domain,
				"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
			},
		})
	}
	for i := range nResellers {
		domain, mpn := fmt.Sprintf("scalereseller%d.onmicrosoft.com", i), fmt.Sprintf("%07d", 7000000+i)
		w.simAdd("/sim/partners", map[string]any{
			"domain": domain, "country": "US", "companyName": fmt.Sprintf("Scale Reseller %d", i),
			"mpnId": mpn, "agreementSigned": true,
			"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
		})
		plan = append(plan, &planned{
			kind: models.KindReseller, collection: "/v1/resellers",
			flow: &crashFlow{domain: domain, done: map[string]bool{}},
			body: map[string]any{
				"email": "admin@" + domain, "companyName": fmt.Sprintf("Scale Reseller %d", i), "mpnId": mpn,
			},
		})
	}
	for i := range nCustomers {
		domain := fmt.Sprintf("scalenew%d", i)
		plan = append(plan, &planned{
			kind: models.KindOnboarding, collection: "/v1/customers",
			flow: &crashFlow{domain: domain, done: map[string]bool{}},
			body: map[string]any{
				"companyName": fmt.Sprintf("Scale New %d", i), "domainPrefix": domain,
				"country": "TR", "language": "tr", "registrationNumber": "1234567890",
				"contact": map[string]any{
					"firstName": "Ayşe", "lastName": "Yılmaz", "email": "ayse@" + domain + ".example",
				},
				"address": map[string]any{"line1": "İstiklal Caddesi 1", "city": "İstanbul", "postalCode": "34433"},
				"products": []map[string]any{{
					"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
					"quantity":      1,
					"billingCycle":  "monthly",
					"termDuration":  "P1M",
				}},
			},
		})
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	setFaults()

	// The killer: SIGKILL at random moments while the creates run, then a restart on the same
	// data directory (same ports, same key), faults set again.
	var mu sync.Mutex // guards w.p
	creating := make(chan struct{})
	killed := make(chan int)
	go func() {
		kills := 0
		defer func() { killed <- kills }()
		for kills < *scaleKills {
			select {
			case <-creating:
				return
			case <-time.After(time.Duration(200+rng.IntN(800)) * time.Millisecond): // soon after each restart
			}
			mu.Lock()
			_ = w.p.cmd.Process.Signal(syscall.SIGKILL)
			_ = w.p.cmd.Wait()
			kills++
			w.p = startDev(t, dataDir, env)
			setFaults()
			mu.Unlock()
		}
	}()
	// The client: each create until it gets 201 (202 for a removal) or a 409 naming its flow. It
	// does not hold mu over a call, so a kill can land inside one.
	create := func(collection string, body map[string]any) string {
		path, err := createUntilAnswered(func() *devProcess {
			mu.Lock()
			defer mu.Unlock()
			return w.p
		}, collection, body, 600)
		if err != nil {
			t.Error(err)
		}
		return path
	}
	start := time.Now()
	var next sync.WaitGroup
	work := make(chan *planned)
	for range 2 { // two clients at once
		next.Add(1)
		go func() {
			defer next.Done()
			for p := range work {
				p.flow.path = create(p.collection, p.body)
			}
		}()
	}
	for _, p := range plan {
		work <- p
	}
	close(work)
	next.Wait()
	close(creating)
	if t.Failed() {
		t.FailNow()
	}
	kills := <-killed
	t.Logf("%d flows created in %v with %d SIGKILLs during the creation",
		len(plan), time.Since(start).Round(time.Second), kills)
	if kills < *scaleKills {
		t.Fatalf("only %d of %d SIGKILLs landed while the flows were created", kills, *scaleKills)
	}

	byKind := map[string][]*crashFlow{}
	for _, p := range plan {
		byKind[p.kind] = append(byKind[p.kind], p.flow)
	}
	w.invitations, w.resellers, w.customers =
		byKind[models.KindInvitation], byKind[models.KindReseller], byKind[models.KindOnboarding]
	var removals []*crashFlow
	removed := map[string]bool{}
	done := func() bool {
		for _, f := range w.invitations {
			if f.status != models.InvitationActive {
				return false
			}
		}
		for i, f := range w.resellers {
			if want := models.ResellerActive; f.status != want &&
				!(i < nRemovals && f.status == models.ResellerRemoved) {
				return false
			}
		}
		for _, f := range w.customers {
			if f.status != models.OnboardingCompleted {
				return false
			}
		}
		for _, f := range removals {
			if f.status != models.RemovalCompleted {
				return false
			}
		}
		return len(removals) == nRemovals
	}
	for end := time.Now().Add(45 * time.Minute); !done(); time.Sleep(time.Second) {
		if time.Now().After(end) {
			t.Fatalf("flows did not reach their end: %s, %d removals", w.progress(), len(removals))
		}
		w.pass()
		for i, r := range w.resellers[:nRemovals] {
			if r.status == models.ResellerActive && !removed[r.path] {
				removed[r.path] = true
				removals = append(removals, &crashFlow{
					path: create(r.path+"/removal", map[string]any{
						"attestation": true, "attestedBy": fmt.Sprintf("Scale Ops %d", i),
					}),
					done: map[string]bool{},
				})
			}
		}
		for _, f := range removals {
			w.refresh(f)
		}
	}
	t.Logf("all %d flows ended in %v: %s, %d removals completed",
		len(plan)+len(removals), time.Since(start).Round(time.Second), w.progress(), len(removals))
	w.try("DELETE", w.p.sim+"/sim/faults", nil, false)

	// None lost: the lists hold exactly the flows the client has, nothing without a workflow.
	for collection, want := range map[string]int{
		"/v1/invitations": nInvitations,
		"/v1/resellers":   nResellers,
		"/v1/customers":   nCustomers,
		"/v1/removals":    nRemovals,
	} {
		if got := w.countAll(collection); got != want {
			t.Errorf("%s lists %d flows, the client created %d", collection, got, want)
		}
	}
	// None doubled.
	w.checkFlows()
	for _, f := range removals {
		recipients, _ := f.view["recipients"].(map[string]any)
		if recipients["pending"] != float64(0) || recipients["failed"] != float64(0) ||
			recipients["delivered"] != recipients["total"] {
			t.Errorf("removal %s recipients %v", f.path, recipients)
		}
	}
	// A kill between the mail server's acceptance and the outbox's record sends that message
	// again under its Message-ID (README "Reliability"); two different messages would be a bug.
	messages, redelivered := checkMailLogicallyOnce(t, mail)
	hooks.checkOnce(t)
	t.Logf("figure: %d flows, %d SIGKILLs while creating, 0 lost, 0 doubled, "+
		"%d of %d mails delivered again under their Message-ID",
		len(plan)+len(removals), kills, redelivered, messages)
}

// countAll pages through a list and counts its items.
func (w *crashWorld) countAll(collection string) int {
	n, cursor := 0, ""
	for {
		code, out := w.api("GET", collection+"?limit=200&cursor="+cursor, nil)
		if code != http.StatusOK {
			w.t.Fatalf("GET %s: %d %s", collection, code, out)
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"nextCursor"`
		}
		_ = json.Unmarshal(out, &page)
		n += len(page.Items)
		if page.NextCursor == "" {
			return n
		}
		cursor = page.NextCursor
	}
}
