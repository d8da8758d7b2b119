package partnercenter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// tenantRelationshipsPath is Graph's tenantRelationships, under which the GDAP relationships and
// findTenantInformationByDomainName live.
const tenantRelationshipsPath = "/v1.0/tenantRelationships"

// CustomersPageSize is the page size ListCustomers asks for. Microsoft documents no maximum
// ("Get a list of customers" marks size required; the SDK's examples read 40 at a time); the
// simulator caps pages at 500, which a 2016 maintainer's answer gives as the service's. Fewer
// pages are fewer calls against a throttled API.
const CustomersPageSize = 500

// GraphPageSize is the $top the Graph lists ask for: "$top supports up to 300 objects" (List
// delegatedAdminRelationships, List accessAssignments).
const GraphPageSize = 300

// maxGraphPages bounds a list read to the end in one call (ListAccessAssignments): a service
// handing out new nextLinks forever must not keep a worker busy forever.
const maxGraphPages = 1000

// ErrForeignNextLink is returned for an @odata.nextLink that is not a page of the same list on
// the configured Graph service (another scheme, host or port, user information, or another
// path). Nothing is sent: the access token goes only to the configured service.
var ErrForeignNextLink = errors.New(
	"the @odata.nextLink is not a page of the same list on the configured Graph service",
)

// ListCustomers implements Client: GET /v1/customers?size=500 ("Get a list of customers",
// app-only or App+User), then seekCustomers' pages.
func (c *HTTPClient) ListCustomers(ctx context.Context, continuation string) (Collection[Customer], error) {
	return c.seekCustomers(ctx, "list customers", url.Values{"size": {strconv.Itoa(CustomersPageSize)}}, continuation)
}

// seekCustomers reads one page of GET /v1/customers: with continuation "" the first, asked with
// the query first; otherwise GET /v1/customers?seekOperation=Next with the token in
// MS-ContinuationToken, as the .NET SDK's seek query sends it (the token carries the size and
// the filter). The next page's token is read from links.next (its MS-ContinuationToken header,
// else the body's continuationToken); no links.next means the last page, as in the SDK's
// enumerator. The page's ContinuationToken is set to that token, "" on the last page.
func (c *HTTPClient) seekCustomers(
	ctx context.Context, op string, first url.Values, continuation string,
) (Collection[Customer], error) {
	cl := call{op: op, method: http.MethodGet, path: "/v1/customers", query: first}
	if continuation != "" {
		cl.query = url.Values{"seekOperation": {"Next"}}
		cl.header = http.Header{HeaderContinuationToken: {continuation}}
	}
	var out Collection[Customer]
	cl.out = &out
	if err := c.do(ctx, cl); err != nil {
		return Collection[Customer]{}, err
	}
	next := ""
	if out.Links != nil && out.Links.Next != nil {
		next = out.Links.Next.Header(HeaderContinuationToken)
		if next == "" {
			next = out.ContinuationToken
		}
		if next == "" {
			return Collection[Customer]{}, fmt.Errorf("%s: links.next carries no continuation token", op)
		}
		if next == continuation {
			return Collection[Customer]{}, fmt.Errorf("%s: the service returned the continuation token it was sent", op)
		}
	}
	out.ContinuationToken = next
	return out, nil
}

// ListGDAPRelationships implements Client: GET .../delegatedAdminRelationships?$top=300, then
// the page's @odata.nextLink as it is ("Paging Microsoft Graph data in your app": do not take
// the $skiptoken out of it), once graphListURL has found it on the configured service.
func (c *HTTPClient) ListGDAPRelationships(
	ctx context.Context, nextLink string,
) (GraphCollection[GDAPRelationship], error) {
	page, err := graphPage[GDAPRelationship](ctx, c, "list GDAP relationships", gdapPath, nextLink)
	for i := range page.Value {
		page.Value[i] = c.withApprovalURL(page.Value[i])
	}
	return page, err
}

// graphPage reads one page of the Graph list at path: the first ($top=GraphPageSize) when
// nextLink is "", else the page nextLink names.
func graphPage[T any](ctx context.Context, c *HTTPClient, op, path, nextLink string) (GraphCollection[T], error) {
	u, err := c.graphListURL(op, path, nextLink)
	if err != nil {
		return GraphCollection[T]{}, err
	}
	var out GraphCollection[T]
	if err := c.do(ctx, call{op: op, svc: graph, method: http.MethodGet, link: u, out: &out}); err != nil {
		return GraphCollection[T]{}, err
	}
	if out.NextLink != "" && out.NextLink == nextLink {
		return GraphCollection[T]{}, fmt.Errorf("%s: the service returned the @odata.nextLink it was sent", op)
	}
	return out, nil
}

// graphListURL is the URL of a page of the Graph list at path (below /v1.0): the first page
// asks for $top=GraphPageSize; a nextLink is taken whole, after checking that it is the same
// list on the configured Graph service (scheme, host and port, no user information, the same
// path), so that the token never goes anywhere else.
func (c *HTTPClient) graphListURL(op, path, nextLink string) (*url.URL, error) {
	want := strings.TrimSuffix(c.graphURL.Path, "/") + path
	if nextLink == "" {
		u := *c.graphURL
		u.Path, u.RawPath = want, ""
		u.RawQuery = "$top=" + strconv.Itoa(GraphPageSize)
		return &u, nil
	}
	u, err := url.Parse(nextLink)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w: %v", op, ErrForeignNextLink, err)
	case !strings.EqualFold(u.Scheme, c.graphURL.Scheme) || !sameHost(u, c.graphURL) || u.User != nil:
		return nil, fmt.Errorf("%s: %w: it points at %s://%s, the service is %s://%s",
			op, ErrForeignNextLink, u.Scheme, u.Host, c.graphURL.Scheme, c.graphURL.Host)
	case !strings.EqualFold(strings.TrimSuffix(u.Path, "/"), want):
		return nil, fmt.Errorf("%s: %w: it names %s, the list is %s", op, ErrForeignNextLink, u.Path, want)
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// sameHost compares host names without regard to case, and ports with the scheme's default
// filled in.
func sameHost(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// odataPath keeps OData's quotes and parentheses as the documentation writes them in a path
// segment escaped by url.PathEscape (which would write %27, %28, %29).
var odataPath = strings.NewReplacer("%27", "'", "%28", "(", "%29", ")")

// FindTenantByDomain implements Client: GET
// /v1.0/tenantRelationships/findTenantInformationByDomainName(domainName='<domain>') with the
// app-only token (application permission CrossTenantInformation.ReadBasic.All). The domain is an
// OData string literal: a quote in it is doubled. The documentation names the parameter the
// tenant's primary domain and documents no answer for a domain no tenant holds; Graph answers
// 404 (IsNotFound), whatever its body says.
func (c *HTTPClient) FindTenantByDomain(ctx context.Context, domain string) (TenantInformation, error) {
	domain = strings.TrimSpace(domain)
	if domain == "" {
		return TenantInformation{}, fmt.Errorf("%s: the domain is empty", OpFindTenantByDomain)
	}
	fn := "findTenantInformationByDomainName(domainName='" + strings.ReplaceAll(domain, "'", "''") + "')"
	u := *c.graphURL
	u.Path = strings.TrimSuffix(c.graphURL.Path, "/") + tenantRelationshipsPath + "/" + fn
	u.RawPath = strings.TrimSuffix(c.graphURL.EscapedPath(), "/") + tenantRelationshipsPath + "/" +
		odataPath.Replace(url.PathEscape(fn))
	u.RawQuery, u.Fragment = "", ""
	var out TenantInformation
	err := c.do(ctx, call{op: OpFindTenantByDomain, svc: graph, method: http.MethodGet, link: &u, out: &out})
	return out, err
}
