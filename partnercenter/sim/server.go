// Package sim is a local simulator of Partner Center and Microsoft Graph's
// GDAP API. It serves the same paths and JSON as the real services, enforces
// the documented rules and error codes, stands in for the Microsoft 365 admin
// center (HTML pages and JSON customer actions), signs and delivers webhook
// events, persists its world to a SQLite file (one row per entity, written per
// change), and injects faults on demand.
//
// Paths it serves (see README.md for the bodies):
//
//	/{tenant}/v2.0/.well-known/...,       Microsoft Entra ID (login.microsoftonline.com):
//	/{tenant}/discovery/v2.0/keys,        OpenID configuration, JWKS, authorize (sign-in
//	/{tenant}/oauth2/v2.0/..., /devicelogin  pages), token, device code
//	/sim/apps, /sim/tokens, /sim/devicelogin, /sim/connections  app registrations, tokens without sign-in, sessions
//	/v1/...                               Partner Center REST
//	/webhooks/v1/registration[...]        Partner Center webhook registration
//	/v1.0/tenantRelationships/...         Graph delegatedAdminRelationships, findTenantInformationByDomainName
//	/sim/tenants, /sim/partners           create the world (POST), list it (GET /sim/tenants[/{id}])
//	/sim/tenants/{id}/domains             verify a custom domain in a tenant
//	/sim/estate                           seed a partner's estate (thousands of customers at once)
//	/sim/customer-actions/...             accept-reseller, approve-gdap, authorize-provider, terminate-gdap
//	/sim/partner-actions/remove-reseller  the provider removing a reseller (Partner Center UI)
//	/sim/admin/...                        admin-center and Partner Center stand-in pages
//	/sim/clock, /sim/faults               test controls
//	/sim/provisioning                     how long new orders stay pending
//	/sim/webhooks/certificate.cer         the webhook signing certificate
//	/sim/webhooks/deliveries              delivery log
package sim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/partnerflow/partnerflow/partnercenter"
)

// HomePartner is the partner partnerflow acts as; the service paths accept
// only tokens issued in its tenant.
type HomePartner struct {
	TenantID    string
	MPNID       string
	CompanyName string
	Country     string
	Domain      string
}

// DefaultHomePartner is used when Config.HomePartner is empty.
var DefaultHomePartner = HomePartner{
	TenantID:    "7f2c9a1e-4b3d-4e5f-8a6b-1c2d3e4f5a6b",
	MPNID:       "6543210",
	CompanyName: "Partnerflow Demo Distributor",
	Country:     "US",
	Domain:      "partnerflowdemo.onmicrosoft.com",
}

// Config configures a Server.
type Config struct {
	// DataFile is the path of the SQLite file the world is kept in (created
	// if missing); empty keeps everything in memory. A JSON snapshot written
	// there by earlier versions is imported at start (and kept as
	// DataFile+".legacy").
	DataFile string
	// PublicURL is the base URL the simulator's links and pages use.
	PublicURL string
	// ActivationDelay is how long approved GDAP relationships, access
	// assignments and orders take to become active; 0 means 3 seconds,
	// Immediately means no time at all.
	ActivationDelay time.Duration
	// ProvisioningDelay is how long a checked-out order stays pending before
	// its subscriptions exist; 0 means ActivationDelay. SetProvisioningDelay
	// and POST /sim/provisioning change it for orders placed afterwards.
	ProvisioningDelay time.Duration
	// RefuseResubmittedCart makes a checkout of a cart already checked out
	// with another request ID fail with 400 800065 ("Cannot check out an
	// already submitted cart", Microsoft's error table). By default the
	// simulator answers such a repeat with the first result; a retry with the
	// same MS-RequestId is always answered with the first result.
	RefuseResubmittedCart bool
	// HomePartner is the partner partnerflow acts as; zero means DefaultHomePartner.
	HomePartner HomePartner
	// Now is the clock (before /sim/clock offsets); nil means time.Now.
	Now func() time.Time
	// WebhookRetryDelay is the first delay between webhook delivery attempts
	// (doubling, at most 10 attempts); 0 means 2 seconds.
	WebhookRetryDelay time.Duration
	// Logger receives the simulator's log; nil discards it.
	Logger *slog.Logger
}

// Immediately is the ActivationDelay of a world where approved
// relationships, access assignments and orders are active at once.
const Immediately time.Duration = -1

// Server is the simulator. Create it with New, serve Handler, stop it with Close.
type Server struct {
	cfg    Config
	home   HomePartner
	log    *slog.Logger
	mux    *http.ServeMux
	signer *rsa.PrivateKey

	// The Entra token signing key (see tokens.go); set by New, never changed.
	tokenKey    *rsa.PrivateKey
	tokenJWK    jose.JSONWebKey
	tokenSigner jose.Signer

	mu        sync.Mutex // guards st, db, faults, provDelay and flows
	st        *state
	flows     entraFlows
	db        *store // nil without a DataFile, and after Close
	closed    bool   // Close closed db
	faults    Faults
	provDelay time.Duration

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	deliveries deliveryLog

	// sessionsRevoked holds, by tenant and user, when the user's sessions were revoked (wall
	// clock): access tokens issued before then are refused. In memory only: the tokens it
	// concerns last an hour.
	sessionsRevoked sync.Map

	// issued keeps the newest tokens the simulator issued, for GET /sim/tokens/issued.
	issued issuedTokens
	// requests counts the requests answered, by route, for GET /sim/requests (requests.go).
	requests requestCounts
}

// New opens the world kept at cfg.DataFile (importing a JSON snapshot of an
// earlier version), or starts an empty one, and starts the background webhook
// scanner.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.ActivationDelay == 0:
		cfg.ActivationDelay = 3 * time.Second
	case cfg.ActivationDelay < 0:
		cfg.ActivationDelay = 0
	}
	if cfg.WebhookRetryDelay == 0 {
		cfg.WebhookRetryDelay = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	home := cfg.HomePartner
	if home.TenantID == "" {
		home = DefaultHomePartner
	}
	if cfg.ProvisioningDelay == 0 {
		cfg.ProvisioningDelay = cfg.ActivationDelay
	}
	cfg.ProvisioningDelay = max(cfg.ProvisioningDelay, 0)
	s := &Server{
		cfg:       cfg,
		home:      home,
		log:       cfg.Logger,
		st:        newState(),
		provDelay: cfg.ProvisioningDelay,
		flows:     newEntraFlows(),
	}
	if cfg.DataFile != "" {
		db, st, err := openStore(cfg.DataFile)
		if err != nil {
			return nil, err
		}
		s.db, s.st = db, st
	}
	key, err := s.ensureSigningKey()
	if err == nil {
		err = s.ensureTokenKey()
	}
	if err == nil {
		err = s.flush()
	}
	if err != nil {
		if s.db != nil {
			s.db.close()
		}
		return nil, err
	}
	s.signer = key
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	s.wg.Add(1)
	go s.scanLoop()
	return s, nil
}

// Handler returns the simulator's HTTP handler.
func (s *Server) Handler() http.Handler { return s.requests.count(s.mux) }

// SetPublicURL sets the base URL of links and pages once the listener's
// address is known (e.g. after httptest.NewServer).
func (s *Server) SetPublicURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.PublicURL = strings.TrimSuffix(u, "/")
}

// Close stops webhook delivery and the scanner and closes the data file;
// calling it again does nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.db != nil {
			if err := s.db.close(); err != nil {
				s.log.Error("close simulator data", "err", err)
			}
			s.db, s.closed = nil, true
		}
	})
}

// now is the simulated time: the configured clock plus /sim/clock advances.
func (s *Server) now() time.Time { return s.cfg.Now().UTC().Add(s.st.ClockOffset) }

func (s *Server) publicURL() string { return s.cfg.PublicURL }

// Faults is the fault-injection setting of the service paths (never /sim).
type Faults struct {
	// LatencyMs is added before every answer.
	LatencyMs int `json:"latencyMs"`
	// Rate429 is the fraction of calls answered 429 with Retry-After.
	Rate429 float64 `json:"rate429"`
	// RetryAfterSeconds is the Retry-After of injected 429s (default 1).
	RetryAfterSeconds int `json:"retryAfterSeconds"`
	// Rate500 is the fraction of calls answered 500.
	Rate500 float64 `json:"rate500"`
	// DropAfterWriteRate is the fraction of mutating calls whose change is made
	// and whose connection is then closed without an answer.
	DropAfterWriteRate float64 `json:"dropAfterWriteRate"`
}

// recorder buffers a handler's answer so that the service wrapper can store
// it for idempotent replay or drop it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// service wraps a Partner Center or Graph handler: the bearer token, the
// route's credential and Graph permission (need; nil means the GDAP API's)
// before the lock and the faults, so a refused token is never a fault; faults,
// MS-RequestId idempotency, one lock for the whole exchange, writing what the
// call changed, and the dropped-response fault.
func (s *Server) service(
	graphAPI bool, cred partnercenter.Credential, need graphNeed, h http.HandlerFunc,
) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, refused := s.authenticate(r, graphAPI, cred, need)
		if refused != nil {
			if refused.status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			}
			s.fail(w, graphAPI, refused.status, refused.pcCode, refused.graphCode, refused.message)
			return
		}
		r = withCaller(r, c)
		s.mu.Lock()
		f := s.faults
		s.mu.Unlock()
		if f.LatencyMs > 0 {
			select {
			case <-time.After(time.Duration(f.LatencyMs) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		if f.Rate429 > 0 && rand.Float64() < f.Rate429 {
			ra := f.RetryAfterSeconds
			if ra <= 0 {
				ra = 1
			}
			w.Header().Set("Retry-After", fmt.Sprint(ra))
			if !graphAPI {
				// Partner Center's documented 429 is not its error envelope ("API throttling
				// guidance for partners calling Partner Center APIs", the error code response).
				writeJSON(w, http.StatusTooManyRequests, partnercenter.ThrottledBody{
					StatusCode: http.StatusTooManyRequests,
					Message:    fmt.Sprintf("Rate limit is exceeded. Try again in %d seconds.", ra),
				})
				return
			}
			s.fail(w, graphAPI, http.StatusTooManyRequests, 0, "TooManyRequests", "Rate limit is exceeded.")
			return
		}
		if f.Rate500 > 0 && rand.Float64() < f.Rate500 {
			s.fail(w, graphAPI, http.StatusInternalServerError, 0, "InternalServerError", "Injected server error.")
			return
		}
		mutating := r.Method != http.MethodGet && r.Method != http.MethodHead
		key := ""
		if id := r.Header.Get("MS-RequestId"); mutating && id != "" {
			key = id + " " + r.Method + " " + r.URL.Path
		}
		rec := &recorder{header: http.Header{}}
		s.mu.Lock()
		if stored, ok := s.st.Idempotency[key]; key != "" && ok {
			rec.header.Set("Content-Type", "application/json; charset=utf-8")
			rec.status = stored.Status
			rec.body.Write(stored.Body)
		} else {
			h(rec, r)
			if mutating && rec.status < 300 && key != "" {
				s.st.putAnswer(key, &storedResponse{
					Status: rec.status,
					Body:   bytes.Clone(rec.body.Bytes()),
					At:     s.now(),
				})
			}
			if err := s.flush(); err != nil {
				s.log.Error("persist simulator state", "err", err)
			}
		}
		s.mu.Unlock()
		if mutating && f.DropAfterWriteRate > 0 && rand.Float64() < f.DropAfterWriteRate {
			dropConnection(w)
			return
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		if id := r.Header.Get("MS-RequestId"); id != "" {
			w.Header().Set("MS-RequestId", id)
		}
		if id := r.Header.Get("MS-CorrelationId"); id != "" {
			w.Header().Set("MS-CorrelationId", id)
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	}
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// admin wraps a /sim handler: one lock, writing what the call changed.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{header: http.Header{}}
		s.mu.Lock()
		h(rec, r)
		if err := s.flush(); err != nil {
			s.log.Error("persist simulator state", "err", err)
		}
		s.mu.Unlock()
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	}
}

// fail writes the Partner Center or Graph error envelope.
func (s *Server) fail(w http.ResponseWriter, graphAPI bool, status, code int, graphCode, description string) {
	if graphAPI {
		writeJSON(
			w,
			status,
			partnercenter.GraphErrorBody{Error: partnercenter.GraphErrorDetail{Code: graphCode, Message: description}},
		)
		return
	}
	writeJSON(
		w,
		status,
		partnercenter.ErrorBody{Code: code, Description: description, Data: []string{}, Source: "PartnerFD"},
	)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// Compact, as Microsoft's services answer: no indentation to write, read, page or store.
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body, case-insensitively as Partner Center does.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(bufio.NewReader(io.LimitReader(r.Body, 1<<20)))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("empty body")
	}
	return json.Unmarshal(b, v)
}
