package links_test

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/links"
)

var (
	fuzzSigner   = links.NewSigner(bytes.Repeat([]byte{7}, 32))
	fuzzPurposes = []string{links.PurposeAcceptInvitation, links.PurposeResellerPartnership, links.PurposeAgreement}
)

// FuzzTokenRoundTrip checks that a token verifies to its subject for its purpose until it
// expires, that it is refused for every other purpose and once expired, and that any change to
// it is refused.
func FuzzTokenRoundTrip(f *testing.F) {
	f.Add("inv_0123456789abcdef", int64(1741600800), uint8(0), uint16(0), byte(1), "")
	f.Add("res_adatum01", int64(0), uint8(1), uint16(20), byte(0), "x")
	f.Add("cus.with.dots", int64(-1), uint8(2), uint16(3), byte(0x20), ".0")
	f.Add("", int64(253402300799), uint8(0), uint16(64), byte(0x80), "")
	f.Fuzz(func(t *testing.T, subject string, expiry int64, purpose uint8, pos uint16, flip byte, suffix string) {
		p := fuzzPurposes[int(purpose)%len(fuzzPurposes)]
		expires := time.Unix(expiry, 0)
		token := fuzzSigner.Token(p, subject, expires)

		got, err := fuzzSigner.Verify(p, token, expires)
		if err != nil || got != subject {
			t.Fatalf("Verify(Token(%q)) = %q, %v", subject, got, err)
		}
		if expiry < 1<<62 {
			if _, err := fuzzSigner.Verify(p, token, expires.Add(time.Second)); !errors.Is(err, links.ErrExpired) {
				t.Fatalf("a token a second after its expiry: %v, want ErrExpired", err)
			}
		}
		for _, other := range fuzzPurposes {
			if other == p {
				continue
			}
			if _, err := fuzzSigner.Verify(other, token, expires); !errors.Is(err, links.ErrMalformed) {
				t.Fatalf("a %s token verified as %s: %v", p, other, err)
			}
		}
		if _, err := links.NewSigner(bytes.Repeat([]byte{8}, 32)).Verify(p, token, expires); err == nil {
			t.Fatal("a token verified under another key")
		}

		b := []byte(token)
		b[int(pos)%len(b)] ^= flip
		mutated := string(b) + suffix
		if mutated == token {
			return
		}
		if got, err := fuzzSigner.Verify(p, mutated, expires); err == nil {
			t.Fatalf("the altered token %q (from %q) verified, subject %q", mutated, token, got)
		}
	})
}

// FuzzVerify checks arbitrary tokens: whatever verifies is exactly the token the signer makes
// for the subject and expiry it carries.
func FuzzVerify(f *testing.F) {
	at := time.Unix(1741600800, 0)
	f.Add(fuzzSigner.Token(links.PurposeAcceptInvitation, "inv_1", at.Add(time.Hour)), uint8(0))
	f.Add(fuzzSigner.Token(links.PurposeAgreement, "cus_1", at), uint8(2))
	f.Add("inv_1.1741600800.", uint8(0))
	f.Add("..", uint8(1))
	f.Add("", uint8(0))
	f.Fuzz(func(t *testing.T, token string, purpose uint8) {
		p := fuzzPurposes[int(purpose)%len(fuzzPurposes)]
		subject, err := fuzzSigner.Verify(p, token, at)
		if err != nil {
			if !errors.Is(err, links.ErrMalformed) && !errors.Is(err, links.ErrExpired) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		rest, ok := strings.CutPrefix(token, subject+".")
		if !ok {
			t.Fatalf("token %q verified to subject %q it does not start with", token, subject)
		}
		expiry, err := strconv.ParseInt(rest[:strings.IndexByte(rest, '.')], 10, 64)
		if err != nil {
			t.Fatalf("token %q verified with an expiry that is not a number: %v", token, err)
		}
		if want := fuzzSigner.Token(p, subject, time.Unix(expiry, 0)); want != token {
			t.Fatalf("token %q verified, but the signer makes %q for its subject and expiry", token, want)
		}
	})
}
