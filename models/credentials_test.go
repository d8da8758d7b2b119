package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

// credentialsWorld is an onboarding whose new tenant's first admin credentials are stored.
func credentialsWorld(t *testing.T, store *models.Store, id string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	if _, err := store.CreateOnboarding(ctx, &models.Onboarding{
		ID:           id,
		PartnerID:    "p1",
		CompanyName:  "Contoso",
		Domain:       id + ".example",
		Country:      "IT",
		Language:     "it",
		ContactEmail: "a@" + id + ".example",
		Status:       models.OnboardingCreating,
		WorkflowID:   "customer/" + id,
		Request:      "{}",
		CreatedAt:    now,
		UpdatedAt:    now,
		ExpiresAt:    now.Add(30 * 24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCredentials(ctx, &models.CustomerCredentials{
		CustomerID:         id,
		UserName:           "admin@" + id + ".onmicrosoft.com",
		PasswordCiphertext: "c2VhbGVk",
	}); err != nil {
		t.Fatal(err)
	}
}

// stored is the credentials row as the database holds it.
func stored(t *testing.T, store *models.Store, id string) models.CustomerCredentials {
	t.Helper()
	var row models.CustomerCredentials
	if err := store.DB.Where("customer_id = ?", id).First(&row).Error; err != nil {
		t.Fatal(err)
	}
	return row
}

func TestSealedPasswordIsDeletedOnRevealAndWhenTheWindowLapses(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		t.Run("the reveal returns the sealed password once and deletes it, keeping who and when", func(t *testing.T) {
			credentialsWorld(t, store, "c1")
			at := time.Now().UTC().Truncate(time.Second)
			creds, err := store.RevealCredentials(ctx, "c1", "ops", at)
			if err != nil || creds.PasswordCiphertext != "c2VhbGVk" {
				t.Fatalf("the first reveal must return the sealed password: %+v %v", creds, err)
			}
			row := stored(t, store, "c1")
			if row.PasswordCiphertext != "" {
				t.Fatalf("the sealed password is still in the database after its reveal: %q", row.PasswordCiphertext)
			}
			if row.RevealedBy != "ops" || row.RevealedAt == nil || !row.RevealedAt.Equal(at) || row.UserName == "" {
				t.Fatalf("who revealed the credentials and when must be kept: %+v", row)
			}
			again, err := store.RevealCredentials(ctx, "c1", "someone else", at.Add(time.Minute))
			if !errors.Is(err, models.ErrAlreadyRevealed) || again.RevealedBy != "ops" ||
				again.PasswordCiphertext != "" {
				t.Fatalf("a second reveal must get the first one's record and no password: %+v %v", again, err)
			}
		})

		t.Run("a reveal after the window lapsed is refused and deletes the sealed password", func(t *testing.T) {
			credentialsWorld(t, store, "c2")
			credentialsWorld(t, store, "c5")
			late := time.Now().UTC().Add(models.CredentialsRevealWindow + time.Hour).Truncate(time.Second)
			creds, err := store.RevealCredentials(ctx, "c2", "ops", late)
			if !errors.Is(err, models.ErrAlreadyRevealed) || creds.PasswordCiphertext != "" ||
				creds.RevealedBy != models.RevealLapsedBy {
				t.Fatalf("a lapsed reveal must be refused as lapsed, without the password: %+v %v", creds, err)
			}
			if row := stored(t, store, "c2"); row.PasswordCiphertext != "" || row.RevealedBy != models.RevealLapsedBy ||
				row.RevealedAt == nil {
				t.Fatalf("the lapsed sealed password must be deleted, and the lapse recorded: %+v", row)
			}
			if row := stored(t, store, "c5"); row.PasswordCiphertext == "" {
				t.Fatal("revealing one customer's credentials deleted another's")
			}
		})

		t.Run("credentials nobody revealed are deleted once the window lapses, others are kept", func(t *testing.T) {
			credentialsWorld(t, store, "c3")
			credentialsWorld(t, store, "c4")
			if _, err := store.ForgetLapsedCredentials(ctx, time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
			if row := stored(t, store, "c3"); row.PasswordCiphertext == "" {
				t.Fatal("credentials within their reveal window were deleted")
			}
			if err := store.DB.Exec("UPDATE customer_credentials SET created_at = ? WHERE customer_id = ?",
				time.Now().UTC().Add(-models.CredentialsRevealWindow-time.Hour), "c3").Error; err != nil {
				t.Fatal(err)
			}
			n, err := store.ForgetLapsedCredentials(ctx, time.Now().UTC())
			if err != nil || n != 1 {
				t.Fatalf("one lapsed sealed password must be deleted, got %d %v", n, err)
			}
			if row := stored(t, store, "c3"); row.PasswordCiphertext != "" || row.RevealedBy != models.RevealLapsedBy ||
				row.RevealedAt == nil {
				t.Fatalf("the lapsed sealed password must be deleted, and the lapse recorded: %+v", row)
			}
			if row := stored(t, store, "c4"); row.PasswordCiphertext == "" {
				t.Fatal("credentials within their reveal window were deleted")
			}
		})
	})
}

// TestCredentialsAreReadWithoutTheirPassword: the record tells whether a password waits to be
// revealed, and who revealed it, without ever reading the sealed password.
func TestCredentialsAreReadWithoutTheirPassword(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		credentialsWorld(t, store, "c4")
		creds, err := store.Credentials(ctx, "c4")
		if err != nil || creds.PasswordCiphertext != "" || creds.RevealedAt != nil ||
			creds.UserName != "admin@c4.onmicrosoft.com" {
			t.Fatalf("waiting: %+v %v", creds, err)
		}
		if _, err := store.RevealCredentials(ctx, "c4", "ops", time.Now()); err != nil {
			t.Fatal(err)
		}
		creds, err = store.Credentials(ctx, "c4")
		if err != nil || creds.RevealedAt == nil || creds.RevealedBy != "ops" {
			t.Fatalf("revealed: %+v %v", creds, err)
		}
		if _, err := store.Credentials(ctx, "c-none"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("none: %v", err)
		}
	})
}
