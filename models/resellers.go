package models

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// KindReseller is the indirect reseller partnership flow.
const KindReseller = "reseller"

// Reseller partnership statuses, as the API shows them.
const (
	ResellerPending            = "pending"
	ResellerVerifying          = "verifying"
	ResellerVerificationFailed = "verification_failed"
	// ResellerNeedsReview: the reseller that authorized the provider is not plainly the one the
	// request names (its PartnerID and company disagree, or its tenant is another partnership's);
	// the flow waits for the provider to check again or cancel.
	ResellerNeedsReview = "needs_review"
	ResellerActive      = "active"
	ResellerExpired     = StatusExpired
	ResellerCancelled   = StatusCancelled
	ResellerFailed      = StatusFailed
	ResellerRemoved     = "removed"
)

// ResellerStatuses lists every status in lifecycle order.
var ResellerStatuses = []string{
	ResellerPending,
	ResellerVerifying,
	ResellerVerificationFailed,
	ResellerNeedsReview,
	ResellerActive,
	ResellerExpired,
	ResellerCancelled,
	ResellerFailed,
	ResellerRemoved,
}

// ResellerOpen reports whether a partnership request in status s still waits or works.
func ResellerOpen(s string) bool {
	return s == ResellerPending || s == ResellerVerifying || s == ResellerVerificationFailed || s == ResellerNeedsReview
}

// ErrTenantTaken is a partnership that would become active with a reseller tenant another of
// the provider's active partnerships holds; the database refuses it (resellers_one_active_tenant).
var ErrTenantTaken = errors.New("the reseller tenant already has an active partnership")

// Reseller is an indirect provider's partnership with one indirect reseller: the request, the
// reseller's authorization, and the verification of its PartnerID before the provider transacts
// for it.
type Reseller struct {
	ID          string `gorm:"primaryKey"`
	PartnerID   string
	CompanyName string
	// Email is the reseller's contact, who receives the partnership request.
	Email    string
	Language string
	// MPNID is the reseller's PartnerID: given with the request, or learned when it authorizes.
	MPNID string `gorm:"column:mpn_id"`
	// TenantID is the reseller's partner tenant, known once it authorized the provider.
	TenantID      string
	Location      string
	Status        string
	WorkflowID    string
	FailureCode   string
	FailureReason string
	RemindersSent int
	VerifiedAt    *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ExpiresAt     time.Time
}

// FlowID and FlowCreated make Reseller a FlowRow.
func (r Reseller) FlowID() string         { return r.ID }
func (r Reseller) FlowCreated() time.Time { return r.CreatedAt }

// ResellerChange is what a partnership's workflow writes at a step.
type ResellerChange = FlowChange[Reseller]

// ResellerSearchColumn is what the list's search matches: a prefix of the company name.
const ResellerSearchColumn = "company_name"

// CreateReseller inserts a partnership request. When the provider already has an open or active
// partnership with this contact it returns ErrConflict and that partnership.
func (s *Store) CreateReseller(ctx context.Context, r *Reseller, with ...With) (*Reseller, error) {
	return createOrOpen(ctx, s, KindReseller, r, func() (*Reseller, error) {
		return FindBy[Reseller](ctx, s, "partner_id = ? AND email = ? AND status IN ?", r.PartnerID, r.Email,
			[]string{
				ResellerPending, ResellerVerifying, ResellerVerificationFailed, ResellerNeedsReview,
				ResellerActive,
			})
	}, with...)
}

// ActiveReseller returns the provider's active partnership with the reseller tenant.
func (s *Store) ActiveReseller(ctx context.Context, partnerID, tenantID string) (*Reseller, error) {
	return FindBy[Reseller](
		ctx,
		s,
		"partner_id = ? AND tenant_id = ? AND status = ?",
		partnerID,
		tenantID,
		ResellerActive,
	)
}

// RecordReseller applies a partnership's workflow step (Record); a step that would make it
// active with a tenant another active partnership holds is ErrTenantTaken and writes nothing.
func (s *Store) RecordReseller(ctx context.Context, id string, ch ResellerChange) error {
	err := Record(ctx, s, KindReseller, id, ch)
	if ch.Status == ResellerActive && isUniqueViolation(err) {
		return fmt.Errorf("reseller %s: %w", id, ErrTenantTaken)
	}
	return err
}

// LatestResellerByTenant returns the provider's most recent partnership with a reseller tenant,
// whatever its status, so a refusal can say why the reseller cannot be named.
func (s *Store) LatestResellerByTenant(ctx context.Context, partnerID, tenantID string) (*Reseller, error) {
	var r Reseller
	err := s.DB.WithContext(ctx).
		Where("partner_id = ? AND tenant_id = ?", partnerID, tenantID).
		Order("created_at DESC").
		Limit(1).
		Find(&r).
		Error
	if err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, ErrNotFound
	}
	return &r, nil
}
