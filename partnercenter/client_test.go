package partnercenter_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter"
)

func TestErrorRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  *partnercenter.Error
		want bool
	}{
		{"throttling (429) is retryable", &partnercenter.Error{StatusCode: 429}, true},
		{"a server error (500) is retryable", &partnercenter.Error{StatusCode: 500}, true},
		{"service unavailable (503) is retryable", &partnercenter.Error{StatusCode: 503}, true},
		{"a transport failure is retryable", &partnercenter.Error{Err: errors.New("EOF")}, true},
		{
			"a missing MCA (403 13605) is not retryable",
			&partnercenter.Error{StatusCode: 403, Code: partnercenter.CodeMCANotAccepted},
			false,
		},
		{
			"a repeated attestation (600061) is not retryable",
			&partnercenter.Error{StatusCode: 409, Code: partnercenter.CodeAgreementAlreadyExists},
			false,
		},
		{
			"an unknown reseller (800015) is not retryable",
			&partnercenter.Error{StatusCode: 400, Code: partnercenter.CodeResellerNotFound},
			false,
		},
		{"a not-found (404) is not retryable", &partnercenter.Error{StatusCode: 404}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Retryable(); got != tt.want {
				t.Errorf("Retryable() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestErrorEnvelopes(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		wantCode   int
		wantGraph  string
		wantDesc   string
		wantDelay  time.Duration
	}{
		{
			"the Partner Center envelope keeps its numeric code", 403, "",
			`{"code":13605,"description":"no MCA","data":[],"source":"PartnerFD"}`,
			13605, "", "no MCA", 0,
		},
		{
			"the Graph envelope keeps its string code", 412, "",
			`{"error":{"code":"preconditionFailed","message":"etag"}}`,
			0, "preconditionFailed", "etag", 0,
		},
		{
			"Retry-After in seconds is carried", 429, "7",
			`{"code":0,"description":"slow down"}`,
			0, "", "slow down", 7 * time.Second,
		},
		{
			"a body that is not JSON still yields the status text", 502, "",
			`<html>bad gateway</html>`,
			0, "", "Bad Gateway", 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := partnercenter.New(testConfig(t, srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetCustomer(context.Background(), "x")
			var pe *partnercenter.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if pe.StatusCode != tt.status || pe.Code != tt.wantCode || pe.GraphCode != tt.wantGraph ||
				pe.Description != tt.wantDesc || pe.RetryAfter != tt.wantDelay {
				t.Errorf("error = %+v", pe)
			}
			if partnercenter.RetryAfter(err) != tt.wantDelay {
				t.Errorf("RetryAfter = %v", partnercenter.RetryAfter(err))
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := partnercenter.New(testConfig(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a mutating call without a request ID is refused before sending", func(t *testing.T) {
		_, err := c.CreateCustomer(context.Background(), partnercenter.NewCustomer{})
		if !errors.Is(err, partnercenter.ErrNoRequestID) {
			t.Fatalf("err = %v", err)
		}
		if len(seen) != 0 {
			t.Errorf("%d requests sent", len(seen))
		}
	})
	t.Run("a retry reuses MS-RequestId and gets a fresh MS-CorrelationId", func(t *testing.T) {
		ctx := partnercenter.WithRequestID(context.Background(), "wf-1/create-customer")
		for range 2 {
			if _, err := c.CreateCustomer(ctx, partnercenter.NewCustomer{}); err != nil {
				t.Fatal(err)
			}
		}
		if len(seen) != 2 {
			t.Fatalf("%d requests", len(seen))
		}
		if seen[0].Get("MS-RequestId") != "wf-1/create-customer" ||
			seen[1].Get("MS-RequestId") != "wf-1/create-customer" {
			t.Errorf("request IDs %q %q", seen[0].Get("MS-RequestId"), seen[1].Get("MS-RequestId"))
		}
		if a, b := seen[0].Get("MS-CorrelationId"), seen[1].Get("MS-CorrelationId"); a == "" || a == b {
			t.Errorf("correlation IDs %q %q", a, b)
		}
		if got := seen[0].Get("Authorization"); got != "Bearer app:"+partnercenter.PartnerCenterScope {
			t.Errorf("Authorization = %q", got)
		}
	})
}

func TestCancelledContextIsNotAServiceError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c, err := partnercenter.New(testConfig(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.GetCustomer(ctx, "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context deadline", err)
	}
}

func TestClientTimeoutIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Second):
		}
	}))
	defer srv.Close()
	cfg := testConfig(t, srv.URL)
	cfg.Timeout = 50 * time.Millisecond
	c, err := partnercenter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetCustomer(context.Background(), "x")
	if !partnercenter.IsRetryable(err) {
		t.Errorf("err = %v, want retryable transport failure", err)
	}
}

func TestOAuthClientCredentials(t *testing.T) {
	var tokenCalls atomic.Int32
	scopes := sync.Map{}
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenCalls.Add(1)
		if r.URL.Path != "/t/oauth2/v2.0/token" {
			t.Errorf("token request to %s, want the partner tenant's token endpoint", r.URL.Path)
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if r.PostForm.Get("grant_type") != "client_credentials" {
			t.Errorf("grant_type = %q", r.PostForm.Get("grant_type"))
		}
		scope := r.PostForm.Get("scope")
		scopes.Store(scope, true)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "tok:" + scope,
			"token_type":   "Bearer",
			"expires_in":   3600,
		})
	}))
	defer tokenSrv.Close()
	var auths sync.Map
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths.Store(r.URL.Path, r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(`{}`))
	}))
	defer api.Close()
	c, err := partnercenter.New(partnercenter.Config{
		PartnerCenterURL: api.URL,
		GraphURL:         api.URL,
		TenantID:         "t",
		ClientID:         "id",
		ClientSecret:     "secret",
		AuthorityURL:     tokenSrv.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if _, err := c.GetCustomer(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetGDAPRelationship(ctx, "g1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := tokenCalls.Load(); n != 2 {
		t.Errorf("token endpoint called %d times, want 2 (one cached token per service)", n)
	}
	for _, want := range []string{partnercenter.PartnerCenterScope, partnercenter.GraphScope} {
		if _, ok := scopes.Load(want); !ok {
			t.Errorf("no token requested for scope %s", want)
		}
	}
	if got, _ := auths.Load("/v1/customers/c1"); got != "Bearer tok:"+partnercenter.PartnerCenterScope {
		t.Errorf("Partner Center Authorization = %v", got)
	}
	if got, _ := auths.Load(
		"/v1.0/tenantRelationships/delegatedAdminRelationships/g1",
	); got != "Bearer tok:"+partnercenter.GraphScope {
		t.Errorf("Graph Authorization = %v", got)
	}
}

// TestListResellerCustomersWire checks the requests ListResellerCustomers
// sends: the documented filter on the first page, then seekOperation=Next
// with the token from links.next in MS-ContinuationToken; no links.next ends.
func TestListResellerCustomersWire(t *testing.T) {
	const reseller = "484e548c-f5f3-4528-93a9-c16c6373cb59"
	page := func(
		id string, next *partnercenter.Link, token string,
	) partnercenter.Collection[partnercenter.Customer] {
		c := partnercenter.Collection[partnercenter.Customer]{
			TotalCount:        1,
			Items:             []partnercenter.Customer{{ID: id}},
			ContinuationToken: token,
		}
		if next != nil {
			c.Links = &partnercenter.ResourceLinks{Next: next}
		}
		return c
	}
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Clone(context.Background()))
		mu.Unlock()
		var out any
		switch r.Header.Get(partnercenter.HeaderContinuationToken) {
		case "":
			out = page("c1", &partnercenter.Link{URI: "/customers?seekOperation=Next", Method: "GET",
				Headers: []partnercenter.LinkHeader{{Key: "MS-ContinuationToken", Value: "tok-1"}}}, "tok-1")
		case "tok-1":
			// links.next without headers: the body's continuationToken is the token.
			out = page("c2", &partnercenter.Link{
				URI:     "/customers?seekOperation=Next",
				Method:  "GET",
				Headers: []partnercenter.LinkHeader{},
			}, "tok-2")
		case "tok-2":
			// a continuationToken without links.next is the last page, as for the SDK's enumerator.
			out = page("c3", nil, "ignored")
		case "loop":
			out = page("c4", &partnercenter.Link{URI: "/customers?seekOperation=Next", Method: "GET",
				Headers: []partnercenter.LinkHeader{{Key: "MS-ContinuationToken", Value: "loop"}}}, "loop")
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	c, err := partnercenter.New(testConfig(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []string
	next := ""
	for range 5 {
		got, n, err := c.ListResellerCustomers(ctx, reseller, next)
		if err != nil {
			t.Fatal(err)
		}
		for _, cu := range got {
			ids = append(ids, cu.ID)
		}
		if next = n; next == "" {
			break
		}
	}
	if strings.Join(ids, ",") != "c1,c2,c3" {
		t.Fatalf("ids = %v", ids)
	}
	first := seen[0]
	if first.URL.Path != "/v1/customers" || first.URL.Query().Get("size") != "200" ||
		first.URL.Query().Get("filter") !=
			`{"Field":"IndirectReseller","Value":"`+reseller+`","Operator":"starts_with"}` {
		t.Errorf("first request = %s", first.URL)
	}
	if !strings.Contains(
		first.URL.RawQuery,
		"filter=%7B%22Field%22%3A%22IndirectReseller%22%2C%22Value%22%3A%22"+
			reseller+
			"%22%2C%22Operator%22%3A%22starts_with%22%7D",
	) {
		t.Errorf("filter not URL-encoded as documented: %s", first.URL.RawQuery)
	}
	for i, r := range seen[1:] {
		if r.URL.Path != "/v1/customers" || r.URL.RawQuery != "seekOperation=Next" {
			t.Errorf("request %d = %s", i+2, r.URL)
		}
	}
	if got := seen[1].Header.Get("MS-ContinuationToken"); got != "tok-1" {
		t.Errorf("second request token = %q", got)
	}
	if _, _, err := c.ListResellerCustomers(ctx, reseller, "loop"); err == nil {
		t.Error("a page returning the token it was sent did not fail")
	}
	if _, _, err := c.ListResellerCustomers(ctx, "", ""); err == nil {
		t.Error("an empty reseller tenant ID did not fail")
	}
}
