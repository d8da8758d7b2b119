package api

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// The customer directory: every customer of the partner as the estate sync last read it from
// Partner Center and Microsoft Graph, whoever made it, with its GDAP relationships, its changes
// and the partnerflow flows that concerned it. The JSON API and the dashboard read it alike; the
// sync (models/directory.go) writes it.

// The directory's pages join the others, each parsed with the shared layout.
func init() {
	maps.Copy(pageTemplates, parsePages("directory", "directory_customer"))
}

// directoryRoutes registers the directory's JSON API and pages; its section follows the flows'
// in the dashboard's navigation.
func (s *Server) directoryRoutes(root, v1 *gin.RouterGroup) {
	reader := keyRule(anyRole...)
	s.handle(v1, "GET", "/directory", reader, s.listDirectory)
	s.handle(v1, "GET", "/directory/sync", reader, s.getDirectorySync)
	s.handle(v1, "POST", "/directory/sync", keyRule(adminRoles...), s.startDirectorySync)
	s.handle(v1, "GET", "/directory/:tenantId", reader, s.getDirectoryCustomer)
	s.addSection("directory", "Directory", "/directory")
	s.handle(root, "GET", "/directory", sessionRule(), s.directoryPage)
	s.handle(root, "GET", "/directory/:tenantId", sessionRule(), s.directoryCustomerPage)
}

// maxDirectorySearch bounds the search text.
const maxDirectorySearch = 200

// directoryFilter reads the list's query parameters (search, reseller, gdapExpiringWithinDays,
// noGdap, noAdminAccess, includeGone, sort, limit, cursor), naming the parameter a bad value
// came in. The JSON API and the dashboard read their filters here alike.
func (s *Server) directoryFilter(c *gin.Context, limit int) (models.DirectoryFilter, error) {
	f := models.DirectoryFilter{PartnerID: s.flows.PartnerID, Now: s.flows.Now(), Cursor: c.Query("cursor")}
	f.Search = strings.TrimSpace(c.Query("search"))
	switch {
	case !plainText(f.Search):
		return f, Invalid("search", "must be text without control characters")
	case utf8.RuneCountInString(f.Search) > maxDirectorySearch:
		return f, Invalid("search", "must be at most %d characters", maxDirectorySearch)
	}
	f.ResellerTenantID = strings.ToLower(strings.TrimSpace(c.Query("reseller")))
	if f.ResellerTenantID != "" && !guidPattern.MatchString(f.ResellerTenantID) {
		return f, Invalid("reseller", "must be the reseller's tenant ID, a GUID such as "+
			"7e5e1100-0000-4000-8000-000000000001")
	}
	if raw := c.Query("gdapExpiringWithinDays"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > models.MaxGDAPExpiringDays {
			return f, Invalid("gdapExpiringWithinDays", "must be a whole number of days from 1 to %d",
				models.MaxGDAPExpiringDays)
		}
		f.GDAPExpiringWithinDays = n
	}
	var err error
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"noGdap", &f.NoGDAP}, {"noAdminAccess", &f.NoAdminAccess}, {"includeGone", &f.IncludeGone}} {
		if *b.dst, err = boolQuery(c, b.name); err != nil {
			return f, err
		}
	}
	switch f.Order = c.Query("sort"); f.Order {
	case "", models.DirectoryByChanged, models.DirectoryByName:
	default:
		return f, Invalid("sort", "must be %s or %s", models.DirectoryByChanged, models.DirectoryByName)
	}
	if f.Limit, err = limitQuery(c, limit, maxListLimit); err != nil {
		return f, err
	}
	return f, nil
}

// plainText reports whether s is UTF-8 text without control characters (which the databases
// refuse, or no name holds).
func plainText(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// boolQuery reads a true-or-false query parameter; absent is false.
func boolQuery(c *gin.Context, name string) (bool, error) {
	switch c.Query(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, Invalid(name, "must be true or false")
}

// directoryQuery is the filter as query parameters, for the next page's link.
func directoryQuery(f models.DirectoryFilter) url.Values {
	q := url.Values{}
	set := func(name, value string) {
		if value != "" {
			q.Set(name, value)
		}
	}
	set("search", f.Search)
	set("reseller", f.ResellerTenantID)
	if f.GDAPExpiringWithinDays > 0 {
		q.Set("gdapExpiringWithinDays", strconv.Itoa(f.GDAPExpiringWithinDays))
	}
	for name, on := range map[string]bool{"noGdap": f.NoGDAP, "noAdminAccess": f.NoAdminAccess,
		"includeGone": f.IncludeGone} {
		if on {
			q.Set(name, "true")
		}
	}
	if f.Order != models.DirectoryByChanged {
		set("sort", f.Order)
	}
	set("cursor", f.Cursor)
	return q
}

// directoryEntryView is one customer of the directory, with what its active relationships give.
type directoryEntryView struct {
	TenantID     string `json:"tenantId"`
	CompanyName  string `json:"companyName"`
	Domain       string `json:"domain"`
	Relationship string `json:"relationship"`
	// ResellerTenantID is the indirect reseller the customer is associated with ("" when none).
	ResellerTenantID string    `json:"resellerTenantId"`
	Gone             bool      `json:"gone"`
	FirstSeenAt      time.Time `json:"firstSeenAt"`
	SeenAt           time.Time `json:"seenAt"`
	ChangedAt        time.Time `json:"changedAt"`
	// ActiveRelationships counts its active GDAP relationships; SoonestEndsAt is the earliest end
	// of one that does not extend itself.
	ActiveRelationships int        `json:"activeRelationships"`
	SoonestEndsAt       *time.Time `json:"soonestEndsAt,omitempty"`
	GlobalAdmin         bool       `json:"globalAdmin"`
	NoAssignments       bool       `json:"noAssignments"`
	AdminAccess         bool       `json:"adminAccess"`
}

func viewDirectoryEntry(e models.DirectoryEntry) directoryEntryView {
	return directoryEntryView{
		TenantID: e.TenantID, CompanyName: e.CompanyName, Domain: e.Domain, Relationship: e.Relationship,
		ResellerTenantID: e.ResellerTenantID, Gone: e.Gone, FirstSeenAt: e.FirstSeenAt.UTC(), SeenAt: e.SeenAt.UTC(),
		ChangedAt: e.ChangedAt.UTC(), ActiveRelationships: e.ActiveRelationships, SoonestEndsAt: utcOrNil(e.SoonestEnd),
		GlobalAdmin: e.GlobalAdmin, NoAssignments: e.NoAssignments, AdminAccess: e.AdminAccess,
	}
}

// listDirectory serves GET /v1/directory: a page of the directory.
func (s *Server) listDirectory(c *gin.Context) {
	f, err := s.directoryFilter(c, defaultListLimit)
	if err != nil {
		writeError(c, err)
		return
	}
	entries, next, err := s.store.ListDirectory(c.Request.Context(), f)
	if err != nil {
		writeError(c, err)
		return
	}
	items := make([]directoryEntryView, len(entries))
	for i, e := range entries {
		items[i] = viewDirectoryEntry(e)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "nextCursor": next})
}

// directorySyncView is the partner's estate sync: the pass under way, the last one completed
// and what it counted; all zero before the first pass.
type directorySyncView struct {
	Pass          int64      `json:"pass"`
	StartedAt     *time.Time `json:"startedAt,omitempty"`
	CompletedPass int64      `json:"completedPass"`
	CompletedAt   *time.Time `json:"completedAt,omitempty"`
	Customers     int        `json:"customers"`
	Relationships int        `json:"relationships"`
	LastError     string     `json:"lastError"`
}

// directorySync reads the partner's sync; a partner never synced has the zero sync.
func (s *Server) directorySync(c *gin.Context) (directorySyncView, error) {
	d, err := s.store.DirectorySyncOf(c.Request.Context(), s.flows.PartnerID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return directorySyncView{}, nil
	case err != nil:
		return directorySyncView{}, err
	}
	return directorySyncView{
		Pass: d.Pass, StartedAt: utcOrNil(d.StartedAt), CompletedPass: d.CompletedPass,
		CompletedAt: utcOrNil(d.CompletedAt), Customers: d.Customers, Relationships: d.Relationships,
		LastError: d.LastError,
	}, nil
}

// getDirectorySync serves GET /v1/directory/sync.
func (s *Server) getDirectorySync(c *gin.Context) {
	v, err := s.directorySync(c)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// gdapView is one GDAP relationship of a directory customer.
type gdapView struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Status      string `json:"status"`
	// Active: the status is active and the latest pass still listed the relationship.
	Active bool `json:"active"`
	// Roles are the relationship's role definition IDs.
	Roles       []string   `json:"roles"`
	GlobalAdmin bool       `json:"globalAdmin"`
	AutoExtend  bool       `json:"autoExtend"`
	ActivatedAt *time.Time `json:"activatedAt,omitempty"`
	EndsAt      *time.Time `json:"endsAt,omitempty"`
	// Assignments counts its access assignments; absent while not counted.
	Assignments *int      `json:"assignments,omitempty"`
	Gone        bool      `json:"gone"`
	FirstSeenAt time.Time `json:"firstSeenAt"`
	SeenAt      time.Time `json:"seenAt"`
	ChangedAt   time.Time `json:"changedAt"`
}

func viewGDAP(g models.DirectoryGDAP) gdapView {
	v := gdapView{
		ID: g.ID, DisplayName: g.DisplayName, Status: g.Status, Active: g.Status == models.GDAPActive && !g.Gone,
		Roles: []string{}, GlobalAdmin: g.GlobalAdmin, AutoExtend: g.AutoExtend, ActivatedAt: utcOrNil(g.ActivatedAt),
		EndsAt: utcOrNil(g.EndsAt), Gone: g.Gone, FirstSeenAt: g.FirstSeenAt.UTC(), SeenAt: g.SeenAt.UTC(),
		ChangedAt: g.ChangedAt.UTC(),
	}
	for _, r := range strings.Split(g.Roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			v.Roles = append(v.Roles, r)
		}
	}
	if g.Assignments >= 0 {
		n := g.Assignments
		v.Assignments = &n
	}
	return v
}

// directoryChangeView is one change the sync found.
type directoryChangeView struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	SubjectID   string     `json:"subjectId"`
	Detail      string     `json:"detail"`
	CreatedAt   time.Time  `json:"createdAt"`
	DeliveredAt *time.Time `json:"deliveredAt,omitempty"`
}

// directoryFlowView is a flow that concerned the customer, and where the API shows it.
type directoryFlowView struct {
	Kind      string    `json:"kind"`
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Title     string    `json:"title"`
	MatchedBy string    `json:"matchedBy"`
	Path      string    `json:"path"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// directoryStepView is one step of the customer's merged timeline.
type directoryStepView struct {
	FlowKind string    `json:"flowKind"`
	FlowID   string    `json:"flowId"`
	Name     string    `json:"name"`
	Detail   string    `json:"detail,omitempty"`
	At       time.Time `json:"at"`
}

// directoryDetailView is one customer of the directory with everything partnerflow knows of it.
type directoryDetailView struct {
	Customer      directoryEntryView `json:"customer"`
	Relationships []gdapView         `json:"relationships"`
	// Subscriptions are the customer's as of its latest listing; SubscriptionsRead says when that
	// was, or why Partner Center refused (absent while the sync has not read them).
	Subscriptions     []directorySubscriptionView `json:"subscriptions"`
	SubscriptionsRead *subscriptionsReadView      `json:"subscriptionsRead,omitempty"`
	Changes           []directoryChangeView       `json:"changes"`
	ChangesTruncated  bool                        `json:"changesTruncated"`
	Flows             []directoryFlowView         `json:"flows"`
	Timeline          []directoryStepView         `json:"timeline"`
	TimelineTruncated bool                        `json:"timelineTruncated"`
}

// flowPaths are where each flow kind's flow is shown: its JSON detail and its dashboard page.
var flowPaths = map[string]struct{ api, page string }{
	models.KindInvitation: {"/v1/invitations/", "/invitations/"},
	models.KindOnboarding: {"/v1/onboardings/", "/customers/"},
	models.KindRemoval:    {"/v1/removals/", "/removals/"},
	models.KindReseller:   {"/v1/resellers/", "/resellers/"},
}

// directoryCustomer loads the customer named by the :tenantId parameter; one the directory never
// listed (or a parameter no database could hold) is the directory's not-found problem.
func (s *Server) directoryCustomer(c *gin.Context) (*models.DirectoryDetail, error) {
	tenant := c.Param("tenantId")
	if !plainText(tenant) {
		return nil, problemDirectoryNotFound()
	}
	d, err := s.store.DirectoryCustomerDetail(c.Request.Context(), s.flows.PartnerID, tenant)
	if errors.Is(err, models.ErrNotFound) {
		return nil, problemDirectoryNotFound()
	}
	return d, err
}

func problemDirectoryNotFound() *Problem {
	p := problemNotFound()
	p.Detail = "the directory lists no customer with this tenant ID"
	p.cause = models.ErrNotFound
	return p
}

// getDirectoryCustomer serves GET /v1/directory/{tenantId}.
func (s *Server) getDirectoryCustomer(c *gin.Context) {
	d, err := s.directoryCustomer(c)
	if err != nil {
		writeError(c, err)
		return
	}
	v := directoryDetailView{
		Customer: viewDirectoryEntry(d.Entry), Relationships: make([]gdapView, len(d.Relationships)),
		Changes: make([]directoryChangeView, len(d.Changes)), ChangesTruncated: d.ChangesTruncated,
		Flows: make([]directoryFlowView, len(d.Flows)), Timeline: make([]directoryStepView, len(d.Timeline)),
		TimelineTruncated: d.TimelineTruncated,
	}
	for i, g := range d.Relationships {
		v.Relationships[i] = viewGDAP(g)
	}
	if v.Subscriptions, v.SubscriptionsRead, err = s.customerSubscriptions(c.Request.Context(),
		d.Entry.TenantID); err != nil {
		writeError(c, err)
		return
	}
	for i, ch := range d.Changes {
		v.Changes[i] = directoryChangeView{ID: ch.ID, Kind: ch.Kind, SubjectID: ch.SubjectID, Detail: ch.Detail,
			CreatedAt: ch.CreatedAt.UTC(), DeliveredAt: utcOrNil(ch.DeliveredAt)}
	}
	for i, f := range d.Flows {
		v.Flows[i] = directoryFlowView{Kind: f.Kind, ID: f.ID, Status: f.Status, Title: f.Title,
			MatchedBy: f.MatchedBy, Path: flowPaths[f.Kind].api + f.ID, CreatedAt: f.CreatedAt.UTC(),
			UpdatedAt: f.UpdatedAt.UTC()}
	}
	for i, st := range d.Timeline {
		v.Timeline[i] = directoryStepView{FlowKind: st.FlowKind, FlowID: st.FlowID, Name: st.Name, Detail: st.Detail,
			At: st.At.UTC()}
	}
	c.JSON(http.StatusOK, v)
}

// The dashboard's pages.

// directoryExpirySoon is how close an end date is shown as a warning on the pages.
const directoryExpirySoon = 30 * 24 * time.Hour

// directoryBadge is a labelled badge; Class picks its colour (base.html's badge classes).
type directoryBadge struct {
	Label string
	Class string
}

// directoryRow is one customer in the directory's list page.
type directoryRow struct {
	TenantID      string
	Link          string
	Name          string
	Domain        string
	Reseller      string
	Relationships string
	SoonestEnd    string
	Changed       string
	Badges        []directoryBadge
}

// directoryListPage is the directory's list with its filters.
type directoryListPage struct {
	pageFrame
	Sync          []string
	SyncError     string
	Notice        string
	Search        string
	Reseller      string
	Expiring      string
	NoGDAP        bool
	NoAdminAccess bool
	IncludeGone   bool
	ByName        bool
	MaxDays       int
	Rows          []directoryRow
	NextURL       string
	Filtered      bool
}

// directoryPage serves /directory. It reads the filter as the JSON API does; a bad filter
// becomes a notice and the unfiltered first page rather than an error page.
func (s *Server) directoryPage(c *gin.Context) {
	p := directoryListPage{pageFrame: s.dashboardFrame(c, "Directory"), MaxDays: models.MaxGDAPExpiringDays}
	p.Nav = "directory"
	ctx := c.Request.Context()
	f, err := s.directoryFilter(c, dashboardPageSize)
	if bad := problemFor(err); bad != nil {
		p.Notice = "Ignored " + bad.Field + ": " + bad.Detail + "."
		f = models.DirectoryFilter{PartnerID: s.flows.PartnerID, Now: s.flows.Now(), Limit: dashboardPageSize}
	}
	entries, next, err := s.store.ListDirectory(ctx, f)
	if errors.Is(err, models.ErrBadCursor) {
		p.Notice = "That page link is not valid; showing the first page."
		f.Cursor = ""
		entries, next, err = s.store.ListDirectory(ctx, f)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	sync, err := s.directorySync(c)
	if err != nil {
		writeError(c, err)
		return
	}
	now := s.flows.Now()
	p.Sync, p.SyncError = syncText(sync, now)
	p.Search, p.Reseller, p.NoGDAP, p.NoAdminAccess, p.IncludeGone = f.Search, f.ResellerTenantID, f.NoGDAP,
		f.NoAdminAccess, f.IncludeGone
	p.ByName = f.Order == models.DirectoryByName
	if f.GDAPExpiringWithinDays > 0 {
		p.Expiring = strconv.Itoa(f.GDAPExpiringWithinDays)
	}
	p.Filtered = f.Search != "" || f.ResellerTenantID != "" || f.GDAPExpiringWithinDays > 0 || f.NoGDAP ||
		f.NoAdminAccess
	for _, e := range entries {
		p.Rows = append(p.Rows, directoryListRow(e, now))
	}
	if next != "" {
		f.Cursor = next
		q := directoryQuery(f)
		if f.Limit != dashboardPageSize {
			q.Set("limit", strconv.Itoa(f.Limit))
		}
		p.NextURL = "/directory?" + q.Encode()
	}
	s.renderPage(c, http.StatusOK, "directory", p)
}

// syncText says where the estate sync is, and why it stopped when it did.
func syncText(d directorySyncView, now time.Time) ([]string, string) {
	var lines []string
	if d.CompletedAt == nil {
		lines = append(lines, "The directory has not been read yet: the estate sync fills it from Partner Center "+
			"and Microsoft Graph.")
	} else {
		lines = append(lines, "Last full read (pass "+strconv.FormatInt(d.CompletedPass, 10)+") "+
			d.CompletedAt.Format(stepTimeLayout)+" ("+agoText(now, *d.CompletedAt)+"): "+
			countOf(int64(d.Customers), "customer", "customers")+", "+
			countOf(int64(d.Relationships), "GDAP relationship", "GDAP relationships")+".")
	}
	if d.Pass > d.CompletedPass && d.StartedAt != nil {
		lines = append(lines, "Pass "+strconv.FormatInt(d.Pass, 10)+" under way since "+
			d.StartedAt.Format(stepTimeLayout)+".")
	}
	if d.LastError != "" {
		return lines, "The sync stopped: " + d.LastError
	}
	return lines, ""
}

func directoryListRow(e models.DirectoryEntry, now time.Time) directoryRow {
	r := directoryRow{
		TenantID: e.TenantID, Link: "/directory/" + url.PathEscape(e.TenantID), Name: e.CompanyName,
		Domain: e.Domain, Reseller: e.ResellerTenantID, Relationships: strconv.Itoa(e.ActiveRelationships),
		SoonestEnd: "—", Changed: agoText(now, e.ChangedAt),
	}
	if r.Name == "" {
		r.Name = e.TenantID
	}
	if r.Reseller == "" {
		r.Reseller = "direct"
	}
	if e.SoonestEnd != nil {
		r.SoonestEnd = e.SoonestEnd.Format(time.DateOnly)
	}
	r.Badges = accessBadges(e, now)
	return r
}

// accessBadges are a customer's alerts as badges.
func accessBadges(e models.DirectoryEntry, now time.Time) []directoryBadge {
	var out []directoryBadge
	if e.Gone {
		out = append(out, directoryBadge{"gone", "cancelled"})
	}
	if e.ActiveRelationships == 0 {
		out = append(out, directoryBadge{"no GDAP", "pending"})
	} else if !e.AdminAccess {
		out = append(out, directoryBadge{"no admin access", "pending"})
	}
	if e.SoonestEnd != nil && e.SoonestEnd.Sub(now) <= directoryExpirySoon {
		out = append(out, directoryBadge{untilText(now, *e.SoonestEnd), "pending"})
	}
	if e.GlobalAdmin {
		out = append(out, directoryBadge{"Global Administrator", "failed"})
	}
	if e.NoAssignments {
		out = append(out, directoryBadge{"no assignments", "failed"})
	}
	return out
}

// gdapRow is one GDAP relationship on a customer's page.
type gdapRow struct {
	ID          string
	Name        string
	Status      string
	StatusClass string
	Ends        string
	EndsSoon    bool
	AutoExtend  string
	Assignments string
	GlobalAdmin bool
	Unassigned  bool
	Gone        bool
}

// changeRow is one change on a customer's page.
type changeRow struct {
	Kind      string
	Detail    string
	At        string
	Delivered string
}

// directoryFlowRow is one flow on a customer's page.
type directoryFlowRow struct {
	Kind      string
	ID        string
	Link      string
	Title     string
	Status    string
	MatchedBy string
	Created   string
}

// directoryStepRow is one step of the customer's merged timeline.
type directoryStepRow struct {
	FlowKind string
	FlowID   string
	Link     string
	Name     string
	Detail   string
	At       string
}

// directoryCustomerPage is one customer's page.
type directoryCustomerPage struct {
	pageFrame
	Heading           string
	Facts             []fact
	Badges            []directoryBadge
	Relationships     []gdapRow
	Subscriptions     []directorySubscriptionRow
	SubscriptionsRead string
	// SubscriptionsRefused says Partner Center refused the latest read of them.
	SubscriptionsRefused bool
	Changes              []changeRow
	ChangesTruncated     bool
	Flows                []directoryFlowRow
	Steps                []directoryStepRow
	TimelineTruncated    bool
}

// matchedByText says on the page what ties a flow to the customer.
var matchedByText = map[string]string{
	models.MatchedByTenant:   "its tenant",
	models.MatchedByDomain:   "its domain",
	models.MatchedByGDAP:     "one of its GDAP relationships",
	models.MatchedByReseller: "its reseller",
}

// directoryCustomerPage serves /directory/{tenantId}.
func (s *Server) directoryCustomerPage(c *gin.Context) {
	d, err := s.directoryCustomer(c)
	if errors.Is(err, models.ErrNotFound) {
		s.writePageProblem(c, err, false, s.dashboardFrame(c, "Not found"))
		return
	}
	if err != nil {
		writeError(c, err)
		return
	}
	now := s.flows.Now()
	e := d.Entry
	heading := e.CompanyName
	if heading == "" {
		heading = e.TenantID
	}
	p := directoryCustomerPage{pageFrame: s.dashboardFrame(c, heading), Heading: heading,
		Badges: accessBadges(e, now), ChangesTruncated: d.ChangesTruncated, TimelineTruncated: d.TimelineTruncated}
	p.Nav = "directory"
	reseller := "direct (no indirect reseller)"
	if e.ResellerTenantID != "" {
		reseller = e.ResellerTenantID
	}
	p.Facts = []fact{
		{Label: "Tenant ID", ID: "tenant-id", Value: e.TenantID, Code: true},
		{Label: "Domain", ID: "domain", Value: e.Domain},
		{Label: "Relationship", Value: e.Relationship},
		{Label: "Reseller", ID: "reseller", Value: reseller, Code: e.ResellerTenantID != ""},
		{Label: "Active GDAP", ID: "active-gdap", Value: plural(e.ActiveRelationships, "relationship")},
		{Label: "First seen", Value: e.FirstSeenAt.UTC().Format(stepTimeLayout)},
		{Label: "Last seen", Value: e.SeenAt.UTC().Format(stepTimeLayout) + " (" + agoText(now, e.SeenAt) + ")"},
		{Label: "Last changed", Value: e.ChangedAt.UTC().Format(stepTimeLayout)},
	}
	if e.Gone {
		p.Facts = append(p.Facts, fact{Label: "Gone", ID: "gone", Err: true,
			Value: "the latest full read of Partner Center no longer lists this customer"})
	}
	for _, g := range d.Relationships {
		p.Relationships = append(p.Relationships, viewGDAPRow(g, now))
	}
	subs, read, err := s.customerSubscriptions(c.Request.Context(), e.TenantID)
	if err != nil {
		writeError(c, err)
		return
	}
	for _, sub := range subs {
		p.Subscriptions = append(p.Subscriptions, viewDirectorySubscriptionRow(sub))
	}
	p.SubscriptionsRead, p.SubscriptionsRefused = subscriptionsReadText(read, now)
	for _, ch := range d.Changes {
		row := changeRow{Kind: strings.TrimPrefix(ch.Kind, models.KindDirectory+"."), Detail: ch.Detail,
			At: ch.CreatedAt.UTC().Format(stepTimeLayout), Delivered: "not yet"}
		if ch.DeliveredAt != nil {
			row.Delivered = ch.DeliveredAt.UTC().Format(stepTimeLayout)
		}
		p.Changes = append(p.Changes, row)
	}
	for _, f := range d.Flows {
		p.Flows = append(p.Flows, directoryFlowRow{Kind: f.Kind, ID: f.ID, Link: flowPaths[f.Kind].page + f.ID,
			Title: f.Title, Status: f.Status, MatchedBy: matchedByText[f.MatchedBy],
			Created: f.CreatedAt.UTC().Format(stepTimeLayout)})
	}
	for _, st := range d.Timeline {
		p.Steps = append(p.Steps, directoryStepRow{FlowKind: st.FlowKind, FlowID: st.FlowID,
			Link: flowPaths[st.FlowKind].page + st.FlowID, Name: st.Name, Detail: st.Detail,
			At: st.At.Format(stepTimeLayout)})
	}
	s.renderPage(c, http.StatusOK, "directory_customer", p)
}

func viewGDAPRow(g models.DirectoryGDAP, now time.Time) gdapRow {
	r := gdapRow{ID: g.ID, Name: g.DisplayName, Status: g.Status, StatusClass: "pending", Ends: "—",
		AutoExtend: "no", Assignments: "not counted yet", GlobalAdmin: g.GlobalAdmin, Gone: g.Gone}
	switch {
	case g.Gone:
		r.StatusClass = "cancelled"
	case g.Status == models.GDAPActive:
		r.StatusClass = "active"
	case models.GDAPEnded(g.Status):
		r.StatusClass = "expired"
	}
	if r.Name == "" {
		r.Name = g.ID
	}
	if g.EndsAt != nil {
		r.Ends = g.EndsAt.UTC().Format(time.DateOnly)
		r.EndsSoon = g.Status == models.GDAPActive && !g.Gone && !g.AutoExtend &&
			g.EndsAt.Sub(now) <= directoryExpirySoon
		if r.EndsSoon {
			r.Ends += " (" + untilText(now, *g.EndsAt) + ")"
		}
	}
	if g.AutoExtend {
		r.AutoExtend = "yes"
	}
	if g.Assignments >= 0 {
		r.Assignments = strconv.Itoa(g.Assignments)
		r.Unassigned = g.Assignments == 0 && g.Status == models.GDAPActive && !g.Gone
	}
	return r
}

// signalEstateSync starts the estate sync's next pass now (or the one after the pass running).
func (s *Server) signalEstateSync(ctx context.Context) error {
	if s.temporal == nil {
		return errors.New("signal the estate sync: Temporal is not configured")
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return s.temporal.SignalWorkflow(ctx, workflows.EstateSyncWorkflowID(s.flows.PartnerID), "",
		workflows.SignalSyncNow, nil)
}

// startDirectorySync serves POST /v1/directory/sync: the estate sync starts its next pass now,
// or, while a pass runs, the one after it. 202 with the sync as it stands.
func (s *Server) startDirectorySync(c *gin.Context) {
	if s.temporal == nil {
		writeError(c, problemUnavailable("Temporal is not configured"))
		return
	}
	err := s.signalEstateSync(c.Request.Context())
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		writeProblem(c, NewProblem(http.StatusConflict, "sync-not-running", "The estate sync is not running",
			"no worker has started the estate sync: it starts with `partnerflow worker` (and dev) unless "+
				"PARTNERFLOW_ESTATE_SYNC_EVERY is 0"))
		return
	case err != nil:
		c.Set(ctxError, err)
		writeProblem(c, problemUnavailable("the estate sync could not be reached; try again"))
		return
	}
	v, err := s.directorySync(c)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, v)
}
