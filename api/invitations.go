package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/workflows"
)

// Input limits of an invitation request.
const (
	maxDurationDays    = 730
	maxDisplayName     = 50
	invitationIDPrefix = "inv_"
	// maxRoleName bounds a requested role's name or template ID; the longest built-in name is
	// far shorter.
	maxRoleName = 100
	// maxEmail and maxEmailLocalPart are RFC 5321's bounds of an address and its local part.
	maxEmail          = 254
	maxEmailLocalPart = 64
)

var (
	domainPattern = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	guidPattern   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// invitations is the API's side of the invitation flow.
var invitations = flowAPI[models.Invitation, workflows.InvitationState]{
	desc:         workflows.InvitationFlow,
	statuses:     models.InvitationStatuses,
	searchColumn: models.InvitationSearchColumn,
	partnerOf:    func(inv *models.Invitation) string { return inv.PartnerID },
	workflowOf:   func(inv *models.Invitation) string { return inv.WorkflowID },
	mayUpdate: func(c *gin.Context, inv *models.Invitation) *Problem {
		return requireAdminAccessRole(c, inv.AdminAccess,
			"this invitation asks for admin access (GDAP): only an admin agent (role admin-agent) may send it "+
				"again or cancel it")
	},
}

// requireAdminAccessRole refuses a caller without the admin-agent role an invitation that asks for
// admin access, with detail: Partner Center lets sales agents ask a customer for the reseller
// relationship (seed 004, "Appropriate roles: Admin agent | Sales agent") and only admin agents
// request GDAP ("Appropriate roles: Admin agent" on Microsoft's GDAP articles).
func requireAdminAccessRole(c *gin.Context, adminAccess bool, detail string) *Problem {
	if !adminAccess || holdsRole(c, models.RoleAdminAgent) {
		return nil
	}
	p := problemForbidden(detail)
	p.Field = "adminAccess"
	return p
}

// invitationRegistration is everything the engine needs of the invitation flow.
var invitationRegistration = flowRegistration{
	desc:     invitations.desc,
	statuses: invitations.statuses,
	open:     models.InvitationOpen,
	section:  navLink{Key: models.KindInvitation + "s", Label: "Invitations", Path: "/"},
	routes:   (*Server).invitationRoutes,
	links: []linkPage{{path: "/accept/:token",
		show: func(s *Server) gin.HandlerFunc { return s.showAcceptPage },
		post: func(s *Server) gin.HandlerFunc { return s.acknowledgeAcceptance }}},
	events: (*Server).invitationEvents,
	overview: overviewOf[models.Invitation](flowOverview{
		Kind: models.KindInvitation, Title: "Invitations", ListPath: "/", Noun: "invitation", Nouns: "invitations",
		Statuses: invitations.statuses,
		// Steps the invitation workflow writes ("opened" is the API's, when the customer opens the link).
		Funnel: []funnelStep{
			{"sent", "Sent"}, {"opened", "Link opened"}, {"reseller-accepted", "Reseller accepted"},
			{"gdap-approved", "GDAP approved"}, {"active", "Active"},
		},
		DoneStep: "reseller-accepted", DoneLabel: "Median time to accept", NoneDone: "No invitation accepted yet.",
	}),
	mailKinds: []string{notify.KindInvitation, notify.KindInvitationReminder, notify.KindInvitationResend,
		notify.KindInvitationEscalation, notify.KindAccessLost, notify.KindAccessExpiring},
	closeNeverStarted: invitations.closeNeverStarted,
	benchKind:         "invitation",
}

// invitationRoutes registers the invitation's JSON API and dashboard pages.
func (s *Server) invitationRoutes(root, v1 *gin.RouterGroup) {
	agent, reader := keyRule(agentRoles...), keyRule(anyRole...)
	s.handle(v1, "POST", "/invitations", agent, s.createInvitation)
	s.handle(v1, "GET", "/invitations", reader, listHandler(s, invitations, s.viewInvitation))
	s.handle(v1, "GET", "/invitations/:id", reader, detailHandler(s, invitations, s.invitationDetail))
	s.handle(v1, "GET", "/invitations/:id/steps", reader, stepsHandler(s, invitations))
	s.handle(
		v1,
		"POST",
		"/invitations/:id/resend",
		agent,
		updateHandler(s, invitations, workflows.UpdateResend, resendArg, s.invitationDetail),
	)
	s.handle(
		v1,
		"POST",
		"/invitations/:id/cancel",
		agent,
		updateHandler(s, invitations, workflows.UpdateCancel, cancelArg, s.invitationDetail),
	)
	s.invitationPages(root)
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
	Language           string              `json:"language"`
	// AdminAccess asks for GDAP admin roles with the reseller relationship (default true);
	// false asks for the reseller relationship alone.
	AdminAccess *bool `json:"adminAccess"`
	// Cloud is the customer's Microsoft cloud: public (default) or usgov.
	Cloud string `json:"cloud"`
}

type assignmentRequest struct {
	SecurityGroupID string   `json:"securityGroupId"`
	Roles           []string `json:"roles"`
}

// invitationInput checks a request completely, before anything is written or started, and
// returns the workflow input it asks for.
func (s *Server) invitationInput(req createInvitationRequest) (workflows.InvitationInput, error) {
	in := workflows.InvitationInput{PartnerID: s.flows.PartnerID, AutoExtend: req.AutoExtend, Policy: s.flows.Wait}
	if s.flows.EstateSynced {
		in.Policy.NoPolling = true
	}
	in.CustomerDomain = strings.ToLower(strings.TrimSpace(req.CustomerDomain))
	if !validDomain(in.CustomerDomain) {
		return in, Invalid("customerDomain", "must be a domain name such as contoso.onmicrosoft.com")
	}
	in.CustomerEmail = strings.TrimSpace(req.CustomerEmail)
	if !validEmail(in.CustomerEmail) {
		return in, Invalid("customerEmail", "must be an e-mail address such as admin@contoso.com")
	}
	var err error
	if in.Cloud, err = parseCloud(req.Cloud, in.CustomerDomain); err != nil {
		return in, err
	}
	in.NoAdminAccess = req.AdminAccess != nil && !*req.AdminAccess
	if in.NoAdminAccess && in.Cloud == models.CloudUSGov {
		return in, Invalid("adminAccess", "Microsoft does not offer a reseller relationship without admin "+
			"permissions in Microsoft Cloud for US Government: invite a US Government customer with admin roles")
	}
	in.IndirectResellerID = strings.ToLower(strings.TrimSpace(req.IndirectResellerID))
	if in.IndirectResellerID != "" && !guidPattern.MatchString(in.IndirectResellerID) {
		return in, Invalid("indirectResellerId", "must be the indirect reseller's tenant ID (a GUID)")
	}
	in.ContactEmail = strings.TrimSpace(req.ContactEmail)
	if in.ContactEmail == "" {
		in.ContactEmail = s.flows.ContactEmail
	} else if !validEmail(in.ContactEmail) {
		return in, Invalid("contactEmail", "must be an e-mail address")
	}
	if in.Language, err = s.requestLanguage(req.Language); err != nil {
		return in, err
	}
	if in.NoAdminAccess {
		return in, resellerOnly(req)
	}
	return in, s.adminAccessInput(&in, req)
}

// usGovInitialDomain ends the initial domain of every tenant in Microsoft Cloud for US
// Government, as .onmicrosoft.com ends those of the public cloud.
const usGovInitialDomain = ".onmicrosoft.us"

// parseCloud reads the request's cloud: public or usgov. Partner Center documents no field that
// tells a prospective customer's cloud, so the request names it; left out, it is usgov for a
// domain under onmicrosoft.us and public otherwise.
func parseCloud(cloud, domain string) (string, error) {
	usGovDomain := strings.HasSuffix(domain, usGovInitialDomain)
	switch c := strings.ToLower(strings.TrimSpace(cloud)); {
	case c == "" && usGovDomain:
		return models.CloudUSGov, nil
	case c == "":
		return models.CloudPublic, nil
	case c == models.CloudPublic && usGovDomain:
		return "", Invalid(
			"cloud",
			"%s is the domain of a tenant in Microsoft Cloud for US Government: use %q, or leave cloud out",
			domain,
			models.CloudUSGov,
		)
	case c == models.CloudPublic || c == models.CloudUSGov:
		return c, nil
	}
	return "", Invalid(
		"cloud",
		"must be %q (Microsoft's public cloud) or %q (Microsoft Cloud for US Government)",
		models.CloudPublic,
		models.CloudUSGov,
	)
}

// resellerOnly refuses what only an invitation with admin access uses, so a request never
// believes it asked for roles that nobody will request.
func resellerOnly(req createInvitationRequest) error {
	given := []struct {
		field string
		set   bool
	}{
		{"roles", req.Roles != nil}, {"durationDays", req.DurationDays != 0}, {"autoExtend", req.AutoExtend},
		{"displayName", req.DisplayName != ""}, {"assignments", req.Assignments != nil},
	}
	for _, g := range given {
		if g.set {
			return Invalid(
				g.field,
				"asks for GDAP admin access, which adminAccess false leaves out: remove %s, or ask for admin access",
				g.field,
			)
		}
	}
	return nil
}

// adminAccessInput checks what an invitation with admin access asks for: the GDAP roles, their
// duration and the access assignments.
func (s *Server) adminAccessInput(in *workflows.InvitationInput, req createInvitationRequest) error {
	roleIDs, err := resolveRoles("roles", req.Roles)
	if err != nil {
		return err
	}
	if len(roleIDs) == 0 {
		return Invalid(
			"roles",
			"at least one Microsoft Entra role (name or template ID) is required, unless adminAccess is false",
		)
	}
	in.RoleIDs = roleIDs
	if req.DurationDays < 1 || req.DurationDays > maxDurationDays {
		return Invalid("durationDays", "must be 1 to %d days", maxDurationDays)
	}
	in.DurationDays = req.DurationDays
	if req.AutoExtend && slices.Contains(roleIDs, partnercenter.GlobalAdministratorRoleID) {
		return Invalid(
			"autoExtend",
			"Partner Center does not auto-extend a relationship that includes Global Administrator",
		)
	}
	in.DisplayName = strings.TrimSpace(req.DisplayName)
	if in.DisplayName == "" {
		in.DisplayName = s.defaultDisplayName(in.CustomerDomain)
	}
	if utf8.RuneCountInString(in.DisplayName) > maxDisplayName {
		return Invalid("displayName", "must be at most %d characters (a Microsoft Graph limit)", maxDisplayName)
	}
	if req.Assignments == nil {
		in.Assignments = narrowAssignments(s.flows.Invitation.DefaultAssignments, roleIDs)
		if len(in.Assignments) == 0 {
			return Invalid(
				"assignments",
				"name at least one security group and its roles: no default assignment grants a requested role",
			)
		}
		return nil
	}
	in.Assignments, err = parseAssignments(req.Assignments, roleIDs)
	return err
}

func parseAssignments(reqs []assignmentRequest, requested []string) ([]workflows.AccessAssignment, error) {
	if len(reqs) == 0 {
		return nil, Invalid("assignments", "at least one security group and its roles is required")
	}
	out := make([]workflows.AccessAssignment, 0, len(reqs))
	seen := map[string]bool{}
	for i, a := range reqs {
		field := fmt.Sprintf("assignments[%d]", i)
		group := strings.ToLower(strings.TrimSpace(a.SecurityGroupID))
		if !guidPattern.MatchString(group) {
			return nil, Invalid(
				field+".securityGroupId",
				"must be the object ID (a GUID) of a security group in the partner tenant",
			)
		}
		if seen[group] {
			return nil, Invalid(field+".securityGroupId", "security group %s is assigned twice", group)
		}
		seen[group] = true
		ids, err := resolveRoles(field+".roles", a.Roles)
		if err != nil {
			return nil, err
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
			if role, ok := partnercenter.LookupEntraRole(id); ok && slices.Contains(requested, role.ID) &&
				!slices.Contains(ids, role.ID) {
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
func resolveRoles(field string, names []string) ([]string, error) {
	ids := make([]string, 0, len(names))
	for _, n := range names {
		if tooLong(n, maxRoleName) {
			return nil, Invalid(field, "role names and template IDs are at most %d characters", maxRoleName)
		}
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

// checkCustomerDomain refuses an invitation to a domain no Microsoft Entra tenant holds (the
// customer could never accept it) and returns the tenant that holds it. It asks Microsoft Graph
// (findTenantInformationByDomainName, which knows every verified domain, custom ones too); when
// Graph cannot answer, or the API has no Graph access, the invitation goes ahead and the
// workflow finds out.
func (s *Server) checkCustomerDomain(ctx context.Context, domain string) (tenantID string, err error) {
	if s.flows.Invitation.Tenants == nil {
		return "", nil
	}
	tenant, err := s.flows.Invitation.Tenants.FindTenantByDomain(ctx, domain)
	switch {
	case partnercenter.IsNotFound(err):
		return "", Invalid("customerDomain", "no Microsoft Entra tenant holds %s: check the spelling, or use the "+
			"customer's *.onmicrosoft.com domain", domain)
	case err != nil:
		s.logger.WarnContext(ctx, "could not look the customer's domain up; the invitation goes ahead",
			"domain", domain, "error", err)
		return "", nil
	}
	return tenant.TenantID, nil
}

func validDomain(d string) bool {
	return len(d) <= 253 && domainPattern.MatchString(d)
}

// validEmail accepts a bare address within RFC 5321's bounds: a local part of at most 64
// octets, at most 254 in all.
func validEmail(e string) bool {
	if len(e) > maxEmail {
		return false
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e {
		return false
	}
	at := strings.LastIndex(e, "@")
	return at > 0 && at <= maxEmailLocalPart && validDomain(strings.ToLower(e[at+1:]))
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

func newInvitationID() string { return newFlowID(invitationIDPrefix) }

// createInvitation validates the request, records the invitation and starts its workflow.
func (s *Server) createInvitation(c *gin.Context) {
	var req createInvitationRequest
	if !bindJSON(c, &req) {
		return
	}
	inv, in, err := s.startInvitation(c, req)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/v1/invitations/"+inv.ID)
	c.JSON(http.StatusCreated, gin.H{
		"id": inv.ID, "status": inv.Status, "acceptUrl": s.acceptURL(inv), "workflowId": inv.WorkflowID,
		"customerDomain": inv.CustomerDomain, "expiresAt": inv.ExpiresAt, "language": in.Language,
		"adminAccess": inv.AdminAccess, "cloud": inv.Cloud,
	})
}

// startInvitation checks an invitation request as the API and the dashboard's form both take
// it, records the invitation and starts its workflow; the error is the problem to answer with.
func (s *Server) startInvitation(
	c *gin.Context, req createInvitationRequest,
) (*models.Invitation, workflows.InvitationInput, error) {
	// The role first: a sales agent learns it may not ask for admin access before anything about
	// the fields that ask for it.
	if p := requireAdminAccessRole(c, req.AdminAccess == nil || *req.AdminAccess, "only an admin agent "+
		`(role admin-agent) may ask for admin access (GDAP); a sales agent may ask for the reseller relationship `+
		`alone ("adminAccess": false)`,
	); p != nil {
		return nil, workflows.InvitationInput{}, p
	}
	in, err := s.invitationInput(req)
	if err != nil {
		return nil, in, err
	}
	domainTenant, err := s.checkCustomerDomain(c.Request.Context(), in.CustomerDomain)
	if err != nil {
		return nil, in, err
	}
	if in.IndirectResellerID != "" {
		if _, err := s.checkIndirectReseller(
			c.Request.Context(),
			"indirectResellerId",
			in.IndirectResellerID,
		); err != nil {
			return nil, in, err
		}
	}
	now := s.flows.Now().UTC()
	inv := &models.Invitation{
		ID:                 newInvitationID(),
		PartnerID:          in.PartnerID,
		CustomerDomain:     in.CustomerDomain,
		CustomerEmail:      in.CustomerEmail,
		DomainTenantID:     domainTenant,
		IndirectResellerID: in.IndirectResellerID,
		Roles:              strings.Join(in.RoleIDs, ","),
		DurationDays:       in.DurationDays,
		AutoExtend:         in.AutoExtend,
		AdminAccess:        !in.NoAdminAccess,
		Cloud:              in.Cloud,
		Status:             models.InvitationPending,
		CreatedAt:          now,
		UpdatedAt:          now,
		ExpiresAt:          now.Add(s.flows.Invitation.ExpireAfter),
	}
	inv.WorkflowID = workflows.InvitationWorkflowID(inv.ID)
	in.InvitationID, in.ExpiresAt = inv.ID, inv.ExpiresAt
	insert := func(ctx context.Context, with ...models.With) (string, error) {
		open, err := s.store.CreateInvitation(ctx, inv, with...)
		if errors.Is(err, models.ErrConflict) && open != nil {
			return "/v1/invitations/" + open.ID, err
		}
		return "", err
	}
	attrs := flowAttributes(in.PartnerID, models.InvitationPending, in.CustomerDomain, in.IndirectResellerID)
	if err := invitations.start(c.Request.Context(), s, inv, inv.WorkflowID, in, attrs, insert); err != nil {
		return nil, in, err
	}
	return inv, in, nil
}

func (s *Server) acceptURL(inv *models.Invitation) string {
	return s.links.AcceptURL(s.flows.BaseURL, inv.ID, inv.ExpiresAt)
}

// relationshipLink is where the invitation's customer accepts the reseller relationship:
// Partner Center's link, or for a US Government customer the same link on the Office admin
// portal for US Government (Partner Center documents that portal as the place, not the link's
// form there: keeping the link's path, query and fragment is unverified).
func (s *Server) relationshipLink(inv *models.Invitation, link string) string {
	if link == "" || inv.Cloud != models.CloudUSGov {
		return link
	}
	return onPortal(link, s.flows.Invitation.USGovPortalURL)
}

// onPortal moves link onto portal's scheme and host, after portal's path if it has one; a link
// or portal that does not parse leaves link as it is.
func onPortal(link, portal string) string {
	u, err := url.Parse(link)
	p, perr := url.Parse(portal)
	if err != nil || perr != nil || p.Host == "" {
		return link
	}
	u.Scheme, u.Host = p.Scheme, p.Host
	if prefix := strings.TrimSuffix(p.Path, "/"); prefix != "" {
		u.Path, u.RawPath = prefix+u.Path, ""
	}
	return u.String()
}

// cloudName names a cloud for operators.
func cloudName(cloud string) string {
	if cloud == models.CloudUSGov {
		return "US Government"
	}
	return "Public"
}

// roleView is a requested Entra role.
type roleView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
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
	AdminAccess        bool       `json:"adminAccess"`
	Cloud              string     `json:"cloud"`
	WorkflowID         string     `json:"workflowId"`
	GDAPRelationshipID string     `json:"gdapRelationshipId,omitempty"`
	CustomerTenantID   string     `json:"customerTenantId,omitempty"`
	FailureReason      string     `json:"failureReason,omitempty"`
	RemindersSent      int        `json:"remindersSent"`
	CreatedAt          time.Time  `json:"createdAt"`
	UpdatedAt          time.Time  `json:"updatedAt"`
	ExpiresAt          time.Time  `json:"expiresAt"`
	AcceptURL          string     `json:"acceptUrl"`
	// timeline is the first page of the steps; stepsNextCursor continues it at .../steps.
	timeline
	// Live says whether the fields below came from the workflow (flowAPI.state).
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
		ID:                 inv.ID,
		Status:             inv.Status,
		CustomerDomain:     inv.CustomerDomain,
		CustomerEmail:      inv.CustomerEmail,
		IndirectResellerID: inv.IndirectResellerID,
		Roles:              rolesOf(inv),
		DurationDays:       inv.DurationDays,
		AutoExtend:         inv.AutoExtend,
		AdminAccess:        inv.AdminAccess,
		Cloud:              cloudOf(inv),
		WorkflowID:         inv.WorkflowID,
		GDAPRelationshipID: inv.GDAPRelationshipID,
		CustomerTenantID:   inv.CustomerTenantID,
		FailureReason:      inv.FailureReason,
		RemindersSent:      inv.RemindersSent,
		CreatedAt:          inv.CreatedAt.UTC(),
		UpdatedAt:          inv.UpdatedAt.UTC(),
		ExpiresAt:          inv.ExpiresAt.UTC(),
		AcceptURL:          s.acceptURL(inv),
	}
}

// cloudOf is the invitation's cloud, public for a row written before clouds were recorded.
func cloudOf(inv *models.Invitation) string {
	if inv.Cloud == "" {
		return models.CloudPublic
	}
	return inv.Cloud
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
		v.Assignments = append(
			v.Assignments,
			assignmentView{SecurityGroupID: a.SecurityGroupID, AssignmentID: a.AssignmentID, Status: a.Status},
		)
	}
}

// detailedView is the invitation with a page of its timeline and its workflow's state: live when
// an update returned it, else the state recorded with its last step (or, for a row from before
// states were recorded, the workflow's answer to a query; one that does not answer leaves the
// database's view).
func (s *Server) detailedView(
	ctx context.Context,
	inv *models.Invitation,
	stepsCursor string,
	live *workflows.InvitationState,
) (invitationView, error) {
	v := s.viewInvitation(inv)
	// The state is read before the timeline: the workflow writes each step to the database before
	// its state shows it, so the timeline read afterwards holds every step the state implies.
	if live == nil {
		if st, ok := invitations.state(ctx, s, inv); ok {
			live = &st
		}
	}
	tl, err := invitations.timeline(ctx, s, inv.ID, stepsCursor, timelinePage)
	if err != nil {
		return v, fmt.Errorf("timeline of invitation %s: %w", inv.ID, err)
	}
	v.timeline = tl
	if live != nil {
		v.applyState(*live)
		v.RelationshipRequestURL = s.relationshipLink(inv, v.RelationshipRequestURL)
	}
	return v, nil
}

// invitationDetail is the invitation's JSON detail.
func (s *Server) invitationDetail(
	ctx context.Context,
	inv *models.Invitation,
	live *workflows.InvitationState,
) (any, error) {
	return s.detailedView(ctx, inv, "", live)
}

// invitationPages registers the invitation flow's dashboard pages and forms.
func (s *Server) invitationPages(root *gin.RouterGroup) {
	list := dashboardList(s, invitations, listPage{
		Heading: "Invitations", Path: "/", TableID: "invitations", Empty: "No invitations",
		Columns: []string{"Customer", "Status", "Access", "Created", "Expiry"}, SearchLabel: "Customer domain",
		New:      &action{Path: newInvitationPath, ID: "new-invitation", Label: "New invitation"},
		NewRoles: agentRoles,
	}, func(inv *models.Invitation, now time.Time) listRow {
		expiry := "—"
		if models.InvitationOpen(inv.Status) {
			expiry = untilText(now, inv.ExpiresAt)
		}
		return listRow{
			ID:     inv.ID,
			Link:   "/invitations/" + inv.ID,
			Title:  inv.CustomerDomain,
			Status: inv.Status,
			Cells:  []string{accessText(inv), agoText(now, inv.CreatedAt), expiry},
		}
	})
	s.handle(root, "GET", "/", sessionRule(), list)
	s.handle(root, "GET", "/invitations", sessionRule(), list)
	s.handle(root, "GET", "/invitations/:id", sessionRule(), func(c *gin.Context) {
		if inv, ok := dashboardLoad(c, s, invitations); ok {
			s.renderInvitationPage(c, http.StatusOK, inv, dashboardNotice(invitationNotices, c))
		}
	})
	waitActions(root, s, invitations, "/invitations", agentRoles, s.renderInvitationPage)
	s.invitationFormRoutes(root)
}

// accessText says for operators what an invitation asks for, and in which cloud when it is not
// the public one.
func accessText(inv *models.Invitation) string {
	access := "Admin roles (GDAP)"
	if !inv.AdminAccess {
		access = "Reseller only"
	}
	if inv.Cloud == models.CloudUSGov {
		access += ", US Government"
	}
	return access
}

// invitationNotices are the outcomes the invitation page's actions report.
var invitationNotices = map[string]string{
	"created":   "The invitation is on its way: the customer's mail is being sent.",
	"resent":    "The invitation was sent again.",
	"cancelled": "The invitation is cancelled.",
}

// renderInvitationPage shows one invitation on the shared detail page.
func (s *Server) renderInvitationPage(c *gin.Context, status int, inv *models.Invitation, notice string) {
	v, err := s.detailedView(c.Request.Context(), inv, c.Query("steps"), nil)
	if err != nil {
		writeError(c, err)
		return
	}
	now := s.flows.Now()
	frame := s.dashboardFrame(c, inv.CustomerDomain)
	frame.Nav = models.KindInvitation + "s"
	page := detailPage{
		pageFrame: frame,
		BackURL:   "/",
		BackLabel: "Invitations",
		Heading:   v.CustomerDomain,
		Status:    v.Status,
		Notice:    notice,
		CSRF:      s.csrfToken(c),
		Live:      v.Live,
		Starting:  v.startingText(),
	}
	roles := make([]string, 0, len(v.Roles))
	for _, r := range v.Roles {
		roles = append(roles, r.Name)
	}
	duration := plural(v.DurationDays, "day")
	if v.AutoExtend {
		duration += ", auto-extended"
	}
	expiry := "—"
	if models.InvitationOpen(v.Status) {
		expiry = v.ExpiresAt.Format(stepTimeLayout) + " (" + untilText(now, v.ExpiresAt) + ")"
	}
	page.Facts = []fact{{Label: "Customer e-mail", Value: v.CustomerEmail}}
	if v.AdminAccess {
		page.Facts = append(page.Facts, fact{Label: "Admin access", ID: "admin-access", Value: "requested (GDAP)"},
			fact{Label: "Admin roles", ID: "roles", List: roles}, fact{Label: "Duration", Value: duration})
	} else {
		page.Facts = append(
			page.Facts,
			fact{Label: "Admin access", ID: "admin-access", Value: "not requested: the reseller relationship alone"},
		)
	}
	page.Facts = append(page.Facts, fact{Label: "Cloud", ID: "cloud", Value: cloudName(v.Cloud)})
	if v.IndirectResellerID != "" {
		page.Facts = append(page.Facts, fact{Label: "Indirect reseller", Value: v.IndirectResellerID, Code: true})
	}
	page.Facts = append(page.Facts, createdFact(now, v.CreatedAt), fact{Label: "Expiry", ID: "expiry", Value: expiry},
		fact{Label: "Reminders sent", Value: itoa(v.RemindersSent)})
	if v.GDAPRelationshipID != "" {
		gdap := fact{Label: "GDAP relationship", Value: v.GDAPRelationshipID, Code: true}
		if v.GDAPStatus != "" {
			gdap.Note = "(" + v.GDAPStatus + ")"
		}
		page.Facts = append(page.Facts, gdap)
	}
	if v.CustomerTenantID != "" {
		page.Facts = append(page.Facts, fact{Label: "Customer tenant", Value: v.CustomerTenantID, Code: true})
	}
	if v.FailureReason != "" {
		page.Facts = append(page.Facts, fact{Label: "Failure", Value: v.FailureReason, Err: true})
	}
	page.Facts = append(
		page.Facts,
		fact{Label: "Customer link", ID: "accept-url", Value: v.AcceptURL, Code: true},
		s.workflowFact(v.WorkflowID),
	)
	page.LiveFacts = []fact{
		{Label: "Reseller relationship", ID: "reseller-state", Value: consentText(v.ResellerAccepted, "accepted")},
	}
	if v.AdminAccess {
		page.LiveFacts = append(
			page.LiveFacts,
			fact{Label: "Admin roles", ID: "gdap-state", Value: consentText(v.GDAPApproved, "approved")},
		)
	}
	for _, a := range v.Assignments {
		page.LiveFacts = append(page.LiveFacts, fact{Label: "Group " + a.SecurityGroupID, Value: a.Status})
	}
	// Only the actions the operator's roles allow are offered (the update refuses the others).
	mayAct := invitations.mayUpdate(c, inv) == nil && holdsRole(c, agentRoles...)
	if mayAct && v.Status == models.InvitationPending {
		page.Actions = append(
			page.Actions,
			action{Path: "/invitations/" + inv.ID + "/resend", ID: "resend", Label: "Send the invitation again"},
		)
	}
	if mayAct && models.InvitationOpen(v.Status) {
		page.Actions = append(page.Actions, action{
			Path:   "/invitations/" + inv.ID + "/cancel",
			ID:     "cancel",
			Label:  "Cancel the invitation",
			Danger: true,
			Reason: true,
		})
	}
	page.withTimeline("/invitations/"+inv.ID, v.timeline)
	s.renderPage(c, status, "detail", page)
}

func consentText(given *bool, yes string) string {
	switch {
	case given == nil:
		return "unknown"
	case *given:
		return yes
	}
	return "waiting"
}

// invitationEvents routes the Partner Center events the invitation flow waits for.
func (s *Server) invitationEvents() map[string]eventRoute {
	routes := map[string]eventRoute{partnercenter.EventResellerRelationshipAccepted: s.signalAcceptedInvitation}
	for _, ev := range []string{
		partnercenter.EventGDAPApproved,
		partnercenter.EventGDAPActivated,
		partnercenter.EventGDAPTerminated,
		partnercenter.EventGDAPExpired,
	} {
		routes[ev] = s.signalGDAPInvitation
	}
	return routes
}

// maxHintedInvitations caps how many pending invitations one reseller-acceptance event wakes.
const maxHintedInvitations = 500

// signalGDAPInvitation passes a GDAP event to whichever workflow of the invitation that created
// the relationship can act on it. A pending invitation waits for the customer's approval and
// confirms any event with Partner Center. Once the customer consented, the invitation reads the
// relationship itself and an event would only wake it for nothing; an active one has handed the
// relationship to its GDAP watch, which acts on the relationship's end, not on its activation.
func (s *Server) signalGDAPInvitation(ctx context.Context, signal workflows.PartnerCenterEvent) webhookOutcome {
	inv, err := s.store.InvitationByGDAP(ctx, signal.ResourceID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && inv.PartnerID != s.flows.PartnerID) {
		detail := fmt.Sprintf("no invitation created GDAP relationship %q", signal.ResourceID)
		return webhookOutcome{
			result: "refused: " + detail,
			err:    NewProblem(http.StatusNotFound, "unknown-resource", "Unknown resource", detail),
		}
	}
	if err != nil {
		err = fmt.Errorf("find the invitation of GDAP relationship %s: %w", signal.ResourceID, err)
		return webhookOutcome{result: "failed: " + err.Error(), err: problemInternal().because(err)}
	}
	watch := workflows.GDAPWatchWorkflowID(signal.ResourceID)
	switch {
	case inv.Status == models.InvitationActive && signal.EventName == partnercenter.EventGDAPActivated:
		return webhookOutcome{result: "ignored: invitation " + inv.ID + " is active"}
	case inv.Status == models.InvitationActive:
		return s.signalGDAPWatch(ctx, inv, watch, signal)
	case inv.Status != models.InvitationPending:
		return webhookOutcome{
			result: "ignored: invitation " + inv.ID + " is " + inv.Status + " and reads the relationship itself",
		}
	}
	err = s.signalWorkflow(ctx, inv.WorkflowID, signal)
	var finished *serviceerror.NotFound
	switch {
	case errors.As(err, &finished):
		// The workflow moved on before its row said so.
		return s.signalGDAPWatch(ctx, inv, watch, signal)
	case err != nil:
		return webhookOutcome{
			result: "failed: " + err.Error(),
			err:    problemUnavailable("the invitation's workflow could not be signalled; retry").because(err),
		}
	}
	return webhookOutcome{signalled: 1, result: "signalled invitation " + inv.ID}
}

// signalGDAPWatch passes a GDAP event to the watch of an active invitation's relationship, or,
// when the estate sync watches it (Invitation.EstateWatch), starts the sync's next pass.
func (s *Server) signalGDAPWatch(
	ctx context.Context,
	inv *models.Invitation,
	watch string,
	signal workflows.PartnerCenterEvent,
) webhookOutcome {
	if inv.EstateWatch {
		// No watch of its own: the estate sync reads the relationship now and alerts once.
		if err := s.signalEstateSync(ctx); err != nil {
			return webhookOutcome{
				result: "failed: " + err.Error(),
				err:    problemUnavailable("the estate sync could not be signalled; retry").because(err),
			}
		}
		return webhookOutcome{signalled: 1, result: "signalled the estate sync, which watches invitation " + inv.ID}
	}
	if s.signalWorkflow(ctx, watch, signal) == nil {
		return webhookOutcome{signalled: 1, result: "signalled the GDAP watch of invitation " + inv.ID}
	}
	return webhookOutcome{result: "ignored: the workflow of invitation " + inv.ID + " has finished"}
}

// signalAcceptedInvitation passes a reseller acceptance to the one invitation it concerns. The
// event names the customer's tenant, which no invitation knows before acceptance; the customer's
// domain finds the open invitation, by the rule the workflow itself confirms the acceptance with
// (CheckAcceptance: the customer's domain is the invitation's). So one event costs one Partner
// Center read and one signal, however many invitations wait.
//
// When Partner Center cannot be read for a reason retrying may cure, the event is answered 503
// so Partner Center delivers it again, rather than falling back to waking every pending
// invitation: that fallback would cost one signal and one Partner Center read per waiting flow
// exactly while Partner Center is struggling, and the workflows poll for acceptance anyway.
func (s *Server) signalAcceptedInvitation(ctx context.Context, signal workflows.PartnerCenterEvent) webhookOutcome {
	if s.flows.Invitation.Customers == nil {
		return s.signalPendingInvitations(ctx, signal)
	}
	customer, err := s.flows.Invitation.Customers.GetCustomer(ctx, signal.ResourceID)
	switch {
	case partnercenter.IsStatus(err, http.StatusNotFound):
		detail := fmt.Sprintf("customer %q is not a customer of this partner at Partner Center", signal.ResourceID)
		return webhookOutcome{
			result: "refused: " + detail,
			err:    NewProblem(http.StatusNotFound, "unknown-resource", "Unknown resource", detail),
		}
	case err != nil && partnercenter.IsRetryable(err):
		err = fmt.Errorf("read customer %s at Partner Center: %w", signal.ResourceID, err)
		return webhookOutcome{
			result: "failed: " + err.Error(),
			err:    problemUnavailable("Partner Center could not be read; retry").because(err),
		}
	case err != nil:
		err = fmt.Errorf("read customer %s at Partner Center: %w", signal.ResourceID, err)
		return webhookOutcome{result: "failed: " + err.Error(), err: problemInternal().because(err)}
	}
	// The invitation may name the customer's *.onmicrosoft.com domain or one of its custom
	// domains, which Partner Center lists when a customer is read by ID.
	domain := strings.ToLower(customer.CompanyProfile.Domain)
	inv, err := s.store.OpenInvitationByDomain(ctx, s.flows.PartnerID, domain)
	for _, custom := range customer.CustomDomains {
		if !errors.Is(err, models.ErrNotFound) {
			break
		}
		inv, err = s.store.OpenInvitationByDomain(ctx, s.flows.PartnerID, strings.ToLower(custom))
	}
	switch {
	case errors.Is(err, models.ErrNotFound):
		return webhookOutcome{result: "ignored: no open invitation for " + domain}
	case err != nil:
		err = fmt.Errorf("find the open invitation for %s: %w", domain, err)
		return webhookOutcome{result: "failed: " + err.Error(), err: problemInternal().because(err)}
	case inv.Status != models.InvitationPending:
		return webhookOutcome{result: "ignored: invitation " + inv.ID + " is already " + inv.Status}
	}
	err = s.signalWorkflow(ctx, inv.WorkflowID, signal)
	var finished *serviceerror.NotFound
	switch {
	case errors.As(err, &finished):
		return webhookOutcome{result: "ignored: the workflow of invitation " + inv.ID + " has finished"}
	case err != nil:
		return webhookOutcome{
			result: "failed: " + err.Error(),
			err:    problemUnavailable("the invitation's workflow could not be signalled; retry").because(err),
		}
	}
	return webhookOutcome{signalled: 1, result: "signalled invitation " + inv.ID}
}

// signalPendingInvitations passes a reseller acceptance to every pending invitation, each
// workflow checking with the service whether the acceptance was its own: the route when the API
// cannot read Partner Center (FlowConfig.Invitation.Customers is nil).
func (s *Server) signalPendingInvitations(ctx context.Context, signal workflows.PartnerCenterEvent) webhookOutcome {
	pending, err := s.pendingInvitations(ctx)
	if err != nil {
		return webhookOutcome{result: "failed: " + err.Error(), err: problemInternal().because(err)}
	}
	var (
		out  webhookOutcome
		errs []error
	)
	var finished *serviceerror.NotFound
	for _, inv := range pending {
		err := s.signalWorkflow(ctx, inv.WorkflowID, signal)
		switch {
		case errors.As(err, &finished):
		case err != nil:
			errs = append(errs, err)
		default:
			out.signalled++
		}
	}
	out.result = fmt.Sprintf("signalled %d of %d pending invitations", out.signalled, len(pending))
	if err := errors.Join(errs...); err != nil {
		out.result = fmt.Sprintf("failed: %s; %v", out.result, err)
		out.err = problemUnavailable("some invitations' workflows could not be signalled; retry").because(err)
	}
	return out
}

// pendingInvitations returns up to maxHintedInvitations of the partner's pending invitations.
func (s *Server) pendingInvitations(ctx context.Context) ([]models.Invitation, error) {
	var all []models.Invitation
	f := models.ListFilter{PartnerID: s.flows.PartnerID, Status: models.InvitationPending}
	for len(all) < maxHintedInvitations {
		f.Limit = min(maxListLimit, maxHintedInvitations-len(all))
		page, next, err := models.List[models.Invitation](ctx, s.store, f)
		if err != nil {
			return nil, fmt.Errorf("list pending invitations: %w", err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return all, nil
}

// invitationLink is the customer's link to the invitation's landing page.
var invitationLink = customerLink{
	purpose:  links.PurposeAcceptInvitation,
	instance: "/accept",
	catalog:  "invitation.link",
}

// acceptPage is the customer's landing page.
type acceptPage struct {
	pageFrame
	PartnerName    string
	CustomerDomain string
	Roles          []string
	Duration       string
	AutoExtend     bool
	ExpiresAt      string
	ExpiresIn      string
	Status         string
	StatusText     string
	// AdminAccess says the invitation asks for admin roles; without, the page shows the reseller
	// step alone.
	AdminAccess bool
	// Portal is where the customer accepts, as the page's sentences name it ("in the Microsoft
	// 365 admin center", or the Office admin portal for US Government).
	Portal           string
	Done             bool
	Closed           bool
	ResellerAccepted bool
	GDAPApproved     bool
	RelationshipURL  string
	GDAPApprovalURL  string
	UPN              string
	UPNError         string
	// Languages offer the page in the other languages.
	Languages []languageLink
}

// acceptState is the landing page's content for JSON clients.
type acceptState struct {
	Status                 string    `json:"status"`
	PartnerName            string    `json:"partnerName"`
	CustomerDomain         string    `json:"customerDomain"`
	AdminAccess            bool      `json:"adminAccess"`
	Cloud                  string    `json:"cloud"`
	Roles                  []string  `json:"roles"`
	DurationDays           int       `json:"durationDays"`
	AutoExtend             bool      `json:"autoExtend"`
	ExpiresAt              time.Time `json:"expiresAt"`
	ResellerAccepted       bool      `json:"resellerAccepted"`
	GDAPApproved           bool      `json:"gdapApproved"`
	RelationshipRequestURL string    `json:"relationshipRequestUrl,omitempty"`
	GDAPApprovalURL        string    `json:"gdapApprovalUrl,omitempty"`
}

// invitationState is the invitation as its customer may see it: the record, with the workflow's live status and
// Microsoft links when it answers. Links are shown only while the invitation is open.
func (s *Server) invitationState(c *gin.Context, inv *models.Invitation) acceptState {
	st := acceptState{
		Status:         inv.Status,
		PartnerName:    s.partnerName(),
		CustomerDomain: inv.CustomerDomain,
		DurationDays:   inv.DurationDays,
		AutoExtend:     inv.AutoExtend,
		ExpiresAt:      inv.ExpiresAt.UTC(),
		Roles:          []string{},
		AdminAccess:    inv.AdminAccess,
		Cloud:          cloudOf(inv),
	}
	for _, r := range rolesOf(inv) {
		st.Roles = append(st.Roles, r.Name)
	}
	live, ok := invitations.state(c.Request.Context(), s, inv)
	if !ok {
		return st
	}
	if live.Status != "" {
		st.Status = live.Status
	}
	st.ResellerAccepted, st.GDAPApproved = live.ResellerAccepted, live.GDAPApproved
	if models.InvitationOpen(st.Status) {
		st.RelationshipRequestURL, st.GDAPApprovalURL = s.relationshipLink(inv, live.RelationshipRequestURL),
			live.GDAPApprovalURL
	}
	return st
}

// customerStatusText says in lang where an invitation stands, for its customer.
func customerStatusText(lang, status string) string {
	if text := translate(lang, "status."+status); text != "status."+status {
		return text
	}
	return status
}

// acceptPageOf is the landing page in lang.
func (s *Server) acceptPageOf(c *gin.Context, lang string, inv *models.Invitation, st acceptState) acceptPage {
	frame := s.customerPageFrame(c, lang)
	frame.Title = translate(lang, "accept.title", inv.CustomerDomain)
	now := s.flows.Now()
	return acceptPage{
		pageFrame: frame, PartnerName: s.localPartnerName(lang), CustomerDomain: st.CustomerDomain, Roles: st.Roles,
		Duration: localCount(lang, st.DurationDays, "day"), AutoExtend: st.AutoExtend,
		ExpiresAt: localDateTime(lang, st.ExpiresAt), ExpiresIn: localUntil(lang, now, st.ExpiresAt),
		Status: st.Status, StatusText: customerStatusText(lang, st.Status), Done: st.Status == models.InvitationActive,
		AdminAccess: st.AdminAccess, Portal: translate(lang, "accept.portal."+st.Cloud),
		Closed:           !models.InvitationOpen(st.Status) && st.Status != models.InvitationActive,
		ResellerAccepted: st.ResellerAccepted, GDAPApproved: st.GDAPApproved,
		RelationshipURL: st.RelationshipRequestURL, GDAPApprovalURL: st.GDAPApprovalURL,
		Languages: languageLinks,
	}
}

// showAcceptPage renders the customer's landing page and records that it was opened.
func (s *Server) showAcceptPage(c *gin.Context) {
	asJSON := wantsJSON(c)
	inv, ok := rowFromLink(s, c, invitations, invitationLink, asJSON)
	if !ok {
		return
	}
	now := s.flows.Now().UTC()
	detail := "ip=" + c.ClientIP() + " ua=" + truncate(c.Request.UserAgent(), maxUserAgent)
	// At most one "opened" step per link, client and hour, however often the page is loaded.
	if err := s.recordLinkStep(
		c,
		models.KindInvitation,
		inv.ID,
		"opened",
		detail,
		openedStepKey(c, inv.ID, "opened", now),
		now,
		maxOpenedSteps,
	); err != nil {
		s.logger.ErrorContext(
			c.Request.Context(),
			"record that an invitation was opened",
			"invitation_id", inv.ID,
			"error", err,
		)
	}
	st := s.invitationState(c, inv)
	if asJSON {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, st)
		return
	}
	s.renderPage(c, http.StatusOK, "accept", s.acceptPageOf(c, s.customerLanguage(c), inv, st))
}

type acknowledgeRequest struct {
	UPN string `json:"upn"`
}

// acknowledgeAcceptance records who is about to accept at Microsoft, and sends them there.
// It is evidence of intent, not the acceptance: that happens in the Microsoft 365 admin
// center, and the workflow learns of it from Partner Center.
func (s *Server) acknowledgeAcceptance(c *gin.Context) {
	jsonBody := c.ContentType() == "application/json"
	asJSON := jsonBody || wantsJSON(c)
	inv, ok := rowFromLink(s, c, invitations, invitationLink, asJSON)
	if !ok {
		return
	}
	var req acknowledgeRequest
	if jsonBody {
		if !bindJSON(c, &req) {
			return
		}
	} else {
		req.UPN = c.PostForm("upn")
	}
	upn := strings.ToLower(strings.TrimSpace(req.UPN))
	lang := s.customerLanguage(c)
	if !models.InvitationOpen(inv.Status) {
		p := invitations.problemClosed("This invitation is " + inv.Status + "; there is nothing left to accept.")
		if !asJSON {
			p.Title, p.Detail = translate(lang, "invitation.closed.title"),
				translate(lang, "invitation.closed.detail", customerStatusText(lang, inv.Status))
		}
		s.writePageProblem(c, p, asJSON, s.customerPageFrame(c, lang))
		return
	}
	if !validEmail(upn) || !strings.HasSuffix(upn, "@"+inv.CustomerDomain) {
		p := Invalid(
			"upn",
			"use your administrator account of %s, such as admin@%s",
			inv.CustomerDomain,
			inv.CustomerDomain,
		)
		if asJSON {
			writeProblem(c, p)
			return
		}
		page := s.acceptPageOf(c, lang, inv, s.invitationState(c, inv))
		page.UPN, page.UPNError = req.UPN, translate(lang, "accept.upn.error", inv.CustomerDomain)
		s.renderPage(c, http.StatusBadRequest, "accept", page)
		return
	}
	now := s.flows.Now().UTC()
	detail := "upn=" + upn + " ip=" + c.ClientIP() + " ua=" + truncate(c.Request.UserAgent(), maxUserAgent)
	// A customer's repeated posts are recorded once per UPN.
	key := inv.ID + "/acknowledged/" + upn
	if err := s.recordLinkStep(
		c,
		models.KindInvitation,
		inv.ID,
		"acknowledged",
		detail,
		key,
		now,
		maxAcknowledgedSteps,
	); err != nil {
		writeError(c, fmt.Errorf("record the acknowledgement of invitation %s: %w", inv.ID, err))
		return
	}
	st := s.invitationState(c, inv)
	if asJSON {
		c.JSON(http.StatusOK, gin.H{
			"status":                 st.Status,
			"relationshipRequestUrl": st.RelationshipRequestURL,
			"gdapApprovalUrl":        st.GDAPApprovalURL,
		})
		return
	}
	next := st.RelationshipRequestURL
	if st.ResellerAccepted {
		next = st.GDAPApprovalURL
	}
	if next == "" {
		// The links are still being prepared; the page says so.
		next = c.Request.URL.Path
	}
	c.Redirect(http.StatusSeeOther, next)
}
