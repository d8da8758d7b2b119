package notify_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/notify"
)

// FuzzWebhookSignature checks the signatures partnerflow puts on its webhooks: Verify accepts
// what Sign made, within the tolerance, and refuses it once the body, the timestamp, the secret
// or the signature changes, or the timestamp is out of the tolerance.
func FuzzWebhookSignature(f *testing.F) {
	f.Add(
		"whsec_abc",
		int64(1741600800),
		[]byte(`{"type":"invitation.active"}`),
		[]byte(`{"type":"invitation.expired"}`),
		int64(1),
		uint8(0),
		byte(1),
	)
	f.Add("", int64(0), []byte{}, []byte{0}, int64(-300), uint8(70), byte(0x10))
	f.Add("s", int64(-62135596800), []byte("body"), []byte("body "), int64(1<<40), uint8(3), byte(0))
	f.Fuzz(func(t *testing.T, secret string, unix int64, body, otherBody []byte, shift int64, pos uint8, flip byte) {
		signedAt := time.Unix(unix, 0)
		header := notify.Sign(secret, signedAt, body)
		if err := notify.Verify(secret, header, body, signedAt, 0); err != nil {
			t.Fatalf("Verify(Sign()) at the signing time: %v (header %q)", err, header)
		}
		if err := notify.Verify(secret, header, body, signedAt.Add(notify.DefaultTolerance), 0); err != nil {
			t.Fatalf("Verify(Sign()) at the edge of the tolerance: %v", err)
		}
		if unix < 1<<60 {
			if err := notify.Verify(
				secret,
				header,
				body,
				signedAt.Add(notify.DefaultTolerance+time.Second),
				0,
			); !errors.Is(err, notify.ErrStaleSignature) {
				t.Fatalf("a signature older than the tolerance: %v, want ErrStaleSignature", err)
			}
		}
		if !bytes.Equal(body, otherBody) {
			if err := notify.Verify(secret, header, otherBody, signedAt, 0); !errors.Is(err, notify.ErrBadSignature) {
				t.Fatalf("the signature of %q verified body %q: %v", body, otherBody, err)
			}
		}
		if shift != 0 && (shift > 0) == (unix+shift > unix) { // a shift that does not overflow
			moved := strings.Replace(
				header,
				"t="+strconv.FormatInt(unix, 10),
				"t="+strconv.FormatInt(unix+shift, 10),
				1,
			)
			if err := notify.Verify(
				secret,
				moved,
				body,
				time.Unix(unix+shift, 0),
				0,
			); !errors.Is(err, notify.ErrBadSignature) {
				t.Fatalf("the signature verified with its timestamp moved by %ds: %v", shift, err)
			}
		}
		if err := notify.Verify(secret+"x", header, body, signedAt, 0); !errors.Is(err, notify.ErrBadSignature) {
			t.Fatalf("the signature verified under another secret: %v", err)
		}
		b := []byte(header)
		b[int(pos)%len(b)] ^= flip
		if altered := string(b); altered != header {
			if err := notify.Verify(secret, altered, body, signedAt, 0); err == nil &&
				!equivalentHeader(altered, header) {
				t.Fatalf("the altered header %q (from %q) verified", altered, header)
			}
		}
	})
}

// equivalentHeader reports whether an altered header still carries the original timestamp and
// signature: Verify trims spaces around its parts and ignores keys it does not know, and hex
// is case-insensitive, so such a change is not a forgery.
func equivalentHeader(altered, original string) bool {
	norm := func(h string) string {
		var kept []string
		for _, part := range strings.Split(h, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if k == "t" || k == "v1" {
				kept = append(kept, k+"="+strings.ToLower(v))
			}
		}
		return strings.Join(kept, ",")
	}
	return norm(altered) == norm(original)
}

// FuzzWebhookVerify checks arbitrary signature headers against a body: Verify never panics and
// refuses with ErrBadSignature or ErrStaleSignature anything the secret did not sign.
func FuzzWebhookVerify(f *testing.F) {
	now := time.Unix(1741600800, 0)
	body := []byte(`{"type":"invitation.active","data":{"id":"inv_1"}}`)
	f.Add(notify.Sign("whsec_k", now, body), body)
	f.Add("t=1741600800,v1=00,v1=zz", body)
	f.Add("t=,v1=", []byte{})
	f.Add(" t = 1 , v1 = ab ", []byte("x"))
	f.Add("t=99999999999999999999,v1=aa", []byte("x"))
	f.Add("garbage", []byte(nil))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := notify.Verify("whsec_k", header, body, now, 0)
		if err != nil {
			if !errors.Is(err, notify.ErrBadSignature) && !errors.Is(err, notify.ErrStaleSignature) {
				t.Fatalf("Verify(%q): error %v wraps neither ErrBadSignature nor ErrStaleSignature", header, err)
			}
			return
		}
		// Accepted: the last t must come with a v1 that is the HMAC-SHA256 of "<t>.<body>" under
		// the secret, as the README documents for receivers.
		var ts string
		var sigs []string
		for _, part := range strings.Split(header, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "t":
				ts = v
			case "v1":
				sigs = append(sigs, strings.ToLower(v))
			}
		}
		mac := hmac.New(sha256.New, []byte("whsec_k"))
		mac.Write([]byte(ts + "." + string(body)))
		if !slices.Contains(sigs, hex.EncodeToString(mac.Sum(nil))) {
			t.Fatalf("Verify accepted %q, which carries no signature the secret made", header)
		}
	})
}
