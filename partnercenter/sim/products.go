package sim

import (
	"net/http"
	"slices"
	"strings"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// The catalog's lists, from the items the simulator sells (commerce.go), as Microsoft documents
// them:
//   - "Get a list of products (by country)": GET /v1/products?country=&targetView=
//     [&targetSegment=]; 403 400030 for a target segment and 403 400036 for a target view that
//     is not allowed;
//   - "Get a list of SKUs for a product (by country)": GET /v1/products/{id}/skus?country=;
//     404 400013 when the product is not found;
//   - "Get a list of availabilities for a SKU (by country)":
//     GET /v1/products/{id}/skus/{sku}/availabilities?country=.
//
// Every item is sold in every country, to the commercial segment. The simulator's choices (see
// README): a view or segment the articles do not name is refused as not allowed (400036,
// 400030); a request without country is a 400; an unknown SKU is a 404 without a code.

// targetViews maps each documented catalog view to the kinds of item it lists; the views with
// none of the simulator's kinds list nothing.
var targetViews = map[string][]itemKind{
	"Azure":                     {kindAzurePlan},
	"MicrosoftAzure":            {kindAzurePlan},
	"AzureReservations":         {kindReservation},
	"AzureReservationsVM":       {kindReservation},
	"AzureReservationsSQL":      nil,
	"AzureReservationsCosmosDb": nil,
	"OnlineServices":            {kindLicense},
	"Software":                  nil,
	"SoftwareSUSELinux":         nil,
	"SoftwarePerpetual":         nil,
	"SoftwareSubscriptions":     nil,
}

// targetSegments are the documented segments; the simulator sells to the commercial one.
var targetSegments = []string{"commercial", "education", "government", "nonprofit"}

// listedItem is one catalog entry as the lists show it.
type listedItem struct {
	productID, skuID, availabilityID string
	item                             catalogItem
}

// listedCatalog is every listed product:sku:availability item, in ID order.
func listedCatalog() []listedItem {
	var out []listedItem
	for id, item := range catalog {
		parts := strings.Split(id, ":")
		if len(parts) != 3 || item.Unlisted {
			continue
		}
		out = append(out, listedItem{productID: parts[0], skuID: parts[1], availabilityID: parts[2], item: item})
	}
	id := func(li listedItem) string { return li.productID + ":" + li.skuID + ":" + li.availabilityID }
	slices.SortFunc(out, func(a, b listedItem) int { return strings.Compare(id(a), id(b)) })
	return out
}

// catalogCountry reads the required country query parameter, or writes the 400.
func (s *Server) catalogCountry(w http.ResponseWriter, r *http.Request) (string, bool) {
	country := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("country")))
	if country == "" {
		s.pcFail(w, http.StatusBadRequest, 0, "The country query parameter is required.")
		return "", false
	}
	return country, true
}

// listProducts answers "Get a list of products (by country)".
func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.catalogCountry(w, r); !ok {
		return
	}
	q := r.URL.Query()
	kinds, ok := targetViews[q.Get("targetView")]
	if !ok {
		s.pcFail(w, http.StatusForbidden, 400036, "Access to the requested targetView is not allowed.")
		return
	}
	segment := q.Get("targetSegment")
	if segment != "" && !slices.Contains(targetSegments, segment) {
		s.pcFail(w, http.StatusForbidden, 400030, "Access to the requested targetSegment is not allowed.")
		return
	}
	items := []pc.Product{}
	if segment == "" || segment == "commercial" {
		for _, li := range listedCatalog() {
			if !slices.Contains(kinds, li.item.Kind) ||
				slices.ContainsFunc(items, func(p pc.Product) bool { return p.ID == li.productID }) {
				continue
			}
			items = append(items, productOf(li))
		}
	}
	writeCatalogList(w, items, "/products?"+q.Encode())
}

// productOf is the Product resource of an item's product.
func productOf(li listedItem) pc.Product {
	p := pc.Product{
		ID:                 li.productID,
		Title:              li.item.Name,
		IsMicrosoftProduct: true,
		PublisherName:      "Microsoft",
		Attributes:         pc.Attributes{ObjectType: "Product"},
	}
	switch li.item.Kind {
	case kindAzurePlan:
		p.ProductType = pc.ProductType{ID: "Azure", DisplayName: "Azure",
			SubType: &pc.ProductType{ID: "AzurePlan", DisplayName: "AzurePlan"}}
	case kindReservation:
		p.ProductType = pc.ProductType{ID: "Azure", DisplayName: "Azure",
			SubType: &pc.ProductType{ID: "VirtualMachines", DisplayName: "VirtualMachines"}}
	default:
		p.ProductType = pc.ProductType{ID: "OnlineServices", DisplayName: "OnlineServices"}
	}
	return p
}

// listSKUs answers "Get a list of SKUs for a product (by country)".
func (s *Server) listSKUs(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.catalogCountry(w, r); !ok {
		return
	}
	productID := strings.ToUpper(r.PathValue("productId"))
	items := []pc.SKU{}
	for _, li := range listedCatalog() {
		if li.productID != productID ||
			slices.ContainsFunc(items, func(k pc.SKU) bool { return k.ID == li.skuID }) {
			continue
		}
		items = append(items, pc.SKU{
			ID:                     li.skuID,
			ProductID:              li.productID,
			Title:                  li.item.Name,
			MinimumQuantity:        li.item.MinQuantity,
			MaximumQuantity:        li.item.MaxQuantity,
			SupportedBillingCycles: billingCyclesOf(li.item.Kind),
			Attributes:             pc.Attributes{ObjectType: "Sku"},
		})
	}
	if len(items) == 0 {
		s.pcFail(w, http.StatusNotFound, 400013, "The parent product was not found.")
		return
	}
	writeCatalogList(w, items, "/products/"+productID+"/skus?"+r.URL.Query().Encode())
}

// listAvailabilities answers "Get a list of availabilities for a SKU (by country)".
func (s *Server) listAvailabilities(w http.ResponseWriter, r *http.Request) {
	country, ok := s.catalogCountry(w, r)
	if !ok {
		return
	}
	productID, skuID := strings.ToUpper(r.PathValue("productId")), strings.ToUpper(r.PathValue("skuId"))
	items := []pc.Availability{}
	for _, li := range listedCatalog() {
		if li.productID != productID || li.skuID != skuID {
			continue
		}
		items = append(items, pc.Availability{
			ID:            li.availabilityID,
			ProductID:     li.productID,
			SkuID:         li.skuID,
			CatalogItemID: li.productID + ":" + li.skuID + ":" + li.availabilityID,
			Country:       country,
			Segment:       "commercial",
			IsPurchasable: true,
			Terms:         termsOf(li.item.Kind),
			Attributes:    pc.Attributes{ObjectType: "Availability"},
		})
	}
	if len(items) == 0 {
		s.pcFail(w, http.StatusNotFound, 0, "SKU %s of product %s was not found.", skuID, productID)
		return
	}
	path := "/products/" + productID + "/skus/" + skuID + "/availabilities?" + r.URL.Query().Encode()
	writeCatalogList(w, items, path)
}

// billingCyclesOf is what termProblem accepts for a kind of item.
func billingCyclesOf(k itemKind) []string {
	switch k {
	case kindAzurePlan:
		return []string{pc.BillingCycleNone}
	case kindReservation:
		return []string{pc.BillingCycleOneTime, pc.BillingCycleMonthly}
	default:
		return []string{pc.BillingCycleMonthly, pc.BillingCycleAnnual, pc.BillingCycleTriennial}
	}
}

// termsOf is the terms termProblem accepts for a kind of item (none for the Azure plan).
func termsOf(k itemKind) []pc.AvailabilityTerm {
	switch k {
	case kindAzurePlan:
		return nil
	case kindReservation:
		return []pc.AvailabilityTerm{{Duration: "P1Y", Description: "1 Year Prepaid"},
			{Duration: "P3Y", Description: "3 Years Prepaid"}}
	default:
		return []pc.AvailabilityTerm{{Duration: "P1M", Description: "1 Month"},
			{Duration: "P1Y", Description: "1 Year"}, {Duration: "P3Y", Description: "3 Years"}}
	}
}

// writeCatalogList writes a catalog collection with its self link.
func writeCatalogList[T any](w http.ResponseWriter, items []T, self string) {
	writeJSON(w, http.StatusOK, pc.Collection[T]{
		TotalCount: len(items),
		Items:      items,
		Links:      &pc.ResourceLinks{Self: selfLink(strings.TrimSuffix(self, "?"))},
		Attributes: pc.Attributes{ObjectType: "Collection"},
	})
}
