package api

import (
	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

// newResellerPath is the dashboard's form that asks a reseller to partner.
const newResellerPath = "/resellers/new"

// resellerFormRoutes registers the "New partnership" form: the fields of POST /v1/resellers,
// checked by the same code (startReseller), for the roles that work with indirect resellers.
func (s *Server) resellerFormRoutes(root *gin.RouterGroup) {
	s.formRoutes(root, newResellerPath, partnershipRoles, s.resellerForm, s.postResellerForm)
}

func (s *Server) resellerForm(c *gin.Context) formPage {
	p := s.newFormPage(c, models.KindReseller+"s", "New partnership")
	p.BackURL, p.BackLabel, p.ID, p.Action = "/resellers", "Resellers", "partnership-form", newResellerPath
	p.Intro = "The reseller's contact gets a mail in its language with partnerflow's landing page, which leads " +
		"its Global admin to authorize the partnership in Partner Center; partnerflow then verifies its " +
		"PartnerID (it exists, same region, partner agreement signed)."
	p.Submit = action{ID: "send-partnership", Label: "Send the partnership request"}
	p.Sections = []formSection{{Fields: []formField{
		{Name: "companyName", Label: "Reseller's company name", Required: true, MaxLength: 200},
		{Name: "email", Label: "Reseller's contact e-mail", Type: "email", Required: true, MaxLength: 254,
			Placeholder: "admin@adatum.com"},
		{Name: "mpnId", Label: "PartnerID (MPN ID), if you know it", MaxLength: 10,
			Hint: "Empty: the reseller enters it on the landing page."},
		languageField("en"),
		{Name: "contactEmail", Label: "Your contact for the reseller's questions (optional)", Type: "email",
			MaxLength: 254},
	}}}
	return p
}

// postResellerForm starts the partnership request the form describes and shows its page, or
// shows the form again, filled in, with the refusal.
func (s *Server) postResellerForm(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	page := s.resellerForm(c)
	page.fill(c)
	r, err := s.startReseller(c.Request.Context(), createResellerRequest{
		Email:        c.PostForm("email"),
		CompanyName:  c.PostForm("companyName"),
		MPNID:        value(c, "mpnId"),
		Language:     c.PostForm("language"),
		ContactEmail: value(c, "contactEmail"),
	})
	if err != nil {
		s.refuse(c, page, answer(c, err))
		return
	}
	startedRedirect(c, "/resellers/"+r.ID)
}
