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

func TestTokens(t *testing.T) {
	s := links.NewSigner(bytes.Repeat([]byte{3}, 32))
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	good := s.Token(links.PurposeAcceptInvitation, "inv-1", now.Add(time.Hour))
	cases := []struct {
		name    string
		purpose string
		token   string
		at      time.Time
		want    string
		err     error
	}{
		{"a fresh token names its invitation", links.PurposeAcceptInvitation, good, now, "inv-1", nil},
		{
			"an expired token is refused",
			links.PurposeAcceptInvitation,
			good,
			now.Add(2 * time.Hour),
			"",
			links.ErrExpired,
		},
		{"a token for another purpose is refused", "other", good, now, "", links.ErrMalformed},
		{
			"a token for another invitation with this signature is refused",
			links.PurposeAcceptInvitation,
			strings.Replace(good, "inv-1", "inv-2", 1),
			now,
			"",
			links.ErrMalformed,
		},
		{
			"a token whose expiry was pushed out is refused",
			links.PurposeAcceptInvitation,
			strings.Replace(
				good,
				strconv.FormatInt(now.Add(time.Hour).Unix(), 10),
				strconv.FormatInt(now.Add(999*time.Hour).Unix(), 10),
				1,
			),
			now,
			"",
			links.ErrMalformed,
		},
		{
			"a token signed with another key is refused",
			links.PurposeAcceptInvitation,
			links.NewSigner(bytes.Repeat([]byte{4}, 32)).Token(
				links.PurposeAcceptInvitation, "inv-1", now.Add(time.Hour),
			),
			now,
			"",
			links.ErrMalformed,
		},
		{"garbage is refused", links.PurposeAcceptInvitation, "hello", now, "", links.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Verify(tc.purpose, tc.token, tc.at)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("Verify = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
