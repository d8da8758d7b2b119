package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// ProblemTypePrefix starts every problem type; the rest is a stable slug clients may switch on.
const ProblemTypePrefix = "urn:partnerflow:problem:"

// Problem is an RFC 9457 problem detail, with the offending request field when there is one.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Field     string `json:"field,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	// Location points at an existing resource, for conflicts with one.
	Location string `json:"location,omitempty"`
	// cause is the error the problem answers, never shown: errors.Is sees through the problem.
	cause error
}

// Error makes a Problem usable as an error returned by helpers.
func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// Unwrap returns the error the problem answers, so that a not-found problem is models.ErrNotFound.
func (p *Problem) Unwrap() error { return p.cause }

// because records err as what p answers: errors.Is sees it, and behind a 5xx it is the error the
// request's log line shows, while the answer shows only p.
func (p *Problem) because(err error) *Problem {
	p.cause = err
	return p
}

// NewProblem builds a problem of the given slug.
func NewProblem(status int, slug, title, detail string) *Problem {
	return &Problem{Type: ProblemTypePrefix + slug, Title: title, Status: status, Detail: detail}
}

// Invalid is a 400 for one request field.
func Invalid(field, format string, args ...any) *Problem {
	p := NewProblem(http.StatusBadRequest, "invalid-field", "A field is invalid", fmt.Sprintf(format, args...))
	p.Field = field
	return p
}

// The problems every handler may answer with.
var (
	problemNotFound     = func() *Problem { return NewProblem(http.StatusNotFound, "not-found", "Not found", "") }
	problemUnauthorized = func(d string) *Problem {
		return NewProblem(http.StatusUnauthorized, "unauthorized", "Authentication required", d)
	}
	problemForbidden = func(d string) *Problem {
		return NewProblem(http.StatusForbidden, "forbidden", "Not allowed", d)
	}
	problemTooLarge = func(n int64) *Problem {
		return NewProblem(
			http.StatusRequestEntityTooLarge,
			"body-too-large",
			"Request body too large",
			fmt.Sprintf("the limit is %d bytes", n),
		)
	}
	problemInternal = func() *Problem {
		return NewProblem(
			http.StatusInternalServerError,
			"internal",
			"Internal error",
			"the error was logged with this request's ID",
		)
	}
	problemUnavailable = func(d string) *Problem {
		return NewProblem(http.StatusServiceUnavailable, "unavailable", "Not ready", d)
	}
	problemNotAcceptable = func() *Problem {
		return NewProblem(
			http.StatusUnsupportedMediaType,
			"unsupported-media-type",
			"Unsupported media type",
			"send application/json",
		)
	}
)

// writeProblem sends p as application/problem+json and stops the handler chain.
func writeProblem(c *gin.Context, p *Problem) {
	if p.Instance == "" {
		p.Instance = c.Request.URL.Path
	}
	p.RequestID = c.GetString(ctxRequestID)
	if _, logged := c.Get(ctxError); !logged && p.Status >= 500 {
		c.Set(ctxError, p)
	}
	c.Header("Content-Type", "application/problem+json")
	c.Status(p.Status)
	_ = json.NewEncoder(c.Writer).Encode(p)
	c.Abort()
}

// problemFor is the problem err is answered with, or nil when err is none the API knows: a
// *Problem anywhere in err's chain as it is; models' sentinels, a cursor the store refused and a
// Partner Center answer as their problems.
func problemFor(err error) *Problem {
	var (
		p     *Problem
		pcErr *partnercenter.Error
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, models.ErrNotFound):
		return problemNotFound()
	case errors.Is(err, models.ErrConflict):
		return NewProblem(
			http.StatusConflict,
			"conflict",
			"Conflict",
			"the request conflicts with the resource's current state",
		)
	case errors.Is(err, models.ErrBadCursor):
		return Invalid("cursor", "the cursor is not one this API returned")
	case errors.As(err, &pcErr) && pcErr.Retryable():
		return problemUnavailable("Partner Center did not answer; try again")
	case errors.As(err, &pcErr):
		return NewProblem(
			http.StatusBadGateway,
			"partner-center-refused",
			"Partner Center refused the request",
			partnerCenterRefusal(pcErr),
		)
	}
	return nil
}

// partnerCenterRefusal says what Partner Center answered, in its own words when it gave some.
func partnerCenterRefusal(e *partnercenter.Error) string {
	detail := fmt.Sprintf("Partner Center answered %s with HTTP %d", e.Op, e.StatusCode)
	if e.Code != 0 {
		detail += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Description != "" {
		detail += ": " + e.Description
	}
	return detail
}

// answer is the problem err is answered with: problemFor's, or the generic 500 for an error the
// API does not know. The error behind a 5xx (a problem's cause) is kept for the request's log line.
func answer(c *gin.Context, err error) *Problem {
	p := problemFor(err)
	var asProblem *Problem
	switch {
	case p == nil:
		c.Set(ctxError, err)
		p = problemInternal()
	case p.Status < http.StatusInternalServerError:
	case p.cause != nil:
		c.Set(ctxError, p.cause)
	case !errors.As(err, &asProblem):
		c.Set(ctxError, err)
	}
	return p
}

// writeError answers err as problem+json: the one place errors become HTTP answers. A problem
// pointing at an existing resource sends its Location header too; an error the API does not know
// is logged with the request and answered as a 500 that says nothing of it.
func writeError(c *gin.Context, err error) {
	p := answer(c, err)
	if p.Location != "" {
		c.Header("Location", p.Location)
	}
	writeProblem(c, p)
}

// bindJSON decodes the request body into v strictly: malformed JSON, unknown fields, wrong
// types and oversized bodies are answered with a problem naming the field, and false returned.
func bindJSON(c *gin.Context, v any) bool {
	if ct := c.ContentType(); ct != "application/json" && ct != "" {
		writeProblem(c, problemNotAcceptable())
		return false
	}
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err == nil {
		return true
	}
	var (
		tooLarge  *http.MaxBytesError
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.As(err, &tooLarge):
		writeProblem(c, problemTooLarge(tooLarge.Limit))
	case errors.As(err, &typeErr):
		writeProblem(c, Invalid(typeErr.Field, "must be %s, got %s", typeErr.Type.String(), typeErr.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		writeProblem(c, Invalid(field, "unknown field"))
	case errors.Is(err, io.EOF):
		writeProblem(
			c,
			NewProblem(http.StatusBadRequest, "invalid-json", "Malformed JSON", "the request body is empty"),
		)
	case errors.As(err, &syntaxErr):
		writeProblem(c, NewProblem(
			http.StatusBadRequest,
			"invalid-json",
			"Malformed JSON",
			fmt.Sprintf("%v (at byte %d)", err, syntaxErr.Offset),
		))
	default:
		writeProblem(c, NewProblem(http.StatusBadRequest, "invalid-json", "Malformed JSON", err.Error()))
	}
	return false
}

// readBody reads the whole request body within the size limit; on failure it has answered
// (413 or 400) and returns false.
func readBody(c *gin.Context) ([]byte, bool) {
	body, err := io.ReadAll(c.Request.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeProblem(c, problemTooLarge(tooLarge.Limit))
		return nil, false
	case err != nil:
		writeProblem(
			c,
			NewProblem(http.StatusBadRequest, "unreadable-body", "The request body could not be read", err.Error()),
		)
		return nil, false
	}
	return body, true
}

// statusQuery reads the ?status= filter, which must be one of statuses ("" when absent).
func statusQuery(c *gin.Context, statuses []string) (string, error) {
	st := c.Query("status")
	if st != "" && !slices.Contains(statuses, st) {
		return "", Invalid("status", "unknown status %q: use one of %s", st, strings.Join(statuses, ", "))
	}
	return st, nil
}

// limitQuery reads the ?limit= page size, a whole number from 1 to most (def when absent).
func limitQuery(c *gin.Context, def, most int) (int, error) {
	l := c.Query("limit")
	if l == "" {
		return def, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > most {
		return 0, Invalid("limit", "must be a whole number from 1 to %d", most)
	}
	return n, nil
}
