package sim

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// SignIn stands in for a user's clicks on the simulator's Entra sign-in pages, as the
// customer-actions stand in for clicks in the admin center: it opens authURL (an authorize URL
// of the simulator), picks upn, approves the MFA request or skips it, and returns the redirect
// the browser would follow (the app's redirect URI with code and state, or Entra's error). dev
// connects itself this way, and tests that are not about the pages do.
func SignIn(hc *http.Client, authURL, upn string, mfa bool) (*url.URL, error) {
	noFollow := *hc
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(authURL)
	if err != nil {
		return nil, fmt.Errorf("open the sign-in page: %w", err)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read the sign-in page: %w", err)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		return url.Parse(loc)
	}
	m := flowField.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return nil, fmt.Errorf("the sign-in page answered %d without a sign-in form: %.200s", resp.StatusCode, page)
	}
	step := "skip"
	if mfa {
		step = "approve"
	}
	form := url.Values{"flow": {string(m[1])}, "upn": {upn}, "mfa": {step}}
	action := strings.SplitN(authURL, "?", 2)[0]
	resp, err = noFollow.PostForm(action, form)
	if err != nil {
		return nil, fmt.Errorf("sign in as %s: %w", upn, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, errors.New("sign in as " + upn + ": no redirect: " + string(errorText.Find(body)))
	}
	return url.Parse(loc)
}

var (
	flowField = regexp.MustCompile(`name="flow" value="([^"]+)"`)
	errorText = regexp.MustCompile(`id="error"[^>]*>[^<]*`)
)

// AdminUPN is the user name of the home partner's Global admin, who connects partnerflow.
func (h HomePartner) AdminUPN() string { return "admin@" + h.Domain }

// RevokeConnections revokes the refresh tokens of upn (every user's when empty), as
// POST /sim/connections/revoke does, and returns how many.
func (s *Server) RevokeConnections(upn string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.revoke(upn)
	if err := s.flush(); err != nil {
		s.log.Error("persist simulator state", "err", err)
	}
	return n
}

// issuedTokens keeps the newest access and refresh tokens the simulator issued, in memory, so
// that a test can search partnerflow's databases, histories and logs for every token it was
// handed (GET /sim/tokens/issued). A stand-in for Entra may show its own tokens; Entra never would.
type issuedTokens struct {
	mu              sync.Mutex
	access, refresh []string
}

// keepIssued is how many tokens of each kind issuedTokens keeps.
const keepIssued = 500

func (t *issuedTokens) add(list *[]string, tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	*list = append(*list, tok)
	if len(*list) > keepIssued {
		*list = (*list)[len(*list)-keepIssued:]
	}
}

// listIssued answers GET /sim/tokens/issued: {accessTokens, refreshTokens}, oldest first.
func (s *Server) listIssued(w http.ResponseWriter, _ *http.Request) {
	s.issued.mu.Lock()
	out := map[string][]string{
		"accessTokens":  slices.Clone(s.issued.access),
		"refreshTokens": slices.Clone(s.issued.refresh),
	}
	s.issued.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
