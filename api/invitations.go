package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/workflows"
)

// FlowConfig is what the onboarding flows need from the API: who the partner is, where the
// workflows run, and the defaults a request may leave out.
type FlowConfig struct {
	// PartnerID is our partner tenant ID; every invitation belongs to it.
	PartnerID string
	// PartnerName is shown to customers on the landing page.
	PartnerName string
	// TaskQueue is where the workflows run (default workflows.InvitationTaskQueue).
	TaskQueue string
	// BaseURL is the public base of the links customers receive, such as https://onboard.example.com.
	BaseURL string
	// DefaultAssignments apply when a request names no access assignments, each narrowed to
	// the requested roles; with none, such a request is refused.
	DefaultAssignments []workflows.AccessAssignment
	// ContactEmail is the partner's escalation contact when a request names none.
	ContactEmail string
	// Policy is the reminder, escalation and polling schedule (default workflows.DefaultInvitationPolicy).
	Policy workflows.InvitationPolicy
	// ExpireAfter is how long an invitation waits for the customer (default 90 days, as long
	// as Microsoft keeps a GDAP request open).
	ExpireAfter time.Duration
	// Webhooks verifies Partner Center's webhook signatures; nil refuses every event.
	Webhooks *partnercenter.WebhookVerifier
	// TemporalUIURL is the Temporal Web UI's base address; when set, the dashboard links each
	// invitation to its workflow there.
	TemporalUIURL string
	// Namespace is the workflows' Temporal namespace (default "default"), for Web UI links.
	Namespace string
	// Now is the clock (default time.Now), so tests can move time.
	Now func() time.Time
}

func (f FlowConfig) withDefaults() FlowConfig {
	if f.TaskQueue == "" {
		f.TaskQueue = workflows.InvitationTaskQueue
	}
	if f.ExpireAfter <= 0 {
		f.ExpireAfter = 90 * 24 * time.Hour
	}
	if f.Namespace == "" {
		f.Namespace = "default"
	}
	if f.Now == nil {
		f.Now = time.Now
	}
	p := f.Policy
	if len(p.Reminders) == 0 && p.RepeatEvery == 0 && p.EscalateAfter == 0 && p.PollEvery == 0 {
		f.Policy = workflows.DefaultInvitationPolicy
	}
	return f
}

// invitationWorkflowType is the registered name of workflows.Invitation. The API starts the
// workflow by name so that it depends only on the workflow's input and message types.
const invitationWorkflowType = "Invitation"

// How long the API waits for Temporal before answering 503 (or, for queries, answering from the
// database alone).
const (
	startTimeout  = 10 * time.Second
	queryTimeout  = 3 * time.Second
	updateTimeout = 20 * time.Second
)

// Input limits of an invitation request.
const (
	maxDurationDays    = 730
	maxDisplayName     = 50
	maxCancelReason    = 500
	maxListLimit       = 200
	defaultListLimit   = 50
	invitationIDPrefix = "inv_"
)

var (
	domainPattern = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	guidPattern   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func (s *Server) invitationRoutes(v1 *gin.RouterGroup) {
	admin := requireRole(models.RoleAdminAgent, models.RoleGlobalAdmin)
	reader := requireRole(models.RoleAdminAgent, models.RoleSalesAgent, models.RoleGlobalAdmin)
	v1.POST("/invitations", admin, s.createInvitation)
	v1.GET("/invitations", reader, s.listInvitations)
	v1.GET("/invitations/:id", reader, s.getInvitation)
	v1.POST("/invitations/:id/resend", admin, s.resendInvitation)
	v1.POST("/invitations/:id/cancel", admin, s.cancelInvitation)
}

func problemInvitationOpen(id string) *Problem {
	p := NewProblem(http.StatusConflict, "invitation-open", "The customer already has an open invitation",
		"finish, cancel or wait for the open invitation before inviting this customer again")
	if id != "" {
		p.Location = "/v1/invitations/" + id
	}
	return p
}

func problemInvitationClosed(detail string) *Problem {
	return NewProblem(http.StatusConflict, "invitation-closed", "The invitation is closed", detail)
}

func problemInvitationNotFound() *Problem {
	p := problemNotFound()
	p.Detail = "no invitation with this ID"
	return p
}

type createInvitationRequest struct {
	CustomerDomain     string              `json:"customerDomain"`
	CustomerEmail      string              `json:"customerEmail"`
	Roles              []string            `json:"roles"`
	DurationDays       int                 `json:"durationDays"`
	AutoExtend         bool                `json:"autoExtend"`
	IndirectResellerID string              `json:"indirectResellerId"`
	DisplayName        string              `json:"displayName"`
	ContactEmail       string              `json:"contactEmail"`
	Assignments        []assignmentRequest `json:"assignments"`
}

type assignmentRequest struct {
	SecurityGroupID string   `json:"securityGroupId"`
	Roles           []string `json:"roles"`
}

// invitationInput checks a request completely, before anything is written or started, and
// returns the workflow input it asks for.
func (s *Server) invitationInput(req createInvitationRequest) (workflows.InvitationInput, *Problem) {
	in := workflows.InvitationInput{PartnerID: s.flows.PartnerID, AutoExtend: req.AutoExtend, Policy: s.flows.Policy}
	in.CustomerDomain = strings.ToLower(strings.TrimSpace(req.CustomerDomain))
	if !validDomain(in.CustomerDomain) {
		return in, Invalid("customerDomain", "must be a domain name such as contoso.onmicrosoft.com")
	}
	in.CustomerEmail = strings.TrimSpace(req.CustomerEmail)
	if !validEmail(in.CustomerEmail) {
		return in, Invalid("customerEmail", "must be an e-mail address such as admin@contoso.com")
	}
	roleIDs, p := resolveRoles("roles", req.Roles)
	if p != nil {
		return in, p
	}
	if len(roleIDs) == 0 {
		return in, Invalid("roles", "at least one Microsoft Entra role (name or template ID) is required")
	}
	in.RoleIDs = roleIDs
	if req.DurationDays < 1 || req.DurationDays > maxDurationDays {
		return in, Invalid("durationDays", "must be 1 to %d days", maxDurationDays)
	}
	in.DurationDays = req.DurationDays
	if req.AutoExtend && slices.Contains(roleIDs, partnercenter.GlobalAdministratorRoleID) {
		return in, Invalid("autoExtend", "Partner Center does not auto-extend a relationship that includes Global Administrator")
	}
	in.IndirectResellerID = strings.ToLower(strings.TrimSpace(req.IndirectResellerID))
	if in.IndirectResellerID != "" && !guidPattern.MatchString(in.IndirectResellerID) {
		return in, Invalid("indirectResellerId", "must be the indirect reseller's tenant ID (a GUID)")
	}
	in.DisplayName = strings.TrimSpace(req.DisplayName)
	if in.DisplayName == "" {
		in.DisplayName = s.defaultDisplayName(in.CustomerDomain)
	}
	if utf8.RuneCountInString(in.DisplayName) > maxDisplayName {
		return in, Invalid("displayName", "must be at most %d characters (a Microsoft Graph limit)", maxDisplayName)
	}
	in.ContactEmail = strings.TrimSpace(req.ContactEmail)
	if in.ContactEmail == "" {
		in.ContactEmail = s.flows.ContactEmail
	} else if !validEmail(in.ContactEmail) {
		return in, Invalid("contactEmail", "must be an e-mail address")
	}
	if req.Assignments == nil {
		in.Assignments = narrowAssignments(s.flows.DefaultAssignments, roleIDs)
		if len(in.Assignments) == 0 {
			return in, Invalid("assignments", "name at least one security group and its roles: no default assignment grants a requested role")
		}
		return in, nil
	}
	in.Assignments, p = parseAssignments(req.Assignments, roleIDs)
	return in, p
}

func parseAssignments(reqs []assignmentRequest, requested []string) ([]workflows.AccessAssignment, *Problem) {
	if len(reqs) == 0 {
		return nil, Invalid("assignments", "at least one security group and its roles is required")
	}
	out := make([]workflows.AccessAssignment, 0, len(reqs))
	seen := map[string]bool{}
	for i, a := range reqs {
		field := fmt.Sprintf("assignments[%d]", i)
		group := strings.ToLower(strings.TrimSpace(a.SecurityGroupID))
		if !guidPattern.MatchString(group) {
			return nil, Invalid(field+".securityGroupId", "must be the object ID (a GUID) of a security group in the partner tenant")
		}
		if seen[group] {
			return nil, Invalid(field+".securityGroupId", "security group %s is assigned twice", group)
		}
		seen[group] = true
		ids, p := resolveRoles(field+".roles", a.Roles)
		if p != nil {
			return nil, p
		}
		if len(ids) == 0 {
			return nil, Invalid(field+".roles", "at least one role is required")
		}
		for _, id := range ids {
			if !slices.Contains(requested, id) {
				role, _ := partnercenter.LookupEntraRole(id)
				return nil, Invalid(field+".roles", "%s is not among the requested roles", role.Name)
			}
		}
		out = append(out, workflows.AccessAssignment{SecurityGroupID: group, RoleIDs: ids})
	}
	return out, nil
}

// narrowAssignments keeps, of each default assignment, the roles the invitation asks for.
func narrowAssignments(defaults []workflows.AccessAssignment, requested []string) []workflows.AccessAssignment {
	var out []workflows.AccessAssignment
	for _, a := range defaults {
		var ids []string
		for _, id := range a.RoleIDs {
			if role, ok := partnercenter.LookupEntraRole(id); ok && slices.Contains(requested, role.ID) && !slices.Contains(ids, role.ID) {
				ids = append(ids, role.ID)
			}
		}
		if len(ids) > 0 {
			out = append(out, workflows.AccessAssignment{SecurityGroupID: a.SecurityGroupID, RoleIDs: ids})
		}
	}
	return out
}

// resolveRoles turns role names or template IDs into template IDs, without duplicates.
func resolveRoles(field string, names []string) ([]string, *Problem) {
	ids := make([]string, 0, len(names))
	for _, n := range names {
		role, ok := partnercenter.LookupEntraRole(strings.TrimSpace(n))
		if !ok {
			return nil, Invalid(field, "unknown Microsoft Entra role %q: use a built-in role's name or template ID", n)
		}
		if !slices.Contains(ids, role.ID) {
			ids = append(ids, role.ID)
		}
	}
	return ids, nil
}

func validDomain(d string) bool {
	return len(d) <= 253 && domainPattern.MatchString(d)
}

func validEmail(e string) bool {
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e {
		return false
	}
	at := strings.LastIndex(e, "@")
	return at > 0 && validDomain(strings.ToLower(e[at+1:]))
}

// defaultDisplayName is "<first word of the partner's name> <domain>", cut to Graph's limit.
func (s *Server) defaultDisplayName(domain string) string {
	short := "partnerflow"
	if words := strings.Fields(s.flows.PartnerName); len(words) > 0 {
		short = words[0]
	}
	name := []rune(short + " " + domain)
	if len(name) > maxDisplayName {
		name = name[:maxDisplayName]
	}
	return strings.TrimSpace(string(name))
}

func newInvitationID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return invitationIDPrefix + hex.EncodeToString(b)
}

// createInvitation validates the request, records the invitation and starts its workflow. The
// row is written first so that the database's one-open-invitation rule decides races between
// API replicas; a failed start removes it again.
func (s *Server) createInvitation(c *gin.Context) {
	var req createInvitationRequest
	if !bindJSON(c, &req) {
		return
	}
	in, p := s.invitationInput(req)
	if p != nil {
		writeProblem(c, p)
		return
	}
	ctx := c.Request.Context()
	now := s.flows.Now().UTC()
	inv := &models.Invitation{
		ID: newInvitationID(), PartnerID: in.PartnerID, CustomerDomain: in.CustomerDomain, CustomerEmail: in.CustomerEmail,
		IndirectResellerID: in.IndirectResellerID, Roles: strings.Join(in.RoleIDs, ","), DurationDays: in.DurationDays,
		AutoExtend: in.AutoExtend, Status: models.InvitationPending,
		WorkflowID: workflows.InvitationWorkflowID(in.PartnerID, in.CustomerDomain),
		CreatedAt:  now, UpdatedAt: now, ExpiresAt: now.Add(s.flows.ExpireAfter),
	}
	in.InvitationID, in.ExpiresAt = inv.ID, inv.ExpiresAt
	open, err := s.store.CreateInvitation(ctx, inv)
	if errors.Is(err, models.ErrConflict) && open != nil {
		writeConflict(c, problemInvitationOpen(open.ID))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.startInvitation(ctx, inv.WorkflowID, in); err != nil {
		if delErr := s.store.DeleteInvitation(context.WithoutCancel(ctx), inv.ID); delErr != nil {
			err = errors.Join(err, fmt.Errorf("delete invitation %s after the failed start: %w", inv.ID, delErr))
		}
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			c.Set(ctxError, err)
			writeProblem(c, problemInvitationOpen(""))
			return
		}
		c.Set(ctxError, err)
		writeProblem(c, problemUnavailable("the invitation's workflow could not be started; nothing was saved, try again"))
		return
	}
	location := "/v1/invitations/" + inv.ID
	c.Header("Location", location)
	c.JSON(http.StatusCreated, gin.H{
		"id": inv.ID, "status": inv.Status, "acceptUrl": s.acceptURL(inv), "workflowId": inv.WorkflowID,
		"customerDomain": inv.CustomerDomain, "expiresAt": inv.ExpiresAt,
	})
}

// writeConflict answers a conflict with an existing resource, pointing at it.
func writeConflict(c *gin.Context, p *Problem) {
	if p.Location != "" {
		c.Header("Location", p.Location)
	}
	writeProblem(c, p)
}

// startInvitation starts the workflow, refusing (rather than joining) a running one with the
// same ID; a finished one may be followed by a new invitation.
func (s *Server) startInvitation(ctx context.Context, workflowID string, in workflows.InvitationInput) error {
	if s.temporal == nil {
		return errors.New("start invitation workflow: Temporal is not configured")
	}
	attrs := []temporal.SearchAttributeUpdate{
		workflows.PartnerIDKey.ValueSet(in.PartnerID),
		workflows.CustomerDomainKey.ValueSet(in.CustomerDomain),
		workflows.FlowStatusKey.ValueSet(models.InvitationPending),
	}
	if in.IndirectResellerID != "" {
		attrs = append(attrs, workflows.ResellerPartnerIDKey.ValueSet(in.IndirectResellerID))
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	_, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflowID,
		TaskQueue:                s.flows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without this the SDK hands back the running workflow as if it had been started.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attrs...),
	}, invitationWorkflowType, in)
	if err != nil {
		return fmt.Errorf("start invitation workflow %s: %w", workflowID, err)
	}
	return nil
}

func (s *Server) acceptURL(inv *models.Invitation) string {
	return s.links.AcceptURL(s.flows.BaseURL, inv.ID, inv.ExpiresAt)
}

// roleView is a requested Entra role.
type roleView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// stepView is one entry of an invitation's timeline.
type stepView struct {
	Name   string    `json:"name"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// assignmentView is the live state of one access assignment.
type assignmentView struct {
	SecurityGroupID string `json:"securityGroupId"`
	AssignmentID    string `json:"assignmentId,omitempty"`
	Status          string `json:"status"`
}

// invitationView is an invitation as the API shows it: its record, and, when the workflow
// answers, the live fields only the workflow knows.
type invitationView struct {
	ID                 string     `json:"id"`
	Status             string     `json:"status"`
	CustomerDomain     string     `json:"customerDomain"`
	CustomerEmail      string     `json:"customerEmail"`
	IndirectResellerID string     `json:"indirectResellerId,omitempty"`
	Roles              []roleView `json:"roles"`
	DurationDays       int        `json:"durationDays"`
	AutoExtend         bool       `json:"autoExtend"`
	WorkflowID         string     `json:"workflowId"`
	GDAPRelationshipID string     `json:"gdapRelationshipId,omitempty"`
	CustomerTenantID   string     `json:"customerTenantId,omitempty"`
	FailureReason      string     `json:"failureReason,omitempty"`
	RemindersSent      int        `json:"remindersSent"`
	CreatedAt          time.Time  `json:"createdAt"`
	UpdatedAt          time.Time  `json:"updatedAt"`
	ExpiresAt          time.Time  `json:"expiresAt"`
	AcceptURL          string     `json:"acceptUrl"`
	Steps              []stepView `json:"steps,omitempty"`
	// Live says whether the fields below came from the running workflow.
	Live                   bool             `json:"live"`
	GDAPStatus             string           `json:"gdapStatus,omitempty"`
	ResellerAccepted       *bool            `json:"resellerAccepted,omitempty"`
	GDAPApproved           *bool            `json:"gdapApproved,omitempty"`
	RelationshipRequestURL string           `json:"relationshipRequestUrl,omitempty"`
	GDAPApprovalURL        string           `json:"gdapApprovalUrl,omitempty"`
	Assignments            []assignmentView `json:"assignments,omitempty"`
}

func (s *Server) viewInvitation(inv *models.Invitation) invitationView {
	return invitationView{
		ID: inv.ID, Status: inv.Status, CustomerDomain: inv.CustomerDomain, CustomerEmail: inv.CustomerEmail,
		IndirectResellerID: inv.IndirectResellerID, Roles: rolesOf(inv), DurationDays: inv.DurationDays,
		AutoExtend: inv.AutoExtend, WorkflowID: inv.WorkflowID, GDAPRelationshipID: inv.GDAPRelationshipID,
		CustomerTenantID: inv.CustomerTenantID, FailureReason: inv.FailureReason, RemindersSent: inv.RemindersSent,
		CreatedAt: inv.CreatedAt.UTC(), UpdatedAt: inv.UpdatedAt.UTC(), ExpiresAt: inv.ExpiresAt.UTC(), AcceptURL: s.acceptURL(inv),
	}
}

func rolesOf(inv *models.Invitation) []roleView {
	out := []roleView{}
	for id := range strings.SplitSeq(inv.Roles, ",") {
		if id == "" {
			continue
		}
		name := id
		if role, ok := partnercenter.LookupEntraRole(id); ok {
			name = role.Name
		}
		out = append(out, roleView{ID: id, Name: name})
	}
	return out
}

// applyState overlays what the workflow knows now; the database row may lag behind it.
func (v *invitationView) applyState(st workflows.InvitationState) {
	v.Live = true
	if st.Status != "" {
		v.Status = st.Status
	}
	if st.GDAPRelationshipID != "" {
		v.GDAPRelationshipID = st.GDAPRelationshipID
	}
	if st.CustomerTenantID != "" {
		v.CustomerTenantID = st.CustomerTenantID
	}
	if st.FailureReason != "" {
		v.FailureReason = st.FailureReason
	}
	v.RemindersSent = max(v.RemindersSent, st.RemindersSent)
	v.GDAPStatus = st.GDAPStatus
	v.ResellerAccepted, v.GDAPApproved = &st.ResellerAccepted, &st.GDAPApproved
	v.RelationshipRequestURL, v.GDAPApprovalURL = st.RelationshipRequestURL, st.GDAPApprovalURL
	v.Assignments = nil
	for _, a := range st.Assignments {
		v.Assignments = append(v.Assignments, assignmentView{SecurityGroupID: a.SecurityGroupID, AssignmentID: a.AssignmentID, Status: a.Status})
	}
}

func viewSteps(steps []models.InvitationStep) []stepView {
	out := make([]stepView, len(steps))
	for i, st := range steps {
		out[i] = stepView{Name: st.Name, Detail: st.Detail, At: st.At.UTC()}
	}
	return out
}

// loadInvitation finds the invitation named by the :id parameter, answering 404 when this
// partner has none by that ID.
func (s *Server) loadInvitation(c *gin.Context) (*models.Invitation, bool) {
	inv, err := s.store.Invitation(c.Request.Context(), c.Param("id"))
	if errors.Is(err, models.ErrNotFound) || (err == nil && inv.PartnerID != s.flows.PartnerID) {
		writeProblem(c, problemInvitationNotFound())
		return nil, false
	}
	if err != nil {
		fail(c, err)
		return nil, false
	}
	return inv, true
}

// queryInvitation asks the workflow for its live state.
func (s *Server) queryInvitation(ctx context.Context, workflowID string) (workflows.InvitationState, error) {
	var st workflows.InvitationState
	if s.temporal == nil {
		return st, errors.New("query invitation workflow: Temporal is not configured")
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	val, err := s.temporal.QueryWorkflow(ctx, workflowID, "", workflows.QueryInvitation)
	if err != nil {
		return st, fmt.Errorf("query invitation workflow %s: %w", workflowID, err)
	}
	if err := val.Get(&st); err != nil {
		return st, fmt.Errorf("decode the state of invitation workflow %s: %w", workflowID, err)
	}
	return st, nil
}

// detailedView is the invitation with its timeline and, when the workflow answers, its live
// state; a workflow that does not answer leaves the database's view.
func (s *Server) detailedView(ctx context.Context, inv *models.Invitation) (invitationView, error) {
	v := s.viewInvitation(inv)
	// The live state is read before the timeline: the workflow writes each step to the database
	// before its state shows it, so the timeline read afterwards holds every step the state implies.
	st, queryErr := s.queryInvitation(ctx, inv.WorkflowID)
	steps, err := s.store.InvitationSteps(ctx, inv.ID)
	if err != nil {
		return v, fmt.Errorf("timeline of invitation %s: %w", inv.ID, err)
	}
	v.Steps = viewSteps(steps)
	if queryErr != nil {
		s.logger.WarnContext(ctx, "invitation shown without live state", "invitation_id", inv.ID, "error", queryErr)
		return v, nil
	}
	v.applyState(st)
	return v, nil
}

func (s *Server) getInvitation(c *gin.Context) {
	inv, ok := s.loadInvitation(c)
	if !ok {
		return
	}
	v, err := s.detailedView(c.Request.Context(), inv)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// invitationFilter reads the list query, naming the parameter a bad value came in.
func (s *Server) invitationFilter(c *gin.Context) (models.InvitationFilter, *Problem) {
	f := models.InvitationFilter{PartnerID: s.flows.PartnerID, Limit: defaultListLimit, Cursor: c.Query("cursor")}
	if st := c.Query("status"); st != "" {
		if !slices.Contains(models.InvitationStatuses, st) {
			return f, Invalid("status", "unknown status %q: use one of %s", st, strings.Join(models.InvitationStatuses, ", "))
		}
		f.Status = st
	}
	f.CustomerDomain = strings.ToLower(strings.TrimSpace(c.Query("customer")))
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxListLimit {
			return f, Invalid("limit", "must be a whole number from 1 to %d", maxListLimit)
		}
		f.Limit = n
	}
	for _, tp := range []struct {
		name string
		dst  *time.Time
	}{{"createdBefore", &f.CreatedBefore}, {"createdAfter", &f.CreatedAfter}} {
		if raw := c.Query(tp.name); raw != "" {
			t, err := time.Parse(time.RFC3339, raw)
			if err != nil {
				return f, Invalid(tp.name, "must be an RFC 3339 time such as 2025-01-31T00:00:00Z")
			}
			*tp.dst = t
		}
	}
	return f, nil
}

func (s *Server) listInvitations(c *gin.Context) {
	f, p := s.invitationFilter(c)
	if p != nil {
		writeProblem(c, p)
		return
	}
	items, next, err := s.store.ListInvitations(c.Request.Context(), f)
	if errors.Is(err, models.ErrBadCursor) {
		writeProblem(c, Invalid("cursor", "the cursor is not one this API returned"))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	views := make([]invitationView, len(items))
	for i := range items {
		views[i] = s.viewInvitation(&items[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": views, "nextCursor": next})
}

func (s *Server) resendInvitation(c *gin.Context) {
	s.updateInvitation(c, workflows.UpdateResend, workflows.ResendRequest{By: callerName(c)})
}

type cancelInvitationRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) cancelInvitation(c *gin.Context) {
	var req cancelInvitationRequest
	if !bindOptionalJSON(c, &req) {
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if utf8.RuneCountInString(req.Reason) > maxCancelReason {
		writeProblem(c, Invalid("reason", "must be at most %d characters", maxCancelReason))
		return
	}
	s.updateInvitation(c, workflows.UpdateCancel, workflows.CancelRequest{By: callerName(c), Reason: req.Reason})
}

func callerName(c *gin.Context) string {
	if key := callerKey(c); key != nil {
		return key.Name
	}
	return ""
}

// bindOptionalJSON is bindJSON for a body that may be left out altogether.
func bindOptionalJSON(c *gin.Context, v any) bool {
	body, ok := readBody(c)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	return bindJSON(c, v)
}

// updateInvitation sends an update to the invitation's workflow and answers with the
// invitation as the update left it. The workflow decides whether the update is allowed; its
// refusal, or a workflow that has already finished, is a 409.
func (s *Server) updateInvitation(c *gin.Context, name string, arg any) {
	inv, ok := s.loadInvitation(c)
	if !ok {
		return
	}
	st, p := s.sendUpdate(c, inv, name, arg)
	if p != nil {
		writeProblem(c, p)
		return
	}
	if fresh, err := s.store.Invitation(c.Request.Context(), inv.ID); err == nil {
		inv = fresh
	}
	v := s.viewInvitation(inv)
	steps, err := s.store.InvitationSteps(c.Request.Context(), inv.ID)
	if err != nil {
		fail(c, fmt.Errorf("timeline of invitation %s: %w", inv.ID, err))
		return
	}
	v.Steps = viewSteps(steps)
	v.applyState(st)
	c.JSON(http.StatusOK, v)
}

// sendUpdate runs a workflow update and waits for its result; a refusal or an unreachable
// workflow comes back as the problem to answer with.
func (s *Server) sendUpdate(c *gin.Context, inv *models.Invitation, name string, arg any) (workflows.InvitationState, *Problem) {
	var st workflows.InvitationState
	if s.temporal == nil {
		return st, problemUnavailable("Temporal is not configured")
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), updateTimeout)
	defer cancel()
	handle, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: inv.WorkflowID, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = handle.Get(ctx, &st)
	}
	if err != nil {
		if p := updateRefusal(err); p != nil {
			return st, p
		}
		c.Set(ctxError, fmt.Errorf("%s invitation %s: %w", name, inv.ID, err))
		return st, problemUnavailable("the invitation's workflow did not answer; try again")
	}
	return st, nil
}

// updateRefusal is the 409 for an update the workflow refused or can no longer take, or nil
// for any other failure. A validator's refusal arrives as an application error; an activity
// the update ran and that failed wraps one too, but is no refusal.
func updateRefusal(err error) *Problem {
	var (
		notFound *serviceerror.NotFound
		actErr   *temporal.ActivityError
		appErr   *temporal.ApplicationError
	)
	switch {
	case errors.As(err, &notFound):
		return problemInvitationClosed("the invitation's workflow has finished")
	case errors.As(err, &actErr):
		return nil
	case errors.As(err, &appErr):
		return problemInvitationClosed(appErr.Message())
	}
	return nil
}
