package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// KindOnboarding is the customer onboarding flow. Its value is a wire name, stored in rows, step
// keys and webhook events ("customer.completed"), so it stays "customer".
const KindOnboarding = "customer"

// Onboarding statuses, as the API shows them.
const (
	OnboardingCreating          = "creating"
	OnboardingAwaitingAgreement = "awaiting_agreement"
	OnboardingReview            = "review"
	OnboardingOrdering          = "ordering"
	OnboardingProvisioning      = "provisioning"
	OnboardingCompleted         = "completed"
	OnboardingCancelled         = StatusCancelled
	OnboardingExpired           = StatusExpired
	OnboardingFailed            = StatusFailed
)

// OnboardingStatuses lists every status in lifecycle order.
var OnboardingStatuses = []string{
	OnboardingCreating,
	OnboardingAwaitingAgreement,
	OnboardingReview,
	OnboardingOrdering,
	OnboardingProvisioning,
	OnboardingCompleted,
	OnboardingCancelled,
	OnboardingExpired,
	OnboardingFailed,
}

// OnboardingOpen reports whether an onboarding in status s still waits or works.
func OnboardingOpen(s string) bool {
	switch s {
	case OnboardingCreating, OnboardingAwaitingAgreement, OnboardingReview, OnboardingOrdering, OnboardingProvisioning:
		return true
	}
	return false
}

// Onboarding is one customer onboarding: a new tenant (or an invited customer's), the proof that
// it accepted the Microsoft Customer Agreement, and its first order.
type Onboarding struct {
	ID string `gorm:"primaryKey"`
	// PartnerID is the partner (or indirect provider) onboarding the customer.
	PartnerID string
	// InvitationID names the invitation of an existing customer; empty for a new tenant.
	InvitationID string
	// The indirect reseller the customer buys through, when there is one.
	ResellerID       string
	ResellerTenantID string
	ResellerMPNID    string `gorm:"column:reseller_mpn_id"`
	CompanyName      string
	Domain           string
	Country          string
	Language         string
	ContactEmail     string
	CustomerTenantID string
	Status           string
	WorkflowID       string
	CartID           string
	OrderIDs         string
	CheckoutError    string
	FailureReason    string
	RemindersSent    int
	// Request is the validated request as JSON: contact, address and products.
	Request string
	// State is the workflow's state at its last recorded step, as JSON (see FlowChange.State).
	State     string
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
}

// TableName keeps the table the onboardings were stored in when the type was named Customer.
func (Onboarding) TableName() string { return "customers" }

// FlowID, FlowCreated, FlowState and FlowStatus make Onboarding a FlowRow.
func (c Onboarding) FlowID() string         { return c.ID }
func (c Onboarding) FlowCreated() time.Time { return c.CreatedAt }
func (c Onboarding) FlowState() string      { return c.State }
func (c Onboarding) FlowStatus() string     { return c.Status }

// OnboardingChange is what an onboarding's workflow writes at a step.
type OnboardingChange = FlowChange[Onboarding]

// OnboardingSearchColumn is what the list's search matches: a prefix of the customer's domain.
const OnboardingSearchColumn = "domain"

// CreateOnboarding inserts an onboarding; an open onboarding of the same domain is ErrConflict
// with that onboarding.
func (s *Store) CreateOnboarding(ctx context.Context, c *Onboarding, with ...With) (*Onboarding, error) {
	return createOrOpen(ctx, s, KindOnboarding, c, func() (*Onboarding, error) {
		return FindBy[Onboarding](ctx, s, "partner_id = ? AND domain = ? AND status IN ?", c.PartnerID, c.Domain,
			[]string{
				OnboardingCreating, OnboardingAwaitingAgreement, OnboardingReview, OnboardingOrdering,
				OnboardingProvisioning,
			})
	}, with...)
}

// CustomerCredentials are a new tenant's first admin credentials: the password is stored
// sealed until its one reveal or until CredentialsRevealWindow lapses, whichever comes first;
// then only the user name, who revealed it (or RevealLapsedBy) and when are kept.
type CustomerCredentials struct {
	CustomerID string `gorm:"primaryKey"`
	UserName   string
	// PasswordCiphertext is the sealed password; empty once revealed or lapsed.
	PasswordCiphertext string
	CreatedAt          time.Time
	RevealedAt         *time.Time
	RevealedBy         string
}

// CredentialsRevealWindow is how long a new tenant's first admin password waits, sealed, for its
// reveal. A password nobody asked for within it is deleted: the partner resets it in the
// Microsoft 365 admin center instead.
const CredentialsRevealWindow = 7 * 24 * time.Hour

// RevealLapsedBy stands in RevealedBy for credentials whose reveal window lapsed: nobody saw the
// password, and RevealedAt is when it was deleted.
const RevealLapsedBy = "nobody: the reveal window lapsed"

// SaveCredentials keeps a tenant's credentials once; saving again (a retried activity) keeps
// the first. Sealed passwords whose reveal window lapsed are deleted at the same time.
func (s *Store) SaveCredentials(ctx context.Context, c *CustomerCredentials) error {
	c.CreatedAt = time.Now().UTC()
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(c).Error; err != nil {
			return err
		}
		_, err := forgetLapsedCredentials(tx, c.CreatedAt)
		return err
	})
}

// ForgetLapsedCredentials deletes the sealed passwords nobody revealed within
// CredentialsRevealWindow before now, recording the lapse, and says how many it deleted.
func (s *Store) ForgetLapsedCredentials(ctx context.Context, now time.Time) (int64, error) {
	return forgetLapsedCredentials(s.DB.WithContext(ctx), now)
}

func forgetLapsedCredentials(tx *gorm.DB, now time.Time) (int64, error) {
	res := tx.Model(&CustomerCredentials{}).
		Where("revealed_at IS NULL AND created_at <= ?", now.UTC().Add(-CredentialsRevealWindow)).
		UpdateColumns(map[string]any{
			"password_ciphertext": "",
			"revealed_at":         now.UTC(),
			"revealed_by":         RevealLapsedBy,
		})
	if res.Error != nil {
		return 0, fmt.Errorf("delete lapsed credentials: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// Credentials reads an onboarding's credentials record without its sealed password: whether one
// waits to be revealed (RevealedAt nil), or who revealed it, or that it lapsed, and when.
func (s *Store) Credentials(ctx context.Context, customerID string) (*CustomerCredentials, error) {
	var out CustomerCredentials
	err := s.DB.WithContext(ctx).Omit("password_ciphertext").Where("customer_id = ?", customerID).First(&out).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &out, err
}

// ErrAlreadyRevealed is returned with the credentials' first reveal when they were revealed before,
// or with the lapse (RevealedBy is RevealLapsedBy) when their reveal window lapsed.
var ErrAlreadyRevealed = errors.New("the credentials were already revealed")

// RevealCredentials returns the sealed password to who, exactly once, and deletes it from the
// database in the same transaction, keeping who revealed it and when. A second call gets
// ErrAlreadyRevealed with the record of the first; so does a call after CredentialsRevealWindow,
// which deletes the password unrevealed.
func (s *Store) RevealCredentials(
	ctx context.Context,
	customerID, by string,
	at time.Time,
) (*CustomerCredentials, error) {
	var out CustomerCredentials
	// before is set when the credentials were revealed or lapsed before; the transaction still
	// commits, since a lapse found here is recorded.
	before := false
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("customer_id = ?", customerID).First(&out).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return err
		}
		if _, err := forgetLapsedCredentials(tx.Where("customer_id = ?", customerID), at); err != nil {
			return err
		}
		sealed := out.PasswordCiphertext
		res := tx.Model(&CustomerCredentials{}).Where("customer_id = ? AND revealed_at IS NULL", customerID).
			UpdateColumns(map[string]any{"revealed_at": at.UTC(), "revealed_by": by, "password_ciphertext": ""})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			// Revealed or lapsed before: the record says by whom (or that nobody) and when.
			if err := tx.Where("customer_id = ?", customerID).First(&out).Error; err != nil {
				return err
			}
			out.PasswordCiphertext, before = "", true
			return nil
		}
		at := at.UTC()
		out.PasswordCiphertext, out.RevealedAt, out.RevealedBy = sealed, &at, by
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case before:
		return &out, ErrAlreadyRevealed
	}
	return &out, nil
}

// Agreement evidence methods.
const (
	AgreementByPartner  = "partner-attestation"
	AgreementByCustomer = "customer-signed"
)

// AgreementEvidence is the proof that a customer accepted the Microsoft Customer Agreement:
// who, when, from where, how, which agreement, and what Partner Center was told.
type AgreementEvidence struct {
	CustomerID string `gorm:"primaryKey"`
	Method     string
	FirstName  string
	LastName   string
	Email      string
	DateAgreed time.Time
	RecordedAt time.Time
	ClientIP   string
	UserAgent  string
	APIKeyID   string `gorm:"column:api_key_id"`
	// AttestedOnBehalf names the reseller a provider attested for (resellers cannot attest).
	AttestedOnBehalf    string
	TemplateID          string
	AgreementLink       string
	SentAt              *time.Time
	PartnerCenterResult string
}

// TableName keeps the evidence in its own table.
func (AgreementEvidence) TableName() string { return "agreement_evidence" }

// SaveEvidence keeps the first proof of an onboarding, with the further writes that go with it
// (the command that tells the workflow, the timeline step), in one transaction; a second proof
// is ErrConflict.
func (s *Store) SaveEvidence(ctx context.Context, e *AgreementEvidence, with ...With) error {
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(e).Error; err != nil {
			return err
		}
		for _, w := range with {
			if err := w(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if isUniqueViolation(err) {
		return ErrConflict
	}
	return err
}

// EvidenceStepKey is the idempotency key of an onboarding's "agreement-accepted" step.
func EvidenceStepKey(customerID string) string { return customerID + "/agreement-accepted" }

// DropEvidence removes evidence the onboarding's workflow refused (it no longer waits for it),
// with its timeline step and the command that would tell the workflow, in one transaction.
func (s *Store) DropEvidence(ctx context.Context, customerID string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("customer_id = ?", customerID).Delete(&AgreementEvidence{}).Error; err != nil {
			return err
		}
		if err := tx.Where("idempotency_key = ?", EvidenceStepKey(customerID)).Delete(&FlowStep{}).Error; err != nil {
			return err
		}
		return tx.Where("flow_kind = ? AND flow_id = ? AND command = ?", KindOnboarding, customerID, CommandUpdate).
			Delete(&FlowCommand{}).
			Error
	})
}

// MarkEvidenceSent records what Partner Center answered to the attestation.
func (s *Store) MarkEvidenceSent(ctx context.Context, customerID, templateID, link, result string, at time.Time) error {
	return s.DB.WithContext(ctx).Model(&AgreementEvidence{}).Where("customer_id = ?", customerID).
		UpdateColumns(map[string]any{
			"template_id":           templateID,
			"agreement_link":        link,
			"partner_center_result": result,
			"sent_at":               at.UTC(),
		}).Error
}

// CustomerSubscription is a subscription an onboarding's order provisioned.
type CustomerSubscription struct {
	ID             string `gorm:"primaryKey"`
	CustomerID     string
	OrderID        string
	OfferID        string
	Name           string
	Quantity       int
	Status         string
	PartnerID      string
	SupportContact string
	CreatedAt      time.Time
}

// SaveSubscriptions records subscriptions, updating those already recorded.
func (s *Store) SaveSubscriptions(ctx context.Context, subs []CustomerSubscription) error {
	if len(subs) == 0 {
		return nil
	}
	return s.DB.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"status", "quantity", "partner_id", "support_contact"}),
	}).Create(&subs).Error
}

// Subscriptions returns an onboarding's subscriptions.
func (s *Store) Subscriptions(ctx context.Context, customerID string) ([]CustomerSubscription, error) {
	var out []CustomerSubscription
	err := s.DB.WithContext(ctx).Where("customer_id = ?", customerID).Order("created_at, id").Find(&out).Error
	return out, err
}

// OnboardingRequest is what the partner asked for, validated, kept with the onboarding (as
// Customer.Request) for the activities that create the tenant and the cart.
type OnboardingRequest struct {
	CompanyName  string      `json:"companyName"`
	DomainPrefix string      `json:"domainPrefix,omitempty"`
	Country      string      `json:"country"`
	Language     string      `json:"language"`
	Contact      ContactInfo `json:"contact"`
	Address      AddressInfo `json:"address"`
	Products     []Product   `json:"products"`
	// RegistrationNumber is the company's registration (VAT or other) number, where the
	// country requires one.
	RegistrationNumber string `json:"registrationNumber,omitempty"`
	SupportContact     bool   `json:"supportContact,omitempty"`
}

// ContactInfo is the customer's primary contact.
type ContactInfo struct {
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
	Phone     string `json:"phone,omitempty"`
}

// AddressInfo is the customer's address.
type AddressInfo struct {
	Line1      string `json:"line1"`
	City       string `json:"city"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postalCode"`
}

// Product is one line of an order.
type Product struct {
	CatalogItemID string `json:"catalogItemId"`
	Quantity      int    `json:"quantity"`
	BillingCycle  string `json:"billingCycle"`
	TermDuration  string `json:"termDuration,omitempty"`
}
