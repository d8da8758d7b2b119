package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/config"
	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/workflows"
)

// partnerCenterConfig is the Partner Center and Graph client's configuration: the settings read
// by package config, with the URLs, tenant and app dev gives the embedded simulator.
func (a *app) partnerCenterConfig() partnercenter.Config {
	return partnercenter.Config{
		PartnerCenterURL: a.cfg.PartnerCenterURL,
		GraphURL:         a.cfg.GraphURL,
		AuthorityURL:     a.cfg.PartnerCenterAuthorityURL,
		TenantID:         a.cfg.PartnerCenterTenantID,
		ClientID:         a.cfg.PartnerCenterClientID,
		ClientSecret:     a.cfg.PartnerCenterClientSecret,
		AdminPortalURL:   a.cfg.PartnerCenterAdminPortalURL,
	}
}

// partnerCenter builds the Partner Center connection (the stored App+User sign-in) and the
// Partner Center and Graph client that uses it for App+User calls, and with which the
// connection reads the partner's profile.
func (a *app) partnerCenter(
	store *models.Store,
	signingKey []byte,
) (*partnercenter.HTTPClient, *connection.Manager, error) {
	cfg := a.partnerCenterConfig()
	if cfg.PartnerCenterURL == "" || cfg.GraphURL == "" {
		return nil, nil, fmt.Errorf("PARTNERCENTER_URL and GRAPH_URL are required " +
			"(the real services or `partnerflow sim`)")
	}
	if cfg.TenantID == "" {
		return nil, nil, fmt.Errorf("PARTNERCENTER_TENANT_ID is required: the partner tenant partnerflow acts for")
	}
	entra, err := partnercenter.NewEntra(partnercenter.EntraConfig{
		AuthorityURL: cfg.AuthorityURL,
		TenantID:     cfg.TenantID,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
	})
	if err != nil {
		return nil, nil, err
	}
	conn := connection.New(connection.Config{
		Store:     store,
		Entra:     entra,
		Box:       notify.NewConnectionBox(signingKey),
		PartnerID: cfg.TenantID,
		Logger:    a.logger.With("component", "connection"),
	})
	cfg.UserTokens = conn
	pc, err := partnercenter.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	// The partner's company name, which customers see, comes from its profile.
	conn.ReadProfileWith(pc)
	return pc, conn, nil
}

// flowConfig is the API's view of the flows: who we are, the policy and the webhook verifier.
func (a *app) flowConfig(e *engine, temporalUI string) (api.FlowConfig, error) {
	pcCfg := a.partnerCenterConfig()
	var assignments []workflows.AccessAssignment
	if a.cfg.Invitation.DefaultAssignments != "" {
		if err := json.Unmarshal([]byte(a.cfg.Invitation.DefaultAssignments), &assignments); err != nil {
			return api.FlowConfig{}, fmt.Errorf(
				"PARTNERFLOW_DEFAULT_ASSIGNMENTS must be JSON like "+
					"[{\"securityGroupId\":\"…\",\"roleIds\":[\"…\"]}]: %w",
				err,
			)
		}
	}
	if p := a.cfg.Invitation.USGovPortalURL; p != "" {
		if u, err := url.Parse(p); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return api.FlowConfig{}, fmt.Errorf(
				"PARTNERFLOW_USGOV_PORTAL_URL must be an http(s) address such as %s, got %q",
				api.DefaultUSGovPortalURL,
				p,
			)
		}
	}
	hosts := slices.Clone(a.cfg.WebhookCertHosts)
	allowHTTP := false
	if u, err := url.Parse(pcCfg.PartnerCenterURL); err == nil && u.Scheme == "http" {
		// The simulator signs with a certificate it serves itself over plain HTTP.
		hosts, allowHTTP = append(hosts, u.Host), true
	}
	// The API reads Partner Center's catalog when it is configured, to refuse unknown products.
	// It reads the customer a reseller acceptance names, so the event wakes only that invitation.
	var catalog func(ctx context.Context, catalogItemID, country string) (bool, error)
	var customers api.CustomerReader
	var tenants api.TenantFinder
	var products api.ProductCatalog
	if pc, _, err := a.partnerCenter(e.store, e.signingKey); err == nil {
		catalog = func(ctx context.Context, catalogItemID, country string) (bool, error) {
			return partnercenter.Sells(ctx, pc, catalogItemID, country)
		}
		customers, tenants, products = pc, pc, pc
	}
	w := a.cfg.Wait
	return api.FlowConfig{
		PartnerID:       a.cfg.PartnerCenterTenantID,
		PartnerName:     a.cfg.PartnerName,
		TaskQueue:       a.cfg.TaskQueue,
		BaseURL:         a.cfg.BaseURL(),
		ContactEmail:    a.cfg.ContactEmail,
		DefaultLanguage: a.cfg.DefaultLanguage,
		Wait: workflows.WaitPolicy{
			Reminders:     w.Reminders,
			RepeatEvery:   w.ReminderRepeat,
			EscalateAfter: w.EscalateAfter,
			PollEvery:     w.PollInterval,
		},
		Webhooks: partnercenter.NewWebhookVerifier(partnercenter.WebhookVerifierConfig{
			AllowedCertificateHosts: hosts,
			AllowHTTP:               allowHTTP,
		}),
		EstateSynced:  estateSynced(a.cfg),
		TemporalUIURL: temporalUI,
		Namespace:     a.cfg.TemporalNamespace,
		Invitation: api.InvitationConfig{
			DefaultAssignments: assignments,
			USGovPortalURL:     a.cfg.Invitation.USGovPortalURL,
			Customers:          customers,
			Tenants:            tenants,
		},
		Reseller: api.ResellerConfig{
			PartnershipURL: a.cfg.Reseller.PartnershipURL,
			ExpireAfter:    a.cfg.Reseller.ExpireAfter,
		},
		Onboarding: api.OnboardingConfig{
			ExpireAfter: a.cfg.Onboarding.ExpireAfter,
			Catalog:     catalog,
			Products:    products,
		},
		Removal: api.RemovalConfig{
			DeliveryAttempts:      a.cfg.Removal.DeliveryAttempts,
			DeliveryRetryInterval: a.cfg.Removal.DeliveryRetryInterval,
		},
	}, nil
}

// registerWebhook points Partner Center's one webhook registration at partnerflow, keeping an
// existing registration when it is already right.
func registerWebhook(ctx context.Context, pc partnercenter.Client, webhookURL string) error {
	// The flows' descriptors name the events their workflows wait for.
	events := workflows.WebhookEvents()
	reg := partnercenter.WebhookRegistration{WebhookURL: webhookURL, WebhookEvents: events}
	existing, err := pc.GetWebhookRegistration(ctx)
	switch {
	case err == nil && existing.WebhookURL == webhookURL && sameEvents(existing.WebhookEvents, events):
		return nil
	case err == nil && existing.WebhookURL != "":
		_, err = pc.UpdateWebhookRegistration(partnercenter.WithRequestID(ctx, partnercenter.NewRequestID()), reg)
	default:
		_, err = pc.RegisterWebhook(partnercenter.WithRequestID(ctx, partnercenter.NewRequestID()), reg)
	}
	if err != nil {
		return fmt.Errorf("register the Partner Center webhook %s: %w", webhookURL, err)
	}
	return nil
}

// sameEvents reports whether a registration subscribes to exactly the events wanted.
func sameEvents(have, want []string) bool {
	a, b := slices.Clone(have), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// startEstateSync starts the partner's estate sync unless it runs already (or is turned off).
func startEstateSync(ctx context.Context, c client.Client, cfg config.Config) error {
	if cfg.EstateSyncEvery <= 0 || cfg.PartnerCenterTenantID == "" {
		return nil
	}
	partnerID := cfg.PartnerCenterTenantID
	// Started if it does not run; told the pause either way, so a changed setting takes effect.
	_, err := c.SignalWithStartWorkflow(ctx, workflows.EstateSyncWorkflowID(partnerID),
		workflows.SignalEstateSettings, workflows.EstateSettings{Every: cfg.EstateSyncEvery},
		client.StartWorkflowOptions{
			TaskQueue:             cfg.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.PartnerIDKey.ValueSet(partnerID)),
		}, workflows.EstateSync, workflows.EstateSyncInput{PartnerID: partnerID, Every: cfg.EstateSyncEvery})
	if err != nil {
		return fmt.Errorf("start the estate sync of %s: %w", partnerID, err)
	}
	return nil
}

// estateSynced says waiting invitations and partnership requests leave it to the estate sync to
// tell them: it runs, and at least as often as they would poll (an operator who asks for faster
// polling gets it).
func estateSynced(cfg config.Config) bool {
	return cfg.EstateSyncEvery > 0 && cfg.PartnerCenterTenantID != "" && cfg.EstateSyncEvery <= cfg.Wait.PollInterval
}
