package api_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testapi"
)

// openAPICheck holds responses to api/openapi.json; it is built once, since every fixture uses it.
var openAPICheck = sync.OnceValues(func() (testapi.Check, error) { return testapi.OpenAPICheck(api.OpenAPI) })

// apiClient is a client of the server at base (through hc, when not nil) that fails the test
// when a JSON response to a documented route does not match the document.
func apiClient(t testing.TB, base string, hc *http.Client) *testapi.Client {
	t.Helper()
	check, err := openAPICheck()
	if err != nil {
		t.Fatal(err)
	}
	return &testapi.Client{T: t, BaseURL: base, HTTP: hc, Check: check}
}
