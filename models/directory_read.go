package models

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The read side of the partner's directory: the customer list with its filters and paging, and
// one customer with its relationships, its changes and the flows that concerned it.
//
// A relationship is active when its status is active and the latest pass still listed it (not
// gone). The filters on relationships are written with the literal status, so that the partial
// indexes of migration 00017, which name it, serve them on both databases.

// Orders of the directory's list.
const (
	// DirectoryByChanged lists the most recently changed customers first (the default).
	DirectoryByChanged = "changed"
	// DirectoryByName lists customers by company name, in the database's collation.
	DirectoryByName = "name"
)

// DirectoryOrders are the orders ListDirectory knows.
var DirectoryOrders = []string{DirectoryByChanged, DirectoryByName}

// MaxGDAPExpiringDays bounds DirectoryFilter.GDAPExpiringWithinDays: a GDAP relationship lasts
// at most two years.
const MaxGDAPExpiringDays = 730

// DirectoryFilter selects a page of the partner's directory.
type DirectoryFilter struct {
	PartnerID string
	// Search matches a prefix of the company name or of the domain, case-insensitively (on
	// SQLite, for ASCII letters only), or a tenant ID exactly.
	Search string
	// ResellerTenantID keeps the customers associated with this indirect reseller.
	ResellerTenantID string
	// GDAPExpiringWithinDays, when above zero, keeps the customers with an active relationship
	// that does not extend itself and whose end date falls before Now plus that many days (one
	// whose end date has passed while Graph still calls it active included).
	GDAPExpiringWithinDays int
	// NoGDAP keeps the customers without an active relationship.
	NoGDAP bool
	// NoAdminAccess keeps the customers without an active relationship whose access assignments
	// were counted above zero: no relationship, or only ones assigned to no security group, or
	// ones not counted yet (nothing shows that anyone can use them).
	NoAdminAccess bool
	// IncludeGone lists the customers the latest full pass no longer found too; they are left
	// out by default.
	IncludeGone bool
	// Order is DirectoryByChanged ("" too) or DirectoryByName.
	Order string
	// Now is when "within N days" starts (time.Now() when zero).
	Now    time.Time
	Limit  int
	Cursor string
}

// DirectoryAccess is what a customer's active GDAP relationships give: how many there are, the
// soonest end of one that does not extend itself, and the alerts they raise.
type DirectoryAccess struct {
	ActiveRelationships int
	// SoonestEnd is the earliest end date of an active relationship that does not extend itself
	// (nil when none).
	SoonestEnd *time.Time
	// GlobalAdmin: an active relationship holds Global Administrator.
	GlobalAdmin bool
	// NoAssignments: an active relationship's access assignments were counted, and are none.
	NoAssignments bool
	// AdminAccess: an active relationship's access assignments were counted above zero (the
	// opposite of DirectoryFilter.NoAdminAccess).
	AdminAccess bool
}

// DirectoryEntry is one customer of the directory's list.
type DirectoryEntry struct {
	DirectoryCustomer
	DirectoryAccess
}

// The caps of one customer's detail.
const (
	// MaxDirectoryChanges is how many of a customer's changes its detail shows, the newest.
	MaxDirectoryChanges = 100
	// MaxDirectoryFlowsPerKind is how many flows of each kind its detail reads, the newest.
	MaxDirectoryFlowsPerKind = 20
	// MaxDirectoryTimeline is how many steps its merged timeline keeps, the newest.
	MaxDirectoryTimeline = 500
)

// Why a flow is on a customer's detail (DirectoryFlow.MatchedBy).
const (
	MatchedByTenant   = "tenant"
	MatchedByDomain   = "domain"
	MatchedByGDAP     = "gdap"
	MatchedByReseller = "reseller"
)

// DirectoryFlow is a partnerflow flow that concerned a directory customer.
type DirectoryFlow struct {
	Kind   string
	ID     string
	Status string
	// Title names the flow as its list does: the customer's domain, or the reseller's name.
	Title string
	// MatchedBy says what ties the flow to the customer: its tenant ID, its domain, one of its
	// GDAP relationships, or its reseller.
	MatchedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DirectoryFlowStep is one step of a flow on a customer's merged timeline.
type DirectoryFlowStep struct {
	FlowKind string
	FlowID   string
	Name     string
	Detail   string
	At       time.Time
}

// DirectoryDetail is one customer of the directory with everything partnerflow knows of it.
type DirectoryDetail struct {
	Entry DirectoryEntry
	// Relationships are all its GDAP relationships, gone ones too, newest first (by activation,
	// or when first seen for one never activated).
	Relationships []DirectoryGDAP
	// Changes are its newest changes, delivered or not, newest first; ChangesTruncated says
	// there are older ones.
	Changes          []DirectoryChange
	ChangesTruncated bool
	// Flows are the flows that concerned it, newest first; Timeline their steps merged, newest
	// first. TimelineTruncated says a flow or a step was left out by the caps.
	Flows             []DirectoryFlow
	Timeline          []DirectoryFlowStep
	TimelineTruncated bool
}

// activeGDAP is the condition of an active relationship of the customer c, for subqueries.
const activeGDAP = `SELECT 1 FROM directory_gdap g WHERE g.partner_id = c.partner_id
	AND g.customer_tenant_id = c.tenant_id AND g.status = '` + GDAPActive + `' AND NOT g.gone`

// ListDirectory returns a page of the partner's directory and the cursor of the next page ("" at
// the end); a cursor this function did not make for the same order is ErrBadCursor.
func (s *Store) ListDirectory(ctx context.Context, f DirectoryFilter) ([]DirectoryEntry, string, error) {
	if f.Order == "" {
		f.Order = DirectoryByChanged
	}
	if !slices.Contains(DirectoryOrders, f.Order) {
		return nil, "", fmt.Errorf("list the directory: unknown order %q", f.Order)
	}
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxListPage {
		limit = 50
	}
	q := s.DB.WithContext(ctx).Table("directory_customers c").Select("c.*").Where("c.partner_id = ?", f.PartnerID)
	if !f.IncludeGone {
		q = q.Where("NOT c.gone")
	}
	if search := strings.TrimSpace(f.Search); search != "" {
		q = s.searchDirectory(q, search)
	}
	if f.ResellerTenantID != "" {
		q = q.Where("c.reseller_tenant_id = ?", f.ResellerTenantID)
	}
	if f.GDAPExpiringWithinDays > 0 {
		until := f.Now.UTC().Add(time.Duration(f.GDAPExpiringWithinDays) * 24 * time.Hour)
		q = q.Where("EXISTS ("+activeGDAP+" AND NOT g.auto_extend AND g.ends_at <= ?)", until)
	}
	if f.NoGDAP {
		q = q.Where("NOT EXISTS (" + activeGDAP + ")")
	}
	if f.NoAdminAccess {
		q = q.Where("NOT EXISTS (" + activeGDAP + " AND g.assignments > 0)")
	}
	if f.Cursor != "" {
		key, tenant, err := decodeDirectoryCursor(f.Cursor, f.Order)
		if err != nil {
			return nil, "", err
		}
		if f.Order == DirectoryByName {
			q = q.Where("(c.company_name, c.tenant_id) > (?, ?)", key, tenant)
		} else {
			q = q.Where("(c.changed_at, c.tenant_id) < (?, ?)", key, tenant)
		}
	}
	order := "c.changed_at DESC, c.tenant_id DESC"
	if f.Order == DirectoryByName {
		order = "c.company_name, c.tenant_id"
	}
	var customers []DirectoryCustomer
	if err := q.Order(order).Limit(limit + 1).Find(&customers).Error; err != nil {
		return nil, "", fmt.Errorf("list the directory: %w", err)
	}
	next := ""
	if len(customers) > limit {
		customers = customers[:limit]
		next = encodeDirectoryCursor(customers[limit-1], f.Order)
	}
	entries, err := s.withAccess(ctx, f.PartnerID, customers)
	if err != nil {
		return nil, "", err
	}
	return entries, next, nil
}

// searchDirectory adds the search: a prefix of the name or the domain, or the tenant ID. On
// PostgreSQL lower() matches the expression indexes (text_pattern_ops, whatever the collation);
// SQLite's LIKE ignores ASCII case by itself and uses the NOCASE indexes.
func (s *Store) searchDirectory(q *gorm.DB, search string) *gorm.DB {
	prefix := likePrefix(strings.ToLower(search))
	tenants := []string{search, strings.ToLower(search)}
	if s.Dialect == DialectPostgres {
		return q.Where(`(lower(c.company_name) LIKE ? ESCAPE '\' OR lower(c.domain) LIKE ? ESCAPE '\'`+
			` OR c.tenant_id IN ?)`, prefix, prefix, tenants)
	}
	return q.Where(`(c.company_name LIKE ? ESCAPE '\' OR c.domain LIKE ? ESCAPE '\' OR c.tenant_id IN ?)`,
		prefix, prefix, tenants)
}

// withAccess adds to each customer what its active relationships give, in one query.
func (s *Store) withAccess(ctx context.Context, partnerID string, customers []DirectoryCustomer) (
	[]DirectoryEntry, error,
) {
	entries := make([]DirectoryEntry, len(customers))
	if len(customers) == 0 {
		return entries, nil
	}
	ids := make([]string, len(customers))
	for i, c := range customers {
		ids[i] = c.TenantID
	}
	var active []DirectoryGDAP
	err := s.DB.WithContext(ctx).
		Select("customer_tenant_id", "auto_extend", "ends_at", "global_admin", "assignments").
		Where("partner_id = ? AND customer_tenant_id IN ? AND status = '"+GDAPActive+"' AND NOT gone",
			partnerID, ids).
		Find(&active).Error
	if err != nil {
		return nil, fmt.Errorf("the directory's active relationships: %w", err)
	}
	access := make(map[string]*DirectoryAccess, len(customers))
	for _, g := range active {
		a := access[g.CustomerTenantID]
		if a == nil {
			a = &DirectoryAccess{}
			access[g.CustomerTenantID] = a
		}
		a.add(g)
	}
	for i, c := range customers {
		entries[i].DirectoryCustomer = c
		if a := access[c.TenantID]; a != nil {
			entries[i].DirectoryAccess = *a
		}
	}
	return entries, nil
}

// add counts an active relationship.
func (a *DirectoryAccess) add(g DirectoryGDAP) {
	a.ActiveRelationships++
	if !g.AutoExtend && g.EndsAt != nil && (a.SoonestEnd == nil || g.EndsAt.Before(*a.SoonestEnd)) {
		end := g.EndsAt.UTC()
		a.SoonestEnd = &end
	}
	a.GlobalAdmin = a.GlobalAdmin || g.GlobalAdmin
	a.NoAssignments = a.NoAssignments || g.Assignments == 0
	a.AdminAccess = a.AdminAccess || g.Assignments > 0
}

// directoryCursor is where a page of the directory ends: the order it was made for, the last
// customer's sort key (its change time, or its name) and its tenant ID.
type directoryCursor struct {
	Order  string `json:"o"`
	Key    string `json:"k"`
	Tenant string `json:"t"`
}

func encodeDirectoryCursor(last DirectoryCustomer, order string) string {
	c := directoryCursor{Order: order, Key: last.CompanyName, Tenant: last.TenantID}
	if order == DirectoryByChanged {
		c.Key = last.ChangedAt.UTC().Format(time.RFC3339Nano)
	}
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeDirectoryCursor returns a cursor's sort key (a time for DirectoryByChanged) and tenant.
func decodeDirectoryCursor(cursor, order string) (any, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	var c directoryCursor
	// PostgreSQL refuses text holding NUL; JSON has already made the rest valid UTF-8.
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Order != order || c.Tenant == "" ||
		strings.ContainsRune(c.Key+c.Tenant, 0) {
		return nil, "", ErrBadCursor
	}
	if order == DirectoryByName {
		return c.Key, c.Tenant, nil
	}
	at, err := time.Parse(time.RFC3339Nano, c.Key)
	if err != nil || at.UTC().Year() > 9999 || at.UTC().Year() < 0 {
		return nil, "", ErrBadCursor
	}
	return at.UTC(), c.Tenant, nil
}

// DirectoryCustomerDetail returns one customer of the partner's directory, gone or not, with its
// relationships, its changes and the flows that concerned it; ErrNotFound when the directory
// never listed it. The flows are the invitations of its domain, its tenant or one of its GDAP
// relationships; the onboardings of its tenant or its domain; and the removals of its reseller's
// partnership. Their timelines are the flows' own (Store.Steps), merged.
func (s *Store) DirectoryCustomerDetail(ctx context.Context, partnerID, tenantID string) (*DirectoryDetail, error) {
	db := s.DB.WithContext(ctx)
	var customer DirectoryCustomer
	err := db.Where("partner_id = ? AND tenant_id = ?", partnerID, tenantID).First(&customer).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("the directory's customer %s: %w", tenantID, err)
	}
	d := &DirectoryDetail{}
	entries, err := s.withAccess(ctx, partnerID, []DirectoryCustomer{customer})
	if err != nil {
		return nil, err
	}
	d.Entry = entries[0]
	if err := db.Where("partner_id = ? AND customer_tenant_id = ?", partnerID, tenantID).
		Find(&d.Relationships).Error; err != nil {
		return nil, fmt.Errorf("the relationships of customer %s: %w", tenantID, err)
	}
	slices.SortStableFunc(d.Relationships, func(a, b DirectoryGDAP) int {
		if c := gdapSince(b).Compare(gdapSince(a)); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if err := db.Where("partner_id = ? AND customer_tenant_id = ?", partnerID, tenantID).
		Order("id DESC").Limit(MaxDirectoryChanges + 1).Find(&d.Changes).Error; err != nil {
		return nil, fmt.Errorf("the changes of customer %s: %w", tenantID, err)
	}
	if len(d.Changes) > MaxDirectoryChanges {
		d.Changes, d.ChangesTruncated = d.Changes[:MaxDirectoryChanges], true
	}
	if err := s.directoryFlows(ctx, d); err != nil {
		return nil, fmt.Errorf("the flows of customer %s: %w", tenantID, err)
	}
	return d, nil
}

// gdapSince is when a relationship began, as far as the directory knows.
func gdapSince(g DirectoryGDAP) time.Time {
	if g.ActivatedAt != nil {
		return *g.ActivatedAt
	}
	return g.FirstSeenAt
}

// directoryFlows finds the flows that concerned the detail's customer and merges their
// timelines.
func (s *Store) directoryFlows(ctx context.Context, d *DirectoryDetail) error {
	c := d.Entry.DirectoryCustomer
	domain := strings.ToLower(strings.TrimSpace(c.Domain))
	gdapIDs := make([]string, 0, len(d.Relationships))
	for _, g := range d.Relationships {
		gdapIDs = append(gdapIDs, g.ID)
	}
	// A session, so that each kind's query starts from the partner's condition alone.
	db := s.DB.WithContext(ctx).Where("partner_id = ?", c.PartnerID).Session(&gorm.Session{})
	var (
		invitations []Invitation
		onboardings []Onboarding
		removals    []Removal
		more        bool
		err         error
	)
	cond, args := anyOf("customer_tenant_id = ?", c.TenantID, "customer_domain = ?", domain,
		"gdap_relationship_id IN ?", gdapIDs)
	if cond != "" {
		if invitations, more, err = newestFlows[Invitation](db.Where(cond, args...)); err != nil {
			return err
		}
		d.TimelineTruncated = d.TimelineTruncated || more
	}
	for _, inv := range invitations {
		match := MatchedByDomain
		switch {
		case inv.CustomerTenantID != "" && inv.CustomerTenantID == c.TenantID:
			match = MatchedByTenant
		case inv.GDAPRelationshipID != "" && slices.Contains(gdapIDs, inv.GDAPRelationshipID):
			match = MatchedByGDAP
		}
		d.Flows = append(d.Flows, DirectoryFlow{Kind: KindInvitation, ID: inv.ID, Status: inv.Status,
			Title: inv.CustomerDomain, MatchedBy: match, CreatedAt: inv.CreatedAt, UpdatedAt: inv.UpdatedAt})
	}

	if cond, args := anyOf("customer_tenant_id = ?", c.TenantID, "domain = ?", domain); cond != "" {
		if onboardings, more, err = newestFlows[Onboarding](db.Where(cond, args...)); err != nil {
			return err
		}
		d.TimelineTruncated = d.TimelineTruncated || more
	}
	for _, o := range onboardings {
		match := MatchedByDomain
		if o.CustomerTenantID != "" && o.CustomerTenantID == c.TenantID {
			match = MatchedByTenant
		}
		d.Flows = append(d.Flows, DirectoryFlow{Kind: KindOnboarding, ID: o.ID, Status: o.Status, Title: o.Domain,
			MatchedBy: match, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt})
	}

	if c.ResellerTenantID != "" {
		removals, more, err = newestFlows[Removal](db.Where("reseller_tenant_id = ?", c.ResellerTenantID))
		if err != nil {
			return err
		}
		d.TimelineTruncated = d.TimelineTruncated || more
	}
	for _, r := range removals {
		d.Flows = append(d.Flows, DirectoryFlow{Kind: KindRemoval, ID: r.ID, Status: r.Status, Title: r.ResellerName,
			MatchedBy: MatchedByReseller, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt})
	}

	slices.SortStableFunc(d.Flows, func(a, b DirectoryFlow) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	for _, f := range d.Flows {
		steps, next, err := s.Steps(ctx, f.Kind, f.ID, "", MaxStepPage)
		if err != nil {
			return err
		}
		d.TimelineTruncated = d.TimelineTruncated || next != ""
		for _, st := range steps {
			d.Timeline = append(d.Timeline, DirectoryFlowStep{FlowKind: f.Kind, FlowID: f.ID, Name: st.Name,
				Detail: st.Detail, At: st.At.UTC()})
		}
	}
	slices.SortStableFunc(d.Timeline, func(a, b DirectoryFlowStep) int {
		return b.At.Compare(a.At)
	})
	if len(d.Timeline) > MaxDirectoryTimeline {
		d.Timeline, d.TimelineTruncated = d.Timeline[:MaxDirectoryTimeline], true
	}
	return nil
}

// anyOf joins with OR the conditions whose argument is not empty (a string or a slice), with
// their arguments; "" when every argument is empty, so that nothing matches an empty domain.
func anyOf(pairs ...any) (string, []any) {
	var conds []string
	var args []any
	for i := 0; i+1 < len(pairs); i += 2 {
		switch v := pairs[i+1].(type) {
		case string:
			if v == "" {
				continue
			}
		case []string:
			if len(v) == 0 {
				continue
			}
		}
		conds, args = append(conds, pairs[i].(string)), append(args, pairs[i+1])
	}
	if len(conds) == 0 {
		return "", nil
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}

// newestFlows reads the newest MaxDirectoryFlowsPerKind flows q selects, and whether there are
// more.
func newestFlows[R FlowRow](q *gorm.DB) ([]R, bool, error) {
	var rows []R
	if err := q.Order("created_at DESC, id DESC").Limit(MaxDirectoryFlowsPerKind + 1).Find(&rows).Error; err != nil {
		return nil, false, err
	}
	if len(rows) > MaxDirectoryFlowsPerKind {
		return rows[:MaxDirectoryFlowsPerKind], true, nil
	}
	return rows, false, nil
}
