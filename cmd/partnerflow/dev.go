package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerflow/partnerflow/config"
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

func (a *app) runDev(ctx context.Context) error {
	cfg := &a.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lines []string
	simulated, temporalUI := false, ""
	if !cfg.PollIntervalSet {
		cfg.PollInterval = 30 * time.Second // dev: notice consents quickly even without webhooks
	}
	if cfg.DefaultAssignments == "" {
		cfg.DefaultAssignments = devAssignments()
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
		if cfg.PartnerCenterTenantID == "" {
			cfg.PartnerCenterTenantID = sim.DefaultHomePartner.TenantID
		}
		if cfg.PartnerName == config.DefaultPartnerName {
			// Mails and pages name the simulator's partner, as they would name yours.
			cfg.PartnerName = sim.DefaultHomePartner.CompanyName
		}
		if cfg.ResellerPartnershipURL == "" {
			// Resellers authorize the provider on the simulator's stand-in for Partner Center.
			cfg.ResellerPartnershipURL = s.ResellerPartnershipURL(cfg.PartnerCenterTenantID)
		}
		if cfg.USGovPortalURL == "" {
			// The simulator's invitation page stands in for both admin portals.
			cfg.USGovPortalURL = cfg.SimPublicURL
			if cfg.USGovPortalURL == "" {
				cfg.USGovPortalURL = "http://" + addr
			}
		}
		lines = append(lines, "Partner Center simulator  http://"+addr+"  (demo tenants: see README)")
	}

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
	key, keyNote, err := devKey(cfg.DataDir, cfg.BootstrapKey)
	if err != nil {
		return err
	}
	if err := a.provisionBootstrapKey(ctx, e.store, key); err != nil {
		return err
	}

	acts, pc, err := a.newActivities(e.store, e.signingKey)
	if err != nil {
		return err
	}
	w := worker.New(e.temporal, cfg.TaskQueue, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	defer a.startWebhooks(ctx, e)()

	server, err := a.newAPI(e, temporalUI)
	if err != nil {
		return err
	}
	addr, done, err := serveHTTP(ctx, cfg.HTTPAddr, server.Handler(), cfg.ShutdownTimeout)
	if err != nil {
		return err
	}
	if simulated {
		// The embedded simulator delivers Partner Center events to this process.
		if err := registerWebhook(ctx, pc, "http://"+addr.String()+"/webhooks/partner-center"); err != nil {
			return err
		}
	}
	lines = append([]string{
		"partnerflow dev is running (Ctrl-C stops it; starting it again resumes every flow)",
		"API and dashboard         http://" + addr.String() + "  (OpenAPI at /openapi.json, metrics at /metrics)",
		"API key (all roles)       " + keyNote,
		"Data dir                  " + cfg.DataDir,
	}, lines...)
	fmt.Println(strings.Join(lines, "\n"))

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

// devKey returns the bootstrap key for dev: PARTNERFLOW_BOOTSTRAP_KEY when set, otherwise one
// generated on first start and kept in the data dir so every restart accepts the same key.
func devKey(dataDir, configured string) (key, note string, err error) {
	if configured != "" {
		return configured, "from PARTNERFLOW_BOOTSTRAP_KEY", nil
	}
	path := filepath.Join(dataDir, "dev-api-key")
	if b, err := os.ReadFile(path); err == nil {
		k := strings.TrimSpace(string(b))
		return k, k + "  (kept in " + path + ")", nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	k := "dev-" + base64.RawURLEncoding.EncodeToString(b)
	if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("keep the dev API key: %w", err)
	}
	return k, k + "  (kept in " + path + ")", nil
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
