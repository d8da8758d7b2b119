package api_test

import (
	"bytes"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/models"
)

func TestCodecNeedsAnOperatorRole(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"Ik1BUktFUiI="}]}`
	cases := []struct {
		name   string
		role   models.Role
		status int
	}{
		{"a sales agent may not decrypt payloads", models.RoleSalesAgent, 403},
		{"an admin agent may", models.RoleAdminAgent, 200},
		{"a global admin may", models.RoleGlobalAdmin, 200},
	}
	for _, tc := range cases {
		for _, op := range []string{"encode", "decode"} {
			t.Run(tc.name+" ("+op+")", func(t *testing.T) {
				r := f.anon.As(f.keys[tc.role]).Do("POST", "/codec/"+op, body)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				if tc.status == 403 && !bytes.Contains(r.Body, []byte("forbidden")) {
					t.Fatalf("want a forbidden problem, got %s", r.Body)
				}
			})
		}
	}
}

// The Web UI names no workflow: the codec opens a payload a worker bound to its workflow.
func TestCodecDecodesPayloadsBoundToAWorkflow(t *testing.T) {
	f := newFixture(t, nil)
	c, err := codec.New(bytes.Repeat([]byte{9}, 32)) // the fixture's key
	if err != nil {
		t.Fatal(err)
	}
	bound := converter.NewCodecDataConverter(
		converter.GetDefaultDataConverter(),
		c.ForWorkflow("invitation/p/contoso.example"),
	)
	p, err := bound.ToPayload("MARKER")
	if err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	if err != nil {
		t.Fatal(err)
	}
	r := f.anon.As(f.keys[models.RoleAdminAgent]).Do("POST", "/codec/decode", string(b))
	if r.Status != 200 || !bytes.Contains(r.Body, []byte("Ik1BUktFUiI=")) {
		t.Fatalf("decode of a bound payload: %d %s", r.Status, r.Body)
	}
}
