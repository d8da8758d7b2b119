package connection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/partnerflow/partnerflow/internal/flowsearch"
)

// resumeParallelism bounds the signals sent at once to flows waiting for the connection.
const resumeParallelism = 8

// WaitingQuery finds the partner's running flows that wait for the connection in Temporal's
// visibility.
func WaitingQuery(partnerID string) string {
	q := fmt.Sprintf(
		"%s = '%s' AND ExecutionStatus = 'Running'",
		flowsearch.FlowStatusKey.GetName(),
		flowsearch.StatusConnectionNeeded,
	)
	if partnerID != "" {
		q += fmt.Sprintf(
			" AND %s = '%s'",
			flowsearch.PartnerIDKey.GetName(),
			strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(partnerID),
		)
	}
	return q
}

// ResumeWaitingFlows signals flowsearch.SignalConnected to every flow of the partner waiting for
// the connection, page by page of Temporal's visibility, and returns how many it reached. A
// flow that ended meanwhile is skipped; another failure is logged, and that flow resumes at its
// next recheck. The dashboard's sign-in and `partnerflow connect` call it once connected.
func ResumeWaitingFlows(ctx context.Context, tc client.Client, partnerID string, logger *slog.Logger) (int, error) {
	var (
		mu       sync.Mutex
		resumed  int
		token    []byte
		wg       sync.WaitGroup
		parallel = make(chan struct{}, resumeParallelism)
	)
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize:      500,
			NextPageToken: token,
			Query:         WaitingQuery(partnerID),
		})
		if err != nil {
			wg.Wait()
			return resumed, fmt.Errorf("list the flows waiting for the connection: %w", err)
		}
		for _, ex := range resp.GetExecutions() {
			id := ex.GetExecution().GetWorkflowId()
			parallel <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-parallel; wg.Done() }()
				err := tc.SignalWorkflow(ctx, id, "", flowsearch.SignalConnected, nil)
				var notFound *serviceerror.NotFound
				switch {
				case errors.As(err, &notFound):
				case err != nil:
					logger.WarnContext(
						ctx,
						"signal a flow waiting for the Partner Center connection",
						"workflow_id", id,
						"error", err,
					)
				default:
					mu.Lock()
					resumed++
					mu.Unlock()
				}
			}()
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			wg.Wait()
			return resumed, nil
		}
	}
}
