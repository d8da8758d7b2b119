package activities

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// RecordCustomer writes a step of a customer onboarding to the app database; idempotent by the
// change's StepKey.
func (a *Activities) RecordCustomer(ctx context.Context, customerID string, ch models.OnboardingChange) error {
	return record(ctx, a.cfg.Store, models.KindOnboarding, customerID, ch)
}

// onboarding loads an onboarding and its request.
func (a *Activities) onboarding(
	ctx context.Context,
	customerID string,
) (*models.Onboarding, models.OnboardingRequest, error) {
	var req models.OnboardingRequest
	c, err := models.Find[models.Onboarding](ctx, a.cfg.Store, customerID)
	if err != nil {
		return nil, req, fmt.Errorf("load onboarding %s: %w", customerID, err)
	}
	if err := json.Unmarshal([]byte(c.Request), &req); err != nil {
		return nil, req, temporal.NewNonRetryableApplicationError(
			"the onboarding's request is unreadable",
			"BadRequest",
			err,
		)
	}
	return c, req, nil
}

// CreateTenant creates the customer's tenant once: the call carries a request ID derived from the
// onboarding, so a retry after a lost answer gets the first tenant, never a second. The first
// admin's password is encrypted and stored here; it never reaches the workflow, its history,
// the logs or an error.
func (a *Activities) CreateTenant(ctx context.Context, customerID string) (TenantResult, error) {
	c, req, err := a.onboarding(ctx, customerID)
	if err != nil {
		return TenantResult{}, err
	}
	culture := req.Language + "-" + strings.ToUpper(req.Country)
	created, err := a.cfg.PartnerCenter.CreateCustomer(
		partnercenter.WithRequestID(ctx, customerID+"/create"),
		partnercenter.NewCustomer{
			CompanyProfile: partnercenter.CompanyProfile{Domain: req.DomainPrefix + ".onmicrosoft.com"},
			BillingProfile: partnercenter.BillingProfile{
				FirstName:   req.Contact.FirstName,
				LastName:    req.Contact.LastName,
				Email:       req.Contact.Email,
				Culture:     culture,
				Language:    req.Language,
				CompanyName: req.CompanyName,
				DefaultAddress: partnercenter.Address{
					Country:      req.Country,
					City:         req.Address.City,
					State:        req.Address.State,
					AddressLine1: req.Address.Line1,
					PostalCode:   req.Address.PostalCode,
					FirstName:    req.Contact.FirstName,
					LastName:     req.Contact.LastName,
					PhoneNumber:  req.Contact.Phone,
				},
			},
			AssociatedPartnerID: c.ResellerTenantID,
		},
	)
	if err != nil {
		return TenantResult{}, a.serviceError(ctx, "create the customer "+req.CompanyName, err)
	}
	if creds := created.UserCredentials; creds != nil && creds.Password != "" {
		err := a.cfg.Store.SaveCredentials(ctx, &models.CustomerCredentials{
			CustomerID:         customerID,
			UserName:           creds.UserName,
			PasswordCiphertext: base64.StdEncoding.EncodeToString(a.cfg.Credentials.Seal(customerID, creds.Password)),
		})
		if err != nil {
			return TenantResult{}, fmt.Errorf("store the credentials of %s: %w", customerID, err)
		}
	}
	return TenantResult{TenantID: created.ID, Domain: created.CompanyProfile.Domain}, nil
}

// SendCustomerMail asks the customer's contact to accept the agreement (or reminds the partner's
// contact), in the customer's language, once per key. The signed agreement link is derived here.
func (a *Activities) SendCustomerMail(ctx context.Context, m CustomerMail) error {
	c, req, err := a.onboarding(ctx, m.CustomerID)
	if err != nil {
		return err
	}
	lang := req.Language
	if m.Kind == MailAgreementEscalation {
		lang = a.cfg.DefaultLanguage
	}
	reseller := ""
	if c.ResellerID != "" {
		if r, err := models.Find[models.Reseller](ctx, a.cfg.Store, c.ResellerID); err == nil {
			reseller = r.CompanyName
		}
	}
	msg, err := notify.Render(m.Kind, lang, notify.AgreementMail{
		PartnerName: a.partnerName(ctx), ResellerName: reseller, CompanyName: c.CompanyName,
		ContactName: strings.TrimSpace(req.Contact.FirstName + " " + req.Contact.LastName),
		Link:        a.cfg.Signer.AgreementURL(a.cfg.BaseURL, c.ID, m.ExpiresAt), AgreementLink: a.agreementLink(ctx),
		ExpiresAt: m.ExpiresAt, Seq: m.Seq,
	})
	if err != nil {
		return err
	}
	return a.deliver(ctx, m.CustomerID+"/"+m.Kind+"/"+strconv.Itoa(m.Seq), m.To, msg)
}

// agreementLink is the Microsoft Customer Agreement's current text, as Partner Center names it.
func (a *Activities) agreementLink(ctx context.Context) string {
	if t, err := a.cfg.PartnerCenter.GetMCATemplate(ctx); err == nil && t.AgreementLink != "" {
		return t.AgreementLink
	}
	return MCALink
}

// MCALink is the Microsoft Customer Agreement's public page.
const MCALink = "https://www.microsoft.com/licensing/docs/customeragreement"

// CheckAgreement reports whether Partner Center already holds the customer's MCA acceptance
// (attested outside partnerflow).
func (a *Activities) CheckAgreement(ctx context.Context, customerID string) (bool, error) {
	c, _, err := a.onboarding(ctx, customerID)
	if err != nil || c.CustomerTenantID == "" {
		return false, err
	}
	list, err := a.cfg.PartnerCenter.ListCustomerAgreements(ctx, c.CustomerTenantID)
	if err != nil {
		return false, a.serviceError(ctx, "list the customer's agreements", err)
	}
	return slices.ContainsFunc(
		list,
		func(ag partnercenter.CustomerAgreement) bool { return ag.Type == partnercenter.AgreementTypeMCA },
	), nil
}

// AttestAgreement sends the recorded proof of acceptance to Partner Center, once: an agreement
// Partner Center already holds (600061) counts as done. What Partner Center answered is kept
// with the evidence.
func (a *Activities) AttestAgreement(ctx context.Context, customerID string) (string, error) {
	c, _, err := a.onboarding(ctx, customerID)
	if err != nil {
		return "", err
	}
	ev, err := models.FindBy[models.AgreementEvidence](ctx, a.cfg.Store, "customer_id = ?", customerID)
	if errors.Is(err, models.ErrNotFound) {
		return "already on record at Partner Center", nil
	}
	if err != nil {
		return "", fmt.Errorf("load the agreement evidence of %s: %w", customerID, err)
	}
	pc := a.cfg.PartnerCenter
	tmpl, err := pc.GetMCATemplate(ctx)
	if err != nil {
		return "", a.serviceError(ctx, "read the agreement template", err)
	}
	result := "attested"
	_, err = pc.CreateCustomerAgreement(
		partnercenter.WithRequestID(ctx, customerID+"/agreement"),
		c.CustomerTenantID,
		partnercenter.CustomerAgreement{
			PrimaryContact: partnercenter.Contact{FirstName: ev.FirstName, LastName: ev.LastName, Email: ev.Email},
			TemplateID:     tmpl.TemplateID,
			DateAgreed:     partnercenter.Time{Time: ev.DateAgreed},
			Type:           partnercenter.AgreementTypeMCA,
		},
	)
	var pcErr *partnercenter.Error
	switch {
	case errors.As(err, &pcErr) && pcErr.Code == partnercenter.CodeAgreementAlreadyExists:
		result = "already accepted (600061)"
	case err != nil:
		return "", a.serviceError(ctx, "attest the customer's agreement", err)
	}
	if err := a.cfg.Store.MarkEvidenceSent(
		ctx,
		customerID,
		tmpl.TemplateID,
		tmpl.AgreementLink,
		result,
		time.Now(),
	); err != nil {
		return "", fmt.Errorf("record the attestation of %s: %w", customerID, err)
	}
	return result, nil
}

// orderRefusals are the line-item and order errors a partner fixes by changing the cart, with
// what they mean in plain words.
var orderRefusals = map[int]string{
	10001:  "an item is not in the catalog",
	10002:  "a quantity is not allowed for the item",
	10012:  "the item cannot be bought for this customer",
	13605:  "the item cannot be bought in the customer's market",
	800015: "the reseller's PartnerID is not valid for this purchase",
	800016: "the reseller is not an indirect reseller of yours",
	900123: "the reseller has not signed the Microsoft Partner Agreement",
}

// BuildCart makes the cart of an onboarding's products, as BuildPurchaseCart does, for
// onboardings started before their purchase was a workflow of its own.
func (a *Activities) BuildCart(ctx context.Context, in BuildCartInput) (CartState, error) {
	c, _, err := a.onboarding(ctx, in.CustomerID)
	if err != nil {
		return CartState{}, err
	}
	return a.BuildPurchaseCart(ctx, PurchaseCartInput{
		RequestID:        in.CustomerID,
		PartnerID:        c.PartnerID,
		CustomerTenantID: c.CustomerTenantID,
		Reseller:         resellerOf(c),
		Products:         in.Products,
		Round:            in.Round,
	})
}

// resellerOf is the reseller an onboarding buys through.
func resellerOf(c *models.Onboarding) PurchaseReseller {
	return PurchaseReseller{ID: c.ResellerID, TenantID: c.ResellerTenantID, MPNID: c.ResellerMPNID}
}

// cartOf is the workflow's view of a cart; a refused cart carries the refusal on every line.
func cartOf(cart partnercenter.Cart, refusal *partnercenter.Error) CartState {
	out := CartState{ID: cart.ID}
	for _, l := range cart.LineItems {
		line := CartLine{
			CatalogItemID: l.CatalogItemID,
			Name:          l.FriendlyName,
			Quantity:      l.Quantity,
			BillingCycle:  l.BillingCycle,
			TermDuration:  l.TermDuration,
		}
		for _, p := range l.Participants {
			if p.Key == partnercenter.ParticipantTransactionReseller {
				line.Reseller = p.Value
			}
		}
		switch {
		case l.Error != nil:
			line.ErrorCode, line.Error = l.Error.ErrorCode, refusalText(l.Error.ErrorCode, l.Error.ErrorDescription)
		case refusal != nil:
			line.ErrorCode, line.Error = refusal.Code, refusalText(refusal.Code, refusal.Error())
		}
		out.Lines = append(out.Lines, line)
	}
	return out
}

func refusalText(code int, fallback string) string {
	if text, ok := orderRefusals[code]; ok {
		return fmt.Sprintf("%s (%d)", text, code)
	}
	return fallback
}

// Checkout buys an onboarding's cart, as CheckoutPurchase does, for onboardings started before
// their purchase was a workflow of its own.
func (a *Activities) Checkout(ctx context.Context, in CheckoutInput) (CheckoutOutcome, error) {
	c, _, err := a.onboarding(ctx, in.CustomerID)
	if err != nil {
		return CheckoutOutcome{}, err
	}
	return a.CheckoutPurchase(ctx, PurchaseCheckoutInput{
		RequestID:        in.CustomerID,
		CustomerTenantID: c.CustomerTenantID,
		CartID:           in.CartID,
		Attempt:          in.Attempt,
	})
}

// WaitProvisioned waits for an onboarding's orders, as WaitPurchaseProvisioned does, for
// onboardings started before their purchase was a workflow of its own.
func (a *Activities) WaitProvisioned(ctx context.Context, customerID string, orderIDs []string) error {
	c, _, err := a.onboarding(ctx, customerID)
	if err != nil {
		return err
	}
	return a.WaitPurchaseProvisioned(ctx, PurchaseOrders{CustomerTenantID: c.CustomerTenantID, OrderIDs: orderIDs})
}

// RecordSubscriptions records an onboarding's subscriptions, as RecordPurchaseSubscriptions
// does, for onboardings started before their purchase was a workflow of its own.
func (a *Activities) RecordSubscriptions(
	ctx context.Context,
	customerID string,
	orderIDs []string,
) ([]SubscriptionState, error) {
	c, req, err := a.onboarding(ctx, customerID)
	if err != nil {
		return nil, err
	}
	return a.RecordPurchaseSubscriptions(ctx, PurchaseSubscriptionsInput{
		RequestID:        customerID,
		CustomerTenantID: c.CustomerTenantID,
		OrderIDs:         orderIDs,
		Reseller:         resellerOf(c),
		SupportContact:   req.SupportContact,
		Target:           PurchaseTarget{Kind: models.KindOnboarding, ID: customerID},
	})
}

// CartLine is one line of the cart under review.
type CartLine struct {
	CatalogItemID string
	Name          string
	Quantity      int
	BillingCycle  string
	TermDuration  string
	// Reseller is the PartnerID on the line (transaction_reseller).
	Reseller  string
	ErrorCode int
	Error     string
}

// CartState is the cart under review.
type CartState struct {
	ID    string
	Lines []CartLine
}

// SubscriptionState is one provisioned subscription.
type SubscriptionState struct {
	ID       string
	OfferID  string
	Name     string
	Quantity int
	Status   string
	// PartnerID is the reseller's PartnerID on the subscription.
	PartnerID string
}

// TenantResult is the created tenant, without its credentials (they stay in the activity).
type TenantResult struct {
	TenantID string
	Domain   string
}

// CheckoutOutcome is what a checkout did: orders placed, or the reason it bought nothing.
type CheckoutOutcome struct {
	OrderIDs []string
	// Lines carries each line's error when Partner Center refused the cart.
	Lines  []CartLine
	Reason string
}

// BuildCartInput asks for the cart of the current products; Round makes its request ID unique
// per rebuild, so a retried call never makes a second cart.
type BuildCartInput struct {
	CustomerID string
	Products   []models.Product
	Round      int
}

// CheckoutInput checks out a cart; Attempt keys the request ID, so a retry after a lost answer
// gets the first result, never a second order.
type CheckoutInput struct {
	CustomerID string
	CartID     string
	Attempt    int
}

// CustomerMail is one message of an onboarding; with the customer ID, kind and Seq it is the
// idempotency key.
type CustomerMail struct {
	CustomerID string
	Kind       string
	Seq        int
	To         string
	ExpiresAt  time.Time
}

// Onboarding mail kinds (notify's template names).
const (
	MailAgreementRequest    = "agreement-request"
	MailAgreementReminder   = "agreement-reminder"
	MailAgreementResend     = "agreement-resend"
	MailAgreementEscalation = "agreement-escalation"
)
