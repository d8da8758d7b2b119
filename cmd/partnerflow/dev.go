package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerflow/partnerflow/devserver"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/worker"
)

func devCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: embedded Temporal and Web UI, simulator, worker and API",
		Long: `dev starts an embedded Temporal server persisted in SQLite under the data dir, the Temporal
Web UI, the Partner Center simulator (unless PARTNERCENTER_URL is set), the app database (SQLite
in the data dir unless DATABASE_URL is set), the worker and the API. Restarting it resumes every
open flow where it was.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runDev(cmd.Context()) },
	}
}

// devMemoryLimit is dev's soft limit on the memory the Go runtime holds (runtime/debug): it
// collects garbage more often near it rather than grow. SQLite's page caches are outside it.
const devMemoryLimit = 800 << 20

func (a *app) runDev(ctx context.Context) error {
	cfg := &a.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lines []string
	simulated, temporalUI := false, ""
	if !cfg.Wait.PollIntervalSet {
		cfg.Wait.PollInterval = 30 * time.Second // dev: notice consents quickly even without webhooks
	}
	if !cfg.EstateSyncEverySet {
		// dev: the simulated estate shows in the directory soon, and the sync tells waiting
		// invitations as often as they would have polled.
		cfg.EstateSyncEvery = 30 * time.Second
	}
	if cfg.Invitation.DefaultAssignments == "" {
		cfg.Invitation.DefaultAssignments = devAssignments()
	}
	if !cfg.MemoryLimitSet {
		// Without a limit the Go heap grows to twice what is live between collections; with
		// 10,000 flows waiting that took the process past 1 GiB. GOMEMLIMIT overrides this.
		debug.SetMemoryLimit(devMemoryLimit)
	}

	// dev migrates the app database itself; the production commands leave that to `migrate`.
	store, err := models.Open(cfg.AppDatabase())
	if err != nil {
		return err
	}
	_, err = store.Migrate(ctx)
	_ = store.Close()
	if err != nil {
		return err
	}

	if cfg.PartnerCenterURL == "" {
		s, addr, _, err := startSim(ctx, a, true)
		if err != nil {
			return err
		}
		defer s.Close()
		cfg.PartnerCenterURL, cfg.GraphURL, simulated = "http://"+addr, "http://"+addr, true
		if cfg.PartnerCenterClientID == "" {
			// The simulator is Entra ID too; partnerflow signs in as its demo app registration.
			cfg.PartnerCenterAuthorityURL, cfg.PartnerCenterClientID, cfg.PartnerCenterClientSecret =
				"http://"+addr, sim.DemoApp.ClientID, sim.DemoApp.ClientSecret
		}
		if cfg.PartnerCenterTenantID == "" {
			cfg.PartnerCenterTenantID = sim.DefaultHomePartner.TenantID
		}
		if cfg.Reseller.PartnershipURL == "" {
			// Resellers authorize the provider on the simulator's stand-in for Partner Center.
			cfg.Reseller.PartnershipURL = s.ResellerPartnershipURL(cfg.PartnerCenterTenantID)
		}
		if cfg.Invitation.USGovPortalURL == "" {
			// The simulator's invitation page stands in for both admin portals.
			cfg.Invitation.USGovPortalURL = cfg.SimPublicURL
			if cfg.Invitation.USGovPortalURL == "" {
				cfg.Invitation.USGovPortalURL = "http://" + addr
			}
		}
		lines = append(lines, "Partner Center simulator  http://"+addr+"  (demo tenants: see README)")
	}

	// Before the embedded server starts: its system workers make the process's workflow cache,
	// which keeps the size it was made with.
	worker.SetWorkflowCacheSize(cfg.WorkflowCacheSize)
	temporalAddress := cfg.TemporalAddress
	if temporalAddress == "" {
		ts, err := devserver.Start(ctx, devserver.Config{
			DataDir:       cfg.DataDir,
			FrontendPort:  cfg.TemporalPort,
			UIPort:        cfg.UIPort,
			Namespace:     cfg.TemporalNamespace,
			Retention:     30 * 24 * time.Hour,
			CodecEndpoint: cfg.BaseURL() + "/codec",
			Logger:        a.logger.With("component", "temporal-server"),
		})
		if err != nil {
			return fmt.Errorf("start embedded Temporal: %w", err)
		}
		defer func() { _ = ts.Stop() }()
		temporalAddress = ts.FrontendHostPort()
		lines = append(lines, "Temporal frontend (gRPC)  "+temporalAddress)
		if ui := ts.UIURL(); ui != "" {
			temporalUI = ui
			lines = append(lines, "Temporal Web UI           "+ui+"  (sign in at the dashboard to decrypt payloads)")
			cfg.UIOrigins = append(cfg.UIOrigins, ui)
		}
	}

	e, err := a.connect(ctx, temporalAddress, true)
	if err != nil {
		return err
	}
	defer e.Close()
	if err := worker.EnsureSearchAttributes(ctx, e.temporal, cfg.TemporalNamespace, a.logger); err != nil {
		return err
	}
	_, keyNote, err := a.provisionDevKey(ctx, e.store)
	if err != nil {
		return err
	}

	if simulated {
		line, err := a.connectSimulator(ctx, e)
		if err != nil {
			return err
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	acts, pc, err := a.newActivities(ctx, e.store, e.signingKey)
	if err != nil {
		return err
	}
	w := worker.New(e.temporal, cfg.TaskQueue, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	defer a.startWebhooks(ctx, e)()
	if err := startEstateSync(ctx, e.temporal, *cfg); err != nil {
		return err
	}

	server, err := a.newAPI(e, temporalUI)
	if err != nil {
		return err
	}
	addr, done, err := serveHTTP(ctx, cfg.HTTPAddr, server.Handler(), cfg.ShutdownTimeout)
	if err != nil {
		return err
	}
	go server.DispatchCommands(ctx)
	if simulated {
		// The embedded simulator delivers Partner Center events to this process.
		if err := registerWebhook(ctx, pc, "http://"+addr.String()+"/webhooks/partner-center"); err != nil {
			return err
		}
	}
	lines = append([]string{
		"partnerflow dev is running (Ctrl-C stops it; starting it again resumes every flow)",
		"API and dashboard         http://" + addr.String() +
			"  (OpenAPI at /openapi.json, metrics at /metrics with the API key)",
		"API key (all roles)       " + keyNote,
		"Data dir                  " + cfg.DataDir,
	}, lines...)
	banner := a.devBanner
	if banner == nil {
		banner = os.Stdout
	}
	fmt.Fprintln(banner, strings.Join(lines, "\n"))

	select {
	case <-ctx.Done():
	case err := <-done:
		if err != nil {
			return err
		}
	}
	a.logger.Info("shutting down")
	return nil
}

// connectSimulator makes the Partner Center connection at dev's first start, as a global admin
// would from the dashboard: the simulator's partner admin signs in with MFA (sim.SignIn stands
// in for the clicks). A connection made before, or lost since, is left as it is: losing it is
// something dev shows, not hides.
func (a *app) connectSimulator(ctx context.Context, e *engine) (string, error) {
	if _, err := e.store.Connection(ctx, a.cfg.PartnerCenterTenantID); !errors.Is(err, models.ErrNotFound) {
		return "", err
	}
	_, conn, err := a.partnerCenter(e.store, e.signingKey)
	if err != nil {
		return "", err
	}
	upn := sim.DefaultHomePartner.AdminUPN()
	hc := &http.Client{Timeout: 30 * time.Second}
	row, err := conn.ConnectWith(ctx, a.cfg.BaseURL()+"/auth/callback", func(authURL string) (*url.URL, error) {
		return sim.SignIn(hc, authURL, upn, true)
	})
	if err != nil {
		return "", fmt.Errorf("connect Partner Center at the simulator: %w", err)
	}
	return "Partner Center connection " + row.UPN +
		"  (connected at first start: the simulator's partner admin, with MFA)", nil
}

// provisionDevKey provisions dev's bootstrap key: PARTNERFLOW_BOOTSTRAP_KEY when set, otherwise
// one generated on first start and kept in the data dir so every restart accepts the same key.
// A kept key that was revoked (or is too short, from an older partnerflow) is never brought
// back: dev makes a new one and says so loudly.
func (a *app) provisionDevKey(ctx context.Context, store *models.Store) (key, note string, err error) {
	if a.cfg.BootstrapKey != "" {
		if err := a.provisionBootstrapKey(ctx, store, a.cfg.BootstrapKey); err != nil {
			return "", "", err
		}
		return a.cfg.BootstrapKey, "from PARTNERFLOW_BOOTSTRAP_KEY", nil
	}
	path := filepath.Join(a.cfg.DataDir, "dev-api-key")
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	key = strings.TrimSpace(string(b))
	if key != "" {
		err := store.EnsureAPIKey(ctx, "bootstrap", key, models.AllRoles...)
		switch {
		case err == nil:
			return key, key + "  (kept in " + path + ")", nil
		case errors.Is(err, models.ErrKeyRevoked), errors.Is(err, models.ErrWeakKey):
			a.logger.Warn(
				"THE DEV API KEY KEPT IN THE DATA DIR WAS REVOKED OR IS TOO SHORT: "+
					"IT STAYS UNUSABLE AND A NEW ONE WAS MADE",
				"path", path,
				"reason", err,
			)
			fmt.Fprintf(
				os.Stderr,
				"\n*** The dev API key in %s was revoked or is too short (%v).\n"+
					"*** It stays unusable; a new key was made and kept there.\n\n",
				path,
				err,
			)
		default:
			return "", "", fmt.Errorf("provision the dev API key: %w", err)
		}
	}
	buf := make([]byte, models.MinKeyBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", "", err
	}
	key = base64.RawURLEncoding.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("keep the dev API key: %w", err)
	}
	if err := store.EnsureAPIKey(ctx, "bootstrap", key, models.AllRoles...); err != nil {
		return "", "", fmt.Errorf("provision the dev API key: %w", err)
	}
	return key, key + "  (kept in " + path + ")", nil
}

// devAssignments gives dev a default access assignment: one demo security group holding every
// requested role.
func devAssignments() string {
	ids := make([]string, len(partnercenter.EntraRoles))
	for i, r := range partnercenter.EntraRoles {
		ids[i] = `"` + r.ID + `"`
	}
	return `[{"securityGroupId":"0b5a4f3c-1d2e-4f60-8a7b-9c0d1e2f3a4b","roleIds":[` + strings.Join(ids, ",") + `]}]`
}
