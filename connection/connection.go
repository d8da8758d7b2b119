// Package connection keeps the partner's App+User connection to Partner Center (Microsoft's
// secure application model): a partner admin signs in once with MFA, partnerflow keeps the
// refresh token sealed in the app database, redeems it for the App+User calls Microsoft
// requires, and stores each rotated refresh token so that every api and worker process shares
// one connection.
package connection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/partnerflow/partnerflow/config"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// Config is what a Manager needs.
type Config struct {
	Store *models.Store
	Entra *partnercenter.Entra
	// Box seals the refresh token (notify.NewConnectionBox), bound to the partner ID.
	Box *notify.SecretBox
	// PartnerID is the partner tenant the connection belongs to.
	PartnerID string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives what the Manager cannot return, such as a profile it could not read
	// after a sign-in; nil means slog.Default().
	Logger *slog.Logger
}

// Manager gives App+User tokens from the stored connection; it implements
// partnercenter.UserTokens.
type Manager struct {
	cfg Config

	mu sync.Mutex
	// tokens caches access tokens by scope, for the connection version that earned them.
	tokens  map[string]*oauth2.Token
	version int64
	touched time.Time

	// profiles reads the partner's Partner Center profile (ReadProfileWith).
	profiles ProfileReader
	// nameMu guards the company name read from the store for CompanyName.
	nameMu     sync.Mutex
	name       string
	nameReadAt time.Time
}

var _ partnercenter.UserTokens = (*Manager)(nil)

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Manager{cfg: cfg, tokens: map[string]*oauth2.Token{}}
}

// LostError is the error of an App+User call without a working connection. It wraps
// partnercenter.ErrConnectionNeeded.
type LostError struct {
	// Version is the connection's version that did not work (0: there was none).
	Version int64
	// Reason says why, for the partner.
	Reason string
}

func (e *LostError) Error() string {
	return fmt.Sprintf("%s: %s", partnercenter.ErrConnectionNeeded, e.Reason)
}

// Unwrap makes the error a partnercenter.ErrConnectionNeeded.
func (e *LostError) Unwrap() error { return partnercenter.ErrConnectionNeeded }

// ReasonNeverConnected is the reason of a call before any partner admin connected.
const ReasonNeverConnected = "no partner admin has connected partnerflow to Partner Center yet"

// earlyRefresh renews an access token this long before it expires.
const earlyRefresh = 2 * time.Minute

// UserToken returns an App+User access token for scope, redeeming the stored refresh token when
// no cached one is fresh, and storing the rotated refresh token Entra returns. A refresh token
// Entra refuses (revoked, lapsed) is a *LostError; a transient failure is returned as it is.
func (m *Manager) UserToken(ctx context.Context, scope string) (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	if tok := m.tokens[scope]; tok != nil && tok.Expiry.After(now.Add(earlyRefresh)) {
		m.touch(ctx, now)
		return tok, nil
	}
	row, err := m.cfg.Store.Connection(ctx, m.cfg.PartnerID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, &LostError{Reason: ReasonNeverConnected}
	}
	if err != nil {
		return nil, err
	}
	if !row.Connected() {
		reason := row.LostReason
		if reason == "" {
			reason = ReasonNeverConnected
		}
		return nil, &LostError{Version: row.Version, Reason: reason}
	}
	refresh, err := m.cfg.Box.Open(m.cfg.PartnerID, row.SealedRefreshToken)
	if err != nil {
		return nil, err
	}
	tok, err := m.cfg.Entra.Refresh(ctx, refresh, scope)
	if errors.Is(err, partnercenter.ErrConnectionNeeded) {
		m.forget()
		return nil, &LostError{Version: row.Version, Reason: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	if _, err := m.cfg.Store.RotateRefreshToken(
		ctx,
		m.cfg.PartnerID,
		row.Version,
		m.cfg.Box.Seal(m.cfg.PartnerID, tok.RefreshToken),
		now,
	); err != nil {
		return nil, err
	}
	if row.Version != m.version {
		m.tokens, m.version = map[string]*oauth2.Token{}, row.Version
	}
	access := &oauth2.Token{AccessToken: tok.AccessToken, TokenType: "Bearer", Expiry: tok.Expiry}
	m.tokens[scope] = access
	m.touched = now
	return access, nil
}

// Forget drops the cached access tokens, so the next call redeems the refresh token again (after
// the service refused a cached token, say).
func (m *Manager) Forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forget()
}

func (m *Manager) forget() { m.tokens = map[string]*oauth2.Token{} }

// touch records the connection's use at most once a minute.
func (m *Manager) touch(ctx context.Context, now time.Time) {
	if now.Sub(m.touched) < time.Minute {
		return
	}
	m.touched = now
	_ = m.cfg.Store.TouchConnection(ctx, m.cfg.PartnerID, now)
}

// Connect stores a partner admin's sign-in as the connection, replacing any earlier one, and
// reads the partner's company name from its Partner Center profile with the new connection. A
// profile that cannot be read now is logged, not refused: the keep-alive reads it later.
func (m *Manager) Connect(ctx context.Context, g partnercenter.Grant) (*models.PartnerConnection, error) {
	row := &models.PartnerConnection{
		PartnerID: m.cfg.PartnerID, UPN: g.Identity.UPN, Name: g.Identity.Name, ObjectID: g.Identity.ObjectID,
		SealedRefreshToken: m.cfg.Box.Seal(m.cfg.PartnerID, g.RefreshToken),
	}
	if err := m.cfg.Store.SaveConnection(ctx, row, m.cfg.Now()); err != nil {
		return nil, err
	}
	m.Forget()
	if name, err := m.RefreshProfile(ctx); err != nil {
		m.cfg.Logger.WarnContext(
			ctx,
			"could not read the partner's Partner Center profile after connecting; the keep-alive tries again",
			"error", err,
		)
	} else if name != "" {
		row.CompanyName = name
	}
	return row, nil
}

// ProfileReader reads a partner's PartnerID (MPN) profile; partnercenter.Client is one. With
// an empty mpnID it reads the signed-in partner's own profile, an App+User call.
type ProfileReader interface {
	GetMPNProfile(ctx context.Context, mpnID string) (partnercenter.MPNProfile, error)
}

// ReadProfileWith makes the Manager read the partner's company name with r whenever the
// connection is made or renewed. The Partner Center client that reads it takes its App+User
// tokens from this Manager, so it is set after both exist, before the Manager is used.
func (m *Manager) ReadProfileWith(r ProfileReader) { m.profiles = r }

// RefreshProfile reads the partner's own profile from Partner Center and keeps its company name
// with the connection, for customers to see (PartnerName). It returns the name, "" when no
// profile reader is set or the profile names none.
func (m *Manager) RefreshProfile(ctx context.Context) (string, error) {
	if m.profiles == nil {
		return "", nil
	}
	p, err := m.profiles.GetMPNProfile(ctx, "")
	if err != nil {
		return "", fmt.Errorf("read the partner's Partner Center profile: %w", err)
	}
	name := strings.TrimSpace(p.PartnerName)
	if name == "" {
		return "", nil
	}
	if err := m.cfg.Store.SetCompanyName(ctx, m.cfg.PartnerID, name); err != nil {
		return "", err
	}
	m.nameMu.Lock()
	m.name, m.nameReadAt = name, m.cfg.Now()
	m.nameMu.Unlock()
	return name, nil
}

// companyNameTTL is how long CompanyName trusts the name it read: another process may renew the
// connection and read a new one.
const companyNameTTL = time.Minute

// CompanyName is the partner's company name from its Partner Center profile, "" while it is not
// known. It reads the store at most once a minute, so the pages that show it cost no query each;
// when the store does not answer it keeps the name it had.
func (m *Manager) CompanyName() string {
	m.nameMu.Lock()
	defer m.nameMu.Unlock()
	now := m.cfg.Now()
	if !m.nameReadAt.IsZero() && now.Sub(m.nameReadAt) < companyNameTTL {
		return m.name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	name, err := m.cfg.Store.CompanyName(ctx, m.cfg.PartnerID)
	if err != nil {
		m.cfg.Logger.Warn("read the partner's company name", "error", err)
		return m.name
	}
	m.name, m.nameReadAt = name, now
	return name
}

// PartnerName is the partner's name as customers see it on pages and in mails: the name the
// operator configured (PARTNERFLOW_PARTNER_NAME) when it is set to anything but the default;
// otherwise the company name of the partner's Partner Center profile, once the connection has
// read it; otherwise the configured default.
func PartnerName(configured, companyName string) string {
	if companyName == "" || (configured != "" && configured != config.DefaultPartnerName) {
		return configured
	}
	return companyName
}

// Entra is the sign-in service the connection is made with.
func (m *Manager) Entra() *partnercenter.Entra { return m.cfg.Entra }

// Status returns the stored connection; a partner that never connected gets an empty one.
func (m *Manager) Status(ctx context.Context) (*models.PartnerConnection, error) {
	row, err := m.cfg.Store.Connection(ctx, m.cfg.PartnerID)
	if errors.Is(err, models.ErrNotFound) {
		return &models.PartnerConnection{PartnerID: m.cfg.PartnerID}, nil
	}
	return row, err
}

// SignIn carries a user through Entra ID's sign-in at authURL and returns the redirect it ends
// with: the app's redirect URI with the code and state (a browser, or sim.SignIn).
type SignIn func(authURL string) (*url.URL, error)

// ConnectWith makes the connection through the authorization code grant with PKCE, the user's
// part done by signIn: the same checks as the dashboard's (state, PKCE, partner tenant, MFA).
// dev uses it with its own simulator.
func (m *Manager) ConnectWith(
	ctx context.Context,
	redirectURI string,
	signIn SignIn,
) (*models.PartnerConnection, error) {
	state, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	back, err := signIn(m.cfg.Entra.AuthCodeURL(redirectURI, state, verifier))
	if err != nil {
		return nil, err
	}
	q := back.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("the sign-in was refused: %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return nil, errors.New("the sign-in came back with another state")
	}
	grant, err := m.cfg.Entra.Exchange(ctx, redirectURI, q.Get("code"), verifier)
	if err != nil {
		return nil, err
	}
	return m.Connect(ctx, grant)
}

// renewAfter is how old a refresh token may grow before RenewIfIdle redeems it, far inside the
// 90 days after which Entra lets an unused one lapse.
const renewAfter = 7 * 24 * time.Hour

// RenewIfIdle redeems the refresh token when it was last redeemed more than a week ago, so that a
// partner with no App+User call for months keeps its connection. It reports whether it renewed;
// a connection that is lost or was never made is left alone (the next App+User call reports it).
func (m *Manager) RenewIfIdle(ctx context.Context) (bool, error) {
	row, err := m.Status(ctx)
	if err != nil || !row.Connected() || row.RefreshedAt == nil || m.cfg.Now().Sub(*row.RefreshedAt) < renewAfter {
		return false, err
	}
	m.Forget()
	if _, err := m.UserToken(ctx, partnercenter.PartnerCenterUserScope); err != nil {
		return false, err
	}
	return true, nil
}

// LapseWarningBefore is how long before the refresh token would lapse the partner is warned.
const LapseWarningBefore = 14 * 24 * time.Hour

// Lapse is what the partner is told when the connection would lapse soon.
type Lapse struct {
	Connection *models.PartnerConnection
	LapsesAt   time.Time
	// Reason is why the last renewal failed; "" when none failed.
	Reason string
}

// LapseWarner tells the partner that one version of the connection lapses soon, at most once
// per version; it reports whether this call told (false: it was told before). The activities
// give the one partnerflow runs (activities.LapseWarner).
type LapseWarner func(ctx context.Context, l Lapse) (bool, error)

// WarnIfLapsing calls warn when the stored connection works but would lapse within
// LapseWarningBefore (its renewal kept failing, or no keep-alive ran) and this version has not
// been warned; renewErr is the last renewal's failure, for the partner to read. It reports
// whether the partner was told now.
func (m *Manager) WarnIfLapsing(ctx context.Context, renewErr error, warn LapseWarner) (bool, error) {
	row, err := m.Status(ctx)
	if err != nil || !row.Connected() || row.LapseWarnedAt != nil {
		return false, err
	}
	lapses := row.LapsesAt()
	if lapses.IsZero() || lapses.Sub(m.cfg.Now()) > LapseWarningBefore {
		return false, nil
	}
	l := Lapse{Connection: row, LapsesAt: lapses}
	if renewErr != nil {
		l.Reason = renewErr.Error()
	}
	return warn(ctx, l)
}

// KeepAlive tends the connection every interval until ctx ends; the worker runs it. Each round
// renews an idle connection (RenewIfIdle), reads the partner's company name when it was renewed
// or is not known yet, and, unless the connection turned out revoked (the next App+User call
// tells the partner that), warns through warn when it would lapse soon anyway (WarnIfLapsing).
// A nil warn warns nobody.
func (m *Manager) KeepAlive(ctx context.Context, interval time.Duration, warn LapseWarner, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m.tend(ctx, warn, logger)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tend is one round of KeepAlive.
func (m *Manager) tend(ctx context.Context, warn LapseWarner, logger *slog.Logger) {
	renewed, err := m.RenewIfIdle(ctx)
	var lost *LostError
	switch {
	case errors.As(err, &lost):
		logger.WarnContext(
			ctx,
			"the Partner Center connection stopped working; the next App+User call tells the partner",
			"reason", lost.Reason,
		)
		return
	case err != nil:
		logger.WarnContext(ctx, "could not renew the Partner Center connection", "error", err)
	case renewed:
		logger.InfoContext(ctx, "renewed the idle Partner Center connection")
	}
	if err == nil {
		if row, serr := m.Status(ctx); serr == nil && row.Connected() && (renewed || row.CompanyName == "") {
			if _, perr := m.RefreshProfile(ctx); perr != nil {
				logger.WarnContext(ctx, "could not read the partner's Partner Center profile", "error", perr)
			}
		}
	}
	if warn == nil || ctx.Err() != nil {
		return
	}
	if warned, werr := m.WarnIfLapsing(ctx, err, warn); werr != nil {
		logger.ErrorContext(
			ctx,
			"could not warn the partner that the Partner Center connection lapses soon",
			"error", werr,
		)
	} else if warned {
		logger.WarnContext(ctx, "the Partner Center connection lapses soon; the partner was told")
	}
}
