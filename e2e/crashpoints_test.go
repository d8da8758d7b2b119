package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/failpoint"
	"github.com/partnerflow/partnerflow/internal/testsmtp"
	"github.com/partnerflow/partnerflow/models"
)

// crashPoint is one named crash point armed for one flow kind.
type crashPoint struct{ point, kind string }

// crashPoints is every crash point for every flow kind it applies to, in the order the suite
// runs them: the creations first, then the agreement of the first onboarding, then the
// removals of the two partnerships once they are active.
var crashPoints = []crashPoint{
	{failpoint.CreateAfterRecord, models.KindInvitation}, {failpoint.CreateAfterStart, models.KindInvitation},
	{failpoint.CreateAfterRecord, models.KindReseller}, {failpoint.CreateAfterStart, models.KindReseller},
	{failpoint.CreateAfterRecord, models.KindOnboarding}, {failpoint.CreateAfterStart, models.KindOnboarding},
	{failpoint.AttestAfterEvidence, models.KindOnboarding},
	{failpoint.CreateAfterRecord, models.KindRemoval}, {failpoint.CreateAfterStart, models.KindRemoval},
}

var (
	failpointBinary string
	failpointBuild  sync.Once
	failpointErr    error
)

// failpointsBinary builds partnerflow with the failpoints tag, once per run.
func failpointsBinary(t *testing.T) string {
	t.Helper()
	failpointBuild.Do(func() {
		failpointBinary = filepath.Join(filepath.Dir(binary), "partnerflow-failpoints")
		build := exec.Command("go", "build", "-tags", "failpoints", "-o", failpointBinary, "./cmd/partnerflow")
		build.Dir = ".."
		out, err := build.CombinedOutput()
		if err != nil {
			failpointErr = fmt.Errorf("build with failpoints: %v\n%s", err, out)
		}
	})
	if failpointErr != nil {
		t.Fatal(failpointErr)
	}
	return failpointBinary
}

// TestEveryCrashPointHealsForEveryFlowKind kills dev at each named crash point, as SIGKILL
// would, for each flow kind the point applies to; restarts it on the same data directory; and
// retries the request as a client that lost the answer would. Each retry must answer 201, or a
// 409 whose Location names the flow, and every flow must reach its end with each GDAP
// relationship, tenant, agreement, subscription, mail and webhook event exactly once.
func TestEveryCrashPointHealsForEveryFlowKind(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash-point suite runs the binary for minutes")
	}
	bin := failpointsBinary(t)
	mail := testsmtp.Start(t)
	hooks := newHookLog(t)
	dataDir := t.TempDir()
	env := devEnv(t, dataDir, "SMTP_URL="+mail.URL, "PARTNERFLOW_WEBHOOK_ALLOW_PRIVATE=true")
	p := startDevBinary(t, bin, dataDir, env)
	w := &crashWorld{t: t, p: p}
	w.subscribe(hooks)
	s := &pointSuite{w: w, bin: bin, dataDir: dataDir, env: env, byKind: map[string][]*crashFlow{}}

	for i, cp := range crashPoints {
		switch cp.point {
		case failpoint.AttestAfterEvidence:
			f := s.byKind[models.KindOnboarding][0]
			s.driveUntil(fmt.Sprintf("%s awaits its agreement", f.path), func() bool {
				return f.status == models.OnboardingAwaitingAgreement
			})
			s.crashAt(cp, func() (int, []byte) { return w.api("POST", f.path+"/agreement", attestBody(f)) })
			code, out := w.api("POST", f.path+"/agreement", attestBody(f))
			if code != http.StatusOK && code != http.StatusConflict {
				t.Fatalf("the retried attestation: %d %s", code, out)
			}
			f.done["attest"] = true
		default:
			var body any
			collection := "/v1/" + cp.kind + "s"
			if cp.kind == models.KindRemoval {
				r := s.byKind[models.KindReseller][len(s.byKind[models.KindRemoval])]
				s.driveUntil(r.path+" is active", func() bool { return r.status == models.ResellerActive })
				collection, body = r.path+"/removal", map[string]any{"attestation": true, "attestedBy": "Crash Ops"}
			} else {
				body = s.newFlowBody(cp.kind, i)
			}
			s.crashAt(cp, func() (int, []byte) { return w.api("POST", collection, body) })
			f := &crashFlow{
				path:   s.retryCreate(collection, body),
				domain: s.domainOf(cp.kind, i),
				done:   map[string]bool{},
			}
			s.byKind[cp.kind] = append(s.byKind[cp.kind], f)
			s.driveUntil(f.path+"'s workflow runs", func() bool {
				_, owed := f.view["workflowStarted"]
				return f.view != nil && !owed
			})
		}
		t.Logf("crash point %s for %s healed", cp.point, cp.kind)
	}
	s.driveUntil("every flow ends", s.allDone)
	s.checkOnce()
	// A crash point can fall while the outbox sends an earlier flow's mail: one the mail server
	// accepted and the outbox had not yet recorded goes again under its Message-ID, the documented
	// at-least-once window (README "Reliability"); two different messages of one kind never do.
	if _, again := checkMailLogicallyOnce(t, mail); again > 0 {
		t.Logf("figure: %d messages delivered again under their Message-ID by a crash while sending", again)
	}
	hooks.checkOnce(t)
}

// pointSuite is the crash-point suite's flows, by kind, and how to restart dev.
type pointSuite struct {
	w       *crashWorld
	bin     string
	dataDir string
	env     []string
	byKind  map[string][]*crashFlow
}

// crashAt runs dev with the crash point armed, makes the call that must end the process at
// it, and starts dev again without it.
func (s *pointSuite) crashAt(cp crashPoint, call func() (int, []byte)) {
	t := s.w.t
	t.Helper()
	s.w.p.stop()
	p := startDevBinary(t, s.bin, s.dataDir, append(slices.Clone(s.env), failpoint.Env+"="+cp.point+":"+cp.kind))
	s.w.p = p
	if code, out := call(); code != 0 {
		t.Fatalf("crash point %s for %s was not hit: the call answered %d %s", cp.point, cp.kind, code, out)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("dev ended with %v at %s, want SIGKILL", err, cp.point)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("dev did not end at crash point %s", cp.point)
	}
	s.w.p = startDevBinary(t, s.bin, s.dataDir, s.env)
}

// retryCreate sends the lost create again: 201, or 409 naming the flow.
func (s *pointSuite) retryCreate(collection string, body any) string {
	s.w.t.Helper()
	path, err := createUntilAnswered(func() *devProcess { return s.w.p }, collection, body, 20)
	if err != nil {
		s.w.t.Fatal(err)
	}
	return path
}

// createUntilAnswered sends a create, again while dev does not answer, as a client that lost
// the answer would, and returns the flow's path: from a 201 (202 for a removal), or from the
// Location of a 409.
func createUntilAnswered(dev func() *devProcess, collection string, body any, attempts int) (string, error) {
	raw, _ := json.Marshal(body)
	for range attempts {
		resp, err := rawAPI(dev(), "POST", collection, raw)
		switch {
		case err != nil || resp.code >= 500:
			time.Sleep(300 * time.Millisecond)
		case resp.code == http.StatusCreated || resp.code == http.StatusAccepted:
			var v struct{ ID string }
			_ = json.Unmarshal(resp.body, &v)
			if strings.HasSuffix(collection, "/removal") {
				return "/v1/removals/" + v.ID, nil
			}
			return collection + "/" + v.ID, nil
		case resp.code == http.StatusConflict && resp.location != "":
			return resp.location, nil
		default:
			return "", fmt.Errorf("POST %s: %d %s (Location %q)", collection, resp.code, resp.body, resp.location)
		}
	}
	return "", fmt.Errorf("POST %s: dev does not answer", collection)
}

func (s *pointSuite) domainOf(kind string, i int) string {
	switch kind {
	case models.KindInvitation:
		return fmt.Sprintf("point%d.onmicrosoft.com", i)
	case models.KindReseller:
		return fmt.Sprintf("pointreseller%d.onmicrosoft.com", i)
	case models.KindOnboarding:
		return fmt.Sprintf("pointnew%d", i)
	}
	return ""
}

// newFlowBody makes what a new flow of kind needs at the simulator and returns its request.
func (s *pointSuite) newFlowBody(kind string, i int) map[string]any {
	domain := s.domainOf(kind, i)
	switch kind {
	case models.KindInvitation:
		s.w.simAdd("/sim/tenants", map[string]any{
			"domain": domain, "country": "US", "companyName": fmt.Sprintf("Point %d", i),
			"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
		})
		return map[string]any{
			"customerDomain": domain, "customerEmail": "admin@" + domain,
			"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
		}
	case models.KindReseller:
		mpn := fmt.Sprintf("56600%02d", i)
		s.w.simAdd("/sim/partners", map[string]any{
			"domain": domain, "country": "US", "companyName": fmt.Sprintf("Point Reseller %d", i),
			"mpnId": mpn, "agreementSigned": true,
			"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
		})
		return map[string]any{
			"email": "admin@" + domain, "companyName": fmt.Sprintf("Point Reseller %d", i), "mpnId": mpn,
		}
	default:
		return map[string]any{
			"companyName": fmt.Sprintf("Point New %d", i), "domainPrefix": domain, "country": "TR", "language": "tr",
			"registrationNumber": "1234567890",
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
		}
	}
}

func attestBody(f *crashFlow) map[string]any {
	return map[string]any{
		"primaryContact": map[string]any{
			"firstName": "Ayşe", "lastName": "Yılmaz", "email": "ayse@" + f.domain + ".example",
		},
		"dateAgreed": time.Now().UTC().Format("2006-01-02"),
	}
}

// pass moves every flow one step where a person acts: the customers accept, the resellers
// authorize, the onboardings are attested (all but the crash point's) and checked out.
func (s *pointSuite) pass() {
	w := s.w
	for _, f := range s.byKind[models.KindInvitation] {
		w.acceptInvitation(f)
	}
	for _, f := range s.byKind[models.KindReseller] {
		if w.refresh(f) && hasStep(f.view, "sent") {
			w.act(f, "authorize-provider", func() (int, []byte) {
				return w.try(
					"POST",
					w.p.sim+"/sim/customer-actions/authorize-provider",
					map[string]string{
						"resellerDomain": f.domain, "providerId": simPartnerID, "upn": "admin@" + f.domain,
					},
					false,
				)
			})
		}
	}
	for i, f := range s.byKind[models.KindOnboarding] {
		if !w.refresh(f) {
			continue
		}
		switch {
		case f.status == models.OnboardingAwaitingAgreement && i > 0:
			w.act(f, "attest", func() (int, []byte) { return w.api("POST", f.path+"/agreement", attestBody(f)) })
		case f.status == models.OnboardingReview:
			w.act(f, "checkout", func() (int, []byte) { return w.api("POST", f.path+"/cart/checkout", nil) })
		}
	}
	for _, f := range s.byKind[models.KindRemoval] {
		w.refresh(f)
	}
}

func (s *pointSuite) driveUntil(what string, done func() bool) {
	s.w.t.Helper()
	for end := time.Now().Add(3 * time.Minute); time.Now().Before(end); {
		s.pass()
		if done() {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	s.w.t.Fatalf("%s: not within 3 minutes", what)
}

func (s *pointSuite) allDone() bool {
	want := map[string]string{
		models.KindInvitation: models.InvitationActive,
		models.KindReseller:   models.ResellerRemoved,
		models.KindOnboarding: models.OnboardingCompleted,
		models.KindRemoval:    models.RemovalCompleted,
	}
	for kind, status := range want {
		if len(s.byKind[kind]) != 2 {
			return false
		}
		for _, f := range s.byKind[kind] {
			if f.status != status {
				return false
			}
		}
	}
	return true
}

// checkOnce counts, in the simulator's world, what the flows asked Partner Center for.
func (s *pointSuite) checkOnce() {
	w := s.w
	cw := &crashWorld{
		t:           w.t,
		p:           w.p,
		invitations: s.byKind[models.KindInvitation],
		customers:   s.byKind[models.KindOnboarding],
	}
	for _, rm := range s.byKind[models.KindRemoval] {
		recipients, _ := rm.view["recipients"].(map[string]any)
		if recipients["pending"] != float64(0) || recipients["failed"] != float64(0) ||
			recipients["delivered"] != recipients["total"] {
			w.t.Errorf("removal %s recipients %v, want all delivered", rm.path, recipients)
		}
	}
	cw.checkFlows()
}

// rawAnswer is one API answer with its Location.
type rawAnswer struct {
	code     int
	body     []byte
	location string
}

func rawAPI(p *devProcess, method, path string, body []byte) (rawAnswer, error) {
	req, err := http.NewRequest(method, p.api+path, strings.NewReader(string(body)))
	if err != nil {
		return rawAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return rawAnswer{}, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return rawAnswer{code: resp.StatusCode, body: out, location: resp.Header.Get("Location")}, nil
}

// TestEveryCrashPointInTheCodeIsExercised fails when a crash point hit in the code is missing
// from the suite's table, or the table names one that no code hits.
func TestEveryCrashPointInTheCodeIsExercised(t *testing.T) {
	hit := crashPointsHit(t, "..")
	names := map[string]string{} // constant name → point
	for _, p := range failpoint.Points {
		names[constantOf(t, p)] = p
	}
	inSuite := map[string]bool{}
	for _, cp := range crashPoints {
		inSuite[cp.point] = true
	}
	if len(hit) == 0 {
		t.Fatal("found no failpoint.Hit call: the scan is broken")
	}
	for constant := range hit {
		point, ok := names[constant]
		if !ok {
			t.Errorf("failpoint.%s is hit but not listed in failpoint.Points", constant)
			continue
		}
		if !inSuite[point] {
			t.Errorf("crash point %s is in the code but the crash-point suite never arms it", point)
		}
	}
	for point := range inSuite {
		if !hit[constantOf(t, point)] {
			t.Errorf("the suite arms %s, which no code hits", point)
		}
	}
}

// crashPointsHit finds the failpoint constants passed to failpoint.Hit in the module's non-test
// code.
func crashPointsHit(t *testing.T, root string) map[string]bool {
	hit := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") &&
			path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Hit" {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "failpoint" && len(call.Args) > 0 {
					arg, ok := call.Args[0].(*ast.SelectorExpr)
					if !ok {
						t.Errorf("%s: failpoint.Hit must name its point by a failpoint constant", path)
						return true
					}
					hit[arg.Sel.Name] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hit
}

// constantOf is the name of the failpoint constant whose value is point.
func constantOf(t *testing.T, point string) string {
	src, err := os.ReadFile(filepath.Join("..", "internal", "failpoint", "failpoint.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(src), "\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if ok && value == strconv.Quote(point) {
			return name
		}
	}
	t.Fatalf("no failpoint constant has the value %q", point)
	return ""
}
