package api

import (
	"context"
	"time"

	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/workflows"
)

// FlowConfig is what the API needs to start and run flows: the engine-wide settings first, then
// each flow's own (README's Configuration table lists the environment variables of each).
type FlowConfig struct {
	// PartnerID is our partner tenant ID; every flow belongs to it.
	PartnerID string
	// PartnerName is shown to customers on the landing page.
	PartnerName string
	// TaskQueue is where the workflows run (default workflows.TaskQueue).
	TaskQueue string
	// BaseURL is the public base of the links customers receive, such as https://onboard.example.com.
	BaseURL string
	// ContactEmail is the partner's escalation contact when a request names none.
	ContactEmail string
	// DefaultLanguage is the language of messages when a request names none, and of customer
	// pages when neither the link nor the browser names a supported one (default "en").
	DefaultLanguage string
	// Wait is every flow's schedule of reminders, escalation and polling while it waits for a
	// person (default workflows.DefaultWaitPolicy).
	Wait workflows.WaitPolicy
	// EstateSynced says the partner's estate sync runs at least as often as flows would poll and
	// tells the waits it can answer what it saw: invitations (the customer's consents) and
	// partnership requests (the reseller's authorization) then start without polling
	// (WaitPolicy.NoPolling).
	EstateSynced bool
	// Webhooks verifies Partner Center's webhook signatures; nil refuses every event.
	Webhooks *partnercenter.WebhookVerifier
	// TemporalUIURL is the Temporal Web UI's base address; when set, the dashboard links each
	// flow to its workflow there.
	TemporalUIURL string
	// Namespace is the workflows' Temporal namespace (default "default"), for Web UI links.
	Namespace string
	// Now is the clock (default time.Now), so tests can move time.
	Now func() time.Time

	Invitation InvitationConfig
	Reseller   ResellerConfig
	Onboarding OnboardingConfig
	Removal    RemovalConfig
}

// InvitationConfig is the invitation flow's own settings.
type InvitationConfig struct {
	// ExpireAfter is how long an invitation waits for the customer (default 90 days, as long
	// as Microsoft keeps a GDAP request open).
	ExpireAfter time.Duration
	// DefaultAssignments apply when a request names no access assignments, each narrowed to
	// the requested roles; with none, such a request is refused.
	DefaultAssignments []workflows.AccessAssignment
	// USGovPortalURL is the Office admin portal of Microsoft Cloud for US Government (default
	// DefaultUSGovPortalURL): a US Government customer accepts the reseller relationship at
	// Partner Center's link moved onto this scheme and host (a path here prefixes the link's).
	USGovPortalURL string
	// Customers reads the customer a reseller acceptance event names, so the event reaches only
	// the open invitation for that customer's domain; nil passes the event to every pending
	// invitation instead (up to maxHintedInvitations), each checking with Partner Center.
	Customers CustomerReader
	// Tenants finds the tenant that holds a domain, so an invitation to a domain no tenant holds
	// is refused at once; nil skips the check.
	Tenants TenantFinder
}

// ResellerConfig is the reseller partnership flow's own settings.
type ResellerConfig struct {
	// ExpireAfter is how long a partnership request waits for the reseller (default 30 days;
	// Microsoft documents no expiry for the partnership link).
	ExpireAfter time.Duration
	// PartnershipURL is where a reseller's Global admin authorizes the provider: the provider's
	// partnership link from Partner Center (Indirect resellers → Request a partnership), or the
	// simulator's page in dev.
	PartnershipURL string
}

// OnboardingConfig is the customer onboarding flow's own settings.
type OnboardingConfig struct {
	// ExpireAfter is how long an onboarding waits for the customer's agreement (default 90 days).
	ExpireAfter time.Duration
	// Catalog tells whether Partner Center sells a catalog item in a country, so an onboarding
	// naming an unknown item is refused before anything starts; nil skips the check (the cart
	// then comes back with Partner Center's refusal, to fix at review).
	Catalog func(ctx context.Context, catalogItemID, country string) (bool, error)
	// Products lists the catalog for GET /v1/catalog and the onboarding form's product picker;
	// nil: neither has one.
	Products ProductCatalog
	// AgreementLink and AgreementVersion name the Microsoft Customer Agreement customers accept on
	// partnerflow's agreement page (default Microsoft's public page and "current").
	AgreementLink    string
	AgreementVersion string
}

// RemovalConfig is the reseller removal flow's own settings.
type RemovalConfig struct {
	// DeliveryAttempts and DeliveryRetryInterval are how often a removal's notification is
	// tried, and how long after the first failure (doubling), before it is listed as failed
	// (defaults 10 and 5 seconds).
	DeliveryAttempts      int
	DeliveryRetryInterval time.Duration
}

// CustomerReader reads one customer of the partner at Partner Center (partnercenter.Client
// satisfies it).
type CustomerReader interface {
	GetCustomer(ctx context.Context, customerID string) (partnercenter.Customer, error)
}

// TenantFinder finds the Microsoft Entra tenant that holds a domain (partnercenter.Client
// satisfies it); partnercenter.IsNotFound reports an unknown domain.
type TenantFinder interface {
	FindTenantByDomain(ctx context.Context, domain string) (partnercenter.TenantInformation, error)
}

// DefaultUSGovPortalURL is the Office admin portal of Microsoft Cloud for US Government, where
// Partner Center documents that US Government customers accept a reseller relationship.
const DefaultUSGovPortalURL = "https://portal.office365.us"

func (f FlowConfig) withDefaults() FlowConfig {
	if f.TaskQueue == "" {
		f.TaskQueue = workflows.TaskQueue
	}
	if f.Namespace == "" {
		f.Namespace = "default"
	}
	f.DefaultLanguage = notify.PickLanguage(f.DefaultLanguage, "", notify.DefaultLanguage)
	if f.Now == nil {
		f.Now = time.Now
	}
	if p := f.Wait; len(p.Reminders) == 0 && p.RepeatEvery == 0 && p.EscalateAfter == 0 && p.PollEvery == 0 {
		f.Wait = workflows.DefaultWaitPolicy
	}
	f.Invitation = f.Invitation.withDefaults()
	f.Reseller = f.Reseller.withDefaults()
	f.Onboarding = f.Onboarding.withDefaults()
	return f
}

func (c InvitationConfig) withDefaults() InvitationConfig {
	if c.ExpireAfter <= 0 {
		c.ExpireAfter = 90 * 24 * time.Hour
	}
	if c.USGovPortalURL == "" {
		c.USGovPortalURL = DefaultUSGovPortalURL
	}
	return c
}

func (c ResellerConfig) withDefaults() ResellerConfig {
	if c.ExpireAfter <= 0 {
		c.ExpireAfter = 30 * 24 * time.Hour
	}
	return c
}

func (c OnboardingConfig) withDefaults() OnboardingConfig {
	if c.ExpireAfter <= 0 {
		c.ExpireAfter = 90 * 24 * time.Hour
	}
	if c.AgreementLink == "" {
		c.AgreementLink = "https://www.microsoft.com/licensing/docs/customeragreement"
	}
	if c.AgreementVersion == "" {
		c.AgreementVersion = "current"
	}
	return c
}

// longestWait is the longest any flow waits for a person: the overview's scale for median waits.
func (f FlowConfig) longestWait() time.Duration {
	return max(f.Invitation.ExpireAfter, f.Reseller.ExpireAfter, f.Onboarding.ExpireAfter)
}
