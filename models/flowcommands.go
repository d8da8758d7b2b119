package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// What a FlowCommand asks of Temporal.
const (
	// CommandStart starts the flow's workflow with Payload as its input.
	CommandStart = "start"
	// CommandUpdate sends the update Name with Payload as its argument.
	CommandUpdate = "update"
	// CommandVerify checks that the workflow of a flow an earlier version recorded exists.
	CommandVerify = "verify"
	// StartAgain names a start that runs a finished flow's workflow again under its ID (a
	// removal retrying its failed deliveries); a first start has no name.
	StartAgain = "again"
)

// FlowCommand is what the engine still owes Temporal for one flow. It is written in the same
// transaction as what it follows from (the flow's row, the agreement evidence), so a crash
// between the database and Temporal leaves it behind instead of losing it; the API carries it
// out at once and the dispatcher drives what is left, idempotently by workflow ID and update ID.
type FlowCommand struct {
	ID           int64 `gorm:"primaryKey"`
	FlowKind     string
	FlowID       string
	Command      string
	Name         string
	WorkflowID   string
	WorkflowType string
	// Payload is the JSON of the workflow's input or the update's argument.
	Payload string
	// Attributes is the JSON of the search attributes the workflow starts with.
	Attributes string
	CreatedAt  time.Time
	// ClaimedUntil is when the process working on the command lets go of it; the command is
	// due from then.
	ClaimedUntil time.Time
	Attempts     int
	LastError    string
}

// With is a further write in a transaction, such as WithCommand or WithStep.
type With = func(tx *gorm.DB) error

// WithCommand adds a command to a write, in its transaction. The same command already owed
// is kept instead (a second retry while the first is still owed).
func WithCommand(cmd *FlowCommand) With {
	return func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(cmd).Error
	}
}

// WithStep adds a timeline step to a write, in its transaction.
func WithStep(step FlowStep) With {
	return func(tx *gorm.DB) error { return addStep(tx, &step) }
}

// DueCommands returns up to limit commands nobody holds at now, oldest first.
func (s *Store) DueCommands(ctx context.Context, now time.Time, limit int) ([]FlowCommand, error) {
	var out []FlowCommand
	err := s.DB.WithContext(ctx).
		Where("claimed_until <= ?", now.UTC()).
		Order("claimed_until, id").
		Limit(limit).
		Find(&out).
		Error
	return out, err
}

// ClaimCommand takes a due command until until; false when another process holds it or it is
// done.
func (s *Store) ClaimCommand(ctx context.Context, id int64, now, until time.Time) (bool, error) {
	res := s.DB.WithContext(ctx).Model(&FlowCommand{}).Where("id = ? AND claimed_until <= ?", id, now.UTC()).
		UpdateColumns(map[string]any{"claimed_until": until.UTC(), "attempts": gorm.Expr("attempts + 1")})
	return res.RowsAffected == 1, res.Error
}

// DoneCommand deletes a command Temporal has.
func (s *Store) DoneCommand(ctx context.Context, id int64) error {
	return s.DB.WithContext(ctx).Where("id = ?", id).Delete(&FlowCommand{}).Error
}

// RetryCommand records a failed attempt and when the command is due again.
func (s *Store) RetryCommand(ctx context.Context, id int64, errText string, at time.Time) error {
	if len(errText) > 500 {
		errText = errText[:500]
	}
	return s.DB.WithContext(ctx).Model(&FlowCommand{}).Where("id = ?", id).
		UpdateColumns(map[string]any{"claimed_until": at.UTC(), "last_error": errText}).Error
}

// PendingStart returns the start a flow still waits for, or ErrNotFound when its workflow has
// started (or was never owed one).
func (s *Store) PendingStart(ctx context.Context, kind, id string) (*FlowCommand, error) {
	return FindBy[FlowCommand](
		ctx,
		s,
		"flow_kind = ? AND flow_id = ? AND command IN ? AND name = ''",
		kind,
		id,
		[]string{CommandStart, CommandVerify},
	)
}

// PendingStarts returns which of a kind's flows still wait for their workflow's start.
func (s *Store) PendingStarts(ctx context.Context, kind string, ids []string) (map[string]FlowCommand, error) {
	var cmds []FlowCommand
	if len(ids) == 0 {
		return nil, nil
	}
	if err := s.DB.WithContext(ctx).Where(
		"flow_kind = ? AND flow_id IN ? AND command IN ? AND name = ''",
		kind,
		ids,
		[]string{CommandStart, CommandVerify},
	).Find(&cmds).Error; err != nil {
		return nil, err
	}
	out := make(map[string]FlowCommand, len(cmds))
	for _, c := range cmds {
		out[c.FlowID] = c
	}
	return out, nil
}

// ErrCommandHeld is returned when a process is carrying the command out right now.
var ErrCommandHeld = errors.New("the command is being carried out")

// CloseUnstarted closes a flow whose workflow never started, with the status, the timeline
// step and the status event, and drops the command that would have started it, in one
// transaction. Unless the caller holds the command (held), it must be free: ErrCommandHeld when
// another process is starting the workflow at this moment; ErrNotFound when there is no such
// command (the workflow has started).
func CloseUnstarted[R any](
	ctx context.Context,
	s *Store,
	kind, id, status, step, detail string,
	at time.Time,
	held bool,
) error {
	at = at.UTC()
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cmd FlowCommand
		err := tx.Where(
			"flow_kind = ? AND flow_id = ? AND command IN ? AND name = ''",
			kind,
			id,
			[]string{CommandStart, CommandVerify},
		).First(&cmd).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		del := tx.Where("id = ?", cmd.ID)
		if !held {
			del = del.Where("claimed_until <= ?", at)
		}
		res := del.Delete(&FlowCommand{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrCommandHeld
		}
		if err := tx.Model(new(R)).Where("id = ?", id).
			UpdateColumns(map[string]any{"status": status, "updated_at": at}).Error; err != nil {
			return fmt.Errorf("close %s %s: %w", kind, id, err)
		}
		if err := enqueueStatusEvent[R](tx, kind, id, status, at); err != nil {
			return err
		}
		return addStep(tx, &FlowStep{
			FlowKind:       kind,
			FlowID:         id,
			Name:           step,
			Detail:         detail,
			IdempotencyKey: kind + "/" + id + "/" + step,
			At:             at,
		})
	})
}
