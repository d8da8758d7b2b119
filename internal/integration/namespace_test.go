package integration

import (
	"context"
	"testing"

	"go.temporal.io/api/operatorservice/v1"

	"github.com/partnerflow/partnerflow/internal/testtemporal"
	"github.com/partnerflow/partnerflow/worker"
	"github.com/partnerflow/partnerflow/workflows"
)

// TestSearchAttributesAreRegisteredIdempotently runs the registration the worker and dev run at
// every start a second time: it must succeed and leave every flow attribute in place.
func TestSearchAttributesAreRegisteredIdempotently(t *testing.T) {
	ts := testtemporal.Start(t) // registers once
	ctx := context.Background()
	ns := ts.Test.GetDefaultNamespace()
	if err := worker.EnsureSearchAttributes(ctx, ts.Client, ns, quietLogger()); err != nil {
		t.Fatalf("a second registration must succeed: %v", err)
	}
	got, err := ts.Client.OperatorService().ListSearchAttributes(
		ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range workflows.SearchAttributeKeys {
		if got.GetCustomAttributes()[key.GetName()] != key.GetValueType() {
			t.Errorf("search attribute %s missing or of the wrong type: %v", key.GetName(), got.GetCustomAttributes())
		}
	}
}
