// Package e2e drives the built partnerflow binary's `dev` command over HTTP, as a user would,
// and the customer's pages in headless Chromium.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/models"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "partnerflow-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "partnerflow")
	build := exec.Command("go", "build", "-o", binary, "./cmd/partnerflow")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build partnerflow:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// devProcess is a running `partnerflow dev`.
type devProcess struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	env     []string
	api     string
	sim     string
	ui      string
	key     string
	output  *bytes.Buffer
}

// startDev runs `partnerflow dev` on free ports in dataDir and waits until /readyz answers 200.
func startDev(t *testing.T, dataDir string, env []string) *devProcess {
	t.Helper()
	return startDevBinary(t, binary, dataDir, env)
}

// startDevBinary is startDev with another build of partnerflow.
func startDevBinary(t *testing.T, binary, dataDir string, env []string) *devProcess {
	t.Helper()
	if env == nil {
		env = devEnv(t, dataDir)
	}
	p := &devProcess{t: t, dataDir: dataDir, env: env, output: &bytes.Buffer{}}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "PARTNERFLOW_HTTP_ADDR":
			p.api = "http://" + v
		case "PARTNERFLOW_SIM_ADDR":
			p.sim = "http://" + v
		case "PARTNERFLOW_UI_PORT":
			p.ui = "http://127.0.0.1:" + v
		}
	}
	p.cmd = exec.Command(binary, "dev")
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("dev output:\n%s", tail(p.output.String(), 4000))
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(p.api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev never became ready:\n%s", tail(p.output.String(), 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	key, err := os.ReadFile(filepath.Join(dataDir, "dev-api-key"))
	if err != nil {
		t.Fatal(err)
	}
	p.key = strings.TrimSpace(string(key))
	return p
}

// devEnv is the environment of a `dev` on free ports in dataDir, with extra settings last.
func devEnv(t *testing.T, dataDir string, extra ...string) []string {
	t.Helper()
	env := append(os.Environ(),
		"PARTNERFLOW_DATA_DIR="+dataDir,
		fmt.Sprintf("PARTNERFLOW_HTTP_ADDR=127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("PARTNERFLOW_SIM_ADDR=127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("PARTNERFLOW_TEMPORAL_PORT=%d", freePort(t)),
		fmt.Sprintf("PARTNERFLOW_UI_PORT=%d", freePort(t)),
		"PARTNERFLOW_POLL_INTERVAL=2s",
		"DATABASE_URL=", "PARTNERCENTER_URL=", "GRAPH_URL=", "TEMPORAL_ADDRESS=", "PARTNERFLOW_BOOTSTRAP_KEY=",
	)
	return append(env, extra...)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// stop sends Ctrl-C and waits for a clean exit.
func (p *devProcess) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Fatalf("dev did not exit cleanly on Ctrl-C: %v\n%s", err, tail(p.output.String(), 3000))
		}
	case <-time.After(60 * time.Second):
		p.t.Fatal("dev did not stop within a minute of Ctrl-C")
	}
}

func (p *devProcess) client() *testapi.Client {
	return &testapi.Client{T: p.t, BaseURL: p.api, Key: p.key}
}

type invitationView struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	AcceptURL          string `json:"acceptUrl"`
	GDAPRelationshipID string `json:"gdapRelationshipId"`
	Steps              []struct {
		Name string `json:"name"`
	} `json:"steps"`
}

func (v invitationView) has(step string) bool {
	for _, s := range v.Steps {
		if s.Name == step {
			return true
		}
	}
	return false
}

func (p *devProcess) invite(domain, displayName string) invitationView {
	p.t.Helper()
	body := map[string]any{
		"customerDomain": domain, "customerEmail": "admin@" + domain,
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
	}
	if displayName != "" {
		body["displayName"] = displayName
	}
	resp := p.client().Do("POST", "/v1/invitations", body)
	if resp.Status != http.StatusCreated {
		p.t.Fatalf("invite: %d %s", resp.Status, resp.Body)
	}
	var v invitationView
	resp.JSON(p.t, &v)
	return v
}

func (p *devProcess) waitFor(id, what string, ok func(invitationView) bool) invitationView {
	p.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp := p.client().Do("GET", "/v1/invitations/"+id, nil)
		var v invitationView
		if resp.Status == http.StatusOK {
			resp.JSON(p.t, &v)
			if ok(v) {
				return v
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("invitation never became %s: %d %s", what, resp.Status, resp.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *devProcess) simAction(action string, body map[string]string) {
	p.t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(p.sim+"/sim/customer-actions/"+action, "application/json", bytes.NewReader(data))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		out, _ := io.ReadAll(resp.Body)
		p.t.Fatalf("%s: %d %s", action, resp.StatusCode, out)
	}
}

// simToken asks the simulator at simURL for the partner admin's App+User token (with MFA) for
// the service path belongs to, as a test reads the world the way partnerflow's client does.
func simToken(t *testing.T, simURL, path string) string {
	t.Helper()
	resource := "partnercenter"
	if strings.HasPrefix(path, "/v1.0/") {
		resource = "graph"
	}
	data, _ := json.Marshal(map[string]any{"resource": resource})
	resp, err := http.Post(simURL+"/sim/tokens", "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.AccessToken == "" {
		t.Fatalf("a token from the simulator: %d", resp.StatusCode)
	}
	return out.AccessToken
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDevRunsTheWholeEngine(t *testing.T) {
	p := startDev(t, t.TempDir(), nil)
	if code, _ := get(t, p.api+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get(t, p.api+"/openapi.json"); code != 200 || !strings.Contains(body, `"/v1/invitations"`) {
		t.Fatalf("openapi %d", code)
	}
	if code, body := get(t, p.ui+"/"); code != 200 || !strings.Contains(body, "<!doctype html>") {
		t.Fatalf("the Temporal Web UI must answer: %d", code)
	}
	if code, body := get(t, p.ui+"/api/v1/settings"); code != 200 || !strings.Contains(body, p.api+"/codec") {
		t.Fatalf("the Web UI must use partnerflow's codec endpoint: %d %s", code, body)
	}
	pre := p.client().As("").Do(
		"OPTIONS", "/codec/decode", nil, "Origin", p.ui, "Access-Control-Request-Method", "POST",
	)
	if pre.Header.Get("Access-Control-Allow-Origin") != p.ui ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("the embedded Web UI must be allowed to call the codec endpoint with credentials: %d %v",
			pre.Status, pre.Header)
	}
	inv := p.invite("northwind.onmicrosoft.com", "")
	p.waitFor(inv.ID, "sent", func(v invitationView) bool { return v.has("sent") })
	// /metrics on the API's listener needs a key of an admin role.
	if code, _ := get(t, p.api+"/metrics"); code != 401 {
		t.Fatalf("/metrics without a key: %d, want 401", code)
	}
	m := p.client().Do("GET", "/metrics", nil)
	code, metrics := m.Status, string(m.Body)
	for _, want := range []string{
		"partnerflow_http_requests_total",
		"temporal_workflow_task_execution_latency",
		"temporal_request",
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if resp := p.client().As("").Do("GET", "/v1/invitations", nil); resp.Status != 401 {
		t.Fatalf("the API must require a key: %d", resp.Status)
	}
	p.stop()
}

// TestDevRestartResumesAWaitingInvitation stops dev in the middle of an invitation that waits
// for the customer, starts it again on the same data dir, and sees the flow finish; it also
// checks that Temporal's database holds the workflow input only as ciphertext.
func TestDevRestartResumesAWaitingInvitation(t *testing.T) {
	dataDir := t.TempDir()
	p := startDev(t, dataDir, nil)
	marker := fmt.Sprintf("MARKER%d", time.Now().UnixNano())
	inv := p.invite("fabrikam.onmicrosoft.com", marker)
	sent := p.waitFor(inv.ID, "sent", func(v invitationView) bool {
		return v.has("sent") && v.GDAPRelationshipID != ""
	})
	p.stop()

	var scanned int
	files, _ := filepath.Glob(filepath.Join(dataDir, "temporal*.db*"))
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scanned += len(b)
		all = append(all, b...)
	}
	if bytes.Contains(all, []byte(marker)) {
		t.Fatalf("the workflow input %q is readable in Temporal's SQLite files", marker)
	}
	// The customer domain is a search attribute, which Temporal stores in plaintext by design:
	// finding it proves the scan read the files that hold this workflow.
	if !bytes.Contains(all, []byte("fabrikam.onmicrosoft.com")) || scanned == 0 {
		t.Fatalf("the scan of %v (%d bytes) did not find this workflow at all", files, scanned)
	}

	p = startDev(t, dataDir, p.env)
	p.simAction("accept-reseller", map[string]string{
		"domain":    "fabrikam.onmicrosoft.com",
		"partnerId": simPartnerID,
		"upn":       "admin@fabrikam.onmicrosoft.com",
	})
	p.simAction("approve-gdap", map[string]string{
		"relationshipId": sent.GDAPRelationshipID,
		"upn":            "admin@fabrikam.onmicrosoft.com",
	})
	active := p.waitFor(inv.ID, "active", func(v invitationView) bool {
		return v.Status == models.InvitationActive && v.has("active")
	})
	if !active.has("sent") || !active.has("reseller-accepted") {
		t.Fatalf("the resumed flow lost its history: %+v", active.Steps)
	}
	p.stop()
}

// simPartnerID is the simulator's home partner, which dev acts as.
const simPartnerID = "7f2c9a1e-4b3d-4e5f-8a6b-1c2d3e4f5a6b"
