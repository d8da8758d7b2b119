package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/internal/failpoint"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/workflows"
)

// onboardings is the API's side of the customer onboarding flow.
var onboardings = flowAPI[models.Onboarding, workflows.OnboardingState]{
	desc:         workflows.OnboardingFlow,
	statuses:     models.OnboardingStatuses,
	searchColumn: models.OnboardingSearchColumn,
	partnerOf:    func(c *models.Onboarding) string { return c.PartnerID },
	workflowOf:   func(c *models.Onboarding) string { return c.WorkflowID },
}

const onboardingIDPrefix = "cus_"

// Input rules of an onboarding request, as Partner Center applies them.
var (
	domainPrefixPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,25}[a-z0-9]$`)
	catalogItemPattern  = regexp.MustCompile(`^[A-Z0-9]{12}:[0-9]{4}(:[A-Z0-9]{12})?$`)
	phonePattern        = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{5,19}$`)
	countryPattern      = regexp.MustCompile(`^[A-Z]{2}$`)
	// postalCodes are the countries whose postal code format partnerflow checks.
	postalCodes = map[string]*regexp.Regexp{
		"US": regexp.MustCompile(`^[0-9]{5}(-[0-9]{4})?$`),
		"IT": regexp.MustCompile(`^[0-9]{5}$`),
		"TR": regexp.MustCompile(`^[0-9]{5}$`),
		"DE": regexp.MustCompile(`^[0-9]{5}$`),
		"FR": regexp.MustCompile(`^[0-9]{5}$`),
		"GB": regexp.MustCompile(`^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$`),
	}
	// registrationCountries require the company's registration number when a customer is created.
	registrationCountries = []string{
		"AM", "AZ", "BY", "HU", "KZ", "KG", "MD", "RU", "TJ", "UZ", "UA", "BR",
		"IN", "ZA", "PL", "AE", "SA", "TR", "TH", "VN", "MM", "IQ", "SS", "VE",
	}
	billingCycles = []string{"monthly", "annual", "triennial", "none", "one_time"}
	termDurations = []string{"", "P1M", "P1Y", "P3Y"}
)

// Bounds of an order.
const (
	maxProducts = 50
	maxQuantity = 10000
)

// Bounds of an onboarding's free-text fields, in characters: each is stored, shown on pages and
// sent to Partner Center, so none may be as long as the body allows.
const (
	maxPersonName         = 100
	maxAddressLine        = 200
	maxCity               = 100
	maxState              = 100
	maxPostalCode         = 20
	maxRegistrationNumber = 50
	maxResellerID         = 100
)

// tooLong reports whether s has more than limit characters.
func tooLong(s string, limit int) bool { return utf8.RuneCountInString(s) > limit }

// onboardingRegistration is everything the engine needs of the customer onboarding flow.
var onboardingRegistration = flowRegistration{
	desc:     onboardings.desc,
	statuses: onboardings.statuses,
	open:     models.OnboardingOpen,
	section:  navLink{Key: models.KindOnboarding + "s", Label: "Customers", Path: "/customers"},
	routes:   (*Server).onboardingRoutes,
	links: []linkPage{{path: "/agreement/:token",
		show: func(s *Server) gin.HandlerFunc { return s.showAgreementPage },
		post: func(s *Server) gin.HandlerFunc { return s.signAgreement }}},
	overview: overviewOf[models.Onboarding](flowOverview{
		Kind:     models.KindOnboarding,
		Title:    "Customer onboardings",
		ListPath: "/customers",
		Noun:     "onboarding",
		Nouns:    "onboardings",
		Statuses: onboardings.statuses,
		Funnel: []funnelStep{
			{"agreement-requested", "Agreement asked"},
			{"agreement-opened", "Page opened"},
			{"agreement-attested", "Agreement on record"},
			{"cart-ready", "Cart ready"},
			{"ordered", "Ordered"},
			{"completed", "Subscriptions live"},
		},
		DoneStep:  "agreement-attested",
		DoneLabel: "Median time to the agreement",
		NoneDone:  "No customer agreement on record yet.",
	}),
	mailKinds: []string{notify.KindAgreementRequest, notify.KindAgreementReminder, notify.KindAgreementResend,
		notify.KindAgreementEscalation},
	closeNeverStarted: onboardings.closeNeverStarted,
	benchKind:         "customer",
}

// onboardingRoutes registers the onboarding flow's JSON API and dashboard pages. The API answers
// under /v1/onboardings and, the same, under /v1/customers, its deprecated first name that
// scripts still call.
func (s *Server) onboardingRoutes(root, v1 *gin.RouterGroup) {
	seller := keyRule(agentRoles...)
	// An invited customer is onboarded from its invitation; /customers/{id}/onboarding is the
	// deprecated first path, whose ID is the invitation's too.
	s.handle(v1, "POST", "/invitations/:id/onboarding", seller, s.onboardInvitedCustomer)
	s.handle(v1, "POST", "/customers/:id/onboarding", seller, s.onboardInvitedCustomer)
	s.handle(v1, "GET", "/catalog", seller, s.getCatalog)
	for _, base := range []string{"/onboardings", "/customers"} {
		s.handle(v1, "POST", base, seller, s.createOnboarding)
		s.handle(v1, "GET", base, seller, listHandler(s, onboardings, s.viewOnboarding))
		s.handle(v1, "GET", base+"/:id", seller, detailHandler(s, onboardings, s.onboardingDetail))
		s.handle(v1, "GET", base+"/:id/steps", seller, stepsHandler(s, onboardings))
		s.handle(v1, "POST", base+"/:id/resend", seller,
			updateHandler(s, onboardings, workflows.UpdateResend, resendArg, s.onboardingDetail))
		s.handle(v1, "POST", base+"/:id/credentials/reveal", seller, s.revealCredentials)
		s.handle(v1, "POST", base+"/:id/agreement", seller, s.attestAgreement)
		s.handle(v1, "GET", base+"/:id/agreement/evidence", seller, s.agreementEvidence)
		s.handle(v1, "GET", base+"/:id/cart", seller, s.getCart)
		s.handle(v1, "POST", base+"/:id/cart", seller, s.cartUpdate(workflows.UpdateCart, cartArg))
		s.handle(v1, "POST", base+"/:id/cart/checkout", seller, s.checkout)
		s.handle(v1, "POST", base+"/:id/cart/cancel", seller, s.cartUpdate(workflows.UpdateCancel, cancelArg))
	}
	s.onboardingPages(root)
}

type contactRequest struct {
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

type addressRequest struct {
	Line1      string `json:"line1"`
	City       string `json:"city"`
	State      string `json:"state"`
	PostalCode string `json:"postalCode"`
}

type productRequest struct {
	CatalogItemID string `json:"catalogItemId"`
	Quantity      int    `json:"quantity"`
	BillingCycle  string `json:"billingCycle"`
	TermDuration  string `json:"termDuration"`
}

type createOnboardingRequest struct {
	CompanyName        string           `json:"companyName"`
	DomainPrefix       string           `json:"domainPrefix"`
	Country            string           `json:"country"`
	Language           string           `json:"language"`
	Contact            contactRequest   `json:"contact"`
	Address            addressRequest   `json:"address"`
	RegistrationNumber string           `json:"registrationNumber"`
	ResellerID         string           `json:"resellerId"`
	SupportContact     bool             `json:"supportContact"`
	Products           []productRequest `json:"products"`
}

// onboardingRequest checks a request completely, before anything is written or started; an
// existing customer (invited) brings its own tenant, so the tenant's fields are not asked.
func (s *Server) onboardingRequest(req createOnboardingRequest, existing bool) (models.OnboardingRequest, error) {
	out := models.OnboardingRequest{SupportContact: req.SupportContact}
	out.CompanyName = strings.TrimSpace(req.CompanyName)
	if !existing && (out.CompanyName == "" || utf8.RuneCountInString(out.CompanyName) > maxCompanyName) {
		return out, Invalid("companyName", "must be the customer's legal name, 1 to %d characters", maxCompanyName)
	}
	out.Country = strings.ToUpper(strings.TrimSpace(req.Country))
	if !existing {
		out.DomainPrefix = strings.ToLower(strings.TrimSpace(req.DomainPrefix))
		if !domainPrefixPattern.MatchString(out.DomainPrefix) || strings.Contains(out.DomainPrefix, "--") {
			return out, Invalid("domainPrefix", "must be 2 to 27 lower-case letters, digits or single hyphens, such "+
				"as contosoitalia (becoming contosoitalia.onmicrosoft.com)")
		}
		if !countryPattern.MatchString(out.Country) {
			return out, Invalid("country", "must be a two-letter ISO country code such as IT")
		}
	}
	lang, err := s.requestLanguage(req.Language)
	if err != nil {
		return out, err
	}
	out.Language = lang
	c := req.Contact
	out.Contact = models.ContactInfo{
		FirstName: strings.TrimSpace(c.FirstName),
		LastName:  strings.TrimSpace(c.LastName),
		Email:     strings.ToLower(strings.TrimSpace(c.Email)),
		Phone:     strings.TrimSpace(c.Phone),
	}
	switch {
	case out.Contact.FirstName == "" || tooLong(out.Contact.FirstName, maxPersonName):
		return out, Invalid("contact.firstName", "must be 1 to %d characters", maxPersonName)
	case out.Contact.LastName == "" || tooLong(out.Contact.LastName, maxPersonName):
		return out, Invalid("contact.lastName", "must be 1 to %d characters", maxPersonName)
	case !validEmail(out.Contact.Email):
		return out, Invalid("contact.email", "must be the contact's e-mail address")
	case out.Contact.Phone != "" && !phonePattern.MatchString(out.Contact.Phone):
		return out, Invalid(
			"contact.phone",
			"must be a phone number: digits, spaces, hyphens and brackets, optionally starting with +",
		)
	}
	if !existing {
		a := req.Address
		out.Address = models.AddressInfo{
			Line1:      strings.TrimSpace(a.Line1),
			City:       strings.TrimSpace(a.City),
			State:      strings.TrimSpace(a.State),
			PostalCode: strings.ToUpper(strings.TrimSpace(a.PostalCode)),
		}
		switch {
		case out.Address.Line1 == "":
			return out, Invalid("address.line1", "the street address is required")
		case tooLong(out.Address.Line1, maxAddressLine):
			return out, Invalid("address.line1", "must be at most %d characters", maxAddressLine)
		case out.Address.City == "":
			return out, Invalid("address.city", "the city is required")
		case tooLong(out.Address.City, maxCity):
			return out, Invalid("address.city", "must be at most %d characters", maxCity)
		case out.Country == "US" && len(out.Address.State) != 2:
			return out, Invalid("address.state", "a US address needs its two-letter state code")
		case tooLong(out.Address.State, maxState):
			return out, Invalid("address.state", "must be at most %d characters", maxState)
		case out.Address.PostalCode == "":
			return out, Invalid("address.postalCode", "the postal code is required")
		case tooLong(out.Address.PostalCode, maxPostalCode):
			return out, Invalid("address.postalCode", "must be at most %d characters", maxPostalCode)
		}
		if re, ok := postalCodes[out.Country]; ok && !re.MatchString(out.Address.PostalCode) {
			return out, Invalid(
				"address.postalCode",
				"%q is not a postal code of %s",
				out.Address.PostalCode,
				out.Country,
			)
		}
		out.RegistrationNumber = strings.TrimSpace(req.RegistrationNumber)
		if slices.Contains(registrationCountries, out.Country) && out.RegistrationNumber == "" {
			return out, Invalid(
				"registrationNumber",
				"Partner Center requires the company's registration number for customers in %s",
				out.Country,
			)
		}
		if tooLong(out.RegistrationNumber, maxRegistrationNumber) {
			return out, Invalid("registrationNumber", "must be at most %d characters", maxRegistrationNumber)
		}
	}
	if tooLong(strings.TrimSpace(req.ResellerID), maxResellerID) {
		return out, Invalid("resellerId", "must be a reseller's ID, at most %d characters", maxResellerID)
	}
	products, err := parseProducts("products", req.Products)
	out.Products = products
	return out, err
}

// parseProducts validates an order's lines.
func parseProducts(field string, reqs []productRequest) ([]models.Product, error) {
	if len(reqs) == 0 || len(reqs) > maxProducts {
		return nil, Invalid(field, "order 1 to %d products", maxProducts)
	}
	var out []models.Product
	for i, r := range reqs {
		f := fmt.Sprintf("%s[%d]", field, i)
		p := models.Product{
			CatalogItemID: strings.ToUpper(strings.TrimSpace(r.CatalogItemID)),
			Quantity:      r.Quantity,
			BillingCycle:  strings.ToLower(strings.TrimSpace(r.BillingCycle)),
			TermDuration:  strings.ToUpper(strings.TrimSpace(r.TermDuration)),
		}
		switch {
		case !catalogItemPattern.MatchString(p.CatalogItemID):
			return nil, Invalid(
				f+".catalogItemId",
				"must be a catalog item ID such as CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS (product:SKU:availability)",
			)
		case p.Quantity < 1 || p.Quantity > maxQuantity:
			return nil, Invalid(f+".quantity", "must be 1 to %d", maxQuantity)
		case !slices.Contains(billingCycles, p.BillingCycle):
			return nil, Invalid(f+".billingCycle", "must be one of %s", strings.Join(billingCycles, ", "))
		case !slices.Contains(termDurations, p.TermDuration):
			return nil, Invalid(f+".termDuration", "must be P1M, P1Y or P3Y")
		}
		out = append(out, p)
	}
	return out, nil
}

// checkCatalog refuses products Partner Center does not sell in the customer's country, naming
// the line; a catalog that does not answer lets the request through (the cart will say).
func (s *Server) checkCatalog(ctx context.Context, products []models.Product, country string) error {
	if s.flows.Onboarding.Catalog == nil || country == "" {
		return nil
	}
	for i, p := range products {
		if strings.Count(p.CatalogItemID, ":") != 2 {
			continue
		}
		known, err := s.flows.Onboarding.Catalog(ctx, p.CatalogItemID, country)
		if err != nil {
			s.logger.WarnContext(
				ctx,
				"the catalog did not answer; the cart will tell",
				"catalog_item", p.CatalogItemID,
				"error", err,
			)
			return nil
		}
		if !known {
			return Invalid(
				fmt.Sprintf("products[%d].catalogItemId", i),
				"Partner Center does not sell %s in %s",
				p.CatalogItemID,
				country,
			)
		}
	}
	return nil
}

func cartArg(c *gin.Context) (any, bool) {
	var req struct {
		Products []productRequest `json:"products"`
	}
	if !bindJSON(c, &req) {
		return nil, false
	}
	products, err := parseProducts("products", req.Products)
	if err != nil {
		writeError(c, err)
		return nil, false
	}
	return workflows.CartRequest{By: callerName(c), Products: products}, true
}

// createOnboarding onboards a new customer: a new tenant, for the partner or one of its active
// indirect resellers.
func (s *Server) createOnboarding(c *gin.Context) {
	var req createOnboardingRequest
	if !bindJSON(c, &req) {
		return
	}
	row, err := s.newOnboarding(c.Request.Context(), req)
	writeOnboardingStarted(c, row, err)
}

// newOnboarding checks a new customer's onboarding as the API and the dashboard's form both take
// it, records it and starts its workflow; the error is the problem to answer with.
func (s *Server) newOnboarding(ctx context.Context, req createOnboardingRequest) (*models.Onboarding, error) {
	onb, err := s.onboardingRequest(req, false)
	if err == nil {
		err = s.checkCatalog(ctx, onb.Products, onb.Country)
	}
	if err != nil {
		return nil, err
	}
	return s.startOnboarding(ctx, onb, req.ResellerID, onb.DomainPrefix+".onmicrosoft.com", "", "")
}

// onboardInvitedCustomer onboards a customer whose invitation is accepted or active: its tenant
// exists, the rest is the same.
func (s *Server) onboardInvitedCustomer(c *gin.Context) {
	inv, ok := invitations.load(c, s)
	if !ok {
		return
	}
	if inv.CustomerTenantID == "" ||
		(inv.Status != models.InvitationActive && inv.Status != models.InvitationAccepted &&
			inv.Status != models.InvitationGranting) {
		writeProblem(c, NewProblem(
			http.StatusConflict,
			"invitation-not-accepted",
			"The customer has not accepted the invitation",
			"the invitation is "+inv.Status+
				": only a customer who accepted the reseller relationship can be onboarded this way",
		))
		return
	}
	var req createOnboardingRequest
	if !bindJSON(c, &req) {
		return
	}
	onb, err := s.onboardingRequest(req, true)
	if err != nil {
		writeError(c, err)
		return
	}
	onb.CompanyName = inv.CustomerDomain
	resellerID := req.ResellerID
	if resellerID == "" && inv.IndirectResellerID != "" {
		if r, err := s.store.ActiveReseller(
			c.Request.Context(),
			s.flows.PartnerID,
			inv.IndirectResellerID,
		); err == nil {
			resellerID = r.ID
		}
	}
	ctx := c.Request.Context()
	row, err := s.startOnboarding(ctx, onb, resellerID, inv.CustomerDomain, inv.ID, inv.CustomerTenantID)
	writeOnboardingStarted(c, row, err)
}

// startOnboarding records an onboarding and starts its workflow.
func (s *Server) startOnboarding(
	ctx context.Context,
	onb models.OnboardingRequest,
	resellerID, domain, invitationID, tenantID string,
) (*models.Onboarding, error) {
	in := workflows.OnboardingInput{
		PartnerID:        s.flows.PartnerID,
		CustomerTenantID: tenantID,
		CompanyName:      onb.CompanyName,
		Domain:           domain,
		Language:         onb.Language,
		ContactEmail:     onb.Contact.Email,
		PartnerContact:   s.flows.ContactEmail,
		Products:         onb.Products,
		SupportContact:   onb.SupportContact,
		Policy:           s.flows.Wait,
	}
	if resellerID = strings.TrimSpace(resellerID); resellerID != "" {
		r, err := resellers.find(ctx, s, resellerID)
		switch {
		case errors.Is(err, models.ErrNotFound):
			return nil, Invalid("resellerId", "no reseller with this ID")
		case err != nil:
			return nil, err
		case r.Status != models.ResellerActive:
			if _, err := s.checkIndirectReseller(ctx, "resellerId", r.TenantID); err != nil {
				return nil, err
			}
			return nil, Invalid("resellerId", "reseller %s is %s, not active", r.CompanyName, r.Status)
		}
		in.ResellerID, in.ResellerTenantID, in.ResellerMPNID = r.ID, r.TenantID, r.MPNID
	}
	raw, err := json.Marshal(onb)
	if err != nil {
		return nil, err
	}
	now := s.flows.Now().UTC()
	row := &models.Onboarding{
		ID:               newFlowID(onboardingIDPrefix),
		PartnerID:        in.PartnerID,
		InvitationID:     invitationID,
		ResellerID:       in.ResellerID,
		ResellerTenantID: in.ResellerTenantID,
		ResellerMPNID:    in.ResellerMPNID,
		CompanyName:      onb.CompanyName,
		Domain:           domain,
		Country:          onb.Country,
		Language:         onb.Language,
		ContactEmail:     onb.Contact.Email,
		CustomerTenantID: tenantID,
		Status:           models.OnboardingCreating,
		Request:          string(raw),
		CreatedAt:        now,
		UpdatedAt:        now,
		ExpiresAt:        now.Add(s.flows.Onboarding.ExpireAfter),
	}
	row.WorkflowID = workflows.OnboardingWorkflowID(row.ID)
	in.CustomerID, in.ExpiresAt = row.ID, row.ExpiresAt
	insert := func(ctx context.Context, with ...models.With) (string, error) {
		open, err := s.store.CreateOnboarding(ctx, row, with...)
		if errors.Is(err, models.ErrConflict) && open != nil {
			return "/v1/onboardings/" + open.ID, err
		}
		return "", err
	}
	attrs := flowAttributes(in.PartnerID, models.OnboardingCreating, domain, in.ResellerTenantID)
	if err := onboardings.start(ctx, s, row, row.WorkflowID, in, attrs, insert); err != nil {
		return nil, err
	}
	return row, nil
}

// writeOnboardingStarted answers a started onboarding, or the problem that refused it.
func writeOnboardingStarted(c *gin.Context, row *models.Onboarding, err error) {
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/v1/onboardings/"+row.ID)
	c.JSON(
		http.StatusCreated,
		gin.H{"id": row.ID, "status": row.Status, "workflowId": row.WorkflowID, "domain": row.Domain},
	)
}

// onboardingView is an onboarding as the API shows it.
type onboardingView struct {
	ID               string             `json:"id"`
	Status           string             `json:"status"`
	CompanyName      string             `json:"companyName"`
	Domain           string             `json:"domain"`
	Country          string             `json:"country,omitempty"`
	Language         string             `json:"language"`
	ContactEmail     string             `json:"contactEmail"`
	CustomerTenantID string             `json:"customerTenantId,omitempty"`
	InvitationID     string             `json:"invitationId,omitempty"`
	ResellerID       string             `json:"resellerId,omitempty"`
	ResellerMPNID    string             `json:"resellerMpnId,omitempty"`
	CheckoutError    string             `json:"checkoutError,omitempty"`
	FailureReason    string             `json:"failureReason,omitempty"`
	RemindersSent    int                `json:"remindersSent"`
	WorkflowID       string             `json:"workflowId"`
	CreatedAt        time.Time          `json:"createdAt"`
	UpdatedAt        time.Time          `json:"updatedAt"`
	ExpiresAt        time.Time          `json:"expiresAt"`
	Subscriptions    []subscriptionView `json:"subscriptions,omitempty"`
	timeline
	Live              bool      `json:"live"`
	AgreementAccepted *bool     `json:"agreementAccepted,omitempty"`
	Cart              *cartView `json:"cart,omitempty"`
	OrderIDs          []string  `json:"orderIds,omitempty"`
	Outcome           string    `json:"outcome,omitempty"`
}

// cartView is the cart under review as the API shows it. The workflow's CartState has no JSON
// names of its own: it is recorded in histories as it is, so the API maps it here.
type cartView struct {
	ID    string         `json:"id"`
	Lines []cartLineView `json:"lines"`
}

// cartLineView is one line of the cart, with Partner Center's refusal of it, if any.
type cartLineView struct {
	CatalogItemID string `json:"catalogItemId"`
	Name          string `json:"name,omitempty"`
	Quantity      int    `json:"quantity"`
	BillingCycle  string `json:"billingCycle"`
	TermDuration  string `json:"termDuration,omitempty"`
	PartnerID     string `json:"partnerId,omitempty"`
	ErrorCode     int    `json:"errorCode,omitempty"`
	Error         string `json:"error,omitempty"`
}

func viewCart(c workflows.CartState) *cartView {
	v := &cartView{ID: c.ID, Lines: make([]cartLineView, 0, len(c.Lines))}
	for _, l := range c.Lines {
		v.Lines = append(v.Lines, cartLineView{
			CatalogItemID: l.CatalogItemID, Name: l.Name, Quantity: l.Quantity, BillingCycle: l.BillingCycle,
			TermDuration: l.TermDuration, PartnerID: l.Reseller, ErrorCode: l.ErrorCode, Error: l.Error,
		})
	}
	return v
}

// subscriptionView is a provisioned subscription as the API shows it.
type subscriptionView struct {
	ID             string    `json:"id"`
	OrderID        string    `json:"orderId"`
	OfferID        string    `json:"offerId"`
	Name           string    `json:"name,omitempty"`
	Quantity       int       `json:"quantity"`
	Status         string    `json:"status"`
	PartnerID      string    `json:"partnerId,omitempty"`
	SupportContact string    `json:"supportContact,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
}

func viewSubscriptions(subs []models.CustomerSubscription) []subscriptionView {
	var out []subscriptionView
	for _, s := range subs {
		out = append(out, subscriptionView{
			ID: s.ID, OrderID: s.OrderID, OfferID: s.OfferID, Name: s.Name, Quantity: s.Quantity, Status: s.Status,
			PartnerID: s.PartnerID, SupportContact: s.SupportContact, CreatedAt: s.CreatedAt.UTC(),
		})
	}
	return out
}

func (s *Server) viewOnboarding(c *models.Onboarding) onboardingView {
	return onboardingView{
		ID:               c.ID,
		Status:           c.Status,
		CompanyName:      c.CompanyName,
		Domain:           c.Domain,
		Country:          c.Country,
		Language:         c.Language,
		ContactEmail:     c.ContactEmail,
		CustomerTenantID: c.CustomerTenantID,
		InvitationID:     c.InvitationID,
		ResellerID:       c.ResellerID,
		ResellerMPNID:    c.ResellerMPNID,
		CheckoutError:    c.CheckoutError,
		FailureReason:    c.FailureReason,
		RemindersSent:    c.RemindersSent,
		WorkflowID:       c.WorkflowID,
		CreatedAt:        c.CreatedAt.UTC(),
		UpdatedAt:        c.UpdatedAt.UTC(),
		ExpiresAt:        c.ExpiresAt.UTC(),
	}
}

func (s *Server) onboardingDetailView(
	ctx context.Context,
	c *models.Onboarding,
	cursor string,
	live *workflows.OnboardingState,
) (onboardingView, error) {
	v := s.viewOnboarding(c)
	if live == nil {
		if st, ok := s.onboardingLiveState(ctx, c); ok {
			live = &st
		}
	}
	var err error
	if v.timeline, err = onboardings.timeline(ctx, s, c.ID, cursor, timelinePage); err != nil {
		return v, fmt.Errorf("timeline of onboarding %s: %w", c.ID, err)
	}
	subs, err := s.store.Subscriptions(ctx, c.ID)
	if err != nil {
		return v, fmt.Errorf("subscriptions of onboarding %s: %w", c.ID, err)
	}
	v.Subscriptions = viewSubscriptions(subs)
	if live != nil {
		v.Live, v.AgreementAccepted, v.OrderIDs, v.Outcome = true, &live.AgreementAccepted, live.OrderIDs, live.Outcome
		if live.Cart.ID != "" || len(live.Cart.Lines) > 0 {
			v.Cart = viewCart(live.Cart)
		}
		if live.Status != "" {
			v.Status = live.Status
		}
		v.CheckoutError = live.CheckoutError
		v.CustomerTenantID = firstOf(live.CustomerTenantID, v.CustomerTenantID)
	}
	return v, nil
}

func (s *Server) onboardingDetail(
	ctx context.Context,
	c *models.Onboarding,
	live *workflows.OnboardingState,
) (any, error) {
	return s.onboardingDetailView(ctx, c, "", live)
}

// getCart shows the cart for review: its lines with the reseller's PartnerID and any refusal.
func (s *Server) getCart(c *gin.Context) {
	row, ok := onboardings.load(c, s)
	if !ok {
		return
	}
	st, err := s.onboardingQuery(c.Request.Context(), row)
	if err != nil {
		c.Set(ctxError, err)
		writeProblem(c, problemUnavailable("the onboarding's workflow did not answer; try again"))
		return
	}
	if st.Cart.ID == "" && len(st.Cart.Lines) == 0 {
		writeProblem(c, onboardings.problemClosed("the onboarding is "+st.Status+": there is no cart to review yet"))
		return
	}
	c.JSON(
		http.StatusOK,
		cartReview{Status: st.Status, Cart: viewCart(st.Cart), CheckoutError: st.CheckoutError, OrderIDs: st.OrderIDs},
	)
}

// cartReview is the cart under review with where its checkout stands.
type cartReview struct {
	Status        string    `json:"status"`
	Cart          *cartView `json:"cart"`
	CheckoutError string    `json:"checkoutError"`
	OrderIDs      []string  `json:"orderIds,omitempty"`
}

// checkout buys the cart under review. It is idempotent: once an order is placed, asking again
// answers with the first result instead of buying twice.
func (s *Server) checkout(c *gin.Context) {
	row, ok := onboardings.load(c, s)
	if !ok {
		return
	}
	if row.OrderIDs != "" || row.Status == models.OnboardingOrdering || row.Status == models.OnboardingProvisioning ||
		row.Status == models.OnboardingCompleted {
		v, err := s.onboardingDetailView(c.Request.Context(), row, "", nil)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
		return
	}
	s.cartUpdate(workflows.UpdateCheckout, func(c *gin.Context) (any, bool) {
		return workflows.CheckoutRequest{By: callerName(c)}, true
	})(c)
}

// purchaseOf reaches an onboarding's Purchase, the workflow that holds its cart from review on
// (onboardings started before it buy inline): its refusals answer as the onboarding's did.
func purchaseOf(workflowID string) flowAPI[models.Onboarding, workflows.PurchaseState] {
	f := flowAPI[models.Onboarding, workflows.PurchaseState]{
		desc:         onboardings.desc,
		statuses:     onboardings.statuses,
		searchColumn: onboardings.searchColumn,
		partnerOf:    onboardings.partnerOf,
		workflowOf:   func(*models.Onboarding) string { return workflowID },
	}
	f.desc.Query = workflows.QueryPurchase
	return f
}

// onboardingQuery is the onboarding's live state, with its Purchase's progress when it has one;
// a Purchase that does not answer fails it, as the onboarding's workflow would.
func (s *Server) onboardingQuery(ctx context.Context, row *models.Onboarding) (workflows.OnboardingState, error) {
	st, err := onboardings.query(ctx, s, row)
	if err != nil || st.PurchaseWorkflowID == "" {
		return st, err
	}
	p, err := purchaseOf(st.PurchaseWorkflowID).query(ctx, s, row)
	return st.WithPurchase(p), err
}

// onboardingLiveState is liveState with the Purchase's progress when the onboarding has one.
// Without the Purchase's answer the onboarding's own status is stale: the row's is shown.
func (s *Server) onboardingLiveState(ctx context.Context, row *models.Onboarding) (workflows.OnboardingState, bool) {
	st, ok := onboardings.state(ctx, s, row)
	if ok && st.PurchaseWorkflowID != "" {
		if p, ok := purchaseOf(st.PurchaseWorkflowID).liveState(ctx, s, row); ok {
			st = st.WithPurchase(p)
		} else {
			st.Status = ""
		}
	}
	return st, ok
}

// cartUpdate runs a cart, checkout or cancel update on the workflow that holds the cart: the
// onboarding's Purchase when it has one, else the onboarding.
func (s *Server) cartUpdate(name string, arg updateArg) gin.HandlerFunc {
	return func(c *gin.Context) {
		row, ok := onboardings.load(c, s)
		if !ok {
			return
		}
		a, ok := arg(c)
		if !ok {
			return
		}
		st, err := s.updateCart(c, row, name, a)
		if err != nil {
			writeError(c, err)
			return
		}
		if fresh, err := models.Find[models.Onboarding](c.Request.Context(), s.store, row.ID); err == nil {
			row = fresh
		}
		v, err := s.onboardingDetail(c.Request.Context(), row, st)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	}
}

// updateCart sends a cart update (edit, checkout, cancel) to the workflow that holds the cart:
// the onboarding's Purchase from review on, the onboarding itself for one that buys inline.
func (s *Server) updateCart(c *gin.Context, row *models.Onboarding, name string, a any) (
	*workflows.OnboardingState, error,
) {
	live, ok := onboardings.state(c.Request.Context(), s, row)
	if !ok || live.PurchaseWorkflowID == "" {
		return onboardings.update(c, s, row, name, a, "")
	}
	p, err := purchaseOf(live.PurchaseWorkflowID).update(c, s, row, name, a, "")
	if err != nil {
		return nil, err
	}
	merged := live.WithPurchase(*p)
	return &merged, nil
}

// cartAction is a dashboard form on the onboarding's page that sends a cart update, then shows
// the page again: redirected with the outcome, or with the refusal.
func (s *Server) cartAction(name, done string, arg func(c *gin.Context) (any, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		row, ok := dashboardLoad(c, s, onboardings)
		if !ok || !s.checkCSRF(c) {
			return
		}
		a, err := arg(c)
		if err == nil {
			_, err = s.updateCart(c, row, name, a)
		}
		if err != nil {
			p := answer(c, err)
			s.renderOnboardingPage(c, p.Status, row, p.Detail)
			return
		}
		c.Redirect(http.StatusSeeOther, "/customers/"+row.ID+"?done="+done)
	}
}

// revealCredentials shows a new tenant's first admin credentials exactly once.
func (s *Server) revealCredentials(c *gin.Context) {
	row, ok := onboardings.load(c, s)
	if !ok {
		return
	}
	creds, password, err := s.reveal(c.Request.Context(), row, callerName(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
		"userName":   creds.UserName,
		"password":   password,
		"revealedBy": creds.RevealedBy,
		"revealedAt": creds.RevealedAt,
	})
}

// reveal opens an onboarding's first admin credentials for by, exactly once (the API's reveal
// and the dashboard's); the error is the problem that says why not.
func (s *Server) reveal(
	ctx context.Context, row *models.Onboarding, by string,
) (*models.CustomerCredentials, string, error) {
	creds, err := s.store.RevealCredentials(ctx, row.ID, by, s.flows.Now())
	if err != nil {
		return nil, "", credentialsProblem(creds, err)
	}
	sealed, err := base64.StdEncoding.DecodeString(creds.PasswordCiphertext)
	if err != nil {
		return nil, "", fmt.Errorf("decode the credentials of %s", row.ID)
	}
	password, err := s.credentials.Open(row.ID, sealed)
	if err != nil {
		return nil, "", errors.New("the credentials could not be decrypted: was the signing key changed?")
	}
	return creds, password, nil
}

// credentialsProblem says why credentials cannot be revealed: none held, revealed before, or
// lapsed unrevealed; other errors come back as they are.
func credentialsProblem(creds *models.CustomerCredentials, err error) error {
	switch {
	case errors.Is(err, models.ErrNotFound):
		return NewProblem(http.StatusNotFound, "no-credentials", "No credentials",
			"partnerflow holds no credentials for this customer: its tenant existed already, or is not created yet")
	case errors.Is(err, models.ErrAlreadyRevealed) && creds.RevealedBy == models.RevealLapsedBy:
		return NewProblem(http.StatusConflict, "credentials-lapsed", "The credentials were deleted unrevealed",
			fmt.Sprintf(
				"nobody asked for them within %d days, so partnerflow deleted them on %s — reset the admin's "+
					"password in the Microsoft 365 admin center",
				int(models.CredentialsRevealWindow.Hours()/24),
				creds.RevealedAt.UTC().Format(time.RFC3339),
			))
	case errors.Is(err, models.ErrAlreadyRevealed):
		return NewProblem(http.StatusConflict, "credentials-revealed", "The credentials were revealed already",
			fmt.Sprintf(
				"revealed by %s on %s; they are shown only once — reset the admin's password in the Microsoft 365 "+
					"admin center if they were lost",
				creds.RevealedBy,
				creds.RevealedAt.UTC().Format(time.RFC3339),
			))
	}
	return err
}

type attestRequest struct {
	PrimaryContact contactRequest `json:"primaryContact"`
	DateAgreed     string         `json:"dateAgreed"`
}

// attestAgreement records the partner's attestation that the customer accepted the Microsoft
// Customer Agreement. Resellers cannot attest for themselves: on an onboarding for a reseller,
// the provider's attestation is recorded as made on the reseller's behalf.
func (s *Server) attestAgreement(c *gin.Context) {
	row, ok := onboardings.load(c, s)
	if !ok {
		return
	}
	var req attestRequest
	if !bindJSON(c, &req) {
		return
	}
	ev, by, err := s.attestation(c, row, req)
	if err != nil {
		writeError(c, err)
		return
	}
	s.recordAgreement(c, row, ev, by)
}

// attestation checks a partner's attestation as the API and the dashboard's form both take it
// and returns the evidence to keep and who attested, for the timeline.
func (s *Server) attestation(
	c *gin.Context, row *models.Onboarding, req attestRequest,
) (*models.AgreementEvidence, string, error) {
	pc := req.PrimaryContact
	first, last, email := strings.TrimSpace(pc.FirstName), strings.TrimSpace(pc.LastName),
		strings.ToLower(strings.TrimSpace(pc.Email))
	switch {
	case tooLong(first, maxPersonName):
		return nil, "", Invalid("primaryContact.firstName", "must be at most %d characters", maxPersonName)
	case tooLong(last, maxPersonName):
		return nil, "", Invalid("primaryContact.lastName", "must be at most %d characters", maxPersonName)
	case first == "":
		return nil, "", Invalid("primaryContact.firstName", "the first name of who accepted is required")
	case last == "":
		return nil, "", Invalid("primaryContact.lastName", "the last name of who accepted is required")
	case !validEmail(email):
		return nil, "", Invalid("primaryContact.email", "must be the e-mail address of who accepted")
	}
	agreed, err := time.Parse(time.RFC3339, strings.TrimSpace(req.DateAgreed))
	if err != nil {
		if d, derr := time.Parse("2006-01-02", strings.TrimSpace(req.DateAgreed)); derr == nil {
			agreed, err = d, nil
		}
	}
	now := s.flows.Now().UTC()
	switch {
	case err != nil:
		return nil, "", Invalid("dateAgreed", "must be a date (2026-01-31) or an RFC 3339 time")
	case agreed.After(now):
		return nil, "", Invalid("dateAgreed", "must not be in the future")
	}
	ev := &models.AgreementEvidence{
		CustomerID: row.ID,
		Method:     models.AgreementByPartner,
		FirstName:  first,
		LastName:   last,
		Email:      email,
		DateAgreed: agreed.UTC(),
		RecordedAt: now,
		ClientIP:   c.ClientIP(),
		UserAgent:  truncate(c.Request.UserAgent(), maxUserAgent),
	}
	if key := callerKey(c); key != nil {
		ev.APIKeyID = key.ID
	}
	if row.ResellerID != "" {
		if r, err := models.Find[models.Reseller](c.Request.Context(), s.store, row.ResellerID); err == nil {
			ev.AttestedOnBehalf = r.CompanyName
		}
	}
	return ev, "attested by " + callerName(c) + " for " + first + " " + last, nil
}

// recordAgreement keeps the evidence, with its timeline step and the command that tells the
// workflow, in one transaction, then tells the workflow. Evidence the workflow refuses (the
// onboarding no longer waits) is removed again, so nothing is half-written; a workflow that
// does not answer is told by the dispatcher, so nothing stalls.
func (s *Server) recordAgreement(c *gin.Context, row *models.Onboarding, ev *models.AgreementEvidence, by string) bool {
	ctx := c.Request.Context()
	notice := workflows.AgreementNotice{Method: ev.Method, By: by}
	cmd, err := newUpdateCommand(models.KindOnboarding, row.ID, row.WorkflowID, workflows.UpdateAgreement, notice)
	if err != nil {
		writeError(c, err)
		return false
	}
	step := models.FlowStep{FlowKind: models.KindOnboarding, FlowID: row.ID, Name: "agreement-accepted",
		Detail:         ev.Method + ": " + ev.FirstName + " " + ev.LastName + " <" + ev.Email + "> from " + ev.ClientIP,
		IdempotencyKey: models.EvidenceStepKey(row.ID), At: ev.RecordedAt}
	if err := s.store.SaveEvidence(
		ctx,
		ev,
		models.WithCommand(cmd),
		models.WithStep(step),
	); errors.Is(err, models.ErrConflict) {
		// A retry after a lost answer lands here: the workflow hears of the evidence now.
		if pending, err := models.FindBy[models.FlowCommand](
			ctx,
			s.store,
			"flow_kind = ? AND flow_id = ? AND command = ?",
			models.KindOnboarding,
			row.ID,
			models.CommandUpdate,
		); err == nil {
			_ = s.kick(ctx, pending)
		}
		writeProblem(c, onboardings.problemClosed("the customer's acceptance of the agreement is on record already"))
		return false
	} else if err != nil {
		writeError(c, err)
		return false
	}
	failpoint.Hit(failpoint.AttestAfterEvidence, models.KindOnboarding)
	st, err := onboardings.update(c, s, row, workflows.UpdateAgreement, notice, updateID(cmd))
	store := context.WithoutCancel(ctx)
	refused := problemFor(err)
	switch {
	case refused != nil && refused.Status == http.StatusConflict:
		if err := s.store.DropEvidence(store, row.ID); err != nil {
			s.logger.ErrorContext(ctx, "remove refused agreement evidence", "customer_id", row.ID, "error", err)
		}
		writeError(c, err)
		return false
	case err != nil: // recorded; the dispatcher tells the workflow when it answers
		reason := err.Error()
		if refused != nil {
			reason = refused.Detail
		}
		if err := s.store.RetryCommand(store, cmd.ID, reason, time.Now()); err != nil {
			s.logger.ErrorContext(ctx, "release the agreement notice", "customer_id", row.ID, "error", err)
		}
	default:
		if err := s.store.DoneCommand(store, cmd.ID); err != nil {
			s.logger.WarnContext(
				ctx,
				"agreement notice delivered but still on record",
				"customer_id", row.ID,
				"error", err,
			)
		}
	}
	if wantsJSON(c) || c.ContentType() == "application/json" {
		v, err := s.onboardingDetailView(ctx, row, "", st)
		if err != nil {
			writeError(c, err)
			return false
		}
		c.JSON(http.StatusOK, v)
	}
	return true
}

// evidenceView is the exportable evidence of the customer's acceptance.
type evidenceView struct {
	CustomerID          string     `json:"customerId"`
	CompanyName         string     `json:"companyName"`
	CustomerTenantID    string     `json:"customerTenantId,omitempty"`
	Method              string     `json:"method"`
	FirstName           string     `json:"firstName"`
	LastName            string     `json:"lastName"`
	Email               string     `json:"email"`
	DateAgreed          time.Time  `json:"dateAgreed"`
	RecordedAt          time.Time  `json:"recordedAt"`
	ClientIP            string     `json:"clientIp"`
	UserAgent           string     `json:"userAgent,omitempty"`
	APIKeyID            string     `json:"apiKeyId,omitempty"`
	AttestedOnBehalf    string     `json:"attestedOnBehalfOf,omitempty"`
	TemplateID          string     `json:"templateId,omitempty"`
	AgreementLink       string     `json:"agreementLink,omitempty"`
	SentAt              *time.Time `json:"sentToPartnerCenterAt,omitempty"`
	PartnerCenterResult string     `json:"partnerCenterResult,omitempty"`
	Steps               []stepView `json:"steps"`
}

// agreementEvidence exports the proof of acceptance: JSON, or a printable page with
// ?format=html (or Accept: text/html).
func (s *Server) agreementEvidence(c *gin.Context) {
	row, ok := onboardings.load(c, s)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ev, err := models.FindBy[models.AgreementEvidence](ctx, s.store, "customer_id = ?", row.ID)
	if errors.Is(err, models.ErrNotFound) {
		writeProblem(c, NewProblem(
			http.StatusNotFound,
			"no-evidence",
			"No evidence yet",
			"the customer's acceptance of the agreement is not on record yet",
		))
		return
	}
	if err != nil {
		writeError(c, err)
		return
	}
	tl, err := onboardings.timeline(ctx, s, row.ID, "", models.MaxStepPage)
	if err != nil {
		writeError(c, err)
		return
	}
	v := evidenceView{
		CustomerID:          row.ID,
		CompanyName:         row.CompanyName,
		CustomerTenantID:    row.CustomerTenantID,
		Method:              ev.Method,
		FirstName:           ev.FirstName,
		LastName:            ev.LastName,
		Email:               ev.Email,
		DateAgreed:          ev.DateAgreed.UTC(),
		RecordedAt:          ev.RecordedAt.UTC(),
		ClientIP:            ev.ClientIP,
		UserAgent:           ev.UserAgent,
		APIKeyID:            ev.APIKeyID,
		AttestedOnBehalf:    ev.AttestedOnBehalf,
		TemplateID:          ev.TemplateID,
		AgreementLink:       ev.AgreementLink,
		SentAt:              ev.SentAt,
		PartnerCenterResult: ev.PartnerCenterResult,
		Steps:               tl.Steps,
	}
	if c.Query("format") != "html" && !strings.Contains(c.GetHeader("Accept"), "text/html") {
		c.JSON(http.StatusOK, v)
		return
	}
	s.renderPage(c, http.StatusOK, "evidence", s.evidencePage(c, v))
}

// agreementLink is the customer's link to the agreement page.
var agreementLink = customerLink{purpose: links.PurposeAgreement, instance: "/agreement", catalog: "agreement.link"}

// agreementPage is the customer's page to accept the Microsoft Customer Agreement.
type agreementPage struct {
	pageFrame
	PartnerName      string
	ResellerName     string
	CompanyName      string
	AgreementLink    string
	AgreementVersion string
	Status           string
	StatusText       string
	FirstName        string
	LastName         string
	Email            string
	Error            string
	Accepted         bool
	AcceptedBy       string
	AcceptedAt       string
}

func (s *Server) agreementPageOf(c *gin.Context, row *models.Onboarding) agreementPage {
	// The customer's language as the partner gave it comes before the browser's.
	lang, ok := notify.ParseLanguage(c.Query("lang"))
	if !ok {
		lang = notify.PickLanguage(row.Language, c.GetHeader("Accept-Language"), s.flows.DefaultLanguage)
	}
	frame := s.customerPageFrame(c, lang)
	frame.Title = translate(lang, "agreement.title", row.CompanyName)
	page := agreementPage{
		pageFrame:        frame,
		PartnerName:      s.localPartnerName(lang),
		CompanyName:      row.CompanyName,
		AgreementLink:    s.flows.Onboarding.AgreementLink,
		AgreementVersion: s.flows.Onboarding.AgreementVersion,
		Status:           "awaiting",
	}
	if row.ResellerID != "" {
		if r, err := models.Find[models.Reseller](c.Request.Context(), s.store, row.ResellerID); err == nil {
			page.ResellerName = r.CompanyName
		}
	}
	if ev, err := models.FindBy[models.AgreementEvidence](
		c.Request.Context(),
		s.store,
		"customer_id = ?",
		row.ID,
	); err == nil {
		page.Status, page.Accepted = "accepted", true
		page.AcceptedBy, page.AcceptedAt = ev.FirstName+" "+ev.LastName, notify.FormatDate(lang, ev.RecordedAt)
	} else if !models.OnboardingOpen(row.Status) {
		page.Status = "closed"
	}
	page.StatusText = translate(lang, "agreement.status."+page.Status)
	return page
}

// showAgreementPage renders the agreement page and records that it was opened.
func (s *Server) showAgreementPage(c *gin.Context) {
	row, ok := rowFromLink(s, c, onboardings, agreementLink, wantsJSON(c))
	if !ok {
		return
	}
	now := s.flows.Now().UTC()
	key := openedStepKey(c, row.ID, "agreement-opened", now)
	if err := s.recordLinkStep(c, models.KindOnboarding, row.ID, "agreement-opened",
		"ip="+c.ClientIP()+" ua="+truncate(c.Request.UserAgent(), maxUserAgent), key, now, maxOpenedSteps); err != nil {
		s.logger.ErrorContext(
			c.Request.Context(),
			"record that an agreement page was opened",
			"customer_id", row.ID,
			"error", err,
		)
	}
	s.renderPage(c, http.StatusOK, "agreement", s.agreementPageOf(c, row))
}

// signAgreement records the customer's acceptance from the agreement page as evidence: who,
// when, from which address and browser, which agreement.
func (s *Server) signAgreement(c *gin.Context) {
	row, ok := rowFromLink(s, c, onboardings, agreementLink, wantsJSON(c))
	if !ok {
		return
	}
	page := s.agreementPageOf(c, row)
	if page.Status != "awaiting" {
		s.renderPage(c, http.StatusConflict, "agreement", page)
		return
	}
	page.FirstName, page.LastName = strings.TrimSpace(c.PostForm("firstName")),
		strings.TrimSpace(c.PostForm("lastName"))
	page.Email = strings.ToLower(strings.TrimSpace(c.PostForm("email")))
	switch {
	case page.FirstName == "" || page.LastName == "" || utf8.RuneCountInString(page.FirstName+page.LastName) > 200:
		page.Error = "agreement.error.name"
	case !validEmail(page.Email):
		page.Error = "agreement.error.email"
	case c.PostForm("accept") != "yes":
		page.Error = "agreement.error.accept"
	}
	if page.Error != "" {
		s.renderPage(c, http.StatusBadRequest, "agreement", page)
		return
	}
	now := s.flows.Now().UTC()
	ev := &models.AgreementEvidence{
		CustomerID:    row.ID,
		Method:        models.AgreementByCustomer,
		FirstName:     page.FirstName,
		LastName:      page.LastName,
		Email:         page.Email,
		DateAgreed:    now,
		RecordedAt:    now,
		ClientIP:      c.ClientIP(),
		UserAgent:     truncate(c.Request.UserAgent(), maxUserAgent),
		TemplateID:    s.flows.Onboarding.AgreementVersion,
		AgreementLink: s.flows.Onboarding.AgreementLink,
	}
	if !s.recordAgreement(c, row, ev, "signed by "+page.FirstName+" "+page.LastName) {
		return
	}
	c.Redirect(http.StatusSeeOther, c.Request.URL.RequestURI())
}

// evidencePage is the printable evidence record.
type evidencePage struct {
	pageFrame
	evidenceView
	MethodText string
	Timeline   []stepRow
	DateText   string
}

func (s *Server) evidencePage(c *gin.Context, v evidenceView) evidencePage {
	frame := s.dashboardFrame(c, "Agreement evidence · "+v.CompanyName)
	p := evidencePage{pageFrame: frame, evidenceView: v, MethodText: translate("en", "evidence.method."+v.Method)}
	for _, st := range v.Steps {
		p.Timeline = append(p.Timeline, stepRow{Name: st.Name, Detail: st.Detail, At: st.At.Format(stepTimeLayout)})
	}
	return p
}

// onboardingPages registers the onboarding flow's dashboard pages.
// onboardingNotices are the outcomes the onboarding page's forms report.
var onboardingNotices = map[string]string{
	"created": "The onboarding has started: partnerflow creates the customer's tenant in Partner Center, then " +
		"mails its contact the Microsoft Customer Agreement.",
	"attested":       "The attestation is on record; the onboarding goes on to the order.",
	"checked-out":    "The cart is checked out: Partner Center places the order and provisions it.",
	"cart-cancelled": "The cart is cancelled; nothing was bought.",
}

func (s *Server) onboardingPages(root *gin.RouterGroup) {
	s.agreementFormRoutes(root)
	s.onboardingFormRoutes(root)
	s.credentialsFormRoutes(root)
	s.handle(root, "GET", "/customers", sessionRule(), dashboardList(s, onboardings, listPage{
		Heading: "Customer onboardings", Path: "/customers", TableID: "customers", Empty: "No customers",
		Columns: []string{"Customer", "Status", "Reseller", "Created"}, SearchLabel: "Domain",
		New:      &action{Path: newOnboardingPath, ID: "new-customer", Label: "New customer"},
		NewRoles: agentRoles,
	}, func(cu *models.Onboarding, now time.Time) listRow {
		return listRow{
			ID:     cu.ID,
			Link:   "/customers/" + cu.ID,
			Title:  cu.Domain,
			Status: cu.Status,
			Cells:  []string{firstOf(cu.ResellerMPNID, "—"), agoText(now, cu.CreatedAt)},
		}
	}))
	s.handle(root, "GET", "/customers/:id", sessionRule(), func(c *gin.Context) {
		if row, ok := dashboardLoad(c, s, onboardings); ok {
			s.renderOnboardingPage(c, http.StatusOK, row, dashboardNotice(onboardingNotices, c))
		}
	})
	cart := sessionRule(agentRoles...)
	s.handle(root, "POST", "/customers/:id/cart/checkout", cart, s.cartAction(workflows.UpdateCheckout, "checked-out",
		func(c *gin.Context) (any, error) { return workflows.CheckoutRequest{By: callerName(c)}, nil }))
	s.handle(root, "POST", "/customers/:id/cart/cancel", cart, s.cartAction(workflows.UpdateCancel, "cart-cancelled",
		func(c *gin.Context) (any, error) { return cancelRequest(callerName(c), c.PostForm("reason")) }))
}

// renderOnboardingPage shows one onboarding on the shared detail page, with the forms its
// status takes: the attestation while it awaits the agreement, checkout and cancel at review.
func (s *Server) renderOnboardingPage(c *gin.Context, status int, row *models.Onboarding, notice string) {
	v, err := s.onboardingDetailView(c.Request.Context(), row, c.Query("steps"), nil)
	if err != nil {
		writeError(c, err)
		return
	}
	now := s.flows.Now()
	frame := s.dashboardFrame(c, row.Domain)
	frame.Nav = models.KindOnboarding + "s"
	page := detailPage{
		pageFrame: frame,
		BackURL:   "/customers",
		BackLabel: "Customers",
		Heading:   v.Domain,
		Status:    v.Status,
		Live:      v.Live,
		Starting:  v.startingText(),
		Notice:    dashboardNotice(onboardingNotices, c),
	}
	page.CSRF = s.csrfToken(c)
	switch agent := holdsRole(c, agentRoles...); {
	case agent && row.Status == models.OnboardingAwaitingAgreement:
		page.Actions = append(page.Actions, action{
			Path: "/customers/" + row.ID + "/agreement", ID: "attest-agreement",
			Label: "Attest the customer's acceptance of the agreement…", Link: true,
		})
	case agent && row.Status == models.OnboardingReview:
		page.Actions = append(page.Actions,
			action{Path: "/customers/" + row.ID + "/cart/checkout", ID: "checkout",
				Label: "Check out the cart (Partner Center places the order)", Danger: true},
			action{Path: "/customers/" + row.ID + "/cart/cancel", ID: "cancel-cart",
				Label: "Cancel the cart (nothing is bought)", Danger: true, Reason: true},
		)
	}
	if holdsRole(c, agentRoles...) {
		// The new tenant's first admin password, while it waits for its one reveal.
		creds, err := s.store.Credentials(c.Request.Context(), row.ID)
		if err == nil && creds.RevealedAt == nil {
			page.Actions = append(page.Actions, action{
				Path: "/customers/" + row.ID + "/credentials", ID: "reveal-credentials",
				Label: "Reveal the first admin's credentials (shown once)…", Link: true,
			})
		}
	}
	page.Facts = []fact{
		{Label: "Company", Value: v.CompanyName},
		{Label: "Contact", Value: v.ContactEmail},
		{Label: "Language", Value: v.Language},
	}
	if v.CustomerTenantID != "" {
		page.Facts = append(page.Facts, fact{Label: "Tenant", Value: v.CustomerTenantID, Code: true})
	}
	if v.ResellerMPNID != "" {
		page.Facts = append(page.Facts, fact{
			Label:    "Reseller's PartnerID",
			ID:       "reseller-mpn",
			Value:    v.ResellerMPNID,
			Link:     "/resellers/" + v.ResellerID,
			LinkID:   "reseller-link",
			LinkText: "partnership",
		})
	}
	if v.CheckoutError != "" {
		page.Facts = append(
			page.Facts,
			fact{Label: "Checkout", ID: "checkout-error", Value: v.CheckoutError, Err: true},
		)
	}
	if v.FailureReason != "" {
		page.Facts = append(page.Facts, fact{Label: "Failure", Value: v.FailureReason, Err: true})
	}
	page.Facts = append(page.Facts, createdFact(now, v.CreatedAt), s.workflowFact(v.WorkflowID))
	if v.AgreementAccepted != nil {
		page.LiveFacts = append(
			page.LiveFacts,
			fact{Label: "Customer agreement", ID: "agreement", Value: consentText(v.AgreementAccepted, "accepted")},
		)
	}
	if v.Cart != nil {
		for _, l := range v.Cart.Lines {
			f := fact{
				Label: "Cart: " + firstOf(l.Name, l.CatalogItemID),
				Value: fmt.Sprintf("%d × %s %s", l.Quantity, l.BillingCycle, l.TermDuration),
			}
			if l.PartnerID != "" {
				f.Note = "via PartnerID " + l.PartnerID
			}
			if l.Error != "" {
				f.Value, f.Err = l.Error, true
			}
			page.LiveFacts = append(page.LiveFacts, f)
		}
	}
	for _, sub := range v.Subscriptions {
		page.Facts = append(page.Facts, fact{
			Label: "Subscription",
			Value: fmt.Sprintf("%d × %s", sub.Quantity, firstOf(sub.Name, sub.OfferID)),
			Note:  "(" + sub.Status + ", PartnerID " + firstOf(sub.PartnerID, "—") + ")",
		})
	}
	page.withTimeline("/customers/"+row.ID, v.timeline)
	s.renderPage(c, status, "detail", page)
}
