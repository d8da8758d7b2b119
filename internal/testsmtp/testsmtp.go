// Package testsmtp runs a real SMTP server in the test process and keeps what it receives, so
// tests see partnerflow's mail as a mail server does.
package testsmtp

import (
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Message is one received mail.
type Message struct {
	From    string
	To      []string
	Subject string
	// Raw is the message as received, headers and MIME parts.
	Raw string
}

// Server is an SMTP server on 127.0.0.1 that accepts every message, or refuses the recipients
// Refuse names.
type Server struct {
	// URL is the server's SMTP_URL; it says tls=none, since the server offers no TLS.
	URL string
	mu  sync.Mutex
	got []Message
	// refuse holds recipients whose RCPT is refused (a mailbox that does not exist).
	refuse map[string]bool
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{refuse: map[string]bool{}}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.URL = "smtp://" + l.Addr().String() + "?tls=none"
	return s
}

// Refuse makes the server refuse mail to addr until Accept.
func (s *Server) Refuse(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[strings.ToLower(addr)] = true
}

// Accept lets mail to addr through again.
func (s *Server) Accept(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refuse, strings.ToLower(addr))
}

// Messages returns what the server received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.got...)
}

// To returns the messages received for one recipient.
func (s *Server) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Link finds the first link in m whose path holds path, reading the message's quoted-printable
// parts as a mail client does; "" when there is none.
func (m Message) Link(path string) string {
	decoded, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Raw)))
	if err != nil {
		decoded = []byte(m.Raw)
	}
	for _, field := range strings.FieldsFunc(string(decoded), func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\r' || r == '"' || r == '<' || r == '>'
	}) {
		if strings.HasPrefix(field, "http") && strings.Contains(field, path) {
			return field
		}
	}
	return ""
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error { ss.from = from; return nil }

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.refuse[strings.ToLower(to)] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: ss.from, To: ss.to, Raw: string(raw)}
	if msg, err := mail.ReadMessage(strings.NewReader(string(raw))); err == nil {
		subject := msg.Header.Get("Subject")
		if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
			subject = dec
		}
		m.Subject = subject
	}
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, m)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }
