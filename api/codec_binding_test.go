package api_test

import (
	"bytes"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/models"
)

// What /codec/encode returns lets an operator's Web UI show a payload, never a worker run one: an
// admin agent's key with access to the Temporal frontend must not start or signal a workflow
// with input the API's role checks never saw.
func TestCodecEncodeOutputIsRefusedByWorkers(t *testing.T) {
	f := newFixture(t, nil)
	c, err := codec.New(bytes.Repeat([]byte{9}, 32)) // the fixture's key
	if err != nil {
		t.Fatal(err)
	}
	ops := f.anon.As(f.keys[models.RoleAdminAgent])
	plain := `{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"Ik1BUktFUiI="}]}`
	enc := ops.Do("POST", "/codec/encode", plain)
	if enc.Status != 200 {
		t.Fatalf("encode: %d %s", enc.Status, enc.Body)
	}
	var sealed commonpb.Payloads
	if err := protojson.Unmarshal(enc.Body, &sealed); err != nil || len(sealed.Payloads) != 1 {
		t.Fatalf("encode answered %s (%v)", enc.Body, err)
	}
	if bytes.Contains(sealed.Payloads[0].Data, []byte("MARKER")) {
		t.Fatal("the encoded payload shows its plaintext")
	}

	for _, tc := range []struct {
		name  string
		codec *codec.Codec
	}{
		{"a worker running a workflow refuses it", c.ForWorkflow("customer/p/contoso.example")},
		{"a codec bound to no workflow refuses it", c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.codec.Decode(sealed.Payloads); err == nil ||
				!strings.Contains(err.Error(), "codec endpoint") {
				t.Fatalf("a payload from /codec/encode must be refused as the codec endpoint's, got %v", err)
			}
		})
	}

	// The Web UI still shows what it encoded.
	dec := ops.Do("POST", "/codec/decode", string(enc.Body))
	if dec.Status != 200 || !bytes.Contains(dec.Body, []byte("Ik1BUktFUiI=")) {
		t.Fatalf("decode of an encoded payload: %d %s", dec.Status, dec.Body)
	}
}
