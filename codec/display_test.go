package codec_test

import (
	"bytes"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

func TestPayloadsEncodedForDisplayOpenOnlyForDisplay(t *testing.T) {
	c := newCodec(t, 1)
	plain, err := converter.GetDefaultDataConverter().ToPayload("MARKER made up by an operator")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := c.EncodeForDisplay([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed[0].Data, []byte("MARKER")) {
		t.Fatal("a payload encoded for display shows its plaintext")
	}
	out, err := c.DecodeForDisplay(sealed)
	if err != nil || !proto.Equal(out[0], plain) {
		t.Fatalf("the remote codec must open what it encoded: %v", err)
	}

	edits := []struct {
		name string
		edit func(p *commonpb.Payload) *commonpb.Payload
	}{
		{"as it is", func(p *commonpb.Payload) *commonpb.Payload { return p }},
		{"stripped of its mark, as if it were of the first format", func(p *commonpb.Payload) *commonpb.Payload {
			q := proto.Clone(p).(*commonpb.Payload)
			delete(q.Metadata, "encryption-codec-endpoint")
			return q
		}},
		{"relabelled for the workflow", func(p *commonpb.Payload) *commonpb.Payload {
			q := proto.Clone(p).(*commonpb.Payload)
			delete(q.Metadata, "encryption-codec-endpoint")
			q.Metadata["encryption-workflow-id"] = []byte("customer/p1/contoso.example")
			return q
		}},
	}
	for _, tc := range edits {
		t.Run("a payload encoded for display, "+tc.name+", does not open in a worker", func(t *testing.T) {
			p := tc.edit(sealed[0])
			var got string
			if err := inWorkflow(c.DataConverter(), "customer/p1/contoso.example").FromPayload(p, &got); err == nil {
				t.Fatalf("a worker running the workflow opened it: %q", got)
			}
			if err := c.DataConverter().FromPayload(p, &got); err == nil {
				t.Fatalf("a worker outside a workflow opened it: %q", got)
			}
		})
	}
}
