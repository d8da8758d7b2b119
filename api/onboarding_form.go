package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

// agreementFormRoutes registers the form on which an agent attests that an onboarding's customer
// accepted the Microsoft Customer Agreement: the fields of POST /v1/customers/{id}/agreement,
// checked and kept by the same code (attestation, recordAgreement).
func (s *Server) agreementFormRoutes(root *gin.RouterGroup) {
	flowFormRoutes(s, root, "/customers/:id/agreement", agentRoles, onboardings, s.agreementForm,
		func(row *models.Onboarding) *Problem {
			if row.Status == models.OnboardingAwaitingAgreement {
				return nil
			}
			return onboardings.problemClosed("the onboarding is " + row.Status +
				"; an attestation is taken while it awaits the agreement")
		}, s.postAgreementForm)
}

func (s *Server) agreementForm(c *gin.Context, row *models.Onboarding) formPage {
	p := s.newFormPage(c, models.KindOnboarding+"s", "Attest the Microsoft Customer Agreement for "+row.Domain)
	p.BackURL, p.BackLabel = "/customers/"+row.ID, row.Domain
	p.ID, p.Action = "agreement-form", "/customers/"+row.ID+"/agreement"
	p.Intro = "Partner Center lets an admin or sales agent confirm that the customer accepted the Microsoft " +
		"Customer Agreement, naming who accepted and when. partnerflow keeps it as evidence (you, your key, " +
		"your address, the time) and sends it to Partner Center before the order. An indirect reseller cannot " +
		"attest: for a reseller's customer the attestation is recorded as made on its behalf."
	p.Submit = action{ID: "attest", Label: "Record the attestation"}
	p.Sections = []formSection{{Legend: "Who accepted the agreement", Fields: []formField{
		{Name: "primaryContact.firstName", Label: "First name", Required: true, MaxLength: maxPersonName},
		{Name: "primaryContact.lastName", Label: "Last name", Required: true, MaxLength: maxPersonName},
		{Name: "primaryContact.email", Label: "E-mail", Type: "email", Required: true, MaxLength: 254},
		{Name: "dateAgreed", Label: "Date of acceptance (not in the future)", Type: "date", Required: true},
	}}}
	return p
}

// postAgreementForm records the attestation and shows the onboarding's page, or shows the form
// again with the refusal.
func (s *Server) postAgreementForm(c *gin.Context) {
	row, ok := dashboardLoad(c, s, onboardings)
	if !ok || !s.checkCSRF(c) {
		return
	}
	page := s.agreementForm(c, row)
	page.fill(c)
	ev, by, err := s.attestation(c, row, attestRequest{
		PrimaryContact: contactRequest{
			FirstName: c.PostForm("primaryContact.firstName"),
			LastName:  c.PostForm("primaryContact.lastName"),
			Email:     c.PostForm("primaryContact.email"),
		},
		DateAgreed: c.PostForm("dateAgreed"),
	})
	if err != nil {
		s.refuse(c, page, answer(c, err))
		return
	}
	if s.recordAgreement(c, row, ev, by) { // a refusal there is answered as the API answers it
		c.Redirect(http.StatusSeeOther, "/customers/"+row.ID+"?done=attested")
	}
}
