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
	"sync"
	"time"

	"golang.org/x/oauth2"

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
}

var _ partnercenter.UserTokens = (*Manager)(nil)

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
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
	if _, err := m.cfg.Store.RotateRefreshToken(ctx, m.cfg.PartnerID, row.Version, m.cfg.Box.Seal(m.cfg.PartnerID, tok.RefreshToken), now); err != nil {
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

// Connect stores a partner admin's sign-in as the connection, replacing any earlier one.
func (m *Manager) Connect(ctx context.Context, g partnercenter.Grant) (*models.PartnerConnection, error) {
	row := &models.PartnerConnection{
		PartnerID: m.cfg.PartnerID, UPN: g.Identity.UPN, Name: g.Identity.Name, ObjectID: g.Identity.ObjectID,
		SealedRefreshToken: m.cfg.Box.Seal(m.cfg.PartnerID, g.RefreshToken),
	}
	if err := m.cfg.Store.SaveConnection(ctx, row, m.cfg.Now()); err != nil {
		return nil, err
	}
	m.Forget()
	return row, nil
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
func (m *Manager) ConnectWith(ctx context.Context, redirectURI string, signIn SignIn) (*models.PartnerConnection, error) {
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

// KeepAlive calls RenewIfIdle every interval until ctx ends; the worker runs it.
func (m *Manager) KeepAlive(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if renewed, err := m.RenewIfIdle(ctx); err != nil {
			logger.WarnContext(ctx, "could not renew the Partner Center connection", "error", err)
		} else if renewed {
			logger.InfoContext(ctx, "renewed the idle Partner Center connection")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
