package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerflow/partnerflow/config"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

// TestEveryServerHasReadWriteAndIdleTimeouts holds the servers the binary runs (API, dev,
// metrics listeners, simulator: all through serveHTTP) to bounded reads, writes and idle
// connections, so a slow client cannot hold connections open.
func TestEveryServerHasReadWriteAndIdleTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf(
			"timeouts: header %v, read %v, write %v, idle %v",
			srv.ReadHeaderTimeout,
			srv.ReadTimeout,
			srv.WriteTimeout,
			srv.IdleTimeout,
		)
	}
	if srv.ReadTimeout < srv.ReadHeaderTimeout {
		t.Fatalf("the read timeout %v is shorter than the header timeout %v", srv.ReadTimeout, srv.ReadHeaderTimeout)
	}
}

// TestDevNeverBringsBackARevokedKey: dev keeps its generated key in the data dir; once that key
// is revoked, the next start makes a new one (and says so) instead of reviving it, and a weak
// key from an older version is replaced the same way. The api command refuses a weak
// PARTNERFLOW_BOOTSTRAP_KEY and starts with a revoked one left revoked.
func TestDevNeverBringsBackARevokedKey(t *testing.T) {
	ctx := context.Background()
	store := testdb.SQLite(t)
	var logs bytes.Buffer
	a := &app{cfg: config.Config{DataDir: t.TempDir()}, logger: slog.New(slog.NewTextHandler(&logs, nil))}
	first, _, err := a.provisionDevKey(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if again, _, err := a.provisionDevKey(ctx, store); err != nil || again != first {
		t.Fatalf("a restart changed the dev key: %v", err)
	}
	key, err := store.AuthenticateAPIKey(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RevokeAPIKey(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	second, _, err := a.provisionDevKey(ctx, store)
	if err != nil || second == first {
		t.Fatalf("after revocation: %v (same key: %v)", err, second == first)
	}
	if _, err := store.AuthenticateAPIKey(ctx, first); !errors.Is(err, models.ErrInvalidKey) {
		t.Fatalf("the revoked dev key came back: %v", err)
	}
	if _, err := store.AuthenticateAPIKey(ctx, second); err != nil {
		t.Fatalf("the new dev key: %v", err)
	}
	if !strings.Contains(logs.String(), "REVOKED") {
		t.Fatalf("dev must say loudly that it made a new key: %s", logs.String())
	}
	if err := os.WriteFile(filepath.Join(a.cfg.DataDir, "dev-api-key"), []byte("dev-short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if third, _, err := a.provisionDevKey(ctx, store); err != nil || third == "dev-short" ||
		models.CheckKeyStrength(third) != nil {
		t.Fatalf("a weak kept key: %q %v", third, err)
	}

	if err := a.provisionBootstrapKey(ctx, store, "too-short"); !errors.Is(err, models.ErrWeakKey) {
		t.Fatalf("a weak PARTNERFLOW_BOOTSTRAP_KEY: %v", err)
	}
	if err := a.provisionBootstrapKey(ctx, store, first); err != nil {
		t.Fatalf("a revoked PARTNERFLOW_BOOTSTRAP_KEY must not stop the start: %v", err)
	}
	if _, err := store.AuthenticateAPIKey(ctx, first); !errors.Is(err, models.ErrInvalidKey) {
		t.Fatal("a revoked PARTNERFLOW_BOOTSTRAP_KEY came back")
	}
}

// TestTheMetricsListenerServesWithoutAKey: the private listener (a worker's, and api's on
// PARTNERFLOW_API_METRICS_ADDR) is for Prometheus, which holds no API key.
func TestTheMetricsListenerServesWithoutAKey(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "partnerflow_test_total", Help: "a test counter"})
	reg.MustRegister(c)
	c.Inc()
	srv := httptest.NewServer(metricsMux(reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "partnerflow_test_total 1") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
}
