// Package api is partnerflow's HTTP interface: the JSON API that starts and steers flows,
// authentication by API key with Partner Center roles, problem+json errors, health, metrics,
// the OpenAPI document, the remote codec for the Temporal Web UI, and the customer pages.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/partnerflow/partnerflow/codec"
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
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		cfg.Logger.Error("invalid trusted proxies; trusting none", "error", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(requestID(), accessLog(cfg.Logger), recoverProblem(), httpMetrics(cfg.Registry), limitBody(cfg.MaxBodyBytes))
	r.NoRoute(func(c *gin.Context) {
		p := problemNotFound()
		p.Detail = "no route for " + c.Request.Method + " " + c.Request.URL.Path
		writeProblem(c, p)
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, NewProblem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			c.Request.Method+" is not allowed on "+c.Request.URL.Path))
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{Registry: cfg.Registry})))
	r.GET("/openapi.json", serveOpenAPI)

	r.GET("/login", s.showLogin)
	r.POST("/login", s.login)
	r.POST("/logout", s.logout)

	codecRoutes := r.Group("/codec", s.codecCORS)
	codecRoutes.OPTIONS("/:operation", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	codecRoutes.POST("/:operation", s.authenticate, s.serveCodec)

	v1 := r.Group("/v1", s.authenticate)
	v1.GET("/api-keys", requireRole(models.RoleGlobalAdmin), s.listAPIKeys)
	v1.POST("/api-keys", requireRole(models.RoleGlobalAdmin), s.createAPIKey)
	v1.DELETE("/api-keys/:id", requireRole(models.RoleGlobalAdmin), s.revokeAPIKey)
	s.invitationRoutes(v1)
	s.webhookRoutes(v1)
	s.resellerRoutes(v1)
	s.removalRoutes(v1)
	s.customerRoutes(v1)
	s.notificationRoutes(v1)
	s.routeEvents(s.invitationEvents())

	r.POST("/webhooks/partner-center", s.partnerCenterWebhook)
	r.GET("/agreement/:token", s.showAgreementPage)
	r.POST("/agreement/:token", s.signAgreement)
	r.GET("/partner/:token", s.showPartnershipPage)
	r.POST("/partner/:token", s.acknowledgePartnership)
	r.GET("/accept/:token", s.showAcceptPage)
	r.POST("/accept/:token", s.acknowledgeAcceptance)
	s.invitationPages(r)
	s.resellerPages(r)
	s.removalPages(r)
	s.customerPages(r)
	s.overviewRoutes(r)

	s.engine = r
	return s
}

// Handler serves the API.
func (s *Server) Handler() http.Handler { return s.engine }

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

// readyz reports ready only when both the app database and Temporal answer.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	checks := gin.H{"database": "ok", "temporal": "ok"}
	ready := true
	if err := s.store.Ping(ctx); err != nil {
		checks["database"], ready = err.Error(), false
	}
	if s.temporal == nil {
		checks["temporal"], ready = "not configured", false
	} else if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ready = err.Error(), false
	}
	if !ready {
		p := problemUnavailable("a dependency does not answer")
		c.Set("checks", checks)
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
