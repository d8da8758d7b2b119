package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

func TestSchemaCheck(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{models.DialectSQLite, models.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			store := testdb.Open(t, dialect)
			if err := store.CheckSchema(ctx); err != nil {
				t.Fatalf("a migrated database is refused: %v", err)
			}
			if v, err := store.Migrate(ctx); err != nil {
				t.Fatalf("migrating twice fails: %v", err)
			} else if latest, _ := store.LatestVersion(); v != latest {
				t.Fatalf("version after migrate = %d, want %d", v, latest)
			}
			if err := store.DB.Exec(
				"DELETE FROM goose_db_version WHERE version_id = (SELECT MAX(version_id) FROM goose_db_version)",
			).Error; err != nil {
				t.Fatal(err)
			}
			err := store.CheckSchema(ctx)
			if err == nil || !strings.Contains(err.Error(), "partnerflow migrate") {
				t.Fatalf("an old schema must be refused with what to run, got %v", err)
			}
			if err := store.DB.Exec(
				"INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)",
			).Error; err != nil {
				t.Fatal(err)
			}
			err = store.CheckSchema(ctx)
			if err == nil || !strings.Contains(err.Error(), "newer") {
				t.Fatalf("a schema from a newer binary must be refused, got %v", err)
			}
		})
	}
}

func TestUnmigratedDatabaseIsRefused(t *testing.T) {
	store, err := models.Open(t.TempDir() + "/empty.db")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	err = store.CheckSchema(context.Background())
	if err == nil || !strings.Contains(err.Error(), "partnerflow migrate") {
		t.Fatalf("want a refusal naming `partnerflow migrate`, got %v", err)
	}
}

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		plaintext, key, err := store.CreateAPIKey(ctx, "ops", models.RoleAdminAgent)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(plaintext, "pfk_"+key.ID+"_") {
			t.Fatalf("key %q does not carry its ID %q", plaintext, key.ID)
		}
		var stored models.APIKey
		store.DB.First(&stored, "id = ?", key.ID)
		if strings.Contains(stored.SecretHash, plaintext) || stored.SecretHash == "" {
			t.Fatal("the plaintext key must not be stored, only its hash")
		}

		cases := []struct {
			name    string
			key     string
			wantErr bool
		}{
			{"the minted key authenticates", plaintext, false},
			{"a key with a changed secret is refused", plaintext[:len(plaintext)-2] + "xx", true},
			{"a key with an unknown ID is refused", "pfk_000000000000_abc", true},
			{"a malformed key is refused", "hello", true},
			{"an empty key is refused", "", true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := store.AuthenticateAPIKey(ctx, tc.key)
				if tc.wantErr {
					if !errors.Is(err, models.ErrInvalidKey) {
						t.Fatalf("want ErrInvalidKey, got %v", err)
					}
					return
				}
				if err != nil || !got.Roles.Has(models.RoleAdminAgent) || got.Roles.Has(models.RoleSalesAgent) {
					t.Fatalf("got %+v, %v", got, err)
				}
			})
		}

		if _, _, err := store.CreateAPIKey(ctx, "ops", models.RoleSalesAgent); err == nil {
			t.Fatal("a second active key with the same name must be refused")
		}
		if err := store.RevokeAPIKey(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := store.AuthenticateAPIKey(ctx, plaintext); !errors.Is(err, models.ErrInvalidKey) {
			t.Fatalf("a revoked key must stop working, got %v", err)
		}
		if err := store.RevokeAPIKey(ctx, key.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("revoking twice: want ErrNotFound, got %v", err)
		}
	})
}

func TestBootstrapKeyIsIdempotent(t *testing.T) {
	ctx := context.Background()
	const first, rotated = "s3cretBootstrapKeyOf32RandomBytes0123456789A", "r0tatedBootstrapKeyOf32RandomBytes01234567Z"
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		for range 2 {
			if err := store.EnsureAPIKey(ctx, "bootstrap", first, models.AllRoles...); err != nil {
				t.Fatal(err)
			}
		}
		keys, _ := store.ListAPIKeys(ctx)
		if len(keys) != 1 {
			t.Fatalf("provisioning the same key twice left %d keys", len(keys))
		}
		got, err := store.AuthenticateAPIKey(ctx, first)
		if err != nil || !got.Roles.Has(models.RoleGlobalAdmin) || !got.Roles.Has(models.RoleSalesAgent) {
			t.Fatalf("bootstrap key: %+v, %v", got, err)
		}
		if err := store.EnsureAPIKey(ctx, "bootstrap", rotated, models.AllRoles...); err != nil {
			t.Fatal(err)
		}
		if _, err := store.AuthenticateAPIKey(ctx, first); !errors.Is(err, models.ErrInvalidKey) {
			t.Fatal("a rotated bootstrap key must revoke the old one")
		}
		if _, err := store.AuthenticateAPIKey(ctx, rotated); err != nil {
			t.Fatal(err)
		}
	})
}
