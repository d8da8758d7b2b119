package connection

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// Check is one line of the doctor's report: what was checked, whether it works, what was seen,
// and, when it does not work, what to do.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// DoctorClient is the part of partnercenter.Client the doctor calls: read-only calls, one per
// credential class and service.
type DoctorClient interface {
	GetMPNProfile(ctx context.Context, mpnID string) (partnercenter.MPNProfile, error)
	FindCustomersByDomain(ctx context.Context, prefix string) ([]partnercenter.Customer, error)
	ListIndirectResellers(ctx context.Context) ([]partnercenter.PartnerRelationship, error)
	GetGDAPRelationship(ctx context.Context, id string) (partnercenter.GDAPRelationship, error)
	GetWebhookRegistration(ctx context.Context) (partnercenter.WebhookRegistration, error)
}

// DoctorConfig is what Doctor checks.
type DoctorConfig struct {
	// Connection gives the app-only tokens (its Entra) and the App+User ones.
	Connection *Manager
	// Client calls Partner Center and Graph with those tokens.
	Client DoctorClient
	// BaseURL is partnerflow's public address, where a global admin connects.
	BaseURL string
	// PartnerCenterURL is the Partner Center the client calls; its host signs webhook events.
	PartnerCenterURL string
	// WebhookURL is where Partner Center should send events (PARTNERFLOW_WEBHOOK_URL); empty
	// accepts any registered URL.
	WebhookURL string
	// WebhookEvents are the events the flows wait for; the registration must include each.
	WebhookEvents []string
	// WebhookCertHosts are the hosts the API takes webhook signing certificates from.
	WebhookCertHosts []string
	// SMTPURL and MailFrom configure outgoing mail; an empty SMTPURL means the outbox only.
	SMTPURL  string
	MailFrom string
	// Timeout bounds each check (default 20 seconds).
	Timeout time.Duration
}

// Names of the doctor's checks, in the order they run.
const (
	CheckPartnerCenterAppToken = "app-only token for Partner Center"
	CheckGraphAppToken         = "app-only token for Microsoft Graph"
	CheckConnection            = "App+User connection with MFA"
	CheckPartnerProfile        = "partner profile"
	CheckAppOnlyCall           = "app-only Partner Center call"
	CheckAppUserCall           = "App+User Partner Center call"
	CheckGDAPPermission        = "Graph permission for GDAP"
	CheckWebhookRegistration   = "webhook registration"
	CheckWebhookCertificate    = "webhook certificate host"
	CheckMail                  = "mail"
)

// FixGDAPPermission is what to do when Graph refuses the app's delegatedAdminRelationships calls.
const FixGDAPPermission = "grant the app the Graph application permission " +
	"DelegatedAdminRelationship.ReadWrite.All and admin-consent it; " +
	"provision the service principal 'Partner Customer Delegated Administration' " +
	"(appId 2832473f-ec63-45fb-976f-5d45a7d4bb91) " +
	"in the partner tenant (Microsoft Graph: Create delegatedAdminRelationship)"

// noRelationship is a GDAP relationship ID that names nothing: Graph answers 404 for it to an
// app allowed to read relationships, and 401 or 403 to one that is not.
const noRelationship = "00000000-0000-0000-0000-000000000000"

// Doctor checks everything partnerflow needs from Microsoft and from its own configuration, one
// line each, without changing anything at Microsoft: app-only tokens, the App+User connection,
// one read-only call per credential class, the Graph permission GDAP needs, the webhook
// registration and the mail server. It keeps the connection alive as any App+User call does.
func Doctor(ctx context.Context, cfg DoctorConfig) []Check {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	run := func(f func(ctx context.Context) Check) Check {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		return f(ctx)
	}
	fixConnect := "a global admin connects at " + strings.TrimRight(cfg.BaseURL, "/") +
		"/connection or runs `partnerflow connect`"
	var checks []Check
	add := func(c Check) { checks = append(checks, c) }

	add(run(func(context.Context) Check {
		return appToken(cfg.Connection, CheckPartnerCenterAppToken, partnercenter.PartnerCenterAudience)
	}))
	add(run(func(context.Context) Check {
		return appToken(cfg.Connection, CheckGraphAppToken, partnercenter.GraphAudience)
	}))
	conn := run(func(ctx context.Context) Check { return userConnection(ctx, cfg.Connection, fixConnect) })
	add(conn)
	needsConnection := func(name string) Check {
		return Check{
			Name:   name,
			Detail: "not tried: the App+User connection does not work (see above)",
			Fix:    fixConnect,
		}
	}
	if cfg.Client == nil {
		return append(checks, mailCheck(ctx, cfg))
	}

	if conn.OK {
		add(run(func(ctx context.Context) Check {
			p, err := cfg.Client.GetMPNProfile(ctx, "")
			if err != nil {
				return callFailed(CheckPartnerProfile, "GET /v1/profiles/mpn", err, fixConnect)
			}
			return Check{
				Name:   CheckPartnerProfile,
				OK:     true,
				Detail: fmt.Sprintf("%s, PartnerID (MPN ID) %s", p.PartnerName, p.MPNID),
			}
		}))
	} else {
		add(needsConnection(CheckPartnerProfile))
	}
	add(run(func(ctx context.Context) Check {
		found, err := cfg.Client.FindCustomersByDomain(ctx, "zzz-doctor")
		if err != nil {
			return callFailed(CheckAppOnlyCall, "find customers by domain", err, fixConnect)
		}
		return Check{
			Name:   CheckAppOnlyCall,
			OK:     true,
			Detail: fmt.Sprintf("find customers by domain answered (%d for the prefix zzz-doctor)", len(found)),
		}
	}))
	if conn.OK {
		add(run(func(ctx context.Context) Check {
			rs, err := cfg.Client.ListIndirectResellers(ctx)
			if err != nil {
				return callFailed(CheckAppUserCall, "list indirect resellers", err, fixConnect)
			}
			return Check{
				Name:   CheckAppUserCall,
				OK:     true,
				Detail: fmt.Sprintf("list indirect resellers answered (%d)", len(rs)),
			}
		}))
	} else {
		add(needsConnection(CheckAppUserCall))
	}
	add(run(func(ctx context.Context) Check { return gdapPermission(ctx, cfg.Client) }))
	add(run(func(ctx context.Context) Check { return webhookRegistration(ctx, cfg) }))
	add(webhookCertificate(cfg))
	add(mailCheck(ctx, cfg))
	return checks
}

// OK reports whether every check passed.
func OK(checks []Check) bool {
	return !slices.ContainsFunc(checks, func(c Check) bool { return !c.OK })
}

func appToken(m *Manager, name, audience string) Check {
	if m == nil {
		return Check{
			Name:   name,
			Detail: "no Partner Center app is configured",
			Fix:    "set PARTNERCENTER_TENANT_ID, PARTNERCENTER_CLIENT_ID and PARTNERCENTER_CLIENT_SECRET",
		}
	}
	if _, err := m.Entra().AppTokens(audience).Token(); err != nil {
		return Check{
			Name:   name,
			Detail: fmt.Sprintf("Entra ID refused the client credentials for %s: %v", audience, err),
			Fix: "check PARTNERCENTER_TENANT_ID, PARTNERCENTER_CLIENT_ID and PARTNERCENTER_CLIENT_SECRET: " +
				"the app registration in the partner tenant, with a client secret that has not expired",
		}
	}
	return Check{Name: name, OK: true, Detail: "Entra ID issued a token for " + audience}
}

func userConnection(ctx context.Context, m *Manager, fix string) Check {
	if m == nil {
		return Check{Name: CheckConnection, Detail: "no Partner Center app is configured", Fix: fix}
	}
	// Redeem the refresh token itself: a cached access token would hide a revoked connection.
	m.Forget()
	_, err := m.UserToken(ctx, partnercenter.PartnerCenterUserScope)
	var lost *LostError
	switch {
	case errors.As(err, &lost):
		return Check{Name: CheckConnection, Detail: lost.Reason, Fix: fix}
	case err != nil:
		return Check{
			Name:   CheckConnection,
			Detail: "Entra ID did not give an App+User token: " + err.Error(),
			Fix:    "try again; if it persists, " + fix,
		}
	}
	row, err := m.Status(ctx)
	if err != nil {
		return Check{
			Name:   CheckConnection,
			OK:     true,
			Detail: "App+User token earned (the connection's record could not be read: " + err.Error() + ")",
		}
	}
	detail := "connected as " + row.UPN
	if row.ConnectedAt != nil {
		detail += " since " + row.ConnectedAt.UTC().Format(time.DateOnly)
	}
	if lapses := row.LapsesAt(); !lapses.IsZero() {
		detail += "; lapses " + lapses.UTC().Format(time.DateOnly) + " unless used"
	}
	return Check{Name: CheckConnection, OK: true, Detail: detail}
}

// callFailed is the check of a read-only call that failed, with the fix its failure calls for.
func callFailed(name, call string, err error, fixConnect string) Check {
	c := Check{Name: name, Detail: call + " failed: " + err.Error()}
	switch {
	case partnercenter.NeedsConnection(err):
		c.Fix = fixConnect
	case partnercenter.IsStatus(err, http.StatusUnauthorized), partnercenter.IsStatus(err, http.StatusForbidden):
		c.Fix = "the app (or the connected user) lacks Partner Center access: add the app in Partner Center " +
			"(Account settings → App management) and connect with a user holding the Admin agent or Global admin role"
	default:
		c.Fix = "Partner Center did not answer as expected; try again, and check PARTNERCENTER_URL"
	}
	return c
}

func gdapPermission(ctx context.Context, c DoctorClient) Check {
	_, err := c.GetGDAPRelationship(ctx, noRelationship)
	switch {
	case err == nil, partnercenter.IsStatus(err, http.StatusNotFound):
		return Check{Name: CheckGDAPPermission, OK: true, Detail: "Graph lets the app read delegatedAdminRelationships"}
	case partnercenter.IsStatus(err, http.StatusUnauthorized), partnercenter.IsStatus(err, http.StatusForbidden):
		return Check{
			Name:   CheckGDAPPermission,
			Detail: "Graph refused to read delegatedAdminRelationships: " + err.Error(),
			Fix:    FixGDAPPermission,
		}
	}
	return Check{
		Name:   CheckGDAPPermission,
		Detail: "get delegatedAdminRelationship failed: " + err.Error(),
		Fix:    "try again, and check GRAPH_URL",
	}
}

func webhookRegistration(ctx context.Context, cfg DoctorConfig) Check {
	fix := "set PARTNERFLOW_WEBHOOK_URL to " + strings.TrimRight(cfg.BaseURL, "/") +
		"/webhooks/partner-center and restart the worker: it registers the webhook"
	reg, err := cfg.Client.GetWebhookRegistration(ctx)
	switch {
	case partnercenter.IsStatus(err, http.StatusNotFound):
		return Check{
			Name:   CheckWebhookRegistration,
			Detail: "Partner Center has no webhook registration: flows learn of customers' acceptances only by polling",
			Fix:    fix,
		}
	case err != nil:
		return Check{
			Name:   CheckWebhookRegistration,
			Detail: "get webhook registration failed: " + err.Error(),
			Fix:    "try again, and check PARTNERCENTER_URL",
		}
	case cfg.WebhookURL != "" && reg.WebhookURL != cfg.WebhookURL:
		return Check{
			Name:   CheckWebhookRegistration,
			Detail: fmt.Sprintf("events go to %s, not to PARTNERFLOW_WEBHOOK_URL %s", reg.WebhookURL, cfg.WebhookURL),
			Fix:    "restart the worker: it updates the registration",
		}
	}
	var missing []string
	for _, e := range cfg.WebhookEvents {
		if !slices.ContainsFunc(reg.WebhookEvents, func(have string) bool { return strings.EqualFold(have, e) }) {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		return Check{
			Name:   CheckWebhookRegistration,
			Detail: fmt.Sprintf("events go to %s, but without %s", reg.WebhookURL, strings.Join(missing, ", ")),
			Fix:    "restart the worker: it updates the registration",
		}
	}
	return Check{
		Name:   CheckWebhookRegistration,
		OK:     true,
		Detail: fmt.Sprintf("events go to %s (%d events)", reg.WebhookURL, len(reg.WebhookEvents)),
	}
}

// webhookCertificate checks that the API takes the signing certificate from the Partner Center
// it calls: Partner Center's certificate URL names its own host (the simulator's, its own).
func webhookCertificate(cfg DoctorConfig) Check {
	u, err := url.Parse(cfg.PartnerCenterURL)
	if cfg.PartnerCenterURL == "" || err != nil || u.Host == "" {
		return Check{
			Name:   CheckWebhookCertificate,
			Detail: fmt.Sprintf("PARTNERCENTER_URL %q names no host", cfg.PartnerCenterURL),
			Fix:    "set PARTNERCENTER_URL",
		}
	}
	for _, h := range cfg.WebhookCertHosts {
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, u.Hostname()) && u.Port() == "" {
			return Check{
				Name:   CheckWebhookCertificate,
				OK:     true,
				Detail: "signing certificates are taken from " + u.Host,
			}
		}
	}
	return Check{
		Name: CheckWebhookCertificate,
		Detail: fmt.Sprintf(
			"%s is not among the certificate hosts (%s): every event would be refused",
			u.Host,
			strings.Join(cfg.WebhookCertHosts, ", "),
		),
		Fix: "add " + u.Host + " to PARTNERCENTER_WEBHOOK_CERT_HOSTS",
	}
}

// mailCheck passes an empty SMTP_URL (mail stays in the outbox, which is what dev wants) and
// fails only a configured server that is invalid or does not answer.
func mailCheck(ctx context.Context, cfg DoctorConfig) Check {
	if cfg.SMTPURL == "" {
		return Check{
			Name:   CheckMail,
			OK:     true,
			Detail: "SMTP_URL is empty: mail goes to the outbox only (the outbox table and the log)",
		}
	}
	from := cfg.MailFrom
	if from == "" {
		from = "partnerflow@localhost"
	}
	if _, err := notify.NewMailer(cfg.SMTPURL, from); err != nil {
		return Check{
			Name:   CheckMail,
			Detail: err.Error(),
			Fix: "set SMTP_URL like smtp://user:pass@host:587 or smtps://host:465, " +
				"and PARTNERFLOW_MAIL_FROM to an address",
		}
	}
	u, _ := url.Parse(cfg.SMTPURL)
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(map[string]int{"smtp": 587, "smtps": 465}[u.Scheme])
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return Check{
			Name:   CheckMail,
			Detail: "the SMTP server " + addr + " does not answer: " + err.Error(),
			Fix:    "check SMTP_URL's host and port, and that this host may reach it",
		}
	}
	_ = conn.Close()
	return Check{Name: CheckMail, OK: true, Detail: "the SMTP server " + addr + " answers"}
}
