package sim

import (
	"net/http"
	"strings"
	"sync"
)

// requestCounts counts the requests the simulator answered, by route, so that a test or the
// bench can tell how often partnerflow calls Partner Center, Graph and Entra ID: waiting flows
// are meant to leave them alone, and a count over an idle minute shows whether they do.
type requestCounts struct {
	mu      sync.Mutex
	byRoute map[string]int64
}

// unmatchedRoute is the count of requests no route took (answered 404 or 405).
const unmatchedRoute = "unmatched"

// count wraps the simulator's mux. Each request is counted before it is served, so a client
// that has its answer finds it in the count (routing it twice costs a microsecond or so).
func (c *requestCounts) count(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, route := mux.Handler(r)
		if route == "" {
			route = unmatchedRoute
		}
		c.mu.Lock()
		if c.byRoute == nil {
			c.byRoute = map[string]int64{}
		}
		c.byRoute[route]++
		c.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

// RequestCounts is the answer of GET /sim/requests: the requests answered since the simulator
// started, by route pattern ("GET /v1/customers"), the admin API's own included.
type RequestCounts struct {
	// Total is every request; Microsoft only those to the routes that stand in for Partner
	// Center, Graph and Entra ID (not /sim/*, nor unmatched ones).
	Total     int64            `json:"total"`
	Microsoft int64            `json:"microsoft"`
	ByRoute   map[string]int64 `json:"byRoute"`
}

// AdminRoute says whether a route pattern ("GET /sim/tenants") is of the simulator's admin API
// (or no route at all) rather than one of Microsoft's services.
func AdminRoute(pattern string) bool {
	if pattern == unmatchedRoute {
		return true
	}
	_, path, ok := strings.Cut(pattern, " ")
	if !ok {
		path = pattern
	}
	return strings.HasPrefix(path, "/sim/")
}

// Requests returns the requests counted so far.
func (s *Server) Requests() RequestCounts {
	c := &s.requests
	c.mu.Lock()
	defer c.mu.Unlock()
	out := RequestCounts{ByRoute: make(map[string]int64, len(c.byRoute))}
	for route, n := range c.byRoute {
		out.ByRoute[route] = n
		out.Total += n
		if !AdminRoute(route) {
			out.Microsoft += n
		}
	}
	return out
}

// listRequests serves GET /sim/requests. It takes no lock of the world: counting never waits
// for the simulated services.
func (s *Server) listRequests(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Requests())
}
