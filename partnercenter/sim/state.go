package sim

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// Time-based rules, applied lazily at read time from stored timestamps so
// they hold across restarts.
const (
	gdapApprovalWindow = 90 * 24 * time.Hour
	cartLifetime       = 7 * 24 * time.Hour
	autoExtendStep     = 180 * 24 * time.Hour
)

// MCATemplateID is the Microsoft Customer Agreement template the simulator
// offers (the ID of Microsoft's documented example).
const MCATemplateID = "117a77b0-9360-443b-8795-c6dedc750cf9"

// User is a user of a simulated tenant.
type User struct {
	UPN         string `json:"upn"`
	GlobalAdmin bool   `json:"globalAdmin"`
	// AppRoles are the values of the app roles the user is assigned on partnerflow's app: its ID
	// tokens carry them in the roles claim, as Entra's do for an app's assigned roles.
	AppRoles []string `json:"appRoles,omitempty"`
}

// Tenant is a simulated Entra tenant: a customer or a reseller partner.
type Tenant struct {
	ID          string `json:"tenantId"`
	Domain      string `json:"domain"`
	Country     string `json:"country"`
	CompanyName string `json:"companyName"`
	Users       []User `json:"users"`
	Partner     bool   `json:"partner"`
	CreatedAt   time.Time
	// CustomDomains are the tenant's verified domains besides its initial
	// *.onmicrosoft.com one (Domain): findTenantInformationByDomainName resolves
	// them, and a customer's customDomains lists them. A domain is verified in
	// one tenant only.
	CustomDomains []string `json:"customDomains,omitempty"`
	// Customer side: relationship to the home partner, and the indirect
	// reseller the customer is associated with.
	Relationship        string            `json:"relationshipToPartner,omitempty"`
	AssociatedPartnerID string            `json:"associatedPartnerId,omitempty"`
	BillingProfile      pc.BillingProfile `json:"billingProfile,omitzero"`
	OrgRegistration     string            `json:"organizationRegistrationNumber,omitempty"`
	// AllowDelegatedAccess: the customer granted the home partner DAP
	// (legacy; customers created through the API never do, see createCustomer).
	AllowDelegatedAccess bool `json:"allowDelegatedAccess,omitempty"`
	// EnableGDAPByDefault is what the create-customer request asked for (true
	// when it did not say).
	EnableGDAPByDefault bool `json:"enableGDAPByDefault,omitempty"`
	// Cloud is the Microsoft cloud the tenant lives in: "" or CloudPublic for
	// the public cloud, CloudUSGov for Microsoft Cloud for US Government. No
	// documented Partner Center field carries it; /sim/tenants shows it.
	Cloud string `json:"cloud,omitempty"`
	// Partner side.
	MPNID              string `json:"mpnId,omitempty"`
	AgreementSigned    bool   `json:"agreementSigned,omitempty"`
	IndirectReseller   bool   `json:"indirectReseller,omitempty"`
	ProviderAuthorized bool   `json:"providerAuthorized,omitempty"`
}

func (t *Tenant) user(upn string) (User, bool) {
	for _, u := range t.Users {
		if strings.EqualFold(u.UPN, upn) {
			return u, true
		}
	}
	return User{}, false
}

// isCustomer reports whether the home partner sees the tenant as its customer.
func (t *Tenant) isCustomer() bool {
	return !t.Partner && (t.Relationship == pc.RelationshipReseller || t.Relationship == pc.RelationshipAdvisor)
}

type gdapRecord struct {
	ID            string
	DisplayName   string
	Duration      string
	AutoExtend    string
	Customer      pc.GDAPCustomer
	Roles         []pc.UnifiedRole
	Phase         string
	CreatedAt     time.Time
	ModifiedAt    time.Time
	LockedAt      time.Time
	ApprovedAt    time.Time
	TerminationAt time.Time
	Version       int
	Assignments   []*assignmentRecord
	// Notified holds the events already delivered for this relationship.
	Notified map[string]bool

	// dueAt is when the webhook scanner next has something for the
	// relationship, and dueSlot its place in state.due plus one (0: not
	// there); neither is persisted (see dueQueue).
	dueAt   time.Time
	dueSlot int
}

type assignmentRecord struct {
	ID         string
	GroupID    string
	GroupType  string
	Roles      []pc.UnifiedRole
	CreatedAt  time.Time
	ModifiedAt time.Time
	Version    int
	Notified   bool
}

type cartRecord struct {
	CustomerID string
	Cart       pc.Cart
	Checkout   *pc.CheckoutResult
}

type orderRecord struct {
	CustomerID string
	Order      pc.Order
	// ReadyAt is when the order's subscriptions are provisioned (zero in
	// snapshots older than it: creation plus ActivationDelay).
	ReadyAt time.Time `json:",omitzero"`
}

type subscriptionRecord struct {
	CustomerID     string
	Subscription   pc.Subscription
	SupportContact *pc.SupportContact
}

type storedResponse struct {
	Status int
	Body   []byte
	At     time.Time
}

// state is everything the simulator persists (one row per entity, see
// store.go; a JSON snapshot of it is what earlier versions wrote).
type state struct {
	Tenants       map[string]*Tenant
	GDAP          map[string]*gdapRecord
	Carts         map[string]*cartRecord
	Orders        map[string]*orderRecord
	Subscriptions map[string]*subscriptionRecord
	Agreements    map[string][]pc.CustomerAgreement
	Idempotency   map[string]*storedResponse
	Webhook       *pc.WebhookRegistration
	ClockOffset   time.Duration
	SigningKeyPEM string
	CertDER       []byte
	// Entra ID: app registrations by lower-case client ID, refresh tokens by
	// the SHA-256 of their value (see entra.go), and the token signing key.
	Apps          map[string]*App
	RefreshTokens map[string]*refreshGrant
	TokenKeyPEM   string

	// Indexes over Tenants (not persisted; fill rebuilds them). Domains, MPN
	// IDs and users never change once a tenant exists, so putTenant keeps
	// them; a custom domain added later goes through addCustomDomain. byDomain
	// holds every verified domain, lower-case: the initial one and the custom
	// ones. byUPN holds lower-case UPNs; a UPN given to two tenants (only
	// /sim/tenants can) stays with the one indexed first.
	byDomain map[string]*Tenant
	byMPN    map[string]*Tenant
	byUPN    map[string]*Tenant
	// domains holds every tenant in the order of its lower-case domain,
	// for the customer list (see customerPage). byReseller holds, in the
	// same order, the tenants associated with each indirect reseller, keyed
	// by the reseller's lower-case tenant ID; setReseller keeps it when a
	// tenant's AssociatedPartnerID changes. partners holds the partner
	// tenants, for the indirect reseller list.
	domains    []*Tenant
	byReseller map[string][]*Tenant
	partners   map[string]*Tenant
	// subsOf holds each customer's subscriptions (CustomerID never changes).
	subsOf map[string][]*subscriptionRecord
	// gdapByName holds the lower-case display names of every GDAP
	// relationship, deleted ones included (names never change).
	gdapByName map[string]*gdapRecord
	// gdapOrder holds the relationships not deleted in the order of the GDAP
	// list (creation time, then ID; neither ever changes), so that a page
	// starts with a binary search (see gdapAfter).
	gdapOrder []*gdapRecord
	// touched holds the IDs of the GDAP relationships changed since the
	// webhook scanner last looked (mark adds them; fill adds every loaded
	// one), and due orders the others by when the scanner next has
	// something for them (see scan).
	touched map[string]struct{}
	due     dueQueue
	// answers lists the keys of Idempotency oldest first, for expiring
	// them (see expireAnswers).
	answers []string
	// dirty holds the entities changed since the last flush (not persisted;
	// see mark).
	dirty map[rowKey]struct{}
}

func newState() *state {
	st := &state{}
	st.fill()
	return st
}

// fill makes every map non-nil after loading an older snapshot, builds the
// indexes of a state just loaded, and hands every GDAP relationship to the
// webhook scanner, whose first tick schedules them.
func (st *state) fill() {
	if st.Tenants == nil {
		st.Tenants = map[string]*Tenant{}
	}
	if st.GDAP == nil {
		st.GDAP = map[string]*gdapRecord{}
	}
	if st.Carts == nil {
		st.Carts = map[string]*cartRecord{}
	}
	if st.Orders == nil {
		st.Orders = map[string]*orderRecord{}
	}
	if st.Subscriptions == nil {
		st.Subscriptions = map[string]*subscriptionRecord{}
	}
	if st.Agreements == nil {
		st.Agreements = map[string][]pc.CustomerAgreement{}
	}
	if st.Idempotency == nil {
		st.Idempotency = map[string]*storedResponse{}
	}
	if st.Apps == nil {
		st.Apps = map[string]*App{}
	}
	if st.RefreshTokens == nil {
		st.RefreshTokens = map[string]*refreshGrant{}
	}
	st.byDomain = make(map[string]*Tenant, len(st.Tenants))
	st.byMPN = map[string]*Tenant{}
	st.byUPN = make(map[string]*Tenant, len(st.Tenants))
	st.partners = map[string]*Tenant{}
	st.domains = make([]*Tenant, 0, len(st.Tenants))
	st.byReseller = map[string][]*Tenant{}
	for _, t := range st.Tenants {
		st.index(t)
		st.domains = append(st.domains, t)
		if t.AssociatedPartnerID != "" {
			k := strings.ToLower(t.AssociatedPartnerID)
			st.byReseller[k] = append(st.byReseller[k], t)
		}
	}
	slices.SortFunc(st.domains, compareDomains)
	for _, list := range st.byReseller {
		slices.SortFunc(list, compareDomains)
	}
	st.subsOf = map[string][]*subscriptionRecord{}
	for _, sub := range st.Subscriptions {
		st.subsOf[sub.CustomerID] = append(st.subsOf[sub.CustomerID], sub)
	}
	st.gdapByName = make(map[string]*gdapRecord, len(st.GDAP))
	st.touched = make(map[string]struct{}, len(st.GDAP))
	st.gdapOrder = make([]*gdapRecord, 0, len(st.GDAP))
	for _, g := range st.GDAP {
		st.gdapByName[strings.ToLower(g.DisplayName)] = g
		st.touched[g.ID] = struct{}{}
		if g.Phase != phaseDeleted {
			st.gdapOrder = append(st.gdapOrder, g)
		}
	}
	slices.SortFunc(st.gdapOrder, compareGDAP)
	st.answers = mapKeys(st.Idempotency)
	slices.SortStableFunc(
		st.answers,
		func(a, b string) int { return st.Idempotency[a].At.Compare(st.Idempotency[b].At) },
	)
}

// phaseDeleted is the phase of a relationship deleted while created (it stays
// in GDAP, and its name stays taken).
const phaseDeleted = "deleted"

// putGDAP adds a relationship, indexes it and marks it for writing; every
// insertion goes through it (or putGDAPs).
func (st *state) putGDAP(g *gdapRecord) {
	if old := st.GDAP[g.ID]; old != nil {
		st.unlistGDAP(old)
	}
	st.GDAP[g.ID] = g
	st.gdapByName[strings.ToLower(g.DisplayName)] = g
	if g.Phase != phaseDeleted {
		// A new relationship is normally the newest: appending is the common case.
		i, _ := slices.BinarySearchFunc(st.gdapOrder, g, compareGDAP)
		st.gdapOrder = slices.Insert(st.gdapOrder, i, g)
	}
	st.mark(kindGDAP, g.ID)
}

// putGDAPs is putGDAP for many new relationships at once (the estate seeder):
// the list order takes them in one merge.
func (st *state) putGDAPs(gs []*gdapRecord) {
	listed := make([]*gdapRecord, 0, len(gs))
	for _, g := range gs {
		st.GDAP[g.ID] = g
		st.gdapByName[strings.ToLower(g.DisplayName)] = g
		if g.Phase != phaseDeleted {
			listed = append(listed, g)
		}
		st.mark(kindGDAP, g.ID)
	}
	st.gdapOrder = mergeSorted(st.gdapOrder, listed, compareGDAP)
}

// unlistGDAP takes g out of the list order (a deleted relationship is not
// listed).
func (st *state) unlistGDAP(g *gdapRecord) {
	if i, ok := slices.BinarySearchFunc(st.gdapOrder, g, compareGDAP); ok && st.gdapOrder[i] == g {
		st.gdapOrder = slices.Delete(st.gdapOrder, i, i+1)
	}
}

// compareGDAP orders relationships as the GDAP list answers them: by creation
// time, then by ID.
func compareGDAP(a, b *gdapRecord) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// gdapAfter is up to limit listed relationships that come after the one
// created at `created` with ID `id` in the list order (all of them from the
// start when id is ""): a binary search, then the page.
func (st *state) gdapAfter(created time.Time, id string, limit int) []*gdapRecord {
	i := 0
	if id != "" {
		i, _ = slices.BinarySearchFunc(st.gdapOrder, &gdapRecord{CreatedAt: created, ID: id}, compareGDAP)
		if i < len(st.gdapOrder) && st.gdapOrder[i].ID == id && st.gdapOrder[i].CreatedAt.Equal(created) {
			i++
		}
	}
	var out []*gdapRecord
	for ; i < len(st.gdapOrder) && len(out) < limit; i++ {
		if g := st.gdapOrder[i]; g.Phase != phaseDeleted {
			out = append(out, g)
		}
	}
	return out
}

// mergeSorted merges add into list, both in cmp's order (add is sorted
// here), from the back, in place: O(len(list)+len(add)) moves, where
// inserting one at a time would move list's tail once per item.
func mergeSorted[T any](list, add []T, cmp func(a, b T) int) []T {
	add = slices.Clone(add)
	slices.SortFunc(add, cmp)
	n := len(list)
	list = slices.Grow(list, len(add))[:n+len(add)]
	i, j := n-1, len(add)-1
	for k := len(list) - 1; j >= 0; k-- {
		if i >= 0 && cmp(list[i], add[j]) > 0 {
			list[k] = list[i]
			i--
		} else {
			list[k] = add[j]
			j--
		}
	}
	return list
}

// index adds t to the indexes that never change once a tenant exists, and
// its custom domains.
func (st *state) index(t *Tenant) {
	st.byDomain[strings.ToLower(t.Domain)] = t
	for _, d := range t.CustomDomains {
		st.byDomain[strings.ToLower(d)] = t
	}
	if t.Partner {
		st.partners[t.ID] = t
	}
	if t.Partner && t.MPNID != "" {
		st.byMPN[t.MPNID] = t
	}
	for _, u := range t.Users {
		if k := strings.ToLower(u.UPN); st.byUPN[k] == nil {
			st.byUPN[k] = t
		}
	}
}

// putTenant adds a tenant, indexes it and marks it for writing; every
// insertion goes through it.
func (st *state) putTenant(t *Tenant) {
	st.Tenants[t.ID] = t
	st.index(t)
	st.domains = insertByDomain(st.domains, t)
	if t.AssociatedPartnerID != "" {
		k := strings.ToLower(t.AssociatedPartnerID)
		st.byReseller[k] = insertByDomain(st.byReseller[k], t)
	}
	st.mark(kindTenant, t.ID)
}

// putTenants is putTenant for many new tenants at once (the estate seeder):
// the domain orders take them in one merge each, where one insertion each
// would move every tenant after it.
func (st *state) putTenants(ts []*Tenant) {
	byReseller := map[string][]*Tenant{}
	for _, t := range ts {
		st.Tenants[t.ID] = t
		st.index(t)
		if k := strings.ToLower(t.AssociatedPartnerID); k != "" {
			byReseller[k] = append(byReseller[k], t)
		}
		st.mark(kindTenant, t.ID)
	}
	st.domains = mergeSorted(st.domains, ts, compareDomains)
	for k, list := range byReseller {
		st.byReseller[k] = mergeSorted(st.byReseller[k], list, compareDomains)
	}
}

// setReseller associates customer t with the indirect reseller whose tenant
// ID is reseller ("" for none), keeps byReseller and marks t for writing;
// every later change of AssociatedPartnerID goes through it.
func (st *state) setReseller(t *Tenant, reseller string) {
	if old := strings.ToLower(t.AssociatedPartnerID); old != "" {
		list := st.byReseller[old]
		if i, ok := slices.BinarySearchFunc(list, t, compareDomains); ok && list[i] == t {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(st.byReseller, old)
		} else {
			st.byReseller[old] = list
		}
	}
	t.AssociatedPartnerID = reseller
	if k := strings.ToLower(reseller); k != "" {
		st.byReseller[k] = insertByDomain(st.byReseller[k], t)
	}
	st.mark(kindTenant, t.ID)
}

// compareDomains orders tenants by lower-case domain (domains are unique).
func compareDomains(a, b *Tenant) int {
	return strings.Compare(strings.ToLower(a.Domain), strings.ToLower(b.Domain))
}

// insertByDomain inserts t into list, kept in domain order. It moves the
// entries after t: pointers, a few microseconds with 10,000 tenants.
func insertByDomain(list []*Tenant, t *Tenant) []*Tenant {
	i, _ := slices.BinarySearchFunc(list, t, compareDomains)
	return slices.Insert(list, i, t)
}

// customerPage is up to limit customers in domain order whose lower-case
// domain comes after c.After and that c's filter matches. It looks at the
// customers with the filter's domain prefix, or at the customers of the
// resellers whose tenant ID has the filter's prefix, from c.After on, not at
// every tenant.
func (st *state) customerPage(c customerCursor, limit int) []*Tenant {
	if strings.EqualFold(c.Field, "IndirectReseller") {
		prefix := strings.ToLower(c.Value)
		var out []*Tenant
		for reseller, list := range st.byReseller {
			if strings.HasPrefix(reseller, prefix) {
				out = append(out, customersAfter(list, c.After, "", limit)...)
			}
		}
		slices.SortFunc(out, compareDomains)
		return out[:min(len(out), limit)]
	}
	prefix := ""
	if strings.EqualFold(c.Field, "Domain") {
		prefix = strings.ToLower(c.Value)
	}
	return customersAfter(st.domains, c.After, prefix, limit)
}

// customersAfter is up to limit customers of list (in domain order) whose
// lower-case domain comes after `after` and starts with prefix.
func customersAfter(list []*Tenant, after, prefix string, limit int) []*Tenant {
	from := max(after, prefix)
	i, _ := slices.BinarySearchFunc(
		list,
		from,
		func(t *Tenant, key string) int { return strings.Compare(strings.ToLower(t.Domain), key) },
	)
	var out []*Tenant
	for ; i < len(list) && len(out) < limit; i++ {
		key := strings.ToLower(list[i].Domain)
		if !strings.HasPrefix(key, prefix) {
			break
		}
		if key > after && list[i].isCustomer() {
			out = append(out, list[i])
		}
	}
	return out
}

// putSubscription adds a subscription, indexes it by customer and marks it
// for writing; every insertion goes through it.
func (st *state) putSubscription(sub *subscriptionRecord) {
	st.Subscriptions[sub.Subscription.ID] = sub
	st.subsOf[sub.CustomerID] = append(st.subsOf[sub.CustomerID], sub)
	st.mark(kindSubscription, sub.Subscription.ID)
}

// putAnswer stores the answer of a mutation for replay under key and marks
// it for writing; every insertion goes through it.
func (st *state) putAnswer(key string, r *storedResponse) {
	st.Idempotency[key] = r
	st.answers = append(st.answers, key)
	st.mark(kindIdempotency, key)
}

// answerRetention is how long a stored answer is replayed (simulated time).
// Microsoft documents none for MS-RequestId; the simulator keeps a day, far
// beyond a client's retries after a timeout, so that a long-running process
// does not keep every answer it ever gave.
const answerRetention = 24 * time.Hour

// expireAnswers forgets (and marks for deletion) the stored answers older
// than answerRetention at now; it looks only at those. It reports whether it
// forgot any.
func (st *state) expireAnswers(now time.Time) bool {
	cutoff := now.Add(-answerRetention)
	n := 0
	for ; n < len(st.answers); n++ {
		key := st.answers[n]
		if r := st.Idempotency[key]; r != nil && r.At.After(cutoff) {
			break
		}
		delete(st.Idempotency, key)
		st.mark(kindIdempotency, key)
	}
	st.answers = st.answers[n:]
	return n > 0
}

func (st *state) tenantByDomain(domain string) *Tenant {
	return st.byDomain[strings.ToLower(strings.TrimSpace(domain))]
}

func (st *state) tenantByUPN(upn string) *Tenant {
	return st.byUPN[strings.ToLower(upn)]
}

func (st *state) partnerByMPN(mpn string) *Tenant {
	return st.byMPN[mpn]
}

func newID() string { return pc.NewRequestID() }

// randomPassword is a new tenant's temporary admin password: 16 random
// characters with upper and lower case letters, digits and a symbol, as
// Entra's complexity rules ask.
func randomPassword() string {
	const (
		upper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		lower  = "abcdefghijkmnopqrstuvwxyz"
		digits = "23456789"
		symbol = "!#$%*+=?@"
		all    = upper + lower + digits + symbol
	)
	var b [16]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, len(b))
	for i, v := range b {
		set := all
		switch i {
		case 0:
			set = upper
		case 5:
			set = lower
		case 9:
			set = digits
		case 13:
			set = symbol
		}
		out[i] = set[int(v)%len(set)]
	}
	return string(out)
}

func etag(version int) string {
	return `W/"` + base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(`"v%d"`, version))) + `"`
}

var isoDuration = regexp.MustCompile(
	`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`,
)

// durations caches what parseISODuration read (a relationship's status reads
// its duration and auto-extension each time, and the values are few), up to
// maxCachedDurations values, so that made-up ones cannot grow it.
var (
	durations       sync.Map // string → time.Duration
	durationsCached atomic.Int32
)

const maxCachedDurations = 256

// parseISODuration reads an ISO 8601 duration; a year counts 365 days and a
// month 30, which is how Graph bounds P1D..P2Y.
func parseISODuration(s string) (time.Duration, error) {
	if d, ok := durations.Load(s); ok {
		return d.(time.Duration), nil
	}
	d, err := readISODuration(s)
	if err == nil && durationsCached.Load() < maxCachedDurations {
		if _, loaded := durations.LoadOrStore(s, d); !loaded {
			durationsCached.Add(1)
		}
	}
	return d, err
}

func readISODuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration", s)
	}
	units := []time.Duration{
		365 * 24 * time.Hour,
		30 * 24 * time.Hour,
		7 * 24 * time.Hour,
		24 * time.Hour,
		time.Hour,
		time.Minute,
		time.Second,
	}
	var d time.Duration
	for i, u := range units {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		d += time.Duration(n) * u
	}
	return d, nil
}

func hasGlobalAdmin(roles []pc.UnifiedRole) bool {
	for _, r := range roles {
		if strings.EqualFold(r.RoleDefinitionID, pc.GlobalAdministratorRoleID) {
			return true
		}
	}
	return false
}

func extends(autoExtend string) bool {
	d, err := parseISODuration(autoExtend)
	return err == nil && d > 0
}

// status derives a relationship's status at now, with its activation and end; delay is the
// simulator's ActivationDelay (activation, termination, and the deprovisioning after the end).
func (g *gdapRecord) status(now time.Time, delay time.Duration) (status string, activated, end time.Time) {
	switch g.Phase {
	case pc.GDAPStatusCreated:
		return pc.GDAPStatusCreated, time.Time{}, time.Time{}
	case pc.GDAPStatusApprovalPending:
		if !now.Before(g.LockedAt.Add(gdapApprovalWindow)) {
			return pc.GDAPStatusExpired, time.Time{}, time.Time{}
		}
		return pc.GDAPStatusApprovalPending, time.Time{}, time.Time{}
	}
	activated = g.ApprovedAt.Add(delay)
	dur, _ := parseISODuration(g.Duration)
	end = activated.Add(dur)
	if extends(g.AutoExtend) {
		for !now.Before(end) {
			end = end.Add(autoExtendStep)
		}
	}
	if g.Phase == pc.GDAPStatusTerminationRequested {
		switch el := now.Sub(g.TerminationAt); {
		case el < delay/2:
			return pc.GDAPStatusTerminationRequested, activated, end
		case el < delay:
			return pc.GDAPStatusTerminating, activated, end
		default:
			return pc.GDAPStatusTerminated, activated, end
		}
	}
	switch el := now.Sub(g.ApprovedAt); {
	case el < delay/2:
		return pc.GDAPStatusApproved, time.Time{}, time.Time{}
	case el < delay:
		return pc.GDAPStatusActivating, time.Time{}, time.Time{}
	case now.Before(end):
		return pc.GDAPStatusActive, activated, end
	case now.Before(end.Add(delay)):
		// Graph's delegatedAdminRelationship resource page (delegatedAdminRelationshipStatus,
		// https://learn.microsoft.com/graph/api/resources/delegatedadminrelationship): expiring is
		// "The relationship has passed its expiration date", expired "The system completes the
		// deprovisioning of the relationship". So a relationship is active until endDateTime, even
		// in its last days, then expiring while it is deprovisioned, then expired. Microsoft
		// documents no length for the deprovisioning: the simulator takes delay (ActivationDelay),
		// as for its other asynchronous transitions. A relationship that extends itself never gets
		// here (its end rolls forward above).
		return pc.GDAPStatusExpiring, activated, end
	default:
		return pc.GDAPStatusExpired, activated, end
	}
}

func (g *gdapRecord) view(now time.Time, delay time.Duration) pc.GDAPRelationship {
	status, activated, end := g.status(now, delay)
	auto := g.AutoExtend
	if auto == "" {
		auto = "PT0S"
	}
	return pc.GDAPRelationship{
		ETag: etag(g.Version), ID: g.ID, DisplayName: g.DisplayName, Duration: g.Duration, Customer: g.Customer,
		AccessDetails: pc.AccessDetails{UnifiedRoles: g.Roles}, Status: status, AutoExtendDuration: auto,
		CreatedDateTime: pc.NewTime(g.CreatedAt), LastModifiedDateTime: pc.NewTime(g.ModifiedAt),
		ActivatedDateTime: pc.NewTime(activated), EndDateTime: pc.NewTime(end),
	}
}

func (a *assignmentRecord) status(now time.Time, delay time.Duration) string {
	if now.Sub(a.CreatedAt) < delay {
		return pc.AssignmentStatusPending
	}
	return pc.AssignmentStatusActive
}

func (a *assignmentRecord) view(now time.Time, delay time.Duration) pc.AccessAssignment {
	return pc.AccessAssignment{
		ETag: etag(a.Version), ID: a.ID, Status: a.status(now, delay),
		AccessContainer: pc.AccessContainer{AccessContainerID: a.GroupID, AccessContainerType: a.GroupType},
		AccessDetails:   pc.AccessDetails{UnifiedRoles: a.Roles},
		CreatedDateTime: pc.NewTime(a.CreatedAt), LastModifiedDateTime: pc.NewTime(a.ModifiedAt),
	}
}

// Clouds a tenant can live in (Tenant.Cloud).
const (
	CloudPublic = "public"
	CloudUSGov  = "usgov"
)

// usGov reports whether the tenant lives in Microsoft Cloud for US Government.
func (t *Tenant) usGov() bool { return strings.EqualFold(t.Cloud, CloudUSGov) }

// provisioned reports whether the order's subscriptions exist at now:
// orders are pending until ReadyAt (or, for older snapshots, until
// ActivationDelay after creation).
func (o *orderRecord) provisioned(now time.Time, delay time.Duration) bool {
	ready := o.ReadyAt
	if ready.IsZero() {
		ready = o.Order.CreationDate.Add(delay)
	}
	return !now.Before(ready)
}

// orderStatus is pending until the order is provisioned, then completed.
func (o *orderRecord) status(now time.Time, delay time.Duration) string {
	if o.provisioned(now, delay) {
		return pc.OrderStatusCompleted
	}
	return pc.OrderStatusPending
}

// nameUUID is a stable UUID-shaped identifier derived from name (for IDs a
// snapshot older than them lacks, and for fixed simulated identities).
func nameUUID(name string) string {
	h := sha1.Sum([]byte(name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// newEtag is a profile ETag as Partner Center writes them: a decimal 64-bit
// integer ("5920358838484612121").
func newEtag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(int64(binary.BigEndian.Uint64(b[:])), 10)
}

// stableEtag is an ETag derived from name, for profiles from snapshots older
// than their ETag.
func stableEtag(name string) string {
	h := sha1.Sum([]byte(name))
	return strconv.FormatInt(int64(binary.BigEndian.Uint64(h[:8])), 10)
}
