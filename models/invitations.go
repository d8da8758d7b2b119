package models

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Invitation statuses, as the API shows them.
const (
	InvitationPending   = "pending"
	InvitationAccepted  = "accepted"
	InvitationGranting  = "granting"
	InvitationActive    = "active"
	InvitationDeclined  = "declined"
	InvitationExpired   = "expired"
	InvitationCancelled = "cancelled"
	InvitationFailed    = "failed"
)

// InvitationStatuses lists every status in lifecycle order.
var InvitationStatuses = []string{InvitationPending, InvitationAccepted, InvitationGranting, InvitationActive, InvitationDeclined, InvitationExpired, InvitationCancelled, InvitationFailed}

// InvitationOpen reports whether an invitation in status s still waits or works.
func InvitationOpen(s string) bool {
	return s == InvitationPending || s == InvitationAccepted || s == InvitationGranting
}

// Invitation is the list-page record of one invitation flow; the workflow keeps it current.
type Invitation struct {
	ID                 string `gorm:"primaryKey"`
	PartnerID          string
	CustomerDomain     string
	CustomerEmail      string
	IndirectResellerID string
	Roles              string // comma-separated role template IDs
	DurationDays       int
	AutoExtend         bool
	Status             string
	WorkflowID         string
	GDAPRelationshipID string `gorm:"column:gdap_relationship_id"`
	CustomerTenantID   string
	FailureReason      string
	RemindersSent      int
	CreatedAt          time.Time
	UpdatedAt          time.Time
	ExpiresAt          time.Time
}

// InvitationStep is one entry of an invitation's timeline.
type InvitationStep struct {
	ID             int64 `gorm:"primaryKey"`
	InvitationID   string
	Name           string
	Detail         string
	IdempotencyKey string
	At             time.Time
}

// InvitationChange is what a workflow step writes: the new status and fields (zero values are
// left alone) and the timeline step it reached.
type InvitationChange struct {
	Status             string
	GDAPRelationshipID string
	CustomerTenantID   string
	FailureReason      string
	RemindersSent      int
	Step               string
	StepDetail         string
	// StepKey makes the step idempotent: a retried write with the same key adds nothing.
	StepKey string
	At      time.Time
}

// CreateInvitation inserts a new invitation. When the customer already has an open invitation
// from this partner it returns ErrConflict and that invitation.
func (s *Store) CreateInvitation(ctx context.Context, inv *Invitation) (*Invitation, error) {
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(inv).Error; err != nil {
			return err
		}
		return tx.Create(&InvitationStep{InvitationID: inv.ID, Name: "created", IdempotencyKey: inv.ID + "/created", At: inv.CreatedAt}).Error
	})
	if isUniqueViolation(err) {
		open, findErr := s.OpenInvitation(ctx, inv.PartnerID, inv.CustomerDomain)
		if findErr != nil {
			return nil, fmt.Errorf("find the open invitation for %s: %w", inv.CustomerDomain, findErr)
		}
		return open, ErrConflict
	}
	if err != nil {
		return nil, fmt.Errorf("create invitation for %s: %w", inv.CustomerDomain, err)
	}
	return inv, nil
}

// DeleteInvitation removes an invitation whose workflow could not be started.
func (s *Store) DeleteInvitation(ctx context.Context, id string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("invitation_id = ?", id).Delete(&InvitationStep{}).Error; err != nil {
			return err
		}
		return tx.Where("id = ?", id).Delete(&Invitation{}).Error
	})
}

// OpenInvitation returns the partner's open invitation for a customer domain.
func (s *Store) OpenInvitation(ctx context.Context, partnerID, domain string) (*Invitation, error) {
	var inv Invitation
	err := s.DB.WithContext(ctx).
		Where("partner_id = ? AND customer_domain = ? AND status IN ?", partnerID, domain, []string{InvitationPending, InvitationAccepted, InvitationGranting}).
		First(&inv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &inv, err
}

// Invitation returns one invitation.
func (s *Store) Invitation(ctx context.Context, id string) (*Invitation, error) {
	var inv Invitation
	err := s.DB.WithContext(ctx).Where("id = ?", id).First(&inv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &inv, err
}

// InvitationByGDAP returns the invitation that created a GDAP relationship.
func (s *Store) InvitationByGDAP(ctx context.Context, relationshipID string) (*Invitation, error) {
	var inv Invitation
	err := s.DB.WithContext(ctx).Where("gdap_relationship_id = ? AND gdap_relationship_id <> ''", relationshipID).First(&inv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &inv, err
}

// InvitationSteps returns an invitation's timeline, oldest first.
func (s *Store) InvitationSteps(ctx context.Context, id string) ([]InvitationStep, error) {
	var steps []InvitationStep
	err := s.DB.WithContext(ctx).Where("invitation_id = ?", id).Order("at, id").Find(&steps).Error
	return steps, err
}

// RecordInvitation applies a workflow step: status and fields, and the timeline entry. It is
// idempotent by StepKey, so an activity retry writes nothing twice.
func (s *Store) RecordInvitation(ctx context.Context, id string, ch InvitationChange) error {
	at := ch.At.UTC()
	if at.IsZero() {
		at = time.Now().UTC()
	}
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		updates := map[string]any{"updated_at": at}
		if ch.Status != "" {
			updates["status"] = ch.Status
		}
		if ch.GDAPRelationshipID != "" {
			updates["gdap_relationship_id"] = ch.GDAPRelationshipID
		}
		if ch.CustomerTenantID != "" {
			updates["customer_tenant_id"] = ch.CustomerTenantID
		}
		if ch.FailureReason != "" {
			updates["failure_reason"] = ch.FailureReason
		}
		if ch.RemindersSent > 0 {
			updates["reminders_sent"] = ch.RemindersSent
		}
		res := tx.Model(&Invitation{}).Where("id = ?", id).Updates(updates)
		if res.Error != nil {
			return fmt.Errorf("update invitation %s: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("invitation %s: %w", id, ErrNotFound)
		}
		if ch.Step == "" {
			return nil
		}
		return s.addStep(tx, id, ch.Step, ch.StepDetail, ch.StepKey, at)
	})
}

// AddInvitationStep appends a timeline entry (for example "opened"); idempotent by key.
func (s *Store) AddInvitationStep(ctx context.Context, id, name, detail, key string, at time.Time) error {
	return s.addStep(s.DB.WithContext(ctx), id, name, detail, key, at.UTC())
}

func (s *Store) addStep(tx *gorm.DB, id, name, detail, key string, at time.Time) error {
	if key == "" {
		key = id + "/" + name + "/" + at.Format(time.RFC3339Nano)
	}
	step := &InvitationStep{InvitationID: id, Name: name, Detail: detail, IdempotencyKey: key, At: at}
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "idempotency_key"}}, DoNothing: true}).Create(step).Error
}

// InvitationFilter selects a page of invitations, newest first.
type InvitationFilter struct {
	PartnerID      string
	Status         string
	CustomerDomain string // a prefix of the domain
	CreatedBefore  time.Time
	CreatedAfter   time.Time
	Limit          int
	Cursor         string
}

// ListInvitations returns a page of invitations and the cursor of the next page ("" at the end).
func (s *Store) ListInvitations(ctx context.Context, f InvitationFilter) ([]Invitation, string, error) {
	q := s.DB.WithContext(ctx).Model(&Invitation{})
	if f.PartnerID != "" {
		q = q.Where("partner_id = ?", f.PartnerID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.CustomerDomain != "" {
		q = q.Where("customer_domain LIKE ?", strings.NewReplacer("%", `\%`, "_", `\_`).Replace(f.CustomerDomain)+"%")
	}
	if !f.CreatedBefore.IsZero() {
		q = q.Where("created_at < ?", f.CreatedBefore.UTC())
	}
	if !f.CreatedAfter.IsZero() {
		q = q.Where("created_at > ?", f.CreatedAfter.UTC())
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("(created_at < ?) OR (created_at = ? AND id < ?)", at, at, id)
	}
	limit := f.Limit
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	var items []Invitation
	if err := q.Order("created_at DESC, id DESC").Limit(limit + 1).Find(&items).Error; err != nil {
		return nil, "", fmt.Errorf("list invitations: %w", err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return items, next, nil
}

// ErrBadCursor is returned for a page cursor this store did not make.
var ErrBadCursor = errors.New("invalid cursor")

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	return at, id, nil
}
