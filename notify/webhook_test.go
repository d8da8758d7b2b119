package notify_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/notify"
)

const testSecret = "whsec_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

func TestVerifyAcceptsOnlyTheSignedBodyWithinTheWindow(t *testing.T) {
	body := []byte(`{"id":"invitation/inv_1/cancelled","type":"invitation.cancelled"}`)
	signedAt := time.Unix(1_767_000_000, 0)
	header := notify.Sign(testSecret, signedAt, body)
	cases := []struct {
		name      string
		secret    string
		header    string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"the body as signed, at once, verifies", testSecret, header, body, signedAt, 0, nil},
		{
			"a signature 4 minutes old verifies within the default 5-minute window",
			testSecret,
			header,
			body,
			signedAt.Add(4 * time.Minute),
			0,
			nil,
		},
		{
			"a clock 4 minutes behind the sender's verifies",
			testSecret,
			header,
			body,
			signedAt.Add(-4 * time.Minute),
			0,
			nil,
		},
		{
			"a second signature for a rotated secret verifies",
			testSecret,
			header + ",v1=" + strings.Repeat("0", 64),
			body,
			signedAt,
			0,
			nil,
		},
		{"a wrong secret is refused", testSecret + "x", header, body, signedAt, 0, notify.ErrBadSignature},
		{
			"an altered body is refused",
			testSecret,
			header,
			[]byte(strings.Replace(string(body), "cancelled", "active", 1)),
			signedAt,
			0,
			notify.ErrBadSignature,
		},
		{
			"a signature 6 minutes old is refused as a possible replay",
			testSecret,
			header,
			body,
			signedAt.Add(6 * time.Minute),
			0,
			notify.ErrStaleSignature,
		},
		{
			"a signature from 6 minutes in the future is refused",
			testSecret,
			header,
			body,
			signedAt.Add(-6 * time.Minute),
			0,
			notify.ErrStaleSignature,
		},
		{
			"a tolerance the receiver chooses applies",
			testSecret,
			header,
			body,
			signedAt.Add(2 * time.Minute),
			time.Minute,
			notify.ErrStaleSignature,
		},
		{
			"a timestamp moved forward breaks the signature",
			testSecret,
			strings.Replace(header, "t=1767000000", "t=1767000300", 1),
			body,
			signedAt.Add(5 * time.Minute),
			0,
			notify.ErrBadSignature,
		},
		{
			"a header without a signature is refused",
			testSecret,
			"t=1767000000",
			body,
			signedAt,
			0,
			notify.ErrBadSignature,
		},
		{
			"a header without a timestamp is refused",
			testSecret,
			header[strings.Index(header, "v1="):],
			body,
			signedAt,
			0,
			notify.ErrBadSignature,
		},
		{"an empty header is refused", testSecret, "", body, signedAt, 0, notify.ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := notify.Verify(tc.secret, tc.header, tc.body, tc.now, tc.tolerance)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignHasTheDocumentedFormat(t *testing.T) {
	// HMAC-SHA256("whsec_test", "1700000000.{}"), computed independently with openssl.
	got := notify.Sign("whsec_test", time.Unix(1_700_000_000, 0), []byte("{}"))
	want := "t=1700000000,v1=" + opensslHMAC
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

// opensslHMAC is `printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test`.
const opensslHMAC = "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"

// receiver is a partner's endpoint that verifies every request it gets.
type receiver struct {
	*httptest.Server
	hits     atomic.Int32
	verified chan http.Header
}

func newReceiver(t *testing.T, status int, answer string) *receiver {
	t.Helper()
	r := &receiver{verified: make(chan http.Header, 10)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		body, _ := io.ReadAll(req.Body)
		if err := notify.Verify(testSecret, req.Header.Get(notify.SignatureHeader), body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.verified <- req.Header
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(r.Close)
	return r
}

func TestSendSignsAndReportsRefusals(t *testing.T) {
	ctx := context.Background()
	sender := notify.NewWebhookSender(true)
	body := []byte(`{"type":"invitation.active"}`)

	ok := newReceiver(t, http.StatusNoContent, "")
	if err := sender.Send(ctx, ok.URL+"/hook", testSecret, "invitation.active", "whd_1", body); err != nil {
		t.Fatalf("a 204 is a delivery: %v", err)
	}
	h := <-ok.verified
	if h.Get(notify.EventHeader) != "invitation.active" || h.Get(notify.DeliveryHeader) != "whd_1" ||
		h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers = %v", h)
	}

	refusing := newReceiver(t, http.StatusInternalServerError, "database\nis down "+strings.Repeat("x", 500))
	err := sender.Send(ctx, refusing.URL, testSecret, "invitation.active", "whd_2", body)
	if err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "database is down") ||
		len(err.Error()) > 300 {
		t.Fatalf("a 500 must be an error with the status and a short excerpt, got %v", err)
	}

	if err := sender.Send(ctx, ok.URL, "whsec_wrong", "invitation.active", "whd_3", body); err == nil ||
		!strings.Contains(err.Error(), "401") {
		t.Fatalf("a receiver refusing the signature: %v", err)
	}

	var followed atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Store(true) }))
	t.Cleanup(target.Close)
	redirecting := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirecting.Close)
	if err := sender.Send(ctx, redirecting.URL, testSecret, "invitation.active", "whd_4", body); err == nil ||
		!strings.Contains(err.Error(), "307") || followed.Load() {
		t.Fatalf("a redirect is not followed and not a delivery: %v (followed %v)", err, followed.Load())
	}

	if err := sender.Send(ctx, "ftp://example.com/x", testSecret, "invitation.active", "whd_5", body); err == nil {
		t.Fatal("a URL that is not http or https must be refused")
	}
}

func TestSendTimesOutASlowReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10-second timeout")
	}
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(func() { close(release); slow.Close() })
	start := time.Now()
	err := notify.NewWebhookSender(true).
		Send(context.Background(), slow.URL, testSecret, "invitation.active", "whd_1", []byte("{}"))
	if err == nil || time.Since(start) > notify.WebhookTimeout+2*time.Second {
		t.Fatalf("a receiver that never answers fails after the timeout: %v after %s", err, time.Since(start))
	}
}

func TestPrivateAddressesAreRefusedUnlessAllowed(t *testing.T) {
	cases := []struct {
		addr   string
		public bool
	}{
		{"127.0.0.1", false}, {"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"0.0.0.0", false}, {"224.0.0.1", false}, {"255.255.255.255", false},
		{"100.64.0.1", false}, {"::1", false}, {"::", false}, {"fe80::1", false}, {"fc00::1", false},
		{"ff02::1", false}, {"::ffff:127.0.0.1", false}, {"::ffff:10.0.0.1", false},
		{"93.184.215.14", true}, {"2606:4700:4700::1111", true}, {"::ffff:8.8.8.8", true},
	}
	for _, tc := range cases {
		addr := netip.MustParseAddr(tc.addr)
		if err := notify.CheckAddress(addr, false); (err == nil) != tc.public ||
			(err != nil && !errors.Is(err, notify.ErrPrivateAddress)) {
			t.Errorf("CheckAddress(%s) = %v, public %v", tc.addr, err, tc.public)
		}
		if err := notify.CheckAddress(addr, true); err != nil {
			t.Errorf("CheckAddress(%s, allowPrivate) = %v", tc.addr, err)
		}
	}
}

func TestSubscriptionURLsAreChecked(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, url    string
		allowPrivate bool
		ok           bool
	}{
		{"loopback is refused", "http://127.0.0.1:8080/hook", false, false},
		{"a private network is refused", "https://10.0.0.5/hook", false, false},
		{"the cloud metadata address is refused", "http://169.254.169.254/latest/meta-data", false, false},
		{"IPv6 loopback is refused", "http://[::1]:8080/hook", false, false},
		{"a name that resolves to loopback is refused", "http://localhost:8080/hook", false, false},
		{"loopback is accepted when private addresses are allowed", "http://127.0.0.1:8080/hook", true, true},
		{"a public address is accepted", "https://93.184.215.14/hook", false, true},
		{"another scheme is refused", "ftp://93.184.215.14/hook", false, false},
		{"a relative URL is refused", "/hook", false, false},
		{"credentials in the URL are refused", "https://user:pass@93.184.215.14/hook", true, false},
		{"a fragment is refused", "https://93.184.215.14/hook#x", true, false},
		{"an overlong URL is refused", "https://93.184.215.14/" + strings.Repeat("a", 2048), true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := notify.CheckWebhookURL(ctx, tc.url, tc.allowPrivate); (err == nil) != tc.ok {
				t.Fatalf("CheckWebhookURL(%s) = %v", tc.url, err)
			}
		})
	}
}

func TestDeliveriesNeverConnectToPrivateAddressesUnlessAllowed(t *testing.T) {
	ctx := context.Background()
	r := newReceiver(t, http.StatusOK, "")
	_, port, _ := net.SplitHostPort(r.Listener.Addr().String())
	for _, url := range []string{
		"http://localhost:" + port + "/hook", // a name resolving to loopback, as after DNS rebinding
		"http://127.0.0.1:" + port + "/hook",
	} {
		err := notify.NewWebhookSender(false).Send(ctx, url, testSecret, "invitation.active", "whd_1", []byte("{}"))
		if err == nil || !errors.Is(err, notify.ErrPrivateAddress) {
			t.Fatalf("%s: want the connection refused as private, got %v", url, err)
		}
	}
	if n := r.hits.Load(); n != 0 {
		t.Fatalf("the receiver on loopback was reached %d times", n)
	}
	if err := notify.NewWebhookSender(true).Send(
		ctx,
		"http://localhost:"+port+"/hook",
		testSecret,
		"invitation.active",
		"whd_1",
		[]byte("{}"),
	); err != nil {
		t.Fatalf("allowed private addresses are reached: %v", err)
	}
}

func TestSecretsAreSealedForOneSubscription(t *testing.T) {
	box := notify.NewSecretBox([]byte("0123456789abcdef0123456789abcdef"))
	secret := notify.NewWebhookSecret()
	if !strings.HasPrefix(secret, notify.WebhookSecretPrefix) || len(secret) != len(notify.WebhookSecretPrefix)+43 {
		t.Fatalf("secret %q: want the prefix and 32 bytes of base64url", secret)
	}
	sealed := box.Seal("whs_1", secret)
	if strings.Contains(string(sealed), secret[len(notify.WebhookSecretPrefix):]) {
		t.Fatal("the sealed secret contains the plaintext")
	}
	if got, err := box.Open("whs_1", sealed); err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open("whs_2", sealed); err == nil {
		t.Fatal("a ciphertext moved to another subscription must not open")
	}
	if _, err := notify.NewSecretBox([]byte("another signing key, 32 bytes..")).Open("whs_1", sealed); err == nil {
		t.Fatal("another signing key must not open the secret")
	}
	if _, err := notify.NewSecretBox([]byte("0123456789abcdef0123456789abcdef")).Open("whs_1", sealed); err != nil {
		t.Fatalf("the same signing key in another process opens it: %v", err)
	}
}
