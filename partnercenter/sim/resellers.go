package sim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ResellerPartnershipPath is the simulator's stand-in for the Partner Center
// screen where an indirect reseller's Global admin authorizes the indirect
// provider that sent it a partnership request (GET shows it, POST signs in
// with a UPN and authorizes). Its query names the provider: ?providerId=.
const ResellerPartnershipPath = "/sim/admin/authorize-provider"

// ResellerPartnershipURL is the public URL of the partnership request page of
// the given provider: the link a provider sends its resellers. Partner Center
// creates that link in its UI only; no API returns it.
func (s *Server) ResellerPartnershipURL(providerTenantID string) string {
	s.mu.Lock()
	base := s.cfg.PublicURL
	s.mu.Unlock()
	return base + ResellerPartnershipPath + "?" + url.Values{"providerId": {providerTenantID}}.Encode()
}

// partnershipPage shows the provider's partnership request to a reseller and
// authorizes it for the reseller whose Global admin signs in.
func (s *Server) partnershipPage(w http.ResponseWriter, r *http.Request) {
	providerID := r.URL.Query().Get("providerId")
	d := pageData{
		Site:        "Partner Center",
		Title:       "Authorize an indirect provider",
		Form:        true,
		Verb:        "authorize an indirect provider",
		Whose:       "an indirect reseller's Partner Center account in the provider's region",
		Button:      "authorize",
		ButtonLabel: "Authorize",
	}
	if providerID != s.home.TenantID {
		d.Form = false
		status := d.outcome(
			refuse(http.StatusNotFound, ReasonNotFound, "This partnership request names an unknown indirect provider."),
			"",
		)
		renderPage(w, status, d)
		return
	}
	d.Partnership = &partnershipView{
		ProviderName:  s.home.CompanyName,
		ProviderMPNID: s.home.MPNID,
		Country:       s.home.Country,
	}
	if r.Method != http.MethodPost {
		renderPage(w, http.StatusOK, d)
		return
	}
	d.UPN = strings.TrimSpace(r.PostFormValue("upn"))
	p, ref := s.authorizeProvider("", providerID, d.UPN)
	msg := ""
	if p != nil {
		msg = p.CompanyName + " authorized " + s.home.CompanyName + " as its indirect provider."
	}
	renderPage(w, d.outcome(ref, msg), d)
}

// removeReseller stands in for the provider removing an indirect reseller in
// the Partner Center UI (no public API exists). The reseller leaves the
// provider's indirect reseller list; its customers keep their
// associatedPartnerId and GDAP relationships are untouched, as Partner
// Center documents; nobody is notified.
func (s *Server) removeReseller(providerID, resellerTenantID string) (*Tenant, *refusal) {
	if providerID != s.home.TenantID {
		return nil, refuse(http.StatusNotFound, ReasonNotFound, "The request names an unknown provider.")
	}
	p := s.st.Tenants[strings.ToLower(strings.TrimSpace(resellerTenantID))]
	switch {
	case p == nil || !p.Partner:
		return nil, refuse(
			http.StatusNotFound,
			ReasonNotFound,
			"No reseller partner has the tenant ID "+resellerTenantID+".",
		)
	case !p.ProviderAuthorized:
		return nil, refuse(
			http.StatusConflict,
			ReasonInvalidState,
			p.Domain+" is not an indirect reseller of this provider.",
		)
	}
	p.ProviderAuthorized = false
	s.st.mark(kindTenant, p.ID)
	return p, nil
}

func (s *Server) postRemoveReseller(w http.ResponseWriter, r *http.Request) {
	var in struct{ ProviderID, ResellerTenantID string }
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	p, ref := s.removeReseller(in.ProviderID, in.ResellerTenantID)
	if ref != nil {
		ref.write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"tenantId": p.ID, "mpnId": p.MPNID, "state": "Removed"})
}

// AddResellerCustomers creates n customer tenants associated with the
// reseller partner tenant resellerTenantID (as POST /sim/tenants with
// associatedPartnerId does: relationship reseller, the reseller's country,
// admin@<domain> as Global admin and contact e-mail) and returns their tenant
// IDs in creation order. It writes them in one transaction, after the last
// one, so thousands of customers take milliseconds; it is meant for tests. Domains
// are <reseller label>-<random>-<n>.onmicrosoft.com.
func (s *Server) AddResellerCustomers(resellerTenantID string, n int) ([]string, error) {
	if n < 0 {
		return nil, errors.New("sim: AddResellerCustomers needs n >= 0")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.Tenants[strings.ToLower(strings.TrimSpace(resellerTenantID))]
	if p == nil || !p.Partner {
		return nil, fmt.Errorf("sim: %s is not a reseller partner tenant", resellerTenantID)
	}
	label, _, _ := strings.Cut(p.Domain, ".")
	var b [4]byte
	_, _ = rand.Read(b[:])
	batch := hex.EncodeToString(b[:])
	ids := make([]string, 0, n)
	var err error
	for i := range n {
		domain := fmt.Sprintf("%s-%s-%05d.onmicrosoft.com", label, batch, i+1)
		t, ref := s.addTenant(TenantInput{
			Domain:              domain,
			Country:             p.Country,
			CompanyName:         fmt.Sprintf("%s customer %d", p.CompanyName, i+1),
			Users:               []User{{UPN: "admin@" + domain, GlobalAdmin: true}},
			AssociatedPartnerID: p.ID,
		}, false)
		if ref != nil {
			err = fmt.Errorf("sim: add customer %s: %s", domain, ref.message)
			break
		}
		ids = append(ids, t.ID)
	}
	if saveErr := s.flush(); err == nil {
		err = saveErr
	}
	return ids, err
}
