package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/internal/failpoint"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// How long the API waits for Temporal before answering 503 (or, for queries, answering from the
// database alone).
const (
	startTimeout = 10 * time.Second
	queryTimeout = 3 * time.Second
	// liveStateTimeout bounds how long a detail waits for the workflow's live state: a busy
	// worker answers queries only between its workflow tasks (a 1.5 s p99 with 1,000 flows
	// waiting, measured by the bench), and the database's record answers meanwhile.
	liveStateTimeout = 250 * time.Millisecond
	updateTimeout    = 20 * time.Second
)

// Paging of lists and timelines.
const (
	maxListLimit     = models.MaxListPage
	defaultListLimit = 50
	// timelinePage is how many timeline steps a flow's detail shows before "later steps".
	timelinePage = 100
)

// flowAPI is the API's side of one flow kind, written once for every flow: R is the flow's row
// type, S the live state its workflow's query returns. A flow's file declares one and uses its
// methods for loading, starting, querying, updating, listing and the timeline.
type flowAPI[R models.FlowRow, S any] struct {
	desc workflows.Flow
	// statuses lists the flow's statuses in lifecycle order, for filters.
	statuses []string
	// searchColumn is the column the list's search matches a prefix of.
	searchColumn string
	// partnerOf and workflowOf read the owner and the workflow ID of a row.
	partnerOf  func(*R) string
	workflowOf func(*R) string
	// mayUpdate, when set, refuses a caller an update of this row that its route's roles let through
	// (an invitation asking for admin access takes an admin agent).
	mayUpdate func(c *gin.Context, row *R) *Problem
}

// noun is how messages name one flow of this kind ("invitation").
func (f flowAPI[R, S]) noun() string { return f.desc.Kind }

func (f flowAPI[R, S]) notFound() *Problem {
	p := problemNotFound()
	p.Detail = "no " + f.noun() + " with this ID"
	p.cause = models.ErrNotFound
	return p
}

// problemOpen is the conflict with the one open flow of the same business key.
func (f flowAPI[R, S]) problemOpen(location string) *Problem {
	p := NewProblem(http.StatusConflict, f.noun()+"-open", "There is already an open "+f.noun(),
		"finish, cancel or wait for the open "+f.noun()+" before starting another one for the same customer")
	p.Location = location
	return p
}

// problemClosed is the refusal of an action the flow no longer takes.
func (f flowAPI[R, S]) problemClosed(detail string) *Problem {
	return NewProblem(http.StatusConflict, f.noun()+"-closed", "The "+f.noun()+" is closed", detail)
}

// find returns the caller's partner's flow by ID; another partner's flow is not found either,
// and not found is the flow's not-found problem, which is models.ErrNotFound.
func (f flowAPI[R, S]) find(ctx context.Context, s *Server, id string) (*R, error) {
	row, err := models.Find[R](ctx, s.store, id)
	if errors.Is(err, models.ErrNotFound) || (err == nil && f.partnerOf(row) != s.flows.PartnerID) {
		return nil, f.notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("load %s %s: %w", f.noun(), id, err)
	}
	return row, nil
}

// load finds the flow named by the :id parameter for a JSON handler.
func (f flowAPI[R, S]) load(c *gin.Context, s *Server) (*R, bool) {
	row, err := f.find(c.Request.Context(), s, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return nil, false
	}
	return row, true
}

// start records a new flow and starts its workflow; the error is the problem to answer with. The
// row is written first, so that the database's one-open-flow rule decides races between API
// replicas, and in the same transaction as the command that starts its workflow (with, the flow's
// further writes): a crash or an unavailable Temporal between the two leaves the command to the
// dispatcher, which starts the workflow within seconds of the process (or Temporal) being back.
// Each flow's workflow ID is its own, so a second start of it is refused by Temporal, never
// doubled. insert returns the open flow's location on a conflict.
func (f flowAPI[R, S]) start(ctx context.Context, s *Server, row *R, workflowID string, in any, attrs startAttributes,
	insert func(ctx context.Context, with ...models.With) (string, error), with ...models.With) error {
	cmd, err := newStartCommand(f.desc, (*row).FlowID(), workflowID, in, attrs)
	if err != nil {
		return err
	}
	openAt, err := insert(ctx, append([]models.With{models.WithCommand(cmd)}, with...)...)
	if errors.Is(err, models.ErrConflict) {
		// A retry after a lost answer lands here: its flow runs, or starts now.
		if openID := path.Base(openAt); openAt != "" {
			s.kickStart(ctx, f.desc.Kind, openID)
		}
		return f.problemOpen(openAt)
	}
	if err != nil {
		return err
	}
	failpoint.Hit(failpoint.CreateAfterRecord, f.desc.Kind)
	if err := s.perform(ctx, cmd, in); err != nil {
		s.logger.WarnContext(ctx, "the workflow starts later", "kind", f.noun(), "id", cmd.FlowID, "error", err)
	}
	return nil
}

// query asks the flow's workflow for its live state.
func (f flowAPI[R, S]) query(ctx context.Context, s *Server, row *R) (S, error) {
	var st S
	workflowID := f.workflowOf(row)
	if s.temporal == nil {
		return st, fmt.Errorf("query %s workflow: Temporal is not configured", f.noun())
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	val, err := s.temporal.QueryWorkflow(ctx, workflowID, "", f.desc.Query)
	if err != nil {
		return st, fmt.Errorf("query %s workflow %s: %w", f.noun(), workflowID, err)
	}
	if err := val.Get(&st); err != nil {
		return st, fmt.Errorf("decode the state of %s workflow %s: %w", f.noun(), workflowID, err)
	}
	return st, nil
}

// liveState is the workflow's live state, or false when it does not answer within
// liveStateTimeout (finished, the worker away or busy): the caller shows the database's record
// alone.
func (f flowAPI[R, S]) liveState(ctx context.Context, s *Server, row *R) (S, bool) {
	ctx, cancel := context.WithTimeout(ctx, liveStateTimeout)
	defer cancel()
	st, err := f.query(ctx, s, row)
	if err != nil {
		s.logger.WarnContext(ctx, "shown without live state", "kind", f.noun(), "id", (*row).FlowID(), "error", err)
		return st, false
	}
	return st, true
}

// state is the flow's state as its workflow recorded it with its last step, or, for a row
// recorded before states were (or one that does not decode), the workflow's live answer
// (liveState). Reading the row keeps a detail from replaying a flow the worker's cache evicted.
func (f flowAPI[R, S]) state(ctx context.Context, s *Server, row *R) (S, bool) {
	if js := (*row).FlowState(); js != "" {
		var st S
		err := json.Unmarshal([]byte(js), &st)
		if err == nil {
			// The row's status is the newest: a child workflow (an invitation's GDAP watch) records
			// into the row without the flow's state.
			if status := reflect.ValueOf(&st).Elem().FieldByName("Status"); status.Kind() == reflect.String {
				status.SetString((*row).FlowStatus())
			}
			return st, true
		}
		s.logger.WarnContext(ctx, "recorded state unreadable", "kind", f.noun(), "id", (*row).FlowID(), "error", err)
	}
	return f.liveState(ctx, s, row)
}

// update runs a workflow update and waits for its result; a refusal or an unreachable
// workflow comes back as the problem to answer with. A flow whose workflow has not started yet
// is started first, except by a cancel, which closes it without one; no live state comes back
// then.
func (f flowAPI[R, S]) update(c *gin.Context, s *Server, row *R, name string, arg any, updateID string) (*S, error) {
	if f.mayUpdate != nil {
		if p := f.mayUpdate(c, row); p != nil {
			return nil, p
		}
	}
	if s.temporal == nil {
		return nil, problemUnavailable("Temporal is not configured")
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), updateTimeout)
	defer cancel()
	if cmd, err := s.store.PendingStart(ctx, f.desc.Kind, (*row).FlowID()); err == nil {
		if req, ok := arg.(workflows.CancelRequest); ok && name == workflows.UpdateCancel {
			return nil, f.cancelUnstarted(c, s, row, req)
		}
		if err := s.kick(ctx, cmd); err != nil {
			return nil, problemUnavailable(
				"the " + f.noun() + "'s workflow has not started yet; it starts by itself, try again in a minute",
			).because(err)
		}
	}
	handle, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   f.workflowOf(row),
		UpdateID:     updateID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var st S
	if err == nil {
		err = handle.Get(ctx, &st)
	}
	if err != nil {
		if p := f.refusal(err); p != nil {
			return nil, p
		}
		return nil, problemUnavailable("the " + f.noun() + "'s workflow did not answer; try again").
			because(fmt.Errorf("%s %s %s: %w", name, f.noun(), (*row).FlowID(), err))
	}
	return &st, nil
}

// cancelUnstarted cancels a flow whose workflow has not started: its row is closed and the
// command that would start it dropped, in one transaction, so no message ever goes out.
func (f flowAPI[R, S]) cancelUnstarted(c *gin.Context, s *Server, row *R, req workflows.CancelRequest) error {
	detail := "by " + req.By + " before its workflow started"
	if req.Reason != "" {
		detail += ": " + req.Reason
	}
	err := models.CloseUnstarted[R](
		c.Request.Context(),
		s.store,
		f.desc.Kind,
		(*row).FlowID(),
		models.StatusCancelled,
		"cancelled",
		detail,
		time.Now(),
		false,
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, models.ErrCommandHeld):
		return NewProblem(
			http.StatusConflict,
			f.noun()+"-starting",
			"The "+f.noun()+"'s workflow is starting",
			"try again in a few seconds",
		)
	case errors.Is(err, models.ErrNotFound): // started meanwhile
		return f.problemClosed("the " + f.noun() + "'s workflow started meanwhile; try again")
	}
	return problemUnavailable("the " + f.noun() + " could not be cancelled; try again").because(err)
}

// refusal is the 409 for an update the workflow refused or can no longer take, or nil for any
// other failure. A validator's refusal arrives as an application error; an activity the update
// ran and that failed wraps one too, but is no refusal.
func (f flowAPI[R, S]) refusal(err error) *Problem {
	var (
		notFound *serviceerror.NotFound
		actErr   *temporal.ActivityError
		appErr   *temporal.ApplicationError
	)
	switch {
	case errors.As(err, &notFound):
		return f.problemClosed("the " + f.noun() + "'s workflow has finished")
	case errors.As(err, &actErr):
		return nil
	case errors.As(err, &appErr):
		return f.problemClosed(appErr.Message())
	}
	return nil
}

// listFilter reads a list's query parameters (status, search, limit, createdBefore,
// createdAfter, cursor), naming the parameter a bad value came in. The JSON API and the
// dashboard read their filters here alike.
func (f flowAPI[R, S]) listFilter(c *gin.Context, s *Server, limit int) (models.ListFilter, error) {
	lf := models.ListFilter{
		PartnerID:    s.flows.PartnerID,
		Limit:        limit,
		Cursor:       c.Query("cursor"),
		SearchColumn: f.searchColumn,
	}
	var err error
	if lf.Status, err = statusQuery(c, f.statuses); err != nil {
		return lf, err
	}
	lf.Search = strings.ToLower(strings.TrimSpace(c.Query("customer")))
	if lf.Limit, err = limitQuery(c, limit, maxListLimit); err != nil {
		return lf, err
	}
	for _, tp := range []struct {
		name string
		dst  *time.Time
	}{{"createdBefore", &lf.CreatedBefore}, {"createdAfter", &lf.CreatedAfter}} {
		if raw := c.Query(tp.name); raw != "" {
			t, err := time.Parse(time.RFC3339, raw)
			if err != nil {
				return lf, Invalid(tp.name, "must be an RFC 3339 time such as 2025-01-31T00:00:00Z")
			}
			*tp.dst = t
		}
	}
	return lf, nil
}

// list returns a page of the partner's flows; a cursor this API did not make is
// models.ErrBadCursor.
func (f flowAPI[R, S]) list(ctx context.Context, s *Server, lf models.ListFilter) ([]R, string, error) {
	return models.List[R](ctx, s.store, lf)
}

// listHandler serves GET on the flow kind's collection with view making each row's JSON.
func listHandler[R models.FlowRow, S any, V any](s *Server, f flowAPI[R, S], view func(*R) V) gin.HandlerFunc {
	return func(c *gin.Context) {
		lf, err := f.listFilter(c, s, defaultListLimit)
		if err != nil {
			writeError(c, err)
			return
		}
		items, next, err := f.list(c.Request.Context(), s, lf)
		if err != nil {
			writeError(c, err)
			return
		}
		views := make([]V, len(items))
		for i := range items {
			views[i] = view(&items[i])
		}
		c.JSON(http.StatusOK, gin.H{"items": views, "nextCursor": next})
	}
}

// stepView is one entry of a flow's timeline.
type stepView struct {
	Name   string    `json:"name"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// timeline is a page of a flow's timeline and the cursor of the next.
type timeline struct {
	Steps      []stepView `json:"steps,omitempty"`
	NextCursor string     `json:"stepsNextCursor,omitempty"`
	// WorkflowStarted is false while the flow's workflow has not started yet (Temporal did not
	// answer, or the process stopped in between): partnerflow starts it by itself; StartError
	// is why the last attempt failed.
	WorkflowStarted *bool  `json:"workflowStarted,omitempty"`
	StartError      string `json:"startError,omitempty"`
}

// startingText is what the dashboard says of a flow whose workflow has not started yet.
func (t timeline) startingText() string {
	if t.WorkflowStarted == nil {
		return ""
	}
	text := "The workflow has not started yet; partnerflow starts it by itself within a minute of Temporal " +
		"answering, and Cancel closes the flow without sending anything."
	if t.StartError != "" {
		text += " Last attempt: " + t.StartError
	}
	return text
}

// timeline reads a page of the flow's steps, oldest first.
func (f flowAPI[R, S]) timeline(ctx context.Context, s *Server, id, cursor string, limit int) (timeline, error) {
	steps, next, err := s.store.Steps(ctx, f.desc.Kind, id, cursor, limit)
	if err != nil {
		return timeline{}, err
	}
	out := timeline{Steps: make([]stepView, len(steps)), NextCursor: next}
	for i, st := range steps {
		out.Steps[i] = stepView{Name: st.Name, Detail: st.Detail, At: st.At.UTC()}
	}
	if cmd, err := s.store.PendingStart(ctx, f.desc.Kind, id); err == nil {
		out.WorkflowStarted, out.StartError = new(bool), cmd.LastError
	}
	return out, nil
}

// stepsHandler serves GET .../{id}/steps: the flow's timeline page by page.
func stepsHandler[R models.FlowRow, S any](s *Server, f flowAPI[R, S]) gin.HandlerFunc {
	return func(c *gin.Context) {
		row, ok := f.load(c, s)
		if !ok {
			return
		}
		limit, err := limitQuery(c, timelinePage, models.MaxStepPage)
		if err != nil {
			writeError(c, err)
			return
		}
		tl, err := f.timeline(c.Request.Context(), s, (*row).FlowID(), c.Query("cursor"), limit)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"items": tl.Steps, "nextCursor": tl.NextCursor})
	}
}

// maxCancelReason bounds the reason an operator gives for cancelling a flow.
const maxCancelReason = 500

// cancelRequest validates a cancel's reason alike for the JSON API and the dashboard.
func cancelRequest(by, reason string) (workflows.CancelRequest, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > maxCancelReason {
		return workflows.CancelRequest{}, Invalid("reason", "must be at most %d characters", maxCancelReason)
	}
	return workflows.CancelRequest{By: by, Reason: reason}, nil
}

func callerName(c *gin.Context) string {
	if key := callerKey(c); key != nil {
		return key.Name
	}
	return ""
}

// detailFunc builds a flow's JSON detail: its row, the first page of its timeline and its live
// state — live when an update returned it, else the workflow's answer to a query.
type detailFunc[R, S any] func(ctx context.Context, row *R, live *S) (any, error)

// detailHandler serves GET on one flow.
func detailHandler[R models.FlowRow, S any](s *Server, f flowAPI[R, S], detail detailFunc[R, S]) gin.HandlerFunc {
	return func(c *gin.Context) {
		row, ok := f.load(c, s)
		if !ok {
			return
		}
		v, err := detail(c.Request.Context(), row, nil)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	}
}

// updateArg reads an update's argument from the request, or writes the problem and says false.
type updateArg func(c *gin.Context) (any, bool)

// updateHandler sends an update to the flow's workflow and answers with the flow as the update
// left it. The workflow decides whether the update is allowed; its refusal, or a workflow that
// has already finished, is a 409.
func updateHandler[R models.FlowRow, S any](
	s *Server,
	f flowAPI[R, S],
	name string,
	arg updateArg,
	detail detailFunc[R, S],
) gin.HandlerFunc {
	return func(c *gin.Context) {
		row, ok := f.load(c, s)
		if !ok {
			return
		}
		a, ok := arg(c)
		if !ok {
			return
		}
		st, err := f.update(c, s, row, name, a, "")
		if err != nil {
			writeError(c, err)
			return
		}
		if fresh, err := models.Find[R](c.Request.Context(), s.store, (*row).FlowID()); err == nil {
			row = fresh
		}
		v, err := detail(c.Request.Context(), row, st)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	}
}

// resendArg is the resend update's argument: who asked.
func resendArg(c *gin.Context) (any, bool) {
	return workflows.ResendRequest{By: callerName(c)}, true
}

// cancelArg reads a cancel's optional reason, validated as the dashboard validates it.
func cancelArg(c *gin.Context) (any, bool) {
	var req struct {
		Reason string `json:"reason"`
	}
	if !bindOptionalJSON(c, &req) {
		return nil, false
	}
	arg, err := cancelRequest(callerName(c), req.Reason)
	if err != nil {
		writeError(c, err)
		return nil, false
	}
	return arg, true
}

// bindOptionalJSON is bindJSON for a body that may be left out altogether.
func bindOptionalJSON(c *gin.Context, v any) bool {
	body, ok := readBody(c)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	return bindJSON(c, v)
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
