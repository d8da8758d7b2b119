package partnercenter_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/partnerflow/partnerflow/partnercenter"
)

// fakeEntra answers the partner tenant's token endpoint with "app:<scope>" for client
// credentials, as Entra ID would with a real token.
func fakeEntra(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/t/oauth2/v2.0/token" || r.ParseForm() != nil ||
			r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "app:" + r.PostForm.Get("scope"),
			"token_type":   "Bearer",
			"expires_in":   3600,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// staticUser is a connected partner user whose App+User token is "user".
type staticUser struct{}

func (staticUser) UserToken(context.Context, string) (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: "user", TokenType: "Bearer"}, nil
}

// testConfig is a client of the services at url, with app-only tokens from a fake Entra ID and
// a connected partner user.
func testConfig(t testing.TB, url string) partnercenter.Config {
	return partnercenter.Config{PartnerCenterURL: url, GraphURL: url, AuthorityURL: fakeEntra(t).URL,
		TenantID: "t", ClientID: "id", ClientSecret: "secret", UserTokens: staticUser{}}
}

// TestEveryOperationSendsTheCredentialTheTableNames calls every method of Client and checks the
// token each request carried: App+User where the table says App+User only, app-only elsewhere.
// A method whose operation has no entry fails before sending anything.
func TestEveryOperationSendsTheCredentialTheTableNames(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := partnercenter.New(testConfig(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := partnercenter.WithRequestID(context.Background(), "credentials")
	client := reflect.TypeFor[partnercenter.Client]()
	for i := range client.NumMethod() {
		m := client.Method(i)
		t.Run(m.Name, func(t *testing.T) {
			mu.Lock()
			auth = nil
			mu.Unlock()
			fn := reflect.ValueOf(c).MethodByName(m.Name)
			args := []reflect.Value{reflect.ValueOf(ctx)}
			for j := 1; j < fn.Type().NumIn(); j++ {
				in := fn.Type().In(j)
				v := reflect.New(in).Elem()
				if in.Kind() == reflect.String {
					v.SetString("x")
				}
				args = append(args, v)
			}
			out := fn.Call(args)
			err, _ := out[len(out)-1].Interface().(error)
			if err != nil && strings.Contains(err.Error(), "credential table") {
				t.Fatalf("%s has no entry in partnercenter.Operations: %v", m.Name, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(auth) == 0 {
				t.Skipf("sent nothing (%v)", err)
			}
			wantUser := appUserOnly[m.Name]
			if got := auth[0] == "Bearer user"; got != wantUser {
				t.Errorf("%s sent %q; App+User only: %v", m.Name, auth[0], wantUser)
			}
		})
	}
}

// appUserOnly are the Client methods whose operation Microsoft documents as App+User only (with
// the zero arguments the test passes: a customer without an indirect reseller is app-only).
var appUserOnly = map[string]bool{
	"RelationshipRequestURL": true, "ListResellerCustomers": true, "RemoveResellerRelationship": true,
	"ListIndirectResellers": true, "GetMPNProfile": true, "GetAgreementStatus": true, "GetMCATemplate": true,
	"CreateCustomerAgreement": true, "ListCustomerAgreements": true, "UpdateSupportContact": true,
}

func TestCredentialTable(t *testing.T) {
	t.Run("every entry names its Microsoft article and a known credential", func(t *testing.T) {
		for _, op := range partnercenter.Operations {
			if op.Name == "" || op.Article == "" || op.Route == "" ||
				(op.Credential != partnercenter.AppUser && op.Credential != partnercenter.AppOrUser) {
				t.Errorf("incomplete entry %+v", op)
			}
		}
	})
	t.Run("a customer of an indirect reseller needs App+User, any other customer not", func(t *testing.T) {
		if op, _ := partnercenter.OperationNamed(
			partnercenter.OpCreateResellerCustomer,
		); op.Credential != partnercenter.AppUser {
			t.Errorf("%+v", op)
		}
		if c, _ := partnercenter.RouteCredential("POST /v1/customers"); c != partnercenter.AppOrUser {
			t.Errorf("POST /v1/customers accepts %v, want the most permissive of its operations", c)
		}
	})
	t.Run("a route without an entry is reported", func(t *testing.T) {
		if _, ok := partnercenter.RouteCredential("GET /v1/nowhere"); ok {
			t.Error("unknown route has a credential")
		}
	})
}

func TestAppUserCallsWaitForTheConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	cfg := testConfig(t, srv.URL)
	cfg.UserTokens = nil
	c, err := partnercenter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RelationshipRequestURL(context.Background(), partnercenter.RelationshipRequestOptions{})
	if !errors.Is(err, partnercenter.ErrConnectionNeeded) || !partnercenter.NeedsConnection(err) {
		t.Fatalf("an App+User call without a connection: %v, want ErrConnectionNeeded", err)
	}
	if _, err := c.GetCustomer(context.Background(), "c"); err != nil {
		t.Fatalf("an app-only call needs no connection: %v", err)
	}
	mfa := &partnercenter.Error{StatusCode: http.StatusUnauthorized, Code: partnercenter.CodeMFARequired}
	if !partnercenter.NeedsConnection(mfa) {
		t.Error("Partner Center's 401 900421 (no MFA) is a wait for a connection with MFA")
	}
}
