package models

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Session is an operator's dashboard sign-in, with an API key or as a member of the partner's
// staff signed in with Microsoft. Only the hash of its ID is stored; the ID is the cookie's
// value. Signing out, revoking the session's key or its expiry ends it.
type Session struct {
	IDHash   string `gorm:"primaryKey"`
	APIKeyID string `gorm:"column:api_key_id"`
	// UserID, UserName and Roles name a staff member ('' APIKeyID): the object ID and user name
	// in the partner tenant, and the roles its app roles gave at sign-in.
	UserID    string
	UserName  string
	Roles     Roles
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// StaffKeyPrefix prefixes the ID of the key that stands for a staff member's session (never an
// API key's ID), so the actions it takes are attributed to the user.
const StaffKeyPrefix = "user:"

// CreateStaffSession signs a member of the partner's staff in until now+ttl, with roles, and
// returns the session's ID as CreateSession does.
func (s *Store) CreateStaffSession(
	ctx context.Context, userID, userName string, roles Roles, now time.Time, ttl time.Duration,
) (string, error) {
	id := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	row := &Session{IDHash: hashSecret(id), UserID: userID, UserName: userName, Roles: roles,
		CreatedAt: now.UTC(), ExpiresAt: now.Add(ttl).UTC()}
	if err := s.DB.WithContext(ctx).Create(row).Error; err != nil {
		return "", fmt.Errorf("create staff session: %w", err)
	}
	return id, nil
}

// ErrNoSession is returned for a session ID that is unknown, expired, signed out, or whose key
// was revoked.
var ErrNoSession = errors.New("no such session")

// CreateSession signs keyID in until now+ttl and returns the session's ID, which is shown
// once (in the cookie) and never stored.
func (s *Store) CreateSession(ctx context.Context, keyID string, now time.Time, ttl time.Duration) (string, error) {
	id := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	row := &Session{IDHash: hashSecret(id), APIKeyID: keyID, CreatedAt: now.UTC(), ExpiresAt: now.Add(ttl).UTC()}
	if err := s.DB.WithContext(ctx).Create(row).Error; err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return id, nil
}

// SessionKey returns the active key of a live session, or ErrNoSession. A staff member's session
// answers with a key that stands for the user (ID StaffKeyPrefix+user ID, the user's name and
// roles), which is no API key and cannot authenticate a request by itself.
func (s *Store) SessionKey(ctx context.Context, id string, now time.Time) (*APIKey, error) {
	var row Session
	err := s.DB.WithContext(ctx).
		Where("id_hash = ? AND revoked_at IS NULL AND expires_at > ?", hashSecret(id), now.UTC()).
		First(&row).
		Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if row.APIKeyID == "" {
		return &APIKey{ID: StaffKeyPrefix + row.UserID, Name: row.UserName, Roles: row.Roles,
			CreatedAt: row.CreatedAt}, nil
	}
	key, err := s.APIKeyByID(ctx, row.APIKeyID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNoSession
	}
	return key, err
}

// EndSession signs a session out; an unknown or ended session is not an error.
func (s *Store) EndSession(ctx context.Context, id string, now time.Time) error {
	err := s.DB.WithContext(ctx).
		Model(&Session{}).
		Where("id_hash = ? AND revoked_at IS NULL", hashSecret(id)).
		Update("revoked_at", now.UTC()).
		Error
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// PruneSessions deletes sessions that expired or ended before cutoff.
func (s *Store) PruneSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.DB.WithContext(ctx).
		Where("expires_at < ? OR revoked_at < ?", cutoff.UTC(), cutoff.UTC()).
		Delete(&Session{})
	return res.RowsAffected, res.Error
}
