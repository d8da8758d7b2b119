package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/internal/failpoint"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// What the engine owes Temporal after a database write is a models.FlowCommand, written in the
// write's transaction. The request that wrote it carries it out at once, holding it for
// commandHold; the dispatcher carries out whatever is left (the process died, Temporal did not
// answer) every dispatchEvery, in every api process, each command by one process at a time.
const (
	commandHold = updateTimeout + 5*time.Second
	// startHold is the creating request's hold on its start: the start's timeout and a margin.
	startHold     = startTimeout + 5*time.Second
	dispatchEvery = 5 * time.Second
	dispatchBatch = 100
	// maxCommandBackoff bounds the wait between attempts at a command Temporal keeps refusing.
	maxCommandBackoff = 5 * time.Minute
)

// startAttributes are the search attributes a flow's workflow starts with.
type startAttributes = models.StartAttributes

func flowAttributes(partnerID, status, domain, resellerTenantID string) startAttributes {
	return startAttributes{PartnerID: partnerID, Status: status, Domain: domain, ResellerTenantID: resellerTenantID}
}

// attributeUpdates are a start command's search attributes as Temporal takes them.
func attributeUpdates(a startAttributes) []temporal.SearchAttributeUpdate {
	attrs := []temporal.SearchAttributeUpdate{
		workflows.PartnerIDKey.ValueSet(a.PartnerID),
		workflows.FlowStatusKey.ValueSet(a.Status),
	}
	if a.Domain != "" {
		attrs = append(attrs, workflows.CustomerDomainKey.ValueSet(a.Domain))
	}
	if a.ResellerTenantID != "" {
		attrs = append(attrs, workflows.ResellerPartnerIDKey.ValueSet(a.ResellerTenantID))
	}
	return attrs
}

// newStartCommand is the command that starts a new flow's workflow, held by the request that
// creates the flow (models.NewStartCommand; the estate import writes its own, due at once).
func newStartCommand(
	flow workflows.Flow,
	flowID, workflowID string,
	in any,
	attrs startAttributes,
) (*models.FlowCommand, error) {
	return models.NewStartCommand(flow.Kind, flow.Type, flowID, workflowID, in, attrs, startHold)
}

// newUpdateCommand is the command that sends an update to a flow's workflow, held by the
// request that writes it.
func newUpdateCommand(kind, flowID, workflowID, name string, arg any) (*models.FlowCommand, error) {
	payload, err := json.Marshal(arg)
	if err != nil {
		return nil, fmt.Errorf("encode the %s update of %s %s: %w", name, kind, flowID, err)
	}
	now := time.Now().UTC()
	return &models.FlowCommand{
		FlowKind:     kind,
		FlowID:       flowID,
		Command:      models.CommandUpdate,
		Name:         name,
		WorkflowID:   workflowID,
		Payload:      string(payload),
		CreatedAt:    now,
		ClaimedUntil: now.Add(commandHold),
	}, nil
}

// updateID makes an update command idempotent: Temporal answers a repeated update ID in the
// same run with the first one's outcome.
func updateID(cmd *models.FlowCommand) string {
	return cmd.FlowKind + "/" + cmd.FlowID + "/" + cmd.Name
}

// DispatchCommands carries out what is owed to Temporal, at once and then every dispatchEvery,
// until ctx ends.
func (s *Server) DispatchCommands(ctx context.Context) {
	for {
		if _, err := s.DispatchDue(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "flow commands", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(dispatchEvery):
		}
	}
}

// DispatchDue carries out every command due now once and says how many were done.
func (s *Server) DispatchDue(ctx context.Context) (int, error) {
	done := 0
	for {
		cmds, err := s.store.DueCommands(ctx, time.Now(), dispatchBatch)
		if err != nil {
			return done, err
		}
		var errs []error
		for i := range cmds {
			claimed, err := s.claim(ctx, &cmds[i])
			if err == nil && claimed {
				err = s.perform(ctx, &cmds[i], nil)
				if err == nil {
					done++
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf(
					"%s %s of %s %s: %w",
					cmds[i].Command,
					cmds[i].Name,
					cmds[i].FlowKind,
					cmds[i].FlowID,
					err,
				))
			}
		}
		if len(cmds) < dispatchBatch || ctx.Err() != nil {
			return done, errors.Join(errs...)
		}
	}
}

// claim takes a due command for this process.
func (s *Server) claim(ctx context.Context, cmd *models.FlowCommand) (bool, error) {
	now := time.Now()
	ok, err := s.store.ClaimCommand(ctx, cmd.ID, now, now.Add(commandHold))
	if ok {
		cmd.Attempts++
	}
	return ok, err
}

// kickStart starts a flow's workflow now if it is still owed, so that a retried create's
// answer points at a flow that runs. A command held elsewhere is left to its holder.
func (s *Server) kickStart(ctx context.Context, kind, id string) {
	cmd, err := s.store.PendingStart(ctx, kind, id)
	if err != nil {
		return
	}
	if err := s.kick(ctx, cmd); err != nil {
		s.logger.WarnContext(ctx, "the workflow starts later", "kind", kind, "id", id, "error", err)
	}
}

// kick claims a command and carries it out now; errCommandHeld when another process holds it.
func (s *Server) kick(ctx context.Context, cmd *models.FlowCommand) error {
	claimed, err := s.claim(ctx, cmd)
	if err != nil {
		return err
	}
	if !claimed {
		return models.ErrCommandHeld
	}
	return s.perform(ctx, cmd, nil)
}

// perform carries out a command this process holds; in is the command's argument when the
// caller has it typed (otherwise its JSON is sent as it was recorded). Done, it is deleted;
// failed, it is due again after a backoff.
func (s *Server) perform(ctx context.Context, cmd *models.FlowCommand, in any) error {
	if in == nil {
		in = json.RawMessage(cmd.Payload)
	}
	var err error
	switch {
	case s.temporal == nil:
		err = errors.New("no Temporal client is configured")
	case cmd.Command == models.CommandStart:
		err = s.startWorkflow(ctx, cmd, in)
		if err == nil {
			failpoint.Hit(failpoint.CreateAfterStart, cmd.FlowKind)
		}
	case cmd.Command == models.CommandUpdate:
		err = s.deliverUpdate(ctx, cmd, in)
	case cmd.Command == models.CommandVerify:
		err = s.verifyStarted(ctx, cmd)
	default:
		err = fmt.Errorf("unknown command %q", cmd.Command)
	}
	store := context.WithoutCancel(ctx)
	if err == nil {
		return s.store.DoneCommand(store, cmd.ID)
	}
	backoff := min(dispatchEvery<<min(cmd.Attempts, 10), maxCommandBackoff)
	if rerr := s.store.RetryCommand(store, cmd.ID, err.Error(), time.Now().Add(backoff)); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return err
}

// startWorkflow starts a flow's workflow. The workflow ID is the flow's own, and a used ID is
// refused even after its workflow finished, so "already started" means done.
func (s *Server) startWorkflow(ctx context.Context, cmd *models.FlowCommand, in any) error {
	var attrs startAttributes
	if err := json.Unmarshal([]byte(cmd.Attributes), &attrs); err != nil {
		return fmt.Errorf("read the search attributes: %w", err)
	}
	reuse := enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	if cmd.Name == models.StartAgain {
		// A second run after the first finished; done twice, the second finds nothing pending.
		reuse = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	_, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       cmd.WorkflowID,
		TaskQueue:                s.flows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    reuse,
		// Without this the SDK hands back the running workflow as if it had been started.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attributeUpdates(attrs)...),
	}, cmd.WorkflowType, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("start %s workflow %s: %w", cmd.FlowKind, cmd.WorkflowID, err)
	}
	return nil
}

// deliverUpdate sends a recorded update. One the workflow refuses undoes what it followed from.
func (s *Server) deliverUpdate(ctx context.Context, cmd *models.FlowCommand, in any) error {
	ctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	handle, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: cmd.WorkflowID, UpdateID: updateID(cmd), UpdateName: cmd.Name, Args: []any{in},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = handle.Get(ctx, nil)
	}
	if err != nil && isRefusal(err) {
		s.logger.WarnContext(
			ctx,
			"recorded update refused",
			"kind", cmd.FlowKind,
			"id", cmd.FlowID,
			"update", cmd.Name,
			"error", err,
		)
		return s.undoRefused(ctx, cmd)
	}
	return err
}

// undoRefused drops what a refused update followed from, with the command, in one transaction.
func (s *Server) undoRefused(ctx context.Context, cmd *models.FlowCommand) error {
	if cmd.Name == workflows.UpdateAgreement {
		return s.store.DropEvidence(context.WithoutCancel(ctx), cmd.FlowID)
	}
	return nil
}

// isRefusal reports whether an update failed because the workflow refused it or is gone, not
// because Temporal or an activity failed.
func isRefusal(err error) bool {
	var (
		notFound *serviceerror.NotFound
		actErr   *temporal.ActivityError
		appErr   *temporal.ApplicationError
	)
	return errors.As(err, &notFound) || (!errors.As(err, &actErr) && errors.As(err, &appErr))
}

// neverStarted is the reason shown on a flow an earlier version recorded without starting it.
const neverStarted = "its workflow never started: partnerflow stopped between recording the flow and starting its " +
	"workflow (fixed since); start it again"

// verifyStarted checks that a flow an earlier version recorded has a workflow, and closes it
// as failed, with the reason, when it has none: nobody could act on it otherwise.
func (s *Server) verifyStarted(ctx context.Context, cmd *models.FlowCommand) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	_, err := s.temporal.DescribeWorkflowExecution(ctx, cmd.WorkflowID, "")
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		return err
	}
	closeFailed, ok := s.closers[cmd.FlowKind]
	if !ok {
		return fmt.Errorf("unknown flow kind %q", cmd.FlowKind)
	}
	return closeFailed(ctx, s, cmd.FlowID)
}

// closeUnstarted closes a flow whose workflow never started, as failed; every flow's
// registration holds its flowAPI's closeNeverStarted.
type closeUnstarted func(ctx context.Context, s *Server, id string) error

func (f flowAPI[R, S]) closeNeverStarted(ctx context.Context, s *Server, id string) error {
	err := models.CloseUnstarted[R](
		ctx,
		s.store,
		f.desc.Kind,
		id,
		models.StatusFailed,
		"failed",
		neverStarted,
		time.Now(),
		true,
	)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	return err
}

// ClosesUnstarted reports whether a flow of kind can be closed when its workflow never started.
func ClosesUnstarted(kind string) bool {
	return slices.ContainsFunc(flowRegistrations, func(reg flowRegistration) bool {
		return reg.desc.Kind == kind && reg.closeNeverStarted != nil
	})
}
