package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

// invitationForm is the dashboard's "New invitation" page: the fields of POST /v1/invitations,
// checked by the same code (startInvitation), with the problem shown beside the field it names.
type invitationForm struct {
	pageFrame
	CSRF string
	// AdminAccessOffered: the operator may ask for admin access (an admin agent); a sales agent's
	// form asks for the reseller relationship alone.
	AdminAccessOffered bool
	Languages          []string
	// Values are what was sent, shown again after a refusal.
	CustomerDomain, CustomerEmail, Language, Roles, DurationDays, IndirectResellerID, Cloud string
	SecurityGroupID                                                                         string
	AdminAccess, AutoExtend                                                                 bool
	// Problem is the refusal, Field the field it names.
	Problem, Field string
}

// newInvitationPath is the dashboard's form that starts an invitation.
const newInvitationPath = "/invitations/new"

// invitationFormRoutes registers the form: agents may open it; what they may ask for is checked
// as the API checks it.
func (s *Server) invitationFormRoutes(root *gin.RouterGroup) {
	rule := sessionRule(agentRoles...)
	s.handle(root, "GET", newInvitationPath, rule, func(c *gin.Context) {
		f := s.invitationFormOf(c)
		f.AdminAccess, f.AutoExtend, f.DurationDays = f.AdminAccessOffered, true, "730"
		s.renderPage(c, http.StatusOK, "invitation_new", f)
	})
	s.handle(root, "POST", newInvitationPath, rule, s.postInvitationForm)
}

func (s *Server) invitationFormOf(c *gin.Context) invitationForm {
	f := invitationForm{
		pageFrame:          s.dashboardFrame(c, "New invitation"),
		CSRF:               s.csrfToken(c),
		AdminAccessOffered: holdsRole(c, models.RoleAdminAgent),
		Languages:          notify.Languages(),
		Language:           "en",
		Cloud:              models.CloudPublic,
	}
	f.Nav = models.KindInvitation + "s"
	return f
}

// postInvitationForm starts the invitation the form describes and shows its page, or shows the
// form again, filled in, with the refusal.
func (s *Server) postInvitationForm(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	f := s.invitationFormOf(c)
	f.CustomerDomain, f.CustomerEmail = c.PostForm("customerDomain"), c.PostForm("customerEmail")
	f.Language, f.Roles, f.Cloud = c.PostForm("language"), c.PostForm("roles"), c.PostForm("cloud")
	f.DurationDays, f.IndirectResellerID = c.PostForm("durationDays"), c.PostForm("indirectResellerId")
	f.AdminAccess, f.AutoExtend = c.PostForm("adminAccess") == "on", c.PostForm("autoExtend") == "on"
	f.SecurityGroupID = c.PostForm("securityGroupId")
	req := createInvitationRequest{
		CustomerDomain:     f.CustomerDomain,
		CustomerEmail:      f.CustomerEmail,
		Language:           f.Language,
		Cloud:              f.Cloud,
		IndirectResellerID: strings.TrimSpace(f.IndirectResellerID),
		AdminAccess:        &f.AdminAccess,
	}
	if f.AdminAccess {
		req.AutoExtend = f.AutoExtend
		for _, r := range strings.Split(f.Roles, ",") {
			if r = strings.TrimSpace(r); r != "" {
				req.Roles = append(req.Roles, r)
			}
		}
		if g := strings.TrimSpace(f.SecurityGroupID); g != "" {
			// One access assignment: the group gets every role asked for.
			req.Assignments = []assignmentRequest{{SecurityGroupID: g, Roles: req.Roles}}
		}
		if d := strings.TrimSpace(f.DurationDays); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil {
				s.renderInvitationForm(c, f, Invalid("durationDays", "must be a number of days"))
				return
			}
			req.DurationDays = n
		}
	}
	inv, _, err := s.startInvitation(c, req)
	if err != nil {
		s.renderInvitationForm(c, f, answer(c, err))
		return
	}
	c.Redirect(http.StatusSeeOther, "/invitations/"+inv.ID+"?done=created")
}

func (s *Server) renderInvitationForm(c *gin.Context, f invitationForm, p *Problem) {
	f.Problem, f.Field = p.Detail, p.Field
	if p.Field != "" && !f.shows(p.Field) {
		// A field this form does not show (an assignment's detail, admin access on a sales
		// agent's form): the problem goes above the form, with the field it names.
		f.Problem, f.Field = p.Field+": "+p.Detail, ""
	}
	s.renderPage(c, p.Status, "invitation_new", f)
}

// shows reports whether the form has an input for the API field name.
func (f invitationForm) shows(field string) bool {
	switch field {
	case "customerDomain", "customerEmail", "language", "cloud", "indirectResellerId":
		return true
	case "adminAccess", "roles", "durationDays", "autoExtend":
		return f.AdminAccessOffered
	}
	return false
}
