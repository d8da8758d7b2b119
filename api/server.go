// Package api is partnerflow's HTTP interface: the JSON API that starts and steers flows,
// authentication by API key with Partner Center roles, problem+json errors, health, metrics,
// the OpenAPI document, the remote codec for the Temporal Web UI, and the customer pages.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

// Config is what the API needs to run.
type Config struct {
	Store    *models.Store
	Temporal client.Client
	Codec    *codec.Codec
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// SigningKey signs sessions and customer links; at least 32 random bytes.
	SigningKey []byte
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// CodecOrigins are the Web UI origins allowed to call the codec endpoint from a browser.
	CodecOrigins []string
	// TrustedProxies are the proxies whose X-Forwarded-For names the client; with none, the
	// client is the connection's peer, so the IP recorded as evidence cannot be forged.
	TrustedProxies []string
	// Flows configures the onboarding flows the API starts and the pages customers see.
	Flows FlowConfig
	// WebhookAllowPrivate lets webhook subscriptions name loopback, private and link-local
	// addresses (closed networks and tests).
	WebhookAllowPrivate bool
	// RateLimits bound the public routes and failed sign-ins (zero fields take the defaults).
	RateLimits RateLimits
	// Connection is the partner's App+User connection to Partner Center, which a global admin
	// makes from the dashboard; nil serves no connection pages.
	Connection *connection.Manager
	// Doctor runs the connection checks (connection.Doctor with this deployment's Partner
	// Center client and settings) for the connection page and POST /v1/connection/doctor; nil
	// answers that they are not available in this process.
	Doctor func(ctx context.Context) []connection.Check
	// StaffSignIn signs the partner's staff in to the dashboard with Microsoft; nil offers the
	// API key sign-in alone.
	StaffSignIn StaffSignIn
}

// Server holds the API's dependencies; its Handler serves every route.
type Server struct {
	store      *models.Store
	temporal   client.Client
	codec      *codec.Codec
	logger     *slog.Logger
	signingKey []byte
	origins    []string
	flows      FlowConfig
	links      *links.Signer
	engine     *gin.Engine
	// eventRoutes takes each Partner Center event to the flow that waits for it.
	eventRoutes map[string]eventRoute
	// sections are the dashboard's navigation, the overview first.
	sections []navLink
	// webhookSecrets seals the signing secrets of partners' webhook subscriptions.
	webhookSecrets      *notify.SecretBox
	webhookAllowPrivate bool
	// credentials opens new tenants' first passwords, revealed once.
	credentials *notify.SecretBox
	// httpsPublic is true when the public URL is https: cookies are Secure and HSTS is sent.
	httpsPublic bool
	// The rate limiters: per client address and per customer link on the public routes, and
	// failed sign-ins per client address.
	perClient, perToken, authFailures *limiters
	// connection is the partner's App+User connection to Partner Center (nil: none here);
	// doctor checks it; connectBox seals the cookie of a sign-in in progress.
	connection *connection.Manager
	doctor     func(ctx context.Context) []connection.Check
	connectBox *notify.SecretBox
	// access is every route's rule, by "METHOD path", recorded as Server.handle registers it.
	access map[string]Access
	// closers close each flow kind's flows whose workflow never started (verifyStarted).
	closers map[string]closeUnstarted
	// products is Partner Center's catalog, kept per country (nil: no Partner Center here).
	products *productCatalog
	// staffSignIn signs staff in with Microsoft (nil: API keys only).
	staffSignIn StaffSignIn
}

// New builds the router.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		store: cfg.Store, temporal: cfg.Temporal, codec: cfg.Codec, logger: cfg.Logger,
		signingKey: cfg.SigningKey, origins: cfg.CodecOrigins,
		flows: cfg.Flows.withDefaults(), links: links.NewSigner(cfg.SigningKey), eventRoutes: map[string]eventRoute{},
		sections:       []navLink{{Key: "overview", Label: "Overview", Path: "/overview"}},
		webhookSecrets: notify.NewSecretBox(cfg.SigningKey), webhookAllowPrivate: cfg.WebhookAllowPrivate,
		credentials: notify.NewCredentialBox(cfg.SigningKey),
		httpsPublic: strings.HasPrefix(strings.ToLower(cfg.Flows.BaseURL), "https://"),
		connection:  cfg.Connection, doctor: cfg.Doctor, connectBox: newConnectBox(cfg.SigningKey),
		access: map[string]Access{}, closers: map[string]closeUnstarted{}, staffSignIn: cfg.StaffSignIn,
	}
	if cfg.Flows.Onboarding.Products != nil {
		s.products = newProductCatalog(cfg.Flows.Onboarding.Products, s.flows.Now)
	}
	limits := cfg.RateLimits.withDefaults()
	s.perClient = newLimiters(limits.PerClient, limits.MaxTracked)
	s.perToken = newLimiters(limits.PerToken, limits.MaxTracked)
	s.authFailures = newLimiters(limits.AuthFailures, limits.MaxTracked)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		cfg.Logger.Error("invalid trusted proxies; trusting none", "error", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(
		requestID(),
		accessLog(cfg.Logger),
		recoverProblem(),
		httpMetrics(cfg.Registry),
		s.hsts,
		limitBody(cfg.MaxBodyBytes),
	)
	r.NoRoute(func(c *gin.Context) {
		p := problemNotFound()
		p.Detail = "no route for " + c.Request.Method + " " + c.Request.URL.Path
		writeProblem(c, p)
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, NewProblem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			c.Request.Method+" is not allowed on "+c.Request.URL.Path))
	})

	root := &r.RouterGroup
	s.handle(root, "GET", "/healthz", publicRule, s.healthz)
	s.handle(root, "GET", "/readyz", publicRule, s.readyz)
	// Metrics name routes and flows' counts: on the API's listener they need a key (`api`
	// also serves them on the private PARTNERFLOW_METRICS_ADDR listener for Prometheus).
	s.handle(root, "GET", "/metrics", keyRule(metricsRoles...), s.authenticate, gin.WrapH(MetricsHandler(cfg.Registry)))
	s.handle(root, "GET", "/openapi.json", publicRule, serveOpenAPI)

	s.handle(root, "GET", "/login", publicRule, s.limitClient, s.showLogin)
	s.handle(root, "POST", "/login", publicRule, s.limitClient, s.login)
	s.handle(root, "POST", "/logout", publicRule, s.logout)
	s.handle(root, "GET", "/login/microsoft", publicRule, s.limitClient, s.startStaffSignIn)
	s.handle(root, "GET", SignInPath, publicRule, s.limitClient, s.finishStaffSignIn)

	codecRoutes := r.Group("/codec", s.codecCORS)
	s.handle(codecRoutes, "OPTIONS", "/:operation", publicRule, func(c *gin.Context) { c.Status(http.StatusNoContent) })
	s.handle(codecRoutes, "POST", "/:operation", keyRule(codecRoles...), s.authenticate, s.serveCodec)

	v1 := r.Group("/v1", s.authenticate, s.guardV1)
	s.handle(v1, "GET", "/api-keys", keyRule(globalAdmin...), s.listAPIKeys)
	s.handle(v1, "POST", "/api-keys", keyRule(globalAdmin...), s.createAPIKey)
	s.handle(v1, "DELETE", "/api-keys/:id", keyRule(globalAdmin...), s.revokeAPIKey)
	s.webhookRoutes(v1)
	s.notificationRoutes(v1)
	s.handle(root, "POST", "/webhooks/partner-center", signatureRule, s.partnerCenterWebhook)
	s.registerFlows(root, v1)
	s.directoryRoutes(root, v1)
	s.overviewRoutes(root)
	s.connectionRoutes(root, v1)

	s.engine = r
	return s
}

// Handler serves the API.
func (s *Server) Handler() http.Handler { return s.engine }

// metricsRoles may read /metrics on the API's listener.
var metricsRoles = []models.Role{models.RoleGlobalAdmin, models.RoleAdminAgent}

// MetricsHandler serves the registry in Prometheus' format, for the private metrics listener
// and (behind a role) the API.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// Routes lists the registered method and path pairs, paths in gin's `:param` form.
func (s *Server) Routes() [][2]string {
	var out [][2]string
	for _, r := range s.engine.Routes() {
		out = append(out, [2]string{r.Method, r.Path})
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if a[1] != b[1] {
			if a[1] < b[1] {
				return -1
			}
			return 1
		}
		if a[0] < b[0] {
			return -1
		}
		return 1
	})
	return out
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz reports ready only when both the app database and Temporal answer. Anyone may ask,
// so it says which dependency fails but not why: the error (addresses, DNS, driver messages)
// goes to the log with the request's ID.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	checks := gin.H{"database": "ok", "temporal": "ok"}
	ready := true
	failed := func(name string, err error) {
		checks[name], ready = "unavailable", false
		s.logger.ErrorContext(
			ctx,
			"readiness check failed",
			"check", name,
			"error", err,
			"request_id", c.GetString(ctxRequestID),
		)
	}
	if err := s.store.Ping(ctx); err != nil {
		failed("database", err)
	}
	if s.temporal == nil {
		failed("temporal", errors.New("not configured"))
	} else if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		failed("temporal", err)
	}
	if !ready {
		p := problemUnavailable("a dependency does not answer; the log has the cause under this request's ID")
		c.Header("Content-Type", "application/problem+json")
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{
			"type": p.Type, "title": p.Title, "status": p.Status, "detail": p.Detail, "checks": checks,
			"requestId": c.GetString(ctxRequestID),
		})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
}

// RoutedEvents lists the Partner Center events the webhook endpoint routes to a flow, sorted.
func (s *Server) RoutedEvents() []string {
	out := make([]string, 0, len(s.eventRoutes))
	for name := range s.eventRoutes {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// AccessKind is how a route decides who may call it.
type AccessKind string

// The kinds of access a route may have.
const (
	// AccessPublic routes answer anyone (health, sign-in, the OpenAPI document).
	AccessPublic AccessKind = "public"
	// AccessKey routes need an API key (bearer, or a dashboard session) holding one of Roles.
	AccessKey AccessKind = "key"
	// AccessSession routes are dashboard pages: a signed-in operator, holding one of Roles when
	// Roles are given; anyone else is sent to sign in.
	AccessSession AccessKind = "session"
	// AccessLink routes are customer pages opened with a signed link token, rate-limited.
	AccessLink AccessKind = "link"
	// AccessSignature routes take events signed by Partner Center.
	AccessSignature AccessKind = "signature"
)

// Access is one route's rule.
type Access struct {
	Kind  AccessKind
	Roles []models.Role
}

// The role sets of the route rules, after Partner Center's "Appropriate roles" (README, Roles,
// has the table with its sources; TestRolesAreTheREADMEsTable holds the two together). A global
// admin holds every role.
var (
	anyRole = []models.Role{models.RoleAdminAgent, models.RoleSalesAgent, models.RoleGlobalAdmin}
	// adminRoles manage delegated admin access (GDAP) and partnerflow's own operation.
	adminRoles = []models.Role{models.RoleAdminAgent, models.RoleGlobalAdmin}
	// agentRoles manage customers: ask for a reseller relationship (seed 004), add a customer, attest
	// the MCA, order; requests for admin access need an admin agent on top (requireAdminAccessRole).
	agentRoles = []models.Role{models.RoleAdminAgent, models.RoleSalesAgent, models.RoleGlobalAdmin}
	// partnershipRoles work with indirect resellers: ask, verify, remove a partnership (seed 002).
	partnershipRoles = []models.Role{models.RoleSalesAgent, models.RoleGlobalAdmin}
	globalAdmin      = []models.Role{models.RoleGlobalAdmin}
)
