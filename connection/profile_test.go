package connection_test

import (
	"context"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/config"
	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

func TestPartnerName(t *testing.T) {
	cases := []struct {
		name, configured, company, want string
	}{
		{
			"the profile's company name replaces the configured default",
			config.DefaultPartnerName,
			"Northwind Traders",
			"Northwind Traders",
		},
		{"the profile's company name fills an empty configuration", "", "Northwind Traders", "Northwind Traders"},
		{"a name the operator configured wins", "Contoso Distribution", "Northwind Traders", "Contoso Distribution"},
		{"without a profile the configured default stays", config.DefaultPartnerName, "", config.DefaultPartnerName},
		{"without either, no name", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := connection.PartnerName(tc.configured, tc.company); got != tc.want {
				t.Fatalf("PartnerName(%q, %q) = %q, want %q", tc.configured, tc.company, got, tc.want)
			}
		})
	}
}

// profileManager is newManager reading the partner's profile from the simulator.
func profileManager(t *testing.T, s *testsim.Sim, store *models.Store) *connection.Manager {
	t.Helper()
	m := newManager(t, s, store)
	cfg := s.PartnerCenterConfig()
	cfg.UserTokens = m
	pc, err := partnercenter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.ReadProfileWith(pc)
	return m
}

func TestTheConnectionReadsThePartnersCompanyName(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		s := testsim.Start(t, sim.Config{})
		admin, company := sim.DefaultHomePartner.AdminUPN(), sim.DefaultHomePartner.CompanyName

		t.Run("connecting reads it from the partner's profile", func(t *testing.T) {
			m := profileManager(t, s, store)
			if got := m.CompanyName(); got != "" {
				t.Fatalf("before connecting: %q", got)
			}
			row, err := m.ConnectWith(ctx, redirectURI, signIn(admin, true))
			if err != nil || row.CompanyName != company || m.CompanyName() != company {
				t.Fatalf("connected %+v, %v; the manager knows %q", row, err, m.CompanyName())
			}
			if name, err := store.CompanyName(ctx, s.TenantID); err != nil || name != company {
				t.Fatalf("stored %q, %v", name, err)
			}
		})
		t.Run("another process sees it through the store", func(t *testing.T) {
			if got := newManager(t, s, store).CompanyName(); got != company {
				t.Fatalf("another process: %q", got)
			}
		})
		t.Run("a sign-in that cannot read the profile keeps the name read before", func(t *testing.T) {
			if _, err := newManager(t, s, store).ConnectWith(ctx, redirectURI, signIn(admin, true)); err != nil {
				t.Fatal(err)
			}
			if name, _ := store.CompanyName(ctx, s.TenantID); name != company {
				t.Fatalf("after a sign-in without the profile: %q", name)
			}
		})
		t.Run("the keep-alive reads it when it is not known, and again when it renews", func(t *testing.T) {
			if err := store.SetCompanyName(ctx, s.TenantID, ""); err != nil {
				t.Fatal(err)
			}
			logs := &logLines{}
			keepAlive(t, profileManager(t, s, store), nil, logs)
			eventually(t, "the company name", func() bool {
				name, _ := store.CompanyName(ctx, s.TenantID)
				return name == company
			})
			if err := store.SetCompanyName(ctx, s.TenantID, "Renamed before"); err != nil {
				t.Fatal(err)
			}
			idleFor(t, store, s.TenantID, 8*24*time.Hour)
			keepAlive(t, profileManager(t, s, store), nil, logs)
			eventually(t, "the name read at the renewal", func() bool {
				name, _ := store.CompanyName(ctx, s.TenantID)
				return name == company
			})
		})
	})
}
