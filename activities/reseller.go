package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/workflows"
)

// RecordReseller writes a step of a reseller partnership to the app database; idempotent by the
// change's StepKey.
func (a *Activities) RecordReseller(ctx context.Context, resellerID string, ch models.ResellerChange) error {
	return record(ctx, a.cfg.Store, models.KindReseller, resellerID, ch)
}

// FindPartnership looks for the reseller in the provider's list of indirect resellers: by its
// PartnerID when known (given with the request or on the reseller's landing page), else by its
// company name. Partner Center sends no event when a reseller authorizes a provider, so the
// workflow polls this.
func (a *Activities) FindPartnership(ctx context.Context, resellerID string) (workflows.Partnership, error) {
	r, err := models.Find[models.Reseller](ctx, a.cfg.Store, resellerID)
	if err != nil {
		return workflows.Partnership{}, fmt.Errorf("load reseller %s: %w", resellerID, err)
	}
	list, err := a.cfg.PartnerCenter.ListIndirectResellers(ctx)
	if err != nil {
		return workflows.Partnership{}, a.serviceError(ctx, "list indirect resellers", err)
	}
	for _, p := range list {
		byMPN := r.MPNID != "" && p.MPNID == r.MPNID
		byName := r.MPNID == "" && strings.EqualFold(strings.TrimSpace(p.Name), strings.TrimSpace(r.CompanyName))
		if (byMPN || byName) && strings.EqualFold(p.State, "Active") {
			return workflows.Partnership{Found: true, TenantID: p.ID, MPNID: p.MPNID, Name: p.Name, Location: p.Location}, nil
		}
	}
	return workflows.Partnership{}, nil
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
func (a *Activities) VerifyReseller(ctx context.Context, mpnID string) (workflows.Verification, error) {
	pc := a.cfg.PartnerCenter
	if mpnID == "" {
		return workflows.Verification{Code: "3000", Reason: "the reseller's PartnerID is not known"}, nil
	}
	if _, err := pc.GetMPNProfile(ctx, mpnID); err != nil {
		return a.verificationOutcome(ctx, "verify PartnerID "+mpnID, err)
	}
	status, err := pc.GetAgreementStatus(ctx, mpnID)
	if err != nil {
		return a.verificationOutcome(ctx, "check the partner agreement of "+mpnID, err)
	}
	if !status.IsAgreementSigned {
		return workflows.Verification{Code: "2203", Reason: verificationReasons[2203]}, nil
	}
	return workflows.Verification{OK: true}, nil
}

// verificationOutcome turns a refusal with a known code into a failed verification.
func (a *Activities) verificationOutcome(ctx context.Context, op string, err error) (workflows.Verification, error) {
	var pcErr *partnercenter.Error
	if errors.As(err, &pcErr) && !pcErr.Retryable() {
		if reason, ok := verificationReasons[pcErr.Code]; ok {
			return workflows.Verification{Code: strconv.Itoa(pcErr.Code), Reason: reason}, nil
		}
	}
	return workflows.Verification{}, a.serviceError(ctx, op, err)
}

// SendResellerMail renders a partnership message in the recipient's language, writes it to the
// outbox and sends it once per key. The reseller's signed link is derived here, so no token
// ever enters workflow history.
func (a *Activities) SendResellerMail(ctx context.Context, m workflows.ResellerMail) error {
	partner := a.partnerName(ctx)
	var data any
	switch m.Kind {
	case workflows.MailResellerVerified, workflows.MailResellerVerificationFailed:
		data = notify.ResellerVerification{PartnerName: partner, CompanyName: m.CompanyName, MPNID: m.MPNID, Code: m.Code, Reason: m.Reason}
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
