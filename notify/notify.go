// Package notify delivers partnerflow's messages to people: e-mail over SMTP, or, when no SMTP
// server is configured, the log (the activity has already written the outbox row).
package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Message is one plain-text e-mail.
type Message struct {
	To      string
	Subject string
	Body    string
	// ID is stable across retries of the same message, so receivers can drop duplicates.
	ID string
}

// Mailer sends e-mail.
type Mailer interface {
	// Send delivers m; Delivered reports whether it left partnerflow (false for the log mailer).
	Send(ctx context.Context, m Message) (delivered bool, err error)
}

// NewMailer returns an SMTP mailer for smtpURL (smtp://user:pass@host:port, or smtps:// for
// implicit TLS), or a log-only mailer when smtpURL is empty.
func NewMailer(smtpURL, from string) (Mailer, error) {
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("PARTNERFLOW_MAIL_FROM %q: %w", from, err)
	}
	if smtpURL == "" {
		return LogMailer{Logger: slog.Default()}, nil
	}
	u, err := url.Parse(smtpURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
		return nil, fmt.Errorf("SMTP_URL must look like smtp://user:pass@host:587")
	}
	return &SMTPMailer{url: u, from: from}, nil
}

// LogMailer writes each message's recipient and subject to the log; the body stays in the outbox.
type LogMailer struct{ Logger *slog.Logger }

// Send logs the message.
func (l LogMailer) Send(ctx context.Context, m Message) (bool, error) {
	l.Logger.InfoContext(ctx, "mail not sent: no SMTP_URL configured; it is in the outbox", "to", m.To, "subject", m.Subject, "message_id", m.ID)
	return false, nil
}

// SMTPMailer sends through an SMTP server, with STARTTLS when offered and AUTH PLAIN when the
// URL carries credentials.
type SMTPMailer struct {
	url  *url.URL
	from string
}

// Send delivers m.
func (s *SMTPMailer) Send(ctx context.Context, m Message) (bool, error) {
	host := s.url.Hostname()
	dialer := &net.Dialer{Timeout: 15 * time.Second}
	var conn net.Conn
	var err error
	if s.url.Scheme == "smtps" {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: &tls.Config{ServerName: host}}).DialContext(ctx, "tcp", s.url.Host)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", s.url.Host)
	}
	if err != nil {
		return false, fmt.Errorf("connect to SMTP %s: %w", s.url.Host, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return false, fmt.Errorf("SMTP greeting: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok && s.url.Scheme == "smtp" {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return false, fmt.Errorf("SMTP STARTTLS: %w", err)
		}
	}
	if user := s.url.User; user != nil {
		pass, _ := user.Password()
		if err := c.Auth(smtp.PlainAuth("", user.Username(), pass, host)); err != nil {
			return false, fmt.Errorf("SMTP AUTH: %w", err)
		}
	}
	if err := c.Mail(s.from); err != nil {
		return false, fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return false, fmt.Errorf("SMTP RCPT TO %s: %w", m.To, err)
	}
	w, err := c.Data()
	if err != nil {
		return false, fmt.Errorf("SMTP DATA: %w", err)
	}
	if _, err := w.Write(Compose(s.from, m)); err != nil {
		return false, fmt.Errorf("SMTP write: %w", err)
	}
	if err := w.Close(); err != nil {
		return false, fmt.Errorf("SMTP end of data: %w", err)
	}
	return true, c.Quit()
}

// Compose renders m as an RFC 5322 message in UTF-8.
func Compose(from string, m Message) []byte {
	var b strings.Builder
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from)
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	if m.ID != "" {
		header("Message-ID", "<"+m.ID+"@partnerflow>")
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n"))
	return []byte(b.String())
}
