package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

// removalFormRoutes registers the form that removes an active partnership from its page: the
// good-faith attestation Partner Center asks for, checked and kept as POST
// /v1/resellers/{id}/removal does (startRemoval), for the roles that work with resellers.
func (s *Server) removalFormRoutes(root *gin.RouterGroup) {
	flowFormRoutes(s, root, "/resellers/:id/removal", partnershipRoles, resellers, s.removalForm,
		func(_ context.Context, rs *models.Reseller) *Problem {
			if rs.Status == models.ResellerActive {
				return nil
			}
			return NewProblem(http.StatusConflict, "reseller-not-active", "The reseller is not active",
				"the partnership is "+rs.Status+"; only an active partnership can be removed")
		}, s.postRemovalForm)
}

func (s *Server) removalForm(c *gin.Context, rs *models.Reseller) formPage {
	p := s.newFormPage(c, models.KindReseller+"s", "Remove the partnership with "+rs.CompanyName)
	p.BackURL, p.BackLabel = "/resellers/"+rs.ID, rs.CompanyName
	p.ID, p.Action = "removal-form", "/resellers/"+rs.ID+"/removal"
	p.Intro = rs.CompanyName + " leaves your active resellers at once. Its customers stay its customers and " +
		"nobody's delegated admin access changes. partnerflow tells the reseller, each of its customers (in " +
		"their language) and your subscribed systems, and keeps your attestation as evidence. Partner Center " +
		"offers no API to remove the partnership itself: the removal's page says whether Partner Center still " +
		"lists it, for you to finish there (Indirect resellers). This cannot be undone: to work with the " +
		"reseller again, ask it to partner anew."
	p.Submit = action{ID: "remove", Label: "Remove the partnership", Danger: true}
	p.Sections = []formSection{{Legend: "Attestation", Fields: []formField{
		{Name: "attestation", Type: "checkbox", Required: true, Label: "I attest in good faith that I am " +
			"entitled to end this partnership, as Partner Center requires."},
		{Name: "attestedBy", Label: "Your name, as it goes on record", Required: true, MaxLength: maxAttestedBy},
	}}}
	return p
}

// postRemovalForm removes the partnership and shows the removal's page, or shows the form again
// with the refusal.
func (s *Server) postRemovalForm(c *gin.Context) {
	rs, ok := dashboardLoad(c, s, resellers)
	if !ok || !s.checkCSRF(c) {
		return
	}
	page := s.removalForm(c, rs)
	page.fill(c)
	attest := c.PostForm("attestation") == "on"
	attestedBy, err := removalAttestation(createRemovalRequest{
		Attestation: &attest, AttestedBy: c.PostForm("attestedBy"),
	})
	if err != nil {
		s.refuse(c, page, answer(c, err))
		return
	}
	rm, err := s.startRemoval(c, rs, attestedBy)
	if err != nil {
		s.refuse(c, page, answer(c, err))
		return
	}
	startedRedirect(c, "/removals/"+rm.ID)
}
