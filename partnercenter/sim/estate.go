package sim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// EstateSpec is what SeedEstate (and POST /sim/estate) adds to the world: the estate of
// customers a partner took on outside partnerflow, for tests and the bench.
type EstateSpec struct {
	// PartnerTenantID is the partner whose estate it is: the home partner (the simulator's
	// customers are its customers); empty means it.
	PartnerTenantID string `json:"partnerTenantId"`
	// Customers is how many customer tenants (1..1,000,000), each with a reseller relationship
	// to the partner.
	Customers int `json:"customers"`
	// GDAPPerCustomer is how many GDAP relationships each customer has with the partner (0..20).
	GDAPPerCustomer int `json:"gdapPerCustomer"`
	// Resellers is how many indirect resellers (0..1,000) authorized the partner; every other
	// customer is associated with one of them.
	Resellers int `json:"resellers"`
	// CustomDomains gives every new tenant a verified custom domain besides its initial one.
	CustomDomains bool `json:"customDomains"`
	// ExpiringWithinDays makes one relationship in twenty active without auto-extension and
	// ending within that many days (1..730; an hour less), taking the values in turn. Its status
	// is active until that end (Graph's expiring comes after it, see gdapRecord.status).
	ExpiringWithinDays []int `json:"expiringWithinDays,omitempty"`
}

// EstateTenant is a tenant SeedEstate made.
type EstateTenant struct {
	TenantID     string `json:"tenantId"`
	Domain       string `json:"domain"`
	CustomDomain string `json:"customDomain,omitempty"`
	CompanyName  string `json:"companyName"`
	// ResellerTenantID is the indirect reseller a customer is associated with ("" for none).
	ResellerTenantID string `json:"resellerTenantId,omitempty"`
	// MPNID is a reseller's PartnerID.
	MPNID string `json:"mpnId,omitempty"`
}

// EstateSummary is what SeedEstate made. Batch is in every name it gave (domains
// estate-<batch>-c000001.onmicrosoft.com, customer000001-<batch>.example, resellers
// estate-<batch>-r001.onmicrosoft.com, relationship display names estate-<batch>-000001-1), so
// seedings never collide.
type EstateSummary struct {
	Batch             string         `json:"batch"`
	PartnerTenantID   string         `json:"partnerTenantId"`
	Resellers         []EstateTenant `json:"resellers"`
	Customers         []EstateTenant `json:"customers"`
	GDAPRelationships int            `json:"gdapRelationships"`
	// GDAPByStatus counts the relationships by their status when seeded.
	GDAPByStatus      map[string]int `json:"gdapByStatus"`
	AccessAssignments int            `json:"accessAssignments"`
	Subscriptions     int            `json:"subscriptions"`
}

// Limits of an estate.
const (
	maxEstateCustomers = 1_000_000
	maxEstateGDAP      = 20
	maxEstateResellers = 1_000
	// estateBatch is how many customers SeedEstate makes per hold of the lock and per
	// transaction: other calls go on between batches, and the memory the seeding needs beyond
	// the world it makes is one batch's.
	estateBatch = 2_000
)

// Role sets of seeded relationships (shared: a relationship's roles are never changed in place).
var (
	estateStandardRoles = []pc.UnifiedRole{
		{RoleDefinitionID: "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"}, // Directory Readers
		{RoleDefinitionID: "fe930be7-5e62-47db-91af-98c3a49a38b1"}, // User Administrator
		{RoleDefinitionID: "729827e3-9c14-49f7-bb1b-9608f156bbb8"}, // Helpdesk Administrator
	}
	estateSupportRoles = []pc.UnifiedRole{
		{RoleDefinitionID: "729827e3-9c14-49f7-bb1b-9608f156bbb8"}, // Helpdesk Administrator
		{RoleDefinitionID: "4d6ac14f-3453-41d0-bef9-a3e0c569773a"}, // License Administrator
		{RoleDefinitionID: "f023fd81-a637-4b56-95fd-791ac0226033"}, // Service Support Administrator
	}
	estateGlobalAdminRoles = []pc.UnifiedRole{
		{RoleDefinitionID: pc.GlobalAdministratorRoleID},
		{RoleDefinitionID: "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"}, // Directory Readers
	}
)

// checkEstate refuses a spec SeedEstate cannot make.
func (s *Server) checkEstate(spec EstateSpec) *refusal {
	switch {
	case spec.PartnerTenantID != "" && !strings.EqualFold(spec.PartnerTenantID, s.home.TenantID):
		return refuse(http.StatusNotFound, ReasonNotFound,
			"partnerTenantId must be the home partner's, "+s.home.TenantID+": the simulator's customers are its")
	case spec.Customers < 1 || spec.Customers > maxEstateCustomers:
		return refuse(http.StatusBadRequest, ReasonInvalidInput,
			fmt.Sprintf("customers must be from 1 to %d", maxEstateCustomers))
	case spec.GDAPPerCustomer < 0 || spec.GDAPPerCustomer > maxEstateGDAP:
		return refuse(http.StatusBadRequest, ReasonInvalidInput,
			fmt.Sprintf("gdapPerCustomer must be from 0 to %d", maxEstateGDAP))
	case spec.Resellers < 0 || spec.Resellers > maxEstateResellers:
		return refuse(http.StatusBadRequest, ReasonInvalidInput,
			fmt.Sprintf("resellers must be from 0 to %d", maxEstateResellers))
	}
	for _, d := range spec.ExpiringWithinDays {
		if d < 1 || d > 730 {
			return refuse(http.StatusBadRequest, ReasonInvalidInput, "expiringWithinDays must be from 1 to 730")
		}
	}
	return nil
}

// SeedEstate adds an estate to the world (see EstateSpec) and writes it, estateBatch customers
// per transaction (other calls go on between them), and returns what it made. Made "outside
// partnerflow", it sends no webhook event for the past; the scanner delivers what comes due
// later (the end of a relationship that does not extend itself, a pending request's 90 days), so
// /sim/clock makes them happen.
//
// Each customer (country of the home partner, admin@<domain> its Global admin) has the
// relationship reseller, every other one through one of the resellers in turn, and the
// subscriptions a customer of the partner would: Microsoft 365 Business Basic (P1Y, monthly,
// bought up to 300 days ago, the reseller's PartnerID on record) and, one customer in three, an
// Azure plan. Its relationships, all P730D, go in a cycle of twenty: eight active extending
// themselves (P180D), four active without (PT0S), two active with Global Administrator (which
// cannot extend itself), three terminated, one expired, one waiting for the customer's approval,
// and one active without extension that ends within ExpiringWithinDays (else like the four). The
// active ones end from one day to two years from now, spread evenly; four in five relationships
// that were active have one access assignment, the others none.
func (s *Server) SeedEstate(spec EstateSpec) (EstateSummary, error) {
	if ref := s.checkEstate(spec); ref != nil {
		return EstateSummary{}, errors.New("sim: estate: " + ref.message)
	}
	var b [10]byte
	_, _ = rand.Read(b[:])
	r := hex.EncodeToString(b[:])
	e := &estate{
		s: s, spec: spec, batch: r[:8], idPrefix: r[:8] + "-" + r[8:12] + "-4" + r[12:15] + "-8" + r[15:18] + "-",
		links: map[string][3]*pc.Link{},
	}
	e.sum = EstateSummary{
		Batch:           e.batch,
		PartnerTenantID: s.home.TenantID,
		Resellers:       []EstateTenant{},
		Customers:       make([]EstateTenant, 0, spec.Customers),
		GDAPByStatus:    map[string]int{},
	}
	for g := range e.groups {
		e.groups[g] = nameUUID("estate/" + e.batch + "/group/" + strconv.Itoa(g))
	}
	if err := e.resellers(); err != nil {
		return e.sum, err
	}
	for from := 0; from < spec.Customers; from += estateBatch {
		if err := e.customers(from, min(from+estateBatch, spec.Customers)); err != nil {
			return e.sum, err
		}
	}
	return e.sum, nil
}

// estate is one SeedEstate under way.
type estate struct {
	s         *Server
	spec      EstateSpec
	batch     string
	resold    []*Tenant // the resellers
	groups    [4]string // the partner's security groups the assignments name
	sum       EstateSummary
	now       time.Time // of the batch being made
	delay     time.Duration
	relations []*gdapRecord
	// idPrefix and seq make the IDs of the tenants, relationships and subscriptions it makes
	// (see id).
	idPrefix string
	seq      uint64
	// links are the product, SKU and availability links of each catalog item its
	// subscriptions name, shared by them (never changed in place; all in the home country).
	links map[string][3]*pc.Link
}

// id is the next ID of the seeding: a GUID (version 4 in shape) whose first 20 hex digits are
// the seeding's and whose last 12 count up, so that its rows are written in key order, one
// after the other in the store's B-tree, where random IDs would each land on a page of their
// own (the difference between seconds and minutes for 100,000 customers).
func (e *estate) id() string {
	e.seq++
	return e.idPrefix + fmt.Sprintf("%012x", e.seq)
}

// resellers makes the indirect resellers: partnered, agreement signed, in the home partner's
// country, each with a free PartnerID.
func (e *estate) resellers() error {
	if e.spec.Resellers == 0 {
		return nil
	}
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	mpn := 1_000_000 + mrand.IntN(8_000_000)
	list := make([]*Tenant, 0, e.spec.Resellers)
	for n := 1; n <= e.spec.Resellers; n++ {
		for s.st.partnerByMPN(strconv.Itoa(mpn)) != nil {
			mpn++
		}
		domain := fmt.Sprintf("estate-%s-r%03d.onmicrosoft.com", e.batch, n)
		if s.st.tenantByDomain(domain) != nil {
			return fmt.Errorf("sim: estate: domain %s is taken", domain)
		}
		label, _, _ := strings.Cut(domain, ".")
		p := &Tenant{
			ID: e.id(), Domain: domain, Country: s.home.Country,
			CompanyName: fmt.Sprintf("Estate %s Reseller %03d", e.batch, n),
			Users: []User{
				{UPN: "admin@" + domain, GlobalAdmin: true},
				{UPN: "agent@" + domain},
			},
			Partner: true, CreatedAt: now.Add(-1000 * 24 * time.Hour), MPNID: strconv.Itoa(mpn),
			AgreementSigned: true, IndirectReseller: true, ProviderAuthorized: true,
		}
		if e.spec.CustomDomains {
			p.CustomDomains = []string{label + ".example"}
		}
		// putTenants indexes the MPN ID as it goes; the next PartnerID is looked for from here.
		mpn++
		list = append(list, p)
		e.sum.Resellers = append(e.sum.Resellers, EstateTenant{
			TenantID: p.ID, Domain: p.Domain, CustomDomain: first(p.CustomDomains), CompanyName: p.CompanyName,
			MPNID: p.MPNID,
		})
	}
	s.st.putTenants(list)
	e.resold = list
	return s.flush()
}

func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

// customers makes customers [from, to) with their relationships and subscriptions, and writes
// them in one transaction.
func (e *estate) customers(from, to int) error {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	e.now, e.delay = s.now(), s.cfg.ActivationDelay
	tenants := make([]*Tenant, 0, to-from)
	e.relations = make([]*gdapRecord, 0, (to-from)*e.spec.GDAPPerCustomer)
	var subs []*subscriptionRecord
	culture, lang := cultureOf(s.home.Country)
	for i := from; i < to; i++ {
		n := i + 1
		domain := fmt.Sprintf("estate-%s-c%06d.onmicrosoft.com", e.batch, n)
		if s.st.tenantByDomain(domain) != nil {
			return fmt.Errorf("sim: estate: domain %s is taken", domain)
		}
		company := fmt.Sprintf("Estate %s Customer %06d", e.batch, n)
		t := &Tenant{
			ID: e.id(), Domain: domain, Country: s.home.Country, CompanyName: company,
			Users:     []User{{UPN: "admin@" + domain, GlobalAdmin: true}},
			CreatedAt: e.now.Add(-time.Duration(800+i%365) * 24 * time.Hour), Relationship: pc.RelationshipReseller,
			BillingProfile: pc.BillingProfile{
				ID: newID(), Email: "admin@" + domain, CompanyName: company, Culture: culture, Language: lang,
				DefaultAddress: pc.Address{Country: s.home.Country}, Attributes: pc.Attributes{Etag: newEtag()},
			},
		}
		var reseller *Tenant
		if len(e.resold) > 0 && i%2 == 1 {
			reseller = e.resold[(i/2)%len(e.resold)]
			t.AssociatedPartnerID = reseller.ID
		}
		if e.spec.CustomDomains {
			t.CustomDomains = []string{fmt.Sprintf("customer%06d-%s.example", n, e.batch)}
		}
		tenants = append(tenants, t)
		sum := EstateTenant{TenantID: t.ID, Domain: domain, CustomDomain: first(t.CustomDomains), CompanyName: company}
		if reseller != nil {
			sum.ResellerTenantID = reseller.ID
		}
		e.sum.Customers = append(e.sum.Customers, sum)
		for k := range e.spec.GDAPPerCustomer {
			e.relationship(t, i, i*e.spec.GDAPPerCustomer+k, k)
		}
		subs = append(subs, e.subscriptions(t, reseller, i)...)
	}
	s.st.putTenants(tenants)
	s.st.putGDAPs(e.relations)
	for _, sub := range subs {
		s.st.putSubscription(sub)
	}
	e.sum.Subscriptions += len(subs)
	e.relations = nil
	return s.flush()
}

// relationship makes customer t's relationship number k (j in the whole estate) after the
// cycle SeedEstate describes.
func (e *estate) relationship(t *Tenant, i, j, k int) {
	const day = 24 * time.Hour
	const duration = 730 * day
	// spread is 1..729 days, evenly over j, so that active relationships end from tomorrow to
	// two years from now.
	spread := time.Duration(1+(j*7919+13)%729) * day
	g := &gdapRecord{
		ID:          e.id() + "-" + e.id(),
		DisplayName: fmt.Sprintf("estate-%s-%06d-%d", e.batch, i+1, k+1),
		Duration:    "P730D",
		AutoExtend:  "PT0S",
		Customer:    pc.GDAPCustomer{TenantID: t.ID, DisplayName: t.CompanyName},
		Roles:       estateSupportRoles,
		Phase:       pc.GDAPStatusApproved,
		Version:     3,
	}
	var activated time.Time
	switch slot := j % 20; {
	case slot < 8:
		g.AutoExtend, g.Roles = "P180D", estateStandardRoles
		activated = e.now.Add(spread - duration)
	case slot < 12:
		activated = e.now.Add(spread - duration)
	case slot < 14:
		g.Roles = estateGlobalAdminRoles
		activated = e.now.Add(spread - duration)
	case slot < 17:
		g.Roles = estateStandardRoles
		ended := e.now.Add(-time.Duration(1+j%365) * day)
		g.Phase, g.TerminationAt = pc.GDAPStatusTerminationRequested, ended.Add(-e.delay)
		activated = g.TerminationAt.Add(-time.Duration(30+j%300) * day)
	case slot == 17:
		activated = e.now.Add(-time.Duration(1+j%365)*day - duration)
	case slot == 18:
		g.AutoExtend, g.Roles = "P180D", estateStandardRoles
		g.Phase, g.Version = pc.GDAPStatusApprovalPending, 2
		g.LockedAt = e.now.Add(-time.Duration(1+j%60) * day)
		g.CreatedAt, g.ModifiedAt = g.LockedAt.Add(-time.Hour), g.LockedAt
	default:
		if days := e.spec.ExpiringWithinDays; len(days) > 0 {
			activated = e.now.Add(time.Duration(days[(j/20)%len(days)])*day - time.Hour - duration)
		} else {
			activated = e.now.Add(spread - duration)
		}
	}
	if g.Phase != pc.GDAPStatusApprovalPending {
		g.ApprovedAt = activated.Add(-e.delay)
		g.CreatedAt = g.ApprovedAt.Add(-time.Duration(1+j%14) * day)
		g.LockedAt, g.ModifiedAt = g.CreatedAt.Add(time.Hour), activated
		if g.Phase == pc.GDAPStatusTerminationRequested {
			g.ModifiedAt = g.TerminationAt
		}
		if j%5 != 4 {
			at := activated.Add(time.Hour)
			g.Assignments = []*assignmentRecord{{
				ID: newID(), GroupID: e.groups[j%len(e.groups)], GroupType: "securityGroup", Roles: g.Roles,
				CreatedAt: at, ModifiedAt: at, Version: 1, Notified: true,
			}}
			e.sum.AccessAssignments++
		}
	}
	// Made outside partnerflow: the events of its past are not owed (one past its end but not
	// expired yet was active: its -expired is still to come).
	status, _, _ := g.status(e.now, e.delay)
	switch status {
	case pc.GDAPStatusActive, pc.GDAPStatusExpiring:
		g.Notified = map[string]bool{pc.EventGDAPActivated: true}
	case pc.GDAPStatusTerminated:
		g.Notified = map[string]bool{pc.EventGDAPActivated: true, pc.EventGDAPTerminated: true}
	case pc.GDAPStatusExpired:
		g.Notified = map[string]bool{pc.EventGDAPActivated: true, pc.EventGDAPExpired: true}
	}
	e.sum.GDAPByStatus[status]++
	e.sum.GDAPRelationships++
	e.relations = append(e.relations, g)
}

// subscriptions are customer t's: Business Basic, and one customer in three an Azure plan.
func (e *estate) subscriptions(t, reseller *Tenant, i int) []*subscriptionRecord {
	bought := e.now.Add(-time.Duration(1+i%300) * 24 * time.Hour)
	li := pc.CartLineItem{
		CatalogItemID: CatalogM365BusinessBasic, Quantity: 1 + i%50, BillingCycle: "monthly", TermDuration: "P1Y",
	}
	if reseller != nil {
		li.Participants = []pc.Participant{{Key: pc.ParticipantTransactionReseller, Value: reseller.MPNID}}
	}
	out := []*subscriptionRecord{e.subscription(t, li, bought)}
	if i%3 == 0 {
		li := pc.CartLineItem{CatalogItemID: CatalogAzurePlan, Quantity: 1, BillingCycle: "none"}
		out = append(out, e.subscription(t, li, bought))
	}
	return out
}

// subscription is the subscription line li of customer t became when bought, with the
// product links its item's other subscriptions have.
func (e *estate) subscription(t *Tenant, li pc.CartLineItem, bought time.Time) *subscriptionRecord {
	sub := e.s.newSubscription(e.id(), t, li, catalog[li.CatalogItemID], "", "", bought)
	if l := sub.Links; l.Product != nil {
		shared, ok := e.links[li.CatalogItemID]
		if !ok {
			shared = [3]*pc.Link{l.Product, l.SKU, l.Availability}
			e.links[li.CatalogItemID] = shared
		}
		l.Product, l.SKU, l.Availability = shared[0], shared[1], shared[2]
	}
	return &subscriptionRecord{CustomerID: t.ID, Subscription: sub}
}

// postEstate answers POST /sim/estate with the EstateSpec as its body: 201 and the
// EstateSummary; refusals as the other /sim calls ({error, description}: 400 invalid-input, 404
// not-found for another partner). It takes the lock per batch, not for the whole seeding.
func (s *Server) postEstate(w http.ResponseWriter, r *http.Request) {
	var spec EstateSpec
	if err := decode(r, &spec); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	if ref := s.checkEstate(spec); ref != nil {
		ref.write(w)
		return
	}
	sum, err := s.SeedEstate(spec)
	if err != nil {
		refuse(http.StatusInternalServerError, "internal-error", err.Error()).write(w)
		return
	}
	writeJSON(w, http.StatusCreated, sum)
}
