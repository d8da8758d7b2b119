package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

func run(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// TestProductionCommands runs migrate, keys create, and a second api and worker process beside
// dev, sharing dev's Temporal and database as replicas would.
func TestProductionCommands(t *testing.T) {
	dataDir := t.TempDir()
	db := filepath.Join(t.TempDir(), "app.db")
	base := append(os.Environ(),
		"DATABASE_URL="+db, "PARTNERFLOW_DATA_DIR="+t.TempDir(), "TEMPORAL_ADDRESS=127.0.0.1:1",
		"PARTNERFLOW_CODEC_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		fmt.Sprintf("PARTNERFLOW_HTTP_ADDR=127.0.0.1:%d", freePort(t)))

	_, stderr, err := run(t, base, "api")
	if err == nil || !strings.Contains(stderr, "partnerflow migrate") {
		t.Fatalf("api against an unmigrated database must refuse and say what to run: %v %s", err, stderr)
	}
	if out, stderr, err := run(t, base, "migrate"); err != nil || !strings.Contains(out, "schema at version") {
		t.Fatalf("migrate: %v %s %s", err, out, stderr)
	}
	if _, stderr, err := run(t, base, "keys", "create", "--name", "ops", "--role", "owner"); err == nil ||
		!strings.Contains(stderr, "unknown role") {
		t.Fatalf("an unknown role must be refused: %v %s", err, stderr)
	}
	key, stderr, err := run(t, base, "keys", "create", "--name", "ops", "--role", "admin-agent")
	key = strings.TrimSpace(key)
	if err != nil || !strings.HasPrefix(key, "pfk_") || !strings.Contains(stderr, "not shown again") {
		t.Fatalf("keys create: %v %q %s", err, key, stderr)
	}
	if b, _ := os.ReadFile(db); bytes.Contains(b, []byte(key)) {
		t.Fatal("the minted key is stored in plaintext")
	}

	// dev provides Temporal and the simulator; a second api and a worker join it as replicas.
	p := startDev(t, dataDir, nil)
	codecKey, err := os.ReadFile(filepath.Join(dataDir, "codec.key"))
	if err != nil {
		t.Fatal(err)
	}
	var temporalPort string
	for _, kv := range p.env {
		if v, ok := strings.CutPrefix(kv, "PARTNERFLOW_TEMPORAL_PORT="); ok {
			temporalPort = v
		}
	}
	replicaAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	replicaEnv := append(os.Environ(),
		"DATABASE_URL="+filepath.Join(dataDir, "partnerflow.db"), "TEMPORAL_ADDRESS=127.0.0.1:"+temporalPort,
		"PARTNERFLOW_CODEC_KEY="+strings.TrimSpace(string(codecKey)), "PARTNERFLOW_HTTP_ADDR="+replicaAddr,
		"PARTNERFLOW_METRICS_ADDR="+fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"PARTNERCENTER_URL="+p.sim, "GRAPH_URL="+p.sim, "PARTNERCENTER_TENANT_ID="+simPartnerID,
		// The simulator is Entra ID too; the replicas sign in as its demo app, as dev does.
		"PARTNERCENTER_AUTHORITY_URL="+p.sim, "PARTNERCENTER_CLIENT_ID="+sim.DemoApp.ClientID,
		"PARTNERCENTER_CLIENT_SECRET="+sim.DemoApp.ClientSecret, "PARTNERFLOW_ALLOW_NON_MICROSOFT_URLS=true",
		"PARTNERFLOW_SIGNING_KEY=", "PARTNERFLOW_BOOTSTRAP_KEY=",
	)
	for _, command := range []string{"api", "worker"} {
		cmd := exec.Command(binary, command)
		cmd.Env = replicaEnv
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s output:\n%s", command, tail(out.String(), 3000))
			}
		})
	}
	replica := p.client()
	replica.BaseURL = "http://" + replicaAddr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if r, err := http.Get(replica.BaseURL + "/readyz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the api replica never became ready")
		}
		time.Sleep(200 * time.Millisecond)
	}
	resp := replica.Do("POST", "/v1/invitations", map[string]any{
		"customerDomain": "northwind.onmicrosoft.com", "customerEmail": "admin@northwind.onmicrosoft.com",
		"roles": []string{"Global Reader"}, "durationDays": 30,
		"assignments": []map[string]any{{
			"securityGroupId": "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
			"roles":           []string{"Global Reader"},
		}},
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("invite through the replica: %d %s", resp.Status, resp.Body)
	}
	var inv invitationView
	resp.JSON(t, &inv)
	sent := p.waitFor(inv.ID, "sent through dev's api", func(v invitationView) bool { return v.has("sent") })
	if sent.ID != inv.ID {
		t.Fatal("the replicas do not share state")
	}
	p.stop()
}
