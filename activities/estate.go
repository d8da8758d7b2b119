package activities

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"golang.org/x/time/rate"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// EstatePage asks for one page of a phase of the estate sync's pass.
type EstatePage struct {
	PartnerID string
	Pass      models.DirectoryPass
	// Cursor is the page's continuation ("" for the first page).
	Cursor string
	// Reseller is the indirect reseller whose customers the page lists (the resellers phase).
	Reseller string
}

// EstatePageResult is what a page held: the next page's cursor ("" after the last), how many
// items it saw and changes it found, and the relationships whose access assignments to count.
type EstatePageResult struct {
	Next             string
	Seen             int
	Changes          int
	CountAssignments []string
}

// EstateAssignments names relationships whose access assignments the sync counts.
type EstateAssignments struct {
	PartnerID       string
	RelationshipIDs []string
}

// EstateEnd completes a pass.
type EstateEnd struct {
	PartnerID     string
	Pass          models.DirectoryPass
	ResellersRead bool
}

// EstateNote is why a pass stopped early.
type EstateNote struct {
	PartnerID string
	Reason    string
}

// estateCallsPerMinute is the budget of Partner Center and Graph calls the estate sync of one
// partner takes: Partner Center documents 500 requests a minute per tenant on its customer and
// subscription resources ("Customer resources", "Subscription resources"), and the partner's
// flows need the rest. A Retry-After answer waits longer (serviceError's NextRetryDelay).
const estateCallsPerMinute = 300

// waitEstateCall blocks until the partner's budget of estate calls allows one more.
func (a *Activities) waitEstateCall(ctx context.Context, partnerID string) error {
	a.estateMu.Lock()
	if a.estate == nil {
		a.estate = map[string]*rate.Limiter{}
	}
	l, ok := a.estate[partnerID]
	if !ok {
		l = rate.NewLimiter(rate.Every(time.Minute/estateCallsPerMinute), 10)
		a.estate[partnerID] = l
	}
	a.estateMu.Unlock()
	return l.Wait(ctx)
}

// estateHeartbeatEvery is how often an estate activity tells Temporal it is alive; the sync's
// heartbeat timeout is a few times longer.
const estateHeartbeatEvery = 5 * time.Second

// estateHeartbeat heartbeats until the returned stop is called: estate activities wait on the
// partner's call budget and on Partner Center, and a worker that dies meanwhile must be noticed
// by its heartbeat timeout rather than its start-to-close timeout.
func estateHeartbeat(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	activity.RecordHeartbeat(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(estateHeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

// BeginEstatePass starts the partner's next pass, or resumes one a crash interrupted.
func (a *Activities) BeginEstatePass(ctx context.Context, partnerID string) (models.DirectoryPass, error) {
	defer estateHeartbeat(ctx)()
	return a.cfg.Store.BeginDirectoryPass(ctx, partnerID, a.cfg.Now())
}

// SyncCustomerPage reads one page of the partner's customers into the directory.
func (a *Activities) SyncCustomerPage(ctx context.Context, in EstatePage) (EstatePageResult, error) {
	defer estateHeartbeat(ctx)()
	if err := a.waitEstateCall(ctx, in.PartnerID); err != nil {
		return EstatePageResult{}, err
	}
	page, err := a.cfg.PartnerCenter.ListCustomers(ctx, in.Cursor)
	if err != nil {
		return EstatePageResult{}, a.serviceError(ctx, "list the partner's customers", err)
	}
	rows := make([]models.DirectoryCustomer, 0, len(page.Items))
	for _, c := range page.Items {
		tenant := c.CompanyProfile.TenantID
		if tenant == "" {
			tenant = c.ID
		}
		rows = append(rows, models.DirectoryCustomer{
			PartnerID: in.PartnerID, TenantID: tenant, CompanyName: c.CompanyProfile.CompanyName,
			Domain: strings.ToLower(c.CompanyProfile.Domain), Relationship: c.RelationshipToPartner,
		})
	}
	saved, err := a.cfg.Store.SaveDirectoryCustomers(ctx, in.Pass, rows, a.cfg.Now())
	if err != nil {
		return EstatePageResult{}, err
	}
	return EstatePageResult{Next: page.ContinuationToken, Seen: len(rows), Changes: saved.Changes}, nil
}

// SyncGDAPPage reads one page of the partner's GDAP relationships into the directory.
func (a *Activities) SyncGDAPPage(ctx context.Context, in EstatePage) (EstatePageResult, error) {
	defer estateHeartbeat(ctx)()
	if err := a.waitEstateCall(ctx, in.PartnerID); err != nil {
		return EstatePageResult{}, err
	}
	page, err := a.cfg.PartnerCenter.ListGDAPRelationships(ctx, in.Cursor)
	if err != nil {
		return EstatePageResult{}, a.serviceError(ctx, "list the partner's GDAP relationships", err)
	}
	rows := make([]models.DirectoryGDAP, 0, len(page.Value))
	for _, r := range page.Value {
		rows = append(rows, directoryGDAP(in.PartnerID, r))
	}
	saved, err := a.cfg.Store.SaveDirectoryGDAP(ctx, in.Pass, rows, a.cfg.Now())
	if err != nil {
		return EstatePageResult{}, err
	}
	return EstatePageResult{
		Next: page.NextLink, Seen: len(rows), Changes: saved.Changes, CountAssignments: saved.CountAssignments,
	}, nil
}

// directoryGDAP is a Graph relationship as the directory keeps it.
func directoryGDAP(partnerID string, r partnercenter.GDAPRelationship) models.DirectoryGDAP {
	roles := make([]string, 0, len(r.AccessDetails.UnifiedRoles))
	for _, role := range r.AccessDetails.UnifiedRoles {
		roles = append(roles, role.RoleDefinitionID)
	}
	slices.Sort(roles)
	row := models.DirectoryGDAP{
		PartnerID: partnerID, ID: r.ID, CustomerTenantID: r.Customer.TenantID, DisplayName: r.DisplayName,
		Status: r.Status, Roles: strings.Join(roles, ","),
		GlobalAdmin: slices.Contains(roles, partnercenter.GlobalAdministratorRoleID),
		// Graph's autoExtendDuration is P180D when the relationship extends itself, PT0S or P0D when not.
		AutoExtend: r.AutoExtendDuration != "" && r.AutoExtendDuration != "PT0S" && r.AutoExtendDuration != "P0D",
	}
	if !r.ActivatedDateTime.IsZero() {
		t := r.ActivatedDateTime.UTC()
		row.ActivatedAt = &t
	}
	if !r.EndDateTime.IsZero() {
		t := r.EndDateTime.UTC()
		row.EndsAt = &t
	}
	return row
}

// CountGDAPAssignments counts the access assignments of active relationships; an active
// relationship that assigns its roles to no group is an alert. It returns the changes found.
func (a *Activities) CountGDAPAssignments(ctx context.Context, in EstateAssignments) (int, error) {
	defer estateHeartbeat(ctx)()
	changes := 0
	for _, id := range in.RelationshipIDs {
		if err := a.waitEstateCall(ctx, in.PartnerID); err != nil {
			return changes, err
		}
		assignments, err := a.cfg.PartnerCenter.ListAccessAssignments(ctx, id)
		if err != nil {
			return changes, a.serviceError(ctx, "list the access assignments of GDAP relationship "+id, err)
		}
		live := 0
		for _, as := range assignments {
			if as.Status == partnercenter.AssignmentStatusActive || as.Status == partnercenter.AssignmentStatusPending {
				live++
			}
		}
		n, err := a.cfg.Store.SetDirectoryAssignments(ctx, in.PartnerID, id, live, a.cfg.Now())
		if err != nil {
			return changes, err
		}
		changes += n
	}
	return changes, nil
}

// EstateReseller is an indirect reseller that has authorized the partner, as Partner Center
// lists it.
type EstateReseller struct {
	TenantID string
	Name     string
	MPNID    string
	State    string
}

// ListEstateResellers lists the indirect resellers that have authorized the partner, by tenant ID
// (App+User: without the connection it is ErrTypeConnectionNeeded).
func (a *Activities) ListEstateResellers(ctx context.Context, partnerID string) ([]EstateReseller, error) {
	defer estateHeartbeat(ctx)()
	if err := a.waitEstateCall(ctx, partnerID); err != nil {
		return nil, err
	}
	resellers, err := a.cfg.PartnerCenter.ListIndirectResellers(ctx)
	if err != nil {
		return nil, a.serviceError(ctx, "list the indirect resellers", err)
	}
	out := make([]EstateReseller, 0, len(resellers))
	for _, r := range resellers {
		out = append(out, EstateReseller{TenantID: r.ID, Name: r.Name, MPNID: r.MPNID, State: r.State})
	}
	slices.SortFunc(out, func(a, b EstateReseller) int { return strings.Compare(a.TenantID, b.TenantID) })
	return out, nil
}

// SyncResellerCustomerPage reads one page of an indirect reseller's customers and records them
// as that reseller's in the directory.
func (a *Activities) SyncResellerCustomerPage(ctx context.Context, in EstatePage) (EstatePageResult, error) {
	defer estateHeartbeat(ctx)()
	if err := a.waitEstateCall(ctx, in.PartnerID); err != nil {
		return EstatePageResult{}, err
	}
	customers, next, err := a.cfg.PartnerCenter.ListResellerCustomers(ctx, in.Reseller, in.Cursor)
	if err != nil {
		return EstatePageResult{}, a.serviceError(ctx, "list the customers of reseller "+in.Reseller, err)
	}
	tenants := make([]string, 0, len(customers))
	for _, c := range customers {
		tenant := c.CompanyProfile.TenantID
		if tenant == "" {
			tenant = c.ID
		}
		tenants = append(tenants, tenant)
	}
	saved, err := a.cfg.Store.AssociateDirectoryReseller(ctx, in.Pass, in.PartnerID, in.Reseller, tenants, a.cfg.Now())
	if err != nil {
		return EstatePageResult{}, err
	}
	return EstatePageResult{Next: next, Seen: len(tenants), Changes: saved.Changes}, nil
}

// EndEstatePass completes a pass; it returns the changes it found (what is gone).
func (a *Activities) EndEstatePass(ctx context.Context, in EstateEnd) (int, error) {
	defer estateHeartbeat(ctx)()
	return a.cfg.Store.EndDirectoryPass(ctx, in.PartnerID, in.Pass, in.ResellersRead, a.cfg.Now())
}

// DeliverEstateChanges delivers a batch of the directory's changes; 0 means none was left.
func (a *Activities) DeliverEstateChanges(ctx context.Context, partnerID string) (int, error) {
	defer estateHeartbeat(ctx)()
	return a.cfg.Store.DeliverDirectoryChanges(ctx, partnerID, 0, a.cfg.Now())
}

// NoteEstateError records why a pass stopped early.
func (a *Activities) NoteEstateError(ctx context.Context, in EstateNote) error {
	return a.cfg.Store.NoteDirectoryError(ctx, in.PartnerID, in.Reason)
}

// EstateSignal is a Partner Center event the estate sync owes a waiting flow: WorkflowID is the
// invitation's workflow, or "" for the GDAP watch of the relationship (ResourceID).
type EstateSignal struct {
	ID         int64
	WorkflowID string
	EventName  string
	ResourceID string
}

// EstateSignalsSent names the signals a pass has sent.
type EstateSignalsSent struct {
	PartnerID string
	IDs       []int64
}

// gdapEndedStatuses are the statuses of a relationship that no longer gives access, and the
// event Partner Center sends for each.
var gdapEndedStatuses = map[string]string{
	partnercenter.GDAPStatusTerminationRequested: partnercenter.EventGDAPTerminated,
	partnercenter.GDAPStatusTerminating:          partnercenter.EventGDAPTerminated,
	partnercenter.GDAPStatusTerminated:           partnercenter.EventGDAPTerminated,
	partnercenter.GDAPStatusExpiring:             partnercenter.EventGDAPExpired,
	partnercenter.GDAPStatusExpired:              partnercenter.EventGDAPExpired,
}

// RouteEstateSignals records, once per pass each, the events the directory owes waiting flows, as
// Partner Center's webhooks would have told them: a pending invitation whose customer is now a
// reseller customer of the partner, a pending invitation whose GDAP relationship was approved,
// and the watch of an active invitation's relationship that ended. A flow still waiting at the
// next pass (its check did not yet see what the directory saw) hears it again. It returns how
// many are new.
func (a *Activities) RouteEstateSignals(ctx context.Context, in EstateEnd) (int, error) {
	defer estateHeartbeat(ctx)()
	store, partnerID := a.cfg.Store, in.PartnerID
	pass := fmt.Sprintf("/%d", in.Pass.Pass)
	var signals []models.DirectoryChange
	owe := func(workflowID, event, resource, key string) {
		signals = append(signals, models.DirectoryChange{
			Kind: models.SignalPrefix + event, SubjectID: resource, Detail: workflowID,
			Key: "signal/" + key + pass, CreatedAt: a.cfg.Now().UTC(),
		})
	}
	accepted, err := store.AcceptedInvitations(ctx, partnerID)
	if err != nil {
		return 0, err
	}
	for _, inv := range accepted {
		owe(inv.WorkflowID, partnercenter.EventResellerRelationshipAccepted, inv.ResourceID,
			inv.InvitationID+"/reseller-accepted")
	}
	approved, err := store.InvitationRelationships(ctx, partnerID, []string{models.InvitationPending},
		[]string{partnercenter.GDAPStatusApproved, partnercenter.GDAPStatusActivating, partnercenter.GDAPStatusActive})
	if err != nil {
		return 0, err
	}
	for _, inv := range approved {
		owe(inv.WorkflowID, partnercenter.EventGDAPApproved, inv.ResourceID, inv.InvitationID+"/gdap-approved")
	}
	ended, err := store.InvitationRelationships(ctx, partnerID, []string{models.InvitationActive},
		slices.Collect(maps.Keys(gdapEndedStatuses)))
	if err != nil {
		return 0, err
	}
	for _, inv := range ended {
		// The watch's workflow ID is the workflows package's to give: "" names it.
		owe("", gdapEndedStatuses[inv.Status], inv.ResourceID, "gdap-watch/"+inv.ResourceID)
	}
	return store.AddDirectorySignals(ctx, partnerID, signals)
}

// TakeEstateSignals returns a batch of the events owed to flows, oldest first; none left is
// an empty batch.
func (a *Activities) TakeEstateSignals(ctx context.Context, partnerID string) ([]EstateSignal, error) {
	owed, err := a.cfg.Store.UndeliveredDirectorySignals(ctx, partnerID, 0)
	out := make([]EstateSignal, len(owed))
	for i, s := range owed {
		out[i] = EstateSignal(s)
	}
	return out, err
}

// MarkEstateSignalsSent records that the pass sent these events.
func (a *Activities) MarkEstateSignalsSent(ctx context.Context, in EstateSignalsSent) error {
	return a.cfg.Store.MarkDirectoryChangesDelivered(ctx, in.PartnerID, in.IDs, a.cfg.Now())
}
