// Package testapi is an HTTP client for tests that drive a running partnerflow API.
package testapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Client calls the API at BaseURL with Key as the bearer token (none when empty).
type Client struct {
	T       testing.TB
	BaseURL string
	Key     string
	HTTP    *http.Client
	// Check, when set, inspects every response; an error it returns fails the test.
	Check Check
}

// Check inspects a response to req; OpenAPICheck makes one that holds responses to a document.
type Check func(req *http.Request, resp *Response) error

// Response is a finished call with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it is not JSON.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.Body)
	}
}

// Problem decodes a problem+json body, failing the test when the content type is wrong.
func (r *Response) Problem(t testing.TB) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("want application/problem+json, got %q: %s", ct, r.Body)
	}
	var p map[string]any
	r.JSON(t, &p)
	return p
}

// Do sends a request. A string or []byte body is sent as is, anything else as JSON.
func (c *Client) Do(method, path string, body any, headers ...string) *Response {
	c.T.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	case []byte:
		reader = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.T.Fatal(err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.BaseURL+path, reader)
	if err != nil {
		c.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatal(err)
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if c.Check != nil {
		if err := c.Check(req, out); err != nil {
			c.T.Errorf("%s %s answered %d against the API's document: %v\n%s", method, path, resp.StatusCode, err, data)
		}
	}
	return out
}

// As returns a copy of the client that authenticates with key.
func (c *Client) As(key string) *Client {
	cp := *c
	cp.Key = key
	return &cp
}
