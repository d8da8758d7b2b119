// Package notify delivers partnerflow's messages to people: e-mail over SMTP, or, when no SMTP
// server is configured, the log (the activity has already written the outbox row). Render
// turns a message kind, a language and its data into the subject, text and HTML to send.
package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one e-mail: plain text, with an HTML alternative when HTML is set.
type Message struct {
	To      string
	Subject string
	// Body is the plain-text part, the one every mail client can show.
	Body string
	// HTML is the HTML alternative of Body; empty sends plain text only.
	HTML string
	// Language is the message's language (one of Languages), sent as Content-Language.
	Language string
	// ID is stable across retries of the same message, so receivers can drop duplicates: it
	// becomes the Message-ID.
	ID string
}

// Mailer sends e-mail.
type Mailer interface {
	// Send delivers m; Delivered reports whether it left partnerflow (false for the log mailer).
	Send(ctx context.Context, m Message) (delivered bool, err error)
}

// Default ports when SMTP_URL names none: submission with STARTTLS, and implicit TLS.
const (
	defaultSMTPPort  = 587
	defaultSMTPSPort = 465
)

// smtpTimeout bounds connecting to the SMTP server and each command.
const smtpTimeout = 15 * time.Second

// SMTP_URL's tls option: how an smtp:// URL reaches its server. Mail carries customers' link
// tokens, so TLS is required unless the URL says otherwise.
const (
	// SMTPTLSStartTLS, the default, requires STARTTLS: a server that does not offer it, or whose
	// offer was stripped on the way, gets no mail.
	SMTPTLSStartTLS = "starttls"
	// SMTPTLSNone sends in clear text, for a relay on the same host or a trusted network; such a
	// URL may carry no credentials.
	SMTPTLSNone = "none"
)

// NewMailer returns an SMTP mailer for smtpURL (smtp://user:pass@host:port with STARTTLS
// required, smtp://host:port?tls=none in clear text, or smtps:// for implicit TLS), or a
// log-only mailer when smtpURL is empty. Credentials are refused on a URL without TLS.
func NewMailer(smtpURL, from string) (Mailer, error) {
	sender, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("PARTNERFLOW_MAIL_FROM %q: %w", from, err)
	}
	if smtpURL == "" {
		return LogMailer{Logger: slog.Default()}, nil
	}
	u, err := url.Parse(smtpURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, fmt.Errorf("SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465")
	}
	port := defaultSMTPPort
	if u.Scheme == "smtps" {
		port = defaultSMTPSPort
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("SMTP_URL port %q is not a port number", p)
		}
	}
	clearText, err := clearTextOption(u)
	if err != nil {
		return nil, err
	}
	if clearText && u.User != nil {
		return nil, fmt.Errorf(
			"SMTP_URL has credentials and tls=%s: credentials are never sent without TLS; "+
				"use STARTTLS (the default) or smtps://",
			SMTPTLSNone,
		)
	}
	s := &SMTPMailer{
		host:        u.Hostname(),
		port:        port,
		implicitTLS: u.Scheme == "smtps",
		clearText:   clearText,
		from:        from,
		domain:      "partnerflow",
	}
	if at := strings.LastIndex(sender.Address, "@"); at >= 0 {
		s.domain = sender.Address[at+1:]
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	return s, nil
}

// clearTextOption reads SMTP_URL's options: only tls, only on smtp://, and only a value it knows,
// so that a misspelt opt-out fails at start instead of changing how mail travels.
func clearTextOption(u *url.URL) (bool, error) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return false, fmt.Errorf("SMTP_URL options: %w", err)
	}
	for name := range q {
		if name != "tls" {
			return false, fmt.Errorf(
				"SMTP_URL option %q is unknown; the only option is tls=%s or tls=%s",
				name,
				SMTPTLSStartTLS,
				SMTPTLSNone,
			)
		}
	}
	if !q.Has("tls") {
		return false, nil
	}
	if u.Scheme == "smtps" {
		return false, errors.New("SMTP_URL: smtps:// is TLS from the first byte and takes no tls option")
	}
	switch v := q.Get("tls"); v {
	case SMTPTLSStartTLS:
		return false, nil
	case SMTPTLSNone:
		return true, nil
	default:
		return false, fmt.Errorf(
			"SMTP_URL option tls=%q is unknown; use tls=%s (the default) or tls=%s",
			v,
			SMTPTLSStartTLS,
			SMTPTLSNone,
		)
	}
}

// LogMailer writes each message's recipient and subject to the log; the body stays in the outbox.
type LogMailer struct{ Logger *slog.Logger }

// Send logs the message.
func (l LogMailer) Send(ctx context.Context, m Message) (bool, error) {
	l.Logger.InfoContext(
		ctx,
		"mail not sent: no SMTP_URL configured; it is in the outbox",
		"to", m.To,
		"subject", m.Subject,
		"language", m.Language,
		"message_id", m.ID,
	)
	return false, nil
}

// SMTPMailer sends through an SMTP server over TLS: STARTTLS, required (implicit TLS for
// smtps://), or clear text when the URL says tls=none. With credentials (never in clear text) it
// authenticates with the strongest mechanism the server offers.
type SMTPMailer struct {
	host        string
	port        int
	implicitTLS bool
	clearText   bool
	user, pass  string
	from        string
	// domain is the sender's domain, the right-hand side of Message-IDs.
	domain string
	// rootCAs verifies the server's certificate; nil means the system's roots.
	rootCAs *x509.CertPool
}

// Send delivers m.
func (s *SMTPMailer) Send(ctx context.Context, m Message) (bool, error) {
	msg, err := s.compose(m)
	if err != nil {
		return false, err
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(smtpTimeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.host, RootCAs: s.rootCAs, MinVersion: tls.VersionTLS12}),
	}
	switch {
	case s.implicitTLS:
		opts = append(opts, gomail.WithSSL())
	case s.clearText:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.user != "" {
		opts = append(
			opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.user),
			gomail.WithPassword(s.pass),
		)
	}
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return false, fmt.Errorf("configure the SMTP client for %s: %w", s.host, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return false, fmt.Errorf("send mail to %s through %s:%d: %w", m.To, s.host, s.port, err)
	}
	return true, nil
}

// compose builds the MIME message: quoted-printable UTF-8 parts, multipart/alternative when
// there is HTML, encoded headers.
func (s *SMTPMailer) compose(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("sender %q: %w", s.from, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.ID != "" {
		msg.SetMessageIDWithValue(messageID(m.ID) + "@" + s.domain)
	} else {
		msg.SetMessageID()
	}
	if m.Language != "" {
		msg.SetGenHeader(gomail.HeaderContentLang, m.Language)
	}
	// RFC 3834: a notification, so vacation responders stay quiet.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// messageID makes id the left-hand side of a Message-ID (RFC 5322 dot-atom text): characters
// outside it, and "%" itself, are percent-encoded, so distinct IDs stay distinct.
func messageID(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if isAtext(c) && c != '%' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
