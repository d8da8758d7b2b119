package models

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Statuses every flow that waits for people shares.
const (
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
	StatusFailed    = "failed"
)

// FlowRow is a flow's own record: one table per flow kind, each with at least the columns id,
// partner_id, status, created_at and updated_at (the "Adding a flow" guide lists them).
type FlowRow interface {
	FlowID() string
	FlowCreated() time.Time
	// FlowState is the workflow's state at its last recorded step, as JSON ("" for a row
	// recorded before states were, or of a flow that does not publish it).
	FlowState() string
	// FlowStatus is the row's status, which a child workflow may have changed since.
	FlowStatus() string
}

// FlowStep is one entry of a flow's timeline, whatever its kind.
type FlowStep struct {
	ID       int64 `gorm:"primaryKey"`
	FlowKind string
	FlowID   string
	Name     string
	Detail   string
	// IdempotencyKey makes a step idempotent: a retried write with the same key adds nothing.
	IdempotencyKey string
	At             time.Time
}

// FlowChange is what a workflow step writes: the new status, the flow's own columns (the
// non-zero fields of Set; zero values are left alone) and the timeline step it reached.
type FlowChange[R any] struct {
	Status     string
	Set        R
	Step       string
	StepDetail string
	// StepKey makes the step idempotent: a retried write with the same key adds nothing.
	StepKey string
	At      time.Time
	// State is the workflow's state with this step taken, as JSON, for the row's state column
	// ("" leaves the column alone): a detail reads it instead of asking the workflow.
	State string
}

// Record applies a workflow step to the flow's row and timeline in one transaction. It is
// idempotent by StepKey, so an activity retry writes nothing twice; a flow whose row is gone
// is ErrNotFound.
func Record[R any](ctx context.Context, s *Store, kind, id string, ch FlowChange[R]) error {
	at := ch.At.UTC()
	if at.IsZero() {
		at = time.Now().UTC()
	}
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// One UPDATE: the status, updated_at and Set's non-zero fields, as UpdateColumns with the
		// struct would write them (without touching updated_at itself).
		updates, err := setColumns(tx, &ch.Set)
		if err != nil {
			return fmt.Errorf("update %s %s: %w", kind, id, err)
		}
		updates["updated_at"] = at
		if ch.Status != "" {
			updates["status"] = ch.Status
		}
		if ch.State != "" {
			updates["state"] = ch.State
		}
		res := tx.Model(new(R)).Where("id = ?", id).UpdateColumns(updates)
		if res.Error != nil {
			return fmt.Errorf("update %s %s: %w", kind, id, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%s %s: %w", kind, id, ErrNotFound)
		}
		if ch.Status != "" {
			if err := enqueueStatusEvent[R](tx, kind, id, ch.Status, at); err != nil {
				return err
			}
		}
		if ch.Step == "" {
			return nil
		}
		return addStep(tx, &FlowStep{
			FlowKind:       kind,
			FlowID:         id,
			Name:           ch.Step,
			Detail:         ch.StepDetail,
			IdempotencyKey: ch.StepKey,
			At:             at,
		})
	})
}

// setColumns maps the non-zero fields of set (a pointer to a row) to their columns: what
// UpdateColumns with the struct writes.
func setColumns(tx *gorm.DB, set any) (map[string]any, error) {
	stmt := &gorm.Statement{DB: tx}
	if err := stmt.Parse(set); err != nil {
		return nil, err
	}
	rv := reflect.ValueOf(set).Elem()
	out := map[string]any{}
	for _, f := range stmt.Schema.Fields {
		if f.DBName == "" || !f.Updatable || f.PrimaryKey {
			continue
		}
		if v, zero := f.ValueOf(tx.Statement.Context, rv); !zero {
			out[f.DBName] = v
		}
	}
	return out, nil
}

// AddStep appends a timeline entry (for example "opened"); idempotent by key, so a caller
// bounds how often a step can be written by how it builds the key.
func (s *Store) AddStep(ctx context.Context, kind, id, name, detail, key string, at time.Time) error {
	return addStep(
		s.DB.WithContext(ctx),
		&FlowStep{FlowKind: kind, FlowID: id, Name: name, Detail: detail, IdempotencyKey: key, At: at.UTC()},
	)
}

// AddCappedStep adds a step as AddStep does, unless the flow already holds limit steps of that
// name; full reports that it did, and nothing was added. Callers adding a step of the same flow
// and name take turns, so the cap is exact: on PostgreSQL a lock held until the transaction
// ends orders them, and SQLite's transactions take the write lock when they begin.
func (s *Store) AddCappedStep(
	ctx context.Context,
	kind, id, name, detail, key string,
	at time.Time,
	limit int,
) (full bool, err error) {
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.Dialect == DialectPostgres {
			if err := tx.Exec(
				"SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
				kind+"/"+id+"/"+name,
			).Error; err != nil {
				return err
			}
		}
		var n int64
		if err := tx.Model(&FlowStep{}).Where("flow_kind = ? AND flow_id = ? AND name = ?", kind, id, name).
			Count(&n).Error; err != nil {
			return err
		}
		if full = n >= int64(limit); full {
			return nil
		}
		return addStep(
			tx,
			&FlowStep{FlowKind: kind, FlowID: id, Name: name, Detail: detail, IdempotencyKey: key, At: at.UTC()},
		)
	})
	if err != nil {
		return false, fmt.Errorf("add a %s step to %s %s: %w", name, kind, id, err)
	}
	return full, nil
}

func addStep(tx *gorm.DB, step *FlowStep) error {
	if step.IdempotencyKey == "" {
		step.IdempotencyKey = step.FlowKind + "/" + step.FlowID + "/" + step.Name + "/" +
			step.At.Format(time.RFC3339Nano)
	}
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "idempotency_key"}}, DoNothing: true}).
		Create(step).
		Error
}

// MaxStepPage is the longest page of a timeline one call returns.
const MaxStepPage = 200

// Steps returns a page of a flow's timeline, oldest first, and the cursor of the next page
// ("" at the end).
func (s *Store) Steps(ctx context.Context, kind, id, cursor string, limit int) ([]FlowStep, string, error) {
	if limit <= 0 || limit > MaxStepPage {
		limit = MaxStepPage
	}
	q := s.DB.WithContext(ctx).Where("flow_kind = ? AND flow_id = ?", kind, id)
	if cursor != "" {
		at, rawID, err := decodeCursor(cursor)
		stepID, convErr := strconv.ParseInt(rawID, 10, 64)
		if err != nil || convErr != nil {
			return nil, "", ErrBadCursor
		}
		q = q.Where("(at, id) > (?, ?)", at, stepID)
	}
	var steps []FlowStep
	if err := q.Order("at, id").Limit(limit + 1).Find(&steps).Error; err != nil {
		return nil, "", fmt.Errorf("timeline of %s %s: %w", kind, id, err)
	}
	next := ""
	if len(steps) > limit {
		steps = steps[:limit]
		last := steps[limit-1]
		next = encodeCursor(last.At, strconv.FormatInt(last.ID, 10))
	}
	return steps, next, nil
}

// Create inserts a flow's row and its "created" step, and whatever else belongs to the flow's
// creation (WithCommand, WithStep), in one transaction. A row that breaks the table's
// one-open-flow rule is ErrConflict; the caller looks up the open one.
func Create[R FlowRow](ctx context.Context, s *Store, kind string, row *R, with ...func(tx *gorm.DB) error) error {
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(row).Error; err != nil {
			return err
		}
		id := (*row).FlowID()
		if err := addStep(tx, &FlowStep{
			FlowKind:       kind,
			FlowID:         id,
			Name:           "created",
			IdempotencyKey: kind + "/" + id + "/created",
			At:             (*row).FlowCreated().UTC(),
		}); err != nil {
			return err
		}
		for _, w := range with {
			if err := w(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if isUniqueViolation(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", kind, err)
	}
	return nil
}

// createOrOpen inserts a flow's row like Create. When the flow's one-open-flow rule refuses it,
// it returns ErrConflict with the row that holds the key, which open finds.
func createOrOpen[R FlowRow](
	ctx context.Context,
	s *Store,
	kind string,
	row *R,
	open func() (*R, error),
	with ...With,
) (*R, error) {
	err := Create(ctx, s, kind, row, with...)
	if !errors.Is(err, ErrConflict) {
		return row, err
	}
	held, findErr := open()
	if findErr != nil {
		return nil, fmt.Errorf("find the open %s that refused %s: %w", kind, (*row).FlowID(), findErr)
	}
	return held, ErrConflict
}

// Delete removes a flow with its timeline and what the engine still owed Temporal for it.
func Delete[R FlowRow](ctx context.Context, s *Store, kind, id string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("flow_kind = ? AND flow_id = ?", kind, id).Delete(&FlowStep{}).Error; err != nil {
			return err
		}
		if err := tx.Where("flow_kind = ? AND flow_id = ?", kind, id).Delete(&FlowCommand{}).Error; err != nil {
			return err
		}
		return tx.Where("id = ?", id).Delete(new(R)).Error
	})
}

// Find returns one flow's row by ID.
func Find[R any](ctx context.Context, s *Store, id string) (*R, error) {
	return FindBy[R](ctx, s, "id = ?", id)
}

// FindBy returns the first row matching a condition.
func FindBy[R any](ctx context.Context, s *Store, query string, args ...any) (*R, error) {
	row := new(R)
	err := s.DB.WithContext(ctx).Where(query, args...).First(row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return row, nil
}

// ListFilter selects a page of a flow kind's rows, newest first.
type ListFilter struct {
	PartnerID string
	Status    string
	// Search is a prefix of SearchColumn (for invitations, the customer domain).
	Search        string
	SearchColumn  string
	CreatedBefore time.Time
	CreatedAfter  time.Time
	Limit         int
	Cursor        string
}

// MaxListPage is the longest page of a list one call returns.
const MaxListPage = 200

// List returns a page of rows and the cursor of the next page ("" at the end).
func List[R FlowRow](ctx context.Context, s *Store, f ListFilter) ([]R, string, error) {
	q := s.DB.WithContext(ctx).Model(new(R))
	if f.PartnerID != "" {
		q = q.Where("partner_id = ?", f.PartnerID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Search != "" && f.SearchColumn != "" {
		q = q.Where(f.SearchColumn+` LIKE ? ESCAPE '\'`, likePrefix(f.Search))
	}
	if !f.CreatedBefore.IsZero() {
		q = q.Where("created_at < ?", f.CreatedBefore.UTC())
	}
	if !f.CreatedAfter.IsZero() {
		q = q.Where("created_at > ?", f.CreatedAfter.UTC())
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		// A row comparison, which both databases take as a range of the (created_at, id) index; the
		// equivalent OR of two conditions made PostgreSQL filter every newer row instead (a page
		// deep in 100,000 invitations: 77 ms instead of 0.2).
		q = q.Where("(created_at, id) < (?, ?)", at, id)
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxListPage {
		limit = 50
	}
	var items []R
	if err := q.Order("created_at DESC, id DESC").Limit(limit + 1).Find(&items).Error; err != nil {
		return nil, "", fmt.Errorf("list: %w", err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = encodeCursor(last.FlowCreated(), last.FlowID())
	}
	return items, next, nil
}

// likePrefix escapes LIKE's wildcards (with the ESCAPE '\' clause) and matches a prefix.
func likePrefix(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s) + "%"
}

// CountByStatus counts a partner's flows of one kind by status.
func CountByStatus[R any](ctx context.Context, s *Store, partnerID string) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	err := s.DB.WithContext(ctx).Model(new(R)).Select("status, COUNT(*) AS n").
		Where("partner_id = ?", partnerID).Group("status").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count by status: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
