package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/workflows"
)

// doctorCommand checks what partnerflow needs from Microsoft and from its configuration: in this
// process from the environment, or by asking a running deployment's API.
func doctorCommand(a *app) *cobra.Command {
	var apiURL, apiKey string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the Partner Center connection, the app's permissions, the webhook registration and mail",
		Long: "doctor runs read-only checks: app-only tokens for Partner Center and Graph, the App+User connection " +
			"with MFA, the partner profile, one call per credential class, Graph's GDAP permission, the webhook " +
			"registration and mail. Without --api it runs them in this process from the environment (as `worker` " +
			"would, with DATABASE_URL for the connection); with --api and --api-key (or PARTNERFLOW_API_KEY) it asks " +
			"that deployment (POST /v1/connection/doctor, a global-admin key). It exits non-zero when a check fails.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var checks []connection.Check
			var err error
			if apiURL != "" {
				if apiKey == "" {
					apiKey = a.cfg.APIKey
				}
				checks, err = remoteDoctor(ctx, apiURL, apiKey)
			} else {
				checks, err = a.localDoctor(ctx)
			}
			if err != nil {
				return err
			}
			printChecks(cmd.OutOrStdout(), checks)
			failed := 0
			for _, c := range checks {
				if !c.OK {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d checks fail", failed, len(checks))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(
		&apiURL,
		"api",
		"",
		"base URL of a running partnerflow API to ask instead, such as https://onboard.example.com",
	)
	cmd.Flags().StringVar(&apiKey, "api-key", "", "a global-admin API key for --api (default PARTNERFLOW_API_KEY)")
	return cmd
}

// localDoctor runs the checks in this process with the environment's configuration.
func (a *app) localDoctor(ctx context.Context) ([]connection.Check, error) {
	_, signingKey, err := loadKeys(a.cfg, false)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, a.cfg)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	pc, conn, err := a.partnerCenter(store, signingKey)
	if err != nil {
		return nil, fmt.Errorf(
			"%w (for `partnerflow dev`, ask it instead: partnerflow doctor --api http://%s --api-key KEY)",
			err,
			a.cfg.HTTPAddr,
		)
	}
	return connection.Doctor(ctx, a.doctorConfig(pc, conn)), nil
}

// doctor is the API's Doctor (api.Config.Doctor): the checks with this deployment's client,
// connection and settings.
func (a *app) doctor(pc partnercenter.Client, conn *connection.Manager) func(ctx context.Context) []connection.Check {
	cfg := a.doctorConfig(pc, conn)
	return func(ctx context.Context) []connection.Check { return connection.Doctor(ctx, cfg) }
}

// doctorConfig is what the checks compare with: this deployment's settings.
func (a *app) doctorConfig(pc partnercenter.Client, conn *connection.Manager) connection.DoctorConfig {
	pcURL := a.partnerCenterConfig().PartnerCenterURL
	hosts := slices.Clone(a.cfg.WebhookCertHosts)
	if u, err := url.Parse(pcURL); err == nil && u.Scheme == "http" {
		// As the API's webhook verifier: the simulator serves its certificate itself.
		hosts = append(hosts, u.Host)
	}
	return connection.DoctorConfig{
		Connection: conn, Client: pc, BaseURL: a.cfg.BaseURL(), PartnerCenterURL: pcURL,
		WebhookURL: a.cfg.WebhookURL, WebhookEvents: workflows.WebhookEvents(), WebhookCertHosts: hosts,
		SMTPURL: a.cfg.SMTPURL, MailFrom: a.cfg.MailFrom,
	}
}

// remoteDoctor asks a running deployment to run the checks.
func remoteDoctor(ctx context.Context, apiURL, apiKey string) ([]connection.Check, error) {
	if apiKey == "" {
		return nil, errors.New("--api needs a global-admin key: --api-key or PARTNERFLOW_API_KEY")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(
		ctx,
		http.MethodPost,
		strings.TrimRight(apiURL, "/")+"/v1/connection/doctor",
		nil,
	)
	if err != nil {
		return nil, fmt.Errorf("--api %q: %w", apiURL, err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask %s for the checks: %w", apiURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s's checks: %w", apiURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		var p struct{ Title, Detail string }
		if json.Unmarshal(body, &p) == nil && p.Title != "" {
			return nil, fmt.Errorf("%s answered %d: %s: %s", apiURL, resp.StatusCode, p.Title, p.Detail)
		}
		return nil, fmt.Errorf("%s answered %d", apiURL, resp.StatusCode)
	}
	var out struct {
		Checks []connection.Check `json:"checks"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("%s's checks are not JSON: %w", apiURL, err)
	}
	return out.Checks, nil
}

// printChecks writes one line per check, and the fix under each that fails.
func printChecks(w io.Writer, checks []connection.Check) {
	for _, c := range checks {
		if c.OK {
			fmt.Fprintf(w, "✓ %s — %s\n", c.Name, c.Detail)
			continue
		}
		fmt.Fprintf(w, "✗ %s — %s\n", c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", c.Fix)
		}
	}
}
