// Package devserver runs a Temporal server persisted in a SQLite file, and the Temporal Web
// UI, inside the calling process; it is what `partnerflow dev` uses instead of an installed
// Temporal cluster.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	"go.temporal.io/server/temporal"
)

// Start fills zero fields of Config with these defaults.
const (
	// DefaultIP is the address the frontend and the UI bind to: loopback only, because the
	// dev server has no authentication.
	DefaultIP = "127.0.0.1"
	// DefaultFrontendPort is the frontend's gRPC port, the one Temporal tools assume.
	DefaultFrontendPort = 7233
	// DefaultUIPort is the Web UI's port, the same as the Temporal CLI's dev server.
	DefaultUIPort = 8233
	// DefaultNamespace is the namespace created on first start.
	DefaultNamespace = "default"
	// DefaultRetention is how long closed workflows stay visible: long enough to look back
	// at a month of demo flows.
	DefaultRetention = 30 * 24 * time.Hour
)

// DBFileName is the SQLite file under Config.DataDir that holds the server's persistence; its
// -wal and -shm companions sit next to it.
const DBFileName = "temporal.db"

// VisibilityDBFileName is the SQLite file beside DBFileName that holds the visibility records
// (what the Web UI lists and searches). A separate file has its own writer, so the visibility
// writes every status change makes no longer queue behind the workflows' own. Data dirs made
// before it keep their visibility records in DBFileName.
const VisibilityDBFileName = "temporal-visibility.db"

// readyTimeout bounds how long Start waits for the frontend and the UI when the caller's
// context has no earlier deadline.
const readyTimeout = time.Minute

// Config says where the dev server keeps its state and where it listens.
type Config struct {
	// DataDir holds DBFileName and VisibilityDBFileName; it is created if missing. Required.
	DataDir string
	// IP is the address the frontend and the UI bind to (default DefaultIP). The history,
	// matching and worker services always bind to 127.0.0.1 on ports chosen at start.
	IP string
	// FrontendPort is the frontend's gRPC port (default DefaultFrontendPort).
	FrontendPort int
	// FrontendHTTPPort is the frontend's HTTP API port, which Nexus callbacks also use; 0
	// picks a free port.
	FrontendHTTPPort int
	// UIPort is the Web UI's port (default DefaultUIPort); -1 disables the UI.
	UIPort int
	// Namespace is created on first start and used as the UI's default (default
	// DefaultNamespace).
	Namespace string
	// Retention is the namespace's workflow retention (default DefaultRetention), applied
	// through the frontend at every start so a changed value reaches an existing database.
	Retention time.Duration
	// CodecEndpoint, if set, is the remote codec endpoint the Web UI decodes payloads with;
	// the browser sends its cookies to it.
	CodecEndpoint string
	// Logger receives the server's warnings and errors (default slog.Default()).
	Logger *slog.Logger
}

// Server is a running dev server; Stop it to release its ports.
type Server struct {
	temporal     temporal.Server
	ui           *uiserver.Server
	uiDone       chan struct{} // closed when ui.Start returns, after uiErr is set
	uiErr        error
	frontendAddr string
	uiURL        string
	quietLog     *atomic.Bool

	stopOnce sync.Once
	stopErr  error
}

// Start starts the Temporal server and, unless disabled, the Web UI. It returns once the
// frontend answers for the namespace with the configured retention and the UI answers HTTP,
// waiting at most a minute or until ctx ends. A port that is already taken fails Start
// before anything is started.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()

	if err := checkPortsFree(cfg); err != nil {
		return nil, err
	}
	if cfg.FrontendHTTPPort == 0 {
		ports, err := freePorts(cfg.IP, 1)
		if err != nil {
			return nil, err
		}
		cfg.FrontendHTTPPort = ports[0]
	}
	stores, err := prepareStores(cfg)
	if err != nil {
		return nil, err
	}
	quiet := &atomic.Bool{}
	ts, err := startTemporal(cfg, stores, slogLogger{log: cfg.Logger, quiet: quiet})
	if err != nil {
		return nil, err
	}
	s := &Server{temporal: ts, frontendAddr: frontendAddr(cfg), quietLog: quiet}
	if err := applyNamespaceConfig(ctx, s.frontendAddr, cfg.Namespace, cfg.Retention); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if cfg.UIPort > 0 {
		if err := s.startUI(ctx, cfg); err != nil {
			return nil, errors.Join(err, s.Stop())
		}
	}
	return s, nil
}

// FrontendHostPort is the host:port SDK clients dial, for example "127.0.0.1:7233".
func (s *Server) FrontendHostPort() string { return s.frontendAddr }

// UIURL is the Web UI's base URL, for example "http://127.0.0.1:8233", or "" when the UI
// is disabled.
func (s *Server) UIURL() string { return s.uiURL }

// Stop stops the UI, then every Temporal service, and releases their ports; a later Start
// on the same DataDir resumes every open workflow. Calling it again returns the first
// result.
//
// The server's SQLite plugin keeps its connection in a process-wide pool that it never
// closes, so the file stays open until the process exits; a Start in the same process
// reuses that connection.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.quietLog.Store(true)
		var errs []error
		if s.ui != nil {
			s.ui.Stop()
			<-s.uiDone
			if s.uiErr != nil {
				errs = append(errs, fmt.Errorf("stop web UI: %w", s.uiErr))
			}
		}
		if err := s.temporal.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop temporal server: %w", err))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, errors.New("devserver: DataDir is required")
	}
	if c.IP == "" {
		c.IP = DefaultIP
	}
	if net.ParseIP(c.IP) == nil {
		return c, fmt.Errorf("devserver: IP %q is not an IP address", c.IP)
	}
	if c.FrontendPort == 0 {
		c.FrontendPort = DefaultFrontendPort
	}
	if c.UIPort == 0 {
		c.UIPort = DefaultUIPort
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.FrontendHTTPPort != 0 && c.FrontendHTTPPort == c.FrontendPort ||
		c.UIPort > 0 && (c.UIPort == c.FrontendPort || c.UIPort == c.FrontendHTTPPort) {
		return c, fmt.Errorf("devserver: frontend port %d, frontend HTTP port %d and UI port %d must differ",
			c.FrontendPort, c.FrontendHTTPPort, c.UIPort)
	}
	return c, nil
}

// dialIP is the address other processes and the in-process services use to reach what
// binds to c.IP: a wildcard bind is reached over loopback.
func (c Config) dialIP() string {
	if net.ParseIP(c.IP).IsUnspecified() {
		return "127.0.0.1"
	}
	return c.IP
}

func frontendAddr(c Config) string {
	return net.JoinHostPort(c.dialIP(), strconv.Itoa(c.FrontendPort))
}

// checkPortsFree refuses ports that are in use, because the server and the UI treat a
// failed bind as fatal to the whole process rather than returning an error.
func checkPortsFree(c Config) error {
	ports := []struct {
		name string
		port int
	}{{"frontend gRPC", c.FrontendPort}, {"frontend HTTP", c.FrontendHTTPPort}, {"web UI", c.UIPort}}
	for _, p := range ports {
		if p.port <= 0 {
			continue
		}
		addr := net.JoinHostPort(c.IP, strconv.Itoa(p.port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("devserver: %s port %s is not available: %w", p.name, addr, err)
		}
		if err := l.Close(); err != nil {
			return fmt.Errorf("devserver: release probe of %s: %w", addr, err)
		}
	}
	return nil
}

// freePorts returns n distinct ports that were free on ip a moment ago. They are picked below
// the kernel's ephemeral range (32768 and up on Linux): a port from that range may be taken,
// between the pick and the server's bind, as the source port of one of the machine's own
// outgoing connections ("bind: address already in use" for an internal service, seen in CI
// with many processes connecting at once). Only when none is found there does the kernel pick.
func freePorts(ip string, n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := listenBelowEphemeral(ip)
		if err != nil {
			if l, err = net.Listen("tcp", net.JoinHostPort(ip, "0")); err != nil {
				return nil, fmt.Errorf("devserver: pick a free port: %w", err)
			}
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Ports freePorts picks among first: registered ports no service of this machine's kinds uses,
// below the ephemeral range.
const (
	pickPortsFrom = 20000
	pickPortsTo   = 32767
)

// listenBelowEphemeral listens on a random free port between pickPortsFrom and pickPortsTo.
func listenBelowEphemeral(ip string) (net.Listener, error) {
	var err error
	for range 64 {
		port := pickPortsFrom + rand.IntN(pickPortsTo-pickPortsFrom+1)
		var l net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port))); err == nil {
			return l, nil
		}
	}
	return nil, err
}

// waitHTTP polls url until it answers 200, done is closed (the server behind it quit), or
// ctx ends.
func waitHTTP(ctx context.Context, url string, done <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("build request for %s: %w", url, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		lastErr = err
		select {
		case <-done:
			return fmt.Errorf("server behind %s quit (last attempt: %w)", url, lastErr)
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last attempt: %w)", url, ctx.Err(), lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
