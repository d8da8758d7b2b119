package partnercenter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Time is a timestamp as Partner Center and Graph write it: RFC 3339 with
// optional fractional seconds, where an empty string or null means "not set"
// (Graph's documented create response carries "activatedDateTime": "").
type Time struct {
	time.Time
}

// NewTime wraps t; a zero t marshals as null.
func NewTime(t time.Time) Time { return Time{Time: t.UTC()} }

// MarshalJSON writes null for the zero time and RFC 3339 otherwise.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339Nano))
}

// UnmarshalJSON accepts null, "", RFC 3339 with or without a zone (Partner
// Center sometimes omits it, meaning UTC).
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			if y := v.UTC().Year(); y < 0 || y > 9999 {
				// An offset can carry 9999-12-31 past RFC 3339's years, which MarshalJSON cannot write.
				return fmt.Errorf("timestamp %q is outside RFC 3339's years in UTC", s)
			}
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q is not RFC 3339", s)
}

// Attributes is the `attributes` object Partner Center puts on every resource.
type Attributes struct {
	ObjectType string `json:"objectType,omitempty"`
	Etag       string `json:"etag,omitempty"`
}

// Relationship values of Customer.RelationshipToPartner.
const (
	RelationshipNone             = "none"
	RelationshipReseller         = "reseller"
	RelationshipAdvisor          = "advisor"
	RelationshipSyndication      = "syndication"
	RelationshipMicrosoftSupport = "microsoft_support"
)

// RelationshipRequest is the partner's reusable invitation link a customer's
// Global admin opens to accept the reseller relationship.
type RelationshipRequest struct {
	URL        string     `json:"url"`
	Attributes Attributes `json:"attributes,omitzero"`
}

// RelationshipRequestOptions selects the two-tier variant of the invitation
// link; both fields empty asks for the partner's own (direct) link.
type RelationshipRequestOptions struct {
	// IndirectResellerID is the reseller's tenant ID when an indirect provider
	// invites on a reseller's behalf.
	IndirectResellerID string
}

// Address is a postal address: a billing profile's defaultAddress or a
// company profile's address. Microsoft's examples always carry country,
// city, addressLine1, postalCode and phoneNumber ("" when unknown, as the
// create-customer example shows), so those are always sent; the rest only
// when set (a company profile's address has region but no state or names).
type Address struct {
	Country      string `json:"country"`
	Region       string `json:"region,omitempty"`
	City         string `json:"city"`
	State        string `json:"state,omitempty"`
	AddressLine1 string `json:"addressLine1"`
	AddressLine2 string `json:"addressLine2,omitempty"`
	PostalCode   string `json:"postalCode"`
	FirstName    string `json:"firstName,omitempty"`
	MiddleName   string `json:"middleName,omitempty"`
	LastName     string `json:"lastName,omitempty"`
	PhoneNumber  string `json:"phoneNumber"`
}

// BillingProfile is a customer's billing contact and address. FirstName and
// LastName name the billing contact ("Get a customer by ID"); Attributes.Etag
// is the profile's ETag.
type BillingProfile struct {
	ID             string         `json:"id,omitempty"`
	FirstName      string         `json:"firstName,omitempty"`
	LastName       string         `json:"lastName,omitempty"`
	Email          string         `json:"email"`
	Culture        string         `json:"culture"`
	Language       string         `json:"language"`
	CompanyName    string         `json:"companyName"`
	DefaultAddress Address        `json:"defaultAddress"`
	Links          *ResourceLinks `json:"links,omitempty"`
	Attributes     Attributes     `json:"attributes,omitzero"`
}

// CompanyProfile names the customer's tenant. Address and Email appear on
// "Get a customer by ID" (not on create or list answers).
type CompanyProfile struct {
	TenantID                       string         `json:"tenantId,omitempty"`
	Domain                         string         `json:"domain"`
	CompanyName                    string         `json:"companyName,omitempty"`
	Address                        *Address       `json:"address,omitempty"`
	Email                          string         `json:"email,omitempty"`
	OrganizationRegistrationNumber string         `json:"organizationRegistrationNumber,omitempty"`
	Links                          *ResourceLinks `json:"links,omitempty"`
	Attributes                     Attributes     `json:"attributes,omitzero"`
}

// UserCredentials is the new tenant's first admin and its temporary password;
// Partner Center returns it only in the create-customer response.
type UserCredentials struct {
	UserName string `json:"userName"`
	Password string `json:"password"`
}

// Customer is a customer tenant as the partner sees it.
type Customer struct {
	ID                    string         `json:"id"`
	CommerceID            string         `json:"commerceId,omitempty"`
	CompanyProfile        CompanyProfile `json:"companyProfile"`
	BillingProfile        BillingProfile `json:"billingProfile"`
	RelationshipToPartner string         `json:"relationshipToPartner"`
	// AllowDelegatedAccess tells whether the customer granted the partner
	// delegated admin privileges (DAP). Partner Center sends it when a
	// customer is read by ID or created, not in lists: nil means not sent.
	AllowDelegatedAccess *bool `json:"allowDelegatedAccess,omitempty"`
	// EnableGDAPByDefault is the customer resource's flag for a default GDAP
	// relationship at creation (listed in "Customer resources"; no documented
	// answer carries it).
	EnableGDAPByDefault *bool `json:"enableGDAPByDefault,omitempty"`
	// CustomDomains lists the tenant's domains ("Get a customer by ID").
	CustomDomains       []string         `json:"customDomains,omitempty"`
	AssociatedPartnerID string           `json:"associatedPartnerId,omitempty"`
	UserCredentials     *UserCredentials `json:"userCredentials,omitempty"`
	Links               *ResourceLinks   `json:"links,omitempty"`
	Attributes          Attributes       `json:"attributes,omitzero"`
}

// DelegatedAccess reports AllowDelegatedAccess, false when it was not sent.
func (c Customer) DelegatedAccess() bool {
	return c.AllowDelegatedAccess != nil && *c.AllowDelegatedAccess
}

// NewCustomer is the body of a create-customer call.
type NewCustomer struct {
	CompanyProfile CompanyProfile `json:"companyProfile"`
	BillingProfile BillingProfile `json:"billingProfile"`
	// AssociatedPartnerID is the indirect reseller's tenant ID when an indirect
	// provider creates the customer for a reseller.
	AssociatedPartnerID string `json:"associatedPartnerId,omitempty"`
	// EnableGDAPByDefault asks Partner Center for a default GDAP relationship
	// with the new customer. It is always sent: since November 2023 a request
	// that omits it gets a default GDAP relationship, so false must be said
	// explicitly (Microsoft's GDAP FAQ, "Stop DAP and grant Default GDAP").
	EnableGDAPByDefault bool `json:"enableGDAPByDefault"`
}

// GDAP relationship status values (Graph delegatedAdminRelationship.status). A relationship is
// active until its endDateTime; expiring is Graph's "has passed its expiration date" (being
// deprovisioned), expired "the system completes the deprovisioning": both mean it has ended.
const (
	GDAPStatusCreated              = "created"
	GDAPStatusApprovalPending      = "approvalPending"
	GDAPStatusApproved             = "approved"
	GDAPStatusActivating           = "activating"
	GDAPStatusActive               = "active"
	GDAPStatusExpiring             = "expiring"
	GDAPStatusExpired              = "expired"
	GDAPStatusTerminationRequested = "terminationRequested"
	GDAPStatusTerminating          = "terminating"
	GDAPStatusTerminated           = "terminated"
)

// GlobalAdministratorRoleID is the Entra role template of Global Administrator;
// a relationship holding it cannot auto-extend.
const GlobalAdministratorRoleID = "62e90394-69f5-4237-9190-012177145e10"

// UnifiedRole names one Entra built-in role template.
type UnifiedRole struct {
	RoleDefinitionID string `json:"roleDefinitionId"`
}

// AccessDetails lists the roles of a relationship or an assignment.
type AccessDetails struct {
	UnifiedRoles []UnifiedRole `json:"unifiedRoles"`
}

// GDAPCustomer identifies the customer side of a GDAP relationship.
type GDAPCustomer struct {
	TenantID    string `json:"tenantId,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// GDAPRelationship is a Graph delegatedAdminRelationship.
type GDAPRelationship struct {
	ETag                 string        `json:"@odata.etag,omitempty"`
	ID                   string        `json:"id"`
	DisplayName          string        `json:"displayName"`
	Duration             string        `json:"duration"`
	Customer             GDAPCustomer  `json:"customer,omitzero"`
	AccessDetails        AccessDetails `json:"accessDetails"`
	Status               string        `json:"status"`
	AutoExtendDuration   string        `json:"autoExtendDuration,omitempty"`
	CreatedDateTime      Time          `json:"createdDateTime,omitzero"`
	LastModifiedDateTime Time          `json:"lastModifiedDateTime,omitzero"`
	ActivatedDateTime    Time          `json:"activatedDateTime,omitzero"`
	EndDateTime          Time          `json:"endDateTime,omitzero"`
	// ApprovalURL is where the customer's Global admin approves the request;
	// the client fills it from Config.AdminPortalURL, it is not on the wire.
	ApprovalURL string `json:"-"`
}

// NewGDAPRelationship is the body of a create-relationship call.
type NewGDAPRelationship struct {
	DisplayName        string        `json:"displayName"`
	Duration           string        `json:"duration"`
	Customer           *GDAPCustomer `json:"customer,omitempty"`
	AccessDetails      AccessDetails `json:"accessDetails"`
	AutoExtendDuration string        `json:"autoExtendDuration,omitempty"`
}

// AutoExtendP180D is the one auto-extension Graph offers ("PT0S" is none).
const AutoExtendP180D = "P180D"

// Renewal is the body of a relationship that replaces r before it ends: the same customer,
// duration and roles, named displayName. withoutGlobalAdmin drops Global Administrator and turns
// auto-extension on (Graph refuses auto-extension while the roles hold Global Administrator, so
// a relationship that holds it can never extend itself); otherwise r's auto-extension is kept,
// and left off when the roles hold Global Administrator. It reports false when nothing would be
// left to ask for (r held Global Administrator alone).
func (r GDAPRelationship) Renewal(displayName string, withoutGlobalAdmin bool) (NewGDAPRelationship, bool) {
	roles := make([]UnifiedRole, 0, len(r.AccessDetails.UnifiedRoles))
	holdsGlobalAdmin := false
	for _, role := range r.AccessDetails.UnifiedRoles {
		if strings.EqualFold(role.RoleDefinitionID, GlobalAdministratorRoleID) {
			holdsGlobalAdmin = true
			if withoutGlobalAdmin {
				continue
			}
		}
		roles = append(roles, role)
	}
	out := NewGDAPRelationship{
		DisplayName:   displayName,
		Duration:      r.Duration,
		Customer:      &GDAPCustomer{TenantID: r.Customer.TenantID},
		AccessDetails: AccessDetails{UnifiedRoles: roles},
	}
	switch {
	case withoutGlobalAdmin:
		out.AutoExtendDuration = AutoExtendP180D
	case !holdsGlobalAdmin && r.AutoExtendDuration == AutoExtendP180D:
		out.AutoExtendDuration = AutoExtendP180D
	}
	return out, len(roles) > 0
}

// GDAP relationship request actions.
const (
	GDAPActionLockForApproval = "lockForApproval"
	GDAPActionTerminate       = "terminate"
)

// GDAPRequest is a delegatedAdminRelationshipRequest (lock for approval or
// terminate).
type GDAPRequest struct {
	ID                   string `json:"id"`
	Action               string `json:"action"`
	Status               string `json:"status"`
	CreatedDateTime      Time   `json:"createdDateTime,omitzero"`
	LastModifiedDateTime Time   `json:"lastModifiedDateTime,omitzero"`
}

// Access assignment status values.
const (
	AssignmentStatusPending = "pending"
	AssignmentStatusActive  = "active"
	AssignmentStatusDeleted = "deleted"
	AssignmentStatusError   = "error"
)

// AccessContainer is the partner security group an assignment grants roles to.
type AccessContainer struct {
	AccessContainerID   string `json:"accessContainerId"`
	AccessContainerType string `json:"accessContainerType"`
}

// AccessAssignment is a delegatedAdminAccessAssignment.
type AccessAssignment struct {
	ETag                 string          `json:"@odata.etag,omitempty"`
	ID                   string          `json:"id"`
	Status               string          `json:"status"`
	AccessContainer      AccessContainer `json:"accessContainer"`
	AccessDetails        AccessDetails   `json:"accessDetails"`
	CreatedDateTime      Time            `json:"createdDateTime,omitzero"`
	LastModifiedDateTime Time            `json:"lastModifiedDateTime,omitzero"`
}

// NewAccessAssignment is the body of a create-assignment call; one security
// group per call.
type NewAccessAssignment struct {
	AccessContainer AccessContainer `json:"accessContainer"`
	AccessDetails   AccessDetails   `json:"accessDetails"`
}

// Relationship types of the partner relationship list. The query parameter
// names the .NET SDK's enum member (IsIndirectCloudSolutionProviderOf); the
// items carry the snake_case form Microsoft's example shows.
const (
	// RelationshipTypeIndirectCSPOf is relationshipType on the items of a
	// provider's indirect reseller list.
	RelationshipTypeIndirectCSPOf = "is_indirect_cloud_solution_provider_of"
	// RelationshipTypeIndirectResellerOf is relationshipType on the items of a
	// reseller's indirect provider list.
	RelationshipTypeIndirectResellerOf = "is_indirect_reseller_of"
)

// PartnerRelationship is an item of the indirect reseller list.
type PartnerRelationship struct {
	ID               string     `json:"id"`
	Name             string     `json:"name"`
	RelationshipType string     `json:"relationshipType"`
	State            string     `json:"state"`
	MPNID            string     `json:"mpnId"`
	Location         string     `json:"location"`
	Attributes       Attributes `json:"attributes,omitzero"`
}

// MPNProfile is a partner's PartnerID (MPN) profile.
type MPNProfile struct {
	PartnerName string         `json:"partnerName,omitempty"`
	MPNID       string         `json:"mpnId"`
	ProfileType string         `json:"profileType"`
	Links       *ResourceLinks `json:"links,omitempty"`
	Attributes  Attributes     `json:"attributes,omitzero"`
}

// AgreementStatus reports whether a reseller signed the Microsoft Partner
// Agreement; an unsigned agreement comes back as error 2203, not as false.
type AgreementStatus struct {
	IsAgreementSigned bool `json:"isAgreementSigned"`
}

// AgreementTypeMCA is the Microsoft Customer Agreement's agreement type.
const AgreementTypeMCA = "MicrosoftCustomerAgreement"

// AgreementTemplate is an agreement metadata item (its templateId is what an
// attestation refers to).
type AgreementTemplate struct {
	TemplateID    string `json:"templateId"`
	AgreementType string `json:"agreementType"`
	AgreementLink string `json:"agreementLink"`
	VersionRank   int    `json:"versionRank"`
}

// Contact is the customer's person who accepted an agreement.
type Contact struct {
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber,omitempty"`
}

// CustomerAgreement is the partner's attestation that the customer accepted
// an agreement. UserID (in the create answer) is the object ID of the partner
// user who confirmed it; AgreementLink appears in the list answer.
type CustomerAgreement struct {
	UserID         string     `json:"userId,omitempty"`
	PrimaryContact Contact    `json:"primaryContact"`
	TemplateID     string     `json:"templateId"`
	DateAgreed     Time       `json:"dateAgreed"`
	Type           string     `json:"type"`
	AgreementLink  string     `json:"agreementLink,omitempty"`
	Attributes     Attributes `json:"attributes,omitzero"`
}

// Participant keys on a cart line item: the indirect reseller's PartnerID
// (transaction_reseller) and, in EU/EFTA countries, up to five more
// (additional_transaction_reseller) that earn no incentives.
const (
	ParticipantTransactionReseller           = "transaction_reseller"
	ParticipantAdditionalTransactionReseller = "additional_transaction_reseller"
)

// MaxAdditionalResellers is how many additional_transaction_reseller
// participants a line item may carry ("Create a cart").
const MaxAdditionalResellers = 5

// Participant is a key/value pair on a cart line item, e.g. the reseller's
// PartnerID under "transaction_reseller".
type Participant struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// CartLineItemError is the error Partner Center attaches to a line item
// (codes 10000..10012, see CodeInvalidCatalogItem and the rest).
type CartLineItemError struct {
	ErrorCode        int    `json:"errorCode"`
	ErrorDescription string `json:"errorDescription"`
}

// RenewsTo is the term a line item or subscription renews to (P1M or P1Y).
// The resource tables call it an array; every example sends one object.
type RenewsTo struct {
	TermDuration string `json:"termDuration,omitempty"`
}

// Billing cycles of cart line items, orders and subscriptions (lower case as
// Partner Center answers; it accepts "Monthly" and the like in requests).
const (
	BillingCycleMonthly   = "monthly"
	BillingCycleAnnual    = "annual"
	BillingCycleTriennial = "triennial"
	BillingCycleOneTime   = "one_time"
	BillingCycleNone      = "none"
)

// ProvisioningParentSubscriptionID is the provisioningContext key that names
// the existing subscription an add-on is bought for.
const ProvisioningParentSubscriptionID = "parentSubscriptionId"

// CartLineItem is one product in a cart.
type CartLineItem struct {
	ID            int    `json:"id"`
	CatalogItemID string `json:"catalogItemId"`
	FriendlyName  string `json:"friendlyName,omitempty"`
	Quantity      int    `json:"quantity"`
	CurrencyCode  string `json:"currencyCode,omitempty"`
	BillingCycle  string `json:"billingCycle"`
	TermDuration  string `json:"termDuration,omitempty"`
	// RenewsTo is the renewal term of a new-commerce trial or term change.
	RenewsTo *RenewsTo `json:"renewsTo,omitempty"`
	// CustomTermEndDate prorates the first term to end on this date
	// (co-terming, "Get custom term end dates").
	CustomTermEndDate Time          `json:"customTermEndDate,omitzero"`
	Participants      []Participant `json:"participants,omitempty"`
	// ProvisioningContext carries what some items need to provision, e.g.
	// parentSubscriptionId for an add-on to an existing subscription. Partner
	// Center answers new-commerce lines with an empty object, so an empty,
	// non-nil map is sent as {} and a nil one not at all.
	ProvisioningContext map[string]string `json:"provisioningContext,omitzero"`
	AttestationAccepted bool              `json:"attestationAccepted,omitempty"`
	PromotionID         string            `json:"promotionId,omitempty"`
	OrderGroup          string            `json:"orderGroup,omitempty"`
	// AddonItems are add-ons bought with this line's new subscription ("Create
	// a cart with add-ons").
	AddonItems []CartLineItem `json:"addonItems,omitempty"`
	// Pricing is kept as sent: no documented example shows its shape.
	Pricing json.RawMessage    `json:"pricing,omitempty"`
	Error   *CartLineItemError `json:"error,omitempty"`
}

// Reseller returns the value of the line's transaction_reseller participant.
func (li CartLineItem) Reseller() string {
	for _, p := range li.Participants {
		if strings.EqualFold(p.Key, ParticipantTransactionReseller) {
			return p.Value
		}
	}
	return ""
}

// Cart is a customer's shopping cart; it expires 7 days after creation.
type Cart struct {
	ID                    string         `json:"id,omitempty"`
	CreationTimestamp     Time           `json:"creationTimestamp,omitzero"`
	LastModifiedTimestamp Time           `json:"lastModifiedTimestamp,omitzero"`
	ExpirationTimestamp   Time           `json:"expirationTimestamp,omitzero"`
	LastModifiedUser      string         `json:"lastModifiedUser,omitempty"`
	Status                string         `json:"status,omitempty"`
	LineItems             []CartLineItem `json:"lineItems"`
	// PartnerOnRecordAttestationAccepted confirms the partner-of-record
	// attestation ("Create a cart", request only; spelled as documented).
	PartnerOnRecordAttestationAccepted bool           `json:"PartnerOnRecordAttestationAccepted,omitempty"`
	Links                              *ResourceLinks `json:"links,omitempty"`
	Attributes                         Attributes     `json:"attributes,omitzero"`
}

// Cart status values.
const (
	CartStatusActive  = "Active"
	CartStatusOrdered = "Ordered"
)

// OrderLineItemLinks are the links of an order line item.
type OrderLineItemLinks struct {
	Product            *Link `json:"product,omitempty"`
	SKU                *Link `json:"sku,omitempty"`
	Availability       *Link `json:"availability,omitempty"`
	ProvisioningStatus *Link `json:"provisioningStatus,omitempty"`
	Subscription       *Link `json:"subscription,omitempty"`
	ActivationLinks    *Link `json:"activationLinks,omitempty"`
}

// OrderLineItem is one product of an order. SubscriptionID is present once
// the subscription is provisioned (new-commerce checkouts answer with it at
// once).
type OrderLineItem struct {
	LineItemNumber               int                 `json:"lineItemNumber"`
	OfferID                      string              `json:"offerId"`
	SubscriptionID               string              `json:"subscriptionId,omitempty"`
	ParentSubscriptionID         string              `json:"parentSubscriptionId,omitempty"`
	TermDuration                 string              `json:"termDuration,omitempty"`
	TransactionType              string              `json:"transactionType,omitempty"`
	FriendlyName                 string              `json:"friendlyName,omitempty"`
	Quantity                     int                 `json:"quantity"`
	PartnerIDOnRecord            string              `json:"partnerIdOnRecord,omitempty"`
	AdditionalPartnerIDsOnRecord []string            `json:"additionalPartnerIdsOnRecord,omitempty"`
	ProvisioningContext          map[string]string   `json:"provisioningContext,omitempty"`
	RenewsTo                     *RenewsTo           `json:"renewsTo,omitempty"`
	AttestationAccepted          bool                `json:"attestationAccepted,omitempty"`
	Pricing                      json.RawMessage     `json:"pricing,omitempty"`
	Links                        *OrderLineItemLinks `json:"links,omitempty"`
}

// Order status values.
const (
	OrderStatusPending   = "pending"
	OrderStatusCompleted = "completed"
	OrderStatusCancelled = "cancelled"
)

// OrderLinks are the links of an order.
type OrderLinks struct {
	Self               *Link `json:"self,omitempty"`
	ProvisioningStatus *Link `json:"provisioningStatus,omitempty"`
	PatchOperation     *Link `json:"patchOperation,omitempty"`
}

// Order is the result of a checkout; provisioning is asynchronous.
type Order struct {
	ID                  string          `json:"id"`
	AlternateID         string          `json:"alternateId,omitempty"`
	ReferenceCustomerID string          `json:"referenceCustomerId"`
	BillingCycle        string          `json:"billingCycle"`
	CurrencyCode        string          `json:"currencyCode,omitempty"`
	CurrencySymbol      string          `json:"currencySymbol,omitempty"`
	LineItems           []OrderLineItem `json:"lineItems"`
	CreationDate        Time            `json:"creationDate,omitzero"`
	Status              string          `json:"status"`
	TransactionType     string          `json:"transactionType,omitempty"`
	Links               *OrderLinks     `json:"links,omitempty"`
	// Client is the "client" object of the checkout example (always empty
	// there; its meaning is undocumented).
	Client     map[string]any `json:"client,omitzero"`
	Attributes Attributes     `json:"attributes,omitzero"`
}

// OrderError is a checkout failure for one order group.
type OrderError struct {
	OrderGroupID string `json:"orderGroupId"`
	Code         int    `json:"code"`
	Description  string `json:"description"`
}

// CheckoutResult is what checking out a cart returns. A retry with the same
// MS-RequestId returns the first result.
type CheckoutResult struct {
	Orders      []Order      `json:"orders"`
	OrderErrors []OrderError `json:"orderErrors,omitempty"`
	Attributes  Attributes   `json:"attributes,omitzero"`
}

// Provisioning status values of an order line ("Order resources":
// Fulfilled, Unfulfilled, PrefulfillmentPending; the example writes them in
// lower camel case, and they are compared without regard to case).
const (
	ProvisioningFulfilled             = "fulfilled"
	ProvisioningUnfulfilled           = "unfulfilled"
	ProvisioningPrefulfillmentPending = "prefulfillmentPending"
)

// QuantityProvisioningStatus is the provisioning state of some of a line's
// quantity.
type QuantityProvisioningStatus struct {
	Quantity int    `json:"quantity"`
	Status   string `json:"status"`
}

// LineItemProvisioningStatus tells whether one order line is fulfilled.
type LineItemProvisioningStatus struct {
	OrderLineItemID                 int                          `json:"orderLineItemId"`
	LineItemNumber                  int                          `json:"lineItemNumber"`
	Status                          string                       `json:"status"`
	QuantityProvisioningInformation []QuantityProvisioningStatus `json:"quantityProvisioningInformation,omitempty"`
}

// OrderProvisioningStatus is the provisioning state of every line of an order.
type OrderProvisioningStatus struct {
	TotalCount int                          `json:"totalCount"`
	Items      []LineItemProvisioningStatus `json:"items"`
	Attributes Attributes                   `json:"attributes,omitzero"`
}

// Fulfilled reports whether the order has lines and every one is fulfilled.
func (s OrderProvisioningStatus) Fulfilled() bool {
	if len(s.Items) == 0 {
		return false
	}
	for _, it := range s.Items {
		if !strings.EqualFold(it.Status, ProvisioningFulfilled) {
			return false
		}
	}
	return true
}

// Subscription status values.
const (
	SubscriptionStatusActive    = "active"
	SubscriptionStatusPending   = "pending"
	SubscriptionStatusSuspended = "suspended"
	SubscriptionStatusExpired   = "expired"
	SubscriptionStatusDeleted   = "deleted"
)

// ItemType is a subscription's productType ({id, displayName}, e.g.
// OnlineServicesNCE, Azure, Software).
type ItemType struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// RefundOption is a refund available if the subscription is cancelled now.
// The resource table names the expiry expiresAfter, the example expiresAt;
// both are read.
type RefundOption struct {
	Type         string `json:"type"`
	ExpiresAt    Time   `json:"expiresAt,omitzero"`
	ExpiresAfter Time   `json:"expiresAfter,omitzero"`
}

// SubscriptionLinks are the links of a subscription.
type SubscriptionLinks struct {
	Offer              *Link `json:"offer,omitempty"`
	ParentSubscription *Link `json:"parentSubscription,omitempty"`
	Product            *Link `json:"product,omitempty"`
	SKU                *Link `json:"sku,omitempty"`
	Availability       *Link `json:"availability,omitempty"`
	ActivationLinks    *Link `json:"activationLinks,omitempty"`
	Self               *Link `json:"self,omitempty"`
}

// Subscription is a customer's provisioned product. The booleans, partnerId
// and renewalTermDuration are always present in Microsoft's new-commerce
// examples (partnerId "" when no reseller is on record).
type Subscription struct {
	ID                   string    `json:"id"`
	EntitlementID        string    `json:"entitlementId,omitempty"`
	OfferID              string    `json:"offerId"`
	OfferName            string    `json:"offerName,omitempty"`
	FriendlyName         string    `json:"friendlyName,omitempty"`
	ProductType          *ItemType `json:"productType,omitempty"`
	Quantity             int       `json:"quantity"`
	UnitType             string    `json:"unitType,omitempty"`
	ParentSubscriptionID string    `json:"parentSubscriptionId,omitempty"`
	HasPurchasableAddons bool      `json:"hasPurchasableAddons"`
	CreationDate         Time      `json:"creationDate,omitzero"`
	EffectiveStartDate   Time      `json:"effectiveStartDate,omitzero"`
	CommitmentEndDate    Time      `json:"commitmentEndDate,omitzero"`
	// CancellationAllowedUntilDate ends the window in which the subscription
	// can be cancelled or reduced.
	CancellationAllowedUntilDate Time     `json:"cancellationAllowedUntilDate,omitzero"`
	Status                       string   `json:"status"`
	SuspensionReasons            []string `json:"suspensionReasons,omitempty"`
	AutoRenewEnabled             bool     `json:"autoRenewEnabled"`
	IsTrial                      bool     `json:"isTrial"`
	// BillingType is "none", "usage" or "license".
	BillingType         string         `json:"billingType,omitempty"`
	BillingCycle        string         `json:"billingCycle"`
	TermDuration        string         `json:"termDuration,omitempty"`
	RenewalTermDuration string         `json:"renewalTermDuration"`
	RefundOptions       []RefundOption `json:"refundOptions,omitempty"`
	IsMicrosoftProduct  bool           `json:"isMicrosoftProduct"`
	// PartnerID is the reseller of record's PartnerID (MPN ID).
	PartnerID       string   `json:"partnerId"`
	AttentionNeeded bool     `json:"attentionNeeded"`
	ActionTaken     bool     `json:"actionTaken"`
	Actions         []string `json:"actions,omitempty"`
	// ContractType is "subscription", "productKey" or "redemptionCode".
	ContractType  string             `json:"contractType,omitempty"`
	PromotionID   string             `json:"promotionId,omitempty"`
	Links         *SubscriptionLinks `json:"links,omitempty"`
	PublisherName string             `json:"publisherName,omitempty"`
	OrderID       string             `json:"orderId,omitempty"`
	Attributes    Attributes         `json:"attributes,omitzero"`
}

// PartnerOfRecordValidation is one result of "Validate reseller partner of record"
// (POST /v1/partners/validateresellers): whether the PartnerID may be a subscription's partner
// of record for this provider, and why not.
type PartnerOfRecordValidation struct {
	PartnerID                string `json:"partnerId"`
	IsValidPartnerIDOnRecord bool   `json:"isValidPartnerIdOnRecord"`
	ErrorCode                int    `json:"errorCode,omitempty"`
	ErrorDescription         string `json:"errorDescription,omitempty"`
}

// SupportContact is the indirect reseller named as a subscription's support
// contact.
type SupportContact struct {
	SupportTenantID string         `json:"supportTenantId"`
	SupportMPNID    string         `json:"supportMpnId"`
	Name            string         `json:"name"`
	Links           *ResourceLinks `json:"links,omitempty"`
	Attributes      Attributes     `json:"attributes,omitzero"`
}

// Webhook event names partnerflow listens to.
const (
	EventResellerRelationshipAccepted = "reseller-relationship-accepted-by-customer"
	EventGDAPApproved                 = "granular-admin-relationship-approved"
	EventGDAPActivated                = "granular-admin-relationship-activated"
	EventGDAPTerminated               = "granular-admin-relationship-terminated"
	EventGDAPExpired                  = "granular-admin-relationship-expired"
	EventGDAPAssignmentActivated      = "granular-admin-access-assignment-activated"
	EventTestCreated                  = "test-created"
)

// WebhookRegistration is the partner's single webhook registration.
type WebhookRegistration struct {
	SubscriberID  string   `json:"SubscriberId,omitempty"`
	WebhookURL    string   `json:"WebhookUrl"`
	WebhookEvents []string `json:"WebhookEvents"`
}

// WebhookEvent is the body Partner Center POSTs to the registered URL.
type WebhookEvent struct {
	EventName             string `json:"EventName"`
	ResourceURI           string `json:"ResourceUri"`
	ResourceName          string `json:"ResourceName"`
	AuditURI              string `json:"AuditUri"`
	ResourceChangeUtcDate Time   `json:"ResourceChangeUtcDate"`
}

// HeaderContinuationToken carries the continuation token of a paged list
// (the .NET SDK's MS-ContinuationToken, sent on the links.next request).
const HeaderContinuationToken = "MS-ContinuationToken"

// LinkHeader is a header a link asks to be sent with its request.
type LinkHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Link is a Partner Center resource link: a URI relative to /v1, the method
// and the headers to send.
type Link struct {
	URI     string       `json:"uri"`
	Method  string       `json:"method"`
	Headers []LinkHeader `json:"headers"`
}

// Header returns the value of the link's header key, "" if it has none.
func (l *Link) Header(key string) string {
	if l == nil {
		return ""
	}
	for _, h := range l.Headers {
		if strings.EqualFold(h.Key, key) {
			return h.Value
		}
	}
	return ""
}

// ResourceLinks are the links of a resource or a collection; Next is present
// only while a seek-based list has more pages.
type ResourceLinks struct {
	Self     *Link `json:"self,omitempty"`
	Next     *Link `json:"next,omitempty"`
	Previous *Link `json:"previous,omitempty"`
}

// Collection is Partner Center's list envelope. Seek-based lists (customers)
// add continuationToken and links.next while more pages follow.
type Collection[T any] struct {
	TotalCount        int            `json:"totalCount"`
	Items             []T            `json:"items"`
	Links             *ResourceLinks `json:"links,omitempty"`
	ContinuationToken string         `json:"continuationToken,omitempty"`
	Attributes        Attributes     `json:"attributes,omitzero"`
}

// GraphCollection is Graph's list envelope. NextLink is the whole URL of the next page while
// more remain ("Paging Microsoft Graph data in your app": follow it as it is until it is absent;
// a page may hold no items and still have one).
type GraphCollection[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink,omitempty"`
}

// TenantInformation is Graph's tenantInformation ("tenantRelationship:
// findTenantInformationByDomainName"): DefaultDomainName is the tenant's primary domain (the
// *.onmicrosoft.com one in the documented example), not necessarily the domain asked for;
// FederationBrandName is often null, read as "".
type TenantInformation struct {
	TenantID            string `json:"tenantId"`
	DisplayName         string `json:"displayName"`
	DefaultDomainName   string `json:"defaultDomainName"`
	FederationBrandName string `json:"federationBrandName,omitempty"`
}

// Availability is a catalog item as Partner Center sells it in one country ("Get the
// availability by ID", "Get a list of availabilities for a SKU (by country)"); its
// catalogItemId is what a cart line names.
type Availability struct {
	ID            string             `json:"id"`
	ProductID     string             `json:"productId"`
	SkuID         string             `json:"skuId"`
	CatalogItemID string             `json:"catalogItemId"`
	Country       string             `json:"country,omitempty"`
	Segment       string             `json:"segment,omitempty"`
	IsPurchasable bool               `json:"isPurchasable"`
	Terms         []AvailabilityTerm `json:"terms,omitempty"`
	Attributes    Attributes         `json:"attributes,omitzero"`
}

// AvailabilityTerm is a term an availability is sold for: its ISO 8601 duration (P1M, P1Y,
// P3Y) and description ("1 Year Prepaid"), as the availability list's example shows.
type AvailabilityTerm struct {
	Duration    string `json:"duration"`
	Description string `json:"description,omitempty"`
}

// Product is a product of the catalog ("Get a list of products (by country)"; the Product
// resource of "Products resources").
type Product struct {
	ID          string      `json:"id"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	ProductType ProductType `json:"productType"`
	// IsMicrosoftProduct is false for third-party products.
	IsMicrosoftProduct bool       `json:"isMicrosoftProduct"`
	PublisherName      string     `json:"publisherName,omitempty"`
	Attributes         Attributes `json:"attributes,omitzero"`
}

// ProductType is a product's type (Azure, OnlineServices, ...) and sub-type.
type ProductType struct {
	ID          string       `json:"id"`
	DisplayName string       `json:"displayName"`
	SubType     *ProductType `json:"subType,omitempty"`
}

// SKU is one of a product's SKUs ("Get a list of SKUs for a product (by country)"): the
// quantities and billing cycles a cart line may ask for.
type SKU struct {
	ID                     string     `json:"id"`
	ProductID              string     `json:"productId"`
	Title                  string     `json:"title"`
	Description            string     `json:"description,omitempty"`
	MinimumQuantity        int        `json:"minimumQuantity"`
	MaximumQuantity        int        `json:"maximumQuantity"`
	IsTrial                bool       `json:"isTrial"`
	SupportedBillingCycles []string   `json:"supportedBillingCycles"`
	PurchasePrerequisites  []string   `json:"purchasePrerequisites,omitempty"`
	Attributes             Attributes `json:"attributes,omitzero"`
}
