package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// keyPrefix marks partnerflow API keys so that secret scanners and people recognise them.
const keyPrefix = "pfk_"

// ErrInvalidKey is returned for a key that is malformed, unknown or revoked.
var ErrInvalidKey = errors.New("invalid API key")

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return b
}

// splitKey returns the public ID inside a key of the form pfk_<id>_<secret>.
func splitKey(key string) (id string, ok bool) {
	rest, found := strings.CutPrefix(key, keyPrefix)
	if !found {
		return "", false
	}
	id, _, ok = strings.Cut(rest, "_")
	return id, ok && id != ""
}

// CreateAPIKey mints a new key with the given roles and returns its plaintext, which is shown
// once and never stored.
func (s *Store) CreateAPIKey(ctx context.Context, name string, roles ...Role) (string, *APIKey, error) {
	id := hex.EncodeToString(randomBytes(6))
	plaintext := keyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	key := &APIKey{ID: id, Name: name, SecretHash: hashSecret(plaintext), Roles: NewRoles(roles...), CreatedAt: time.Now().UTC()}
	if err := s.DB.WithContext(ctx).Create(key).Error; err != nil {
		if isUniqueViolation(err) {
			return "", nil, fmt.Errorf("an active API key named %q already exists: %w", name, ErrConflict)
		}
		return "", nil, fmt.Errorf("create API key %q: %w", name, err)
	}
	return plaintext, key, nil
}

// EnsureAPIKey provisions a key with a plaintext chosen by the operator (the bootstrap key).
// It is idempotent: the same plaintext again changes nothing, a new plaintext replaces the old
// key of that name.
func (s *Store) EnsureAPIKey(ctx context.Context, name, plaintext string, roles ...Role) error {
	id, ok := splitKey(plaintext)
	if !ok {
		id = "boot" + hashSecret(plaintext)[:8]
	}
	hash := hashSecret(plaintext)
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var existing APIKey
		err := tx.Where("name = ? AND revoked_at IS NULL", name).First(&existing).Error
		switch {
		case err == nil && existing.SecretHash == hash && existing.Roles == NewRoles(roles...):
			return nil
		case err == nil:
			now := time.Now().UTC()
			if err := tx.Model(&existing).Update("revoked_at", &now).Error; err != nil {
				return err
			}
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
		if err := tx.Where("id = ?", id).Delete(&APIKey{}).Error; err != nil {
			return err
		}
		key := &APIKey{ID: id, Name: name, SecretHash: hash, Roles: NewRoles(roles...), CreatedAt: time.Now().UTC()}
		return tx.Create(key).Error
	})
}

// AuthenticateAPIKey returns the active key whose plaintext is given, or ErrInvalidKey.
func (s *Store) AuthenticateAPIKey(ctx context.Context, plaintext string) (*APIKey, error) {
	id, ok := splitKey(plaintext)
	if !ok {
		id = "boot" + hashSecret(plaintext)[:8]
	}
	key, err := s.APIKeyByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidKey
	}
	if err != nil {
		return nil, fmt.Errorf("look up API key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(key.SecretHash), []byte(hashSecret(plaintext))) != 1 {
		return nil, ErrInvalidKey
	}
	return key, nil
}

// ListAPIKeys returns every key, newest first; secrets are never part of the result.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	var keys []APIKey
	err := s.DB.WithContext(ctx).Order("created_at DESC").Find(&keys).Error
	return keys, err
}

// RevokeAPIKey marks a key revoked; it stops working at once.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	res := s.DB.WithContext(ctx).Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", time.Now().UTC())
	if res.Error != nil {
		return fmt.Errorf("revoke API key %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// APIKeyByID returns the active key with the given public ID.
func (s *Store) APIKeyByID(ctx context.Context, id string) (*APIKey, error) {
	var key APIKey
	err := s.DB.WithContext(ctx).Where("id = ? AND revoked_at IS NULL", id).First(&key).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &key, err
}
