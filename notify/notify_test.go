package notify_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/notify"
)

// smtpSink is a minimal SMTP server on loopback that records what it receives.
func smtpSink(t *testing.T) (addr string, got chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	got = make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		say := func(s string) { _, _ = conn.Write([]byte(s + "\r\n")) }
		say("220 sink ready")
		var transcript strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			transcript.WriteString(line)
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				say("250 sink")
			case cmd == "DATA":
				say("354 go ahead")
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if l == ".\r\n" {
						break
					}
					transcript.WriteString(l)
				}
				say("250 queued")
			case cmd == "QUIT":
				say("221 bye")
				got <- transcript.String()
				return
			default:
				say("250 ok")
			}
		}
	}()
	return ln.Addr().String(), got
}

func TestSMTPMailerDelivers(t *testing.T) {
	addr, got := smtpSink(t)
	m, err := notify.NewMailer("smtp://"+addr, "partnerflow@example.com")
	if err != nil {
		t.Fatal(err)
	}
	delivered, err := m.Send(context.Background(), notify.Message{To: "admin@contoso.onmicrosoft.com", Subject: "Einladung – Contoso", Body: "Hello\nLine two", ID: "inv-1/mail"})
	if err != nil || !delivered {
		t.Fatalf("send: %v %v", delivered, err)
	}
	transcript := <-got
	for _, want := range []string{"MAIL FROM:<partnerflow@example.com>", "RCPT TO:<admin@contoso.onmicrosoft.com>", "Subject: =?utf-8?q?Einladung_=E2=80=93_Contoso?=", "Message-ID: <inv-1/mail@partnerflow>", "Hello\r\nLine two"} {
		if !strings.Contains(transcript, want) {
			t.Errorf("the server did not receive %q in:\n%s", want, transcript)
		}
	}
}

func TestNewMailer(t *testing.T) {
	cases := []struct {
		name, url, from string
		ok, logOnly     bool
	}{
		{"no SMTP URL means the log mailer", "", "a@b.example", true, true},
		{"an smtp URL means SMTP", "smtp://u:p@mail.example:587", "a@b.example", true, false},
		{"an http URL is refused", "http://mail.example", "a@b.example", false, false},
		{"a bad sender address is refused", "", "not an address", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := notify.NewMailer(tc.url, tc.from)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if _, isLog := m.(notify.LogMailer); tc.ok && isLog != tc.logOnly {
				t.Fatalf("mailer %T", m)
			}
		})
	}
}

func TestSMTPFailureIsAnError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	_ = ln.Close()
	m, _ := notify.NewMailer("smtp://"+addr, "a@b.example")
	if _, err := m.Send(context.Background(), notify.Message{To: "x@y.example"}); err == nil {
		t.Fatal("a closed SMTP port must fail the send, so the activity retries")
	}
}
