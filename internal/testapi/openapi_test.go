package testapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const document = `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {
  "/v1/things/{id}": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
    "get": {"responses": {
      "200": {"description": "a thing", "content": {"application/json": {"schema": {"type": "object",
        "required": ["id"], "additionalProperties": false, ` +
	`"properties": {"id": {"type": "string"}, "catalogItemId": {"type": "string"}}}}}},
      "404": {"description": "none", "content": {"application/problem+json": {"schema": ` +
	`{"type": "object", "required": ["status"]}}}}}}}}}`

// recorder is a testing.TB that keeps the errors a client reports instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, f) }

func TestOpenAPICheckHoldsResponsesToTheDocument(t *testing.T) {
	check, err := OpenAPICheck([]byte(document))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		path        string
		status      int
		contentType string
		body        string
		refused     bool
	}{
		{
			"a response the schema accepts passes",
			"/v1/things/1", 200, "application/json", `{"id": "1", "catalogItemId": "A"}`, false,
		},
		{
			"a field in Go's spelling is refused",
			"/v1/things/1", 200, "application/json", `{"id": "1", "CatalogItemID": "A"}`, true,
		},
		{
			"a missing required field is refused",
			"/v1/things/1", 200, "application/json", `{"catalogItemId": "A"}`, true,
		},
		{"a field of the wrong type is refused", "/v1/things/1", 200, "application/json", `{"id": 1}`, true},
		{
			"a status the operation does not list is refused",
			"/v1/things/1", 500, "application/json", `{"id": "1"}`, true,
		},
		{
			"a content type the status does not list is refused",
			"/v1/things/1", 404, "application/json", `{"status": 404}`, true,
		},
		{"a documented problem passes", "/v1/things/1", 404, "application/problem+json", `{"status": 404}`, false},
		{"a page is not JSON, so it passes", "/v1/things/1", 200, "text/html; charset=utf-8", `<p>thing</p>`, false},
		{"a route the document does not declare passes", "/v1/other", 200, "application/json", `{"ID": 1}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			rec := &recorder{TB: t}
			(&Client{T: rec, BaseURL: srv.URL, Check: check}).Do("GET", tc.path, nil)
			if refused := len(rec.errors) > 0; refused != tc.refused {
				t.Fatalf("refused = %v, want %v (%s)", refused, tc.refused, strings.Join(rec.errors, "; "))
			}
		})
	}
}
