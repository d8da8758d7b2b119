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
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// catalogItem is a product the simulator sells.
type catalogItem struct {
	Name                string
	RequiresAttestation bool
}

// catalog holds products under IDs from Microsoft's cart and checkout examples.
var catalog = map[string]catalogItem{
	"CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS": {Name: "Microsoft 365 E3"},
	"CFQ7TTC0LH18:0001:CFQ7TTC0K8P5": {Name: "Microsoft 365 Business Basic"},
	"CFQ7TTC0LFLS:0002:CFQ7TTC0KDLJ": {Name: "Azure Active Directory Premium P1"},
	"CFQ7TTC0LH0Z:0001:CFQ7TTC0K18P": {Name: "AI Builder Capacity add-on"},
	"DG7GMGF0DWTL:0001:DG7GMGF0DSJB": {Name: "Azure Reserved VM Instance", RequiresAttestation: true},
}

// maxLineQuantity is the simulator's per-line license quota (code 10002).
const maxLineQuantity = 10000

// Countries whose customers must give an organization registration number,
// and only those (Partner Center create-customer documentation).
var registrationNumberCountries = []string{"AM", "AZ", "BY", "HU", "KZ", "KG", "MD", "RU", "TJ", "UZ", "UA"}

var numeric = regexp.MustCompile(`^[0-9]+$`)

func (s *Server) pcFail(w http.ResponseWriter, status, code int, format string, args ...any) {
	s.fail(w, false, status, code, "", fmt.Sprintf(format, args...))
}

// pcFailFrom writes a Partner Center error with the source and data of the
// documented example it stands for.
func (s *Server) pcFailFrom(w http.ResponseWriter, status, code int, source string, data []string, format string, args ...any) {
	if data == nil {
		data = []string{}
	}
	writeJSON(w, status, pc.ErrorBody{Code: code, Description: fmt.Sprintf(format, args...), Data: data, Source: source})
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
	q := url.Values{"invType": {"ResellerRelationship"}, "partnerId": {s.home.TenantID}, "msppId": {"0"}, "DAP": {"true"}}
	if id := r.URL.Query().Get("indirectResellerId"); id != "" {
		t := s.st.Tenants[id]
		if t == nil || !t.Partner || !t.ProviderAuthorized {
			s.pcFail(w, http.StatusBadRequest, pc.CodeNotIndirectReseller, "Tenant %s is not an indirect reseller of this provider.", id)
			return
		}
		q = url.Values{"invType": {"IndirectResellerRelationship"}, "partnerId": {id}, "msppId": {"0"}, "DAP": {"true"}, "indirectCSPId": {s.home.TenantID}}
	}
	writeJSON(w, http.StatusOK, pc.RelationshipRequest{
		URL:        s.publicURL() + "/sim/admin/partner-invitation?" + q.Encode(),
		Attributes: pc.Attributes{ObjectType: "RelationshipRequest"},
	})
}

func (s *Server) customerView(t *Tenant) pc.Customer {
	bp := t.BillingProfile
	bp.Attributes = pc.Attributes{ObjectType: "CustomerBillingProfile"}
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
	rel := t.Relationship
	if rel == "" {
		rel = pc.RelationshipNone
	}
	return pc.Customer{
		ID: t.ID, CommerceID: t.ID,
		CompanyProfile: pc.CompanyProfile{TenantID: t.ID, Domain: t.Domain, CompanyName: t.CompanyName,
			OrganizationRegistrationNumber: t.OrgRegistration, Attributes: pc.Attributes{ObjectType: "CustomerCompanyProfile"}},
		BillingProfile: bp, RelationshipToPartner: rel, AssociatedPartnerID: t.AssociatedPartnerID,
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
		CompanyProfile: listedCompany{TenantID: c.CompanyProfile.TenantID, Domain: c.CompanyProfile.Domain, CompanyName: c.CompanyProfile.CompanyName,
			Links:      pc.ResourceLinks{Self: selfLink("/customers/" + c.ID + "/profiles/company")},
			Attributes: pc.Attributes{ObjectType: "CustomerCompanyProfile"}},
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

func (c customerCursor) matches(t *Tenant) bool {
	switch {
	case strings.EqualFold(c.Field, "Domain"):
		return strings.HasPrefix(strings.ToLower(t.Domain), strings.ToLower(c.Value))
	case strings.EqualFold(c.Field, "IndirectReseller"):
		return t.AssociatedPartnerID != "" && strings.HasPrefix(strings.ToLower(t.AssociatedPartnerID), strings.ToLower(c.Value))
	}
	return true
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
				s.pcFail(w, http.StatusBadRequest, 0, "Filter operator %q is not supported; use starts_with.", filter.Operator)
				return
			case !strings.EqualFold(filter.Field, "Domain") && !strings.EqualFold(filter.Field, "IndirectReseller"):
				s.pcFail(w, http.StatusBadRequest, 0, "Filter field %q is not supported by the simulator (Domain, IndirectReseller).", filter.Field)
				return
			case strings.EqualFold(filter.Field, "IndirectReseller") && strings.TrimSpace(filter.Value) == "":
				s.pcFail(w, http.StatusBadRequest, 0, "The IndirectReseller filter needs the reseller's tenant ID as its value.")
				return
			}
			cur.Field, cur.Value = filter.Field, strings.TrimSpace(filter.Value)
		}
	}
	type keyed struct {
		key string
		t   *Tenant
	}
	var found []keyed
	for _, t := range s.st.Tenants {
		if !t.isCustomer() || !cur.matches(t) {
			continue
		}
		if key := strings.ToLower(t.Domain); key > cur.After {
			found = append(found, keyed{key, t})
		}
	}
	slices.SortFunc(found, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	more := len(found) > cur.Size
	if more {
		found = found[:cur.Size]
	}
	items := make([]customerListItem, 0, len(found))
	for _, k := range found {
		items = append(items, listItem(s.customerView(k.t)))
	}
	self := "/customers?" + r.URL.RawQuery
	out := pc.Collection[customerListItem]{TotalCount: len(items), Items: items, Links: &pc.ResourceLinks{Self: selfLink(self)},
		Attributes: pc.Attributes{ObjectType: "Collection"}}
	if more {
		next := cur
		next.After = found[len(found)-1].key
		tok := next.token()
		out.ContinuationToken = tok
		out.Links.Next = &pc.Link{URI: "/customers?seekOperation=Next", Method: http.MethodGet,
			Headers: []pc.LinkHeader{{Key: pc.HeaderContinuationToken, Value: tok}}}
	}
	writeJSON(w, http.StatusOK, out)
}

// createCustomer creates a tenant with a Global admin and returns its
// one-time credentials; MS-RequestId replay is handled by the service wrapper.
func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	var in pc.NewCustomer
	if err := decode(r, &in); err != nil {
		s.pcFail(w, http.StatusBadRequest, 0, "Invalid customer: %v", err)
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
		s.pcFail(w, http.StatusBadRequest, 0, "billingProfile.email, companyName and defaultAddress.country are required.")
		return
	}
	needsReg := slices.Contains(registrationNumberCountries, country)
	if needsReg && in.CompanyProfile.OrganizationRegistrationNumber == "" {
		s.pcFail(w, http.StatusBadRequest, 0, "organizationRegistrationNumber is required for customers in %s.", country)
		return
	}
	if !needsReg && in.CompanyProfile.OrganizationRegistrationNumber != "" {
		s.pcFail(w, http.StatusBadRequest, 0, "organizationRegistrationNumber must not be given for customers in %s.", country)
		return
	}
	if s.st.tenantByDomain(domain) != nil {
		s.pcFail(w, http.StatusConflict, 0, "Domain %s is already in use.", domain)
		return
	}
	if id := in.AssociatedPartnerID; id != "" {
		if p := s.st.Tenants[id]; p == nil || !p.Partner || !p.ProviderAuthorized {
			s.pcFail(w, http.StatusBadRequest, pc.CodeNotIndirectReseller, "Partner %s is not an indirect reseller of this provider.", id)
			return
		}
	}
	bp.DefaultAddress.Country = country
	bp.ID = newID()
	t := &Tenant{ID: newID(), Domain: domain, Country: country, CompanyName: bp.CompanyName,
		Users:        []User{{UPN: "admin@" + domain, GlobalAdmin: true}},
		Relationship: pc.RelationshipReseller, AssociatedPartnerID: in.AssociatedPartnerID,
		BillingProfile: bp, OrgRegistration: in.CompanyProfile.OrganizationRegistrationNumber, CreatedAt: s.now()}
	s.st.putTenant(t)
	out := s.customerView(t)
	out.UserCredentials = &pc.UserCredentials{UserName: "admin", Password: randomPassword()}
	writeJSON(w, http.StatusCreated, out)
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
	for _, sub := range s.st.Subscriptions {
		if sub.CustomerID == t.ID && sub.Subscription.Status == "active" {
			s.pcFail(w, http.StatusBadRequest, 0, "Customer %s has active subscriptions; cancel them before removing the relationship.", t.ID)
			return
		}
	}
	t.Relationship = pc.RelationshipNone
	t.AssociatedPartnerID = ""
	writeJSON(w, http.StatusOK, removedCustomer{RelationshipToPartner: pc.RelationshipNone, Attributes: pascalAttributes{ObjectType: "Customer"}})
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
		for _, t := range s.st.Tenants {
			if t.Partner && t.ProviderAuthorized {
				items = append(items, pc.PartnerRelationship{ID: t.ID, Name: t.CompanyName, RelationshipType: pc.RelationshipTypeIndirectCSPOf,
					State: "Active", MPNID: t.MPNID, Location: t.Country, Attributes: pc.Attributes{ObjectType: "PartnerRelationship"}})
			}
		}
	case strings.EqualFold(rt, "IsIndirectResellerOf"):
	default:
		s.pcFail(w, http.StatusBadRequest, 0, "relationship_type %q is not supported (IsIndirectCloudSolutionProviderOf, IsIndirectResellerOf).", rt)
		return
	}
	slices.SortFunc(items, func(a, b pc.PartnerRelationship) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, pc.Collection[pc.PartnerRelationship]{TotalCount: len(items), Items: items, Attributes: pc.Attributes{ObjectType: "Collection"}})
}

func (s *Server) mpnProfile(w http.ResponseWriter, r *http.Request) {
	mpn := queryValue(r, "mpnId")
	name := s.home.CompanyName
	if mpn == "" || mpn == s.home.MPNID {
		mpn = s.home.MPNID
	} else if p := s.st.partnerByMPN(mpn); p != nil {
		name = p.CompanyName
	} else {
		s.pcFail(w, http.StatusNotFound, pc.CodeMPNNotFound, "Partner Organization with partner_id %s could not be found", mpn)
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
		s.pcFailFrom(w, http.StatusBadRequest, pc.CodeMissingIdentifier, sourceCompliance, nil, "Both MPN Id and Tenant Id cannot be empty.")
		return
	case mpn != "" && tenant != "":
		s.pcFailFrom(w, http.StatusBadRequest, pc.CodeInvalidInput, sourceCompliance, nil, "Both MPN Id and Tenant Id should not be passed.")
		return
	case mpn != "" && !numeric.MatchString(mpn):
		s.pcFailFrom(w, http.StatusBadRequest, pc.CodeInvalidInput, sourceAPIControllers, nil, "MPN Id must be numeric.")
		return
	case tenant != "" && !guid.MatchString(tenant):
		s.pcFailFrom(w, http.StatusBadRequest, pc.CodeInvalidInput, sourceAPIControllers, nil, "Tenant Id must be a GUID.")
		return
	}
	faq := []string{mpaFAQ}
	if mpn != "" {
		p := s.st.partnerByMPN(mpn)
		switch {
		case p == nil:
			s.pcFailFrom(w, http.StatusBadRequest, pc.CodeMPNInvalid, sourceFD, []string{mpnMigrationGuide},
				"MPN Id %s is either invalid or not yet migrated to Partner Center. Please advise your reseller to migrate the reseller MPN ID to Partner Center to continue with this order.", mpn)
		case !p.IndirectReseller:
			s.pcFailFrom(w, http.StatusBadRequest, pc.CodeNotAnIndirectReseller, sourceFD, faq,
				"MPN Id %s is not associated with a CSP Indirect Reseller account in Partner Center. Please advise your reseller to enroll into the CSP program as an indirect reseller in Partner Center.", mpn)
		case !strings.EqualFold(p.Country, s.home.Country):
			s.pcFailFrom(w, http.StatusBadRequest, pc.CodeRegionMismatch, sourceFD, faq,
				"The CSP region of the MPN ID %s doesn't match the CSP region from where you are placing the order. Provide the MPN ID for the CSP region where you are placing the order.", mpn)
		case !p.AgreementSigned:
			s.pcFailFrom(w, http.StatusBadRequest, pc.CodeAgreementNotSignedForRegion, sourceFD, faq,
				"MPN Id %s has not signed Microsoft Partner Agreement (MPA) for the CSP region where the order is being placed. Please advise your reseller to sign MPA to continue with the order.", mpn)
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
		s.pcFailFrom(w, http.StatusBadRequest, pc.CodeNotAnIndirectReseller, sourceFD, faq,
			"MPN Id %s is not associated with a CSP Indirect Reseller account in Partner Center. Please advise your reseller to enroll into the CSP program as an indirect reseller in Partner Center.", p.MPNID)
	case !strings.EqualFold(p.Country, s.home.Country):
		s.pcFailFrom(w, http.StatusBadRequest, pc.CodeRegionMismatch, sourceFD, faq,
			"The CSP region of the MPN ID %s doesn't match the CSP region from where you are placing the order. Provide the MPN ID for the CSP region where you are placing the order.", p.MPNID)
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
		items = append(items, pc.AgreementTemplate{TemplateID: MCATemplateID, AgreementType: pc.AgreementTypeMCA, AgreementLink: "https://aka.ms/customeragreement"})
	}
	writeJSON(w, http.StatusOK, pc.Collection[pc.AgreementTemplate]{TotalCount: len(items), Items: items, Attributes: pc.Attributes{ObjectType: "Collection"}})
}

func (s *Server) listCustomerAgreements(w http.ResponseWriter, r *http.Request) {
	if t := s.customer(w, r); t != nil {
		items := append([]pc.CustomerAgreement{}, s.st.Agreements[t.ID]...)
		writeJSON(w, http.StatusOK, pc.Collection[pc.CustomerAgreement]{TotalCount: len(items), Items: items, Attributes: pc.Attributes{ObjectType: "Collection"}})
	}
}

// createCustomerAgreement records the MCA attestation; the same contact
// again is 600061.
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
		if a.TemplateID == in.TemplateID && strings.EqualFold(a.PrimaryContact.Email, c.Email) &&
			strings.EqualFold(a.PrimaryContact.FirstName, c.FirstName) && strings.EqualFold(a.PrimaryContact.LastName, c.LastName) {
			s.pcFail(w, http.StatusConflict, pc.CodeAgreementAlreadyExists, "PartnerConfirmedAgreementAlreadyExists")
			return
		}
	}
	in.AgreementLink = "https://aka.ms/customeragreement"
	in.Attributes = pc.Attributes{ObjectType: "Agreement"}
	s.st.Agreements[t.ID] = append(s.st.Agreements[t.ID], in)
	writeJSON(w, http.StatusCreated, in)
}

// checkLineItems validates the reseller on each line (request-level errors)
// and marks product errors on the lines themselves.
func (s *Server) checkLineItems(w http.ResponseWriter, items []pc.CartLineItem) bool {
	for i := range items {
		li := &items[i]
		li.ID = i
		li.Error = nil
		for _, p := range li.Participants {
			if !strings.EqualFold(p.Key, pc.ParticipantTransactionReseller) {
				continue
			}
			rs := s.st.partnerByMPN(p.Value)
			switch {
			// HTTP statuses from Microsoft's error code table.
			case rs == nil:
				s.pcFail(w, http.StatusNotFound, pc.CodeResellerNotFound, "PartnerID %s isn't found.", p.Value)
				return false
			case !rs.IndirectReseller || !rs.ProviderAuthorized:
				s.pcFail(w, http.StatusBadRequest, pc.CodeNotIndirectReseller, "PartnerID %s isn't a valid Indirect Reseller of this provider.", p.Value)
				return false
			case !rs.AgreementSigned:
				s.pcFail(w, http.StatusForbidden, pc.CodeResellerAgreementNotAccepted, "Microsoft Partner Agreement hasn't been accepted by the indirect reseller %s.", p.Value)
				return false
			}
		}
		item, ok := catalog[li.CatalogItemID]
		switch {
		case !ok:
			li.Error = &pc.CartLineItemError{ErrorCode: pc.CodeInvalidCatalogItem, ErrorDescription: "Catalog item ID is not valid."}
		case li.Quantity < 1 || li.Quantity > maxLineQuantity:
			li.Error = &pc.CartLineItemError{ErrorCode: pc.CodeQuantityOutOfRange, ErrorDescription: fmt.Sprintf("Quantity must be between 1 and %d.", maxLineQuantity)}
		case item.RequiresAttestation && !li.AttestationAccepted:
			li.Error = &pc.CartLineItemError{ErrorCode: pc.CodeAttestationNotAccepted, ErrorDescription: "Attestation must be accepted for this product."}
		default:
			if li.FriendlyName == "" {
				li.FriendlyName = item.Name
			}
		}
		if li.CurrencyCode == "" {
			li.CurrencyCode = "USD"
		}
		if li.OrderGroup == "" {
			li.OrderGroup = "0"
		}
	}
	return true
}

func (s *Server) createCart(w http.ResponseWriter, r *http.Request) {
	t := s.customer(w, r)
	if t == nil {
		return
	}
	var in pc.Cart
	if err := decode(r, &in); err != nil || len(in.LineItems) == 0 {
		s.pcFail(w, http.StatusBadRequest, 0, "A cart needs at least one line item.")
		return
	}
	if !s.checkLineItems(w, in.LineItems) {
		return
	}
	now := s.now()
	cart := pc.Cart{ID: newID(), CreationTimestamp: pc.NewTime(now), LastModifiedTimestamp: pc.NewTime(now),
		ExpirationTimestamp: pc.NewTime(now.Add(cartLifetime)), LastModifiedUser: s.home.TenantID, Status: "Active",
		LineItems: in.LineItems, Attributes: pc.Attributes{ObjectType: "Cart"}}
	s.st.Carts[cart.ID] = &cartRecord{CustomerID: t.ID, Cart: cart}
	writeJSON(w, http.StatusCreated, cart)
}

// cart finds the customer and its live cart named in the path, or answers the error.
func (s *Server) cart(w http.ResponseWriter, r *http.Request) (*Tenant, *cartRecord) {
	t := s.customer(w, r)
	if t == nil {
		return nil, nil
	}
	c := s.st.Carts[r.PathValue("cartId")]
	if c == nil || c.CustomerID != t.ID {
		s.pcFail(w, http.StatusNotFound, 0, "Cart %s was not found.", r.PathValue("cartId"))
		return nil, nil
	}
	if c.Checkout == nil && !s.now().Before(c.Cart.ExpirationTimestamp.Time) {
		s.pcFail(w, http.StatusBadRequest, 0, "Cart %s has expired.", c.Cart.ID)
		return nil, nil
	}
	return t, c
}

func (s *Server) getCart(w http.ResponseWriter, r *http.Request) {
	if _, c := s.cart(w, r); c != nil {
		writeJSON(w, http.StatusOK, c.Cart)
	}
}

func (s *Server) updateCart(w http.ResponseWriter, r *http.Request) {
	_, c := s.cart(w, r)
	if c == nil {
		return
	}
	if c.Checkout != nil {
		s.pcFail(w, http.StatusBadRequest, 0, "Cart %s was already checked out.", c.Cart.ID)
		return
	}
	var in pc.Cart
	if err := decode(r, &in); err != nil || len(in.LineItems) == 0 {
		s.pcFail(w, http.StatusBadRequest, 0, "A cart needs at least one line item.")
		return
	}
	if !s.checkLineItems(w, in.LineItems) {
		return
	}
	c.Cart.LineItems = in.LineItems
	c.Cart.LastModifiedTimestamp = pc.NewTime(s.now())
	writeJSON(w, http.StatusOK, c.Cart)
}

// checkout places one order per billing cycle; a repeat returns the first
// result; without an attested MCA it is 403 13605.
func (s *Server) checkout(w http.ResponseWriter, r *http.Request) {
	t, c := s.cart(w, r)
	if c == nil {
		return
	}
	if c.Checkout != nil {
		writeJSON(w, http.StatusCreated, c.Checkout)
		return
	}
	if len(s.st.Agreements[t.ID]) == 0 {
		s.pcFail(w, http.StatusForbidden, pc.CodeMCANotAccepted, "The customer has not accepted the Microsoft Customer Agreement.")
		return
	}
	for _, li := range c.Cart.LineItems {
		if li.Error != nil {
			s.pcFail(w, http.StatusBadRequest, li.Error.ErrorCode, "Line item %d: %s", li.ID, li.Error.ErrorDescription)
			return
		}
	}
	now := s.now()
	byCycle := map[string]*pc.Order{}
	var cycles []string
	for _, li := range c.Cart.LineItems {
		o := byCycle[li.BillingCycle]
		if o == nil {
			id := strings.ReplaceAll(newID(), "-", "")[:12]
			o = &pc.Order{ID: id, AlternateID: id, ReferenceCustomerID: t.ID, BillingCycle: li.BillingCycle, CurrencyCode: "USD",
				CreationDate: pc.NewTime(now), Status: pc.OrderStatusPending, TransactionType: "UserPurchase", Attributes: pc.Attributes{ObjectType: "Order"}}
			byCycle[li.BillingCycle] = o
			cycles = append(cycles, li.BillingCycle)
		}
		reseller := ""
		for _, p := range li.Participants {
			if strings.EqualFold(p.Key, pc.ParticipantTransactionReseller) {
				reseller = p.Value
			}
		}
		sub := pc.Subscription{ID: newID(), OfferID: li.CatalogItemID, FriendlyName: li.FriendlyName, Quantity: li.Quantity, Status: "active",
			BillingCycle: li.BillingCycle, TermDuration: li.TermDuration, PartnerID: reseller, OrderID: o.ID, CreationDate: pc.NewTime(now),
			AutoRenewEnabled: true, Attributes: pc.Attributes{ObjectType: "Subscription"}}
		s.st.Subscriptions[sub.ID] = &subscriptionRecord{CustomerID: t.ID, Subscription: sub}
		o.LineItems = append(o.LineItems, pc.OrderLineItem{LineItemNumber: len(o.LineItems), OfferID: li.CatalogItemID, SubscriptionID: sub.ID,
			TermDuration: li.TermDuration, TransactionType: "New", FriendlyName: li.FriendlyName, Quantity: li.Quantity, PartnerIDOnRecord: reseller})
	}
	res := &pc.CheckoutResult{Orders: []pc.Order{}, Attributes: pc.Attributes{ObjectType: "CartCheckoutResult"}}
	for _, cy := range cycles {
		o := byCycle[cy]
		s.st.Orders[o.ID] = &orderRecord{CustomerID: t.ID, Order: *o}
		res.Orders = append(res.Orders, *o)
	}
	c.Checkout = res
	c.Cart.Status = "Ordered"
	writeJSON(w, http.StatusCreated, res)
}

func (s *Server) order(w http.ResponseWriter, r *http.Request, t *Tenant) *orderRecord {
	o := s.st.Orders[r.PathValue("orderId")]
	if o == nil || o.CustomerID != t.ID {
		s.pcFail(w, http.StatusNotFound, 0, "Order %s was not found.", r.PathValue("orderId"))
		return nil
	}
	return o
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	if t := s.customer(w, r); t != nil {
		if o := s.order(w, r, t); o != nil {
			v := o.Order
			v.Status = orderStatus(v, s.now(), s.cfg.ActivationDelay)
			writeJSON(w, http.StatusOK, v)
		}
	}
}

func (s *Server) orderProvisioning(w http.ResponseWriter, r *http.Request) {
	t := s.customer(w, r)
	if t == nil {
		return
	}
	o := s.order(w, r, t)
	if o == nil {
		return
	}
	st := "pending"
	if orderStatus(o.Order, s.now(), s.cfg.ActivationDelay) == pc.OrderStatusCompleted {
		st = "fulfilled"
	}
	out := pc.OrderProvisioningStatus{Items: []pc.LineItemProvisioningStatus{}}
	for _, li := range o.Order.LineItems {
		out.Items = append(out.Items, pc.LineItemProvisioningStatus{LineItemNumber: li.LineItemNumber, Status: st, SubscriptionID: li.SubscriptionID})
	}
	out.TotalCount = len(out.Items)
	writeJSON(w, http.StatusOK, out)
}

// visibleSubscription hides a subscription until its order is provisioned.
func (s *Server) visibleSubscription(sub *subscriptionRecord, now time.Time) bool {
	o := s.st.Orders[sub.Subscription.OrderID]
	return o == nil || orderStatus(o.Order, now, s.cfg.ActivationDelay) == pc.OrderStatusCompleted
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	t := s.customer(w, r)
	if t == nil {
		return
	}
	now := s.now()
	items := []pc.Subscription{}
	for _, sub := range s.st.Subscriptions {
		if sub.CustomerID == t.ID && s.visibleSubscription(sub, now) {
			items = append(items, sub.Subscription)
		}
	}
	slices.SortFunc(items, func(a, b pc.Subscription) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, pc.Collection[pc.Subscription]{TotalCount: len(items), Items: items, Attributes: pc.Attributes{ObjectType: "Collection"}})
}

func (s *Server) subscription(w http.ResponseWriter, r *http.Request) *subscriptionRecord {
	t := s.customer(w, r)
	if t == nil {
		return nil
	}
	sub := s.st.Subscriptions[r.PathValue("subscriptionId")]
	if sub == nil || sub.CustomerID != t.ID || !s.visibleSubscription(sub, s.now()) {
		s.pcFail(w, http.StatusNotFound, 0, "Subscription %s was not found.", r.PathValue("subscriptionId"))
		return nil
	}
	return sub
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request) {
	if sub := s.subscription(w, r); sub != nil {
		writeJSON(w, http.StatusOK, sub.Subscription)
	}
}

func (s *Server) getSupportContact(w http.ResponseWriter, r *http.Request) {
	sub := s.subscription(w, r)
	if sub == nil {
		return
	}
	if sub.SupportContact == nil {
		s.pcFail(w, http.StatusNotFound, 0, "Subscription %s has no support contact.", sub.Subscription.ID)
		return
	}
	writeJSON(w, http.StatusOK, sub.SupportContact)
}

// updateSupportContact accepts only a partnered indirect reseller whose
// tenant and MPN ID match.
func (s *Server) updateSupportContact(w http.ResponseWriter, r *http.Request) {
	sub := s.subscription(w, r)
	if sub == nil {
		return
	}
	var in pc.SupportContact
	if err := decode(r, &in); err != nil {
		s.pcFail(w, http.StatusBadRequest, 0, "Invalid support contact: %v", err)
		return
	}
	p := s.st.Tenants[in.SupportTenantID]
	if p == nil || !p.Partner || !p.ProviderAuthorized || p.MPNID != in.SupportMPNID {
		s.pcFail(w, http.StatusBadRequest, pc.CodeNotIndirectReseller, "Tenant %s with PartnerID %s is not an indirect reseller of this provider.", in.SupportTenantID, in.SupportMPNID)
		return
	}
	if in.Name == "" {
		in.Name = p.CompanyName
	}
	in.Attributes = pc.Attributes{ObjectType: "SupportContact"}
	sub.SupportContact = &in
	writeJSON(w, http.StatusOK, in)
}
