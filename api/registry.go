package api

import (
	"path"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// flowRegistration is everything the engine needs of one flow kind, declared in one value in
// the flow's API file: the router, the dashboard's navigation, the overview, Partner Center
// event routing, outbound webhook events and the bench read it, and TestFlowRegistrations
// fails when one is incomplete.
type flowRegistration struct {
	// desc is the flow's workflow descriptor: kind, workflow, query, updates, Partner Center
	// events.
	desc workflows.Flow
	// statuses are the flow's statuses in lifecycle order; open says which are still open.
	// Each status is also an outbound webhook event, "<kind>.<status>".
	statuses []string
	open     func(status string) bool
	// section is the flow's entry in the dashboard's navigation.
	section navLink
	// routes registers the flow's JSON API under v1 and its dashboard pages under root, every
	// route with its access rule (Server.handle).
	routes func(s *Server, root, v1 *gin.RouterGroup)
	// links are the public pages a customer or reseller opens from a signed link.
	links []linkPage
	// events routes each Partner Center event of desc.Events to the flow's workflows (nil
	// when the flow waits for none).
	events func(s *Server) map[string]eventRoute
	// overview is the flow's section of the dashboard's overview.
	overview flowOverview
	// mailKinds are the notify kinds of the mails the flow sends.
	mailKinds []string
	// closeNeverStarted closes, as failed, a flow an earlier version recorded without starting
	// its workflow (the flowAPI's closeNeverStarted).
	closeNeverStarted closeUnstarted
	// benchKind is the kind the load bench drives for this flow (internal/bench).
	benchKind string
}

// linkPage is a public page opened with a signed link token: GET shows it, POST acts on it.
type linkPage struct {
	path       string
	show, post func(s *Server) gin.HandlerFunc
}

// flowRegistrations are the flows partnerflow serves, in the dashboard's order.
var flowRegistrations = []flowRegistration{
	invitationRegistration,
	resellerRegistration,
	removalRegistration,
	onboardingRegistration,
}

// registerFlows registers every flow's routes, link pages, dashboard section, event routes and
// the closer of its never-started flows.
func (s *Server) registerFlows(root, v1 *gin.RouterGroup) {
	for _, reg := range flowRegistrations {
		s.sections = append(s.sections, reg.section)
		reg.routes(s, root, v1)
		for _, l := range reg.links {
			s.handle(root, "GET", l.path, linkRule, l.show(s))
			s.handle(root, "POST", l.path, linkRule, l.post(s))
		}
		if reg.events != nil {
			s.routeEvents(reg.events(s))
		}
		s.closers[reg.desc.Kind] = reg.closeNeverStarted
	}
}

// webhookEvents are the flow's outbound webhook events, "<kind>.<status>".
func (reg flowRegistration) webhookEvents() []string {
	out := make([]string, len(reg.statuses))
	for i, st := range reg.statuses {
		out[i] = reg.desc.Kind + "." + st
	}
	return out
}

// BenchKinds lists the kinds the load bench drives, one per flow, in the dashboard's order.
func BenchKinds() []string {
	out := make([]string, len(flowRegistrations))
	for i, reg := range flowRegistrations {
		out[i] = reg.benchKind
	}
	return out
}

// Rules of routes, for Server.handle.
var (
	publicRule    = Access{Kind: AccessPublic}
	linkRule      = Access{Kind: AccessLink}
	signatureRule = Access{Kind: AccessSignature}
)

// keyRule lets callers with an API key (or a dashboard session) holding one of roles through.
func keyRule(roles ...models.Role) Access { return Access{Kind: AccessKey, Roles: roles} }

// sessionRule lets signed-in operators through, holding one of roles when roles are given.
func sessionRule(roles ...models.Role) Access { return Access{Kind: AccessSession, Roles: roles} }

// handle registers a route and its access rule in one call: the rule is recorded for
// RouteAccess and its check runs just before the last handler, after any middleware given
// (authentication where the group does not already authenticate, a rate limit).
func (s *Server) handle(g *gin.RouterGroup, method, relativePath string, rule Access, handlers ...gin.HandlerFunc) {
	var check []gin.HandlerFunc
	switch rule.Kind {
	case AccessKey:
		check = append(check, requireRole(rule.Roles...))
	case AccessSession:
		check = append(check, s.requireSession)
		if len(rule.Roles) > 0 {
			check = append(check, requireRole(rule.Roles...))
		}
	case AccessLink:
		check = append(check, s.limitLink)
	}
	last := len(handlers) - 1
	chain := append(append(slices.Clone(handlers[:last]), check...), handlers[last])
	g.Handle(method, relativePath, chain...)
	full := path.Join(g.BasePath(), relativePath)
	s.access[method+" "+full] = rule
}

// RouteAccess returns the rule a route was registered with ("METHOD path", path in gin's
// `:param` form).
func (s *Server) RouteAccess(route string) (Access, bool) {
	a, ok := s.access[route]
	return a, ok
}
