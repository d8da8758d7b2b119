package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Where a partnership came from (Reseller.Source).
const (
	// ResellerSourceRequest is a partnership partnerflow asked for (POST /v1/resellers): its
	// contact got the request and the reseller authorized the provider afterwards.
	ResellerSourceRequest = "request"
	// ResellerSourcePartnerCenter is a partnership that existed before partnerflow: Partner
	// Center already listed the reseller as having authorized the provider, and the estate sync
	// imported it. It has no contact e-mail and no request to expire.
	ResellerSourcePartnerCenter = "partner-center"
)

// resellerHolding are the statuses in which a partnership holds its reseller tenant, so that the
// estate sync imports no second partnership with it: while the partnership works or is live
// (pending, verifying, verification_failed, needs_review, active) a second one would double it;
// once the provider ended it (removed: Partner Center keeps listing the reseller until someone
// removes it in Partner Center's UI, for which there is no API) or declined it (cancelled), an
// import would bring back what a person decided against, every pass. A partnership that failed
// (a refusal retrying could not fix; nobody decided) or expired (it never reached a tenant) holds
// nothing: the reseller is imported afresh. A provider partners again with a removed or
// cancelled reseller by asking for it (POST /v1/resellers).
var resellerHolding = []string{
	ResellerPending,
	ResellerVerifying,
	ResellerVerificationFailed,
	ResellerNeedsReview,
	ResellerActive,
	ResellerCancelled,
	ResellerRemoved,
}

// ResellerHoldsTenant reports whether a partnership in status s holds its reseller tenant
// against an import from Partner Center (see resellerHolding).
func ResellerHoldsTenant(s string) bool { return slices.Contains(resellerHolding, s) }

// ResellerWorkflowType is the partnership's workflow type (workflows.ResellerFlow.Type). It is
// recorded in workflow histories and flow commands, so it never changes.
const ResellerWorkflowType = "ResellerPartnership"

// ResellerWorkflowID is the workflow ID of one partnership: its own, so that starting it again
// is refused by Temporal, never doubled (workflows.ResellerWorkflowID).
func ResellerWorkflowID(resellerID string) string { return "reseller/" + resellerID }

// ResellerStart is what a partnership's workflow starts with besides its wait policy:
// workflows.ResellerInput embeds it, so whoever writes a partnership's start command (the API for
// a request, the estate import for a partnership Partner Center already lists) writes the
// workflow's own input. It holds no secret: the reseller's link is derived by the activity that
// sends it.
type ResellerStart struct {
	ResellerID  string
	PartnerID   string
	CompanyName string
	// Email is the reseller's contact, who receives the request; "" for an imported partnership.
	Email string
	// MPNID is the reseller's PartnerID when the provider knows it; otherwise the reseller's
	// name identifies it in the provider's list once it authorized.
	MPNID    string
	Language string
	// ContactEmail is the provider's contact for escalations and verification results.
	ContactEmail string
	ExpiresAt    time.Time
	// Imported is a partnership Partner Center already lists (ResellerSourcePartnerCenter): no
	// request is sent and no authorization awaited; the reseller is verified at once.
	Imported bool `json:",omitempty"`
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
	TenantID string
	Location string
	Status   string
	// Source is where the partnership came from: ResellerSourceRequest or
	// ResellerSourcePartnerCenter.
	Source        string `gorm:"default:request"`
	WorkflowID    string
	FailureCode   string
	FailureReason string
	RemindersSent int
	VerifiedAt    *time.Time
	// State is the workflow's state at its last recorded step, as JSON (see FlowChange.State).
	State     string
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
}

// FlowID, FlowCreated, FlowState and FlowStatus make Reseller a FlowRow.
func (r Reseller) FlowID() string         { return r.ID }
func (r Reseller) FlowCreated() time.Time { return r.CreatedAt }
func (r Reseller) FlowState() string      { return r.State }
func (r Reseller) FlowStatus() string     { return r.Status }

// ResellerChange is what a partnership's workflow writes at a step.
type ResellerChange = FlowChange[Reseller]

// ResellerSearchColumn is what the list's search matches: a prefix of the company name.
const ResellerSearchColumn = "company_name"

// CreateReseller inserts a partnership request. When the provider already has an open or active
// partnership with this contact it returns ErrConflict and that partnership.
func (s *Store) CreateReseller(ctx context.Context, r *Reseller, with ...With) (*Reseller, error) {
	if r.Source == "" {
		r.Source = ResellerSourceRequest
	}
	return createOrOpen(ctx, s, KindReseller, r, func() (*Reseller, error) {
		return FindBy[Reseller](ctx, s, "partner_id = ? AND email = ? AND status IN ?", r.PartnerID, r.Email,
			[]string{
				ResellerPending, ResellerVerifying, ResellerVerificationFailed, ResellerNeedsReview,
				ResellerActive,
			})
	}, with...)
}

// ImportReseller inserts a partnership Partner Center already lists, with its "created" step and
// whatever else belongs to it (the start command), in one transaction. When another imported
// partnership of the provider holds the reseller tenant already (resellers_one_imported: an
// earlier attempt of the same import committed it) it returns ErrConflict and writes nothing.
func (s *Store) ImportReseller(ctx context.Context, r *Reseller, with ...With) error {
	r.Source = ResellerSourcePartnerCenter
	return Create(ctx, s, KindReseller, r, with...)
}

// ResellerHoldingTenant returns the provider's most recent partnership that holds the reseller
// tenant against an import (ResellerHoldsTenant), or ErrNotFound.
func (s *Store) ResellerHoldingTenant(ctx context.Context, partnerID, tenantID string) (*Reseller, error) {
	var r Reseller
	err := s.DB.WithContext(ctx).
		Where("partner_id = ? AND tenant_id = ? AND status IN ?", partnerID, tenantID, resellerHolding).
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

// UnmatchedResellerRequests returns the provider's open partnership requests that no reseller
// tenant has matched yet: each waits for a reseller by its company name (and PartnerID, when
// known).
func (s *Store) UnmatchedResellerRequests(ctx context.Context, partnerID string) ([]Reseller, error) {
	var out []Reseller
	err := s.DB.WithContext(ctx).
		Where(
			"partner_id = ? AND tenant_id = '' AND source = ? AND status IN ?",
			partnerID,
			ResellerSourceRequest,
			[]string{ResellerPending, ResellerVerifying, ResellerVerificationFailed, ResellerNeedsReview},
		).
		Order("created_at, id").
		Find(&out).
		Error
	return out, err
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
