package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/singleflight"

	"github.com/partnerflow/partnerflow/partnercenter"
)

// ProductCatalog lists what Partner Center sells (partnercenter.Client satisfies it).
type ProductCatalog interface {
	ListProducts(ctx context.Context, country, targetView string) ([]partnercenter.Product, error)
	ListSKUs(ctx context.Context, productID, country string) ([]partnercenter.SKU, error)
	ListAvailabilities(ctx context.Context, productID, skuID, country string) ([]partnercenter.Availability, error)
}

// catalogViews are the catalog views an onboarding buys from: licences and the Azure plan.
var catalogViews = []string{"OnlineServices", "Azure"}

// catalogTTL is how long a country's catalog is kept before it is read again. A walk costs one
// call per view, one per product and one per SKU.
const catalogTTL = time.Hour

// catalogItemView is one thing a cart line may name: a product's SKU as sold in the country,
// with the quantities, billing cycles and terms Partner Center lists for it.
type catalogItemView struct {
	CatalogItemID string     `json:"catalogItemId"`
	ProductID     string     `json:"productId"`
	Product       string     `json:"product"`
	ProductType   string     `json:"productType"`
	SkuID         string     `json:"skuId"`
	SKU           string     `json:"sku"`
	MinQuantity   int        `json:"minQuantity"`
	MaxQuantity   int        `json:"maxQuantity"`
	BillingCycles []string   `json:"billingCycles"`
	Terms         []termView `json:"terms"`
}

type termView struct {
	Duration    string `json:"duration"`
	Description string `json:"description,omitempty"`
}

// catalogView is a country's catalog as GET /v1/catalog answers it.
type catalogView struct {
	Country string            `json:"country"`
	ReadAt  time.Time         `json:"readAt"`
	Items   []catalogItemView `json:"items"`
}

// productCatalog keeps each country's catalog for catalogTTL; one walk per country at a time.
type productCatalog struct {
	source ProductCatalog
	now    func() time.Time
	walks  singleflight.Group
	mu     sync.Mutex
	kept   map[string]catalogView
}

func newProductCatalog(source ProductCatalog, now func() time.Time) *productCatalog {
	return &productCatalog{source: source, now: now, kept: map[string]catalogView{}}
}

// of is the catalog of country, read again when older than catalogTTL.
func (p *productCatalog) of(ctx context.Context, country string) (catalogView, error) {
	p.mu.Lock()
	kept, ok := p.kept[country]
	p.mu.Unlock()
	if ok && p.now().Sub(kept.ReadAt) < catalogTTL {
		return kept, nil
	}
	v, err, _ := p.walks.Do(country, func() (any, error) {
		// The walk outlives a caller that gives up, so the next one finds it done.
		return p.walk(context.WithoutCancel(ctx), country)
	})
	if err != nil {
		return catalogView{}, err
	}
	cv := v.(catalogView)
	p.mu.Lock()
	p.kept[country] = cv
	p.mu.Unlock()
	return cv, nil
}

// walk reads the catalog views' products, their SKUs and the SKUs' availabilities.
func (p *productCatalog) walk(ctx context.Context, country string) (catalogView, error) {
	out := catalogView{Country: country, ReadAt: p.now().UTC(), Items: []catalogItemView{}}
	for _, view := range catalogViews {
		products, err := p.source.ListProducts(ctx, country, view)
		if err != nil {
			return out, err
		}
		for _, pr := range products {
			skus, err := p.source.ListSKUs(ctx, pr.ID, country)
			if err != nil {
				return out, err
			}
			for _, sku := range skus {
				avs, err := p.source.ListAvailabilities(ctx, pr.ID, sku.ID, country)
				if err != nil {
					return out, err
				}
				for _, av := range avs {
					if !av.IsPurchasable {
						continue
					}
					item := catalogItemView{
						CatalogItemID: av.CatalogItemID, ProductID: pr.ID, Product: pr.Title,
						ProductType: pr.ProductType.ID, SkuID: sku.ID, SKU: sku.Title,
						MinQuantity: sku.MinimumQuantity, MaxQuantity: sku.MaximumQuantity,
						BillingCycles: sku.SupportedBillingCycles, Terms: []termView{},
					}
					for _, t := range av.Terms {
						item.Terms = append(item.Terms, termView{Duration: t.Duration, Description: t.Description})
					}
					out.Items = append(out.Items, item)
				}
			}
		}
	}
	return out, nil
}

// label is how a picker shows an item: product, and SKU when it differs.
func (i catalogItemView) label() string {
	if i.SKU == "" || strings.EqualFold(i.SKU, i.Product) {
		return i.Product
	}
	return i.Product + " — " + i.SKU
}

// catalogCountry reads a two-letter country, or says what is wrong with it.
func catalogCountry(raw string) (string, error) {
	country := strings.ToUpper(strings.TrimSpace(raw))
	if !countryPattern.MatchString(country) {
		return "", Invalid("country", "must be a two-letter ISO country code such as IT")
	}
	return country, nil
}

// catalogOf is the country's catalog, or the problem to answer with.
func (s *Server) catalogOf(ctx context.Context, country string) (catalogView, error) {
	if s.products == nil {
		return catalogView{}, NewProblem(http.StatusServiceUnavailable, "unavailable", "No catalog",
			"partnerflow has no Partner Center connection to read the catalog from")
	}
	v, err := s.products.of(ctx, country)
	if err != nil {
		return v, fmt.Errorf("read the catalog of %s: %w", country, err)
	}
	return v, nil
}

// getCatalog answers GET /v1/catalog?country=: what an onboarding's products may name.
func (s *Server) getCatalog(c *gin.Context) {
	country, err := catalogCountry(c.Query("country"))
	if err == nil {
		var v catalogView
		if v, err = s.catalogOf(c.Request.Context(), country); err == nil {
			c.JSON(http.StatusOK, v)
			return
		}
	}
	writeError(c, err)
}
