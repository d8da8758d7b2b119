package testsim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

func TestStartServesASeededSimulatorAtItsURL(t *testing.T) {
	s := testsim.Start(t, sim.Config{ActivationDelay: time.Millisecond})
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.HTTP.URL != s.URL {
		t.Fatalf("URL %q, HTTP %q: want the loopback test server", s.URL, s.HTTP.URL)
	}
	if s.TenantID != sim.DefaultHomePartner.TenantID {
		t.Fatalf("tenant %q, want the default home partner", s.TenantID)
	}
	ctx := context.Background()
	c := s.Client(t)
	resp, err := http.Post(s.URL+"/sim/tenants", "application/json",
		strings.NewReader(`{"domain":"contoso.onmicrosoft.com","country":"US","companyName":"again"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("the demo tenant contoso must be seeded: creating it again answered %d", resp.StatusCode)
	}
	req, err := c.RelationshipRequestURL(ctx, partnercenter.RelationshipRequestOptions{})
	if err != nil || !strings.HasPrefix(req.URL, s.URL+"/") {
		t.Fatalf("the simulator's links must use its URL %s: %+v %v", s.URL, req, err)
	}
	if cfg := s.PartnerCenterConfig(); cfg.PartnerCenterURL != s.URL || cfg.GraphURL != s.URL ||
		cfg.AuthorityURL != s.URL || cfg.TenantID != s.TenantID || cfg.ClientID != sim.DemoApp.ClientID ||
		cfg.UserTokens == nil {
		t.Fatalf("config %+v: want the simulator's demo app, connected, at %s", cfg, s.URL)
	}
	s.SetFaults(sim.Faults{}) // the simulator's controls are at hand
}

func TestStartActsAsTheConfiguredHomePartner(t *testing.T) {
	home := sim.DefaultHomePartner
	home.TenantID = "0a1b2c3d-0000-4000-8000-000000000001"
	s := testsim.Start(t, sim.Config{HomePartner: home})
	if s.TenantID != home.TenantID || s.PartnerCenterConfig().TenantID != home.TenantID {
		t.Fatalf("tenant %q, want %q", s.TenantID, home.TenantID)
	}
}

func TestCloseStopsServingAndMayRepeat(t *testing.T) {
	s := testsim.Start(t, sim.Config{})
	s.Close()
	s.Close() // and once more in the cleanup
	if resp, err := http.Get(s.URL + sim.CertificatePath); err == nil {
		resp.Body.Close()
		t.Fatal("a closed simulator still answers")
	}
}
