package codec_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

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
