package models

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Count is how many of a partner's flows have a status or reached a step.
type Count struct {
	Name string
	N    int64
}

// StatusCounts counts a partner's flows of one kind by status, in the given order with zero for
// a status no flow has; a status missing from order (one a newer binary wrote) comes last, by name.
func StatusCounts[R any](ctx context.Context, s *Store, partnerID string, order []string) ([]Count, error) {
	byStatus, err := CountByStatus[R](ctx, s, partnerID)
	if err != nil {
		return nil, err
	}
	out := make([]Count, 0, len(order))
	for _, st := range order {
		out = append(out, Count{Name: st, N: byStatus[st]})
	}
	var others []string
	for st := range byStatus {
		if !slices.Contains(order, st) {
			others = append(others, st)
		}
	}
	sort.Strings(others)
	for _, st := range others {
		out = append(out, Count{Name: st, N: byStatus[st]})
	}
	return out, nil
}

// Funnel counts, for each of steps in order, how many of a partner's flows of one kind reached
// it: distinct flows, so a step written twice (a link opened twice) counts once. Each step is
// counted on its own, so a flow that skipped a step is not counted there. only, when given, is a
// condition on the flow's row (alias f) that the counted flows meet: a constant of the caller's,
// never input.
func Funnel[R any](
	ctx context.Context,
	s *Store,
	kind, partnerID string,
	steps []string,
	only ...string,
) ([]Count, error) {
	table, err := flowTable[R](s)
	if err != nil {
		return nil, err
	}
	var rows []Count
	err = s.DB.WithContext(ctx).Raw(`SELECT fs.name AS name, COUNT(DISTINCT fs.flow_id) AS n
		FROM flow_steps fs JOIN ? ON f.id = fs.flow_id
		WHERE fs.flow_kind = ? AND f.partner_id = ? AND fs.name IN ?`+onlyFlows(only)+`
		GROUP BY fs.name`, table, kind, partnerID, steps).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("funnel of %s flows: %w", kind, err)
	}
	reached := make(map[string]int64, len(rows))
	for _, r := range rows {
		reached[r.Name] = r.N
	}
	out := make([]Count, len(steps))
	for i, name := range steps {
		out[i] = Count{Name: name, N: reached[name]}
	}
	return out, nil
}

// MaxMedianSample caps the flows MedianTimeToStep reads: the median of the most recent ones
// (by when they reached the step) stands for all, and a page view never reads an unbounded
// history into memory.
const MaxMedianSample = 10000

// MedianTimeToStep returns the median time from a flow's creation to the first time it reached
// step, over a partner's flows of one kind that reached it (at most the MaxMedianSample most
// recent), and how many flows that median is of; zero flows means none reached the step.
// The median is computed here because SQLite has no percentile function. only is as Funnel's.
func MedianTimeToStep[R any](
	ctx context.Context,
	s *Store,
	kind, partnerID, step string,
	only ...string,
) (time.Duration, int, error) {
	table, err := flowTable[R](s)
	if err != nil {
		return 0, 0, err
	}
	// Only the flow's first such step counts: no earlier step of the same name exists.
	var rows []struct {
		CreatedAt time.Time
		At        time.Time
	}
	err = s.DB.WithContext(ctx).Raw(`SELECT f.created_at AS created_at, fs.at AS at
		FROM flow_steps fs JOIN ? ON f.id = fs.flow_id
		WHERE fs.flow_kind = ? AND f.partner_id = ? AND fs.name = ?`+onlyFlows(only)+`
		AND NOT EXISTS (SELECT 1 FROM flow_steps e WHERE e.flow_kind = fs.flow_kind AND e.flow_id = fs.flow_id
			AND e.name = fs.name AND (e.at < fs.at OR (e.at = fs.at AND e.id < fs.id)))
		ORDER BY fs.at DESC, fs.id DESC LIMIT ?`, table, kind, partnerID, step, MaxMedianSample).Scan(&rows).Error
	if err != nil {
		return 0, 0, fmt.Errorf("time to %s of %s flows: %w", step, kind, err)
	}
	if len(rows) == 0 {
		return 0, 0, nil
	}
	spans := make([]time.Duration, len(rows))
	for i, r := range rows {
		spans[i] = r.At.Sub(r.CreatedAt)
	}
	slices.Sort(spans)
	mid := len(spans) / 2
	if len(spans)%2 == 1 {
		return spans[mid], len(spans), nil
	}
	return spans[mid-1] + (spans[mid]-spans[mid-1])/2, len(spans), nil
}

// flowTable names R's table, aliased f, as a quoted identifier for a query's `?`: the name comes
// from the model, never from input.
func flowTable[R any](s *Store) (clause.Table, error) {
	stmt := &gorm.Statement{DB: s.DB}
	if err := stmt.Parse(new(R)); err != nil {
		return clause.Table{}, fmt.Errorf("table of %T: %w", *new(R), err)
	}
	return clause.Table{Name: stmt.Schema.Table, Alias: "f"}, nil
}

// onlyFlows is the SQL of Funnel's and MedianTimeToStep's row conditions.
func onlyFlows(only []string) string {
	out := ""
	for _, cond := range only {
		out += " AND (" + cond + ")"
	}
	return out
}
