package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

func TestWriteErrorMapsEveryErrorInOnePlace(t *testing.T) {
	gin.SetMode(gin.TestMode)
	open := NewProblem(http.StatusConflict, "invitation-open", "There is already an open invitation", "finish it first")
	open.Location = "/v1/invitations/inv_1"
	refused := fmt.Errorf("create customer: %w", &partnercenter.Error{
		Op:          "create customer",
		StatusCode:  http.StatusBadRequest,
		Code:        600051,
		Description: "phone number missing",
	})
	away := &partnercenter.Error{Op: "get customer", StatusCode: http.StatusServiceUnavailable}
	unknown := errors.New("database is on fire")
	timeout := errors.New("update invitation inv_1: context deadline exceeded")
	cases := []struct {
		name     string
		err      error
		status   int
		slug     string
		detail   string
		field    string
		location string
		logged   error
	}{
		{name: "a problem is answered as it is", err: Invalid("email", "must be an e-mail address"),
			status: http.StatusBadRequest, slug: "invalid-field", detail: "must be an e-mail address", field: "email"},
		{name: "a wrapped problem is answered as it is",
			err:    fmt.Errorf("check the request: %w", Invalid("roles", "at least one role is required")),
			status: http.StatusBadRequest, slug: "invalid-field", detail: "at least one role is required",
			field: "roles"},
		{name: "a problem pointing at a resource sends its Location", err: open,
			status: http.StatusConflict, slug: "invitation-open", detail: "finish it first",
			location: "/v1/invitations/inv_1"},
		{name: "a flow's not-found problem keeps its detail though it is models.ErrNotFound",
			err:    invitations.notFound(),
			status: http.StatusNotFound, slug: "not-found", detail: "no invitation with this ID"},
		{name: "models.ErrNotFound, wrapped, is a 404", err: fmt.Errorf("load key k1: %w", models.ErrNotFound),
			status: http.StatusNotFound, slug: "not-found"},
		{name: "models.ErrConflict, wrapped, is a 409", err: fmt.Errorf("save: %w", models.ErrConflict),
			status: http.StatusConflict, slug: "conflict",
			detail: "the request conflicts with the resource's current state"},
		{name: "a cursor the store refused names the cursor parameter",
			err:    fmt.Errorf("list: %w", models.ErrBadCursor),
			status: http.StatusBadRequest, slug: "invalid-field", detail: "the cursor is not one this API returned",
			field: "cursor"},
		{name: "a Partner Center refusal is a 502 in Partner Center's words",
			err:    refused,
			status: http.StatusBadGateway, slug: "partner-center-refused",
			detail: "Partner Center answered create customer with HTTP 400 (code 600051): phone number missing",
			logged: refused},
		{name: "Partner Center that does not answer is a 503 to retry",
			err:    away,
			status: http.StatusServiceUnavailable, slug: "unavailable",
			detail: "Partner Center did not answer; try again", logged: away},
		{name: "a problem behind a 5xx logs its cause and shows only itself",
			err:    problemUnavailable("the invitation's workflow did not answer; try again").because(timeout),
			status: http.StatusServiceUnavailable, slug: "unavailable",
			detail: "the invitation's workflow did not answer; try again", logged: timeout},
		{name: "an unknown error is a 500 that says nothing of it, and is logged", err: unknown,
			status: http.StatusInternalServerError, slug: "internal",
			detail: "the error was logged with this request's ID", logged: unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			c.Request = httptest.NewRequest(http.MethodGet, "/v1/things/1", nil)
			writeError(c, tc.err)

			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if got.Type != ProblemTypePrefix+tc.slug || got.Status != tc.status || got.Detail != tc.detail ||
				got.Field != tc.field {
				t.Errorf("answered %+v, want type %s, detail %q, field %q", got, tc.slug, tc.detail, tc.field)
			}
			if got.Instance != "/v1/things/1" {
				t.Errorf("instance %q", got.Instance)
			}
			if loc := rec.Header().Get("Location"); loc != tc.location {
				t.Errorf("Location %q, want %q", loc, tc.location)
			}
			logged, _ := c.Get(ctxError)
			if tc.logged != nil && logged != tc.logged {
				t.Errorf("logged %v, want %v", logged, tc.logged)
			}
			if tc.logged != nil && strings.Contains(rec.Body.String(), tc.logged.Error()) {
				t.Errorf("the answer shows the logged error: %s", rec.Body)
			}
			if tc.logged == nil && logged != nil {
				t.Errorf("logged %v for a %d", logged, tc.status)
			}
			if !c.IsAborted() {
				t.Error("the handler chain goes on")
			}
		})
	}
}

func TestProblemForLeavesUnknownErrorsToTheCaller(t *testing.T) {
	if p := problemFor(errors.New("boom")); p != nil {
		t.Fatalf("an unknown error mapped to %+v", p)
	}
	if p := problemFor(nil); p != nil {
		t.Fatalf("no error mapped to %+v", p)
	}
	if !errors.Is(resellers.notFound(), models.ErrNotFound) {
		t.Fatal("a flow's not-found problem is not models.ErrNotFound")
	}
}
