package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/metrics"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/webhooks"
	"github.com/partnerflow/partnerflow/worker"
)

// engine is a connected set of the parts the api and worker commands share.
type engine struct {
	store      *models.Store
	codec      *codec.Codec
	signingKey []byte
	registry   *prometheus.Registry
	temporal   client.Client
	closers    []io.Closer
}

func (e *engine) Close() {
	if e.temporal != nil {
		e.temporal.Close()
	}
	for i := len(e.closers) - 1; i >= 0; i-- {
		_ = e.closers[i].Close()
	}
}

// connect opens the store (checking its schema), loads the keys and dials Temporal.
func (a *app) connect(ctx context.Context, temporalAddress string, generateKeys bool) (*engine, error) {
	e := &engine{registry: metrics.NewRegistry()}
	var err error
	if e.codec, e.signingKey, err = loadKeys(a.cfg, generateKeys); err != nil {
		return nil, err
	}
	if e.store, err = openStore(ctx, a.cfg); err != nil {
		return nil, err
	}
	e.closers = append(e.closers, e.store)
	tc, closer, err := dialTemporal(
		ctx,
		a.cfg,
		temporalAddress,
		e.codec,
		e.registry,
		sdklog.NewStructuredLogger(a.logger.With("component", "temporal-sdk")),
	)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.temporal = tc
	e.closers = append(e.closers, closer)
	return e, nil
}

func (a *app) provisionBootstrapKey(ctx context.Context, store *models.Store, key string) error {
	if key == "" {
		return nil
	}
	err := store.EnsureAPIKey(ctx, "bootstrap", key, models.AllRoles...)
	if errors.Is(err, models.ErrKeyRevoked) {
		// A revoked key stays revoked: the process starts, the key does not work.
		a.logger.Error("PARTNERFLOW_BOOTSTRAP_KEY was revoked and stays revoked: set a new key or unset it")
		return nil
	}
	if err != nil {
		return fmt.Errorf("provision PARTNERFLOW_BOOTSTRAP_KEY: %w", err)
	}
	return nil
}

func (a *app) newAPI(e *engine, temporalUI string) (*api.Server, error) {
	flows, err := a.flowConfig(e, temporalUI)
	if err != nil {
		return nil, err
	}
	pc, conn, err := a.partnerCenter(e.store, e.signingKey)
	if err != nil {
		return nil, err
	}
	// Staff sign in with Microsoft through the app the Partner Center connection uses.
	var staff api.StaffSignIn
	if conn != nil && conn.Entra() != nil {
		staff = conn.Entra()
	}
	return api.New(api.Config{
		Store: e.store, Temporal: e.temporal, Codec: e.codec, Registry: e.registry, Logger: a.logger,
		SigningKey: e.signingKey, MaxBodyBytes: a.cfg.MaxBodyBytes, CodecOrigins: a.cfg.UIOrigins,
		TrustedProxies: a.cfg.TrustedProxies, WebhookAllowPrivate: a.cfg.WebhookAllowPrivate,
		Flows: flows, Connection: conn, Doctor: a.doctor(pc, conn), StaffSignIn: staff,
	}), nil
}

// startWebhooks delivers flow events to partners' webhook subscriptions in the background;
// stop ends the dispatcher and waits for it, so it finishes before the store closes.
func (a *app) startWebhooks(ctx context.Context, e *engine) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	d := &webhooks.Dispatcher{
		Store: e.store, Sender: notify.NewWebhookSender(a.cfg.WebhookAllowPrivate),
		Secrets: notify.NewSecretBox(e.signingKey), Logger: a.logger.With("component", "webhooks"),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// newActivities builds the activities with their Partner Center client, and starts tending the
// Partner Center connection while ctx lasts: renewing it (an idle one would lapse after 90 days)
// and warning the partner when it would lapse soon anyway.
func (a *app) newActivities(
	ctx context.Context,
	store *models.Store,
	signingKey []byte,
) (*activities.Activities, partnercenter.Client, error) {
	pc, conn, err := a.partnerCenter(store, signingKey)
	if err != nil {
		return nil, nil, err
	}
	mailer, err := notify.NewMailer(a.cfg.SMTPURL, a.cfg.MailFrom)
	if err != nil {
		return nil, nil, err
	}
	acts := activities.New(activities.Config{
		Store:           store,
		PartnerCenter:   pc,
		Mailer:          mailer,
		Logger:          a.logger,
		Signer:          links.NewSigner(signingKey),
		BaseURL:         a.cfg.BaseURL(),
		PartnerName:     a.cfg.PartnerName,
		DefaultLanguage: a.cfg.DefaultLanguage,
		Credentials:     notify.NewCredentialBox(signingKey),
		Outbox:          notify.NewOutboxBox(signingKey),
		PartnerID:       a.cfg.PartnerCenterTenantID,
		ContactEmail:    a.cfg.ContactEmail,
	})
	go conn.KeepAlive(ctx, 6*time.Hour, activities.LapseWarner(acts), a.logger.With("component", "connection"))
	go forgetLapsedCredentials(ctx, store, time.Hour, a.logger)
	return acts, pc, nil
}

// forgetLapsedCredentials deletes, every interval while ctx lasts, the first admin passwords
// nobody revealed within models.CredentialsRevealWindow.
func forgetLapsedCredentials(ctx context.Context, store *models.Store, interval time.Duration, logger *slog.Logger) {
	for {
		if n, err := store.ForgetLapsedCredentials(ctx, time.Now()); err != nil && ctx.Err() == nil {
			logger.Warn("delete lapsed credentials", "error", err)
		} else if n > 0 {
			logger.Info("deleted first admin passwords nobody revealed in time", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func apiCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API against TEMPORAL_ADDRESS and DATABASE_URL",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			e, err := a.connect(ctx, requireTemporal(a), false)
			if err != nil {
				return err
			}
			defer e.Close()
			if err := a.provisionBootstrapKey(ctx, e.store, a.cfg.BootstrapKey); err != nil {
				return err
			}
			server, err := a.newAPI(e, a.cfg.TemporalUIURL)
			if err != nil {
				return err
			}
			addr, done, err := serveHTTP(ctx, a.cfg.HTTPAddr, server.Handler(), a.cfg.ShutdownTimeout)
			if err != nil {
				return err
			}
			go server.DispatchCommands(ctx)
			a.logger.Info("api listening", "addr", addr.String())
			if a.cfg.APIMetricsAddr != "" {
				maddr, _, err := serveHTTP(ctx, a.cfg.APIMetricsAddr, metricsMux(e.registry), a.cfg.ShutdownTimeout)
				if err != nil {
					return err
				}
				a.logger.Info("api metrics listening", "addr", maddr.String())
			}
			return <-done
		},
	}
}

func requireTemporal(a *app) string {
	if a.cfg.TemporalAddress == "" {
		return "127.0.0.1:7233"
	}
	return a.cfg.TemporalAddress
}

func workerCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run the workflows and activities against TEMPORAL_ADDRESS and DATABASE_URL",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			e, err := a.connect(ctx, requireTemporal(a), false)
			if err != nil {
				return err
			}
			defer e.Close()
			if err := worker.EnsureSearchAttributes(ctx, e.temporal, a.cfg.TemporalNamespace, a.logger); err != nil {
				// A hosted namespace (Temporal Cloud) manages search attributes outside the frontend.
				a.logger.Warn("could not register search attributes; add them to the namespace by hand", "error", err)
			}
			acts, pc, err := a.newActivities(ctx, e.store, e.signingKey)
			if err != nil {
				return err
			}
			if a.cfg.WebhookURL != "" {
				if err := registerWebhook(ctx, pc, a.cfg.WebhookURL); err != nil {
					return err
				}
			}
			mux := http.NewServeMux()
			mux.Handle("/metrics", promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{}))
			mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
			addr, _, err := serveHTTP(ctx, a.cfg.MetricsAddr, mux, a.cfg.ShutdownTimeout)
			if err != nil {
				return err
			}
			a.logger.Info("worker metrics listening", "addr", addr.String(), "task_queue", a.cfg.TaskQueue)
			defer a.startWebhooks(ctx, e)()
			if err := startEstateSync(ctx, e.temporal, a.cfg); err != nil {
				return err
			}
			worker.SetWorkflowCacheSize(a.cfg.WorkflowCacheSize)
			w := worker.New(e.temporal, a.cfg.TaskQueue, acts)
			return w.Run(interruptOn(ctx))
		},
	}
}

// interruptOn adapts a context to the worker's interrupt channel.
func interruptOn(ctx context.Context) <-chan any {
	ch := make(chan any)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}

func migrateCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the app database's schema migrations (DATABASE_URL, or SQLite in the data dir)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.cfg.DatabaseURL == "" {
				if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
					return err
				}
			}
			store, err := models.Open(a.cfg.AppDatabase())
			if err != nil {
				return err
			}
			defer store.Close()
			v, err := store.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Printf("database schema at version %d (%s)\n", v, store.Dialect)
			return nil
		},
	}
}

func keysCommand(a *app) *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage API keys"}
	var name string
	var roles []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Mint an API key; its plaintext is printed once",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(roles) == 0 {
				return errors.New("--role is required (admin-agent, sales-agent, global-admin; repeatable)")
			}
			parsed := make([]models.Role, 0, len(roles))
			for _, r := range roles {
				role, ok := models.ParseRole(r)
				if !ok {
					return fmt.Errorf("unknown role %q: use admin-agent, sales-agent or global-admin", r)
				}
				parsed = append(parsed, role)
			}
			store, err := openStore(cmd.Context(), a.cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			plaintext, key, err := store.CreateAPIKey(cmd.Context(), name, parsed...)
			if err != nil {
				return err
			}
			fmt.Fprintf(
				os.Stderr,
				"created API key %s (%s) with roles %s; store it now, it is not shown again\n",
				key.ID,
				key.Name,
				key.Roles,
			)
			fmt.Println(plaintext)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the key (required)")
	create.Flags().StringSliceVar(
		&roles,
		"role",
		nil,
		"role to grant: admin-agent, sales-agent, global-admin (repeatable)",
	)
	_ = create.MarkFlagRequired("name")
	keys.AddCommand(create)
	return keys
}

func simCommand(a *app) *cobra.Command {
	var seed bool
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve the Partner Center and Microsoft Graph simulator on PARTNERFLOW_SIM_ADDR",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, addr, done, err := startSim(cmd.Context(), a, seed)
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Printf("Partner Center simulator on http://%s (PARTNERCENTER_URL and GRAPH_URL)\n", addr)
			return <-done
		},
	}
	cmd.Flags().BoolVar(&seed, "seed", true, "seed the demo tenants and resellers")
	return cmd
}

// startSim serves the simulator, persisted in the data dir.
func startSim(ctx context.Context, a *app, seed bool) (*sim.Server, string, <-chan error, error) {
	if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
		return nil, "", nil, err
	}
	publicURL := a.cfg.SimPublicURL
	if publicURL == "" {
		publicURL = "http://" + a.cfg.SimAddr
	}
	s, err := sim.New(sim.Config{
		DataFile:        filepath.Join(a.cfg.DataDir, "simulator.json"),
		PublicURL:       publicURL,
		ActivationDelay: a.cfg.SimActivationDelay,
		Logger:          a.logger.With("component", "simulator"),
	})
	if err != nil {
		return nil, "", nil, err
	}
	if seed {
		if err := s.SeedDemo(); err != nil {
			s.Close()
			return nil, "", nil, err
		}
	}
	addr, done, err := serveHTTP(ctx, a.cfg.SimAddr, s.Handler(), a.cfg.ShutdownTimeout)
	if err != nil {
		s.Close()
		return nil, "", nil, err
	}
	return s, addr.String(), done, nil
}
