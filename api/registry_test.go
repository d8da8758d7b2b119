package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/internal/bench"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/workflows"
)

// TestFlowRegistrations checks that every flow's registration declares everything the engine
// needs, and that every flow the worker runs, every mail kind and every bench kind belongs to one.
func TestFlowRegistrations(t *testing.T) {
	s := New(Config{SigningKey: make([]byte, 32)})
	kinds := map[string]bool{}
	mails := map[string]string{}
	for _, reg := range flowRegistrations {
		kind := reg.desc.Kind
		t.Run(kind, func(t *testing.T) {
			if kind == "" || kinds[kind] {
				t.Fatalf("a registration needs a kind of its own, got %q", kind)
			}
			kinds[kind] = true
			if d, ok := workflows.FlowByKind(kind); !ok || d.Type != reg.desc.Type || d.Workflow == nil ||
				d.Query == "" {
				t.Errorf("the descriptor must be one of workflows.Flows, with a workflow and a query: %+v", reg.desc)
			}
			if len(reg.statuses) == 0 || reg.open == nil {
				t.Fatal("a registration needs its statuses and which of them are open")
			}
			if !slices.ContainsFunc(reg.statuses, reg.open) ||
				!slices.ContainsFunc(reg.statuses, func(st string) bool { return !reg.open(st) }) {
				t.Errorf("some of the statuses %v must be open and some closed", reg.statuses)
			}
			if reg.section.Key != kind+"s" || reg.section.Label == "" || !strings.HasPrefix(reg.section.Path, "/") {
				t.Errorf("the dashboard section must be keyed %q, with a label and a path: %+v", kind+"s", reg.section)
			}
			if reg.routes == nil {
				t.Fatal("a registration needs its routes")
			}
			collection := "/v1/" + kind + "s"
			for _, want := range []struct {
				route string
				kind  AccessKind
			}{
				{"GET " + collection, AccessKey}, {"GET " + collection + "/:id", AccessKey},
				{"GET " + collection + "/:id/steps", AccessKey}, {"GET " + reg.section.Path, AccessSession},
			} {
				if rule, ok := s.RouteAccess(want.route); !ok || rule.Kind != want.kind {
					t.Errorf("%s must be registered with a %s rule, got %+v (registered: %v)",
						want.route, want.kind, rule, ok)
				}
			}
			for _, l := range reg.links {
				if l.show == nil || l.post == nil {
					t.Errorf("link page %s needs GET and POST handlers", l.path)
				}
				for _, method := range []string{"GET", "POST"} {
					if rule, ok := s.RouteAccess(method + " " + l.path); !ok || rule.Kind != AccessLink {
						t.Errorf("link page %s %s must be registered with a link rule", method, l.path)
					}
				}
			}
			if (reg.events == nil) != (len(reg.desc.Events) == 0) {
				t.Errorf("the flow waits for events %v: it routes them exactly when it has some", reg.desc.Events)
			}
			for _, ev := range reg.desc.Events {
				if _, ok := reg.events(s)[ev]; !ok {
					t.Errorf("Partner Center event %s has no route", ev)
				}
			}
			o := reg.overview
			if o.Kind != kind || o.stats == nil || !slices.Equal(o.Statuses, reg.statuses) ||
				o.ListPath != reg.section.Path || o.Title == "" || o.Noun == "" || len(o.Funnel) == 0 ||
				o.DoneStep == "" {
				t.Errorf("the overview entry must be the flow's, made by overviewOf, with its statuses, list and "+
					"funnel: %+v", o)
			}
			for _, ev := range reg.webhookEvents() {
				if !knownEvent(ev) {
					t.Errorf("outbound webhook event %s is not one a partner may subscribe to", ev)
				}
			}
			if len(reg.mailKinds) == 0 {
				t.Error("a registration names the kinds of the mails its flow sends")
			}
			for _, m := range reg.mailKinds {
				if !slices.Contains(notify.Kinds(), m) {
					t.Errorf("mail kind %s has no templates in notify", m)
				}
				mails[m] = kind
			}
			if reg.closeNeverStarted == nil || s.closers[kind] == nil {
				t.Error("a registration closes its flows whose workflow never started")
			}
			if !slices.Contains(bench.Kinds, reg.benchKind) {
				t.Errorf("bench kind %q is not one the bench drives (%v)", reg.benchKind, bench.Kinds)
			}
		})
	}
	for _, f := range workflows.Flows {
		if !kinds[f.Kind] {
			t.Errorf("the worker runs flow %s, which has no registration", f.Kind)
		}
	}
	for _, m := range notify.Kinds() {
		if _, ok := mails[m]; !ok && m != notify.KindConnectionLost && m != notify.KindConnectionLapsing {
			t.Errorf("mail kind %s belongs to no flow's registration", m)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(BenchKinds())), slices.Sorted(slices.Values(bench.Kinds))) {
		t.Errorf("the bench drives %v, the registrations name %v", bench.Kinds, BenchKinds())
	}
}

// TestEveryRouteIsRegisteredWithItsRule checks that the router holds exactly the routes
// registered through Server.handle, so no route escapes its access rule.
func TestEveryRouteIsRegisteredWithItsRule(t *testing.T) {
	s := New(Config{SigningKey: make([]byte, 32)})
	routes := s.Routes()
	for _, r := range routes {
		if _, ok := s.RouteAccess(r[0] + " " + r[1]); !ok {
			t.Errorf("%s %s was registered without Server.handle", r[0], r[1])
		}
	}
	if len(s.access) != len(routes) {
		t.Errorf("%d rules for %d routes", len(s.access), len(routes))
	}
	if rule, _ := s.RouteAccess("POST /v1/invitations"); rule.Kind != AccessKey ||
		!slices.Equal(rule.Roles, agentRoles) {
		t.Errorf("POST /v1/invitations: %+v", rule)
	}
	if rule, _ := s.RouteAccess("GET /"); rule.Kind != AccessSession || len(rule.Roles) != 0 {
		t.Errorf("GET /: %+v", rule)
	}
}
