package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

// formPage is a dashboard form that starts a flow or acts on one: its fields are the JSON API's,
// named as the API names them, so the problem the shared validation returns is shown beside the
// field it names (or above the form, when the form has no such field).
type formPage struct {
	pageFrame
	BackURL, BackLabel string
	Heading, Intro     string
	// ID names the form; Action is where it posts.
	ID, Action string
	CSRF       string
	Sections   []formSection
	Submit     action
	// Problem is a refusal that names no field of the form.
	Problem string
}

// formSection groups fields, under a legend when it has one.
type formSection struct {
	ID, Legend, Note string
	Fields           []formField
}

// formField is one input: text (Type "" or an HTML input type), "checkbox" or "select".
type formField struct {
	Name, Label, Type, Value, Placeholder, Hint string
	MaxLength                                   int
	Required, Checked                           bool
	Options                                     []formOption
	Problem                                     string
}

type formOption struct {
	Value, Label string
	Selected     bool
}

// formRoutes registers a form that starts a flow at path: GET shows it as build makes it, POST
// runs post; both for the roles given.
func (s *Server) formRoutes(
	root *gin.RouterGroup, path string, roles []models.Role, build func(*gin.Context) formPage, post gin.HandlerFunc,
) {
	rule := sessionRule(roles...)
	s.handle(root, "GET", path, rule, func(c *gin.Context) { s.renderPage(c, http.StatusOK, "form", build(c)) })
	s.handle(root, "POST", path, rule, post)
}

// flowFormRoutes registers a form about one flow of f at path (with :id): GET shows build's page,
// or that page with the problem notNow gives when the flow cannot take the form now; POST runs
// post; both for the roles given.
func flowFormRoutes[R models.FlowRow, S any](
	s *Server, root *gin.RouterGroup, path string, roles []models.Role, f flowAPI[R, S],
	build func(*gin.Context, *R) formPage, notNow func(context.Context, *R) *Problem, post gin.HandlerFunc,
) {
	rule := sessionRule(roles...)
	s.handle(root, "GET", path, rule, func(c *gin.Context) {
		row, ok := dashboardLoad(c, s, f)
		if !ok {
			return
		}
		if p := notNow(c.Request.Context(), row); p != nil {
			s.refuse(c, build(c, row), p)
			return
		}
		s.renderPage(c, http.StatusOK, "form", build(c, row))
	})
	s.handle(root, "POST", path, rule, post)
}

// newFormPage starts a form page for the signed-in operator.
func (s *Server) newFormPage(c *gin.Context, nav, heading string) formPage {
	p := formPage{pageFrame: s.dashboardFrame(c, heading), Heading: heading, CSRF: s.csrfToken(c)}
	p.Nav = nav
	return p
}

// field returns the form's field named name, or nil.
func (p *formPage) field(name string) *formField {
	for i := range p.Sections {
		for j := range p.Sections[i].Fields {
			if f := &p.Sections[i].Fields[j]; f.Name == name {
				return f
			}
		}
	}
	return nil
}

// fill sets each field's value from the posted form, as the operator sent it.
func (p *formPage) fill(c *gin.Context) {
	for i := range p.Sections {
		for j := range p.Sections[i].Fields {
			f := &p.Sections[i].Fields[j]
			switch f.Type {
			case "checkbox":
				f.Checked = c.PostForm(f.Name) == "on"
			case "select":
				v := c.PostForm(f.Name)
				for k := range f.Options {
					f.Options[k].Selected = f.Options[k].Value == v
				}
			default:
				f.Value = c.PostForm(f.Name)
			}
		}
	}
}

// refuse shows the form again with p's problem beside the field it names, or above the form.
func (s *Server) refuse(c *gin.Context, page formPage, p *Problem) {
	if f := page.field(p.Field); f != nil {
		f.Problem = p.Detail
	} else if p.Field != "" {
		page.Problem = p.Field + ": " + p.Detail
	} else {
		page.Problem = p.Detail
	}
	s.renderPage(c, p.Status, "form", page)
}

// value is the posted value of a form field, trimmed.
func value(c *gin.Context, name string) string { return strings.TrimSpace(c.PostForm(name)) }

// languageField picks the language of the mails partnerflow sends.
func languageField(selected string) formField {
	f := formField{Name: "language", Label: "Language of the mails", Type: "select"}
	for _, l := range notify.Languages() {
		f.Options = append(f.Options, formOption{Value: l, Label: l, Selected: l == selected})
	}
	return f
}

// startedRedirect sends the operator to the page of the flow a form started.
func startedRedirect(c *gin.Context, path string) {
	c.Redirect(http.StatusSeeOther, path+"?done=created")
}
