package sim

import (
	"html/template"
	"net/http"
	"strings"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// The pages stand in for the Microsoft 365 admin center and, for the
// reseller's side of a partnership request, Partner Center. Their element IDs
// (input "upn", buttons "accept", "approve" and "authorize", result "result")
// are stable because headless-browser tests click them.
var pages = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} – {{.Site}} (simulator)</title>
<style>
body{font-family:Segoe UI,system-ui,sans-serif;background:#f3f2f1;margin:0}
header{background:#0078d4;color:#fff;padding:12px 24px;font-weight:600}
main{max-width:640px;margin:32px auto;background:#fff;padding:24px 32px;border-radius:4px;box-shadow:0 1px 3px #0002}
dt{font-weight:600;margin-top:8px} label{display:block;margin-top:16px}
input{width:100%;padding:6px;font-size:1em;box-sizing:border-box}
button{margin-top:16px;background:#0078d4;color:#fff;border:0;padding:8px 20px;font-size:1em;` +
	`border-radius:2px;cursor:pointer}
#result.ok{color:#107c10} #result.refused{color:#a4262c} .note{color:#605e5c;font-size:.9em}
</style></head>
<body><header>{{.Site}} · partnerflow simulator</header><main>
<h1>{{.Title}}</h1>
{{if .Result}}<p id="result" class="{{.ResultClass}}" data-reason="{{.Reason}}">{{.Result}}</p>{{end}}
{{if .Invitation}}{{with .Invitation}}
<p><strong>{{.PartnerName}}</strong> invites your organization to a reseller relationship` +
	`{{if .Indirect}} through {{.ProviderName}}{{end}}.</p>
<dl><dt>Partner</dt><dd>{{.PartnerName}}</dd>{{if .Indirect}}<dt>Indirect provider</dt><dd>{{.ProviderName}}</dd>{{end}}
<dt>Delegated admin permissions requested</dt><dd>{{if .DAP}}Yes{{else}}No{{end}}</dd></dl>
{{end}}{{end}}
{{if .Relationship}}{{with .Relationship}}
<p>A partner requests granular delegated admin access to your organization.</p>
<dl><dt>Relationship</dt><dd>{{.DisplayName}}</dd><dt>Status</dt><dd id="status">{{.Status}}</dd>
<dt>Duration</dt><dd>{{.Duration}}</dd><dt>Auto-extend</dt><dd>{{.AutoExtendDuration}}</dd>
<dt>Microsoft Entra roles</dt>` +
	`<dd><ul>{{range .AccessDetails.UnifiedRoles}}<li>{{.RoleDefinitionID}}</li>{{end}}</ul></dd></dl>
{{end}}{{end}}
{{if .Partnership}}{{with .Partnership}}
<p><strong>{{.ProviderName}}</strong> asks your organization to authorize it as your indirect provider.</p>
<dl><dt>Indirect provider</dt><dd id="provider">{{.ProviderName}}</dd>` +
	`<dt>Provider PartnerID</dt><dd>{{.ProviderMPNID}}</dd>
<dt>Country/region</dt><dd>{{.Country}}</dd></dl>
{{end}}{{end}}
{{if .Form}}<form method="post">
<label for="upn">Sign in as (user principal name)</label>
<input id="upn" name="upn" type="email" required placeholder="admin@contoso.onmicrosoft.com" value="{{.UPN}}">
<p class="note">Stands in for Microsoft sign-in: only a Global admin of {{.Whose}} can {{.Verb}}.</p>
<button id="{{.Button}}" type="submit">{{.ButtonLabel}}</button>
</form>{{end}}
</main></body></html>`))

type invitationView struct {
	PartnerName  string
	ProviderName string
	Indirect     bool
	DAP          bool
}

type partnershipView struct {
	ProviderName  string
	ProviderMPNID string
	Country       string
}

type pageData struct {
	// Site is the Microsoft site the page stands for; empty means the
	// Microsoft 365 admin center.
	Site         string
	Title        string
	Result       string
	ResultClass  string
	Reason       string
	Invitation   *invitationView
	Relationship *pc.GDAPRelationship
	Partnership  *partnershipView
	Form         bool
	UPN          string
	Verb         string
	// Whose names the tenant whose Global admin may act; empty means the
	// customer's tenant.
	Whose       string
	Button      string
	ButtonLabel string
}

func renderPage(w http.ResponseWriter, status int, d pageData) {
	if d.Site == "" {
		d.Site = "Microsoft 365 admin center"
	}
	if d.Whose == "" {
		d.Whose = "the customer's tenant"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pages.Execute(w, d)
}

func (d *pageData) outcome(ref *refusal, success string) int {
	if ref != nil {
		d.Result, d.ResultClass, d.Reason = ref.message, "refused", ref.reason
		return ref.status
	}
	d.Result, d.ResultClass = success, "ok"
	d.Form = false
	return http.StatusOK
}

// invitationPage shows a reseller relationship invitation and accepts it.
func (s *Server) invitationPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	partnerID := q.Get("partnerId")
	d := pageData{
		Title:       "Accept partner invitation",
		Form:        true,
		Verb:        "accept the invitation",
		Button:      "accept",
		ButtonLabel: "Accept authorization",
	}
	inv := &invitationView{DAP: strings.EqualFold(q.Get("DAP"), "true")}
	switch p := s.st.Tenants[partnerID]; {
	case partnerID == s.home.TenantID:
		inv.PartnerName = s.home.CompanyName
	case p != nil && p.Partner:
		inv.PartnerName, inv.ProviderName, inv.Indirect = p.CompanyName, s.home.CompanyName, true
	default:
		d.Form = false
		d.outcome(refuse(http.StatusNotFound, ReasonNotFound, "This invitation link names an unknown partner."), "")
		renderPage(w, http.StatusNotFound, d)
		return
	}
	d.Invitation = inv
	if r.Method != http.MethodPost {
		renderPage(w, http.StatusOK, d)
		return
	}
	d.UPN = strings.TrimSpace(r.PostFormValue("upn"))
	t, ref := s.acceptReseller("", partnerID, d.UPN)
	msg := ""
	if t != nil {
		msg = t.CompanyName + " accepted the reseller relationship with " + inv.PartnerName + "."
	}
	renderPage(w, d.outcome(ref, msg), d)
}

// approvalPage shows a GDAP request and approves it.
func (s *Server) approvalPage(w http.ResponseWriter, r *http.Request) {
	d := pageData{
		Title:       "Approve granular admin relationship",
		Form:        true,
		Verb:        "approve",
		Button:      "approve",
		ButtonLabel: "Approve all roles",
	}
	g := s.st.GDAP[r.PathValue("id")]
	if g == nil || g.Phase == "deleted" {
		d.Form = false
		d.outcome(refuse(http.StatusNotFound, ReasonNotFound, "This relationship request does not exist."), "")
		renderPage(w, http.StatusNotFound, d)
		return
	}
	view := g.view(s.now(), s.cfg.ActivationDelay)
	d.Relationship = &view
	if r.Method != http.MethodPost {
		renderPage(w, http.StatusOK, d)
		return
	}
	d.UPN = strings.TrimSpace(r.PostFormValue("upn"))
	approved, ref := s.approveGDAP(g.ID, d.UPN)
	msg := ""
	if approved != nil {
		view = approved.view(s.now(), s.cfg.ActivationDelay)
		d.Relationship = &view
		msg = "You approved " + view.DisplayName + "."
	}
	renderPage(w, d.outcome(ref, msg), d)
}
