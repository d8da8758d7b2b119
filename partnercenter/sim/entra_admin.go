package sim

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// postApp answers POST /sim/apps {clientId?, clientSecret?, redirectUris}:
// registers an app in the home partner's tenant (IDs and secrets made up
// when not given).
func (s *Server) postApp(w http.ResponseWriter, r *http.Request) {
	var in App
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	if in.ClientID == "" {
		in.ClientID = newID()
	}
	if in.ClientSecret == "" {
		in.ClientSecret = randomToken(24)
	}
	switch {
	case !guidShape.MatchString(in.ClientID):
		refuse(http.StatusBadRequest, ReasonInvalidInput, "clientId must be a GUID").write(w)
		return
	case s.app(in.ClientID) != nil:
		refuse(
			http.StatusConflict,
			ReasonAlreadyAccepted,
			"an app with client ID "+in.ClientID+" is already registered",
		).write(w)
		return
	}
	if in.RedirectURIs == nil {
		in.RedirectURIs = []string{}
	}
	s.putApp(in)
	writeJSON(w, http.StatusCreated, in)
}

// appView is an app as GET /sim/apps lists it: without its secret.
type appView struct {
	ClientID     string   `json:"clientId"`
	RedirectURIs []string `json:"redirectUris"`
}

func (s *Server) listApps(w http.ResponseWriter, _ *http.Request) {
	out := make([]appView, 0, len(s.st.Apps))
	for _, k := range mapKeys(s.st.Apps) {
		a := s.st.Apps[k]
		out = append(out, appView{ClientID: a.ClientID, RedirectURIs: a.RedirectURIs})
	}
	writeJSON(w, http.StatusOK, out)
}

// postToken answers POST /sim/tokens: MintToken over HTTP; "mfa": false
// leaves MFA out.
func (s *Server) postToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TokenRequest
		MFA *bool `json:"mfa"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
			return
		}
	}
	in.SkipMFA = in.MFA != nil && !*in.MFA
	tok, err := s.mintToken(in.TokenRequest)
	if err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	writeJSON(
		w,
		http.StatusOK,
		map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(accessTokenLifetime.Seconds())},
	)
}

// postDeviceLogin answers POST /sim/devicelogin {userCode, upn, mfa?, deny?}:
// the user completing (or declining) a device login without the pages.
func (s *Server) postDeviceLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserCode string `json:"userCode"`
		UPN      string `json:"upn"`
		MFA      *bool  `json:"mfa"`
		Deny     bool   `json:"deny"`
	}
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	f := s.pendingDevice(in.UserCode)
	if f == nil {
		refuse(
			http.StatusNotFound,
			ReasonNotFound,
			"No device login waits for the code "+in.UserCode+" (unknown, expired or already used).",
		).write(w)
		return
	}
	if in.Deny {
		f.declined = true
		writeJSON(w, http.StatusOK, map[string]string{"status": "declined"})
		return
	}
	d, _ := s.directory(f.tenantID)
	u, ok := d.user(in.UPN)
	if !ok {
		refuse(
			http.StatusForbidden,
			ReasonWrongCustomerUser,
			"The user "+in.UPN+" does not belong to "+d.domain+".",
		).write(w)
		return
	}
	f.upn, f.mfa, f.approved = u.UPN, in.MFA == nil || *in.MFA, true
	writeJSON(w, http.StatusOK, map[string]any{"status": "approved", "upn": u.UPN, "mfa": f.mfa})
}

// Connection is a refresh token Entra issued, as GET /sim/connections lists
// it (never with the token).
type Connection struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenantId"`
	UPN       string    `json:"upn"`
	ClientID  string    `json:"clientId"`
	Scope     string    `json:"scope"`
	MFA       bool      `json:"mfa"`
	Issued    time.Time `json:"issued"`
	LastUsed  time.Time `json:"lastUsed,omitzero"`
	Revoked   bool      `json:"revoked"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
	Lapsed    bool      `json:"lapsed"`
}

func (s *Server) listConnections(w http.ResponseWriter, _ *http.Request) {
	now := s.now()
	out := make([]Connection, 0, len(s.st.RefreshTokens))
	for k, g := range s.st.RefreshTokens {
		out = append(out, Connection{
			ID:        k[:16],
			TenantID:  g.TenantID,
			UPN:       g.UPN,
			ClientID:  g.ClientID,
			Scope:     g.Scope,
			MFA:       g.MFA,
			Issued:    g.IssuedAt,
			LastUsed:  g.LastUsedAt,
			Revoked:   !g.RevokedAt.IsZero(),
			RevokedAt: g.RevokedAt,
			Lapsed:    g.lapsed(now),
		})
	}
	slices.SortFunc(out, func(a, b Connection) int {
		if c := a.Issued.Compare(b.Issued); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	writeJSON(w, http.StatusOK, out)
}

// postRevoke answers POST /sim/connections/revoke {upn?}: Entra's "revoke
// sessions" for one user, or for every user without a UPN.
func (s *Server) postRevoke(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UPN string `json:"upn"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": s.revoke(in.UPN)})
}

// revoke revokes the refresh tokens of upn (every user's when empty) and
// counts them; callers hold s.mu.
func (s *Server) revoke(upn string) int {
	now, n := s.now(), 0
	for k, g := range s.st.RefreshTokens {
		if !g.RevokedAt.IsZero() || (upn != "" && !strings.EqualFold(g.UPN, upn)) {
			continue
		}
		g.RevokedAt = now
		s.st.mark(kindRefreshToken, k)
		// Revoking a user's sessions is a critical event of continuous access evaluation: the
		// access tokens issued before it stop working at once, not when they expire.
		s.sessionsRevoked.Store(revocationKey(g.TenantID, g.UPN), time.Now())
		n++
	}
	return n
}
