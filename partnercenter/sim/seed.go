package sim

import (
	"fmt"
	"slices"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// Demo tenants SeedDemo creates (also listed in README.md). Customers are in
// the home partner's country (US by default) unless noted.
//
//	contoso.onmicrosoft.com    11111111-1111-4111-8111-111111111111  admin@ (Global admin), user@ (not)
//	fabrikam.onmicrosoft.com   22222222-2222-4222-8222-222222222222  admin@ (Global admin), helpdesk@ (not)
//	northwind.onmicrosoft.com  33333333-3333-4333-8333-333333333333  admin@ (Global admin);
//	                                                                 already an advisor customer
//	tailspin.onmicrosoft.com   44444444-4444-4444-8444-444444444444  admin@ (Global admin);
//	                                                                 country DE (region mismatch)
//	wingtip.onmicrosoft.com    55555555-5555-4555-8555-555555555555  admin@ (Global admin); syndication customer
//	adatum.onmicrosoft.com     66666666-6666-4666-8666-666666666666  reseller, MPN 1234567, agreement signed,
//	                                                                 partnered
//	litware.onmicrosoft.com    77777777-7777-4777-8777-777777777777  reseller, MPN 2345678, agreement NOT signed,
//	                                                                 partnered
//	proseware.onmicrosoft.com  88888888-8888-4888-8888-888888888888  reseller, MPN 3456789, agreement signed,
//	                                                                 not yet partnered
//
// Every reseller has admin@<domain> (Global admin) and agent@<domain> (not).
// The customers also verified a custom domain each: contoso.com, fabrikam.com, northwindtraders.com,
// tailspintoys.de, wingtiptoys.com (findTenantInformationByDomainName resolves both kinds).
var demoTenants = []struct {
	partner bool
	in      TenantInput
}{
	{
		false,
		TenantInput{
			TenantID:      "11111111-1111-4111-8111-111111111111",
			Domain:        "contoso.onmicrosoft.com",
			CompanyName:   "Contoso Ltd",
			Users:         demoUsers("contoso", "user"),
			CustomDomains: []string{"contoso.com"},
		},
	},
	{
		false,
		TenantInput{
			TenantID:      "22222222-2222-4222-8222-222222222222",
			Domain:        "fabrikam.onmicrosoft.com",
			CompanyName:   "Fabrikam Inc",
			Users:         demoUsers("fabrikam", "helpdesk"),
			CustomDomains: []string{"fabrikam.com"},
		},
	},
	{
		false,
		TenantInput{
			TenantID:      "33333333-3333-4333-8333-333333333333",
			Domain:        "northwind.onmicrosoft.com",
			CompanyName:   "Northwind Traders",
			Users:         demoUsers("northwind", ""),
			Relationship:  pc.RelationshipAdvisor,
			CustomDomains: []string{"northwindtraders.com"},
		},
	},
	{
		false,
		TenantInput{
			TenantID:      "44444444-4444-4444-8444-444444444444",
			Domain:        "tailspin.onmicrosoft.com",
			CompanyName:   "Tailspin Toys GmbH",
			Country:       "DE",
			Users:         demoUsers("tailspin", ""),
			CustomDomains: []string{"tailspintoys.de"},
		},
	},
	{
		false,
		TenantInput{
			TenantID:      "55555555-5555-4555-8555-555555555555",
			Domain:        "wingtip.onmicrosoft.com",
			CompanyName:   "Wingtip Toys",
			Users:         demoUsers("wingtip", ""),
			Relationship:  pc.RelationshipSyndication,
			CustomDomains: []string{"wingtiptoys.com"},
		},
	},
	{
		true,
		TenantInput{
			TenantID:        "66666666-6666-4666-8666-666666666666",
			Domain:          "adatum.onmicrosoft.com",
			CompanyName:     "Adatum Reseller",
			MPNID:           "1234567",
			AgreementSigned: true,
			Authorized:      true,
			Users:           demoUsers("adatum", "agent"),
		},
	},
	{
		true,
		TenantInput{
			TenantID:    "77777777-7777-4777-8777-777777777777",
			Domain:      "litware.onmicrosoft.com",
			CompanyName: "Litware Reseller",
			MPNID:       "2345678",
			Authorized:  true,
			Users:       demoUsers("litware", "agent"),
		},
	},
	{
		true,
		TenantInput{
			TenantID:        "88888888-8888-4888-8888-888888888888",
			Domain:          "proseware.onmicrosoft.com",
			CompanyName:     "Proseware Reseller",
			MPNID:           "3456789",
			AgreementSigned: true,
			Users:           demoUsers("proseware", "agent"),
		},
	},
}

func demoUsers(name, other string) []User {
	users := []User{{UPN: "admin@" + name + ".onmicrosoft.com", GlobalAdmin: true}}
	if other != "" {
		users = append(users, User{UPN: other + "@" + name + ".onmicrosoft.com"})
	}
	return users
}

// SeedDemo adds the demo tenants listed above and DemoApp when they do not
// exist yet, so it can run at every start.
func (s *Server) SeedDemo() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.app(DemoApp.ClientID); a == nil || !slices.Equal(a.RedirectURIs, DemoApp.RedirectURIs) {
		// A world seeded before the staff sign-in's redirect URI (/auth/signin) gets it.
		s.putApp(DemoApp)
	}
	for _, d := range demoTenants {
		in := d.in
		if t := s.st.Tenants[in.TenantID]; t != nil && len(t.CustomDomains) == 0 {
			// A world seeded before the demo customers had custom domains gets them, where free.
			for _, domain := range in.CustomDomains {
				_, _ = s.addCustomDomain(t, domain)
			}
		}
		if s.st.Tenants[in.TenantID] != nil || s.st.tenantByDomain(in.Domain) != nil {
			continue
		}
		if in.Country == "" {
			in.Country = s.home.Country
		}
		if _, ref := s.addTenant(in, d.partner); ref != nil {
			return fmt.Errorf("seed %s: %s", in.Domain, ref.message)
		}
	}
	return s.flush()
}
