package testapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// OpenAPICheck returns a Check that holds every JSON response to an operation the OpenAPI
// document declares to that operation's responses: a status it lists, a content type it lists,
// a body its schema accepts. Responses to undeclared routes and responses that are not JSON
// (pages, redirects, metrics) pass, since the document cannot describe them.
func OpenAPICheck(document []byte) (Check, error) {
	doc, err := openapi3.NewLoader().LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	options := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	return func(req *http.Request, resp *Response) error {
		if !isJSON(resp.Header.Get("Content-Type")) {
			return nil
		}
		route, params, err := router.FindRoute(req)
		var undeclared *routers.RouteError
		if errors.As(err, &undeclared) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("find the operation: %w", err)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{
				Request:    req,
				PathParams: params,
				Route:      route,
				Options:    options,
			},
			Status:  resp.Status,
			Header:  resp.Header,
			Body:    io.NopCloser(bytes.NewReader(resp.Body)),
			Options: options,
		}
		return openapi3filter.ValidateResponse(context.Background(), in)
	}, nil
}

// isJSON reports whether a content type is JSON or a JSON-based type such as problem+json.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
