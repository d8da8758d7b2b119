package notify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/notify"
)

// Mail carries customers' link tokens: without an explicit opt-out in SMTP_URL, it leaves only
// over TLS, and credentials leave only over TLS whatever the URL says.
func TestSMTPRequiresTLSUnlessTheURLSaysOtherwise(t *testing.T) {
	cases := []struct {
		name    string
		mode    serverMode
		user    string // the server requires AUTH as this user (password s3cret)
		url     func(addr string) string
		wantErr string // "" means delivered
		wantTLS bool
	}{
		{
			name: "a server that offers no STARTTLS (or whose offer was stripped on the path) gets no mail",
			mode: plainText, url: func(a string) string { return "smtp://" + a }, wantErr: "STARTTLS",
		},
		{
			name: "an explicit tls=starttls behaves as the default",
			mode: plainText, url: func(a string) string { return "smtp://" + a + "?tls=starttls" }, wantErr: "STARTTLS",
		},
		{
			name: "STARTTLS offered is STARTTLS used",
			mode: startTLS, url: func(a string) string { return "smtp://" + a }, wantTLS: true,
		},
		{
			name: "tls=none says explicitly that the relay is reached in clear text",
			mode: plainText, url: func(a string) string { return "smtp://" + a + "?tls=none" }, wantTLS: false,
		},
		{
			name: "tls=none still uses nothing but clear text, even when STARTTLS is offered",
			mode: startTLS, url: func(a string) string { return "smtp://" + a + "?tls=none" }, wantTLS: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMTP(t, tc.mode, tc.user, "s3cret")
			delivered, err := newMailer(t, tc.url(srv.addr), srv).Send(context.Background(), italianAndTurkish)
			got := srv.received()
			if tc.wantErr != "" {
				if err == nil || delivered || len(got) != 0 {
					t.Fatalf("want a refused send, got delivered=%v err=%v, %d received", delivered, err, len(got))
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("the error must say why (%s): %v", tc.wantErr, err)
				}
				return
			}
			if err != nil || !delivered || len(got) != 1 || got[0].tls != tc.wantTLS {
				t.Fatalf("send: delivered=%v err=%v, %d received (tls want %v)", delivered, err, len(got), tc.wantTLS)
			}
		})
	}
}

func TestSMTPURLTLSOption(t *testing.T) {
	cases := []struct {
		name, url string
		wantErr   string // "" means accepted
	}{
		{
			"credentials with clear text are refused: they would leave unencrypted",
			"smtp://relay:s3cret@mail.example:25?tls=none",
			"credentials",
		},
		{"credentials with the default STARTTLS are accepted", "smtp://relay:s3cret@mail.example:587", ""},
		{"clear text without credentials is accepted when said explicitly", "smtp://mail.example:25?tls=none", ""},
		{"an unknown tls value is refused rather than guessed", "smtp://mail.example:25?tls=off", "tls"},
		{"an unknown option is refused rather than ignored", "smtp://mail.example:25?starttls=no", "starttls"},
		{"smtps is TLS from the first byte and takes no tls option", "smtps://mail.example?tls=none", "smtps"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notify.NewMailer(tc.url, "a@b.example")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want an error naming %q, got %v", tc.wantErr, err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error reveals the password: %v", err)
			}
		})
	}
}
