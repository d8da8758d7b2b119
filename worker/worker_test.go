package worker_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/worker"
	"github.com/partnerflow/partnerflow/workflows"
)

// registry records what Register hands a worker; Register calls no other method.
type registry struct {
	sdkworker.Registry
	activities []any
}

func (r *registry) RegisterWorkflow(any) {}

func (r *registry) RegisterWorkflowWithOptions(any, workflow.RegisterOptions) {}

func (r *registry) RegisterActivity(a any) { r.activities = append(r.activities, a) }

// registeredActivities is every activity name a worker serves: registering a struct pointer
// registers each of its exported methods under the method's name.
func registeredActivities(t *testing.T) map[string]bool {
	t.Helper()
	var r registry
	worker.Register(&r, &activities.Activities{})
	names := map[string]bool{}
	for _, a := range r.activities {
		typ := reflect.TypeOf(a)
		if typ.Kind() != reflect.Pointer {
			t.Fatalf("registered activity %T is not a struct pointer", a)
		}
		for i := range typ.NumMethod() {
			names[typ.Method(i).Name] = true
		}
	}
	return names
}

// TestRecordedActivitiesAreRegistered holds the activity names in the recorded histories, which
// running workflows carry, to the names the worker registers: a method renamed or removed would
// leave those workflows with an activity nobody serves. Workflow code refers to activities as
// method values, so the compiler checks the names new commands use; only recorded names are
// strings.
func TestRecordedActivitiesAreRegistered(t *testing.T) {
	registered := registeredActivities(t)
	files, err := filepath.Glob(filepath.Join("..", "workflows", "testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("recorded histories: %v %v", files, err)
	}
	// The integration tests encrypt payloads with this fixed test key.
	c, err := codec.New(bytes.Repeat([]byte{42}, codec.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		for _, name := range recordedActivities(t, c, file) {
			if !registered[name] {
				t.Errorf("%s calls activity %q, which the worker does not register", filepath.Base(file), name)
			}
		}
	}
}

// recordedActivities lists the activities and local activities a recorded history scheduled,
// each once.
func recordedActivities(t *testing.T, c *codec.Codec, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	history, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	events := history.GetEvents()
	bound := ""
	if in := events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads(); len(in) > 0 {
		bound = codec.BoundWorkflowID(in[0])
	}
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, ev := range events {
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			add(ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
		case enums.EVENT_TYPE_MARKER_RECORDED:
			attrs := ev.GetMarkerRecordedEventAttributes()
			if attrs.GetMarkerName() != "LocalActivity" {
				continue
			}
			payloads, err := c.ForWorkflow(bound).Decode(attrs.GetDetails()["data"].GetPayloads())
			if err != nil || len(payloads) == 0 {
				t.Fatalf("%s: decode local activity marker %d: %v", file, ev.GetEventId(), err)
			}
			var marker struct{ ActivityType string }
			if err := json.Unmarshal(payloads[0].GetData(), &marker); err != nil {
				t.Fatalf("%s: local activity marker %d: %v", file, ev.GetEventId(), err)
			}
			add(marker.ActivityType)
		}
	}
	if len(names) == 0 {
		t.Fatalf("%s schedules no activity", file)
	}
	return names
}

// TestFlowDescriptorsAreComplete holds each flow descriptor to what the worker and the API need.
func TestFlowDescriptorsAreComplete(t *testing.T) {
	for _, f := range workflows.Flows {
		if f.Kind == "" || f.Type == "" || f.Workflow == nil || f.Query == "" {
			t.Errorf("flow descriptor %+v lacks a kind, type, workflow or query", f)
		}
	}
}

// TestFlowTypesAreTheRegisteredNames holds each descriptor's Type, by which the API starts the
// workflow and histories name it, to the name the worker registers its function under, whatever
// the function's Go name.
func TestFlowTypesAreTheRegisteredNames(t *testing.T) {
	reg := &namesRegistry{names: map[string]string{}}
	worker.Register(reg, nil)
	for _, f := range workflows.Flows {
		if got := reg.names[runtimeName(f.Workflow)]; got != f.Type {
			t.Errorf("flow %s: descriptor type %q, registered as %q", f.Kind, f.Type, got)
		}
	}
}

// namesRegistry records the name each workflow function is registered under.
type namesRegistry struct {
	sdkworker.Registry
	names map[string]string
}

func (r *namesRegistry) RegisterWorkflow(wf any) { r.names[runtimeName(wf)] = runtimeName(wf) }

func (r *namesRegistry) RegisterWorkflowWithOptions(wf any, o workflow.RegisterOptions) {
	name := o.Name
	if name == "" {
		name = runtimeName(wf)
	}
	r.names[runtimeName(wf)] = name
}

// runtimeName is a workflow function's Go name, the name the SDK registers it under by default.
func runtimeName(wf any) string {
	full := runtime.FuncForPC(reflect.ValueOf(wf).Pointer()).Name()
	return full[strings.LastIndex(full, ".")+1:]
}
