package worker_test

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/workflows"
)

// TestEveryActivityNameIsRegistered holds each flow descriptor's activity names to the methods the
// worker registers: registering *activities.Activities registers each exported method under its
// name, so a name the descriptor lists and no method implements would fail every workflow that
// calls it.
func TestEveryActivityNameIsRegistered(t *testing.T) {
	typ := reflect.TypeOf(&activities.Activities{})
	for _, f := range workflows.Flows {
		names := append([]string{f.Record}, f.Activities...)
		for _, name := range names {
			if _, ok := typ.MethodByName(name); !ok {
				t.Errorf("flow %s calls activity %q, which *activities.Activities does not have", f.Kind, name)
			}
		}
		if f.Kind == "" || f.Type == "" || f.Workflow == nil || f.Query == "" {
			t.Errorf("flow descriptor %+v lacks a kind, type, workflow or query", f)
		}
	}
}

// TestFlowTypesAreTheRegisteredNames holds each descriptor's Type, by which the API starts the
// workflow, to the name the worker registers its function under.
func TestFlowTypesAreTheRegisteredNames(t *testing.T) {
	for _, f := range workflows.Flows {
		fn := runtimeName(f.Workflow)
		if fn != f.Type {
			t.Errorf("flow %s: descriptor type %q, registered as %q", f.Kind, f.Type, fn)
		}
	}
}

// runtimeName is the name the SDK registers a workflow function under: its Go name.
func runtimeName(wf any) string {
	full := runtime.FuncForPC(reflect.ValueOf(wf).Pointer()).Name()
	return full[strings.LastIndex(full, ".")+1:]
}
