package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/partnerflow/partnerflow/models"
)

// EstateResellerImport names the indirect resellers Partner Center lists as having authorized the
// partner (ListEstateResellers), for ImportEstateResellers.
type EstateResellerImport struct {
	PartnerID string
	Resellers []EstateReseller
	// Pass is the directory pass that listed them: a waiting request hears of its reseller once
	// per pass.
	Pass int64
}

// EventResellerListed is the event the estate sync sends a waiting partnership request when
// Partner Center lists, among the provider's indirect resellers, one the request names. Partner
// Center itself sends no event when a reseller authorizes its provider.
const EventResellerListed = "indirect-reseller-listed"

// importedResellerIDPrefix is the prefix of a partnership's ID, as the API's.
const importedResellerIDPrefix = "res_"

// ImportEstateResellers makes each indirect reseller that authorized the partner before
// partnerflow a known partnership: for every listed reseller whose state is active and whose
// tenant no partnership of the partner holds (models.ResellerHoldsTenant: one that is open,
// active, removed or cancelled; a failed or expired one holds nothing), and that no open request
// still waits for by its company name or PartnerID (that request takes it), it writes the
// partnership (status verifying, source partner-center, the listed name, PartnerID and tenant),
// its "created" step and the command that starts its workflow (Imported: verified at once, no
// request sent) in one transaction. The API's dispatcher, in every api and dev process, starts
// the workflow. A crash at any point loses and doubles nothing: a retried call finds the
// partnership it wrote (it holds the tenant), and two attempts running at once cannot both write
// one (resellers_one_imported). It returns how many partnerships it wrote.
func (a *Activities) ImportEstateResellers(ctx context.Context, in EstateResellerImport) (int, error) {
	defer estateHeartbeat(ctx)()
	partnerID := in.PartnerID
	if partnerID == "" {
		partnerID = a.cfg.PartnerID
	}
	store := a.cfg.Store
	requests, err := store.UnmatchedResellerRequests(ctx, partnerID)
	if err != nil {
		return 0, fmt.Errorf("list the open partnership requests: %w", err)
	}
	imported := 0
	var signals []models.DirectoryChange
	for _, listed := range in.Resellers {
		if listed.TenantID == "" || !strings.EqualFold(listed.State, "Active") {
			continue
		}
		signals = append(signals, a.awaitingSignals(requests, listed, in.Pass)...)
		_, err := store.ResellerHoldingTenant(ctx, partnerID, listed.TenantID)
		switch {
		case err == nil:
			continue
		case !errors.Is(err, models.ErrNotFound):
			return imported, fmt.Errorf("find the partnership with reseller tenant %s: %w", listed.TenantID, err)
		}
		if awaitedByRequest(requests, listed) {
			continue
		}
		created, err := a.importReseller(ctx, partnerID, listed)
		if err != nil {
			return imported, err
		}
		if created {
			imported++
		}
	}
	if _, err := store.AddDirectorySignals(ctx, partnerID, signals); err != nil {
		return imported, fmt.Errorf("tell the waiting partnership requests: %w", err)
	}
	return imported, nil
}

// awaitingSignals owes each request that waits for the reseller's authorization and names the
// listed reseller (awaitedByRequest's rule) the event that makes it check at once: such a request
// does not poll while the estate sync runs (WaitPolicy.NoPolling). One per request and pass; the
// request that still waits at the next pass hears it again.
func (a *Activities) awaitingSignals(
	requests []models.Reseller, listed EstateReseller, pass int64,
) []models.DirectoryChange {
	var out []models.DirectoryChange
	for _, r := range requests {
		if r.Status != models.ResellerPending || !names(r, listed) {
			continue
		}
		out = append(out, models.DirectoryChange{
			Kind: models.SignalPrefix + EventResellerListed, SubjectID: listed.TenantID, Detail: r.WorkflowID,
			Key:       fmt.Sprintf("signal/%s/reseller-listed/%d", r.ID, pass),
			CreatedAt: a.cfg.Now().UTC(),
		})
	}
	return out
}

// awaitedByRequest reports whether an open request that no tenant matched yet names the listed
// reseller by company name or PartnerID: its workflow takes the reseller when it next checks (the event
// awaitingSignals owes it makes that now), and
// an import too would make two partnerships compete for the tenant.
func awaitedByRequest(requests []models.Reseller, listed EstateReseller) bool {
	return slices.ContainsFunc(requests, func(r models.Reseller) bool { return names(r, listed) })
}

// names reports whether a request names the listed reseller, by company name or PartnerID.
func names(r models.Reseller, listed EstateReseller) bool {
	return sameCompany(r.CompanyName, listed.Name) || (r.MPNID != "" && r.MPNID == listed.MPNID)
}

// importReseller writes one imported partnership with the command that starts its workflow;
// false when another attempt of the import wrote it first.
func (a *Activities) importReseller(ctx context.Context, partnerID string, listed EstateReseller) (bool, error) {
	id, err := newResellerID()
	if err != nil {
		return false, err
	}
	now := time.Now().UTC()
	r := &models.Reseller{
		ID:          id,
		PartnerID:   partnerID,
		CompanyName: listed.Name,
		Language:    a.cfg.DefaultLanguage,
		MPNID:       listed.MPNID,
		TenantID:    listed.TenantID,
		Status:      models.ResellerVerifying,
		Source:      models.ResellerSourcePartnerCenter,
		WorkflowID:  models.ResellerWorkflowID(id),
		CreatedAt:   now,
		UpdatedAt:   now,
		// An imported partnership has no request that could expire.
		ExpiresAt: now,
	}
	start := models.ResellerStart{
		ResellerID:   r.ID,
		PartnerID:    r.PartnerID,
		CompanyName:  r.CompanyName,
		MPNID:        r.MPNID,
		Language:     r.Language,
		ContactEmail: a.cfg.ContactEmail,
		ExpiresAt:    r.ExpiresAt,
		Imported:     true,
	}
	// Due at once: no request holds it, the dispatcher starts the workflow.
	cmd, err := models.NewStartCommand(
		models.KindReseller,
		models.ResellerWorkflowType,
		r.ID,
		r.WorkflowID,
		start,
		models.StartAttributes{PartnerID: partnerID, Status: r.Status},
		0,
	)
	if err != nil {
		return false, err
	}
	err = a.cfg.Store.ImportReseller(ctx, r, models.WithCommand(cmd))
	switch {
	case errors.Is(err, models.ErrConflict):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("import reseller %s (tenant %s): %w", listed.Name, listed.TenantID, err)
	}
	a.cfg.Logger.InfoContext(ctx, "imported an indirect reseller from Partner Center",
		"reseller", r.ID, "tenant", r.TenantID, "mpn_id", r.MPNID)
	return true, nil
}

// newResellerID returns a random partnership ID like the API's.
func newResellerID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return importedResellerIDPrefix + hex.EncodeToString(b), nil
}
