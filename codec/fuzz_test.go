package codec_test

import (
	"bytes"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/partnerflow/partnerflow/codec"
)

func fuzzCodec(t testing.TB, fill byte) *codec.Codec {
	c, err := codec.New(bytes.Repeat([]byte{fill}, codec.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FuzzRoundTrip seals arbitrary payloads: Decode(Encode(p)) is p, the ciphertext does not
// contain the plaintext, any change to a sealed payload's data makes it fail to open, and
// another key cannot open it.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(`{"customerDomain":"contoso.onmicrosoft.com"}`), "json/plain", "", []byte(nil), uint16(0), byte(1))
	f.Add([]byte{}, "binary/null", "k", []byte("v"), uint16(12), byte(0x80))
	f.Add([]byte("secret password"), codec.Encoding, "encryption-key-id", []byte("00000000"), uint16(40), byte(0xff))
	c, other := fuzzCodec(f, 3), fuzzCodec(f, 4)
	f.Fuzz(func(t *testing.T, data []byte, encoding, metaKey string, metaValue []byte, pos uint16, flip byte) {
		p := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte(encoding)}, Data: data}
		if metaKey != "" {
			p.Metadata[metaKey] = metaValue
		}
		sealed, err := c.Encode([]*commonpb.Payload{p})
		if _, merr := proto.Marshal(p); merr != nil {
			// Not a payload protobuf can carry (a metadata key that is not UTF-8): refused.
			if err == nil {
				t.Fatalf("Encode sealed a payload protobuf cannot marshal (%v)", merr)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if len(data) >= 8 && bytes.Contains(sealed[0].Data, data) {
			t.Fatalf("the sealed payload contains its plaintext %q", data)
		}
		opened, err := c.Decode(sealed)
		if err != nil {
			t.Fatalf("Decode(Encode(p)): %v", err)
		}
		if len(opened) != 1 || !proto.Equal(opened[0], p) {
			t.Fatalf("Decode(Encode(p)) = %v, want %v", opened, p)
		}
		if _, err := other.Decode(sealed); err == nil {
			t.Fatal("another key opened the payload")
		}
		tampered := proto.Clone(sealed[0]).(*commonpb.Payload)
		if flip != 0 {
			tampered.Data[int(pos)%len(tampered.Data)] ^= flip
		} else {
			tampered.Data = tampered.Data[:int(pos)%len(tampered.Data)]
		}
		if _, err := c.Decode([]*commonpb.Payload{tampered}); err == nil {
			t.Fatalf("a payload with its ciphertext changed at byte %d opened", int(pos)%len(sealed[0].Data))
		}
	})
}

// FuzzDecode opens arbitrary payloads, marked as sealed or not: Decode never panics, and
// nothing opens unless it was sealed with the key.
func FuzzDecode(f *testing.F) {
	c := fuzzCodec(f, 3)
	sealed, err := c.Encode([]*commonpb.Payload{{
		Metadata: map[string][]byte{"encoding": []byte("json/plain")},
		Data:     []byte(`"x"`),
	}})
	if err != nil {
		f.Fatal(err)
	}
	wire, err := proto.Marshal(sealed[0])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wire)
	f.Add([]byte{})
	f.Add([]byte("\x0a\x08encoding\x12\x10binary/encrypted"))
	f.Fuzz(func(t *testing.T, wire []byte) {
		var p commonpb.Payload
		if proto.Unmarshal(wire, &p) != nil {
			return
		}
		out, err := c.Decode([]*commonpb.Payload{&p})
		if err != nil || string(p.Metadata["encoding"]) != codec.Encoding {
			return
		}
		// It opened: it must be a payload this key sealed, which seals again to something that
		// opens to the same plaintext.
		again, err := c.Encode(out)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Decode(again)
		if err != nil || !proto.Equal(back[0], out[0]) {
			t.Fatalf("an opened payload does not round-trip: %v", err)
		}
	})
}

// metadataWorkflowID is the metadata key naming the workflow a payload is bound to.
const metadataWorkflowID = "encryption-workflow-id"

// FuzzWorkflowBinding seals payloads for one workflow: they open for it, and never for another
// workflow, whether the payload's metadata names the other workflow, the original or none.
func FuzzWorkflowBinding(f *testing.F) {
	f.Add(
		"invitation/7f1c3a52/contoso.onmicrosoft.com",
		"invitation/7f1c3a52/fabrikam.onmicrosoft.com",
		[]byte(`{"customerEmail":"admin@contoso.com"}`),
	)
	f.Add("a", "a\x00", []byte{})
	f.Add("customer/cus_1", "", []byte("x"))
	c := fuzzCodec(f, 5)
	f.Fuzz(func(t *testing.T, owner, other string, data []byte) {
		if owner == "" {
			return // unbound payloads are FuzzRoundTrip's
		}
		p := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: data}
		sealed, err := c.ForWorkflow(owner).Encode([]*commonpb.Payload{p})
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		opened, err := c.ForWorkflow(owner).Decode(sealed)
		if err != nil || !proto.Equal(opened[0], p) {
			t.Fatalf("a payload sealed for %q does not open for it: %v", owner, err)
		}
		if other == owner || other == "" {
			return
		}
		moved := c.ForWorkflow(other)
		for _, meta := range []func(m map[string][]byte){
			func(map[string][]byte) {},
			func(m map[string][]byte) { m[metadataWorkflowID] = []byte(other) },
			func(m map[string][]byte) { delete(m, metadataWorkflowID) },
		} {
			forged := proto.Clone(sealed[0]).(*commonpb.Payload)
			meta(forged.Metadata)
			if _, err := moved.Decode([]*commonpb.Payload{forged}); err == nil {
				t.Fatalf("a payload sealed for %q opened for %q with metadata %q", owner, other, forged.Metadata)
			}
		}
	})
}
