package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// RecordReseller writes a step of a reseller partnership to the app database; idempotent by the
// change's StepKey. Activation with a reseller tenant another active partnership holds is a
// non-retryable ResellerTenantTaken error: the workflow stops for review instead.
func (a *Activities) RecordReseller(ctx context.Context, resellerID string, ch models.ResellerChange) error {
	err := a.cfg.Store.RecordReseller(ctx, resellerID, ch)
	switch {
	case errors.Is(err, models.ErrTenantTaken):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeResellerTenantTaken, err)
	case errors.Is(err, models.ErrNotFound):
		return temporal.NewNonRetryableApplicationError("reseller "+resellerID+" does not exist", ErrTypeFlowGone, err)
	case err != nil:
		return fmt.Errorf("record reseller %s step %s: %w", resellerID, ch.Step, err)
	}
	return nil
}

// FindPartnership looks for the reseller a request names in the provider's list of indirect
// resellers: the tenants whose Global admin authorized the provider in Partner Center, each with
// its company name and PartnerID as Partner Center knows them. Partner Center sends no event
// when a reseller authorizes a provider, so the workflow polls this. See matchPartnership for
// the rule, and matchImported for a partnership imported from Partner Center; a tenant that
// another of the provider's partnerships holds active is never taken.
func (a *Activities) FindPartnership(ctx context.Context, resellerID string) (Partnership, error) {
	r, err := models.Find[models.Reseller](ctx, a.cfg.Store, resellerID)
	if err != nil {
		return Partnership{}, fmt.Errorf("load reseller %s: %w", resellerID, err)
	}
	list, err := a.cfg.PartnerCenter.ListIndirectResellers(ctx)
	if err != nil {
		return Partnership{}, a.serviceError(ctx, "list indirect resellers", err)
	}
	var p Partnership
	if r.Source == models.ResellerSourcePartnerCenter {
		p = matchImported(r.TenantID, r.MPNID, list)
	} else {
		p = matchPartnership(r.CompanyName, r.MPNID, list)
	}
	if !p.Found {
		return p, nil
	}
	other, err := a.cfg.Store.ActiveReseller(ctx, r.PartnerID, p.TenantID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return p, nil
	case err != nil:
		return Partnership{}, fmt.Errorf("find the active partnership with tenant %s: %w", p.TenantID, err)
	case other.ID == r.ID:
		return p, nil
	}
	return Partnership{Review: ReviewTenantTaken, Reason: fmt.Sprintf(
		"%s (tenant %s, PartnerID %s) already has an active partnership with the provider: %s, requested for %s",
		p.Name, p.TenantID, p.MPNID, other.ID, other.CompanyName)}, nil
}

// matchPartnership picks the reseller a request names from the provider's list of indirect
// resellers. What identifies it is what the reseller itself proved to Partner Center: its tenant
// authorized the provider, under its company name (Partner Center's list carries no domain).
// The request's company name (given by the provider) must equal that name; a PartnerID known for
// the request (given by the provider, or typed on the public landing page) never selects a
// reseller, it only has to agree. A PartnerID that belongs to another company, a name that more
// than one authorized reseller carries, or a named reseller with another PartnerID stops the
// request for review; nothing found yet keeps it waiting.
func matchPartnership(company, mpnID string, list []partnercenter.PartnerRelationship) Partnership {
	var named []partnercenter.PartnerRelationship
	for _, p := range list {
		if !strings.EqualFold(p.State, "Active") {
			continue
		}
		if mpnID != "" && p.MPNID == mpnID && !sameCompany(p.Name, company) {
			return Partnership{Review: ReviewPartnerIDMismatch, Reason: fmt.Sprintf(
				"PartnerID %s belongs to %s (tenant %s), not to %s, the company this request is for",
				mpnID,
				p.Name,
				p.ID,
				company,
			)}
		}
		if sameCompany(p.Name, company) {
			named = append(named, p)
		}
	}
	switch {
	case len(named) == 0:
		return Partnership{}
	case len(named) > 1:
		tenants := make([]string, len(named))
		for i, p := range named {
			tenants[i] = p.ID + " (PartnerID " + p.MPNID + ")"
		}
		return Partnership{Review: ReviewAmbiguous, Reason: fmt.Sprintf(
			"%d resellers named %s authorized the provider: %s", len(named), company, strings.Join(tenants, ", "))}
	}
	m := named[0]
	if mpnID != "" && m.MPNID != mpnID {
		return Partnership{Review: ReviewPartnerIDMismatch, Reason: fmt.Sprintf(
			"%s (tenant %s) authorized the provider with PartnerID %s, but PartnerID %s was given for this request",
			m.Name,
			m.ID,
			m.MPNID,
			mpnID,
		)}
	}
	return Partnership{Found: true, TenantID: m.ID, MPNID: m.MPNID, Name: m.Name, Location: m.Location}
}

// matchImported finds a partnership imported from Partner Center in the provider's list of
// indirect resellers. Its tenant came from that list, so the tenant identifies it: no name is
// matched and none can be ambiguous. The tenant must still be listed as having authorized the
// provider (nothing found otherwise), under the PartnerID it was imported with: Partner Center
// listing another PartnerID for it now stops the partnership for review.
func matchImported(tenantID, mpnID string, list []partnercenter.PartnerRelationship) Partnership {
	for _, p := range list {
		if p.ID != tenantID || !strings.EqualFold(p.State, "Active") {
			continue
		}
		if mpnID != "" && p.MPNID != mpnID {
			return Partnership{Review: ReviewPartnerIDMismatch, Reason: fmt.Sprintf(
				"%s (tenant %s) was imported with PartnerID %s, but Partner Center now lists PartnerID %s",
				p.Name,
				p.ID,
				mpnID,
				p.MPNID,
			)}
		}
		return Partnership{Found: true, TenantID: p.ID, MPNID: p.MPNID, Name: p.Name, Location: p.Location}
	}
	return Partnership{}
}

// sameCompany compares company names as people type them: case and spacing aside.
func sameCompany(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

// Partner Center codes that mean a reseller fails verification, with what they mean in plain words.
var verificationReasons = map[int]string{
	3000:   "no partner has this PartnerID",
	2201:   "the reseller is in another region than the provider",
	2203:   "the reseller has not signed the Microsoft Partner Agreement for this region",
	2204:   "this PartnerID is not an indirect reseller's",
	800016: "this PartnerID is not an indirect reseller's",
	900123: "the reseller has not signed the Microsoft Partner Agreement",
}

// VerifyReseller checks a reseller before anyone transacts for it: its PartnerID exists, belongs
// to an indirect reseller in the provider's region, and has signed the partner agreement. A
// refusal is an outcome (Verification with the code and a plain reason), not an error; only
// failures worth retrying are errors.
func (a *Activities) VerifyReseller(ctx context.Context, mpnID string) (Verification, error) {
	pc := a.cfg.PartnerCenter
	if mpnID == "" {
		return Verification{Code: "3000", Reason: "the reseller's PartnerID is not known"}, nil
	}
	if _, err := pc.GetMPNProfile(ctx, mpnID); err != nil {
		return a.verificationOutcome(ctx, "verify PartnerID "+mpnID, err)
	}
	status, err := pc.GetAgreementStatus(ctx, mpnID)
	if err != nil {
		return a.verificationOutcome(ctx, "check the partner agreement of "+mpnID, err)
	}
	if !status.IsAgreementSigned {
		return Verification{Code: "2203", Reason: verificationReasons[2203]}, nil
	}
	return Verification{OK: true}, nil
}

// verificationOutcome turns a refusal with a known code into a failed verification.
func (a *Activities) verificationOutcome(ctx context.Context, op string, err error) (Verification, error) {
	var pcErr *partnercenter.Error
	if errors.As(err, &pcErr) && !pcErr.Retryable() {
		if reason, ok := verificationReasons[pcErr.Code]; ok {
			return Verification{Code: strconv.Itoa(pcErr.Code), Reason: reason}, nil
		}
	}
	return Verification{}, a.serviceError(ctx, op, err)
}

// SendResellerMail renders a partnership message in the recipient's language, writes it to the
// outbox and sends it once per key. The reseller's signed link is derived here, so no token
// ever enters workflow history.
func (a *Activities) SendResellerMail(ctx context.Context, m ResellerMail) error {
	partner := a.partnerName(ctx)
	var data any
	switch m.Kind {
	case MailResellerVerified, MailResellerVerificationFailed:
		data = notify.ResellerVerification{
			PartnerName: partner,
			CompanyName: m.CompanyName,
			MPNID:       m.MPNID,
			Code:        m.Code,
			Reason:      m.Reason,
		}
	default:
		data = notify.ResellerMail{
			PartnerName: partner, CompanyName: m.CompanyName, ExpiresAt: m.ExpiresAt, Seq: m.Seq,
			Link: a.cfg.Signer.PartnershipURL(a.cfg.BaseURL, m.ResellerID, m.ExpiresAt),
		}
	}
	msg, err := notify.Render(m.Kind, m.Language, data)
	if err != nil {
		return err
	}
	return a.deliver(ctx, m.ResellerID+"/"+m.Kind+"/"+strconv.Itoa(m.Seq), m.To, msg)
}

// Why a partnership request waits for the provider's review: Partnership.Review, which the
// workflow keeps as the request's failure code.
const (
	// ReviewPartnerIDMismatch: the PartnerID given for the request and the company that
	// authorized the provider disagree.
	ReviewPartnerIDMismatch = "partnerid-mismatch"
	// ReviewAmbiguous: more than one reseller with the request's company name authorized the
	// provider.
	ReviewAmbiguous = "ambiguous-name"
	// ReviewTenantTaken: the reseller tenant already has an active partnership with the provider.
	ReviewTenantTaken = "tenant-taken"
	// ReviewNotAuthorized: checked again, no reseller of the request's name authorizes the
	// provider any more.
	ReviewNotAuthorized = "not-authorized"
)

// Partnership is what the provider's list of indirect resellers says of the reseller a request
// names: found, not there yet, or there but not plainly the request's (Review and Reason), in
// which case the flow stops for the provider's review and never takes the tenant.
type Partnership struct {
	Found    bool
	TenantID string
	MPNID    string
	Name     string
	Location string
	Review   string `json:",omitempty"`
	Reason   string `json:",omitempty"`
}

// Verification is the outcome of checking a reseller's PartnerID and partner agreement.
type Verification struct {
	OK bool
	// Code is Partner Center's error code and Reason a plain sentence, when it failed.
	Code   string
	Reason string
}

// ResellerMail is one message of a partnership request; with the reseller ID, kind and Seq it is
// the idempotency key, so a retried send never mails twice.
type ResellerMail struct {
	ResellerID  string
	Kind        string
	Seq         int
	To          string
	CompanyName string
	Language    string
	ExpiresAt   time.Time
	// MPNID, Code and Reason fill the verification messages to the provider's contact.
	MPNID, Code, Reason string
}

// Reseller mail kinds (notify's template names).
const (
	MailResellerInvitation         = "reseller-invitation"
	MailResellerReminder           = "reseller-reminder"
	MailResellerResend             = "reseller-resend"
	MailResellerEscalation         = "reseller-escalation"
	MailResellerVerified           = "reseller-verified"
	MailResellerVerificationFailed = "reseller-verification-failed"
)
