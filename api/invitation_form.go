package api

import (
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

// newInvitationPath is the dashboard's form that starts an invitation.
const newInvitationPath = "/invitations/new"

// invitationFormRoutes registers the "New invitation" form: the fields of POST /v1/invitations,
// checked by the same code (startInvitation). Agents may open it; an admin agent's form offers
// admin access (GDAP), a sales agent's asks for the reseller relationship alone.
func (s *Server) invitationFormRoutes(root *gin.RouterGroup) {
	s.formRoutes(root, newInvitationPath, agentRoles, s.invitationForm, s.postInvitationForm)
}

func (s *Server) invitationForm(c *gin.Context) formPage {
	p := s.newFormPage(c, models.KindInvitation+"s", "New invitation")
	p.BackURL, p.BackLabel, p.ID, p.Action = "/invitations", "Invitations", "invitation-form", newInvitationPath
	p.Intro = "The customer's Global admin gets a mail in its language with partnerflow's link; partnerflow " +
		"reminds, escalates and expires the invitation, and follows the acceptance through to active access."
	p.Submit = action{ID: "send-invitation", Label: "Send the invitation"}
	p.Sections = []formSection{{Fields: []formField{
		{Name: "customerDomain", Label: "Customer domain", Required: true, MaxLength: 253,
			Placeholder: "contoso.onmicrosoft.com"},
		{Name: "customerEmail", Label: "Customer's Global admin e-mail", Type: "email", Required: true,
			MaxLength: 254, Placeholder: "admin@contoso.com"},
		languageField("en"),
		{Name: "cloud", Label: "Microsoft cloud", Type: "select", Options: []formOption{
			{Value: models.CloudPublic, Label: "public", Selected: true},
			{Value: models.CloudUSGov, Label: "US Government"},
		}},
		{Name: "indirectResellerId", Label: "Indirect reseller's tenant ID (optional)", MaxLength: 100},
	}}}
	if !holdsRole(c, models.RoleAdminAgent) {
		p.Sections = append(p.Sections, formSection{ID: "reseller-only", Note: "As a sales agent you ask for " +
			"the reseller relationship alone; an admin agent asks for admin roles (GDAP)."})
		return p
	}
	p.Sections = append(p.Sections, formSection{ID: "admin-access", Legend: "Admin access (GDAP)", Fields: []formField{
		{Name: "adminAccess", Label: "Ask for admin roles with the reseller relationship", Type: "checkbox",
			Checked: true},
		{Name: "roles", Label: "Roles (names or role template IDs, comma-separated)", MaxLength: 2000,
			Placeholder: "Helpdesk Administrator, User Administrator"},
		{Name: "durationDays", Label: "Duration in days (1 to 730)", MaxLength: 4, Value: "730"},
		{Name: "securityGroupId", Label: "Security group that gets the roles (object ID)", MaxLength: 100,
			Hint: "Empty: the configured default access assignments."},
		{Name: "autoExtend", Label: "Extend by 180 days at the end (not with Global Administrator)",
			Type: "checkbox", Checked: true},
	}})
	return p
}

// postInvitationForm starts the invitation the form describes and shows its page, or shows the
// form again, filled in, with the refusal.
func (s *Server) postInvitationForm(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	page := s.invitationForm(c)
	page.fill(c)
	adminAccess := c.PostForm("adminAccess") == "on"
	req := createInvitationRequest{
		CustomerDomain:     c.PostForm("customerDomain"),
		CustomerEmail:      c.PostForm("customerEmail"),
		Language:           c.PostForm("language"),
		Cloud:              c.PostForm("cloud"),
		IndirectResellerID: value(c, "indirectResellerId"),
		AdminAccess:        &adminAccess,
	}
	if adminAccess {
		req.AutoExtend = c.PostForm("autoExtend") == "on"
		for _, r := range strings.Split(c.PostForm("roles"), ",") {
			if r = strings.TrimSpace(r); r != "" {
				req.Roles = append(req.Roles, r)
			}
		}
		if g := value(c, "securityGroupId"); g != "" {
			// One access assignment: the group gets every role asked for.
			req.Assignments = []assignmentRequest{{SecurityGroupID: g, Roles: req.Roles}}
		}
		if d := value(c, "durationDays"); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil {
				s.refuse(c, page, Invalid("durationDays", "must be a number of days"))
				return
			}
			req.DurationDays = n
		}
	}
	inv, _, err := s.startInvitation(c, req)
	if err != nil {
		s.refuse(c, page, answer(c, err))
		return
	}
	startedRedirect(c, "/invitations/"+inv.ID)
}
