// Package worker runs partnerflow's workflows and activities on a task queue, and prepares the
// Temporal namespace they need.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/workflows"
)

// SetWorkflowCacheSize bounds the workflows every worker of this process keeps in memory between
// their tasks (the SDK's sticky cache, one for the process). A cached workflow keeps its state and
// its coroutines' stacks; one evicted is replayed from its history when it next wakes. It must
// run before the process's first worker starts, the embedded Temporal server's own included: the
// cache is made with the first worker and keeps its size. n <= 0 keeps the SDK's default.
func SetWorkflowCacheSize(n int) {
	if n > 0 {
		sdkworker.SetStickyWorkflowCacheSize(n)
	}
}

// New returns a worker with every partnerflow workflow and the activities registered.
func New(c client.Client, taskQueue string, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, sdkworker.Options{})
	Register(w, acts)
	return w
}

// Register adds every workflow and the activities to a worker or a replayer's registry. Each
// exported method of *activities.Activities is an activity named after the method, the name the
// workflows' method values (a.CreateGDAP) resolve to.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	for _, wf := range workflows.All() {
		r.RegisterWorkflowWithOptions(wf.Workflow, workflow.RegisterOptions{Name: wf.Name})
	}
	if acts != nil {
		r.RegisterActivity(acts)
	}
}

// EnsureSearchAttributes registers the flows' custom search attributes that the namespace lacks.
// It is idempotent and runs at every start, so an existing namespace gains new ones.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string, logger *slog.Logger) error {
	ops := c.OperatorService()
	existing, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of %s: %w", namespace, err)
	}
	missing := map[string]enums.IndexedValueType{}
	for _, key := range workflows.SearchAttributeKeys {
		if _, ok := existing.GetCustomAttributes()[key.GetName()]; !ok {
			missing[key.GetName()] = key.GetValueType()
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes to %s: %w", namespace, err)
	}
	logger.Info("registered search attributes", "namespace", namespace, "count", len(missing))
	return nil
}
