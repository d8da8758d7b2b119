package sim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Graph list paging ("List delegatedAdminRelationships", "List accessAssignments"): "$top
// supports up to 300 objects"; server-driven paging answers @odata.nextLink, a whole URL with an
// opaque $skiptoken, while more remain ("Paging Microsoft Graph data in your app": follow it as
// it is until it is absent).
const (
	// defaultGraphPageSize is a page without $top. Neither list's page states a default: 100
	// is the simulator's choice, the default the paging article gives for GET /users.
	defaultGraphPageSize = 100
	maxGraphPageSize     = 300
	// skipTokenLifetime is how long, in simulated time, a $skiptoken may be followed. Microsoft
	// documents none for these lists (the directory's tokens expire within minutes and answer
	// Directory_ExpiredPageToken); an hour is the simulator's choice: longer than any pacing a
	// sync needs, and /sim/clock can make a token stale.
	skipTokenLifetime = time.Hour
)

// Lists a $skiptoken can page.
const (
	listRelationships = "relationships"
	listAssignments   = "assignments/" // + the relationship's ID
)

// skipToken is what the simulator's $skiptoken carries (base64url of its JSON): the list it
// pages, where the last page ended (the relationship list: the last item's creation time and ID,
// which never change, so relationships created or deleted between pages neither repeat nor
// shift the rest; an assignment list, which only grows: how many were listed), the page size
// and when it goes stale.
type skipToken struct {
	List    string `json:"l"`
	Created int64  `json:"c,omitempty"` // UnixNano
	ID      string `json:"i,omitempty"`
	Offset  int    `json:"o,omitempty"`
	Top     int    `json:"t"`
	Expires int64  `json:"e"` // Unix seconds, simulated time
}

func (t skipToken) String() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// graphList is a page of a Graph list as the service writes it.
type graphList[T any] struct {
	Context  string `json:"@odata.context"`
	NextLink string `json:"@odata.nextLink,omitempty"`
	Value    []T    `json:"value"`
}

// queryParam reads a query parameter by name, ignoring case (Graph reads $skipToken and
// $skiptoken alike), and whether it was given.
func queryParam(r *http.Request, name string) (string, bool) {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.TrimSpace(v[0]), true
		}
	}
	return "", false
}

// graphPaging reads $top and $skiptoken of a request for a page of list: the page size and the
// token it continues (nil for the first page), or false after answering 400 in Graph's envelope
// for a $top outside 1..300 or a $skiptoken that is not one of this list's or has gone stale.
// The codes of those answers are the simulator's choice ("badRequest", as its other Graph
// refusals): Microsoft documents none for these lists.
func (s *Server) graphPaging(w http.ResponseWriter, r *http.Request, list string) (int, *skipToken, bool) {
	top := defaultGraphPageSize
	if v, ok := queryParam(r, "$top"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxGraphPageSize {
			s.graphFail(w, http.StatusBadRequest, "badRequest",
				"Invalid $top %q: it must be an integer from 1 to %d.", v, maxGraphPageSize)
			return 0, nil, false
		}
		top = n
	}
	raw, ok := queryParam(r, "$skiptoken")
	if !ok {
		return top, nil, true
	}
	var tok skipToken
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err == nil {
		err = json.Unmarshal(b, &tok)
	}
	switch {
	case err != nil || tok.List != list || tok.Top < 1 || tok.Top > maxGraphPageSize || tok.Offset < 0:
		s.graphFail(w, http.StatusBadRequest, "badRequest", "The $skiptoken is not valid for this list.")
		return 0, nil, false
	case !s.now().Before(time.Unix(tok.Expires, 0)):
		s.graphFail(w, http.StatusBadRequest, "badRequest",
			"The $skiptoken has expired; read the list again from its first page.")
		return 0, nil, false
	}
	if _, given := queryParam(r, "$top"); !given {
		top = tok.Top
	}
	return top, &tok, true
}

// nextLink is the @odata.nextLink of a page continued by tok: the path the call came to, on the
// host it came to (Graph's nextLink names graph.microsoft.com, the service the client called,
// whatever the simulator's PublicURL tells browsers), with $top and the new $skiptoken.
func (s *Server) nextLink(r *http.Request, tok skipToken) string {
	tok.Expires = s.now().Add(skipTokenLifetime).Unix()
	return requestBase(r) + r.URL.EscapedPath() + "?$top=" + strconv.Itoa(tok.Top) + "&$skiptoken=" + tok.String()
}

// requestBase is the scheme and host a request came to.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
