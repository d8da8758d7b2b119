package sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// Countries whose customers must give an organization registration number,
// and only those (Partner Center create-customer documentation).
var registrationNumberCountries = []string{"AM", "AZ", "BY", "HU", "KZ", "KG", "MD", "RU", "TJ", "UZ", "UA"}

var numeric = regexp.MustCompile(`^[0-9]+$`)

func (s *Server) pcFail(w http.ResponseWriter, status, code int, format string, args ...any) {
	s.fail(w, false, status, code, "", fmt.Sprintf(format, args...))
}

// pcFailFrom writes a Partner Center error with the source and data of the
// documented example it stands for.
func (s *Server) pcFailFrom(
	w http.ResponseWriter,
	status, code int,
	source string,
	data []string,
	format string,
	args ...any,
) {
	if data == nil {
		data = []string{}
	}
	writeJSON(
		w,
		status,
		pc.ErrorBody{Code: code, Description: fmt.Sprintf(format, args...), Data: data, Source: source},
	)
}

// queryValue reads a query parameter by name, ignoring case as Partner
// Center does: the agreement status page documents mpnId in its syntax and
// sends mpnid in its example.
func queryValue(r *http.Request, name string) string {
	q := r.URL.Query()
	if v, ok := q[name]; ok && len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
	}
	return ""
}

// selfLink is a link without headers, as Partner Center writes them.
func selfLink(uri string) *pc.Link {
	return &pc.Link{URI: uri, Method: http.MethodGet, Headers: []pc.LinkHeader{}}
}

// relationshipRequest answers GET /v1/customers/relationshiprequests with a
// link to the simulator's invitation page, shaped like the admin center's.
func (s *Server) relationshipRequest(w http.ResponseWriter, r *http.Request) {
	q := url.Values{
		"invType":   {"ResellerRelationship"},
		"partnerId": {s.home.TenantID},
		"msppId":    {"0"},
		"DAP":       {"true"},
	}
	if id := r.URL.Query().Get("indirectResellerId"); id != "" {
		t := s.st.Tenants[id]
		if t == nil || !t.Partner || !t.ProviderAuthorized {
			s.pcFail(
				w,
				http.StatusBadRequest,
				pc.CodeNotIndirectReseller,
				"Tenant %s is not an indirect reseller of this provider.",
				id,
			)
			return
		}
		q = url.Values{
			"invType":       {"IndirectResellerRelationship"},
			"partnerId":     {id},
			"msppId":        {"0"},
			"DAP":           {"true"},
			"indirectCSPId": {s.home.TenantID},
		}
	}
	writeJSON(w, http.StatusOK, pc.RelationshipRequest{
		URL:        s.publicURL() + "/sim/admin/partner-invitation?" + q.Encode(),
		Attributes: pc.Attributes{ObjectType: "RelationshipRequest"},
	})
}

// billingProfile is the tenant's billing profile with what older snapshots
// lack filled in (ID, ETag, company name, country, e-mail).
func (t *Tenant) billingProfile() pc.BillingProfile {
	bp := t.BillingProfile
	if bp.ID == "" {
		bp.ID = nameUUID(t.ID + "/billing-profile")
	}
	if bp.Attributes.Etag == "" {
		bp.Attributes.Etag = stableEtag(t.ID + "/billing-profile")
	}
	bp.Attributes.ObjectType = "CustomerBillingProfile"
	if bp.CompanyName == "" {
		bp.CompanyName = t.CompanyName
	}
	if bp.DefaultAddress.Country == "" {
		bp.DefaultAddress.Country = t.Country
	}
	if bp.Email == "" {
		// Tenants from snapshots older than the contact e-mail.
		bp.Email = "admin@" + t.Domain
	}
	return bp
}

func (t *Tenant) relationship() string {
	if t.Relationship == "" {
		return pc.RelationshipNone
	}
	return t.Relationship
}

// customerView is a customer as "Get a customer by ID" shows it: the company
// profile with its address, e-mail and link, the billing profile with its
// contact, link and ETag, allowDelegatedAccess, customDomains and the
// customer's link.
func (s *Server) customerView(t *Tenant) pc.Customer {
	bp := t.billingProfile()
	bp.Links = &pc.ResourceLinks{Self: selfLink("/customers/" + t.ID + "/profiles/billing")}
	addr := bp.DefaultAddress
	company := &pc.Address{Country: addr.Country, Region: addr.State, City: addr.City, AddressLine1: addr.AddressLine1,
		AddressLine2: addr.AddressLine2, PostalCode: addr.PostalCode, PhoneNumber: addr.PhoneNumber}
	delegated := t.AllowDelegatedAccess
	return pc.Customer{
		ID: t.ID, CommerceID: t.ID,
		CompanyProfile: pc.CompanyProfile{
			TenantID:                       t.ID,
			Domain:                         t.Domain,
			CompanyName:                    t.CompanyName,
			Address:                        company,
			Email:                          bp.Email,
			OrganizationRegistrationNumber: t.OrgRegistration,
			Links: &pc.ResourceLinks{
				Self: selfLink("/customers/" + t.ID + "/profiles/company"),
			},
			Attributes: pc.Attributes{ObjectType: "CustomerCompanyProfile"},
		},
		BillingProfile: bp, RelationshipToPartner: t.relationship(), AllowDelegatedAccess: &delegated,
		CustomDomains: append([]string{t.Domain}, t.CustomDomains...), AssociatedPartnerID: t.AssociatedPartnerID,
		Links:      &pc.ResourceLinks{Self: selfLink("/customers/" + t.ID)},
		Attributes: pc.Attributes{ObjectType: "Customer"},
	}
}

// createdView is the answer of "Create a customer" (as the indirect
// reseller example shows it): the company profile without address, the
// billing profile without contact or link, allowDelegatedAccess, the one-time
// credentials, no customDomains and no links.
func (s *Server) createdView(t *Tenant, creds pc.UserCredentials) pc.Customer {
	bp := t.billingProfile()
	bp.FirstName, bp.LastName, bp.Links = "", "", nil
	delegated := t.AllowDelegatedAccess
	return pc.Customer{
		ID: t.ID, CommerceID: t.ID,
		CompanyProfile: pc.CompanyProfile{
			TenantID:                       t.ID,
			Domain:                         t.Domain,
			CompanyName:                    t.CompanyName,
			OrganizationRegistrationNumber: t.OrgRegistration,
			Links: &pc.ResourceLinks{
				Self: selfLink("/customers/" + t.ID + "/profiles/company"),
			},
			Attributes: pc.Attributes{ObjectType: "CustomerCompanyProfile"},
		},
		BillingProfile: bp, RelationshipToPartner: t.relationship(), AllowDelegatedAccess: &delegated,
		UserCredentials: &creds, AssociatedPartnerID: t.AssociatedPartnerID,
		Attributes: pc.Attributes{ObjectType: "Customer"},
	}
}

// customer finds a customer of the home partner or answers 404.
func (s *Server) customer(w http.ResponseWriter, r *http.Request) *Tenant {
	t := s.st.Tenants[r.PathValue("customerId")]
	if t == nil || !t.isCustomer() {
		s.pcFail(w, http.StatusNotFound, 0, "Customer %s is not a customer of this partner.", r.PathValue("customerId"))
		return nil
	}
	return t
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	if t := s.customer(w, r); t != nil {
		writeJSON(w, http.StatusOK, s.customerView(t))
	}
}

// Customer list paging. Microsoft documents no page size for GET
// /v1/customers; these are the simulator's choices.
const (
	defaultCustomerPageSize = 200
	maxCustomerPageSize     = 500
)

// customerListItem is a customer as GET /v1/customers lists it: the company
// profile and the relationship, no billing profile (Microsoft's examples for
// the domain and the indirect reseller filters).
type customerListItem struct {
	ID                    string           `json:"id"`
	CompanyProfile        listedCompany    `json:"companyProfile"`
	RelationshipToPartner string           `json:"relationshipToPartner"`
	Links                 pc.ResourceLinks `json:"links"`
	Attributes            pc.Attributes    `json:"attributes"`
}

type listedCompany struct {
	TenantID    string           `json:"tenantId"`
	Domain      string           `json:"domain"`
	CompanyName string           `json:"companyName"`
	Links       pc.ResourceLinks `json:"links"`
	Attributes  pc.Attributes    `json:"attributes"`
}

func listItem(c pc.Customer) customerListItem {
	return customerListItem{
		ID: c.ID,
		CompanyProfile: listedCompany{
			TenantID:    c.CompanyProfile.TenantID,
			Domain:      c.CompanyProfile.Domain,
			CompanyName: c.CompanyProfile.CompanyName,
			Links:       pc.ResourceLinks{Self: selfLink("/customers/" + c.ID + "/profiles/company")},
			Attributes:  pc.Attributes{ObjectType: "CustomerCompanyProfile"},
		},
		RelationshipToPartner: c.RelationshipToPartner,
		Links:                 pc.ResourceLinks{Self: selfLink("/customers/" + c.ID)},
		Attributes:            pc.Attributes{ObjectType: "Customer"},
	}
}

// customerCursor is what a continuation token of the customer list carries:
// the filter, the page size and the (lower-case) domain of the last customer
// returned, so that pages stay consistent while customers come and go.
type customerCursor struct {
	Field string `json:"f,omitempty"`
	Value string `json:"v,omitempty"`
	Size  int    `json:"s"`
	After string `json:"a"`
}

func (c customerCursor) token() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(tok string) (customerCursor, error) {
	var c customerCursor
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err == nil && (c.Size < 1 || c.Size > maxCustomerPageSize || c.After == "") {
		err = fmt.Errorf("token out of range")
	}
	return c, err
}

// listCustomers pages the partner's customers, optionally filtered by a
// simple field filter (Domain or IndirectReseller, starts_with). A page that
// has a successor carries continuationToken and links.next, whose request
// is GET /customers?seekOperation=Next with the token in
// MS-ContinuationToken (the .NET SDK's seek query).
func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	cur := customerCursor{Size: defaultCustomerPageSize}
	if seek := queryValue(r, "seekOperation"); seek != "" {
		if !strings.EqualFold(seek, "Next") {
			s.pcFail(w, http.StatusBadRequest, 0, "seekOperation %q is not supported; use Next.", seek)
			return
		}
		tok := strings.TrimSpace(r.Header.Get(pc.HeaderContinuationToken))
		if tok == "" {
			s.pcFail(w, http.StatusBadRequest, 0, "seekOperation needs the %s header.", pc.HeaderContinuationToken)
			return
		}
		c, err := parseCursor(tok)
		if err != nil {
			s.pcFail(w, http.StatusBadRequest, 0, "The continuation token is not valid.")
			return
		}
		cur = c
	} else {
		if v := queryValue(r, "size"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				s.pcFail(w, http.StatusBadRequest, 0, "size must be a non-negative integer.")
				return
			}
			if n > 0 {
				cur.Size = min(n, maxCustomerPageSize)
			}
		}
		if f := queryValue(r, "filter"); f != "" {
			var filter struct{ Field, Value, Operator string }
			if err := json.Unmarshal([]byte(f), &filter); err != nil {
				s.pcFail(w, http.StatusBadRequest, 0, "Invalid filter: %v", err)
				return
			}
			switch {
			case !strings.EqualFold(filter.Operator, "starts_with"):
				s.pcFail(
					w,
					http.StatusBadRequest,
					0,
					"Filter operator %q is not supported; use starts_with.",
					filter.Operator,
				)
				return
			case !strings.EqualFold(filter.Field, "Domain") && !strings.EqualFold(filter.Field, "IndirectReseller"):
				s.pcFail(
					w,
					http.StatusBadRequest,
					0,
					"Filter field %q is not supported by the simulator (Domain, IndirectReseller).",
					filter.Field,
				)
				return
			case strings.EqualFold(filter.Field, "IndirectReseller") && strings.TrimSpace(filter.Value) == "":
				s.pcFail(
					w,
					http.StatusBadRequest,
					0,
					"The IndirectReseller filter needs the reseller's tenant ID as its value.",
				)
				return
			}
			cur.Field, cur.Value = filter.Field, strings.TrimSpace(filter.Value)
		}
	}
	// "Get customers of an indirect reseller" supports App+User only.
	if strings.EqualFold(cur.Field, "IndirectReseller") && !s.userCall(w, r) {
		return
	}
	found := s.st.customerPage(cur, cur.Size+1)
	more := len(found) > cur.Size
	if more {
		found = found[:cur.Size]
	}
	items := make([]customerListItem, 0, len(found))
	for _, t := range found {
		items = append(items, listItem(s.customerView(t)))
	}
	self := "/customers?" + r.URL.RawQuery
	out := pc.Collection[customerListItem]{
		TotalCount: len(items),
		Items:      items,
		Links:      &pc.ResourceLinks{Self: selfLink(self)},
		Attributes: pc.Attributes{ObjectType: "Collection"},
	}
	if more {
		next := cur
		next.After = strings.ToLower(found[len(found)-1].Domain)
		tok := next.token()
		out.ContinuationToken = tok
		out.Links.Next = &pc.Link{URI: "/customers?seekOperation=Next", Method: http.MethodGet,
			Headers: []pc.LinkHeader{{Key: pc.HeaderContinuationToken, Value: tok}}}
	}
	writeJSON(w, http.StatusOK, out)
}

// createCustomerBody is the create-customer request as the simulator reads
// it: enableGDAPByDefault may be absent (which Partner Center reads as true
// since November 2023); other documented keys (Id, CommerceId,
// AllowDelegatedAccess, UserCredentials, CustomDomains, all null in the
// example) are ignored.
type createCustomerBody struct {
	CompanyProfile      pc.CompanyProfile `json:"companyProfile"`
	BillingProfile      pc.BillingProfile `json:"billingProfile"`
	AssociatedPartnerID string            `json:"associatedPartnerId"`
	EnableGDAPByDefault *bool             `json:"enableGDAPByDefault"`
}

// normalizeCulture writes a culture as Partner Center answers it: "EN-US"
// becomes "en-US".
func normalizeCulture(c string) string {
	lang, region, ok := strings.Cut(strings.TrimSpace(c), "-")
	if !ok {
		return strings.ToLower(lang)
	}
	return strings.ToLower(lang) + "-" + strings.ToUpper(region)
}

// createCustomer creates a tenant with a Global admin and returns its
// one-time credentials (201); MS-RequestId replay is handled by the service
// wrapper, so a retry gets the same tenant and credentials, and nothing
// else ever shows the password again. New customers get no delegated admin
// privileges (DAP) since Microsoft stopped granting them in 2023.
func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	var in createCustomerBody
	if err := decode(r, &in); err != nil {
		s.pcFail(w, http.StatusBadRequest, 0, "Invalid customer: %v", err)
		return
	}
	// "Create a customer for an indirect reseller" supports App+User only.
	if in.AssociatedPartnerID != "" && !s.userCall(w, r) {
		return
	}
	domain := strings.ToLower(strings.TrimSpace(in.CompanyProfile.Domain))
	if domain == "" {
		s.pcFail(w, http.StatusBadRequest, 0, "companyProfile.domain is required.")
		return
	}
	if !strings.Contains(domain, ".") {
		domain += ".onmicrosoft.com"
	}
	bp := in.BillingProfile
	country := strings.ToUpper(bp.DefaultAddress.Country)
	if bp.Email == "" || bp.CompanyName == "" || country == "" {
		s.pcFail(
			w,
			http.StatusBadRequest,
			0,
			"billingProfile.email, companyName and defaultAddress.country are required.",
		)
		return
	}
	needsReg := slices.Contains(registrationNumberCountries, country)
	switch {
	case needsReg && in.CompanyProfile.OrganizationRegistrationNumber == "":
		s.pcFail(
			w,
			http.StatusBadRequest,
			pc.CodeOrgRegistrationMissing,
			"Organization registration ID information is missing.",
		)
		return
	case !needsReg && in.CompanyProfile.OrganizationRegistrationNumber != "":
		s.pcFail(
			w,
			http.StatusBadRequest,
			pc.CodeOrgRegistrationNotSupported,
			"Organization registration ID value is not supported.",
		)
		return
	case needsReg && strings.TrimSpace(bp.DefaultAddress.PhoneNumber) == "":
		s.pcFail(w, http.StatusBadRequest, pc.CodePhoneNumberMissing, "Customer phone number is missing.")
		return
	}
	if s.st.tenantByDomain(domain) != nil {
		s.pcFail(w, http.StatusConflict, 0, "Domain %s is already in use.", domain)
		return
	}
	if id := strings.ToLower(in.AssociatedPartnerID); id != "" {
		if p := s.st.Tenants[id]; p == nil || !p.Partner || !p.ProviderAuthorized {
			s.pcFail(
				w,
				http.StatusBadRequest,
				pc.CodeNotIndirectReseller,
				"Partner %s is not an indirect reseller of this provider.",
				in.AssociatedPartnerID,
			)
			return
		}
		in.AssociatedPartnerID = id
	}
	bp.DefaultAddress.Country = country
	bp.Culture = normalizeCulture(bp.Culture)
	if bp.FirstName == "" && bp.LastName == "" {
		bp.FirstName, bp.LastName = bp.DefaultAddress.FirstName, bp.DefaultAddress.LastName
	}
	bp.ID, bp.Links = newID(), nil
	bp.Attributes = pc.Attributes{Etag: newEtag()}
	t := &Tenant{ID: newID(), Domain: domain, Country: country, CompanyName: bp.CompanyName,
		Users:        []User{{UPN: "admin@" + domain, GlobalAdmin: true}},
		Relationship: pc.RelationshipReseller, AssociatedPartnerID: in.AssociatedPartnerID,
		BillingProfile: bp, OrgRegistration: in.CompanyProfile.OrganizationRegistrationNumber, CreatedAt: s.now(),
		EnableGDAPByDefault: in.EnableGDAPByDefault == nil || *in.EnableGDAPByDefault}
	s.st.putTenant(t)
	writeJSON(
		w,
		http.StatusCreated,
		s.createdView(t, pc.UserCredentials{UserName: "admin", Password: randomPassword()}),
	)
}

// patchCustomer supports {"relationshipToPartner":"none"} only, refused
// while the customer has active subscriptions.
func (s *Server) patchCustomer(w http.ResponseWriter, r *http.Request) {
	t := s.customer(w, r)
	if t == nil {
		return
	}
	var in struct {
		RelationshipToPartner string `json:"relationshipToPartner"`
	}
	if err := decode(r, &in); err != nil || in.RelationshipToPartner != pc.RelationshipNone {
		s.pcFail(w, http.StatusBadRequest, 0, "Only relationshipToPartner \"none\" can be set.")
		return
	}
	// "Remove a reseller relationship with a customer": Azure reservations must be cancelled and
	// every active subscription suspended first; the Partner Center article "Remove a
	// relationship" adds that new-commerce subscriptions must be cancelled, as a suspended one is
	// still billed. Neither page documents the refusal's code: the simulator answers 400 without
	// one.
	for _, sub := range s.st.subsOf[t.ID] {
		switch st, nce := sub.Subscription.Status, sub.Subscription.ProductType != nil &&
			sub.Subscription.ProductType.ID == "OnlineServicesNCE"; {
		case st == pc.SubscriptionStatusActive:
			s.pcFail(w, http.StatusBadRequest, 0,
				"Customer %s has active subscriptions; suspend or cancel them before removing the relationship.", t.ID)
			return
		case st == pc.SubscriptionStatusSuspended && nce:
			s.pcFail(w, http.StatusBadRequest, 0,
				"Customer %s has suspended new commerce subscriptions, which are still billed; cancel them before "+
					"removing the relationship.", t.ID)
			return
		}
	}
	t.Relationship = pc.RelationshipNone
	s.st.setReseller(t, "")
	writeJSON(w, http.StatusOK, removedCustomer{
		RelationshipToPartner: pc.RelationshipNone,
		Attributes:            pascalAttributes{ObjectType: "Customer"},
	})
}

// removedCustomer is the documented answer of a relationship removal: the
// patched Customer resource in PascalCase, every field null but the
// relationship ("Remove a reseller relationship with a customer").
type removedCustomer struct {
	ID                    any              `json:"Id"`
	CommerceID            any              `json:"CommerceId"`
	CompanyProfile        any              `json:"CompanyProfile"`
	BillingProfile        any              `json:"BillingProfile"`
	RelationshipToPartner string           `json:"RelationshipToPartner"`
	AllowDelegatedAccess  any              `json:"AllowDelegatedAccess"`
	UserCredentials       any              `json:"UserCredentials"`
	CustomDomains         any              `json:"CustomDomains"`
	AssociatedPartnerID   any              `json:"AssociatedPartnerId"`
	Attributes            pascalAttributes `json:"Attributes"`
}

type pascalAttributes struct {
	ObjectType string `json:"ObjectType"`
}

// listRelationships answers the provider's partner relationship list: its
// authorized indirect resellers for IsIndirectCloudSolutionProviderOf, none
// for IsIndirectResellerOf (the home partner is a provider).
func (s *Server) listRelationships(w http.ResponseWriter, r *http.Request) {
	items := []pc.PartnerRelationship{}
	switch rt := queryValue(r, "relationship_type"); {
	case strings.EqualFold(rt, "IsIndirectCloudSolutionProviderOf"):
		for _, t := range s.st.partners {
			if t.ProviderAuthorized {
				items = append(items, pc.PartnerRelationship{
					ID:               t.ID,
					Name:             t.CompanyName,
					RelationshipType: pc.RelationshipTypeIndirectCSPOf,
					State:            "Active",
					MPNID:            t.MPNID,
					Location:         t.Country,
					Attributes:       pc.Attributes{ObjectType: "PartnerRelationship"},
				})
			}
		}
	case strings.EqualFold(rt, "IsIndirectResellerOf"):
	default:
		s.pcFail(
			w,
			http.StatusBadRequest,
			0,
			"relationship_type %q is not supported (IsIndirectCloudSolutionProviderOf, IsIndirectResellerOf).",
			rt,
		)
		return
	}
	slices.SortFunc(items, func(a, b pc.PartnerRelationship) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, pc.Collection[pc.PartnerRelationship]{
		TotalCount: len(items),
		Items:      items,
		Attributes: pc.Attributes{ObjectType: "Collection"},
	})
}

func (s *Server) mpnProfile(w http.ResponseWriter, r *http.Request) {
	mpn := queryValue(r, "mpnId")
	name := s.home.CompanyName
	if mpn == "" || mpn == s.home.MPNID {
		mpn = s.home.MPNID
	} else if p := s.st.partnerByMPN(mpn); p != nil {
		name = p.CompanyName
	} else {
		s.pcFail(
			w,
			http.StatusNotFound,
			pc.CodeMPNNotFound,
			"Partner Organization with partner_id %s could not be found",
			mpn,
		)
		return
	}
	writeJSON(w, http.StatusOK, pc.MPNProfile{PartnerName: name, MPNID: mpn, ProfileType: "MpnProfile",
		Links: &pc.ResourceLinks{Self: selfLink("/profiles/mpn")}, Attributes: pc.Attributes{ObjectType: "MpnProfile"}})
}

// Sources and data links of the documented agreement status errors.
const (
	sourceAPIControllers = "PartnerApiServiceControllers"
	sourceCompliance     = "ComplianceController"
	sourceFD             = "PartnerFD"
	mpaFAQ               = "https://docs.microsoft.com/partner-center/mpa-indirect-provider-faq"
	mpnMigrationGuide    = "https://partner.microsoft.com/resources/detail/migrate-pmc-pc-mpa-guide-pptx"
)

// agreementStatus answers GET /v1/compliance/csp/agreementstatus with the
// documented errors: exactly one of mpnId (numeric) and tenantId (a GUID)
// must be given, parameter names in any case.
func (s *Server) agreementStatus(w http.ResponseWriter, r *http.Request) {
	mpn, tenant := queryValue(r, "mpnId"), queryValue(r, "tenantId")
	switch {
	case mpn == "" && tenant == "":
		s.pcFailFrom(
			w,
			http.StatusBadRequest,
			pc.CodeMissingIdentifier,
			sourceCompliance,
			nil,
			"Both MPN Id and Tenant Id cannot be empty.",
		)
		return
	case mpn != "" && tenant != "":
		s.pcFailFrom(
			w,
			http.StatusBadRequest,
			pc.CodeInvalidInput,
			sourceCompliance,
			nil,
			"Both MPN Id and Tenant Id should not be passed.",
		)
		return
	case mpn != "" && !numeric.MatchString(mpn):
		s.pcFailFrom(
			w,
			http.StatusBadRequest,
			pc.CodeInvalidInput,
			sourceAPIControllers,
			nil,
			"MPN Id must be numeric.",
		)
		return
	case tenant != "" && !guid.MatchString(tenant):
		s.pcFailFrom(
			w,
			http.StatusBadRequest,
			pc.CodeInvalidInput,
			sourceAPIControllers,
			nil,
			"Tenant Id must be a GUID.",
		)
		return
	}
	faq := []string{mpaFAQ}
	if mpn != "" {
		p := s.st.partnerByMPN(mpn)
		switch {
		case p == nil:
			s.pcFailFrom(
				w,
				http.StatusBadRequest,
				pc.CodeMPNInvalid,
				sourceFD,
				[]string{mpnMigrationGuide},
				"MPN Id %s is either invalid or not yet migrated to Partner Center. Please advise your reseller to "+
					"migrate the reseller MPN ID to Partner Center to continue with this order.",
				mpn,
			)
		case !p.IndirectReseller:
			s.pcFailFrom(
				w,
				http.StatusBadRequest,
				pc.CodeNotAnIndirectReseller,
				sourceFD,
				faq,
				"MPN Id %s is not associated with a CSP Indirect Reseller account in Partner Center. Please advise "+
					"your reseller to enroll into the CSP program as an indirect reseller in Partner Center.",
				mpn,
			)
		case !strings.EqualFold(p.Country, s.home.Country):
			s.pcFailFrom(
				w,
				http.StatusBadRequest,
				pc.CodeRegionMismatch,
				sourceFD,
				faq,
				"The CSP region of the MPN ID %s doesn't match the CSP region from where you are placing the order. "+
					"Provide the MPN ID for the CSP region where you are placing the order.",
				mpn,
			)
		case !p.AgreementSigned:
			s.pcFailFrom(
				w,
				http.StatusBadRequest,
				pc.CodeAgreementNotSignedForRegion,
				sourceFD,
				faq,
				"MPN Id %s has not signed Microsoft Partner Agreement (MPA) for the CSP region where the order is "+
					"being placed. Please advise your reseller to sign MPA to continue with the order.",
				mpn,
			)
		default:
			writeJSON(w, http.StatusOK, pc.AgreementStatus{IsAgreementSigned: true})
		}
		return
	}
	// By tenant ID the documents show only 2205 (no account) and 2206 (no
	// MPA); 2204 and 2201 are applied here as for an MPN ID (unverified).
	p := s.st.Tenants[strings.ToLower(tenant)]
	switch {
	case p == nil || !p.Partner:
		s.pcFailFrom(w, http.StatusBadRequest, pc.CodeTenantNotFound, sourceFD, nil,
			"Partner Center doesn't find any account associated to the Tenant ID %s", tenant)
	case !p.IndirectReseller:
		s.pcFailFrom(
			w,
			http.StatusBadRequest,
			pc.CodeNotAnIndirectReseller,
			sourceFD,
			faq,
			"MPN Id %s is not associated with a CSP Indirect Reseller account in Partner Center. Please advise your "+
				"reseller to enroll into the CSP program as an indirect reseller in Partner Center.",
			p.MPNID,
		)
	case !strings.EqualFold(p.Country, s.home.Country):
		s.pcFailFrom(
			w,
			http.StatusBadRequest,
			pc.CodeRegionMismatch,
			sourceFD,
			faq,
			"The CSP region of the MPN ID %s doesn't match the CSP region from where you are placing the order. "+
				"Provide the MPN ID for the CSP region where you are placing the order.",
			p.MPNID,
		)
	case !p.AgreementSigned:
		s.pcFailFrom(w, http.StatusBadRequest, pc.CodeTenantAgreementNotSigned, sourceFD, faq,
			"Parnter Center Account associated to Tenant Id %s hasn't signed the agreement", tenant)
	default:
		writeJSON(w, http.StatusOK, pc.AgreementStatus{IsAgreementSigned: true})
	}
}

func (s *Server) agreementTemplates(w http.ResponseWriter, r *http.Request) {
	items := []pc.AgreementTemplate{}
	if t := r.URL.Query().Get("agreementType"); t == "" || strings.EqualFold(t, pc.AgreementTypeMCA) {
		items = append(
			items,
			pc.AgreementTemplate{TemplateID: MCATemplateID, AgreementType: pc.AgreementTypeMCA, AgreementLink: mcaLink},
		)
	}
	writeJSON(w, http.StatusOK, pc.Collection[pc.AgreementTemplate]{
		TotalCount: len(items),
		Items:      items,
		Attributes: pc.Attributes{ObjectType: "Collection"},
	})
}

// listCustomerAgreements answers with the attestations as "Get
// confirmation of customer acceptance" shows them: contact, template, date,
// type and the agreement link, no userId.
func (s *Server) listCustomerAgreements(w http.ResponseWriter, r *http.Request) {
	if t := s.customer(w, r); t != nil {
		items := []pc.CustomerAgreement{}
		for _, a := range s.st.Agreements[t.ID] {
			a.UserID, a.Attributes = "", pc.Attributes{}
			if a.AgreementLink == "" {
				a.AgreementLink = mcaLink
			}
			items = append(items, a)
		}
		writeJSON(w, http.StatusOK, pc.Collection[pc.CustomerAgreement]{
			TotalCount: len(items),
			Items:      items,
			Attributes: pc.Attributes{ObjectType: "Collection"},
		})
	}
}

// mcaLink is the Microsoft Customer Agreement's link in the documented
// agreement metadata.
const mcaLink = "https://aka.ms/customeragreement"

// partnerUserID is the object ID of the simulated partner user who confirms
// agreements (the create answer's userId).
func (s *Server) partnerUserID() string { return nameUUID(s.home.TenantID + "/partner-user") }

func sameContact(a, b pc.Contact) bool {
	eq := func(x, y string) bool { return strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(y)) }
	return eq(a.FirstName, b.FirstName) && eq(a.LastName, b.LastName) && eq(a.Email, b.Email) &&
		eq(a.PhoneNumber, b.PhoneNumber)
}

// createCustomerAgreement records the MCA attestation and answers 201 with
// userId, primaryContact, templateId, dateAgreed and type. Partner Center
// allows another attestation only when the contact's first name, last name,
// e-mail or phone number changed; the same contact again is 600061 in the
// documented extended error body (HTTP 409 is the simulator's choice: the
// page shows no status). Partner confirmation of the MCA exists only in the
// public cloud, so a US Government customer's is refused.
func (s *Server) createCustomerAgreement(w http.ResponseWriter, r *http.Request) {
	t := s.customer(w, r)
	if t == nil {
		return
	}
	var in pc.CustomerAgreement
	if err := decode(r, &in); err != nil {
		s.pcFail(w, http.StatusBadRequest, 0, "Invalid agreement: %v", err)
		return
	}
	c := in.PrimaryContact
	switch {
	case t.usGov():
		s.pcFail(
			w,
			http.StatusBadRequest,
			0,
			"Partner confirmation of the Microsoft Customer Agreement is supported only in the Microsoft public "+
				"cloud; %s is a US Government customer.",
			t.Domain,
		)
		return
	case in.Type != pc.AgreementTypeMCA:
		s.pcFail(w, http.StatusBadRequest, 0, "Agreement type %q is not supported.", in.Type)
		return
	case in.TemplateID != MCATemplateID:
		s.pcFail(w, http.StatusBadRequest, 0, "Template %s is not a current agreement template.", in.TemplateID)
		return
	case c.FirstName == "" || c.LastName == "" || c.Email == "":
		s.pcFail(w, http.StatusBadRequest, 0, "primaryContact firstName, lastName and email are required.")
		return
	case in.DateAgreed.IsZero() || in.DateAgreed.After(s.now()):
		s.pcFail(w, http.StatusBadRequest, 0, "dateAgreed is required and cannot be in the future.")
		return
	}
	for _, a := range s.st.Agreements[t.ID] {
		if a.TemplateID == in.TemplateID && sameContact(a.PrimaryContact, c) {
			const msg = "A partner confirmed agreement already exists for the customer."
			writeJSON(w, http.StatusConflict, pc.ExtendedErrorBody{
				Code:                 pc.CodeAgreementAlreadyExists,
				Message:              msg,
				Description:          msg,
				ErrorName:            "PartnerConfirmedAgreementAlreadyExists",
				Parameters:           map[string]any{},
				ErrorMessageExtended: fmt.Sprintf("InternalErrorCode=%d", pc.CodeAgreementAlreadyExists),
			})
			return
		}
	}
	stored := pc.CustomerAgreement{
		UserID:         s.partnerUserID(),
		PrimaryContact: c,
		TemplateID:     in.TemplateID,
		DateAgreed:     in.DateAgreed,
		Type:           in.Type,
		AgreementLink:  mcaLink,
	}
	s.st.Agreements[t.ID] = append(s.st.Agreements[t.ID], stored)
	s.st.mark(kindAgreements, t.ID)
	out := stored
	out.AgreementLink = ""
	writeJSON(w, http.StatusCreated, out)
}
