package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// replicaTaskQueue is the task queue of the replicas; dev's own worker serves another, so only
// the replicas' worker runs their flows.
const replicaTaskQueue = "replicas"

// productionShape is partnerflow as production runs it, beside a dev that stands in for the
// Temporal cluster and Partner Center: migrate, then api and worker as separate processes on
// their own database and task queue.
type productionShape struct {
	t   *testing.T
	dev *devProcess
	env []string
	api *testapi.Client
	// apiProcess and worker are the running replicas; worker is nil while none runs.
	apiProcess *replica
	worker     *replica
}

// replica is one running api or worker process.
type replica struct {
	name string
	// metrics is the address of the process's /metrics.
	metrics string
	cmd     *exec.Cmd
	out     *lockedBuffer
	done    chan struct{}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProductionShape runs dev, migrates databaseURL, mints an API key and starts an api and
// a worker against dev's Temporal and simulator.
func startProductionShape(t *testing.T, databaseURL string) *productionShape {
	t.Helper()
	p := startDev(t, t.TempDir(), nil)
	var temporalPort string
	for _, kv := range p.env {
		if v, ok := strings.CutPrefix(kv, "PARTNERFLOW_TEMPORAL_PORT="); ok {
			temporalPort = v
		}
	}
	codecKey := make([]byte, 32)
	if _, err := rand.Read(codecKey); err != nil {
		t.Fatal(err)
	}
	s := &productionShape{t: t, dev: p, env: append(os.Environ(),
		"DATABASE_URL="+databaseURL, "TEMPORAL_ADDRESS=127.0.0.1:"+temporalPort,
		"PARTNERFLOW_CODEC_KEY="+base64.StdEncoding.EncodeToString(codecKey), "PARTNERFLOW_SIGNING_KEY=",
		"PARTNERFLOW_TASK_QUEUE="+replicaTaskQueue, "PARTNERFLOW_POLL_INTERVAL=1s",
		"PARTNERCENTER_URL="+p.sim, "GRAPH_URL="+p.sim, "PARTNERCENTER_TENANT_ID="+simPartnerID,
		"PARTNERCENTER_AUTHORITY_URL="+p.sim, "PARTNERCENTER_CLIENT_ID="+sim.DemoApp.ClientID,
		"PARTNERCENTER_CLIENT_SECRET="+sim.DemoApp.ClientSecret, "PARTNERFLOW_ALLOW_NON_MICROSOFT_URLS=true",
		"PARTNERFLOW_DATA_DIR="+t.TempDir(), "PARTNERFLOW_BOOTSTRAP_KEY=", "SMTP_URL=",
	)}
	if out, stderr, err := run(t, s.env, "migrate"); err != nil {
		t.Fatalf("migrate: %v %s %s", err, out, stderr)
	}
	key, stderr, err := run(t, s.env, "keys", "create", "--name", "faults", "--role", "admin-agent")
	if err != nil {
		t.Fatalf("keys create: %v %s", err, stderr)
	}
	s.connect()
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.api = &testapi.Client{T: t, BaseURL: "http://" + apiAddr, Key: strings.TrimSpace(key)}
	s.apiProcess = s.start("api", "PARTNERFLOW_HTTP_ADDR="+apiAddr)
	s.awaitReady()
	s.startWorker()
	return s
}

// connect connects this deployment to Partner Center as a headless install does: `partnerflow
// connect` prints a device code, the partner's Global admin enters it at the simulator's
// /devicelogin and signs in with MFA (POST /sim/devicelogin stands in for that), the command
// keeps the connection in the shape's database.
func (s *productionShape) connect() {
	s.t.Helper()
	cmd := exec.Command(binary, "connect")
	cmd.Env = s.env
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	code := regexp.MustCompile(`enter the code (\S+),`)
	deadline := time.Now().Add(60 * time.Second)
	var userCode string
	for userCode == "" {
		if m := code.FindStringSubmatch(out.String()); m != nil {
			userCode = m[1]
		} else if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			s.t.Fatalf("partnerflow connect printed no code:\n%s", out.String())
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	body, _ := json.Marshal(map[string]any{
		"userCode": userCode, "upn": "admin@partnerflowdemo.onmicrosoft.com", "mfa": true,
	})
	resp, err := http.Post(s.dev.sim+"/sim/devicelogin", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "Connected as admin@partnerflowdemo.onmicrosoft.com") {
			s.t.Fatalf("partnerflow connect: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		s.t.Fatalf("partnerflow connect did not finish:\n%s", out.String())
	}
}

// start runs the binary's command with the shape's environment plus extra; the process is
// killed when the test ends, and its output shown if the test failed.
func (s *productionShape) start(command string, extra ...string) *replica {
	s.t.Helper()
	r := &replica{
		name:    command,
		metrics: fmt.Sprintf("127.0.0.1:%d", freePort(s.t)),
		cmd:     exec.Command(binary, command),
		out:     &lockedBuffer{},
		done:    make(chan struct{}),
	}
	r.cmd.Env = append(append(append([]string(nil), s.env...), "PARTNERFLOW_METRICS_ADDR="+r.metrics), extra...)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() {
		_ = r.cmd.Wait()
		close(r.done)
	}()
	s.t.Cleanup(func() {
		r.kill()
		if s.t.Failed() {
			s.t.Logf("%s output:\n%s", r.name, tail(r.out.String(), 4000))
		}
	})
	return r
}

// kill ends the process with SIGKILL, as a crash or an OOM killer would, and waits for it.
func (r *replica) kill() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// counter sums the samples of a counter on the process's /metrics.
func (r *replica) counter(name string) float64 {
	resp, err := http.Get("http://" + r.metrics + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func (s *productionShape) startWorker() {
	s.t.Helper()
	s.worker = s.start("worker")
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(s.worker.out.String(), "worker metrics listening") {
		select {
		case <-s.worker.done:
			s.t.Fatalf("the worker exited:\n%s", tail(s.worker.out.String(), 3000))
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the worker never started:\n%s", tail(s.worker.out.String(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readyz is the api's readiness answer.
func (s *productionShape) readyz() (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.api.BaseURL + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *productionShape) awaitReady() {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := s.readyz()
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the api never became ready: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// customerTenant creates a customer tenant at the simulator with a Global admin.
func (s *productionShape) customerTenant(domain string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"domain": domain, "country": "US", "companyName": domain,
		"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}}})
	resp, err := http.Post(s.dev.sim+"/sim/tenants", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("create tenant %s: %d %s", domain, resp.StatusCode, b)
	}
}

// invite starts an invitation of domain's admin through the replica api.
func (s *productionShape) invite(domain string) invitationView {
	s.t.Helper()
	resp := s.api.Do("POST", "/v1/invitations", map[string]any{
		"customerDomain": domain, "customerEmail": "admin@" + domain,
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
		"assignments": []map[string]any{{
			"securityGroupId": "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
			"roles":           []string{"Helpdesk Administrator"},
		}},
	})
	if resp.Status != http.StatusCreated {
		s.t.Fatalf("invite %s: %d %s", domain, resp.Status, resp.Body)
	}
	var v invitationView
	resp.JSON(s.t, &v)
	return v
}

func (s *productionShape) invitation(id string) invitationView {
	s.t.Helper()
	resp := s.api.Do("GET", "/v1/invitations/"+id, nil)
	if resp.Status != http.StatusOK {
		s.t.Fatalf("invitation %s: %d %s", id, resp.Status, resp.Body)
	}
	var v invitationView
	resp.JSON(s.t, &v)
	return v
}

// await polls the invitation through the replica api until ok; the deadline guards against a
// hang and measures nothing.
func (s *productionShape) await(id, what string, ok func(invitationView) bool) invitationView {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		v := s.invitation(id)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("invitation %s never became %s: %+v", id, what, v)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// consent is the customer's Global admin accepting the reseller relationship and approving the
// GDAP relationship at Microsoft.
func (s *productionShape) consent(domain, relationshipID string) {
	s.t.Helper()
	s.dev.simAction("accept-reseller", map[string]string{
		"domain": domain, "partnerId": simPartnerID, "upn": "admin@" + domain,
	})
	s.dev.simAction("approve-gdap", map[string]string{"relationshipId": relationshipID, "upn": "admin@" + domain})
}

// gdapRelationships lists the simulator's GDAP relationships by ID.
func (s *productionShape) gdapRelationships() []string {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.dev.sim+"/v1.0/tenantRelationships/delegatedAdminRelationships", nil)
	req.Header.Set("Authorization", "Bearer "+simToken(s.t, s.dev.sim, "/v1.0/"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&list) != nil {
		s.t.Fatalf("list GDAP relationships: %d", resp.StatusCode)
	}
	var ids []string
	for _, r := range list.Value {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return ids
}

// checkOneRelationshipEach fails unless the simulator holds exactly the invitations' GDAP
// relationships, one each.
func (s *productionShape) checkOneRelationshipEach(invitations []invitationView) {
	s.t.Helper()
	var want []string
	for _, inv := range invitations {
		want = append(want, inv.GDAPRelationshipID)
	}
	sort.Strings(want)
	if got := s.gdapRelationships(); strings.Join(got, ",") != strings.Join(want, ",") {
		s.t.Fatalf("the simulator holds GDAP relationships %v, want exactly the invitations' %v", got, want)
	}
}

// countSteps counts each step name on an invitation's timeline.
func countSteps(v invitationView) map[string]int {
	n := map[string]int{}
	for _, st := range v.Steps {
		n[st.Name]++
	}
	return n
}

// TestAKilledWorkerPausesFlowsUntilAnotherReturns kills the only worker with SIGKILL while
// invitations wait and run: the api keeps creating and listing, nothing moves, and when a worker
// returns every flow finishes, each with one GDAP relationship.
func TestAKilledWorkerPausesFlowsUntilAnotherReturns(t *testing.T) {
	s := startProductionShape(t, filepath.Join(t.TempDir(), "app.db"))
	suffix := strconv.FormatInt(time.Now().UnixNano()%1000000, 10)
	domains := []string{
		"killed1-" + suffix + ".onmicrosoft.com",
		"killed2-" + suffix + ".onmicrosoft.com",
		"killed3-" + suffix + ".onmicrosoft.com",
	}
	for _, d := range domains {
		s.customerTenant(d)
	}

	// Two invitations are sent and wait for their customers; then the worker dies.
	var invitations []invitationView
	for _, d := range domains[:2] {
		inv := s.invite(d)
		invitations = append(invitations, s.await(inv.ID, "sent", func(v invitationView) bool {
			return v.has("sent") && v.GDAPRelationshipID != ""
		}))
	}
	s.worker.kill()

	// The api keeps serving: a third invitation is created and listed, the customers consent,
	// and no flow moves without a worker.
	third := s.invite(domains[2])
	invitations = append(invitations, third)
	if list := s.api.Do("GET", "/v1/invitations?limit=10", nil); list.Status != http.StatusOK ||
		!strings.Contains(string(list.Body), third.ID) {
		t.Fatalf("list without a worker: %d %s", list.Status, list.Body)
	}
	for i, inv := range invitations[:2] {
		s.consent(domains[i], inv.GDAPRelationshipID)
	}
	// Several poll intervals pass: without a worker nothing is recorded.
	time.Sleep(5 * time.Second)
	for _, inv := range invitations {
		v := s.invitation(inv.ID)
		if v.Status != models.InvitationPending || v.has("reseller-accepted") ||
			inv.ID == third.ID && v.has("started") {
			t.Fatalf("invitation %s moved without a worker: %s %+v", inv.ID, v.Status, v.Steps)
		}
	}
	if code, body := s.readyz(); code != http.StatusOK {
		t.Fatalf("the api's readiness does not depend on a worker: %d %s", code, body)
	}

	// A worker returns: every flow resumes where it stopped.
	s.startWorker()
	sent := s.await(third.ID, "sent", func(v invitationView) bool {
		return v.has("sent") && v.GDAPRelationshipID != ""
	})
	invitations[2] = sent
	s.consent(domains[2], sent.GDAPRelationshipID)
	for i, inv := range invitations {
		invitations[i] = s.await(inv.ID, "active", func(v invitationView) bool {
			return v.Status == models.InvitationActive && v.has("active")
		})
		for name, n := range countSteps(invitations[i]) {
			if n > 1 {
				t.Errorf("invitation %s has step %s %d times", inv.ID, name, n)
			}
		}
	}
	s.checkOneRelationshipEach(invitations)
}

// privatePostgres is a PostgreSQL server of the test's own, so that stopping it disturbs no
// other test using the machine's server.
type privatePostgres struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	// asPostgres runs the server's programs as the postgres user: PostgreSQL refuses root.
	asPostgres bool
}

// startPrivatePostgres initialises a cluster in a temporary directory and starts it on a free
// loopback port with a database named partnerflow; it skips the test where PostgreSQL's server
// programs are not installed.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		t.Skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed: apt-get install postgresql")
	}
	sort.Strings(found)
	pg := &privatePostgres{
		t:          t,
		bin:        filepath.Dir(found[len(found)-1]),
		port:       freePort(t),
		asPostgres: os.Geteuid() == 0,
	}
	dir, err := os.MkdirTemp("", "partnerflow-pg")
	if err != nil {
		t.Fatal(err)
	}
	pg.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if pg.asPostgres {
		if err := exec.Command("chown", "postgres", dir).Run(); err != nil {
			t.Fatalf("give %s to the postgres user: %v", dir, err)
		}
	}
	pg.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	pg.start()
	t.Cleanup(func() {
		_ = pg.command("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop").Run()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "log")); err == nil {
				t.Logf("postgres log:\n%s", tail(string(b), 3000))
			}
		}
	})
	pg.run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.port), "-U", "postgres", "partnerflow")
	return pg
}

// command runs one of PostgreSQL's programs, as the postgres user when the test runs as root,
// from the cluster's own directory: the test's working directory may be one only root enters.
func (pg *privatePostgres) command(program string, args ...string) *exec.Cmd {
	path := filepath.Join(pg.bin, program)
	cmd := exec.Command(path, args...)
	if pg.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	cmd.Dir = pg.dir
	return cmd
}

func (pg *privatePostgres) run(program string, args ...string) string {
	pg.t.Helper()
	out, err := pg.command(program, args...).CombinedOutput()
	if err != nil {
		pg.t.Fatalf("%s %v: %v\n%s", program, args, err, out)
	}
	return string(out)
}

func (pg *privatePostgres) start() {
	pg.t.Helper()
	pg.run("pg_ctl", "-D", filepath.Join(pg.dir, "data"), "-l", filepath.Join(pg.dir, "log"), "-w",
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", pg.port, pg.dir), "start")
}

// stop shuts the server down as an operator's restart does: clients are disconnected at once.
func (pg *privatePostgres) stop() {
	pg.t.Helper()
	pg.run("pg_ctl", "-D", filepath.Join(pg.dir, "data"), "-m", "fast", "-w", "stop")
}

func (pg *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/partnerflow?sslmode=disable", pg.port)
}

// query runs sql through the Go driver and returns its rows, one per line, of one column each.
func (pg *privatePostgres) query(sql string) string {
	pg.t.Helper()
	store, err := models.Open(pg.url())
	if err != nil {
		pg.t.Fatal(err)
	}
	defer store.Close()
	var rows []string
	if err := store.DB.Raw(sql).Scan(&rows).Error; err != nil {
		pg.t.Fatalf("%s: %v", sql, err)
	}
	return strings.Join(rows, "\n")
}

// TestPostgresRestartDuringFlowsLosesAndDoublesNothing runs api and worker on PostgreSQL and
// stops the database while invitations start, wait and grant: /readyz names the database, the
// worker keeps retrying, and once the database is back every flow finishes with one row, one
// timeline entry per step, one mail and one GDAP relationship.
func TestPostgresRestartDuringFlowsLosesAndDoublesNothing(t *testing.T) {
	pg := startPrivatePostgres(t)
	s := startProductionShape(t, pg.url())
	suffix := strconv.FormatInt(time.Now().UnixNano()%1000000, 10)
	domains := []string{
		"pgdown1-" + suffix + ".onmicrosoft.com",
		"pgdown2-" + suffix + ".onmicrosoft.com",
		"pgdown3-" + suffix + ".onmicrosoft.com",
	}
	for _, d := range domains {
		s.customerTenant(d)
	}

	// Two invitations are sent; their customers consent and granting begins; a third starts;
	// then the database goes away.
	var invitations []invitationView
	for _, d := range domains[:2] {
		inv := s.invite(d)
		invitations = append(invitations, s.await(inv.ID, "sent", func(v invitationView) bool {
			return v.has("sent") && v.GDAPRelationshipID != ""
		}))
	}
	for i, inv := range invitations {
		s.consent(domains[i], inv.GDAPRelationshipID)
	}
	third := s.invite(domains[2])
	invitations = append(invitations, third)
	pg.stop()

	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := s.readyz()
		var ready struct {
			Checks map[string]string `json:"checks"`
		}
		_ = json.Unmarshal([]byte(body), &ready)
		if code == http.StatusServiceUnavailable && ready.Checks["database"] != "" && ready.Checks["database"] != "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz without the database: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Calls the api cannot serve without its database are refused as unavailable, saying nothing
	// of the database.
	for _, r := range []*testapi.Response{
		s.api.Do("GET", "/v1/invitations/"+third.ID, nil),
		s.api.Do("POST", "/v1/invitations", map[string]any{
			"customerDomain": domains[0], "customerEmail": "admin@" + domains[0],
			"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
		}),
	} {
		body := string(r.Body)
		if r.Status != http.StatusServiceUnavailable ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") ||
			strings.Contains(body, strconv.Itoa(pg.port)) || strings.Contains(body, "SQLSTATE") ||
			strings.Contains(body, "postgres") {
			t.Fatalf("a call without the database: %d %s", r.Status, body)
		}
	}
	// The flows go on trying for a while: the worker's steps fail against the missing database
	// and are retried.
	time.Sleep(8 * time.Second)
	if n := s.worker.counter("temporal_local_activity_execution_failed"); n == 0 {
		t.Fatal("no step of the running flows failed while the database was down: the outage hit nothing")
	}
	select {
	case <-s.worker.done:
		t.Fatalf("the worker exited while the database was down:\n%s", tail(s.worker.out.String(), 3000))
	case <-s.apiProcess.done:
		t.Fatalf("the api exited while the database was down:\n%s", tail(s.apiProcess.out.String(), 3000))
	default:
	}

	pg.start()
	s.awaitReady()
	sent := s.await(third.ID, "sent", func(v invitationView) bool {
		return v.has("sent") && v.GDAPRelationshipID != ""
	})
	invitations[2] = sent
	s.consent(domains[2], sent.GDAPRelationshipID)
	for i, inv := range invitations {
		invitations[i] = s.await(inv.ID, "active", func(v invitationView) bool {
			return v.Status == models.InvitationActive && v.has("active")
		})
	}

	// Nothing was lost or doubled: one row per invitation, each step once, one mail each.
	if n := pg.query("SELECT count(*) FROM invitations"); n != "3" {
		t.Errorf("%s invitation rows, want 3", n)
	}
	if doubled := pg.query(
		"SELECT flow_id || ' ' || name || ' x' || count(*) FROM flow_steps GROUP BY flow_id, name HAVING count(*) > 1",
	); doubled != "" {
		t.Errorf("timeline steps recorded twice:\n%s", doubled)
	}
	for _, inv := range invitations {
		if n := pg.query("SELECT count(*) FROM flow_steps WHERE flow_id = '" + inv.ID +
			"' AND name IN ('started', 'sent', 'active')"); n != "3" {
			t.Errorf("invitation %s has %s of its started, sent and active steps, want 3", inv.ID, n)
		}
	}
	for _, d := range domains {
		if n := pg.query("SELECT count(*) FROM outbox_messages WHERE to_address = 'admin@" + d + "'"); n != "1" {
			t.Errorf("admin@%s was mailed %s times, want once", d, n)
		}
	}
	s.checkOneRelationshipEach(invitations)
}
