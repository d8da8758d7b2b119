package devserver

import (
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// A port taken between checkPortsFree and the server's own bind (another process racing
// for it) must still come back as an error, not end the process.
func TestStartTemporalOnAPortTakenAfterTheCheckReturnsAnError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("occupy a port: %v", err)
	}
	defer func() { _ = taken.Close() }()
	http, err := freePorts("127.0.0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Config{DataDir: t.TempDir(), FrontendPort: taken.Addr().(*net.TCPAddr).Port,
		FrontendHTTPPort: http[0], UIPort: -1, Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	stores, err := prepareStores(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startTemporal(cfg, stores, slogLogger{log: cfg.Logger, quiet: &atomic.Bool{}})
	if err == nil {
		_ = srv.Stop()
		t.Fatal("startTemporal succeeded on a taken frontend port")
	}
	if !strings.Contains(err.Error(), "listener") {
		t.Errorf("error = %v, want it to name the failed listener", err)
	}
	t.Log(err)
}
