package codec_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/partnerflow/partnerflow/codec"
)

func newCodec(t *testing.T, seed byte) *codec.Codec {
	t.Helper()
	c, err := codec.New(bytes.Repeat([]byte{seed}, codec.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTripHidesPlaintext(t *testing.T) {
	dc := newCodec(t, 1).DataConverter()
	p, err := dc.ToPayload(map[string]string{"customer": "MARKER-contoso"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("MARKER")) || bytes.Contains(p.Metadata["encoding"], []byte("json")) {
		t.Fatal("an encoded payload shows its plaintext or its inner encoding")
	}
	var back map[string]string
	if err := dc.FromPayload(p, &back); err != nil || back["customer"] != "MARKER-contoso" {
		t.Fatalf("round trip: %v %v", back, err)
	}
	if err := newCodec(t, 2).DataConverter().FromPayload(p, &back); err == nil {
		t.Fatal("a payload sealed with another key must not decode")
	}
}

func TestFailureMessagesAreEncoded(t *testing.T) {
	fc := newCodec(t, 1).FailureConverter()
	f := fc.ErrorToFailure(errorString("secret reason MARKER"))
	if strings.Contains(f.GetMessage(), "MARKER") || strings.Contains(f.GetStackTrace(), "MARKER") {
		t.Fatalf("failure message left in plaintext: %q", f.GetMessage())
	}
	if got := fc.FailureToError(f).Error(); !strings.Contains(got, "MARKER") {
		t.Fatalf("decoded failure lost its message: %q", got)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestParseKey(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"a standard base64 32-byte key is accepted", good, true},
		{"a key with surrounding whitespace is accepted", " " + good + "\n", true},
		{"a 16-byte key is refused", base64.StdEncoding.EncodeToString(make([]byte, 16)), false},
		{"text that is not base64 is refused", "not base64!!", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := codec.ParseKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseKey(%q) error = %v", tc.in, err)
			}
		})
	}
}

func TestLoadOrCreateKeyKeepsTheKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := codec.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := codec.LoadOrCreateKey(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("the generated key must be reused on the next start")
	}
}

// inWorkflow is the data converter a worker uses for the payloads of one workflow: the SDK
// passes it the workflow's serialization context.
func inWorkflow(dc converter.DataConverter, workflowID string) converter.DataConverter {
	return converter.WithDataConverterSerializationContext(
		dc,
		converter.WorkflowSerializationContext{Namespace: "default", WorkflowID: workflowID},
	)
}

func TestPayloadsAreBoundToTheirWorkflow(t *testing.T) {
	c := newCodec(t, 1)
	dc := c.DataConverter()
	p, err := inWorkflow(dc, "invitation/p1/contoso.example").ToPayload("MARKER")
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := inWorkflow(dc, "invitation/p1/contoso.example").FromPayload(p, &s); err != nil || s != "MARKER" {
		t.Fatalf("the payload must open in its own workflow: %q %v", s, err)
	}
	activity := converter.WithDataConverterSerializationContext(dc, converter.ActivitySerializationContext{
		WorkflowID:   "invitation/p1/contoso.example",
		ActivityType: "RecordStatus",
	})
	if err := activity.FromPayload(p, &s); err != nil {
		t.Fatalf("the payload must open in its workflow's activities: %v", err)
	}

	moved := []struct {
		name string
		edit func(p *commonpb.Payload) *commonpb.Payload
	}{
		{"a payload moved as it is", func(p *commonpb.Payload) *commonpb.Payload { return p }},
		{"a payload relabelled for the other workflow", func(p *commonpb.Payload) *commonpb.Payload {
			q := proto.Clone(p).(*commonpb.Payload)
			q.Metadata["encryption-workflow-id"] = []byte("invitation/p2/fabrikam.example")
			return q
		}},
		{
			"a payload stripped of its workflow, as if it were of the first format",
			func(p *commonpb.Payload) *commonpb.Payload {
				q := proto.Clone(p).(*commonpb.Payload)
				delete(q.Metadata, "encryption-workflow-id")
				return q
			},
		},
	}
	for _, tc := range moved {
		t.Run(tc.name+" does not open in another workflow", func(t *testing.T) {
			var got string
			if err := inWorkflow(dc, "invitation/p2/fabrikam.example").FromPayload(tc.edit(p), &got); err == nil {
				t.Fatalf("opened in another workflow: %q", got)
			}
		})
	}

	// The Web UI's codec names no workflow: it opens the payload for the workflow it is bound to.
	out, err := c.DecodeForDisplay([]*commonpb.Payload{p})
	if err != nil || !bytes.Contains(out[0].Data, []byte("MARKER")) {
		t.Fatalf("the remote codec must open a bound payload: %v", err)
	}
}

func TestFailuresAreBoundToTheirWorkflow(t *testing.T) {
	fc := newCodec(t, 1).FailureConverter()
	wf := func(id string) converter.FailureConverter {
		return converter.WithFailureConverterSerializationContext(
			fc, converter.WorkflowSerializationContext{WorkflowID: id},
		)
	}
	f := wf("removal/p1/r1").ErrorToFailure(errorString("MARKER reason"))
	// FailureToError decodes in place: each reader gets its own copy.
	if got := wf("removal/p1/r1").FailureToError(
		proto.Clone(f).(*failurepb.Failure),
	).Error(); !strings.Contains(got, "MARKER") {
		t.Fatalf("a failure must open in its own workflow: %q", got)
	}
	if got := wf("removal/p1/r2").FailureToError(
		proto.Clone(f).(*failurepb.Failure),
	).Error(); strings.Contains(got, "MARKER") {
		t.Fatalf("a failure opened in another workflow: %q", got)
	}
}

func TestWorkersRefusePlainPayloads(t *testing.T) {
	plain, err := converter.GetDefaultDataConverter().ToPayload("started by someone without the key")
	if err != nil {
		t.Fatal(err)
	}
	c := newCodec(t, 1)
	var s string
	if err := inWorkflow(c.DataConverter(), "invitation/p1/contoso.example").FromPayload(plain, &s); err == nil ||
		!strings.Contains(err.Error(), "not encrypted") {
		t.Fatalf("a worker must refuse a plain payload, got %q %v", s, err)
	}
	if err := c.DataConverter().FromPayload(plain, &s); err == nil {
		t.Fatal("a plain payload must be refused outside a workflow too")
	}
	if out, err := c.DecodeForDisplay([]*commonpb.Payload{plain}); err != nil || out[0] != plain {
		t.Fatalf("the remote codec shows a plain payload as it is: %v", err)
	}
}

// TestFirstFormatPayloadsStillOpen decodes the input of a history recorded before payloads were
// bound to workflows (sealed with the integration tests' key and no associated data), as a
// worker running that workflow would: running workflows keep replaying.
func TestFirstFormatPayloadsStillOpen(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "workflows", "testdata", "invitation_active.json"))
	if err != nil {
		t.Fatal(err)
	}
	var history historypb.History
	if err := protojson.Unmarshal(b, &history); err != nil {
		t.Fatal(err)
	}
	input := history.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	if len(input.GetPayloads()) == 0 {
		t.Fatal("the recorded start has no input")
	}
	if _, bound := input.Payloads[0].Metadata["encryption-workflow-id"]; bound {
		t.Fatal("the recorded input is not of the first format; pick a history recorded before binding")
	}
	c := newCodec(t, 42)
	var started map[string]any
	if err := inWorkflow(c.DataConverter(), "invitation/any/contoso.example").FromPayloads(
		input, &started,
	); err != nil || len(started) == 0 {
		t.Fatalf("a first-format payload must still open: %v %v", started, err)
	}
}
