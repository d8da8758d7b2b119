// Package testsim starts the Partner Center simulator for tests: seeded with the demo world and
// served over real HTTP, as partnerflow meets it in dev and in the production shape.
package testsim

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// Sim is a running simulator. The embedded *sim.Server gives the test its controls (faults,
// deliveries); Close is registered with the test.
type Sim struct {
	*sim.Server
	// URL is where the simulator answers Partner Center, Graph and /sim paths; its links and
	// pages use it too.
	URL string
	// HTTP is the test server carrying it.
	HTTP *httptest.Server
	// TenantID is the partner partnerflow acts as: cfg.HomePartner, or sim.DefaultHomePartner.
	TenantID string
}

// Start serves a simulator built from cfg over HTTP on a loopback port, points its public URL
// at that port and seeds the demo tenants and resellers (SeedDemo). When the test ends the
// HTTP server closes first, then the simulator.
func Start(t testing.TB, cfg sim.Config) *Sim {
	t.Helper()
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("start the Partner Center simulator: %v", err)
	}
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	s.SetPublicURL(srv.URL)
	if err := s.SeedDemo(); err != nil {
		t.Fatalf("seed the Partner Center simulator: %v", err)
	}
	tenant := cfg.HomePartner.TenantID
	if tenant == "" {
		tenant = sim.DefaultHomePartner.TenantID
	}
	return &Sim{Server: s, URL: srv.URL, HTTP: srv, TenantID: tenant}
}

// Close stops serving and stops the simulator before the test ends (to restart one on the same
// data file, say); calling it again, or the cleanup doing so, is harmless.
func (s *Sim) Close() {
	s.HTTP.Close()
	s.Server.Close()
}

// PartnerCenterConfig is a client configuration for Partner Center and Graph at the simulator,
// acting as its home partner through the simulator's demo app, and connected: App+User calls
// carry tokens of the home partner's admin, signed in with MFA (ConnectedAs). Set UserTokens
// to nil for a partner that never connected.
func (s *Sim) PartnerCenterConfig() partnercenter.Config {
	return partnercenter.Config{
		PartnerCenterURL: s.URL, GraphURL: s.URL, AuthorityURL: s.URL, TenantID: s.TenantID,
		ClientID: sim.DemoApp.ClientID, ClientSecret: sim.DemoApp.ClientSecret,
		UserTokens: s.ConnectedAs(sim.TokenRequest{}),
	}
}

// Client is a Partner Center and Graph client of the simulator built from PartnerCenterConfig.
func (s *Sim) Client(t testing.TB) *partnercenter.HTTPClient {
	t.Helper()
	c, err := partnercenter.New(s.PartnerCenterConfig())
	if err != nil {
		t.Fatalf("partner center client of the simulator: %v", err)
	}
	return c
}

// ConnectedAs is an App+User token source standing for a partner user who connected
// partnerflow: each token is minted by the simulator for req (the home partner's admin, with
// MFA, when req is zero), as Entra would issue it for that sign-in.
func (s *Sim) ConnectedAs(req sim.TokenRequest) partnercenter.UserTokens {
	return mintedTokens{s: s.Server, req: req}
}

type mintedTokens struct {
	s   *sim.Server
	req sim.TokenRequest
}

func (m mintedTokens) UserToken(_ context.Context, _ string) (*oauth2.Token, error) {
	tok, err := m.s.MintToken(m.req)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: time.Now().Add(30 * time.Minute)}, nil
}
