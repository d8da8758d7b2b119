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

// Address is a postal address on a billing profile.
type Address struct {
	Country      string `json:"country"`
	Region       string `json:"region,omitempty"`
	City         string `json:"city,omitempty"`
	State        string `json:"state,omitempty"`
	AddressLine1 string `json:"addressLine1,omitempty"`
	AddressLine2 string `json:"addressLine2,omitempty"`
	PostalCode   string `json:"postalCode,omitempty"`
	FirstName    string `json:"firstName,omitempty"`
	LastName     string `json:"lastName,omitempty"`
	PhoneNumber  string `json:"phoneNumber,omitempty"`
}

// BillingProfile is a customer's billing contact and address.
type BillingProfile struct {
	ID             string     `json:"id,omitempty"`
	Email          string     `json:"email"`
	Culture        string     `json:"culture"`
	Language       string     `json:"language"`
	CompanyName    string     `json:"companyName"`
	DefaultAddress Address    `json:"defaultAddress"`
	Attributes     Attributes `json:"attributes,omitzero"`
}

// CompanyProfile names the customer's tenant.
type CompanyProfile struct {
	TenantID                       string     `json:"tenantId,omitempty"`
	Domain                         string     `json:"domain"`
	CompanyName                    string     `json:"companyName,omitempty"`
	OrganizationRegistrationNumber string     `json:"organizationRegistrationNumber,omitempty"`
	Attributes                     Attributes `json:"attributes,omitzero"`
}

// UserCredentials is the new tenant's first admin and its temporary password;
// Partner Center returns it only in the create-customer response.
type UserCredentials struct {
	UserName string `json:"userName"`
	Password string `json:"password"`
}

// Customer is a customer tenant as the partner sees it.
type Customer struct {
	ID                    string           `json:"id"`
	CommerceID            string           `json:"commerceId,omitempty"`
	CompanyProfile        CompanyProfile   `json:"companyProfile"`
	BillingProfile        BillingProfile   `json:"billingProfile"`
	RelationshipToPartner string           `json:"relationshipToPartner"`
	AssociatedPartnerID   string           `json:"associatedPartnerId,omitempty"`
	UserCredentials       *UserCredentials `json:"userCredentials,omitempty"`
	Attributes            Attributes       `json:"attributes,omitzero"`
}

// NewCustomer is the body of a create-customer call.
type NewCustomer struct {
	CompanyProfile CompanyProfile `json:"companyProfile"`
	BillingProfile BillingProfile `json:"billingProfile"`
	// AssociatedPartnerID is the indirect reseller's tenant ID when an indirect
	// provider creates the customer for a reseller.
	AssociatedPartnerID string `json:"associatedPartnerId,omitempty"`
	EnableGDAPByDefault bool   `json:"enableGDAPByDefault,omitempty"`
}

// GDAP relationship status values (Graph delegatedAdminRelationship.status).
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
// an agreement.
type CustomerAgreement struct {
	PrimaryContact Contact    `json:"primaryContact"`
	TemplateID     string     `json:"templateId"`
	DateAgreed     Time       `json:"dateAgreed"`
	Type           string     `json:"type"`
	AgreementLink  string     `json:"agreementLink,omitempty"`
	Attributes     Attributes `json:"attributes,omitzero"`
}

// Participant keys on a cart line item.
const ParticipantTransactionReseller = "transaction_reseller"

// Participant is a key/value pair on a cart line item, e.g. the reseller's
// PartnerID under "transaction_reseller".
type Participant struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// CartLineItemError is the error Partner Center attaches to a line item.
type CartLineItemError struct {
	ErrorCode        int    `json:"errorCode"`
	ErrorDescription string `json:"errorDescription"`
}

// CartLineItem is one product in a cart.
type CartLineItem struct {
	ID                  int                `json:"id"`
	CatalogItemID       string             `json:"catalogItemId"`
	FriendlyName        string             `json:"friendlyName,omitempty"`
	Quantity            int                `json:"quantity"`
	CurrencyCode        string             `json:"currencyCode,omitempty"`
	BillingCycle        string             `json:"billingCycle"`
	TermDuration        string             `json:"termDuration,omitempty"`
	Participants        []Participant      `json:"participants,omitempty"`
	ProvisioningContext map[string]string  `json:"provisioningContext,omitempty"`
	AttestationAccepted bool               `json:"attestationAccepted,omitempty"`
	OrderGroup          string             `json:"orderGroup,omitempty"`
	Error               *CartLineItemError `json:"error,omitempty"`
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
	Attributes            Attributes     `json:"attributes,omitzero"`
}

// OrderLineItem is one product of an order.
type OrderLineItem struct {
	LineItemNumber               int      `json:"lineItemNumber"`
	OfferID                      string   `json:"offerId"`
	SubscriptionID               string   `json:"subscriptionId,omitempty"`
	TermDuration                 string   `json:"termDuration,omitempty"`
	TransactionType              string   `json:"transactionType,omitempty"`
	FriendlyName                 string   `json:"friendlyName,omitempty"`
	Quantity                     int      `json:"quantity"`
	PartnerIDOnRecord            string   `json:"partnerIdOnRecord,omitempty"`
	AdditionalPartnerIDsOnRecord []string `json:"additionalPartnerIdsOnRecord,omitempty"`
}

// Order status values.
const (
	OrderStatusPending   = "pending"
	OrderStatusCompleted = "completed"
	OrderStatusCancelled = "cancelled"
)

// Order is the result of a checkout; provisioning is asynchronous.
type Order struct {
	ID                  string          `json:"id"`
	AlternateID         string          `json:"alternateId,omitempty"`
	ReferenceCustomerID string          `json:"referenceCustomerId"`
	BillingCycle        string          `json:"billingCycle"`
	CurrencyCode        string          `json:"currencyCode,omitempty"`
	LineItems           []OrderLineItem `json:"lineItems"`
	CreationDate        Time            `json:"creationDate,omitzero"`
	Status              string          `json:"status"`
	TransactionType     string          `json:"transactionType,omitempty"`
	Attributes          Attributes      `json:"attributes,omitzero"`
}

// OrderError is a checkout failure for one order group.
type OrderError struct {
	OrderGroupID string `json:"orderGroupId"`
	Code         int    `json:"code"`
	Description  string `json:"description"`
}

// CheckoutResult is what checking out a cart returns; a repeat checkout of
// the same cart returns the first result.
type CheckoutResult struct {
	Orders      []Order      `json:"orders"`
	OrderErrors []OrderError `json:"orderErrors,omitempty"`
	Attributes  Attributes   `json:"attributes,omitzero"`
}

// LineItemProvisioningStatus tells whether one order line is fulfilled.
type LineItemProvisioningStatus struct {
	LineItemNumber int    `json:"lineItemNumber"`
	Status         string `json:"status"`
	SubscriptionID string `json:"subscriptionId,omitempty"`
}

// OrderProvisioningStatus is the provisioning state of every line of an order.
type OrderProvisioningStatus struct {
	TotalCount int                          `json:"totalCount"`
	Items      []LineItemProvisioningStatus `json:"items"`
}

// Subscription is a customer's provisioned product.
type Subscription struct {
	ID               string     `json:"id"`
	OfferID          string     `json:"offerId"`
	FriendlyName     string     `json:"friendlyName,omitempty"`
	Quantity         int        `json:"quantity"`
	Status           string     `json:"status"`
	BillingCycle     string     `json:"billingCycle"`
	TermDuration     string     `json:"termDuration,omitempty"`
	PartnerID        string     `json:"partnerId,omitempty"`
	OrderID          string     `json:"orderId,omitempty"`
	CreationDate     Time       `json:"creationDate,omitzero"`
	AutoRenewEnabled bool       `json:"autoRenewEnabled"`
	Attributes       Attributes `json:"attributes,omitzero"`
}

// SupportContact is the indirect reseller named as a subscription's support
// contact.
type SupportContact struct {
	SupportTenantID string     `json:"supportTenantId"`
	SupportMPNID    string     `json:"supportMpnId"`
	Name            string     `json:"name"`
	Attributes      Attributes `json:"attributes,omitzero"`
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

// GraphCollection is Graph's list envelope.
type GraphCollection[T any] struct {
	Value []T `json:"value"`
}
