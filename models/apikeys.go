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
	key := &APIKey{
		ID:         id,
		Name:       name,
		SecretHash: hashSecret(plaintext),
		Roles:      NewRoles(roles...),
		CreatedAt:  time.Now().UTC(),
	}
	if err := s.DB.WithContext(ctx).Create(key).Error; err != nil {
		if isUniqueViolation(err) {
			return "", nil, fmt.Errorf("an active API key named %q already exists: %w", name, ErrConflict)
		}
		return "", nil, fmt.Errorf("create API key %q: %w", name, err)
	}
	return plaintext, key, nil
}

// ErrKeyRevoked is returned by EnsureAPIKey for a plaintext whose key was revoked: a revoked
// bootstrap key stays revoked, whatever the environment still says.
var ErrKeyRevoked = errors.New("this API key was revoked")

// ErrWeakKey is returned by EnsureAPIKey for a plaintext with less than 32 random bytes.
var ErrWeakKey = errors.New(
	"an operator-chosen API key needs at least 32 random bytes: 64 hex digits (openssl rand -hex 32), " +
		"base64 of 32 bytes (openssl rand -base64 32), or a key minted by `partnerflow keys create`",
)

// MinKeyBytes is the least randomness an operator-chosen key may carry.
const MinKeyBytes = 32

// CheckKeyStrength accepts a key carrying at least MinKeyBytes random bytes: hex or base64
// (standard or URL alphabet, padded or not; a string of hex digits is read as hex) that
// decodes to 32 bytes or more with at least 16
// distinct byte values (which 32 random bytes have with near certainty, and a repeated or
// typed-out pattern lacks), or a key minted by partnerflow (pfk_<id>_<secret>).
func CheckKeyStrength(plaintext string) error {
	if _, secret, ok := strings.Cut(strings.TrimPrefix(plaintext, keyPrefix), "_"); ok &&
		strings.HasPrefix(plaintext, keyPrefix) {
		plaintext = secret
	}
	decoders := []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	}
	if strings.Trim(plaintext, "0123456789abcdefABCDEF") == "" {
		// Hex digits are base64 characters too: read them as hex only.
		decoders = []func(string) ([]byte, error){hex.DecodeString}
	}
	for _, decode := range decoders {
		b, err := decode(plaintext)
		if err != nil || len(b) < MinKeyBytes {
			continue
		}
		distinct := map[byte]bool{}
		for _, c := range b {
			distinct[c] = true
		}
		if len(distinct) >= 16 {
			return nil
		}
	}
	return ErrWeakKey
}

// EnsureAPIKey provisions a key with a plaintext chosen by the operator (the bootstrap key).
// The plaintext must pass CheckKeyStrength. It is idempotent: the same plaintext again changes
// nothing, a new plaintext replaces the old key of that name, and a plaintext whose key was
// revoked is not brought back (ErrKeyRevoked). The key's ID is random, never derived from the
// secret.
func (s *Store) EnsureAPIKey(ctx context.Context, name, plaintext string, roles ...Role) error {
	if err := CheckKeyStrength(plaintext); err != nil {
		return err
	}
	hash := hashSecret(plaintext)
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var revoked int64
		if err := tx.Model(&APIKey{}).Where("secret_hash = ? AND revoked_at IS NOT NULL", hash).
			Count(&revoked).Error; err != nil {
			return err
		}
		if revoked > 0 {
			return ErrKeyRevoked
		}
		var existing APIKey
		err := tx.Where("name = ? AND revoked_at IS NULL", name).First(&existing).Error
		switch {
		case err == nil && existing.SecretHash == hash && existing.Roles == NewRoles(roles...):
			if existing.ID != legacyBootstrapID(plaintext) {
				return nil
			}
			// Earlier versions derived the ID from the secret: give the key a random one.
			return tx.Model(&APIKey{}).Where("id = ?", existing.ID).Update("id", newKeyID()).Error
		case err == nil:
			now := time.Now().UTC()
			if err := tx.Model(&existing).Update("revoked_at", &now).Error; err != nil {
				return err
			}
			if err := tx.Model(&Session{}).Where("api_key_id = ? AND revoked_at IS NULL", existing.ID).
				Update("revoked_at", now).Error; err != nil {
				return err
			}
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
		id, ok := splitKey(plaintext)
		if !ok {
			id = newKeyID()
		}
		key := &APIKey{ID: id, Name: name, SecretHash: hash, Roles: NewRoles(roles...), CreatedAt: time.Now().UTC()}
		return tx.Create(key).Error
	})
}

// legacyBootstrapID is the ID earlier versions derived from an operator-chosen key's hash.
func legacyBootstrapID(plaintext string) string { return "boot" + hashSecret(plaintext)[:8] }

func newKeyID() string { return hex.EncodeToString(randomBytes(6)) }

// AuthenticateAPIKey returns the active key whose plaintext is given, or ErrInvalidKey. A
// minted key is found by the ID it carries, an operator-chosen one by the hash of its secret.
func (s *Store) AuthenticateAPIKey(ctx context.Context, plaintext string) (*APIKey, error) {
	hash := hashSecret(plaintext)
	var key *APIKey
	var err error
	if id, ok := splitKey(plaintext); ok {
		key, err = s.APIKeyByID(ctx, id)
	} else {
		var k APIKey
		err = s.DB.WithContext(ctx).Where("secret_hash = ? AND revoked_at IS NULL", hash).First(&k).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			err = ErrNotFound
		}
		key = &k
	}
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidKey
	}
	if err != nil {
		return nil, fmt.Errorf("look up API key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(key.SecretHash), []byte(hash)) != 1 {
		return nil, ErrInvalidKey
	}
	return key, nil
}

// lastUsedEvery is how often a key's LastUsedAt is written at most: a busy key costs one
// write a minute, not one per request.
const lastUsedEvery = time.Minute

// TouchAPIKey records that the key was used at now, unless it was recorded less than a
// minute before.
func (s *Store) TouchAPIKey(ctx context.Context, key *APIKey, now time.Time) error {
	now = now.UTC()
	if key.LastUsedAt != nil && now.Sub(*key.LastUsedAt) < lastUsedEvery {
		return nil
	}
	err := s.DB.WithContext(ctx).Model(&APIKey{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", key.ID, now.Add(-lastUsedEvery)).
		Update("last_used_at", now).Error
	if err != nil {
		return fmt.Errorf("record the use of API key %s: %w", key.ID, err)
	}
	key.LastUsedAt = &now
	return nil
}

// ListAPIKeys returns every key, newest first; secrets are never part of the result.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	var keys []APIKey
	err := s.DB.WithContext(ctx).Order("created_at DESC").Find(&keys).Error
	return keys, err
}

// RevokeAPIKey marks a key revoked, with every session signed in with it; they stop working
// at once.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := time.Now().UTC()
		res := tx.Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now)
		if res.Error != nil {
			return fmt.Errorf("revoke API key %s: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := tx.Model(&Session{}).Where("api_key_id = ? AND revoked_at IS NULL", id).
			Update("revoked_at", now).Error; err != nil {
			return fmt.Errorf("end the sessions of API key %s: %w", id, err)
		}
		return nil
	})
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
