package sim

import (
	"net/http"
	"slices"
	"strings"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// Refusal reasons of customer actions (the "error" field of /sim answers and
// the message of the admin-center pages).
const (
	ReasonNotFound          = "not-found"
	ReasonNotGlobalAdmin    = "not-global-admin"
	ReasonRegionMismatch    = "region-mismatch"
	ReasonSyndication       = "syndication-customer"
	ReasonAlreadyAccepted   = "already-accepted"
	ReasonExpired           = "expired"
	ReasonInvalidState      = "invalid-state"
	ReasonInvalidInput      = "invalid-input"
	ReasonWrongCustomerUser = "wrong-customer"
	// ReasonNotIndirectReseller: the signed-in organization has no indirect
	// reseller enrollment with a PartnerID (MPN ID) in Partner Center.
	ReasonNotIndirectReseller = "not-indirect-reseller"
	// ReasonDomainTaken: another tenant already verified the domain (a domain
	// is verified in one tenant only).
	ReasonDomainTaken = "domain-taken"
)

// refusal is a customer action the simulated Microsoft side declines.
type refusal struct {
	status  int
	reason  string
	message string
}

func (r *refusal) write(w http.ResponseWriter) {
	writeJSON(w, r.status, map[string]string{"error": r.reason, "description": r.message})
}

func refuse(status int, reason, message string) *refusal {
	return &refusal{status: status, reason: reason, message: message}
}

func (s *Server) routes() {
	m := http.NewServeMux()
	svc := func(pattern string, h http.HandlerFunc) {
		m.HandleFunc(pattern, s.service(false, routeCredential(pattern), nil, h))
	}
	gr := func(pattern string, h http.HandlerFunc) {
		m.HandleFunc(pattern, s.service(true, routeCredential(pattern), gdapNeed, h))
	}
	adm := func(pattern string, h http.HandlerFunc) { m.HandleFunc(pattern, s.admin(h)) }

	svc("GET /v1/customers/relationshiprequests", s.relationshipRequest)
	svc("GET /v1/customers", s.listCustomers)
	svc("POST /v1/customers", s.createCustomer)
	svc("GET /v1/customers/{customerId}", s.getCustomer)
	svc("PATCH /v1/customers/{customerId}", s.patchCustomer)
	svc("GET /v1/customers/{customerId}/agreements", s.listCustomerAgreements)
	svc("POST /v1/customers/{customerId}/agreements", s.createCustomerAgreement)
	svc("POST /v1/customers/{customerId}/carts", s.createCart)
	svc("GET /v1/customers/{customerId}/carts/{cartId}", s.getCart)
	svc("PUT /v1/customers/{customerId}/carts/{cartId}", s.updateCart)
	// The documented update-cart example (and the cart's self link there)
	// ends the path with a slash.
	svc("GET /v1/customers/{customerId}/carts/{cartId}/{$}", s.getCart)
	svc("PUT /v1/customers/{customerId}/carts/{cartId}/{$}", s.updateCart)
	svc("POST /v1/customers/{customerId}/carts/{cartId}/checkout", s.checkout)
	svc("GET /v1/customers/{customerId}/orders/{orderId}", s.getOrder)
	svc("GET /v1/customers/{customerId}/orders/{orderId}/provisioningstatus", s.orderProvisioning)
	svc("GET /v1/customers/{customerId}/subscriptions", s.listSubscriptions)
	svc("GET /v1/customers/{customerId}/subscriptions/{subscriptionId}", s.getSubscription)
	svc("GET /v1/customers/{customerId}/subscriptions/{subscriptionId}/supportcontact", s.getSupportContact)
	svc("PUT /v1/customers/{customerId}/subscriptions/{subscriptionId}/supportcontact", s.updateSupportContact)
	svc("PATCH /v1/customers/{customerId}/subscriptions/{subscriptionId}", s.patchSubscription)
	svc("POST /v1/partners/validateresellers", s.validateResellers)
	svc("GET /v1/relationships", s.listRelationships)
	svc("GET /v1/profiles/mpn", s.mpnProfile)
	svc("GET /v1/compliance/csp/agreementstatus", s.agreementStatus)
	svc("GET /v1/agreements", s.agreementTemplates)
	svc("GET /v1/products", s.listProducts)
	svc("GET /v1/products/{productId}/skus", s.listSKUs)
	svc("GET /v1/products/{productId}/skus/{skuId}/availabilities", s.listAvailabilities)
	svc("GET /v1/products/{productId}/skus/{skuId}/availabilities/{availabilityId}", s.getAvailability)
	svc("POST /webhooks/v1/registration", s.registerWebhook)
	svc("PUT /webhooks/v1/registration", s.registerWebhook)
	svc("GET /webhooks/v1/registration", s.getWebhook)
	svc("DELETE /webhooks/v1/registration", s.deleteWebhook)
	svc("GET /webhooks/v1/registration/events", s.webhookEvents)
	svc("POST /webhooks/v1/registration/validationEvents", s.validationEvent)

	const gdap = "/v1.0/tenantRelationships/delegatedAdminRelationships"
	gr("POST "+gdap, s.createGDAP)
	gr("GET "+gdap, s.listGDAP)
	gr("GET "+gdap+"/{id}", s.getGDAP)
	gr("PATCH "+gdap+"/{id}", s.patchGDAP)
	gr("DELETE "+gdap+"/{id}", s.deleteGDAP)
	gr("POST "+gdap+"/{id}/requests", s.gdapRequest)
	gr("POST "+gdap+"/{id}/accessAssignments", s.createAssignment)
	gr("GET "+gdap+"/{id}/accessAssignments", s.listAssignments)
	gr("GET "+gdap+"/{id}/accessAssignments/{assignmentId}", s.getAssignment)
	// findTenantInformationByDomainName(domainName='...') is one path segment.
	const findTenant = "GET /v1.0/tenantRelationships/{function}"
	m.HandleFunc(findTenant, s.service(true, routeCredential(findTenant), crossTenantNeed, s.tenantFunction))

	adm("GET /{tenant}/v2.0/.well-known/openid-configuration", s.openIDConfiguration)
	adm("GET /{tenant}/discovery/v2.0/keys", s.keys)
	adm("GET /{tenant}/oauth2/v2.0/authorize", s.authorize)
	adm("POST /{tenant}/oauth2/v2.0/authorize", s.signInStep)
	adm("POST /{tenant}/oauth2/v2.0/token", s.token)
	adm("POST /{tenant}/oauth2/v2.0/devicecode", s.deviceCode)
	adm("GET /devicelogin", s.deviceLoginPage)
	adm("POST /devicelogin", s.deviceLoginPost)
	adm("GET /sim/apps", s.listApps)
	adm("POST /sim/apps", s.postApp)
	adm("POST /sim/tokens", s.postToken)
	m.HandleFunc("GET /sim/tokens/issued", s.listIssued)
	m.HandleFunc("GET /sim/requests", s.listRequests)
	adm("POST /sim/devicelogin", s.postDeviceLogin)
	adm("GET /sim/connections", s.listConnections)
	adm("POST /sim/connections/revoke", s.postRevoke)

	adm("POST /sim/tenants", s.postTenant)
	adm("GET /sim/tenants", s.listTenants)
	adm("GET /sim/tenants/{tenantId}", s.getTenant)
	adm("POST /sim/tenants/{tenantId}/domains", s.postCustomDomain)
	m.HandleFunc("POST /sim/estate", s.postEstate) // locks per batch itself
	adm("POST /sim/partners", s.postPartner)
	adm("POST /sim/customer-actions/accept-reseller", s.postAcceptReseller)
	adm("POST /sim/customer-actions/approve-gdap", s.postApproveGDAP)
	adm("POST /sim/customer-actions/authorize-provider", s.postAuthorizeProvider)
	adm("POST /sim/customer-actions/terminate-gdap", s.postTerminateGDAP)
	adm("POST /sim/partner-actions/remove-reseller", s.postRemoveReseller)
	adm("POST /sim/partner-actions/update-subscription", s.postUpdateSubscription)
	adm("GET /sim/provisioning", s.getProvisioning)
	adm("POST /sim/provisioning", s.postProvisioning)
	adm("GET /sim/clock", s.getClock)
	adm("POST /sim/clock", s.postClock)
	m.HandleFunc("GET /sim/faults", s.getFaults)
	m.HandleFunc("POST /sim/faults", s.postFaults)
	m.HandleFunc("DELETE /sim/faults", s.deleteFaults)
	m.HandleFunc("GET "+CertificatePath, s.certificate)
	m.HandleFunc("GET /sim/webhooks/deliveries", s.listDeliveries)
	adm("GET /sim/admin/partner-invitation", s.invitationPage)
	adm("POST /sim/admin/partner-invitation", s.invitationPage)
	adm("GET /sim/admin/granularAdminRelationships/{id}", s.approvalPage)
	adm("POST /sim/admin/granularAdminRelationships/{id}", s.approvalPage)
	adm("GET "+ResellerPartnershipPath, s.partnershipPage)
	adm("POST "+ResellerPartnershipPath, s.partnershipPage)
	s.mux = m
}

// routeCredential is the credential of a service route from the credential
// table; a route without an entry panics at registration, so none can skip it.
func routeCredential(pattern string) pc.Credential {
	c, ok := pc.RouteCredential(pattern)
	if !ok {
		panic("sim: route " + pattern + " has no entry in partnercenter.Operations")
	}
	return c
}

// TenantInput is the body of POST /sim/tenants and POST /sim/partners.
type TenantInput struct {
	Domain      string `json:"domain"`
	Country     string `json:"country"`
	CompanyName string `json:"companyName"`
	Users       []User `json:"users"`
	// AssociatedPartnerID makes the tenant already a customer of that
	// indirect reseller (customers only).
	AssociatedPartnerID string `json:"associatedPartnerId,omitempty"`
	// Relationship is the tenant's existing relationship to the home partner:
	// none (default), reseller, advisor or syndication (customers only).
	Relationship string `json:"relationshipToPartner,omitempty"`
	// MPNID, AgreementSigned, IndirectReseller (default true) and Authorized
	// (already partnered with the home partner) describe a reseller partner.
	MPNID            string `json:"mpnId,omitempty"`
	AgreementSigned  bool   `json:"agreementSigned,omitempty"`
	IndirectReseller *bool  `json:"indirectReseller,omitempty"`
	Authorized       bool   `json:"authorized,omitempty"`
	// TenantID fixes the tenant ID (seed data); empty means a new one.
	TenantID string `json:"tenantId,omitempty"`
	// Email is a customer's contact e-mail (billingProfile.email, where
	// Partner Center keeps it); empty means admin@<domain>.
	Email string `json:"email,omitempty"`
	// Cloud is the Microsoft cloud of the tenant: "public" (default) or
	// "usgov" (Microsoft Cloud for US Government). Simulator-only: no
	// documented Partner Center field tells a tenant's cloud.
	Cloud string `json:"cloud,omitempty"`
	// AllowDelegatedAccess makes an existing customer one that granted the
	// home partner delegated admin privileges (DAP) before Microsoft stopped
	// granting them; the customer's allowDelegatedAccess reads true.
	AllowDelegatedAccess bool `json:"allowDelegatedAccess,omitempty"`
	// CustomDomains are verified domains of the tenant besides its initial one
	// (e.g. contoso.com); none may be verified in another tenant.
	CustomDomains []string `json:"customDomains,omitempty"`
}

// addTenant creates a customer or partner tenant; callers hold s.mu.
func (s *Server) addTenant(in TenantInput, partner bool) (*Tenant, *refusal) {
	domain := strings.ToLower(strings.TrimSpace(in.Domain))
	country := strings.ToUpper(strings.TrimSpace(in.Country))
	switch {
	case domain == "" || country == "" || in.CompanyName == "":
		return nil, refuse(http.StatusBadRequest, ReasonInvalidInput, "domain, country and companyName are required")
	case partner && in.MPNID == "":
		return nil, refuse(http.StatusBadRequest, ReasonInvalidInput, "mpnId is required for a partner")
	case s.st.tenantByDomain(domain) != nil:
		return nil, refuse(http.StatusConflict, ReasonAlreadyAccepted, "a tenant with domain "+domain+" already exists")
	case partner && s.st.partnerByMPN(in.MPNID) != nil:
		return nil, refuse(http.StatusConflict, ReasonInvalidInput, "a partner with MPN ID "+in.MPNID+" already exists")
	case in.Email != "" && !strings.Contains(in.Email, "@"):
		return nil, refuse(http.StatusBadRequest, ReasonInvalidInput, "email must be an e-mail address")
	case in.Cloud != "" && !strings.EqualFold(in.Cloud, CloudPublic) && !strings.EqualFold(in.Cloud, CloudUSGov):
		return nil, refuse(http.StatusBadRequest, ReasonInvalidInput, "cloud must be public or usgov")
	}
	var custom []string
	for _, d := range in.CustomDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if ref := s.checkCustomDomain(nil, d); ref != nil {
			return nil, ref
		}
		if d == domain || slices.Contains(custom, d) {
			return nil, refuse(http.StatusBadRequest, ReasonInvalidInput, "customDomains names "+d+" twice")
		}
		custom = append(custom, d)
	}
	rel := in.Relationship
	if rel == "" {
		rel = pc.RelationshipNone
	}
	if !slices.Contains(
		[]string{pc.RelationshipNone, pc.RelationshipReseller, pc.RelationshipAdvisor, pc.RelationshipSyndication},
		rel,
	) {
		return nil, refuse(
			http.StatusBadRequest,
			ReasonInvalidInput,
			"relationshipToPartner must be none, reseller, advisor or syndication",
		)
	}
	if in.AssociatedPartnerID != "" {
		if p := s.st.Tenants[in.AssociatedPartnerID]; p == nil || !p.Partner {
			return nil, refuse(http.StatusBadRequest, ReasonInvalidInput, "associatedPartnerId is not a partner tenant")
		}
		if rel == pc.RelationshipNone {
			rel = pc.RelationshipReseller
		}
	}
	id := in.TenantID
	if id == "" {
		id = newID()
	}
	if s.st.Tenants[id] != nil {
		return nil, refuse(http.StatusConflict, ReasonInvalidInput, "tenant "+id+" already exists")
	}
	t := &Tenant{
		ID:                   id,
		Domain:               domain,
		Country:              country,
		CompanyName:          in.CompanyName,
		Users:                in.Users,
		Partner:              partner,
		CreatedAt:            s.now(),
		Cloud:                strings.ToLower(in.Cloud),
		AllowDelegatedAccess: in.AllowDelegatedAccess && !partner,
		CustomDomains:        custom,
	}
	if partner {
		t.MPNID, t.AgreementSigned, t.ProviderAuthorized = in.MPNID, in.AgreementSigned, in.Authorized
		t.IndirectReseller = in.IndirectReseller == nil || *in.IndirectReseller
	} else {
		t.Relationship, t.AssociatedPartnerID = rel, in.AssociatedPartnerID
		email := strings.TrimSpace(in.Email)
		if email == "" {
			email = "admin@" + domain
		}
		culture, lang := cultureOf(country)
		t.BillingProfile = pc.BillingProfile{
			ID:             newID(),
			Email:          email,
			CompanyName:    in.CompanyName,
			Culture:        culture,
			Language:       lang,
			DefaultAddress: pc.Address{Country: country},
			Attributes:     pc.Attributes{Etag: newEtag()},
		}
	}
	if t.Users == nil {
		t.Users = []User{}
	}
	s.st.putTenant(t)
	return t, nil
}

func (s *Server) postTenant(w http.ResponseWriter, r *http.Request)  { s.postWorld(w, r, false) }
func (s *Server) postPartner(w http.ResponseWriter, r *http.Request) { s.postWorld(w, r, true) }

func (s *Server) postWorld(w http.ResponseWriter, r *http.Request, partner bool) {
	var in TenantInput
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	t, ref := s.addTenant(in, partner)
	if ref != nil {
		ref.write(w)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"tenantId": t.ID})
}

// getTenant answers GET /sim/tenants/{tenantId}: the simulated tenant,
// including what Partner Center does not show (its cloud, users, flags).
func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) {
	t := s.st.Tenants[strings.ToLower(r.PathValue("tenantId"))]
	if t == nil {
		refuse(http.StatusNotFound, ReasonNotFound, "No tenant has the ID "+r.PathValue("tenantId")+".").write(w)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// provisioningSetting is the body and answer of /sim/provisioning.
type provisioningSetting struct {
	// Delay is how long orders placed from now on stay pending (Go duration).
	Delay string `json:"delay"`
}

func (s *Server) getProvisioning(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, provisioningSetting{Delay: s.provDelay.String()})
}

// postProvisioning sets how long orders placed from now on take to
// provision: {"delay":"10m"}.
func (s *Server) postProvisioning(w http.ResponseWriter, r *http.Request) {
	var in provisioningSetting
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	d, err := time.ParseDuration(in.Delay)
	if err != nil || d < 0 {
		refuse(
			http.StatusBadRequest,
			ReasonInvalidInput,
			"delay must be a non-negative Go duration such as 10m",
		).write(w)
		return
	}
	s.provDelay = d
	s.getProvisioning(w, r)
}

// SetProvisioningDelay sets how long orders placed from now on stay pending
// before their subscriptions exist (orders already placed keep theirs).
func (s *Server) SetProvisioningDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.provDelay = d
}

func (s *Server) listTenants(w http.ResponseWriter, _ *http.Request) {
	out := make([]*Tenant, 0, len(s.st.Tenants))
	for _, t := range s.st.Tenants {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Tenant) int { return strings.Compare(a.Domain, b.Domain) })
	writeJSON(w, http.StatusOK, out)
}

// acceptReseller is the customer's Global admin accepting the partner's
// invitation; partnerID is the home partner or one of its indirect resellers.
func (s *Server) acceptReseller(domain, partnerID, upn string) (*Tenant, *refusal) {
	var t *Tenant
	if domain != "" {
		t = s.st.tenantByDomain(domain)
	} else {
		t = s.st.tenantByUPN(upn)
	}
	if t == nil || t.Partner {
		return nil, refuse(http.StatusNotFound, ReasonNotFound, "No customer tenant has the user or domain given.")
	}
	reseller := ""
	if partnerID != s.home.TenantID {
		p := s.st.Tenants[partnerID]
		if p == nil || !p.Partner || !p.ProviderAuthorized {
			return nil, refuse(http.StatusNotFound, ReasonNotFound, "The invitation names an unknown partner.")
		}
		reseller = p.ID
	}
	u, ok := t.user(upn)
	switch {
	case !ok:
		return nil, refuse(
			http.StatusForbidden,
			ReasonWrongCustomerUser,
			"The user "+upn+" does not belong to "+t.Domain+".",
		)
	case !u.GlobalAdmin:
		return nil, refuse(
			http.StatusForbidden,
			ReasonNotGlobalAdmin,
			"Only a Global admin of "+t.Domain+" can accept a reseller relationship.",
		)
	case t.Relationship == pc.RelationshipSyndication:
		return nil, refuse(
			http.StatusForbidden,
			ReasonSyndication,
			t.Domain+" is a syndication customer and cannot accept a reseller relationship.",
		)
	case !strings.EqualFold(t.Country, s.home.Country):
		return nil, refuse(
			http.StatusForbidden,
			ReasonRegionMismatch,
			"The partner can only work with customers in "+s.home.Country+"; "+t.Domain+" is in "+t.Country+".",
		)
	case t.Relationship == pc.RelationshipReseller && t.AssociatedPartnerID == reseller:
		return nil, refuse(
			http.StatusConflict,
			ReasonAlreadyAccepted,
			t.Domain+" has already accepted this reseller relationship.",
		)
	}
	t.Relationship = pc.RelationshipReseller
	s.st.setReseller(t, reseller)
	s.emit(pc.EventResellerRelationshipAccepted, s.publicURL()+"/v1/customers/"+t.ID, "customer")
	return t, nil
}

// approveGDAP is the customer's Global admin approving a GDAP request.
func (s *Server) approveGDAP(relationshipID, upn string) (*gdapRecord, *refusal) {
	g := s.st.GDAP[relationshipID]
	if g == nil || g.Phase == "deleted" {
		return nil, refuse(http.StatusNotFound, ReasonNotFound, "The relationship "+relationshipID+" does not exist.")
	}
	t := s.st.tenantByUPN(upn)
	if t == nil || t.Partner {
		return nil, refuse(
			http.StatusForbidden,
			ReasonWrongCustomerUser,
			"The user "+upn+" is not a user of a customer tenant.",
		)
	}
	u, _ := t.user(upn)
	status, _, _ := g.status(s.now(), s.cfg.ActivationDelay)
	switch {
	case g.Customer.TenantID != "" && g.Customer.TenantID != t.ID:
		return nil, refuse(
			http.StatusForbidden,
			ReasonWrongCustomerUser,
			"This request is addressed to another customer.",
		)
	case !u.GlobalAdmin:
		return nil, refuse(
			http.StatusForbidden,
			ReasonNotGlobalAdmin,
			"Only a Global admin of "+t.Domain+" can approve admin access.",
		)
	case status == pc.GDAPStatusExpired && g.Phase == pc.GDAPStatusApprovalPending:
		return nil, refuse(http.StatusConflict, ReasonExpired, "This request expired 90 days after it was sent.")
	case status == pc.GDAPStatusCreated:
		return nil, refuse(http.StatusConflict, ReasonInvalidState, "This request has not been sent for approval yet.")
	case status != pc.GDAPStatusApprovalPending:
		return nil, refuse(
			http.StatusConflict,
			ReasonAlreadyAccepted,
			"This request was already approved; it cannot be used again.",
		)
	}
	now := s.now()
	g.Customer = pc.GDAPCustomer{TenantID: t.ID, DisplayName: t.CompanyName}
	g.Phase, g.ApprovedAt, g.ModifiedAt = pc.GDAPStatusApproved, now, now
	g.Version++
	s.st.mark(kindGDAP, g.ID)
	s.emit(
		pc.EventGDAPApproved,
		s.publicURL()+"/v1.0/tenantRelationships/delegatedAdminRelationships/"+g.ID,
		"delegatedAdminRelationship",
	)
	return g, nil
}

// terminateGDAP is the customer's Global admin ending an active GDAP
// relationship in the Microsoft 365 admin center (Settings → Partner
// relationships). It goes as the partner's termination does
// (terminationRequested, terminating, terminated), and the partner gets
// granular-admin-relationship-terminated, which Partner Center raises when
// the partner or the customer terminates ("Partner Center webhook events").
// That only a Global admin may is the simulator's reading. Refusals change
// nothing.
func (s *Server) terminateGDAP(relationshipID, upn string) (*gdapRecord, *refusal) {
	g := s.st.GDAP[relationshipID]
	if g == nil || g.Phase == phaseDeleted {
		return nil, refuse(http.StatusNotFound, ReasonNotFound, "The relationship "+relationshipID+" does not exist.")
	}
	t := s.st.tenantByUPN(upn)
	if t == nil || t.Partner || g.Customer.TenantID == "" || !strings.EqualFold(g.Customer.TenantID, t.ID) {
		return nil, refuse(
			http.StatusForbidden,
			ReasonWrongCustomerUser,
			"The user "+upn+" is not a user of this relationship's customer.",
		)
	}
	u, _ := t.user(upn)
	now := s.now()
	status, _, _ := g.status(now, s.cfg.ActivationDelay)
	switch {
	case !u.GlobalAdmin:
		return nil, refuse(
			http.StatusForbidden,
			ReasonNotGlobalAdmin,
			"Only a Global admin of "+t.Domain+" can end a partner's admin access.",
		)
	case status != pc.GDAPStatusActive: // expiring is past its end (see gdapRecord.status)
		return nil, refuse(
			http.StatusConflict,
			ReasonInvalidState,
			"Only an active relationship can be terminated (it is "+status+").",
		)
	}
	g.Phase, g.TerminationAt, g.ModifiedAt = pc.GDAPStatusTerminationRequested, now, now
	g.Version++
	s.st.mark(kindGDAP, g.ID)
	return g, nil
}

func (s *Server) postTerminateGDAP(w http.ResponseWriter, r *http.Request) {
	var in struct{ RelationshipID, UPN string }
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	g, ref := s.terminateGDAP(in.RelationshipID, in.UPN)
	if ref != nil {
		ref.write(w)
		return
	}
	writeJSON(w, http.StatusOK, g.view(s.now(), s.cfg.ActivationDelay))
}

// authorizeProvider is a reseller's Global admin accepting the provider's
// partnership request. The reseller is found by resellerDomain, or by the
// signed-in user's UPN when resellerDomain is empty (the Partner Center page).
// Refusals change nothing.
func (s *Server) authorizeProvider(resellerDomain, providerID, upn string) (*Tenant, *refusal) {
	if providerID != s.home.TenantID {
		return nil, refuse(http.StatusNotFound, ReasonNotFound, "The request names an unknown provider.")
	}
	var p *Tenant
	if resellerDomain != "" {
		p = s.st.tenantByDomain(resellerDomain)
	} else {
		p = s.st.tenantByUPN(upn)
	}
	if p == nil {
		return nil, refuse(http.StatusNotFound, ReasonNotFound, "No organization has the user or domain given.")
	}
	u, ok := p.user(upn)
	switch {
	case !ok:
		return nil, refuse(
			http.StatusForbidden,
			ReasonWrongCustomerUser,
			"The user "+upn+" does not belong to "+p.Domain+".",
		)
	case !u.GlobalAdmin:
		return nil, refuse(
			http.StatusForbidden,
			ReasonNotGlobalAdmin,
			"Only a Global admin of "+p.Domain+" can authorize a provider.",
		)
	case !p.Partner || !p.IndirectReseller || p.MPNID == "":
		return nil, refuse(
			http.StatusForbidden,
			ReasonNotIndirectReseller,
			p.Domain+" is not enrolled in Partner Center as an indirect reseller with a PartnerID (MPN ID).",
		)
	case !strings.EqualFold(p.Country, s.home.Country):
		return nil, refuse(
			http.StatusForbidden,
			ReasonRegionMismatch,
			"Provider and reseller must be in the same region: the provider is in "+s.home.Country+", "+
				p.Domain+" in "+p.Country+".",
		)
	case p.ProviderAuthorized:
		return nil, refuse(
			http.StatusConflict,
			ReasonAlreadyAccepted,
			p.Domain+" has already authorized this provider.",
		)
	}
	p.ProviderAuthorized = true
	s.st.mark(kindTenant, p.ID)
	return p, nil
}

func (s *Server) postAcceptReseller(w http.ResponseWriter, r *http.Request) {
	var in struct{ Domain, PartnerID, UPN string }
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	t, ref := s.acceptReseller(in.Domain, in.PartnerID, in.UPN)
	if ref != nil {
		ref.write(w)
		return
	}
	writeJSON(w, http.StatusOK, s.customerView(t))
}

func (s *Server) postApproveGDAP(w http.ResponseWriter, r *http.Request) {
	var in struct{ RelationshipID, UPN string }
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	g, ref := s.approveGDAP(in.RelationshipID, in.UPN)
	if ref != nil {
		ref.write(w)
		return
	}
	writeJSON(w, http.StatusOK, g.view(s.now(), s.cfg.ActivationDelay))
}

func (s *Server) postAuthorizeProvider(w http.ResponseWriter, r *http.Request) {
	var in struct{ ResellerDomain, ProviderID, UPN string }
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	p, ref := s.authorizeProvider(in.ResellerDomain, in.ProviderID, in.UPN)
	if ref != nil {
		ref.write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"tenantId": p.ID, "mpnId": p.MPNID, "state": "Active"})
}

func (s *Server) getClock(w http.ResponseWriter, _ *http.Request) {
	writeJSON(
		w,
		http.StatusOK,
		map[string]string{"now": s.now().Format(time.RFC3339Nano), "offset": s.st.ClockOffset.String()},
	)
}

// postClock moves simulated time forward by {"advance": "<Go duration>"}.
func (s *Server) postClock(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Advance string `json:"advance"`
	}
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	d, err := time.ParseDuration(in.Advance)
	if err != nil || d < 0 {
		refuse(
			http.StatusBadRequest,
			ReasonInvalidInput,
			"advance must be a non-negative Go duration such as 2160h",
		).write(w)
		return
	}
	s.st.ClockOffset += d
	s.st.mark(kindMeta, metaClock)
	s.getClock(w, r)
}

func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) postFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decode(r, &f); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) deleteFaults(w http.ResponseWriter, _ *http.Request) {
	s.SetFaults(Faults{})
	w.WriteHeader(http.StatusNoContent)
}

// SetFaults replaces the fault-injection setting.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// cultureOf is the billing culture and language Partner Center sets for a customer of a
// country (the customer's own choice at sign-up; the simulator picks its country's).
func cultureOf(country string) (culture, lang string) {
	switch strings.ToUpper(country) {
	case "IT":
		return "it-IT", "it"
	case "TR":
		return "tr-TR", "tr"
	case "DE":
		return "de-DE", "de"
	}
	return "en-US", "en"
}
