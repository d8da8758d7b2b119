package partnercenter

import "fmt"

// Credential is the kind of access token an operation accepts, as the "Prerequisites" section
// of its Microsoft article states it.
type Credential int

const (
	// AppOrUser: "supports authentication with both standalone App and App+User credentials".
	// The client sends the app-only token (it needs no signed-in partner).
	AppOrUser Credential = iota + 1
	// AppUser: "supports authentication with App+User credentials only". The client sends the
	// token of the connected partner user (the secure application model), with MFA.
	AppUser
)

// String names the credential as Microsoft's articles do.
func (c Credential) String() string {
	switch c {
	case AppOrUser:
		return "App-only or App+User"
	case AppUser:
		return "App+User only"
	}
	return fmt.Sprintf("Credential(%d)", int(c))
}

// Operation is one Partner Center or Graph operation partnerflow calls or the simulator serves:
// the client's name for it, the route (a net/http pattern, as the simulator registers it), the
// credential it accepts and the Microsoft article that says so.
type Operation struct {
	Name       string
	Route      string
	Credential Credential
	Article    string
}

// Operations is the credential table: every operation of Client, and every service route the
// simulator serves. The client refuses to call an operation without an entry, and the simulator
// refuses to register a route without one, so neither can drift from the table. The sources
// are in testdata/README.md ("Credentials").
var Operations = []Operation{
	{
		"get relationship request URL", "GET /v1/customers/relationshiprequests", AppUser,
		"Request a reseller relationship",
	},
	{"get customer", "GET /v1/customers/{customerId}", AppOrUser, "Get a customer by ID"},
	{"find customers by domain", "GET /v1/customers", AppOrUser, "Get a list of customers filtered by a search field"},
	{"list customers", "GET /v1/customers", AppOrUser, "Get a list of customers"},
	{"list reseller customers", "GET /v1/customers", AppUser, "Get customers of an indirect reseller"},
	{"create customer", "POST /v1/customers", AppOrUser, "Create a customer"},
	{OpCreateResellerCustomer, "POST /v1/customers", AppUser, "Create a customer for an indirect reseller"},
	{
		"remove reseller relationship", "PATCH /v1/customers/{customerId}", AppUser,
		"Remove a reseller relationship with a customer",
	},
	{"list indirect resellers", "GET /v1/relationships", AppUser, "Retrieve a list of indirect resellers"},
	{"get MPN profile", "GET /v1/profiles/mpn", AppUser, "Verify a partner MPN ID"},
	{
		"get partner agreement status", "GET /v1/compliance/csp/agreementstatus", AppUser,
		"Verify an indirect reseller's Microsoft Partner Agreement signing status",
	},
	{"get MCA template", "GET /v1/agreements", AppUser, "Get agreement metadata for the Microsoft Customer Agreement"},
	{
		"attest customer agreement", "POST /v1/customers/{customerId}/agreements", AppUser,
		"Confirm customer acceptance of Microsoft Customer Agreement",
	},
	{
		"list customer agreements", "GET /v1/customers/{customerId}/agreements", AppUser,
		"Get confirmation of customer acceptance of Microsoft Customer Agreement",
	},
	{
		"get availability", "GET /v1/products/{productId}/skus/{skuId}/availabilities/{availabilityId}", AppOrUser,
		"Get the availability by ID",
	},
	{"list products", "GET /v1/products", AppOrUser, "Get a list of products (by country)"},
	{"list SKUs", "GET /v1/products/{productId}/skus", AppOrUser, "Get a list of SKUs for a product (by country)"},
	{
		"list availabilities", "GET /v1/products/{productId}/skus/{skuId}/availabilities", AppOrUser,
		"Get a list of availabilities for a SKU (by country)",
	},
	{"create cart", "POST /v1/customers/{customerId}/carts", AppOrUser, "Create a cart"},
	{
		"get cart", "GET /v1/customers/{customerId}/carts/{cartId}", AppOrUser,
		"Manage orders - Get a cart by ID (REST reference; states no credential: the simulator allows both, " +
			"as for the other cart calls)",
	},
	{"get cart", "GET /v1/customers/{customerId}/carts/{cartId}/{$}", AppOrUser, "Get a cart by ID"},
	{"update cart", "PUT /v1/customers/{customerId}/carts/{cartId}", AppOrUser, "Update a cart"},
	{"update cart", "PUT /v1/customers/{customerId}/carts/{cartId}/{$}", AppOrUser, "Update a cart"},
	{"checkout cart", "POST /v1/customers/{customerId}/carts/{cartId}/checkout", AppOrUser, "Checkout a cart"},
	{"get order", "GET /v1/customers/{customerId}/orders/{orderId}", AppOrUser, "Get an order by ID"},
	{
		"get order provisioning status",
		"GET /v1/customers/{customerId}/orders/{orderId}/provisioningstatus", AppOrUser,
		"Get an order by ID (no article documents order provisioning status; the simulator allows both, " +
			"as for orders)",
	},
	{
		"list subscriptions", "GET /v1/customers/{customerId}/subscriptions", AppOrUser,
		"Get all of a customer's subscriptions",
	},
	{
		"get subscription", "GET /v1/customers/{customerId}/subscriptions/{subscriptionId}", AppOrUser,
		"Get a subscription by ID",
	},
	{
		"update subscription", "PATCH /v1/customers/{customerId}/subscriptions/{subscriptionId}", AppOrUser,
		"Update a subscription by ID (also Change the quantity of a subscription, Suspend a subscription, " +
			"Update autorenew, Cancel a subscription)",
	},
	{
		"validate resellers", "POST /v1/partners/validateresellers", AppOrUser,
		"Validate reseller partner of record",
	},
	{
		"get subscription support contact",
		"GET /v1/customers/{customerId}/subscriptions/{subscriptionId}/supportcontact", AppUser,
		"Get a subscription's support contact",
	},
	{
		"update subscription support contact",
		"PUT /v1/customers/{customerId}/subscriptions/{subscriptionId}/supportcontact", AppUser,
		"Update a subscription's support contact",
	},
	{"register webhook", "POST /webhooks/v1/registration", AppOrUser, "Partner Center webhooks"},
	{"update webhook registration", "PUT /webhooks/v1/registration", AppOrUser, "Partner Center webhooks"},
	{"get webhook registration", "GET /webhooks/v1/registration", AppOrUser, "Partner Center webhooks"},
	{
		"delete webhook registration", "DELETE /webhooks/v1/registration", AppOrUser,
		"Partner Center webhooks (the article states one credential for the whole API)",
	},
	{"list webhook events", "GET /webhooks/v1/registration/events", AppOrUser, "Partner Center webhooks"},
	{
		"send webhook validation event", "POST /webhooks/v1/registration/validationEvents", AppOrUser,
		"Partner Center webhooks",
	},
	{"create GDAP relationship", "POST " + gdapPath, AppOrUser, "Create delegatedAdminRelationship"},
	{"list GDAP relationships", "GET " + gdapPath, AppOrUser, "List delegatedAdminRelationships"},
	{"get GDAP relationship", "GET " + gdapPath + "/{id}", AppOrUser, "Get delegatedAdminRelationship"},
	{"update GDAP auto-extend", "PATCH " + gdapPath + "/{id}", AppOrUser, "Update delegatedAdminRelationship"},
	{"delete GDAP relationship", "DELETE " + gdapPath + "/{id}", AppOrUser, "Delete delegatedAdminRelationship"},
	{
		"lock GDAP relationship for approval", "POST " + gdapPath + "/{id}/requests", AppOrUser,
		"Create delegatedAdminRelationshipRequest",
	},
	{
		"terminate GDAP relationship", "POST " + gdapPath + "/{id}/requests", AppOrUser,
		"Create delegatedAdminRelationshipRequest",
	},
	{"create access assignment", "POST " + gdapPath + "/{id}/accessAssignments", AppOrUser, "Create accessAssignments"},
	{"list access assignments", "GET " + gdapPath + "/{id}/accessAssignments", AppOrUser, "List accessAssignments"},
	{
		"get access assignment", "GET " + gdapPath + "/{id}/accessAssignments/{assignmentId}", AppOrUser,
		"Get delegatedAdminAccessAssignment",
	},
	// Graph addresses the function by one path segment,
	// findTenantInformationByDomainName(domainName='...'): a route can only match it whole.
	{
		OpFindTenantByDomain, "GET " + tenantRelationshipsPath + "/{function}", AppOrUser,
		"tenantRelationship: findTenantInformationByDomainName (Microsoft Graph v1.0; delegated and application " +
			"CrossTenantInformation.ReadBasic.All)",
	},
}

// OpFindTenantByDomain is the client's name for Graph's findTenantInformationByDomainName.
const OpFindTenantByDomain = "find tenant by domain"

// OpCreateResellerCustomer is the client's name for creating a customer on behalf of an indirect
// reseller (POST /v1/customers with associatedPartnerId), which only App+User may do.
const OpCreateResellerCustomer = "create customer for an indirect reseller"

// OperationNamed returns the table's entry for a client operation.
func OperationNamed(name string) (Operation, bool) {
	for _, op := range Operations {
		if op.Name == name {
			return op, true
		}
	}
	return Operation{}, false
}

// RouteCredential is the credential a route accepts: the most permissive of its operations'
// (a route serving an App+User-only variant checks that variant itself, as POST /v1/customers
// does for a customer of an indirect reseller). ok is false for a route without an entry.
func RouteCredential(route string) (c Credential, ok bool) {
	for _, op := range Operations {
		if op.Route != route {
			continue
		}
		if !ok || op.Credential == AppOrUser {
			c = op.Credential
		}
		ok = true
	}
	return c, ok
}

// Audiences and scopes of the tokens Entra ID issues for the two services.
const (
	// PartnerCenterAudience is the aud of a Partner Center API access token.
	PartnerCenterAudience = "https://api.partnercenter.microsoft.com"
	// GraphAudience is the aud of a Microsoft Graph access token.
	GraphAudience = "https://graph.microsoft.com"
	// PartnerCenterUserScope is the delegated scope of App+User calls to Partner Center.
	PartnerCenterUserScope = PartnerCenterAudience + "/user_impersonation"
)
