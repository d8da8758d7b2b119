package partnercenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client is every Partner Center and Graph operation the flows use. Mutating
// methods need a request ID in ctx (WithRequestID).
type Client interface {
	// RelationshipRequestURL returns the invitation link a customer's Global
	// admin opens to accept the reseller relationship.
	RelationshipRequestURL(ctx context.Context, opts RelationshipRequestOptions) (RelationshipRequest, error)
	// GetCustomer returns a customer of the partner, with its relationshipToPartner.
	GetCustomer(ctx context.Context, customerID string) (Customer, error)
	// FindCustomersByDomain lists the partner's customers whose domain starts
	// with prefix.
	FindCustomersByDomain(ctx context.Context, prefix string) ([]Customer, error)
	// CreateCustomer creates a customer tenant; the result carries the one-time
	// UserCredentials.
	CreateCustomer(ctx context.Context, in NewCustomer) (Customer, error)
	// RemoveResellerRelationship sets relationshipToPartner to none. Partner
	// Center answers with the patched resource only (PascalCase, every field
	// null but RelationshipToPartner), so the result carries the relationship
	// and the customer ID the call was made with, nothing else.
	RemoveResellerRelationship(ctx context.Context, customerID string) (Customer, error)
	// ListResellerCustomers returns one page of the customers associated with
	// an indirect reseller (by its tenant ID): pass continuation "" for the
	// first page and the returned next for the following ones; next is "" on
	// the last page. List items carry the company profile and the
	// relationship, not the billing profile: read a customer's contact e-mail
	// (billingProfile.email) with GetCustomer.
	ListResellerCustomers(
		ctx context.Context, resellerTenantID, continuation string,
	) (customers []Customer, next string, err error)
	// ListCustomers returns one page of every customer of the partner: pass continuation "" for
	// the first page and the page's ContinuationToken for the next; it is "" on the last page.
	// Items are as the list shows them (company profile and relationship; no billing profile).
	ListCustomers(ctx context.Context, continuation string) (Collection[Customer], error)
	// FindTenantByDomain looks up the tenant that holds a domain (Graph's
	// findTenantInformationByDomainName). Graph documents no answer for an unknown domain; it
	// answers 404, which IsNotFound reports.
	FindTenantByDomain(ctx context.Context, domain string) (TenantInformation, error)

	// CreateGDAPRelationship creates a GDAP relationship in status created.
	CreateGDAPRelationship(ctx context.Context, in NewGDAPRelationship) (GDAPRelationship, error)
	// GetGDAPRelationship reads a GDAP relationship and its ETag.
	GetGDAPRelationship(ctx context.Context, id string) (GDAPRelationship, error)
	// LockGDAPForApproval moves a created relationship to approvalPending.
	LockGDAPForApproval(ctx context.Context, id string) (GDAPRequest, error)
	// TerminateGDAPRelationship asks to end an active relationship.
	TerminateGDAPRelationship(ctx context.Context, id string) (GDAPRequest, error)
	// DeleteGDAPRelationship deletes a relationship still in status created.
	DeleteGDAPRelationship(ctx context.Context, id, etag string) error
	// UpdateGDAPAutoExtend changes autoExtendDuration (PT0S or P180D).
	UpdateGDAPAutoExtend(ctx context.Context, id, etag, autoExtendDuration string) (GDAPRelationship, error)
	// CreateAccessAssignment grants roles of an active relationship to one
	// partner security group.
	CreateAccessAssignment(ctx context.Context, relationshipID string, in NewAccessAssignment) (AccessAssignment, error)
	// GetAccessAssignment reads one access assignment.
	GetAccessAssignment(ctx context.Context, relationshipID, assignmentID string) (AccessAssignment, error)
	// ListAccessAssignments lists every access assignment of a relationship, following
	// @odata.nextLink.
	ListAccessAssignments(ctx context.Context, relationshipID string) ([]AccessAssignment, error)
	// ListGDAPRelationships returns one page of the partner's GDAP relationships: pass nextLink
	// "" for the first page and the page's NextLink for the next; it is "" on the last page. A
	// nextLink that is not on the configured Graph service is refused without a request
	// (ErrForeignNextLink).
	ListGDAPRelationships(ctx context.Context, nextLink string) (GraphCollection[GDAPRelationship], error)

	// ListIndirectResellers lists the resellers partnered with this provider.
	ListIndirectResellers(ctx context.Context) ([]PartnerRelationship, error)
	// GetMPNProfile looks up a PartnerID; an unknown one is error 3000.
	GetMPNProfile(ctx context.Context, mpnID string) (MPNProfile, error)
	// GetAgreementStatus checks a reseller's Microsoft Partner Agreement.
	GetAgreementStatus(ctx context.Context, mpnID string) (AgreementStatus, error)

	// GetMCATemplate returns the current Microsoft Customer Agreement template.
	GetMCATemplate(ctx context.Context) (AgreementTemplate, error)
	// GetAvailability reads a catalog item (product:SKU:availability) as sold in a country; an
	// unknown item is a 404.
	GetAvailability(ctx context.Context, catalogItemID, country string) (Availability, error)
	// ListProducts lists the products of one catalog view (targetView: OnlineServices, Azure,
	// AzureReservations, Software, ...) sold in a country.
	ListProducts(ctx context.Context, country, targetView string) ([]Product, error)
	// ListSKUs lists a product's SKUs sold in a country; an unknown product is 404 400013.
	ListSKUs(ctx context.Context, productID, country string) ([]SKU, error)
	// ListAvailabilities lists the availabilities of a product's SKU in a country.
	ListAvailabilities(ctx context.Context, productID, skuID, country string) ([]Availability, error)
	// CreateCustomerAgreement attests that the customer accepted an agreement.
	CreateCustomerAgreement(ctx context.Context, customerID string, a CustomerAgreement) (CustomerAgreement, error)
	// ListCustomerAgreements lists a customer's attested agreements.
	ListCustomerAgreements(ctx context.Context, customerID string) ([]CustomerAgreement, error)

	// CreateCart creates a cart for a customer. Problems a partner fixes by
	// changing the cart come back on the lines (CartLineItem.Error, codes
	// 10001, 10002, 10007, 10010, 10012); a reseller PartnerID that cannot
	// transact fails the call (800015, 800016, 900123), as does an add-on
	// whose parent subscription is of another product (800029).
	CreateCart(ctx context.Context, customerID string, cart Cart) (Cart, error)
	// GetCart reads a cart.
	GetCart(ctx context.Context, customerID, cartID string) (Cart, error)
	// UpdateCart replaces a cart's line items (same errors as CreateCart).
	UpdateCart(ctx context.Context, customerID string, cart Cart) (Cart, error)
	// CheckoutCart places the cart's orders. A retry with the same request ID
	// returns the first result. Refusals: 403 13605 (no MCA attestation), 400
	// 800009 (lines with errors; Error.Data lists them), 403 800089 (more of
	// an item than a customer may own, e.g. a second Azure plan), 400 800065
	// (a cart already submitted, where the service refuses repeats).
	CheckoutCart(ctx context.Context, customerID, cartID string) (CheckoutResult, error)
	// GetOrder reads an order.
	GetOrder(ctx context.Context, customerID, orderID string) (Order, error)
	// GetOrderProvisioningStatus reads the provisioning state of an order.
	GetOrderProvisioningStatus(ctx context.Context, customerID, orderID string) (OrderProvisioningStatus, error)
	// ListSubscriptions lists a customer's provisioned subscriptions.
	ListSubscriptions(ctx context.Context, customerID string) ([]Subscription, error)
	// GetSubscription reads one subscription.
	GetSubscription(ctx context.Context, customerID, subscriptionID string) (Subscription, error)
	// UpdateSupportContact names an indirect reseller as support contact.
	UpdateSupportContact(
		ctx context.Context, customerID, subscriptionID string, sc SupportContact,
	) (SupportContact, error)
	// UpdateSubscription sends the whole subscription resource with the fields changed (quantity,
	// status active/suspended/deleted, autoRenewEnabled, friendlyName, partnerId) and returns it as
	// updated. Refusals: 400 2011 (cancelled), 800091 (suspended), 2002 (quantity out of range),
	// 800095 (no seats), 900257 (fewer seats after the new-commerce window), 900117 (cancel after
	// it), 2054 (billing cycle), 800015/800016/900123/404 2072 (partner of record).
	UpdateSubscription(ctx context.Context, customerID string, sub Subscription) (Subscription, error)
	// ValidateResellers asks whether each PartnerID is a valid partner of record for this
	// provider (an authorized indirect reseller); one result per ID, in order.
	ValidateResellers(ctx context.Context, partnerIDs []string) ([]PartnerOfRecordValidation, error)

	// RegisterWebhook creates the partner's webhook registration.
	RegisterWebhook(ctx context.Context, reg WebhookRegistration) (WebhookRegistration, error)
	// GetWebhookRegistration reads the registration.
	GetWebhookRegistration(ctx context.Context) (WebhookRegistration, error)
	// UpdateWebhookRegistration replaces the registration.
	UpdateWebhookRegistration(ctx context.Context, reg WebhookRegistration) (WebhookRegistration, error)
	// DeleteWebhookRegistration removes the registration.
	DeleteWebhookRegistration(ctx context.Context) error
}

const (
	gdapPath = "/v1.0/tenantRelationships/delegatedAdminRelationships"
)

func esc(s string) string { return url.PathEscape(s) }

// RelationshipRequestURL implements Client.
func (c *HTTPClient) RelationshipRequestURL(
	ctx context.Context, opts RelationshipRequestOptions,
) (RelationshipRequest, error) {
	var out RelationshipRequest
	q := url.Values{}
	if opts.IndirectResellerID != "" {
		q.Set("indirectResellerId", opts.IndirectResellerID)
	}
	err := c.do(ctx, call{
		op:     "get relationship request URL",
		method: http.MethodGet,
		path:   "/v1/customers/relationshiprequests",
		query:  q,
		out:    &out,
	})
	return out, err
}

// GetCustomer implements Client.
func (c *HTTPClient) GetCustomer(ctx context.Context, customerID string) (Customer, error) {
	var out Customer
	err := c.do(ctx, call{
		op:     "get customer",
		method: http.MethodGet,
		path:   "/v1/customers/" + esc(customerID),
		out:    &out,
	})
	return out, err
}

// customerFilter is the simple field filter of GET /v1/customers, with its
// keys in the order Microsoft's examples write them.
type customerFilter struct {
	Field    string `json:"Field"`
	Value    string `json:"Value"`
	Operator string `json:"Operator"`
}

func (f customerFilter) String() string {
	b, _ := json.Marshal(f) // three strings cannot fail to encode
	return string(b)
}

// FindCustomersByDomain implements Client.
func (c *HTTPClient) FindCustomersByDomain(ctx context.Context, prefix string) ([]Customer, error) {
	filter := customerFilter{Field: "Domain", Value: prefix, Operator: "starts_with"}.String()
	var out Collection[Customer]
	err := c.do(ctx, call{
		op:     "find customers by domain",
		method: http.MethodGet,
		path:   "/v1/customers",
		query:  url.Values{"size": {"500"}, "filter": {filter}},
		out:    &out,
	})
	return out.Items, err
}

// ResellerCustomersPageSize is the page size ListResellerCustomers asks for.
const ResellerCustomersPageSize = 200

// ListResellerCustomers implements Client. The first page is
// GET /v1/customers?size=200&filter={"Field":"IndirectReseller","Value":<id>,"Operator":"starts_with"}
// (as "Get customers of an indirect reseller" documents); the following pages are seekCustomers'.
func (c *HTTPClient) ListResellerCustomers(
	ctx context.Context, resellerTenantID, continuation string,
) ([]Customer, string, error) {
	const op = "list reseller customers"
	if continuation == "" && strings.TrimSpace(resellerTenantID) == "" {
		return nil, "", fmt.Errorf("%s: reseller tenant ID is empty", op)
	}
	filter := customerFilter{Field: "IndirectReseller", Value: resellerTenantID, Operator: "starts_with"}.String()
	page, err := c.seekCustomers(ctx, op, url.Values{
		"size":   {strconv.Itoa(ResellerCustomersPageSize)},
		"filter": {filter},
	}, continuation)
	if err != nil {
		return nil, "", err
	}
	return page.Items, page.ContinuationToken, nil
}

// CreateCustomer implements Client. A customer of an indirect reseller needs
// App+User; any other customer app-only.
func (c *HTTPClient) CreateCustomer(ctx context.Context, in NewCustomer) (Customer, error) {
	var out Customer
	op := "create customer"
	if in.AssociatedPartnerID != "" {
		op = OpCreateResellerCustomer
	}
	err := c.do(ctx, call{op: op, method: http.MethodPost, path: "/v1/customers", body: in, out: &out})
	return out, err
}

// removeRelationshipBody is the documented PATCH body of a relationship
// removal: a Customer resource with relationshipToPartner "none".
type removeRelationshipBody struct {
	RelationshipToPartner string     `json:"relationshipToPartner"`
	Attributes            Attributes `json:"attributes"`
}

// RemoveResellerRelationship implements Client. The documented answer is the
// patched resource in PascalCase with null fields (encoding/json matches the
// keys case-insensitively); the customer ID is filled in from the call.
func (c *HTTPClient) RemoveResellerRelationship(ctx context.Context, customerID string) (Customer, error) {
	var out Customer
	err := c.do(ctx, call{
		op:     "remove reseller relationship",
		method: http.MethodPatch,
		path:   "/v1/customers/" + esc(customerID),
		body: removeRelationshipBody{
			RelationshipToPartner: RelationshipNone,
			Attributes:            Attributes{ObjectType: "Customer"},
		},
		out: &out,
	})
	if err == nil && out.ID == "" {
		out.ID = customerID
	}
	return out, err
}

func (c *HTTPClient) withApprovalURL(r GDAPRelationship) GDAPRelationship {
	if r.ID != "" {
		r.ApprovalURL = c.GDAPApprovalURL(r.ID)
	}
	return r
}

// CreateGDAPRelationship implements Client.
func (c *HTTPClient) CreateGDAPRelationship(ctx context.Context, in NewGDAPRelationship) (GDAPRelationship, error) {
	var out GDAPRelationship
	err := c.do(ctx, call{
		op:     "create GDAP relationship",
		svc:    graph,
		method: http.MethodPost,
		path:   gdapPath,
		body:   in,
		out:    &out,
	})
	return c.withApprovalURL(out), err
}

// GetGDAPRelationship implements Client.
func (c *HTTPClient) GetGDAPRelationship(ctx context.Context, id string) (GDAPRelationship, error) {
	var out GDAPRelationship
	err := c.do(ctx, call{
		op:     "get GDAP relationship",
		svc:    graph,
		method: http.MethodGet,
		path:   gdapPath + "/" + esc(id),
		out:    &out,
	})
	return c.withApprovalURL(out), err
}

func (c *HTTPClient) gdapRequest(ctx context.Context, op, id, action string) (GDAPRequest, error) {
	var out GDAPRequest
	err := c.do(ctx, call{op: op, svc: graph, method: http.MethodPost, path: gdapPath + "/" + esc(id) + "/requests",
		body: map[string]string{"action": action}, out: &out})
	return out, err
}

// LockGDAPForApproval implements Client.
func (c *HTTPClient) LockGDAPForApproval(ctx context.Context, id string) (GDAPRequest, error) {
	return c.gdapRequest(ctx, "lock GDAP relationship for approval", id, GDAPActionLockForApproval)
}

// TerminateGDAPRelationship implements Client.
func (c *HTTPClient) TerminateGDAPRelationship(ctx context.Context, id string) (GDAPRequest, error) {
	return c.gdapRequest(ctx, "terminate GDAP relationship", id, GDAPActionTerminate)
}

// DeleteGDAPRelationship implements Client.
func (c *HTTPClient) DeleteGDAPRelationship(ctx context.Context, id, etag string) error {
	return c.do(ctx, call{
		op:      "delete GDAP relationship",
		svc:     graph,
		method:  http.MethodDelete,
		path:    gdapPath + "/" + esc(id),
		ifMatch: etag,
	})
}

// UpdateGDAPAutoExtend implements Client.
func (c *HTTPClient) UpdateGDAPAutoExtend(
	ctx context.Context, id, etag, autoExtendDuration string,
) (GDAPRelationship, error) {
	var out GDAPRelationship
	err := c.do(ctx, call{
		op:      "update GDAP auto-extend",
		svc:     graph,
		method:  http.MethodPatch,
		path:    gdapPath + "/" + esc(id),
		ifMatch: etag,
		body:    map[string]string{"autoExtendDuration": autoExtendDuration},
		out:     &out,
	})
	return c.withApprovalURL(out), err
}

// CreateAccessAssignment implements Client.
func (c *HTTPClient) CreateAccessAssignment(
	ctx context.Context, relationshipID string, in NewAccessAssignment,
) (AccessAssignment, error) {
	var out AccessAssignment
	err := c.do(ctx, call{
		op:     "create access assignment",
		svc:    graph,
		method: http.MethodPost,
		path:   gdapPath + "/" + esc(relationshipID) + "/accessAssignments",
		body:   in,
		out:    &out,
	})
	return out, err
}

// GetAccessAssignment implements Client.
func (c *HTTPClient) GetAccessAssignment(
	ctx context.Context, relationshipID, assignmentID string,
) (AccessAssignment, error) {
	var out AccessAssignment
	err := c.do(ctx, call{
		op:     "get access assignment",
		svc:    graph,
		method: http.MethodGet,
		path:   gdapPath + "/" + esc(relationshipID) + "/accessAssignments/" + esc(assignmentID),
		out:    &out,
	})
	return out, err
}

// ListAccessAssignments implements Client: GET .../accessAssignments?$top=300 ("List
// accessAssignments": $top up to 300), then every @odata.nextLink until none.
func (c *HTTPClient) ListAccessAssignments(ctx context.Context, relationshipID string) ([]AccessAssignment, error) {
	const op = "list access assignments"
	path := gdapPath + "/" + esc(relationshipID) + "/accessAssignments"
	all := []AccessAssignment{}
	next := ""
	for range maxGraphPages {
		page, err := graphPage[AccessAssignment](ctx, c, op, path, next)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Value...)
		if page.NextLink == "" {
			return all, nil
		}
		next = page.NextLink
	}
	return nil, fmt.Errorf("%s: more than %d pages", op, maxGraphPages)
}

// ListIndirectResellers implements Client.
func (c *HTTPClient) ListIndirectResellers(ctx context.Context) ([]PartnerRelationship, error) {
	var out Collection[PartnerRelationship]
	err := c.do(ctx, call{op: "list indirect resellers", method: http.MethodGet, path: "/v1/relationships",
		query: url.Values{"relationship_type": {"IsIndirectCloudSolutionProviderOf"}}, out: &out})
	return out.Items, err
}

// GetMPNProfile implements Client.
// GetAvailability reads a catalog item by its three IDs ("Get the availability by ID").
func (c *HTTPClient) GetAvailability(ctx context.Context, catalogItemID, country string) (Availability, error) {
	var out Availability
	parts := strings.Split(catalogItemID, ":")
	if len(parts) != 3 {
		return out, fmt.Errorf("catalog item %q is not product:SKU:availability", catalogItemID)
	}
	path := "/v1/products/" + url.PathEscape(parts[0]) +
		"/skus/" + url.PathEscape(parts[1]) +
		"/availabilities/" + url.PathEscape(parts[2])
	err := c.do(ctx, call{
		op:     "get availability",
		method: http.MethodGet,
		path:   path,
		query:  url.Values{"country": {country}},
		out:    &out,
	})
	return out, err
}

// ListProducts implements Client ("Get a list of products (by country)").
func (c *HTTPClient) ListProducts(ctx context.Context, country, targetView string) ([]Product, error) {
	var out Collection[Product]
	err := c.do(ctx, call{op: "list products", method: http.MethodGet, path: "/v1/products",
		query: url.Values{"country": {country}, "targetView": {targetView}}, out: &out})
	return out.Items, err
}

// ListSKUs implements Client ("Get a list of SKUs for a product (by country)").
func (c *HTTPClient) ListSKUs(ctx context.Context, productID, country string) ([]SKU, error) {
	var out Collection[SKU]
	err := c.do(ctx, call{op: "list SKUs", method: http.MethodGet,
		path:  "/v1/products/" + url.PathEscape(productID) + "/skus",
		query: url.Values{"country": {country}}, out: &out})
	return out.Items, err
}

// ListAvailabilities implements Client ("Get a list of availabilities for a SKU (by country)").
func (c *HTTPClient) ListAvailabilities(ctx context.Context, productID, skuID, country string) ([]Availability, error) {
	var out Collection[Availability]
	err := c.do(ctx, call{op: "list availabilities", method: http.MethodGet,
		path:  "/v1/products/" + url.PathEscape(productID) + "/skus/" + url.PathEscape(skuID) + "/availabilities",
		query: url.Values{"country": {country}}, out: &out})
	return out.Items, err
}

// Sells tells whether Partner Center sells a catalog item in a country: an unknown item is a
// 404; any other failure is returned for the caller to decide.
func Sells(ctx context.Context, c Client, catalogItemID, country string) (bool, error) {
	_, err := c.GetAvailability(ctx, catalogItemID, country)
	var pcErr *Error
	if errors.As(err, &pcErr) && pcErr.StatusCode == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

func (c *HTTPClient) GetMPNProfile(ctx context.Context, mpnID string) (MPNProfile, error) {
	var out MPNProfile
	err := c.do(ctx, call{
		op:     "get MPN profile",
		method: http.MethodGet,
		path:   "/v1/profiles/mpn",
		query:  url.Values{"mpnId": {mpnID}},
		out:    &out,
	})
	return out, err
}

// GetAgreementStatus implements Client.
func (c *HTTPClient) GetAgreementStatus(ctx context.Context, mpnID string) (AgreementStatus, error) {
	var out AgreementStatus
	err := c.do(ctx, call{
		op:     "get partner agreement status",
		method: http.MethodGet,
		path:   "/v1/compliance/csp/agreementstatus",
		query:  url.Values{"mpnId": {mpnID}},
		out:    &out,
	})
	return out, err
}

// GetMCATemplate implements Client.
func (c *HTTPClient) GetMCATemplate(ctx context.Context) (AgreementTemplate, error) {
	var out Collection[AgreementTemplate]
	if err := c.do(ctx, call{
		op:     "get MCA template",
		method: http.MethodGet,
		path:   "/v1/agreements",
		query:  url.Values{"agreementType": {AgreementTypeMCA}},
		out:    &out,
	}); err != nil {
		return AgreementTemplate{}, err
	}
	if len(out.Items) == 0 {
		return AgreementTemplate{}, &Error{
			Op:          "get MCA template",
			StatusCode:  http.StatusNotFound,
			Description: "no Microsoft Customer Agreement template",
		}
	}
	best := out.Items[0]
	for _, t := range out.Items[1:] {
		if t.VersionRank < best.VersionRank {
			best = t
		}
	}
	return best, nil
}

// CreateCustomerAgreement implements Client.
func (c *HTTPClient) CreateCustomerAgreement(
	ctx context.Context, customerID string, a CustomerAgreement,
) (CustomerAgreement, error) {
	var out CustomerAgreement
	err := c.do(ctx, call{
		op:     "attest customer agreement",
		method: http.MethodPost,
		path:   "/v1/customers/" + esc(customerID) + "/agreements",
		body:   a,
		out:    &out,
	})
	return out, err
}

// ListCustomerAgreements implements Client.
func (c *HTTPClient) ListCustomerAgreements(ctx context.Context, customerID string) ([]CustomerAgreement, error) {
	var out Collection[CustomerAgreement]
	err := c.do(ctx, call{
		op:     "list customer agreements",
		method: http.MethodGet,
		path:   "/v1/customers/" + esc(customerID) + "/agreements",
		out:    &out,
	})
	return out.Items, err
}

// CreateCart implements Client.
func (c *HTTPClient) CreateCart(ctx context.Context, customerID string, cart Cart) (Cart, error) {
	var out Cart
	err := c.do(ctx, call{
		op:     "create cart",
		method: http.MethodPost,
		path:   "/v1/customers/" + esc(customerID) + "/carts",
		body:   cart,
		out:    &out,
	})
	return out, err
}

// GetCart implements Client.
func (c *HTTPClient) GetCart(ctx context.Context, customerID, cartID string) (Cart, error) {
	var out Cart
	err := c.do(ctx, call{
		op:     "get cart",
		method: http.MethodGet,
		path:   "/v1/customers/" + esc(customerID) + "/carts/" + esc(cartID),
		out:    &out,
	})
	return out, err
}

// UpdateCart implements Client. It sends PUT /v1/customers/{id}/carts/{cartId}
// as the request syntax documents it (the documented example adds a trailing
// slash; the simulator accepts both).
func (c *HTTPClient) UpdateCart(ctx context.Context, customerID string, cart Cart) (Cart, error) {
	var out Cart
	err := c.do(ctx, call{
		op:     "update cart",
		method: http.MethodPut,
		path:   "/v1/customers/" + esc(customerID) + "/carts/" + esc(cart.ID),
		body:   cart,
		out:    &out,
	})
	return out, err
}

// CheckoutCart implements Client.
func (c *HTTPClient) CheckoutCart(ctx context.Context, customerID, cartID string) (CheckoutResult, error) {
	var out CheckoutResult
	err := c.do(ctx, call{
		op:     "checkout cart",
		method: http.MethodPost,
		path:   "/v1/customers/" + esc(customerID) + "/carts/" + esc(cartID) + "/checkout",
		out:    &out,
	})
	return out, err
}

// GetOrder implements Client.
func (c *HTTPClient) GetOrder(ctx context.Context, customerID, orderID string) (Order, error) {
	var out Order
	err := c.do(ctx, call{
		op:     "get order",
		method: http.MethodGet,
		path:   "/v1/customers/" + esc(customerID) + "/orders/" + esc(orderID),
		out:    &out,
	})
	return out, err
}

// GetOrderProvisioningStatus implements Client.
func (c *HTTPClient) GetOrderProvisioningStatus(
	ctx context.Context, customerID, orderID string,
) (OrderProvisioningStatus, error) {
	var out OrderProvisioningStatus
	err := c.do(ctx, call{
		op:     "get order provisioning status",
		method: http.MethodGet,
		path:   "/v1/customers/" + esc(customerID) + "/orders/" + esc(orderID) + "/provisioningstatus",
		out:    &out,
	})
	return out, err
}

// ListSubscriptions implements Client.
func (c *HTTPClient) ListSubscriptions(ctx context.Context, customerID string) ([]Subscription, error) {
	var out Collection[Subscription]
	err := c.do(ctx, call{
		op:     "list subscriptions",
		method: http.MethodGet,
		path:   "/v1/customers/" + esc(customerID) + "/subscriptions",
		out:    &out,
	})
	return out.Items, err
}

// GetSubscription implements Client.
func (c *HTTPClient) GetSubscription(ctx context.Context, customerID, subscriptionID string) (Subscription, error) {
	var out Subscription
	err := c.do(ctx, call{
		op:     "get subscription",
		method: http.MethodGet,
		path:   "/v1/customers/" + esc(customerID) + "/subscriptions/" + esc(subscriptionID),
		out:    &out,
	})
	return out, err
}

// UpdateSupportContact implements Client.
func (c *HTTPClient) UpdateSupportContact(
	ctx context.Context, customerID, subscriptionID string, sc SupportContact,
) (SupportContact, error) {
	var out SupportContact
	err := c.do(ctx, call{
		op:     "update subscription support contact",
		method: http.MethodPut,
		path:   "/v1/customers/" + esc(customerID) + "/subscriptions/" + esc(subscriptionID) + "/supportcontact",
		body:   sc,
		out:    &out,
	})
	return out, err
}

// UpdateSubscription implements Client.
func (c *HTTPClient) UpdateSubscription(
	ctx context.Context, customerID string, sub Subscription,
) (Subscription, error) {
	var out Subscription
	err := c.do(ctx, call{
		op:     "update subscription",
		method: http.MethodPatch,
		path:   "/v1/customers/" + esc(customerID) + "/subscriptions/" + esc(sub.ID),
		body:   sub,
		out:    &out,
	})
	return out, err
}

// ValidateResellers implements Client.
func (c *HTTPClient) ValidateResellers(ctx context.Context, partnerIDs []string) ([]PartnerOfRecordValidation, error) {
	var out struct {
		ValidationResults []PartnerOfRecordValidation `json:"validationResults"`
	}
	err := c.do(ctx, call{
		op:     "validate resellers",
		method: http.MethodPost,
		path:   "/v1/partners/validateresellers",
		body:   map[string][]string{"partnerIds": partnerIDs},
		out:    &out,
	})
	return out.ValidationResults, err
}

const webhookPath = "/webhooks/v1/registration"

// RegisterWebhook implements Client.
func (c *HTTPClient) RegisterWebhook(ctx context.Context, reg WebhookRegistration) (WebhookRegistration, error) {
	var out WebhookRegistration
	err := c.do(ctx, call{op: "register webhook", method: http.MethodPost, path: webhookPath, body: reg, out: &out})
	return out, err
}

// GetWebhookRegistration implements Client.
func (c *HTTPClient) GetWebhookRegistration(ctx context.Context) (WebhookRegistration, error) {
	var out WebhookRegistration
	err := c.do(ctx, call{op: "get webhook registration", method: http.MethodGet, path: webhookPath, out: &out})
	return out, err
}

// UpdateWebhookRegistration implements Client.
func (c *HTTPClient) UpdateWebhookRegistration(
	ctx context.Context, reg WebhookRegistration,
) (WebhookRegistration, error) {
	var out WebhookRegistration
	err := c.do(ctx, call{
		op:     "update webhook registration",
		method: http.MethodPut,
		path:   webhookPath,
		body:   reg,
		out:    &out,
	})
	return out, err
}

// DeleteWebhookRegistration implements Client.
func (c *HTTPClient) DeleteWebhookRegistration(ctx context.Context) error {
	return c.do(ctx, call{op: "delete webhook registration", method: http.MethodDelete, path: webhookPath})
}
