package sim

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

const (
	minGDAPDuration = 24 * time.Hour
	maxGDAPDuration = 730 * 24 * time.Hour
)

func (s *Server) graphFail(w http.ResponseWriter, status int, code, format string, args ...any) {
	s.fail(w, true, status, 0, code, fmt.Sprintf(format, args...))
}

func validAutoExtend(v string) bool {
	return v == "" || v == "PT0S" || v == "P0D" || v == "P180D"
}

func (s *Server) createGDAP(w http.ResponseWriter, r *http.Request) {
	var in pc.NewGDAPRelationship
	if err := decode(r, &in); err != nil {
		s.graphFail(w, http.StatusBadRequest, "badRequest", "Invalid relationship: %v", err)
		return
	}
	dur, err := parseISODuration(in.Duration)
	switch {
	case strings.TrimSpace(in.DisplayName) == "" || len([]rune(in.DisplayName)) > 50:
		s.graphFail(w, http.StatusBadRequest, "badRequest", "displayName is required and at most 50 characters.")
		return
	case err != nil || dur < minGDAPDuration || dur > maxGDAPDuration:
		s.graphFail(
			w,
			http.StatusBadRequest,
			"badRequest",
			"duration must be an ISO 8601 duration between P1D and P2Y.",
		)
		return
	case len(in.AccessDetails.UnifiedRoles) == 0:
		s.graphFail(w, http.StatusBadRequest, "badRequest", "accessDetails.unifiedRoles must name at least one role.")
		return
	case !validAutoExtend(in.AutoExtendDuration):
		s.graphFail(w, http.StatusBadRequest, "badRequest", "autoExtendDuration must be PT0S, P0D or P180D.")
		return
	case extends(in.AutoExtendDuration) && hasGlobalAdmin(in.AccessDetails.UnifiedRoles):
		s.graphFail(
			w,
			http.StatusBadRequest,
			"badRequest",
			"Auto-extension is not allowed for relationships with the Global Administrator role.",
		)
		return
	}
	for _, role := range in.AccessDetails.UnifiedRoles {
		if !guid.MatchString(role.RoleDefinitionID) {
			s.graphFail(
				w,
				http.StatusBadRequest,
				"badRequest",
				"roleDefinitionId %q is not a built-in role template ID.",
				role.RoleDefinitionID,
			)
			return
		}
	}
	if s.st.gdapByName[strings.ToLower(in.DisplayName)] != nil {
		s.graphFail(w, http.StatusConflict, "conflict", "A relationship named %q already exists.", in.DisplayName)
		return
	}
	var customer pc.GDAPCustomer
	if in.Customer != nil && in.Customer.TenantID != "" {
		t := s.st.Tenants[in.Customer.TenantID]
		if t == nil || t.Partner {
			s.graphFail(
				w,
				http.StatusBadRequest,
				"badRequest",
				"Customer tenant %s was not found.",
				in.Customer.TenantID,
			)
			return
		}
		customer = pc.GDAPCustomer{TenantID: t.ID, DisplayName: t.CompanyName}
	}
	now := s.now()
	g := &gdapRecord{
		ID:          newID() + "-" + newID(),
		DisplayName: in.DisplayName,
		Duration:    in.Duration,
		AutoExtend:  in.AutoExtendDuration,
		Customer:    customer,
		Roles:       in.AccessDetails.UnifiedRoles,
		Phase:       pc.GDAPStatusCreated,
		CreatedAt:   now,
		ModifiedAt:  now,
		Version:     1,
		Notified:    map[string]bool{},
	}
	s.st.putGDAP(g)
	w.Header().Set("Location", s.publicURL()+"/v1.0/tenantRelationships/delegatedAdminRelationships/"+g.ID)
	writeJSON(w, http.StatusCreated, g.view(now, s.cfg.ActivationDelay))
}

func (s *Server) gdap(w http.ResponseWriter, r *http.Request) *gdapRecord {
	g := s.st.GDAP[r.PathValue("id")]
	if g == nil || g.Phase == "deleted" {
		s.graphFail(w, http.StatusNotFound, "notFound", "Relationship %s was not found.", r.PathValue("id"))
		return nil
	}
	return g
}

// listGDAP answers a page of the partner's relationships, oldest first (by
// creation, then ID): at most $top (default 100, at most 300), with
// @odata.nextLink while more remain. A page costs a binary search and its
// items, whatever the number of relationships.
func (s *Server) listGDAP(w http.ResponseWriter, r *http.Request) {
	top, tok, ok := s.graphPaging(w, r, listRelationships)
	if !ok {
		return
	}
	var after time.Time
	id := ""
	if tok != nil {
		after, id = time.Unix(0, tok.Created).UTC(), tok.ID
	}
	found := s.st.gdapAfter(after, id, top+1)
	more := len(found) > top
	if more {
		found = found[:top]
	}
	now := s.now()
	out := graphList[pc.GDAPRelationship]{
		Context: requestBase(r) + "/v1.0/$metadata#tenantRelationships/delegatedAdminRelationships",
		Value:   make([]pc.GDAPRelationship, 0, len(found)),
	}
	for _, g := range found {
		out.Value = append(out.Value, g.view(now, s.cfg.ActivationDelay))
	}
	if more {
		last := found[len(found)-1]
		out.NextLink = s.nextLink(r, skipToken{
			List: listRelationships, Created: last.CreatedAt.UnixNano(), ID: last.ID, Top: top,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getGDAP(w http.ResponseWriter, r *http.Request) {
	if g := s.gdap(w, r); g != nil {
		writeJSON(w, http.StatusOK, g.view(s.now(), s.cfg.ActivationDelay))
	}
}

// checkIfMatch enforces the ETag on PATCH and DELETE.
func (s *Server) checkIfMatch(w http.ResponseWriter, r *http.Request, version int) bool {
	im := r.Header.Get("If-Match")
	switch {
	case im == "":
		s.graphFail(w, http.StatusBadRequest, "badRequest", "The If-Match header is required.")
		return false
	case im != "*" && im != etag(version):
		s.graphFail(
			w,
			http.StatusPreconditionFailed,
			"preconditionFailed",
			"The ETag does not match the current version.",
		)
		return false
	}
	return true
}

func (s *Server) patchGDAP(w http.ResponseWriter, r *http.Request) {
	g := s.gdap(w, r)
	if g == nil || !s.checkIfMatch(w, r, g.Version) {
		return
	}
	var in struct {
		AutoExtendDuration *string `json:"autoExtendDuration"`
	}
	if err := decode(r, &in); err != nil || in.AutoExtendDuration == nil {
		s.graphFail(w, http.StatusBadRequest, "badRequest", "Only autoExtendDuration can be updated.")
		return
	}
	now := s.now()
	status, _, _ := g.status(now, s.cfg.ActivationDelay)
	v := *in.AutoExtendDuration
	switch {
	case status != pc.GDAPStatusCreated && status != pc.GDAPStatusActive: // expiring is past its end
		s.graphFail(
			w,
			http.StatusBadRequest,
			"badRequest",
			"autoExtendDuration can change only while the relationship is created or active (it is %s).",
			status,
		)
		return
	case !validAutoExtend(v):
		s.graphFail(w, http.StatusBadRequest, "badRequest", "autoExtendDuration must be PT0S, P0D or P180D.")
		return
	case extends(v) && hasGlobalAdmin(g.Roles):
		s.graphFail(
			w,
			http.StatusBadRequest,
			"badRequest",
			"Auto-extension is not allowed for relationships with the Global Administrator role.",
		)
		return
	}
	g.AutoExtend = v
	g.ModifiedAt = now
	g.Version++
	s.st.mark(kindGDAP, g.ID)
	writeJSON(w, http.StatusOK, g.view(now, s.cfg.ActivationDelay))
}

func (s *Server) deleteGDAP(w http.ResponseWriter, r *http.Request) {
	g := s.gdap(w, r)
	if g == nil || !s.checkIfMatch(w, r, g.Version) {
		return
	}
	if g.Phase != pc.GDAPStatusCreated {
		s.graphFail(w, http.StatusBadRequest, "badRequest", "Only a relationship in status created can be deleted.")
		return
	}
	s.st.unlistGDAP(g)
	g.Phase = phaseDeleted
	g.Version++
	s.st.mark(kindGDAP, g.ID)
	w.WriteHeader(http.StatusNoContent)
}

// gdapRequest handles lockForApproval and terminate.
func (s *Server) gdapRequest(w http.ResponseWriter, r *http.Request) {
	g := s.gdap(w, r)
	if g == nil {
		return
	}
	var in struct {
		Action string `json:"action"`
	}
	if err := decode(r, &in); err != nil {
		s.graphFail(w, http.StatusBadRequest, "badRequest", "Invalid request: %v", err)
		return
	}
	now := s.now()
	status, _, _ := g.status(now, s.cfg.ActivationDelay)
	switch in.Action {
	case pc.GDAPActionLockForApproval:
		if status != pc.GDAPStatusCreated {
			s.graphFail(
				w,
				http.StatusBadRequest,
				"badRequest",
				"Only a relationship in status created can be locked for approval (it is %s).",
				status,
			)
			return
		}
		g.Phase, g.LockedAt = pc.GDAPStatusApprovalPending, now
	case pc.GDAPActionTerminate:
		if status != pc.GDAPStatusActive { // expiring is past its end
			s.graphFail(
				w,
				http.StatusBadRequest,
				"badRequest",
				"Only an active relationship can be terminated (it is %s).",
				status,
			)
			return
		}
		g.Phase, g.TerminationAt = pc.GDAPStatusTerminationRequested, now
	default:
		s.graphFail(w, http.StatusBadRequest, "badRequest", "Unknown action %q.", in.Action)
		return
	}
	g.ModifiedAt = now
	g.Version++
	s.st.mark(kindGDAP, g.ID)
	writeJSON(w, http.StatusCreated, pc.GDAPRequest{ID: newID(), Action: in.Action, Status: "succeeded",
		CreatedDateTime: pc.NewTime(now), LastModifiedDateTime: pc.NewTime(now)})
}

// createAssignment needs an active relationship, roles it holds, and one
// assignment per security group.
func (s *Server) createAssignment(w http.ResponseWriter, r *http.Request) {
	g := s.gdap(w, r)
	if g == nil {
		return
	}
	var in pc.NewAccessAssignment
	if err := decode(r, &in); err != nil {
		s.graphFail(w, http.StatusBadRequest, "badRequest", "Invalid access assignment: %v", err)
		return
	}
	now := s.now()
	if status, _, _ := g.status(now, s.cfg.ActivationDelay); status != pc.GDAPStatusActive {
		s.graphFail(
			w,
			http.StatusBadRequest,
			"badRequest",
			"Access can be assigned only on an active relationship (it is %s).",
			status,
		)
		return
	}
	if !guid.MatchString(in.AccessContainer.AccessContainerID) ||
		in.AccessContainer.AccessContainerType != "securityGroup" {
		s.graphFail(
			w,
			http.StatusBadRequest,
			"badRequest",
			"accessContainer must name one security group by its object ID.",
		)
		return
	}
	if len(in.AccessDetails.UnifiedRoles) == 0 {
		s.graphFail(w, http.StatusBadRequest, "badRequest", "accessDetails.unifiedRoles must name at least one role.")
		return
	}
	for _, role := range in.AccessDetails.UnifiedRoles {
		if !slices.ContainsFunc(
			g.Roles,
			func(h pc.UnifiedRole) bool { return strings.EqualFold(h.RoleDefinitionID, role.RoleDefinitionID) },
		) {
			s.graphFail(
				w,
				http.StatusBadRequest,
				"badRequest",
				"Role %s is not part of the relationship.",
				role.RoleDefinitionID,
			)
			return
		}
	}
	for _, a := range g.Assignments {
		if strings.EqualFold(a.GroupID, in.AccessContainer.AccessContainerID) {
			s.graphFail(
				w,
				http.StatusConflict,
				"conflict",
				"Security group %s already has an access assignment.",
				a.GroupID,
			)
			return
		}
	}
	a := &assignmentRecord{
		ID:         newID(),
		GroupID:    in.AccessContainer.AccessContainerID,
		GroupType:  in.AccessContainer.AccessContainerType,
		Roles:      in.AccessDetails.UnifiedRoles,
		CreatedAt:  now,
		ModifiedAt: now,
		Version:    1,
	}
	g.Assignments = append(g.Assignments, a)
	s.st.mark(kindGDAP, g.ID)
	writeJSON(w, http.StatusCreated, a.view(now, s.cfg.ActivationDelay))
}

// listAssignments answers a page of a relationship's access assignments in
// creation order, paged as listGDAP (assignments are never removed, so the
// token holds how many were listed).
func (s *Server) listAssignments(w http.ResponseWriter, r *http.Request) {
	g := s.gdap(w, r)
	if g == nil {
		return
	}
	top, tok, ok := s.graphPaging(w, r, listAssignments+g.ID)
	if !ok {
		return
	}
	from := 0
	if tok != nil {
		from = min(tok.Offset, len(g.Assignments))
	}
	to := min(from+top, len(g.Assignments))
	now := s.now()
	out := graphList[pc.AccessAssignment]{
		Context: requestBase(r) + "/v1.0/$metadata#tenantRelationships/delegatedAdminRelationships('" + g.ID +
			"')/accessAssignments",
		Value: make([]pc.AccessAssignment, 0, to-from),
	}
	for _, a := range g.Assignments[from:to] {
		out.Value = append(out.Value, a.view(now, s.cfg.ActivationDelay))
	}
	if to < len(g.Assignments) {
		out.NextLink = s.nextLink(r, skipToken{List: listAssignments + g.ID, Offset: to, Top: top})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getAssignment(w http.ResponseWriter, r *http.Request) {
	g := s.gdap(w, r)
	if g == nil {
		return
	}
	for _, a := range g.Assignments {
		if a.ID == r.PathValue("assignmentId") {
			writeJSON(w, http.StatusOK, a.view(s.now(), s.cfg.ActivationDelay))
			return
		}
	}
	s.graphFail(w, http.StatusNotFound, "notFound", "Access assignment %s was not found.", r.PathValue("assignmentId"))
}
