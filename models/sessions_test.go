package models_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

func randomKey(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestBootstrapKeyStrength(t *testing.T) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	minted := "pfk_0123456789ab_" + base64.RawURLEncoding.EncodeToString(b)
	for _, ok := range []string{
		hex.EncodeToString(b),
		base64.StdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		minted,
	} {
		if err := models.CheckKeyStrength(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, weak := range []string{
		"", "s3cret-bootstrap", "correct horse battery staple",
		hex.EncodeToString(b[:31]), base64.StdEncoding.EncodeToString(b[:31]),
		strings.Repeat("A", 64), strings.Repeat("ab", 40), "pfk_0123456789ab_short",
	} {
		if err := models.CheckKeyStrength(weak); !errors.Is(err, models.ErrWeakKey) {
			t.Errorf("%q accepted", weak)
		}
	}
	store := testdb.SQLite(t)
	if err := store.EnsureAPIKey(
		context.Background(),
		"bootstrap",
		"s3cret-bootstrap",
		models.AllRoles...,
	); !errors.Is(err, models.ErrWeakKey) {
		t.Fatalf("a weak bootstrap key was provisioned: %v", err)
	}
}

func TestBootstrapKeyIDIsRandomAndRevocationSticks(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		key := randomKey(t)
		if err := store.EnsureAPIKey(ctx, "bootstrap", key, models.AllRoles...); err != nil {
			t.Fatal(err)
		}
		got, err := store.AuthenticateAPIKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var hashed models.APIKey
		if err := store.DB.Where("id = ?", got.ID).First(&hashed).Error; err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hashed.SecretHash, strings.TrimPrefix(got.ID, "boot")) {
			t.Fatalf("the key ID %s is derived from its hash %s", got.ID, hashed.SecretHash)
		}
		// Another database given the same key gets another ID.
		other := testdb.SQLite(t)
		if err := other.EnsureAPIKey(ctx, "bootstrap", key, models.AllRoles...); err != nil {
			t.Fatal(err)
		}
		if k, _ := other.AuthenticateAPIKey(ctx, key); k == nil || k.ID == got.ID {
			t.Fatalf("two databases gave the same key the same ID %s", got.ID)
		}

		if err := store.RevokeAPIKey(ctx, got.ID); err != nil {
			t.Fatal(err)
		}
		// The next start provisions the same key again: it stays revoked.
		if err := store.EnsureAPIKey(ctx, "bootstrap", key, models.AllRoles...); !errors.Is(err, models.ErrKeyRevoked) {
			t.Fatalf("provisioning a revoked key: %v", err)
		}
		if _, err := store.AuthenticateAPIKey(ctx, key); !errors.Is(err, models.ErrInvalidKey) {
			t.Fatalf("a revoked bootstrap key came back: %v", err)
		}
		// A new key replaces it.
		fresh := randomKey(t)
		if err := store.EnsureAPIKey(ctx, "bootstrap", fresh, models.AllRoles...); err != nil {
			t.Fatal(err)
		}
		if _, err := store.AuthenticateAPIKey(ctx, fresh); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLegacyBootstrapKeyIDIsReplaced(t *testing.T) {
	ctx := context.Background()
	store := testdb.SQLite(t)
	key := randomKey(t)
	if err := store.EnsureAPIKey(ctx, "bootstrap", key, models.AllRoles...); err != nil {
		t.Fatal(err)
	}
	k, _ := store.AuthenticateAPIKey(ctx, key)
	var row models.APIKey
	store.DB.Where("id = ?", k.ID).First(&row)
	legacy := "boot" + row.SecretHash[:8]
	if err := store.DB.Model(&models.APIKey{}).Where("id = ?", k.ID).Update("id", legacy).Error; err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureAPIKey(ctx, "bootstrap", key, models.AllRoles...); err != nil {
		t.Fatal(err)
	}
	k, err := store.AuthenticateAPIKey(ctx, key)
	if err != nil || k.ID == legacy {
		t.Fatalf("the legacy ID derived from the hash was kept: %+v %v", k, err)
	}
}

func TestSessionsEndOnSignOutRevocationAndExpiry(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		plaintext, key, err := store.CreateAPIKey(ctx, "ops", models.RoleAdminAgent)
		if err != nil {
			t.Fatal(err)
		}
		_ = plaintext
		now := time.Now()
		id, err := store.CreateSession(ctx, key.ID, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var stored models.Session
		if err := store.DB.First(&stored).Error; err != nil || stored.IDHash == id ||
			strings.Contains(stored.IDHash, id) {
			t.Fatalf("the session ID is stored in the clear: %+v %v", stored, err)
		}
		if got, err := store.SessionKey(ctx, id, now); err != nil || got.ID != key.ID {
			t.Fatalf("a live session: %+v %v", got, err)
		}
		if _, err := store.SessionKey(ctx, id, now.Add(2*time.Hour)); !errors.Is(err, models.ErrNoSession) {
			t.Fatalf("an expired session: %v", err)
		}
		if _, err := store.SessionKey(ctx, id+"x", now); !errors.Is(err, models.ErrNoSession) {
			t.Fatalf("an unknown session: %v", err)
		}
		if err := store.EndSession(ctx, id, now); err != nil {
			t.Fatal(err)
		}
		if _, err := store.SessionKey(ctx, id, now); !errors.Is(err, models.ErrNoSession) {
			t.Fatalf("a signed-out session: %v", err)
		}

		second, _ := store.CreateSession(ctx, key.ID, now, time.Hour)
		if err := store.RevokeAPIKey(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := store.SessionKey(ctx, second, now); !errors.Is(err, models.ErrNoSession) {
			t.Fatalf("a session of a revoked key: %v", err)
		}
		var open int64
		store.DB.Model(&models.Session{}).Where("revoked_at IS NULL").Count(&open)
		if open != 0 {
			t.Fatalf("revoking the key left %d sessions open", open)
		}
		if n, err := store.PruneSessions(ctx, now.Add(time.Minute)); err != nil || n != 2 {
			t.Fatalf("pruned %d sessions, want 2: %v", n, err)
		}
	})
}

func TestLastUsedAtIsRecordedAtMostOnceAMinute(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		_, key, err := store.CreateAPIKey(ctx, "ci", models.RoleSalesAgent)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now().UTC().Truncate(time.Second)
		if err := store.TouchAPIKey(ctx, key, t0); err != nil {
			t.Fatal(err)
		}
		read := func() time.Time {
			k, err := store.APIKeyByID(ctx, key.ID)
			if err != nil || k.LastUsedAt == nil {
				t.Fatalf("LastUsedAt not recorded: %+v %v", k, err)
			}
			return k.LastUsedAt.UTC()
		}
		if got := read(); !got.Equal(t0) {
			t.Fatalf("LastUsedAt %v, want %v", got, t0)
		}
		// A fresh copy of the key (another request) within the minute writes nothing.
		fresh, _ := store.APIKeyByID(ctx, key.ID)
		if err := store.TouchAPIKey(ctx, fresh, t0.Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := read(); !got.Equal(t0) {
			t.Fatalf("a use within the minute was written: %v", got)
		}
		if err := store.TouchAPIKey(ctx, fresh, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := read(); !got.Equal(t0.Add(2 * time.Minute)) {
			t.Fatalf("LastUsedAt %v after two minutes", got)
		}
	})
}

// TestStaffSessionsStandForTheUser: a session of a staff member signed in with Microsoft answers
// with a key that names the user and the roles it signed in with, and ends like any session.
func TestStaffSessionsStandForTheUser(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		now := time.Now()
		id, err := store.CreateStaffSession(ctx, "oid-1", "ada@fabrikam.example",
			models.NewRoles(models.RoleSalesAgent), now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		key, err := store.SessionKey(ctx, id, now)
		if err != nil || key.ID != models.StaffKeyPrefix+"oid-1" || key.Name != "ada@fabrikam.example" ||
			!key.Roles.Has(models.RoleSalesAgent) || key.Roles.Has(models.RoleAdminAgent) {
			t.Fatalf("staff key %+v %v", key, err)
		}
		if _, err := store.AuthenticateAPIKey(ctx, key.ID); err == nil {
			t.Fatal("a staff member's key ID must not authenticate as an API key")
		}
		if _, err := store.SessionKey(ctx, id, now.Add(2*time.Hour)); !errors.Is(err, models.ErrNoSession) {
			t.Fatalf("an expired staff session: %v", err)
		}
		if err := store.EndSession(ctx, id, now); err != nil {
			t.Fatal(err)
		}
		if _, err := store.SessionKey(ctx, id, now); !errors.Is(err, models.ErrNoSession) {
			t.Fatalf("a signed-out staff session: %v", err)
		}
	})
}
