package connection_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

const redirectURI = "http://127.0.0.1/auth/callback"

// newManager is a connection to the simulator's Entra ID, kept in store.
func newManager(t *testing.T, s *testsim.Sim, store *models.Store) *connection.Manager {
	t.Helper()
	entra, err := partnercenter.NewEntra(partnercenter.EntraConfig{
		AuthorityURL: s.URL,
		TenantID:     s.TenantID,
		ClientID:     sim.DemoApp.ClientID,
		ClientSecret: sim.DemoApp.ClientSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	return connection.New(connection.Config{
		Store:     store,
		Entra:     entra,
		Box:       notify.NewConnectionBox(bytes.Repeat([]byte{3}, 32)),
		PartnerID: s.TenantID,
	})
}

func signIn(upn string, mfa bool) connection.SignIn {
	return func(authURL string) (*url.URL, error) { return sim.SignIn(http.DefaultClient, authURL, upn, mfa) }
}

func TestConnection(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		s := testsim.Start(t, sim.Config{})
		admin := sim.DefaultHomePartner.AdminUPN()

		t.Run("before anyone connects, an App+User token is a wait, not a failure", func(t *testing.T) {
			m := newManager(t, s, store)
			_, err := m.UserToken(ctx, partnercenter.PartnerCenterUserScope)
			var lost *connection.LostError
			if !errors.As(err, &lost) || !errors.Is(err, partnercenter.ErrConnectionNeeded) ||
				lost.Reason != connection.ReasonNeverConnected {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("a sign-in without MFA is refused and nothing is stored", func(t *testing.T) {
			m := newManager(t, s, store)
			if _, err := m.ConnectWith(
				ctx,
				redirectURI,
				signIn(admin, false),
			); !errors.Is(err, partnercenter.ErrMFARequired) {
				t.Fatalf("err = %v, want ErrMFARequired", err)
			}
			if _, err := store.Connection(ctx, s.TenantID); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("a refused sign-in stored a connection: %v", err)
			}
		})
		t.Run("a user of another tenant is refused", func(t *testing.T) {
			m := newManager(t, s, store)
			_, err := m.ConnectWith(ctx, redirectURI, func(authURL string) (*url.URL, error) {
				// The same sign-in at a customer's tenant: its ID token names that tenant.
				u, _ := url.Parse(authURL)
				other := *u
				other.Path = "/11111111-1111-4111-8111-111111111111/oauth2/v2.0/authorize"
				return sim.SignIn(http.DefaultClient, other.String(), "admin@contoso.onmicrosoft.com", true)
			})
			if err == nil {
				t.Fatal("a sign-in in another tenant connected")
			}
			if _, err := store.Connection(ctx, s.TenantID); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("a refused sign-in stored a connection: %v", err)
			}
		})

		m := newManager(t, s, store)
		row, err := m.ConnectWith(ctx, redirectURI, signIn(admin, true))
		if err != nil {
			t.Fatal(err)
		}
		t.Run("a sign-in with MFA connects, with the refresh token sealed", func(t *testing.T) {
			got, err := store.Connection(ctx, s.TenantID)
			if err != nil || got.UPN != admin || !got.Connected() || got.Version != row.Version ||
				got.LapsesAt().IsZero() {
				t.Fatalf("%+v %v", got, err)
			}
			box := notify.NewConnectionBox(bytes.Repeat([]byte{3}, 32))
			if _, err := box.Open(s.TenantID, got.SealedRefreshToken); err != nil {
				t.Fatalf("the refresh token is not sealed for the partner: %v", err)
			}
			if _, err := box.Open("another-partner", got.SealedRefreshToken); err == nil {
				t.Fatal("the sealed refresh token opens for another partner")
			}
		})
		t.Run("App+User calls reach Partner Center with the connection's token", func(t *testing.T) {
			cfg := s.PartnerCenterConfig()
			cfg.UserTokens = m
			pc, err := partnercenter.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pc.RelationshipRequestURL(ctx, partnercenter.RelationshipRequestOptions{}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("each redemption stores the rotated refresh token over the version it redeemed", func(t *testing.T) {
			before, _ := store.Connection(ctx, s.TenantID)
			m.Forget()
			if _, err := m.UserToken(ctx, partnercenter.PartnerCenterUserScope); err != nil {
				t.Fatal(err)
			}
			after, _ := store.Connection(ctx, s.TenantID)
			if after.Version != before.Version+1 || bytes.Equal(after.SealedRefreshToken, before.SealedRefreshToken) {
				t.Fatalf(
					"version %d → %d, token changed: %v",
					before.Version,
					after.Version,
					!bytes.Equal(after.SealedRefreshToken, before.SealedRefreshToken),
				)
			}
		})
		t.Run("processes refreshing at once keep the connection working", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					other := newManager(t, s, store) // another api or worker process
					_, err := other.UserToken(ctx, partnercenter.PartnerCenterUserScope)
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			m.Forget()
			if _, err := m.UserToken(ctx, partnercenter.PartnerCenterUserScope); err != nil {
				t.Fatalf("after concurrent rotations: %v", err)
			}
		})
		t.Run(
			"an idle connection is renewed before Entra lets it lapse, a fresh one is left alone",
			func(t *testing.T) {
				if renewed, err := m.RenewIfIdle(ctx); err != nil || renewed {
					t.Fatalf("a connection used today: renewed %v, %v", renewed, err)
				}
				old := time.Now().Add(-8 * 24 * time.Hour)
				if err := store.DB.Model(&models.PartnerConnection{}).Where("partner_id = ?", s.TenantID).
					Update("refreshed_at", old).Error; err != nil {
					t.Fatal(err)
				}
				renewed, err := m.RenewIfIdle(ctx)
				got, _ := store.Connection(ctx, s.TenantID)
				if err != nil || !renewed || got.RefreshedAt.Before(time.Now().Add(-time.Minute)) {
					t.Fatalf("renewed %v, %v; refreshed at %v", renewed, err, got.RefreshedAt)
				}
			},
		)
		t.Run("a revoked connection is a wait with Entra's reason", func(t *testing.T) {
			cfg := s.PartnerCenterConfig()
			cfg.UserTokens = m
			pc, err := partnercenter.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pc.RelationshipRequestURL(ctx, partnercenter.RelationshipRequestOptions{}); err != nil {
				t.Fatal(err) // the access token is cached now
			}
			time.Sleep(time.Second) // tokens name their issue time in seconds
			if n := s.RevokeConnections(""); n == 0 {
				t.Fatal("nothing revoked")
			}
			// The service refuses the cached token at once; the client redeems the connection
			// again, once, and finds it revoked.
			_, err = pc.RelationshipRequestURL(ctx, partnercenter.RelationshipRequestOptions{})
			if !partnercenter.NeedsConnection(err) {
				t.Fatalf("an App+User call after the revocation: %v, want a wait for the connection", err)
			}
			_, err = m.UserToken(ctx, partnercenter.PartnerCenterUserScope)
			var lost *connection.LostError
			if !errors.As(err, &lost) || lost.Version == 0 {
				t.Fatalf("err = %v", err)
			}
			changed, err := store.MarkConnectionLost(ctx, models.ConnectionLoss{
				PartnerID: s.TenantID,
				Version:   lost.Version,
				Reason:    lost.Reason,
				At:        time.Now(),
			})
			if err != nil || !changed {
				t.Fatalf("first mark: %v %v", changed, err)
			}
			again, err := store.MarkConnectionLost(ctx, models.ConnectionLoss{
				PartnerID: s.TenantID,
				Version:   lost.Version,
				Reason:    lost.Reason,
				At:        time.Now(),
			})
			if err != nil || again {
				t.Fatalf("a loss is marked once: %v %v", again, err)
			}
			_, err = m.UserToken(ctx, partnercenter.PartnerCenterUserScope)
			if !errors.As(err, &lost) {
				t.Fatalf("after the loss: %v", err)
			}
		})
		t.Run("connecting again replaces the lost connection", func(t *testing.T) {
			if _, err := m.ConnectWith(ctx, redirectURI, signIn(admin, true)); err != nil {
				t.Fatal(err)
			}
			if _, err := m.UserToken(ctx, partnercenter.PartnerCenterUserScope); err != nil {
				t.Fatal(err)
			}
			got, _ := store.Connection(ctx, s.TenantID)
			if !got.Connected() || got.LostAt != nil {
				t.Fatalf("%+v", got)
			}
		})
	})
}
