package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

// agreementFormRoutes registers the form on which an agent attests that an onboarding's customer
// accepted the Microsoft Customer Agreement: the fields of POST /v1/customers/{id}/agreement,
// checked and kept by the same code (attestation, recordAgreement).
func (s *Server) agreementFormRoutes(root *gin.RouterGroup) {
	flowFormRoutes(s, root, "/customers/:id/agreement", agentRoles, onboardings, s.agreementForm,
		func(_ context.Context, row *models.Onboarding) *Problem {
			if row.Status == models.OnboardingAwaitingAgreement {
				return nil
			}
			return onboardings.problemClosed("the onboarding is " + row.Status +
				"; an attestation is taken while it awaits the agreement")
		}, s.postAgreementForm)
}

func (s *Server) agreementForm(c *gin.Context, row *models.Onboarding) formPage {
	p := s.newFormPage(c, models.KindOnboarding+"s", "Attest the Microsoft Customer Agreement for "+row.Domain)
	p.BackURL, p.BackLabel = "/customers/"+row.ID, row.Domain
	p.ID, p.Action = "agreement-form", "/customers/"+row.ID+"/agreement"
	p.Intro = "Partner Center lets an admin or sales agent confirm that the customer accepted the Microsoft " +
		"Customer Agreement, naming who accepted and when. partnerflow keeps it as evidence (you, your key, " +
		"your address, the time) and sends it to Partner Center before the order. An indirect reseller cannot " +
		"attest: for a reseller's customer the attestation is recorded as made on its behalf."
	p.Submit = action{ID: "attest", Label: "Record the attestation"}
	p.Sections = []formSection{{Legend: "Who accepted the agreement", Fields: []formField{
		{Name: "primaryContact.firstName", Label: "First name", Required: true, MaxLength: maxPersonName},
		{Name: "primaryContact.lastName", Label: "Last name", Required: true, MaxLength: maxPersonName},
		{Name: "primaryContact.email", Label: "E-mail", Type: "email", Required: true, MaxLength: 254},
		{Name: "dateAgreed", Label: "Date of acceptance (not in the future)", Type: "date", Required: true},
	}}}
	return p
}

// postAgreementForm records the attestation and shows the onboarding's page, or shows the form
// again with the refusal.
func (s *Server) postAgreementForm(c *gin.Context) {
	row, ok := dashboardLoad(c, s, onboardings)
	if !ok || !s.checkCSRF(c) {
		return
	}
	page := s.agreementForm(c, row)
	page.fill(c)
	ev, by, err := s.attestation(c, row, attestRequest{
		PrimaryContact: contactRequest{
			FirstName: c.PostForm("primaryContact.firstName"),
			LastName:  c.PostForm("primaryContact.lastName"),
			Email:     c.PostForm("primaryContact.email"),
		},
		DateAgreed: c.PostForm("dateAgreed"),
	})
	if err != nil {
		s.refuse(c, page, answer(c, err))
		return
	}
	if s.recordAgreement(c, row, ev, by) { // a refusal there is answered as the API answers it
		c.Redirect(http.StatusSeeOther, "/customers/"+row.ID+"?done=attested")
	}
}

// newOnboardingPath is the dashboard's form that onboards a new customer.
const newOnboardingPath = "/customers/new"

// formProductLines is how many product lines the form offers; lines left empty are not ordered.
const formProductLines = 3

// onboardingFormRoutes registers the "New customer" form: the fields of POST /v1/onboardings,
// checked by the same code (newOnboarding), with the products picked from Partner Center's
// catalog of the customer's country (?country=, default US).
func (s *Server) onboardingFormRoutes(root *gin.RouterGroup) {
	s.formRoutes(root, newOnboardingPath, agentRoles, func(c *gin.Context) formPage {
		return s.onboardingForm(c, c.Query("country"))
	}, s.postOnboardingForm)
}

func (s *Server) onboardingForm(c *gin.Context, country string) formPage {
	if _, err := catalogCountry(country); err != nil {
		country = "US"
	}
	country = strings.ToUpper(strings.TrimSpace(country))
	p := s.newFormPage(c, models.KindOnboarding+"s", "New customer")
	p.BackURL, p.BackLabel, p.ID, p.Action = "/customers", "Customers", "onboarding-form", newOnboardingPath
	p.Intro = "partnerflow creates the customer's tenant in Partner Center, mails its contact the Microsoft " +
		"Customer Agreement in its language, and once the agreement is on record builds the cart for your " +
		"review and checkout. The new tenant's first admin password is shown once, on the customer's page."
	p.Submit = action{ID: "create-customer", Label: "Create the customer"}
	p.Sections = []formSection{
		{Legend: "Customer", Fields: []formField{
			{Name: "companyName", Label: "Legal company name", Required: true, MaxLength: maxCompanyName},
			{Name: "domainPrefix", Label: "Domain prefix", Required: true, MaxLength: 27,
				Hint: "2 to 27 lower-case letters, digits or hyphens: contosoitalia becomes " +
					"contosoitalia.onmicrosoft.com."},
			{Name: "country", Label: "Country (two-letter code)", Required: true, MaxLength: 2, Value: country},
			{Name: "registrationNumber", Label: "Company registration number", MaxLength: maxRegistrationNumber,
				Hint: "Partner Center requires it for customers in some countries."},
			languageField("en"),
		}},
		{Legend: "The customer's contact, who gets the mails", Fields: []formField{
			{Name: "contact.firstName", Label: "First name", Required: true, MaxLength: maxPersonName},
			{Name: "contact.lastName", Label: "Last name", Required: true, MaxLength: maxPersonName},
			{Name: "contact.email", Label: "E-mail", Type: "email", Required: true, MaxLength: 254},
			{Name: "contact.phone", Label: "Phone (optional)", Type: "tel", MaxLength: 30},
		}},
		{Legend: "Billing address", Fields: []formField{
			{Name: "address.line1", Label: "Street address", Required: true, MaxLength: maxAddressLine},
			{Name: "address.city", Label: "City", Required: true, MaxLength: maxCity},
			{Name: "address.state", Label: "State or province", MaxLength: maxState,
				Hint: "A US address needs its two-letter state code."},
			{Name: "address.postalCode", Label: "Postal code", Required: true, MaxLength: maxPostalCode},
		}},
		s.resellerSection(c),
		s.productsSection(c, country),
	}
	return p
}

// resellerSection picks the indirect reseller the customer is bought for among the active ones.
func (s *Server) resellerSection(c *gin.Context) formSection {
	f := formField{Name: "resellerId", Label: "Indirect reseller", Type: "select",
		Options: []formOption{{Value: "", Label: "None: a direct customer"}}}
	active, _, err := resellers.list(c.Request.Context(), s, models.ListFilter{
		PartnerID: s.flows.PartnerID, Status: models.ResellerActive, Limit: models.MaxListPage,
	})
	if err != nil {
		s.logger.WarnContext(c.Request.Context(), "the form shows no resellers", "error", err)
	}
	for _, r := range active {
		f.Options = append(f.Options, formOption{Value: r.ID, Label: r.CompanyName + " (" + r.MPNID + ")"})
	}
	return formSection{Legend: "Reseller", Fields: []formField{f, {
		Name: "supportContact", Label: "Make the reseller the subscriptions' support contact", Type: "checkbox",
	}}}
}

// productsSection offers formProductLines lines, each picking a catalog item of the country with
// its quantity, billing cycle and term; without a catalog the item is typed as its ID.
func (s *Server) productsSection(c *gin.Context, country string) formSection {
	sec := formSection{ID: "products", Legend: "Products"}
	item := formField{Label: "Product", Type: "select", Options: []formOption{{Value: "", Label: "—"}}}
	catalog, err := s.catalogOf(c.Request.Context(), country)
	if err != nil {
		why := "Partner Center did not answer"
		if p := problemFor(err); p != nil {
			why = p.Detail
		}
		s.logger.WarnContext(c.Request.Context(), "the form shows no catalog", "country", country, "error", err)
		sec.Note = "The catalog could not be read (" + why + "): type each product's catalog item ID " +
			"(product:SKU:availability)."
		item = formField{Label: "Catalog item ID", MaxLength: 64, Placeholder: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS"}
	} else {
		sec.Note = fmt.Sprintf("Partner Center's catalog in %s, read at %s UTC (for another country's, open "+
			"this form with ?country= and its code). Lines left on — are not ordered.",
			catalog.Country, catalog.ReadAt.Format("15:04"))
		for _, it := range catalog.Items {
			item.Options = append(item.Options, formOption{Value: it.CatalogItemID,
				Label: fmt.Sprintf("%s (%d to %d)", it.label(), it.MinQuantity, it.MaxQuantity)})
		}
	}
	cycles := formField{Label: "Billing cycle", Type: "select"}
	for _, bc := range billingCycles {
		cycles.Options = append(cycles.Options, formOption{Value: bc, Label: bc})
	}
	terms := formField{Label: "Term", Type: "select"}
	for _, t := range termDurations {
		terms.Options = append(terms.Options, formOption{Value: t, Label: firstOf(t, "none (Azure plan)")})
	}
	for i := range formProductLines {
		line := fmt.Sprintf("products[%d].", i)
		it, bc, tm := item, cycles, terms
		it.Name, bc.Name, tm.Name = line+"catalogItemId", line+"billingCycle", line+"termDuration"
		it.Options, bc.Options = slices.Clone(it.Options), slices.Clone(bc.Options)
		tm.Options = slices.Clone(tm.Options)
		it.Label = fmt.Sprintf("%s %d", it.Label, i+1)
		sec.Fields = append(sec.Fields, it,
			formField{Name: line + "quantity", Label: "Quantity", Type: "number", Value: "1"}, bc, tm)
	}
	return sec
}

// postOnboardingForm starts the onboarding the form describes and shows its page, or shows the
// form again, filled in, with the refusal beside the field it names.
func (s *Server) postOnboardingForm(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	page := s.onboardingForm(c, value(c, "country"))
	page.fill(c)
	req := createOnboardingRequest{
		CompanyName: c.PostForm("companyName"), DomainPrefix: c.PostForm("domainPrefix"),
		Country: c.PostForm("country"), Language: c.PostForm("language"),
		RegistrationNumber: c.PostForm("registrationNumber"), ResellerID: c.PostForm("resellerId"),
		SupportContact: c.PostForm("supportContact") == "on",
		Contact: contactRequest{FirstName: c.PostForm("contact.firstName"), LastName: c.PostForm("contact.lastName"),
			Email: c.PostForm("contact.email"), Phone: c.PostForm("contact.phone")},
		Address: addressRequest{Line1: c.PostForm("address.line1"), City: c.PostForm("address.city"),
			State: c.PostForm("address.state"), PostalCode: c.PostForm("address.postalCode")},
	}
	// The API numbers the lines ordered; the form, every line: a problem names the form's.
	var lines []int
	for i := range formProductLines {
		line := fmt.Sprintf("products[%d].", i)
		id := value(c, line+"catalogItemId")
		if id == "" {
			continue
		}
		qty, err := strconv.Atoi(value(c, line+"quantity"))
		if err != nil {
			qty = -1
		}
		req.Products = append(req.Products, productRequest{CatalogItemID: id, Quantity: qty,
			BillingCycle: c.PostForm(line + "billingCycle"), TermDuration: c.PostForm(line + "termDuration")})
		lines = append(lines, i)
	}
	row, err := s.newOnboarding(c.Request.Context(), req)
	if err != nil {
		p := answer(c, err)
		for i, line := range lines {
			if api := fmt.Sprintf("products[%d]", i); strings.HasPrefix(p.Field, api) {
				p.Field = fmt.Sprintf("products[%d]", line) + strings.TrimPrefix(p.Field, api)
				break
			}
		}
		if p.Field == "products" {
			p.Field, p.Detail = "products[0].catalogItemId", "pick at least one product ("+p.Detail+")"
		}
		s.refuse(c, page, p)
		return
	}
	startedRedirect(c, "/customers/"+row.ID)
}

// credentialsPage shows a new tenant's first admin credentials, the one time they are revealed.
type credentialsPage struct {
	pageFrame
	BackURL, BackLabel, Heading string
	UserName, Password          string
	RevealedBy, RevealedAt      string
}

// credentialsFormRoutes registers the reveal of an onboarding's first admin credentials: a form
// that says the password is shown once and asks to confirm, then the page that shows it (the
// reveal of POST /v1/customers/{id}/credentials/reveal, the same code).
func (s *Server) credentialsFormRoutes(root *gin.RouterGroup) {
	flowFormRoutes(s, root, "/customers/:id/credentials", agentRoles, onboardings, s.credentialsForm,
		func(ctx context.Context, row *models.Onboarding) *Problem {
			creds, err := s.store.Credentials(ctx, row.ID)
			if err == nil && creds.RevealedAt != nil {
				err = models.ErrAlreadyRevealed
			}
			if err == nil {
				return nil
			}
			var p *Problem
			if !errors.As(credentialsProblem(creds, err), &p) {
				s.logger.ErrorContext(ctx, "read the credentials", "id", row.ID, "error", err)
				return problemInternal()
			}
			return p
		}, s.postCredentialsForm)
}

func (s *Server) credentialsForm(c *gin.Context, row *models.Onboarding) formPage {
	p := s.newFormPage(c, models.KindOnboarding+"s", "Reveal the first admin's credentials of "+row.Domain)
	p.BackURL, p.BackLabel = "/customers/"+row.ID, row.Domain
	p.ID, p.Action = "credentials-form", "/customers/"+row.ID+"/credentials"
	p.Intro = "Partner Center gave partnerflow the new tenant's first Global admin and a temporary password. " +
		"partnerflow shows the password once, to whoever reveals it first, and deletes it as it shows it " +
		fmt.Sprintf("(or after %d days unrevealed); who revealed it and when are kept.",
			int(models.CredentialsRevealWindow.Hours()/24))
	p.Submit = action{ID: "reveal", Label: "Reveal the password once", Danger: true}
	p.Sections = []formSection{{Fields: []formField{{
		Name: "confirm", Type: "checkbox", Required: true,
		Label: "I will store the password safely now: partnerflow will not show it again",
	}}}}
	return p
}

// postCredentialsForm reveals the credentials and shows them, or the form again with why not.
func (s *Server) postCredentialsForm(c *gin.Context) {
	row, ok := dashboardLoad(c, s, onboardings)
	if !ok || !s.checkCSRF(c) {
		return
	}
	page := s.credentialsForm(c, row)
	page.fill(c)
	if c.PostForm("confirm") != "on" {
		s.refuse(c, page, Invalid("confirm", "confirm that you store the password now: it is shown only once"))
		return
	}
	creds, password, err := s.reveal(c.Request.Context(), row, callerName(c))
	if err != nil {
		s.refuse(c, page, answer(c, err))
		return
	}
	frame := s.dashboardFrame(c, "Credentials of "+row.Domain)
	frame.Nav = models.KindOnboarding + "s"
	s.renderPage(c, http.StatusOK, "credentials", credentialsPage{
		pageFrame: frame, BackURL: "/customers/" + row.ID, BackLabel: row.Domain,
		Heading: "First admin of " + row.Domain, UserName: creds.UserName, Password: password,
		RevealedBy: creds.RevealedBy, RevealedAt: creds.RevealedAt.UTC().Format("2006-01-02 15:04"),
	})
}
