package sim

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// findTenantFunction is the Graph function tenantFunction serves.
const findTenantFunction = "findTenantInformationByDomainName"

// tenantInformation is Graph's answer of findTenantInformationByDomainName, in the order and
// shape of the documented example (federationBrandName null).
type tenantInformation struct {
	Context             string  `json:"@odata.context"`
	TenantID            string  `json:"tenantId"`
	FederationBrandName *string `json:"federationBrandName"`
	DisplayName         string  `json:"displayName"`
	DefaultDomainName   string  `json:"defaultDomainName"`
}

// tenantFunction answers GET /v1.0/tenantRelationships/{function} for
// findTenantInformationByDomainName(domainName='<domain>') ("tenantRelationship:
// findTenantInformationByDomainName", Microsoft Graph v1.0): the tenantInformation of the tenant
// that verified the domain, any tenant of the world (the home partner too), by its initial
// *.onmicrosoft.com domain or a custom one; defaultDomainName is the initial one, displayName the
// company name, federationBrandName null. The documentation names the parameter the tenant's
// primary domain and says nothing of others; the simulator resolves every verified domain.
//
// A domain no tenant verified: Microsoft documents no error (third-party code treats a 404 as
// "unknown"). The simulator answers 404 in Graph's envelope with code Request_ResourceNotFound,
// a code of its own choosing. Another segment is 400 BadRequest, as Graph's OData layer answers
// a segment it does not know ("Resource not found for the segment ...").
func (s *Server) tenantFunction(w http.ResponseWriter, r *http.Request) {
	seg := r.PathValue("function")
	domain, ok, known := parseFindTenant(seg)
	switch {
	case !known:
		s.graphFail(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '%s'.", seg)
		return
	case !ok:
		s.graphFail(w, http.StatusBadRequest, "BadRequest",
			"%s takes one parameter, domainName, an OData string literal ('contoso.com'; a quote in it doubled).",
			findTenantFunction)
		return
	}
	domain = strings.ToLower(strings.TrimSpace(domain))
	out := tenantInformation{Context: requestBase(r) + "/v1.0/$metadata#microsoft.graph.tenantInformation"}
	if domain == strings.ToLower(s.home.Domain) {
		out.TenantID, out.DisplayName, out.DefaultDomainName = s.home.TenantID, s.home.CompanyName, s.home.Domain
		writeJSON(w, http.StatusOK, out)
		return
	}
	t := s.st.tenantByDomain(domain)
	if t == nil {
		s.graphFail(w, http.StatusNotFound, "Request_ResourceNotFound",
			"No tenant has verified the domain '%s'.", domain)
		return
	}
	out.TenantID, out.DisplayName, out.DefaultDomainName = t.ID, t.CompanyName, t.Domain
	writeJSON(w, http.StatusOK, out)
}

// parseFindTenant reads findTenantInformationByDomainName(domainName='<literal>'): known tells
// whether the segment calls the function (its name ignoring case), ok whether its one parameter
// is a well-formed OData string literal (quotes, a quote inside doubled), domain its value.
func parseFindTenant(seg string) (domain string, ok, known bool) {
	open := strings.IndexByte(seg, '(')
	if open < 0 || !strings.EqualFold(seg[:open], findTenantFunction) {
		return "", false, false
	}
	args, closed := strings.CutSuffix(seg[open+1:], ")")
	name, lit, found := strings.Cut(args, "=")
	lit = strings.TrimSpace(lit)
	if !closed || !found || !strings.EqualFold(strings.TrimSpace(name), "domainName") ||
		len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", false, true
	}
	inner := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\'' {
			if i+1 == len(inner) || inner[i+1] != '\'' {
				return "", false, true
			}
			i++
		}
		b.WriteByte(inner[i])
	}
	return b.String(), b.Len() > 0, true
}

// domainName is a DNS name of at least two labels whose last is not numeric.
var domainName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// checkCustomDomain refuses d (lower-case) as a custom domain of t (nil for a tenant being
// made): not a domain name, a *.onmicrosoft.com name (the initial domain, which Microsoft gives
// a tenant when it is made), or a domain another tenant verified.
func (s *Server) checkCustomDomain(t *Tenant, d string) *refusal {
	switch {
	case len(d) > 253 || !domainName.MatchString(d):
		return refuse(http.StatusBadRequest, ReasonInvalidInput, d+" is not a domain name")
	case d == "onmicrosoft.com" || strings.HasSuffix(d, ".onmicrosoft.com"):
		return refuse(http.StatusBadRequest, ReasonInvalidInput,
			d+" is an initial domain: Microsoft gives one to a tenant when it is made, none is added")
	case d == strings.ToLower(s.home.Domain):
		return refuse(http.StatusConflict, ReasonDomainTaken, d+" is verified in another tenant")
	}
	if o := s.st.tenantByDomain(d); o != nil && o != t {
		return refuse(http.StatusConflict, ReasonDomainTaken, d+" is verified in another tenant")
	}
	return nil
}

// addCustomDomain verifies domain in t; added is false when t already has it. Callers hold s.mu.
func (s *Server) addCustomDomain(t *Tenant, domain string) (added bool, ref *refusal) {
	d := strings.ToLower(strings.TrimSpace(domain))
	if ref := s.checkCustomDomain(t, d); ref != nil {
		return false, ref
	}
	if slices.Contains(t.CustomDomains, d) {
		return false, nil
	}
	t.CustomDomains = append(t.CustomDomains, d)
	s.st.byDomain[d] = t
	s.st.mark(kindTenant, t.ID)
	return true, nil
}

// postCustomDomain answers POST /sim/tenants/{tenantId}/domains {"domain": "contoso.com"}: the
// tenant's admin adding and verifying a custom domain in Entra (201; 200 when the tenant already
// has it), with {tenantId, domain, customDomains}. Refused: an unknown tenant (404 not-found), a
// name that is not a domain or is *.onmicrosoft.com (400 invalid-input), a domain another tenant
// verified (409 domain-taken).
func (s *Server) postCustomDomain(w http.ResponseWriter, r *http.Request) {
	t := s.st.Tenants[strings.ToLower(r.PathValue("tenantId"))]
	if t == nil {
		refuse(http.StatusNotFound, ReasonNotFound, "No tenant has the ID "+r.PathValue("tenantId")+".").write(w)
		return
	}
	var in struct {
		Domain string `json:"domain"`
	}
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	added, ref := s.addCustomDomain(t, in.Domain)
	if ref != nil {
		ref.write(w)
		return
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"tenantId": t.ID, "domain": t.Domain, "customDomains": t.CustomDomains})
}
