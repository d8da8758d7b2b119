package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/partnerflow/partnerflow/notify"
)

// received is one message as the test SMTP server took it.
type received struct {
	from     string
	to       []string
	data     []byte
	authUser string
	tls      bool
}

// smtpServer is a real SMTP server (emersion/go-smtp) in the test process.
type smtpServer struct {
	addr string
	// roots trusts the server's certificate.
	roots *x509.CertPool

	mu        sync.Mutex
	messages  []received
	authTried bool
}

type serverMode int

const (
	plainText    serverMode = iota // no TLS at all
	startTLS                       // STARTTLS offered
	implicitTLS                    // TLS from the first byte (smtps)
	insecureAuth                   // no TLS, yet AUTH PLAIN offered
)

// startSMTP starts a server; with a user, it offers AUTH PLAIN and requires it.
func startSMTP(t *testing.T, mode serverMode, user, pass string) *smtpServer {
	t.Helper()
	cert, roots := selfSigned(t)
	s := &smtpServer{roots: roots}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c, user: user, pass: pass}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = testLogger{t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch mode {
	case startTLS:
		srv.TLSConfig = tlsCfg
	case implicitTLS:
		ln = tls.NewListener(ln, tlsCfg)
	case insecureAuth:
		srv.AllowInsecureAuth = true
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *smtpServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.messages...)
}

type session struct {
	srv        *smtpServer
	conn       *smtp.Conn
	user, pass string
	authUser   string
	msg        received
}

func (s *session) AuthMechanisms() []string {
	if s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	s.srv.mu.Lock()
	s.srv.authTried = true
	s.srv.mu.Unlock()
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.user || password != s.pass {
			return errors.New("invalid username or password")
		}
		s.authUser = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.user != "" && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.msg = received{from: from, authUser: s.authUser, tls: isTLS}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = data
	s.srv.mu.Lock()
	s.srv.messages = append(s.srv.messages, s.msg)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf("smtp server: "+format, v...) }
func (l testLogger) Println(v ...any)               { l.t.Log(append([]any{"smtp server:"}, v...)...) }

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// parsed is a received message taken apart.
type parsed struct {
	header      mail.Header
	subject     string
	contentType string
	text, html  string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("the server received no valid message: %v\n%s", err, raw)
	}
	out := parsed{header: msg.Header}
	if out.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("subject %q: %v", msg.Header.Get("Subject"), err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	out.contentType = mediaType
	if !strings.HasPrefix(mediaType, "multipart/") {
		out.text = decodePart(t, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return out
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		partType, partParams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if !strings.EqualFold(partParams["charset"], "utf-8") {
			t.Errorf("part %s has charset %q, want UTF-8", partType, partParams["charset"])
		}
		body := decodePart(t, p.Header.Get("Content-Transfer-Encoding"), p)
		switch partType {
		case "text/plain":
			out.text = body
		case "text/html":
			out.html = body
		}
	}
	return out
}

func decodePart(t *testing.T, encoding string, r io.Reader) string {
	t.Helper()
	if strings.EqualFold(encoding, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func newMailer(t *testing.T, url string, srv *smtpServer) notify.Mailer {
	t.Helper()
	m, err := notify.NewMailer(url, "Contoso Distribuzione <partnerflow@contoso.example>")
	if err != nil {
		t.Fatal(err)
	}
	notify.TrustRoots(m, srv.roots)
	return m
}

// italianAndTurkish is a message whose every part carries Italian and Turkish letters.
var italianAndTurkish = notify.Message{
	To:       "admin@fabrikam.onmicrosoft.com",
	Subject:  "È arrivato l'invito – İş ortağı daveti: ş, ğ, İ",
	Body:     "Gentile amministratore, è il momento.\nSayın Yetkili: ş ğ İ ı ö ü ç\n",
	HTML:     "<p>Gentile amministratore, è il momento.</p><p>Sayın Yetkili: ş ğ İ ı ö ü ç</p>",
	Language: "it",
	ID:       "inv_1/invitation/0",
}

func TestSMTPMailerDeliversBothPartsIntact(t *testing.T) {
	srv := startSMTP(t, plainText, "", "")
	delivered, err := newMailer(t, "smtp://"+srv.addr+"?tls=none", srv).Send(context.Background(), italianAndTurkish)
	if err != nil || !delivered {
		t.Fatalf("send: %v %v", delivered, err)
	}
	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("the server received %d messages", len(got))
	}
	if got[0].from != "partnerflow@contoso.example" || len(got[0].to) != 1 || got[0].to[0] != italianAndTurkish.To {
		t.Fatalf("envelope from %q to %v", got[0].from, got[0].to)
	}
	m := parse(t, got[0].data)
	checks := []struct {
		name      string
		got, want string
	}{
		{"the subject decodes to the Italian and Turkish original", m.subject, italianAndTurkish.Subject},
		{"plain text and HTML are alternatives of one message", m.contentType, "multipart/alternative"},
		{"the plain-text part arrives intact", m.text, italianAndTurkish.Body},
		{"the HTML part arrives intact", m.html, italianAndTurkish.HTML},
		{
			"the message ID is stable per outbox key, for deduplication",
			m.header.Get("Message-Id"),
			"<inv_1/invitation/0@contoso.example>",
		},
		{"the language is declared", m.header.Get("Content-Language"), "it"},
		{"auto-responders are asked to stay quiet", m.header.Get("Auto-Submitted"), "auto-generated"},
		{
			"the sender keeps its display name",
			m.header.Get("From"),
			`"Contoso Distribuzione" <partnerflow@contoso.example>`,
		},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	for _, h := range []string{"Subject", "From", "To"} {
		for _, r := range m.header.Get(h) {
			if r > 127 {
				t.Errorf("header %s is not encoded: %q", h, m.header.Get(h))
				break
			}
		}
	}
}

func TestSMTPMailerSendsPlainTextAloneWithoutHTML(t *testing.T) {
	srv := startSMTP(t, plainText, "", "")
	msg := italianAndTurkish
	msg.HTML = ""
	if _, err := newMailer(t, "smtp://"+srv.addr+"?tls=none", srv).Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	m := parse(t, srv.received()[0].data)
	if m.contentType != "text/plain" || m.text != msg.Body {
		t.Fatalf("a message without HTML is plain text: %s %q", m.contentType, m.text)
	}
}

func TestSMTPMailerTransportSecurity(t *testing.T) {
	cases := []struct {
		name       string
		mode       serverMode
		scheme     string
		serverUser string
		clientAuth string
		wantErr    bool
		wantTLS    bool
		wantUser   string
	}{
		{name: "STARTTLS is used when the server offers it", mode: startTLS, scheme: "smtp", wantTLS: true},
		{
			name:       "credentials in the URL authenticate after STARTTLS",
			mode:       startTLS,
			scheme:     "smtp",
			serverUser: "relay",
			clientAuth: "relay:s3cret",
			wantTLS:    true,
			wantUser:   "relay",
		},
		{
			name:       "smtps:// speaks TLS from the first byte and authenticates",
			mode:       implicitTLS,
			scheme:     "smtps",
			serverUser: "relay",
			clientAuth: "relay:s3cret",
			wantTLS:    true,
			wantUser:   "relay",
		},
		{
			name:       "a wrong password fails the send, so the activity retries and reports it",
			mode:       startTLS,
			scheme:     "smtp",
			serverUser: "relay",
			clientAuth: "relay:wrong",
			wantErr:    true,
		},
		{
			name:       "a password is never sent over an unencrypted connection",
			mode:       insecureAuth,
			scheme:     "smtp",
			serverUser: "relay",
			clientAuth: "relay:s3cret",
			wantErr:    true,
		},
		{
			name:       "a server that offers no AUTH while the URL has credentials is an error, not an anonymous send",
			mode:       startTLS,
			scheme:     "smtp",
			clientAuth: "relay:s3cret",
			wantErr:    true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pass := ""
			if tc.serverUser != "" {
				pass = "s3cret"
			}
			srv := startSMTP(t, tc.mode, tc.serverUser, pass)
			url := tc.scheme + "://" + srv.addr
			if tc.clientAuth != "" {
				url = tc.scheme + "://" + tc.clientAuth + "@" + srv.addr
			}
			delivered, err := newMailer(t, url, srv).Send(context.Background(), italianAndTurkish)
			got := srv.received()
			if tc.wantErr {
				if err == nil || delivered || len(got) != 0 {
					t.Fatalf("want a failed send, got delivered=%v err=%v, %d received", delivered, err, len(got))
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error reveals the password: %v", err)
				}
				return
			}
			if err != nil || !delivered || len(got) != 1 {
				t.Fatalf("send: delivered=%v err=%v, %d received", delivered, err, len(got))
			}
			if got[0].tls != tc.wantTLS || got[0].authUser != tc.wantUser {
				t.Fatalf("tls=%v user=%q, want tls=%v user=%q", got[0].tls, got[0].authUser, tc.wantTLS, tc.wantUser)
			}
		})
	}
	t.Run("the password is not even tried in clear text", func(t *testing.T) {
		srv := startSMTP(t, insecureAuth, "relay", "s3cret")
		_, _ = newMailer(t, "smtp://relay:s3cret@"+srv.addr, srv).Send(context.Background(), italianAndTurkish)
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if srv.authTried {
			t.Fatal("the client attempted AUTH PLAIN without TLS")
		}
	})
	t.Run(
		"a certificate the client does not trust fails the send instead of falling back to clear text",
		func(t *testing.T) {
			srv := startSMTP(t, startTLS, "", "")
			m, err := notify.NewMailer("smtp://"+srv.addr, "partnerflow@contoso.example")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Send(context.Background(), italianAndTurkish); err == nil || len(srv.received()) != 0 {
				t.Fatalf("an untrusted certificate must fail the send: %v", err)
			}
		},
	)
}

func TestNewMailer(t *testing.T) {
	cases := []struct {
		name, url, from string
		ok, logOnly     bool
	}{
		{"no SMTP URL means the log mailer", "", "a@b.example", true, true},
		{"an smtp URL means SMTP", "smtp://u:p@mail.example:587", "a@b.example", true, false},
		{"an smtps URL without a port means SMTP on 465", "smtps://mail.example", "a@b.example", true, false},
		{"an http URL is refused", "http://mail.example", "a@b.example", false, false},
		{"a URL without a host is refused", "smtp://", "a@b.example", false, false},
		{"a port that is no number is refused", "smtp://mail.example:smtp", "a@b.example", false, false},
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
	if _, err := m.Send(context.Background(), notify.Message{To: "x@y.example", Subject: "s", Body: "b"}); err == nil {
		t.Fatal("a closed SMTP port must fail the send, so the activity retries")
	}
}
