// Package config reads partnerflow's settings from the environment; the names are part of the
// interface operators and scripts rely on (see README).
package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partnerflow/partnerflow/notify"
)

// Config is every setting partnerflow reads. No other package reads the environment: the
// commands hand these values on (deploy's tests scan this package for the names and hold
// README and docker-compose.yml to them).
type Config struct {
	DataDir      string // PARTNERFLOW_DATA_DIR
	HTTPAddr     string // PARTNERFLOW_HTTP_ADDR
	PublicURL    string // PARTNERFLOW_PUBLIC_URL: base of links sent to customers
	MetricsAddr  string // PARTNERFLOW_METRICS_ADDR: /metrics of a `worker` process
	BootstrapKey string // PARTNERFLOW_BOOTSTRAP_KEY
	CodecKey     string // PARTNERFLOW_CODEC_KEY (base64 AES-256)
	SigningKey   string // PARTNERFLOW_SIGNING_KEY (base64, signs customer links; derived from the codec key when empty)
	MaxBodyBytes int64  // PARTNERFLOW_MAX_BODY_BYTES
	// APIMetricsAddr is a private address where `api` serves /metrics and /healthz without a
	// key, for Prometheus (PARTNERFLOW_API_METRICS_ADDR; empty means none: the API's own
	// /metrics needs a key of an admin role).
	APIMetricsAddr string
	// TrustedProxies may set X-Forwarded-For (PARTNERFLOW_TRUSTED_PROXIES, comma-separated CIDRs or IPs).
	TrustedProxies []string
	// UIOrigins are Temporal Web UI origins allowed to call /codec from a browser (PARTNERFLOW_UI_ORIGINS).
	UIOrigins []string

	TemporalAddress       string // TEMPORAL_ADDRESS; empty in dev means embedded
	TemporalNamespace     string // TEMPORAL_NAMESPACE
	TemporalAPIKey        string // TEMPORAL_API_KEY (Temporal Cloud)
	TemporalTLSCert       string // TEMPORAL_TLS_CERT (path, mTLS)
	TemporalTLSKey        string // TEMPORAL_TLS_KEY (path, mTLS)
	TemporalTLSCA         string // TEMPORAL_TLS_CA (path)
	TemporalTLSServerName string // TEMPORAL_TLS_SERVER_NAME
	TemporalPort          int    // PARTNERFLOW_TEMPORAL_PORT (embedded)
	UIPort                int    // PARTNERFLOW_UI_PORT (embedded)
	TaskQueue             string // PARTNERFLOW_TASK_QUEUE
	// TemporalUIURL is the Web UI address the dashboard links to (PARTNERFLOW_TEMPORAL_UI_URL;
	// `api` only: dev knows its own).
	TemporalUIURL string

	DatabaseURL string // DATABASE_URL; empty in dev means SQLite in the data dir

	PartnerCenterURL string // PARTNERCENTER_URL; empty in dev means the embedded simulator
	GraphURL         string // GRAPH_URL
	SimAddr          string // PARTNERFLOW_SIM_ADDR
	SimPublicURL     string // PARTNERFLOW_SIM_PUBLIC_URL: base of the simulator's links as browsers reach it
	// SimActivationDelay is how long the simulator's approved relationships, access assignments
	// and orders take to become active (0: its default; sim.Immediately: none). `bench` sets it.
	SimActivationDelay time.Duration

	// The partner's tenant and Entra app. An empty client ID means simulator mode; dev fills an
	// empty tenant ID with the simulator's home partner.
	PartnerCenterTenantID     string // PARTNERCENTER_TENANT_ID
	PartnerCenterClientID     string // PARTNERCENTER_CLIENT_ID
	PartnerCenterClientSecret string // PARTNERCENTER_CLIENT_SECRET
	// PartnerCenterAuthorityURL is Entra ID's sign-in service (PARTNERCENTER_AUTHORITY_URL); empty
	// means https://login.microsoftonline.com, and the embedded simulator in dev.
	PartnerCenterAuthorityURL string
	// APIKey is the key commands use to call a running API (PARTNERFLOW_API_KEY; doctor --api).
	APIKey string
	// AllowNonMicrosoftURLs lets a client secret go with PARTNERCENTER_URL and GRAPH_URL that are
	// not Microsoft's https hosts (PARTNERFLOW_ALLOW_NON_MICROSOFT_URLS; a proxy you run).
	AllowNonMicrosoftURLs bool
	// PartnerCenterAdminPortalURL prefixes GDAP approval links (PARTNERCENTER_ADMIN_PORTAL_URL);
	// empty means the Microsoft 365 admin center, or the simulator's pages in simulator mode.
	PartnerCenterAdminPortalURL string

	PartnerName  string // PARTNERFLOW_PARTNER_NAME: how customers see the partner
	ContactEmail string // PARTNERFLOW_CONTACT_EMAIL: the partner's contact for escalations
	// DefaultLanguage is the language of messages and pages when a request or a browser names
	// none partnerflow supports, and of messages to the partner's own contacts
	// (PARTNERFLOW_DEFAULT_LANGUAGE: en, it or tr).
	DefaultLanguage string

	// MemoryLimitSet says GOMEMLIMIT was given, so dev keeps the runtime's limit instead of its own.
	MemoryLimitSet bool
	// WorkflowCacheSize is how many workflows the worker keeps in memory between their tasks
	// (PARTNERFLOW_WORKFLOW_CACHE; the SDK's sticky cache, shared by every worker of the process).
	// A cached workflow keeps its state and coroutines; one evicted replays its history when it
	// next wakes, which for a flow waiting for a person is rare and cheap. The SDK's own default
	// of 10,000 kept every waiting flow of a large estate in memory.
	WorkflowCacheSize int

	// EstateSyncEvery is the pause between two passes of the partner's estate sync
	// (PARTNERFLOW_ESTATE_SYNC_EVERY; 0 turns the sync off).
	EstateSyncEvery time.Duration
	// EstateSyncEverySet says PARTNERFLOW_ESTATE_SYNC_EVERY was given (dev keeps it instead of its own).
	EstateSyncEverySet bool

	// Wait is every flow's schedule while it waits for a person; the flows' own settings follow.
	Wait       WaitConfig
	Invitation InvitationConfig
	Reseller   ResellerConfig
	Onboarding OnboardingConfig
	Removal    RemovalConfig
	// WebhookURL, when set, is registered with Partner Center at start (dev registers its own).
	WebhookURL       string   // PARTNERFLOW_WEBHOOK_URL
	WebhookCertHosts []string // PARTNERCENTER_WEBHOOK_CERT_HOSTS, comma-separated
	// WebhookAllowPrivate lets partners' webhook subscriptions reach loopback, private and
	// link-local addresses (PARTNERFLOW_WEBHOOK_ALLOW_PRIVATE; closed networks and tests only).
	WebhookAllowPrivate bool

	SMTPURL  string // SMTP_URL; empty means mail goes to the outbox table and the log only
	MailFrom string // PARTNERFLOW_MAIL_FROM

	ShutdownTimeout time.Duration
}

// WaitConfig is every flow's schedule while it waits for a person (a customer's consent, a
// reseller's authorization, an agreement).
type WaitConfig struct {
	Reminders      []time.Duration // PARTNERFLOW_REMINDERS, e.g. "72h,168h,336h": offsets from the wait's start
	ReminderRepeat time.Duration   // PARTNERFLOW_REMINDER_REPEAT: interval after the last offset
	EscalateAfter  int             // PARTNERFLOW_ESCALATE_AFTER: reminders before the partner's contact is told
	PollInterval   time.Duration   // PARTNERFLOW_POLL_INTERVAL: how often a waiting flow asks Partner Center
	// PollIntervalSet says PARTNERFLOW_POLL_INTERVAL was given (dev keeps it instead of its own 30s).
	PollIntervalSet bool
}

// InvitationConfig is the invitation flow's settings.
type InvitationConfig struct {
	// DefaultAssignments is JSON [{"securityGroupId","roleIds":[]}], used when a request names
	// none (PARTNERFLOW_DEFAULT_ASSIGNMENTS).
	DefaultAssignments string
	// USGovPortalURL is the Office admin portal of Microsoft Cloud for US Government, where US
	// Government customers accept a reseller relationship (PARTNERFLOW_USGOV_PORTAL_URL); empty
	// means Microsoft's, or the simulator's pages in dev.
	USGovPortalURL string
}

// ResellerConfig is the reseller partnership flow's settings.
type ResellerConfig struct {
	// PartnershipURL is where resellers authorize the provider (PARTNERFLOW_RESELLER_PARTNERSHIP_URL).
	PartnershipURL string
	// ExpireAfter is how long a partnership request waits (PARTNERFLOW_RESELLER_EXPIRE_AFTER).
	ExpireAfter time.Duration
}

// OnboardingConfig is the customer onboarding flow's settings.
type OnboardingConfig struct {
	// ExpireAfter is how long an onboarding waits for the customer's agreement
	// (PARTNERFLOW_ONBOARDING_EXPIRE_AFTER).
	ExpireAfter time.Duration
}

// RemovalConfig is the reseller removal flow's settings.
type RemovalConfig struct {
	// DeliveryAttempts is how often one notification is tried before it is failed
	// (PARTNERFLOW_DELIVERY_ATTEMPTS).
	DeliveryAttempts int
	// DeliveryRetryInterval is the first wait between tries, doubling
	// (PARTNERFLOW_DELIVERY_RETRY_INTERVAL).
	DeliveryRetryInterval time.Duration
}

// DefaultPartnerName is how customers see a partner that configured no name.
const DefaultPartnerName = "Your Microsoft partner"

// DefaultWorkflowCacheSize is the worker's workflow cache when PARTNERFLOW_WORKFLOW_CACHE is not
// set: the flows moving at once fit, and 100,000 waiting ones do not all sit in memory.
const DefaultWorkflowCacheSize = 2000

// FromEnv reads the configuration, applying the documented defaults.
func FromEnv() (Config, error) {
	c := Config{
		DataDir:                     env("PARTNERFLOW_DATA_DIR", "./.partnerflow"),
		HTTPAddr:                    env("PARTNERFLOW_HTTP_ADDR", "127.0.0.1:8080"),
		PublicURL:                   os.Getenv("PARTNERFLOW_PUBLIC_URL"),
		MetricsAddr:                 env("PARTNERFLOW_METRICS_ADDR", "127.0.0.1:9090"),
		APIMetricsAddr:              os.Getenv("PARTNERFLOW_API_METRICS_ADDR"),
		BootstrapKey:                os.Getenv("PARTNERFLOW_BOOTSTRAP_KEY"),
		CodecKey:                    os.Getenv("PARTNERFLOW_CODEC_KEY"),
		SigningKey:                  os.Getenv("PARTNERFLOW_SIGNING_KEY"),
		TemporalAddress:             os.Getenv("TEMPORAL_ADDRESS"),
		TemporalNamespace:           env("TEMPORAL_NAMESPACE", "default"),
		TemporalAPIKey:              os.Getenv("TEMPORAL_API_KEY"),
		TemporalTLSCert:             os.Getenv("TEMPORAL_TLS_CERT"),
		TemporalTLSKey:              os.Getenv("TEMPORAL_TLS_KEY"),
		TemporalTLSCA:               os.Getenv("TEMPORAL_TLS_CA"),
		TemporalTLSServerName:       os.Getenv("TEMPORAL_TLS_SERVER_NAME"),
		TaskQueue:                   env("PARTNERFLOW_TASK_QUEUE", "partnerflow"),
		TemporalUIURL:               os.Getenv("PARTNERFLOW_TEMPORAL_UI_URL"),
		DatabaseURL:                 os.Getenv("DATABASE_URL"),
		PartnerCenterURL:            os.Getenv("PARTNERCENTER_URL"),
		GraphURL:                    os.Getenv("GRAPH_URL"),
		PartnerCenterTenantID:       os.Getenv("PARTNERCENTER_TENANT_ID"),
		PartnerCenterClientID:       os.Getenv("PARTNERCENTER_CLIENT_ID"),
		PartnerCenterClientSecret:   os.Getenv("PARTNERCENTER_CLIENT_SECRET"),
		PartnerCenterAuthorityURL:   os.Getenv("PARTNERCENTER_AUTHORITY_URL"),
		APIKey:                      os.Getenv("PARTNERFLOW_API_KEY"),
		PartnerCenterAdminPortalURL: os.Getenv("PARTNERCENTER_ADMIN_PORTAL_URL"),
		SimAddr:                     env("PARTNERFLOW_SIM_ADDR", "127.0.0.1:8081"),
		SimPublicURL:                os.Getenv("PARTNERFLOW_SIM_PUBLIC_URL"),
		TrustedProxies:              splitList(os.Getenv("PARTNERFLOW_TRUSTED_PROXIES")),
		UIOrigins:                   splitList(os.Getenv("PARTNERFLOW_UI_ORIGINS")),
		PartnerName:                 env("PARTNERFLOW_PARTNER_NAME", DefaultPartnerName),
		ContactEmail:                os.Getenv("PARTNERFLOW_CONTACT_EMAIL"),
		WebhookURL:                  os.Getenv("PARTNERFLOW_WEBHOOK_URL"),
		WebhookCertHosts: splitList(
			env("PARTNERCENTER_WEBHOOK_CERT_HOSTS", "api.partnercenter.microsoft.com"),
		),
		SMTPURL:         os.Getenv("SMTP_URL"),
		MailFrom:        env("PARTNERFLOW_MAIL_FROM", "partnerflow@localhost"),
		ShutdownTimeout: 15 * time.Second,
		Invitation: InvitationConfig{
			DefaultAssignments: os.Getenv("PARTNERFLOW_DEFAULT_ASSIGNMENTS"),
			USGovPortalURL:     os.Getenv("PARTNERFLOW_USGOV_PORTAL_URL"),
		},
		Reseller: ResellerConfig{PartnershipURL: os.Getenv("PARTNERFLOW_RESELLER_PARTNERSHIP_URL")},
	}
	var err error
	if c.TemporalPort, err = envInt("PARTNERFLOW_TEMPORAL_PORT", 7233); err != nil {
		return c, err
	}
	if c.UIPort, err = envInt("PARTNERFLOW_UI_PORT", 8233); err != nil {
		return c, err
	}
	if c.EstateSyncEvery, err = envDuration("PARTNERFLOW_ESTATE_SYNC_EVERY", 15*time.Minute); err != nil {
		return c, err
	}
	c.EstateSyncEverySet = os.Getenv("PARTNERFLOW_ESTATE_SYNC_EVERY") != ""
	if c.Wait, err = waitFromEnv(); err != nil {
		return c, err
	}
	c.MemoryLimitSet = os.Getenv("GOMEMLIMIT") != ""
	if c.WorkflowCacheSize, err = envInt("PARTNERFLOW_WORKFLOW_CACHE", DefaultWorkflowCacheSize); err != nil {
		return c, err
	}
	if c.WorkflowCacheSize < 1 {
		return c, fmt.Errorf("PARTNERFLOW_WORKFLOW_CACHE must be at least 1, got %d", c.WorkflowCacheSize)
	}
	if c.Reseller.ExpireAfter, err = envDuration("PARTNERFLOW_RESELLER_EXPIRE_AFTER", 30*24*time.Hour); err != nil {
		return c, err
	}
	if c.Onboarding.ExpireAfter, err = envDuration("PARTNERFLOW_ONBOARDING_EXPIRE_AFTER", 90*24*time.Hour); err != nil {
		return c, err
	}
	if c.Removal, err = removalFromEnv(); err != nil {
		return c, err
	}
	if c.WebhookAllowPrivate, err = envBool("PARTNERFLOW_WEBHOOK_ALLOW_PRIVATE", false); err != nil {
		return c, err
	}
	lang := env("PARTNERFLOW_DEFAULT_LANGUAGE", notify.DefaultLanguage)
	var ok bool
	if c.DefaultLanguage, ok = notify.ParseLanguage(lang); !ok {
		return c, fmt.Errorf(
			"PARTNERFLOW_DEFAULT_LANGUAGE must be one of %s, got %q",
			strings.Join(notify.Languages(), ", "),
			lang,
		)
	}
	if c.AllowNonMicrosoftURLs, err = envBool("PARTNERFLOW_ALLOW_NON_MICROSOFT_URLS", false); err != nil {
		return c, err
	}
	if err := c.checkMicrosoftURLs(); err != nil {
		return c, err
	}
	maxBody, err := envInt("PARTNERFLOW_MAX_BODY_BYTES", 1<<20)
	if err != nil {
		return c, err
	}
	c.MaxBodyBytes = int64(maxBody)
	return c, nil
}

// waitFromEnv reads every flow's waiting schedule.
func waitFromEnv() (WaitConfig, error) {
	var w WaitConfig
	var err error
	if w.EscalateAfter, err = envInt("PARTNERFLOW_ESCALATE_AFTER", 3); err != nil {
		return w, err
	}
	if w.PollInterval, err = envDuration("PARTNERFLOW_POLL_INTERVAL", 15*time.Minute); err != nil {
		return w, err
	}
	w.PollIntervalSet = os.Getenv("PARTNERFLOW_POLL_INTERVAL") != ""
	if w.ReminderRepeat, err = envDuration("PARTNERFLOW_REMINDER_REPEAT", 7*24*time.Hour); err != nil {
		return w, err
	}
	w.Reminders = []time.Duration{3 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour}
	if v := os.Getenv("PARTNERFLOW_REMINDERS"); v != "" {
		w.Reminders = nil
		for _, part := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d <= 0 {
				return w, fmt.Errorf("PARTNERFLOW_REMINDERS must be positive durations like 72h,168h, got %q", part)
			}
			w.Reminders = append(w.Reminders, d)
		}
	}
	return w, nil
}

// removalFromEnv reads the removal flow's delivery policy.
func removalFromEnv() (RemovalConfig, error) {
	var r RemovalConfig
	var err error
	if r.DeliveryAttempts, err = envInt("PARTNERFLOW_DELIVERY_ATTEMPTS", 10); err != nil {
		return r, err
	}
	if r.DeliveryAttempts < 1 {
		return r, fmt.Errorf("PARTNERFLOW_DELIVERY_ATTEMPTS must be at least 1, got %d", r.DeliveryAttempts)
	}
	if r.DeliveryRetryInterval, err = envDuration("PARTNERFLOW_DELIVERY_RETRY_INTERVAL", 5*time.Second); err != nil {
		return r, err
	}
	return r, nil
}

// microsoftHosts are the hosts of Partner Center and Microsoft Graph in the public cloud, the
// US Government clouds and the China cloud operated by 21Vianet.
var microsoftHosts = map[string][]string{
	"PARTNERCENTER_URL": {
		"api.partnercenter.microsoft.com",
		"partner.partnercenterapi.microsoftonline.cn",
	},
	"GRAPH_URL": {
		"graph.microsoft.com",
		"graph.microsoft.us",
		"dod-graph.microsoft.us",
		"microsoftgraph.chinacloudapi.cn",
	},
	"PARTNERCENTER_AUTHORITY_URL": {
		"login.microsoftonline.com",
		"login.microsoftonline.us",
		"login.partner.microsoftonline.cn",
	},
}

// checkMicrosoftURLs keeps real credentials away from anything but Microsoft: with a client
// secret, the bearer tokens it earns go to PARTNERCENTER_URL and GRAPH_URL, so both must name a
// Microsoft host over https (an empty one would let dev put the simulator there).
func (c Config) checkMicrosoftURLs() error {
	if c.PartnerCenterClientSecret == "" || c.AllowNonMicrosoftURLs {
		return nil
	}
	authority := c.PartnerCenterAuthorityURL
	if authority == "" {
		authority = "https://login.microsoftonline.com"
	}
	for _, v := range []struct{ name, value string }{
		{"PARTNERCENTER_URL", c.PartnerCenterURL},
		{"GRAPH_URL", c.GraphURL},
		{"PARTNERCENTER_AUTHORITY_URL", authority},
	} {
		hosts := microsoftHosts[v.name]
		u, err := url.Parse(v.value)
		if err != nil || u.Scheme != "https" || u.User != nil ||
			(u.Port() != "" && u.Port() != "443") ||
			!slices.Contains(hosts, strings.ToLower(u.Hostname())) {
			return fmt.Errorf("%s must be https://%s (or another Microsoft cloud's host: %s) "+
				"when PARTNERCENTER_CLIENT_SECRET is set, got %q; "+
				"set PARTNERFLOW_ALLOW_NON_MICROSOFT_URLS=true to send the tokens elsewhere",
				v.name, hosts[0], strings.Join(hosts[1:], ", "), v.value)
		}
	}
	return nil
}

// AppDatabase is the app database DSN: DATABASE_URL, or a SQLite file in the data dir.
func (c Config) AppDatabase() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return filepath.Join(c.DataDir, "partnerflow.db")
}

// BaseURL is where customers and the Web UI reach the API.
func (c Config) BaseURL() string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	return "http://" + c.HTTPAddr
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s must be a duration like 15m, got %q", name, v)
	}
	return d, nil
}

func envBool(name string, def bool) (bool, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s must be true or false, got %q", name, v)
	}
	return b, nil
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s must be a number, got %q", name, v)
	}
	return n, nil
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
