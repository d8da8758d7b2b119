package sim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// itemKind is the kind of product a catalog item is; it decides which
// billing cycles and terms a line may ask for and what its subscription
// looks like.
type itemKind int

const (
	// kindLicense is a new-commerce licence-based product
	// (product:sku:availability; terms P1M, P1Y, P3Y).
	kindLicense itemKind = iota
	// kindAzurePlan is the Azure plan: quantity 1, billing cycle none, one
	// per customer.
	kindAzurePlan
	// kindReservation is a one-time purchase such as an Azure reservation.
	kindReservation
	// kindLegacyBase is a legacy licence offer (GUID offer ID) that takes
	// add-ons.
	kindLegacyBase
	// kindLegacyAddon is a legacy add-on offer, bought with a base line
	// (addonItems) or for an existing base subscription
	// (provisioningContext.parentSubscriptionId).
	kindLegacyAddon
)

// catalogItem is a product the simulator sells.
type catalogItem struct {
	Name                     string
	Kind                     itemKind
	MinQuantity, MaxQuantity int
	RequiresAttestation      bool
	// AddOnOf lists the offers whose subscriptions an add-on can be bought for.
	AddOnOf []string
	// AssetLimit is how many subscriptions of the item a customer may own
	// (0: no limit); more is 403 800089 at checkout.
	AssetLimit int
	// Unlisted keeps an item out of the catalog's lists (products.go): it is
	// still sold under its ID.
	Unlisted bool
}

// Catalog item IDs of the documented examples the simulator sells.
const (
	// Microsoft 365 E3: "Create a cart", new commerce licence-based example.
	CatalogM365E3 = "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS"
	// Microsoft 365 Business Basic: the new-commerce subscription example of
	// "Get a subscription by ID" and the availability examples.
	CatalogM365BusinessBasic = "CFQ7TTC0LH18:0001:CFQ7TTC0K971"
	// Azure Active Directory Premium P1 and AI Builder Capacity add-on: the
	// attestation example of "Create a cart" and "Update a cart".
	CatalogAADPremiumP1   = "CFQ7TTC0LFLS:0002:CFQ7TTC0KDLJ"
	CatalogAIBuilderAddon = "CFQ7TTC0LH0Z:0001:CFQ7TTC0K18P"
	// CatalogAzurePlan is the Azure plan availability of the usage-record
	// examples (product DZH318Z0BPS6, "Create an Azure plan").
	CatalogAzurePlan = "DZH318Z0BPS6:0001:DZH318Z0BML6"
	// CatalogReservation is the Azure reservation of the "Update a cart"
	// example; the simulator requires attestationAccepted for it (10012).
	CatalogReservation = "DG7GMGF0DWTL:0001:DG7GMGF0DSJB"
	// CatalogLegacyBase and its two add-ons are the offers of "Create a cart
	// with add-ons".
	CatalogLegacyBase   = "91FD106F-4B2C-4938-95AC-F54F74E9A239"
	CatalogLegacyAddonA = "C94271D8-B431-4A25-A3C5-A57737A1C909"
	CatalogLegacyAddonB = "43FCE491-76D1-4BCC-B709-8A288786DBAE"
)

// maxLineQuantity is the simulator's per-line licence quota (code 10002)
// where a product has no smaller one.
const maxLineQuantity = 10000

// catalog holds products under IDs from Microsoft's cart, checkout and
// subscription examples. Names are the examples' where they give one.
var catalog = map[string]catalogItem{
	CatalogM365E3: {
		Name:        "Microsoft 365 E3",
		Kind:        kindLicense,
		MinQuantity: 1,
		MaxQuantity: maxLineQuantity,
	},
	CatalogM365BusinessBasic: {
		Name:        "Microsoft 365 Business Basic",
		Kind:        kindLicense,
		MinQuantity: 1,
		MaxQuantity: 300,
	},
	// An earlier simulator ID for Business Basic, kept for existing data.
	"CFQ7TTC0LH18:0001:CFQ7TTC0K8P5": {
		Name:        "Microsoft 365 Business Basic",
		Kind:        kindLicense,
		MinQuantity: 1,
		MaxQuantity: 300,
		Unlisted:    true,
	},
	CatalogAADPremiumP1: {
		Name:        "Azure Active Directory Premium P1",
		Kind:        kindLicense,
		MinQuantity: 1,
		MaxQuantity: maxLineQuantity,
	},
	CatalogAIBuilderAddon: {
		Name:        "AI Builder Capacity add-on",
		Kind:        kindLicense,
		MinQuantity: 1,
		MaxQuantity: maxLineQuantity,
	},
	CatalogAzurePlan: {
		Name:        "Azure plan",
		Kind:        kindAzurePlan,
		MinQuantity: 1,
		MaxQuantity: 1,
		AssetLimit:  1,
	},
	CatalogReservation: {
		Name:                "Azure Reserved VM Instance",
		Kind:                kindReservation,
		MinQuantity:         1,
		MaxQuantity:         maxLineQuantity,
		RequiresAttestation: true,
	},
	CatalogLegacyBase: {
		Name:        "Base offer (add-on example)",
		Kind:        kindLegacyBase,
		MinQuantity: 1,
		MaxQuantity: maxLineQuantity,
	},
	CatalogLegacyAddonA: {
		Name:        "Add-on A (add-on example)",
		Kind:        kindLegacyAddon,
		MinQuantity: 1,
		MaxQuantity: maxLineQuantity,
		AddOnOf:     []string{CatalogLegacyBase},
	},
	CatalogLegacyAddonB: {
		Name:        "Add-on B (add-on example)",
		Kind:        kindLegacyAddon,
		MinQuantity: 1,
		MaxQuantity: maxLineQuantity,
		AddOnOf:     []string{CatalogLegacyBase},
	},
}

// lookupCatalog finds an item by ID, ignoring case; it returns the
// catalog's spelling of the ID.
func lookupCatalog(id string) (catalogItem, string, bool) {
	key := strings.ToUpper(strings.TrimSpace(id))
	item, ok := catalog[key]
	return item, key, ok
}

// currencyOf is the currency a customer of the country is billed in.
func currencyOf(country string) (code, symbol string) {
	switch strings.ToUpper(country) {
	case "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR",
		"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK":
		return "EUR", "€"
	case "GB":
		return "GBP", "£"
	}
	return "USD", "$"
}

// termProblem tells what is wrong with a line's billing cycle, term,
// renewal term or custom term end for the item ("" when nothing).
func termProblem(item catalogItem, li pc.CartLineItem, now time.Time) string {
	bc, term := li.BillingCycle, strings.ToUpper(li.TermDuration)
	switch item.Kind {
	case kindLicense:
		allowed := map[string][]string{
			"P1M": {pc.BillingCycleMonthly},
			"P1Y": {pc.BillingCycleMonthly, pc.BillingCycleAnnual},
			"P3Y": {pc.BillingCycleMonthly, pc.BillingCycleAnnual, pc.BillingCycleTriennial},
		}
		cycles, ok := allowed[term]
		if !ok {
			return fmt.Sprintf("termDuration %q is not offered for %s (P1M, P1Y, P3Y).", li.TermDuration, item.Name)
		}
		if !slices.Contains(cycles, bc) {
			return fmt.Sprintf(
				"billingCycle %q is not offered with termDuration %s (%s).",
				li.BillingCycle,
				term,
				strings.Join(cycles, ", "),
			)
		}
	case kindAzurePlan:
		if bc != pc.BillingCycleNone || term != "" {
			return "The Azure plan is bought with billingCycle none and no termDuration."
		}
	case kindReservation:
		if bc != pc.BillingCycleOneTime && bc != pc.BillingCycleMonthly {
			return fmt.Sprintf("billingCycle %q is not offered for %s (one_time, monthly).", li.BillingCycle, item.Name)
		}
		if term != "" && term != "P1Y" && term != "P3Y" {
			return fmt.Sprintf("termDuration %q is not offered for %s (P1Y, P3Y).", li.TermDuration, item.Name)
		}
	case kindLegacyBase, kindLegacyAddon:
		if bc != pc.BillingCycleMonthly && bc != pc.BillingCycleAnnual {
			return fmt.Sprintf("billingCycle %q is not offered for %s (monthly, annual).", li.BillingCycle, item.Name)
		}
	}
	if li.RenewsTo != nil && li.RenewsTo.TermDuration != "" {
		if rt := strings.ToUpper(li.RenewsTo.TermDuration); rt != "P1M" && rt != "P1Y" {
			return fmt.Sprintf("renewsTo.termDuration %q is not supported (P1M, P1Y).", li.RenewsTo.TermDuration)
		}
	}
	if !li.CustomTermEndDate.IsZero() {
		if item.Kind != kindLicense {
			return "customTermEndDate applies to new-commerce licence-based subscriptions only."
		}
		if !li.CustomTermEndDate.After(now) || li.CustomTermEndDate.After(termEnd(now, term)) {
			return "customTermEndDate must fall after today and no later than the end of the term."
		}
	}
	return ""
}

// termEnd is the commitment end of a term starting at start: the day
// before the term's anniversary, at midnight UTC (as "2021-01-14" to
// "2022-01-13" in the new-commerce subscription example).
func termEnd(start time.Time, term string) time.Time {
	y, m := 1, 0
	switch strings.ToUpper(term) {
	case "P1M":
		y, m = 0, 1
	case "P3Y":
		y = 3
	}
	d := start.UTC().AddDate(y, m, 0)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
}

// cartRefusal is a refusal of a whole cart request (an HTTP error), as
// opposed to a problem recorded on a line.
type cartRefusal struct {
	status, code int
	message      string
}

func refuseCart(status, code int, format string, args ...any) *cartRefusal {
	return &cartRefusal{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// checkReseller applies the error table's refusals to a participant's
// PartnerID: unknown 404 800015, not an indirect reseller of the provider
// 400 800016, partner agreement not accepted 403 900123.
func (s *Server) checkReseller(mpn string) *cartRefusal {
	rs := s.st.partnerByMPN(strings.TrimSpace(mpn))
	switch {
	case rs == nil:
		return refuseCart(http.StatusNotFound, pc.CodeResellerNotFound, "PartnerID %s isn't found.", mpn)
	case !rs.IndirectReseller || !rs.ProviderAuthorized:
		return refuseCart(
			http.StatusBadRequest,
			pc.CodeNotIndirectReseller,
			"PartnerID %s isn't a valid Indirect Reseller of this provider.",
			mpn,
		)
	case !rs.AgreementSigned:
		return refuseCart(
			http.StatusForbidden,
			pc.CodeResellerAgreementNotAccepted,
			"Microsoft Partner Agreement hasn't been accepted by the indirect reseller %s.",
			mpn,
		)
	}
	return nil
}

func (s *Server) checkParticipants(li pc.CartLineItem) *cartRefusal {
	additional := 0
	for _, p := range li.Participants {
		switch {
		case strings.EqualFold(p.Key, pc.ParticipantTransactionReseller):
		case strings.EqualFold(p.Key, pc.ParticipantAdditionalTransactionReseller):
			additional++
		default:
			continue
		}
		if ref := s.checkReseller(p.Value); ref != nil {
			return ref
		}
	}
	if additional > pc.MaxAdditionalResellers {
		return refuseCart(
			http.StatusBadRequest,
			pc.CodeInvalidRequestInput,
			"At most %d additional_transaction_reseller participants can be given.",
			pc.MaxAdditionalResellers,
		)
	}
	return nil
}

// provisioningKeys writes a provisioningContext as Partner Center answers it:
// keys start lower-case (the "Update a cart" example sends SubscriptionId,
// Scope and Duration and answers subscriptionId, scope and duration); nil
// becomes {} as in the new-commerce examples.
func provisioningKeys(ctx map[string]string) map[string]string {
	out := make(map[string]string, len(ctx))
	for k, v := range ctx {
		if k != "" {
			k = strings.ToLower(k[:1]) + k[1:]
		}
		out[k] = v
	}
	return out
}

// provisioningValue reads a provisioningContext key, ignoring case (the
// documented examples write both SubscriptionId and subscriptionId).
func provisioningValue(ctx map[string]string, key string) string {
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cartCheck numbers and validates a cart's lines for customer t.
type cartCheck struct {
	s      *Server
	t      *Tenant
	now    time.Time
	nextID int
	groups map[string]string
}

// checkCart validates lines for a cart of t. Problems a partner fixes on a
// line are recorded on it (Error, codes 10001, 10002, 10007, 10010, 10012);
// refusals of the request come back as a cartRefusal (reseller PartnerIDs,
// an add-on for an unrelated subscription). Lines get IDs in order (add-ons
// after their base), lower-case billing cycles, the customer's currency,
// an order group per billing cycle and an empty provisioningContext.
func (s *Server) checkCart(t *Tenant, lines []pc.CartLineItem) ([]pc.CartLineItem, *cartRefusal) {
	c := &cartCheck{s: s, t: t, now: s.now(), groups: map[string]string{}}
	out := slices.Clone(lines)
	for i := range out {
		if ref := c.line(&out[i], nil, false); ref != nil {
			return nil, ref
		}
	}
	return out, nil
}

// line checks one line; parent is the base line an add-on is nested in (nil
// at the top level, or when nested under a base the catalog does not know,
// which leaves nothing to relate it to).
func (c *cartCheck) line(li *pc.CartLineItem, parent *pc.CartLineItem, nested bool) *cartRefusal {
	li.ID = c.nextID
	c.nextID++
	li.Error = nil
	li.BillingCycle = strings.ToLower(strings.TrimSpace(li.BillingCycle))
	if li.CurrencyCode == "" {
		li.CurrencyCode, _ = currencyOf(c.t.Country)
	}
	li.ProvisioningContext = provisioningKeys(li.ProvisioningContext)
	group, ok := c.groups[li.BillingCycle]
	if !ok {
		group = fmt.Sprint(len(c.groups))
		c.groups[li.BillingCycle] = group
	}
	li.OrderGroup = group
	if ref := c.s.checkParticipants(*li); ref != nil {
		return ref
	}
	fail := func(code int, format string, args ...any) {
		li.Error = &pc.CartLineItemError{ErrorCode: code, ErrorDescription: fmt.Sprintf(format, args...)}
	}
	item, id, known := lookupCatalog(li.CatalogItemID)
	switch {
	case !known:
		fail(pc.CodeInvalidCatalogItem, "Catalog item ID %s is not valid.", li.CatalogItemID)
	case li.Quantity < item.MinQuantity || li.Quantity > item.MaxQuantity:
		fail(
			pc.CodeQuantityOutOfRange,
			"Quantity must be between %d and %d for %s.",
			item.MinQuantity,
			item.MaxQuantity,
			item.Name,
		)
	case item.RequiresAttestation && !li.AttestationAccepted:
		fail(pc.CodeAttestationNotAccepted, "CatalogItemId: %s requires attestation acceptance.", li.CatalogItemID)
	default:
		if p := termProblem(item, *li, c.now); p != "" {
			fail(pc.CodeCartInvalidInput, "%s", p)
		}
	}
	if known {
		li.CatalogItemID = id
	}
	if known && li.Error == nil && (parent != nil || !nested) {
		if ref := c.parentOf(li, item, parent); ref != nil {
			return ref
		}
	}
	if nested {
		li.AddonItems = nil
		return nil
	}
	if len(li.AddonItems) > 0 {
		li.AddonItems = slices.Clone(li.AddonItems)
		var base *pc.CartLineItem
		if known {
			base = li
		}
		for i := range li.AddonItems {
			if ref := c.line(&li.AddonItems[i], base, true); ref != nil {
				return ref
			}
		}
	}
	return nil
}

// parentOf checks an add-on's relation to its base: the base line it is
// nested in, or the existing subscription its provisioningContext names.
// An item nested under a base it does not belong to, or bought for a
// subscription of another offer, is 400 800029; an add-on without a parent
// is 10010 and one whose parent subscription is not the customer's active
// subscription 10007, both on the line.
func (c *cartCheck) parentOf(li *pc.CartLineItem, item catalogItem, parent *pc.CartLineItem) *cartRefusal {
	if parent != nil {
		if item.Kind != kindLegacyAddon || !slices.Contains(item.AddOnOf, strings.ToUpper(parent.CatalogItemID)) {
			return refuseCart(
				http.StatusBadRequest,
				pc.CodeAddonNotRelated,
				"The add-on %s is not related to the specified parent %s.",
				li.CatalogItemID,
				parent.CatalogItemID,
			)
		}
		return nil
	}
	if item.Kind != kindLegacyAddon {
		return nil
	}
	psid := provisioningValue(li.ProvisioningContext, pc.ProvisioningParentSubscriptionID)
	if psid == "" {
		li.Error = &pc.CartLineItemError{
			ErrorCode: pc.CodeCartInvalidInput,
			ErrorDescription: fmt.Sprintf(
				"%s is an add-on: buy it in a base line's addonItems or name provisioningContext.parentSubscriptionId.",
				item.Name,
			),
		}
		return nil
	}
	sub := c.s.st.Subscriptions[strings.ToLower(psid)]
	if sub == nil || sub.CustomerID != c.t.ID || sub.Subscription.Status != pc.SubscriptionStatusActive ||
		!c.s.visibleSubscription(sub, c.now) {
		li.Error = &pc.CartLineItemError{
			ErrorCode:        pc.CodeCartSubscriptionNotValid,
			ErrorDescription: fmt.Sprintf("Subscription %s is not valid.", psid),
		}
		return nil
	}
	if !slices.Contains(item.AddOnOf, strings.ToUpper(sub.Subscription.OfferID)) {
		return refuseCart(
			http.StatusBadRequest,
			pc.CodeAddonNotRelated,
			"The add-on %s is not related to the specified parent subscription %s.",
			li.CatalogItemID,
			psid,
		)
	}
	return nil
}

// walkLines visits every line and its add-ons, base first.
func walkLines(lines []pc.CartLineItem, f func(li pc.CartLineItem, parent *pc.CartLineItem)) {
	for _, li := range lines {
		f(li, nil)
		for _, a := range li.AddonItems {
			f(a, &li)
		}
	}
}

func (s *Server) writeRefusal(w http.ResponseWriter, ref *cartRefusal) {
	s.pcFail(w, ref.status, ref.code, "%s", ref.message)
}

// cartView is a cart as Partner Center answers it: with its self link and
// without the request-only partner-of-record attestation.
func cartView(c *cartRecord) pc.Cart {
	v := c.Cart
	v.PartnerOnRecordAttestationAccepted = false
	v.Links = &pc.ResourceLinks{Self: selfLink("/customers/" + c.CustomerID + "/carts/" + v.ID)}
	return v
}

// createCart answers 201 with the cart, problems on its lines.
func (s *Server) createCart(w http.ResponseWriter, r *http.Request) {
	t := s.customer(w, r)
	if t == nil {
		return
	}
	var in pc.Cart
	if err := decode(r, &in); err != nil || len(in.LineItems) == 0 {
		s.pcFail(w, http.StatusBadRequest, 0, "A cart needs at least one line item.")
		return
	}
	lines, ref := s.checkCart(t, in.LineItems)
	if ref != nil {
		s.writeRefusal(w, ref)
		return
	}
	now := s.now()
	cart := pc.Cart{
		ID:                                 newID(),
		CreationTimestamp:                  pc.NewTime(now),
		LastModifiedTimestamp:              pc.NewTime(now),
		ExpirationTimestamp:                pc.NewTime(now.Add(cartLifetime)),
		LastModifiedUser:                   s.partnerUserID(),
		Status:                             pc.CartStatusActive,
		LineItems:                          lines,
		PartnerOnRecordAttestationAccepted: in.PartnerOnRecordAttestationAccepted,
		Attributes:                         pc.Attributes{ObjectType: "Cart"},
	}
	rec := &cartRecord{CustomerID: t.ID, Cart: cart}
	s.st.Carts[cart.ID] = rec
	s.st.mark(kindCart, cart.ID)
	writeJSON(w, http.StatusCreated, cartView(rec))
}

// cart finds the customer and its live cart named in the path, or answers the error.
func (s *Server) cart(w http.ResponseWriter, r *http.Request) (*Tenant, *cartRecord) {
	t := s.customer(w, r)
	if t == nil {
		return nil, nil
	}
	c := s.st.Carts[strings.ToLower(r.PathValue("cartId"))]
	if c == nil || c.CustomerID != t.ID {
		s.pcFail(w, http.StatusNotFound, 0, "Cart %s was not found.", r.PathValue("cartId"))
		return nil, nil
	}
	if c.Checkout == nil && !s.now().Before(c.Cart.ExpirationTimestamp.Time) {
		s.pcFail(w, http.StatusBadRequest, 0, "Cart %s has expired.", c.Cart.ID)
		return nil, nil
	}
	return t, c
}

func (s *Server) getCart(w http.ResponseWriter, r *http.Request) {
	if _, c := s.cart(w, r); c != nil {
		writeJSON(w, http.StatusOK, cartView(c))
	}
}

// updateCart replaces the lines (and the partner-of-record attestation) of
// an active cart; it answers 201 as the documented example does, at the
// documented path with or without its trailing slash.
func (s *Server) updateCart(w http.ResponseWriter, r *http.Request) {
	t, c := s.cart(w, r)
	if c == nil {
		return
	}
	if c.Checkout != nil {
		s.pcFail(w, http.StatusBadRequest, 0, "Cart %s was already checked out.", c.Cart.ID)
		return
	}
	var in pc.Cart
	if err := decode(r, &in); err != nil || len(in.LineItems) == 0 {
		s.pcFail(w, http.StatusBadRequest, 0, "A cart needs at least one line item.")
		return
	}
	lines, ref := s.checkCart(t, in.LineItems)
	if ref != nil {
		s.writeRefusal(w, ref)
		return
	}
	c.Cart.LineItems = lines
	c.Cart.PartnerOnRecordAttestationAccepted = in.PartnerOnRecordAttestationAccepted
	c.Cart.LastModifiedTimestamp = pc.NewTime(s.now())
	c.Cart.LastModifiedUser = s.partnerUserID()
	s.st.mark(kindCart, c.Cart.ID)
	writeJSON(w, http.StatusCreated, cartView(c))
}

// ownedAssets counts t's subscriptions of an offer that are not deleted,
// provisioned or not.
func (s *Server) ownedAssets(customerID, offerID string) int {
	n := 0
	for _, sub := range s.st.subsOf[customerID] {
		if strings.EqualFold(sub.Subscription.OfferID, offerID) &&
			sub.Subscription.Status != pc.SubscriptionStatusDeleted {
			n++
		}
	}
	return n
}

// checkout places one order per billing cycle, each pending until the
// provisioning delay has passed (subscription IDs are in the answer at
// once, as in the new-commerce example; the subscriptions appear when the
// order completes). A retry with the same MS-RequestId gets the first
// answer from the service wrapper; a repeat with another request ID gets it
// too, or 400 800065 with Config.RefuseResubmittedCart. Refusals: 403 13605
// without an MCA attestation (public-cloud customers only: partner
// confirmation of the MCA does not exist for US Government customers), the
// reseller refusals of a cart, 400 800009 when lines carry errors (Data
// lists them) and 403 800089 past an item's per-customer limit (a second
// Azure plan).
func (s *Server) checkout(w http.ResponseWriter, r *http.Request) {
	t, c := s.cart(w, r)
	if c == nil {
		return
	}
	if c.Checkout != nil {
		if s.cfg.RefuseResubmittedCart {
			s.pcFail(
				w,
				http.StatusBadRequest,
				pc.CodeCartAlreadySubmitted,
				"Cannot check out an already submitted cart %s.",
				c.Cart.ID,
			)
			return
		}
		writeJSON(w, http.StatusCreated, c.Checkout)
		return
	}
	if !t.usGov() && len(s.st.Agreements[t.ID]) == 0 {
		s.pcFail(
			w,
			http.StatusForbidden,
			pc.CodeMCANotAccepted,
			"Either a partner confirmation of the customer acceptance of the Microsoft Customer Agreement must be "+
				"provided or the customer must accept the Microsoft Customer Agreement in the Microsoft Admin Center "+
				"before you can complete this purchase.",
		)
		return
	}
	// Check again: resellers may have left, parent subscriptions changed.
	lines, ref := s.checkCart(t, c.Cart.LineItems)
	if ref != nil {
		s.writeRefusal(w, ref)
		return
	}
	var problems []string
	counts := map[string]int{}
	walkLines(lines, func(li pc.CartLineItem, _ *pc.CartLineItem) {
		if li.Error != nil {
			problems = append(
				problems,
				fmt.Sprintf(
					"Line item %d (%s): %d %s",
					li.ID,
					li.CatalogItemID,
					li.Error.ErrorCode,
					li.Error.ErrorDescription,
				),
			)
			return
		}
		counts[li.CatalogItemID]++
	})
	if len(problems) > 0 {
		s.pcFailFrom(w, http.StatusBadRequest, pc.CodeCartItemErrors, sourceFD, problems, "Error in Cart item(s)")
		return
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		item, _, _ := lookupCatalog(id)
		if item.AssetLimit == 0 {
			continue
		}
		if left := max(item.AssetLimit-s.ownedAssets(t.ID, id), 0); counts[id] > left {
			s.pcFail(
				w,
				http.StatusForbidden,
				pc.CodeAssetLimitExceeded,
				"For the current term, the requested number of %d asset(s) exceeded the remaining limit of %d "+
					"assets allowed per customer.",
				counts[id],
				left,
			)
			return
		}
	}
	now := s.now()
	ready := now.Add(s.provDelay)
	currency, symbol := currencyOf(t.Country)
	byCycle := map[string]*pc.Order{}
	var cycles []string
	subOf := map[int]string{}
	walkLines(lines, func(li pc.CartLineItem, parent *pc.CartLineItem) {
		o := byCycle[li.BillingCycle]
		if o == nil {
			id := strings.ReplaceAll(newID(), "-", "")[:12]
			base := "/customers/" + t.ID + "/orders/" + id
			o = &pc.Order{
				ID:                  id,
				AlternateID:         id,
				ReferenceCustomerID: t.ID,
				BillingCycle:        li.BillingCycle,
				CurrencyCode:        currency,
				CurrencySymbol:      symbol,
				LineItems:           []pc.OrderLineItem{},
				CreationDate:        pc.NewTime(now),
				Status:              pc.OrderStatusPending,
				TransactionType:     "UserPurchase",
				Links: &pc.OrderLinks{
					Self:               selfLink(base),
					ProvisioningStatus: selfLink(base + "/provisioningstatus"),
					PatchOperation:     &pc.Link{URI: base, Method: http.MethodPatch, Headers: []pc.LinkHeader{}},
				},
				Client:     map[string]any{},
				Attributes: pc.Attributes{ObjectType: "Order"},
			}
			byCycle[li.BillingCycle] = o
			cycles = append(cycles, li.BillingCycle)
		}
		item, _, _ := lookupCatalog(li.CatalogItemID)
		parentSub := ""
		if parent != nil {
			parentSub = subOf[parent.ID]
		} else if item.Kind == kindLegacyAddon {
			parentSub = strings.ToLower(provisioningValue(li.ProvisioningContext, pc.ProvisioningParentSubscriptionID))
		}
		sub := s.newSubscription(newID(), t, li, item, o.ID, parentSub, now)
		subOf[li.ID] = sub.ID
		s.st.putSubscription(&subscriptionRecord{CustomerID: t.ID, Subscription: sub})
		var additional []string
		for _, p := range li.Participants {
			if strings.EqualFold(p.Key, pc.ParticipantAdditionalTransactionReseller) {
				additional = append(additional, p.Value)
			}
		}
		ol := pc.OrderLineItem{
			LineItemNumber:               len(o.LineItems),
			OfferID:                      li.CatalogItemID,
			SubscriptionID:               sub.ID,
			TermDuration:                 li.TermDuration,
			TransactionType:              "New",
			FriendlyName:                 sub.FriendlyName,
			Quantity:                     li.Quantity,
			PartnerIDOnRecord:            li.Reseller(),
			AdditionalPartnerIDsOnRecord: additional,
		}
		if product, sku, availability := productLinks(li.CatalogItemID, t.Country); product != nil {
			ol.Links = &pc.OrderLineItemLinks{Product: product, SKU: sku, Availability: availability}
		}
		o.LineItems = append(o.LineItems, ol)
	})
	res := &pc.CheckoutResult{Orders: []pc.Order{}, Attributes: pc.Attributes{ObjectType: "CartCheckoutResult"}}
	for _, cy := range cycles {
		o := byCycle[cy]
		s.st.Orders[o.ID] = &orderRecord{CustomerID: t.ID, Order: *o, ReadyAt: ready}
		s.st.mark(kindOrder, o.ID)
		res.Orders = append(res.Orders, *o)
	}
	c.Cart.LineItems = lines
	c.Checkout = res
	c.Cart.Status = pc.CartStatusOrdered
	s.st.mark(kindCart, c.Cart.ID)
	writeJSON(w, http.StatusCreated, res)
}

// productLinks are the product, SKU and availability links of a
// product:sku:availability catalog item ID; nil for other IDs.
func productLinks(id, country string) (product, sku, availability *pc.Link) {
	parts := strings.Split(id, ":")
	if len(parts) != 3 {
		return nil, nil, nil
	}
	q := "?country=" + country
	p := "/products/" + parts[0]
	return selfLink(p + q),
		selfLink(p + "/skus/" + parts[1] + q),
		selfLink(p + "/skus/" + parts[1] + "/availabilities/" + parts[2] + q)
}

// subscriptionEtag is a subscription ETag shaped as the legacy examples'
// (base64 of {"id":...,"version":1}); the new-commerce example has none.
func subscriptionEtag(id string) string {
	return base64.StdEncoding.EncodeToString([]byte(`{"id":"` + id + `","version":1}`))
}

// azurePlanCommitmentEnd is the far-future commitment end of usage-based
// subscriptions (the Microsoft Azure subscription example).
var azurePlanCommitmentEnd = time.Date(9999, 12, 10, 0, 0, 0, 0, time.UTC)

// cancellationWindow is how long after purchase a new-commerce licence
// subscription can be cancelled with a refund (simulator's choice: the
// 7 days of new commerce; the documented example shows one "Full" option).
const cancellationWindow = 7 * 24 * time.Hour

// newSubscription is the subscription id a checked-out line becomes, shaped
// as Microsoft's subscription examples for its kind of product.
func (s *Server) newSubscription(
	id string,
	t *Tenant,
	li pc.CartLineItem,
	item catalogItem,
	orderID, parentSubID string,
	now time.Time,
) pc.Subscription {
	friendly := li.FriendlyName
	if friendly == "" {
		friendly = item.Name
	}
	renewal := ""
	if li.RenewsTo != nil {
		renewal = li.RenewsTo.TermDuration
	}
	sub := pc.Subscription{
		ID:                  id,
		OfferID:             li.CatalogItemID,
		OfferName:           item.Name,
		FriendlyName:        friendly,
		Quantity:            li.Quantity,
		CreationDate:        pc.NewTime(now),
		EffectiveStartDate:  pc.NewTime(now),
		Status:              pc.SubscriptionStatusActive,
		BillingCycle:        li.BillingCycle,
		TermDuration:        li.TermDuration,
		RenewalTermDuration: renewal,
		IsMicrosoftProduct:  true,
		PartnerID:           li.Reseller(),
		ContractType:        "subscription",
		PublisherName:       "Microsoft Corporation",
		OrderID:             orderID,
		Links: &pc.SubscriptionLinks{
			Self: selfLink("/customers/" + t.ID + "/subscriptions/" + id),
		},
		Attributes: pc.Attributes{ObjectType: "Subscription"},
	}
	sub.Links.Product, sub.Links.SKU, sub.Links.Availability = productLinks(li.CatalogItemID, t.Country)
	switch item.Kind {
	case kindLicense:
		sub.ProductType = &pc.ItemType{ID: "OnlineServicesNCE", DisplayName: "OnlineServicesNCE"}
		sub.UnitType, sub.BillingType, sub.AutoRenewEnabled = "Licenses", "license", true
		sub.CommitmentEndDate = pc.NewTime(termEnd(now, li.TermDuration))
		if !li.CustomTermEndDate.IsZero() {
			sub.CommitmentEndDate = li.CustomTermEndDate
		}
		sub.CancellationAllowedUntilDate = pc.NewTime(now.Add(cancellationWindow))
		sub.RefundOptions = []pc.RefundOption{{Type: "Full", ExpiresAt: pc.NewTime(now.Add(cancellationWindow))}}
	case kindAzurePlan:
		sub.Attributes.Etag = subscriptionEtag(id)
		sub.ProductType = &pc.ItemType{ID: "Azure", DisplayName: "Azure"}
		sub.UnitType, sub.BillingType = "Usage-based", "usage"
		sub.CommitmentEndDate = pc.NewTime(azurePlanCommitmentEnd)
	case kindReservation:
		sub.ProductType = &pc.ItemType{ID: "Azure", DisplayName: "Azure"}
		sub.UnitType, sub.BillingType = "Instances", "license"
		sub.CommitmentEndDate = pc.NewTime(termEnd(now, li.TermDuration))
	case kindLegacyBase, kindLegacyAddon:
		sub.Attributes.Etag = subscriptionEtag(id)
		sub.ProductType = &pc.ItemType{ID: "OnlineServices", DisplayName: "OnlineServices"}
		sub.UnitType, sub.BillingType, sub.AutoRenewEnabled = "Licenses", "license", true
		sub.HasPurchasableAddons = item.Kind == kindLegacyBase
		sub.CommitmentEndDate = pc.NewTime(termEnd(now, "P1Y"))
		sub.Links.Offer = selfLink("/offers/" + li.CatalogItemID + "?country=" + t.Country)
	}
	if parentSubID != "" {
		sub.ParentSubscriptionID = parentSubID
		sub.Links.ParentSubscription = selfLink("/customers/" + t.ID + "/subscriptions/" + parentSubID)
	}
	return sub
}

func (s *Server) order(w http.ResponseWriter, r *http.Request, t *Tenant) *orderRecord {
	o := s.st.Orders[r.PathValue("orderId")]
	if o == nil || o.CustomerID != t.ID {
		s.pcFail(w, http.StatusNotFound, pc.CodeOrderNotFound, "Order %s was not found.", r.PathValue("orderId"))
		return nil
	}
	return o
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	if t := s.customer(w, r); t != nil {
		if o := s.order(w, r, t); o != nil {
			v := o.Order
			v.Status = o.status(s.now(), s.cfg.ActivationDelay)
			writeJSON(w, http.StatusOK, v)
		}
	}
}

// orderProvisioning answers the order's provisioning status: every line
// prefulfillmentPending, then fulfilled once the order is provisioned.
func (s *Server) orderProvisioning(w http.ResponseWriter, r *http.Request) {
	t := s.customer(w, r)
	if t == nil {
		return
	}
	o := s.order(w, r, t)
	if o == nil {
		return
	}
	st := pc.ProvisioningPrefulfillmentPending
	if o.provisioned(s.now(), s.cfg.ActivationDelay) {
		st = pc.ProvisioningFulfilled
	}
	out := pc.OrderProvisioningStatus{
		Items:      []pc.LineItemProvisioningStatus{},
		Attributes: pc.Attributes{ObjectType: "Collection"},
	}
	for _, li := range o.Order.LineItems {
		out.Items = append(out.Items, pc.LineItemProvisioningStatus{
			OrderLineItemID:                 li.LineItemNumber,
			LineItemNumber:                  li.LineItemNumber,
			Status:                          st,
			QuantityProvisioningInformation: []pc.QuantityProvisioningStatus{{Quantity: li.Quantity, Status: st}},
		})
	}
	out.TotalCount = len(out.Items)
	writeJSON(w, http.StatusOK, out)
}

// visibleSubscription hides a subscription until its order is provisioned.
func (s *Server) visibleSubscription(sub *subscriptionRecord, now time.Time) bool {
	o := s.st.Orders[sub.Subscription.OrderID]
	return o == nil || o.provisioned(now, s.cfg.ActivationDelay)
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	t := s.customer(w, r)
	if t == nil {
		return
	}
	now := s.now()
	items := []pc.Subscription{}
	for _, sub := range s.st.subsOf[t.ID] {
		if s.visibleSubscription(sub, now) {
			items = append(items, sub.Subscription)
		}
	}
	slices.SortFunc(items, func(a, b pc.Subscription) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, pc.Collection[pc.Subscription]{
		TotalCount: len(items),
		Items:      items,
		Links:      &pc.ResourceLinks{Self: selfLink("/customers/" + t.ID + "/subscriptions")},
		Attributes: pc.Attributes{ObjectType: "Collection"},
	})
}

func (s *Server) subscription(w http.ResponseWriter, r *http.Request) *subscriptionRecord {
	t := s.customer(w, r)
	if t == nil {
		return nil
	}
	sub := s.st.Subscriptions[strings.ToLower(r.PathValue("subscriptionId"))]
	if sub == nil || sub.CustomerID != t.ID || !s.visibleSubscription(sub, s.now()) {
		s.pcFail(
			w,
			http.StatusNotFound,
			pc.CodeSubscriptionNotFound,
			"Subscription with ID %s not found.",
			r.PathValue("subscriptionId"),
		)
		return nil
	}
	return sub
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request) {
	if sub := s.subscription(w, r); sub != nil {
		writeJSON(w, http.StatusOK, sub.Subscription)
	}
}

func supportContactView(customerID, subscriptionID string, sc pc.SupportContact) pc.SupportContact {
	sc.Links = &pc.ResourceLinks{
		Self: selfLink("/customers/" + customerID + "/subscriptions/" + subscriptionID + "/supportcontact"),
	}
	sc.Attributes = pc.Attributes{ObjectType: "SupportContact"}
	return sc
}

func (s *Server) getSupportContact(w http.ResponseWriter, r *http.Request) {
	sub := s.subscription(w, r)
	if sub == nil {
		return
	}
	if sub.SupportContact == nil {
		s.pcFail(w, http.StatusNotFound, 0, "Subscription %s has no support contact.", sub.Subscription.ID)
		return
	}
	writeJSON(w, http.StatusOK, supportContactView(sub.CustomerID, sub.Subscription.ID, *sub.SupportContact))
}

// updateSupportContact accepts only a partnered indirect reseller whose
// tenant (in any case, as the documented request writes it upper-case) and
// MPN ID match.
func (s *Server) updateSupportContact(w http.ResponseWriter, r *http.Request) {
	sub := s.subscription(w, r)
	if sub == nil {
		return
	}
	var in pc.SupportContact
	if err := decode(r, &in); err != nil {
		s.pcFail(w, http.StatusBadRequest, 0, "Invalid support contact: %v", err)
		return
	}
	p := s.st.Tenants[strings.ToLower(strings.TrimSpace(in.SupportTenantID))]
	if p == nil || !p.Partner || !p.ProviderAuthorized || p.MPNID != strings.TrimSpace(in.SupportMPNID) {
		s.pcFail(
			w,
			http.StatusBadRequest,
			pc.CodeNotIndirectReseller,
			"Tenant %s with PartnerID %s is not an indirect reseller of this provider.",
			in.SupportTenantID,
			in.SupportMPNID,
		)
		return
	}
	if in.Name == "" {
		in.Name = p.CompanyName
	}
	stored := pc.SupportContact{SupportTenantID: in.SupportTenantID, SupportMPNID: in.SupportMPNID, Name: in.Name}
	sub.SupportContact = &stored
	s.st.mark(kindSubscription, sub.Subscription.ID)
	writeJSON(w, http.StatusOK, supportContactView(sub.CustomerID, sub.Subscription.ID, stored))
}

// getAvailability answers "Get the availability by ID" for the items the simulator sells, in any
// country; any other item is a 404 (the simulator's choice of status for an unknown item).
func (s *Server) getAvailability(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("productId") + ":" + r.PathValue("skuId") + ":" + r.PathValue("availabilityId")
	_, key, ok := lookupCatalog(id)
	if !ok {
		s.pcFail(w, http.StatusNotFound, 0, "Availability %s was not found.", id)
		return
	}
	parts := strings.Split(key, ":")
	writeJSON(w, http.StatusOK, pc.Availability{
		ID:            parts[2],
		ProductID:     parts[0],
		SkuID:         parts[1],
		CatalogItemID: key,
		Country:       strings.ToUpper(r.URL.Query().Get("country")),
		Segment:       "commercial",
		IsPurchasable: true,
		Attributes:    pc.Attributes{ObjectType: "Availability"},
	})
}
