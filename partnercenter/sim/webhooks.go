package sim

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// CertificatePath is where the simulator serves its webhook signing certificate.
const CertificatePath = "/sim/webhooks/certificate.cer"

// supportedEvents are the webhook events the simulator can deliver.
var supportedEvents = []string{
	pc.EventTestCreated,
	pc.EventResellerRelationshipAccepted,
	pc.EventGDAPApproved,
	pc.EventGDAPActivated,
	pc.EventGDAPTerminated,
	pc.EventGDAPExpired,
	pc.EventGDAPAssignmentActivated,
}

const maxDeliveryAttempts = 10

// Delivery is one webhook event's delivery record (GET /sim/webhooks/deliveries).
type Delivery struct {
	Event      pc.WebhookEvent `json:"event"`
	URL        string          `json:"url"`
	Attempts   int             `json:"attempts"`
	Delivered  bool            `json:"delivered"`
	LastStatus int             `json:"lastStatus"`
	LastError  string          `json:"lastError,omitempty"`
}

// ensureSigningKey loads the persisted RSA key and certificate or makes new ones.
func (s *Server) ensureSigningKey() (*rsa.PrivateKey, error) {
	if block, _ := pem.Decode([]byte(s.st.SigningKeyPEM)); block != nil && len(s.st.CertDER) > 0 {
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err == nil {
			return key, nil
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate webhook signing key: %w", err)
	}
	now := s.cfg.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject: pkix.Name{
			CommonName:   "pcnotifications-dispatch.simulator.local",
			Organization: []string{"partnerflow simulator"},
		},
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.AddDate(10, 0, 0),
		KeyUsage:  x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create webhook certificate: %w", err)
	}
	s.st.SigningKeyPEM = string(
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	)
	s.st.CertDER = der
	s.st.mark(kindMeta, metaSigning)
	return key, nil
}

func (s *Server) certificate(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	der := s.st.CertDER
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/pkix-cert")
	_, _ = w.Write(der)
}

func validEvents(events []string) bool {
	for _, e := range events {
		if !slices.Contains(supportedEvents, e) {
			return false
		}
	}
	return len(events) > 0
}

func (s *Server) registerWebhook(w http.ResponseWriter, r *http.Request) {
	var in pc.WebhookRegistration
	if err := decode(r, &in); err != nil || in.WebhookURL == "" || !validEvents(in.WebhookEvents) {
		s.pcFail(w, http.StatusBadRequest, 0, "WebhookUrl and supported WebhookEvents are required.")
		return
	}
	if r.Method == http.MethodPost && s.st.Webhook != nil {
		s.pcFail(w, http.StatusConflict, 0, "A registration already exists; update it with PUT.")
		return
	}
	if r.Method == http.MethodPut && s.st.Webhook == nil {
		s.pcFail(w, http.StatusNotFound, 0, "There is no registration to update.")
		return
	}
	in.SubscriberID = s.home.TenantID
	s.st.Webhook = &in
	s.st.mark(kindMeta, metaWebhook)
	writeJSON(w, http.StatusOK, in)
}

func (s *Server) getWebhook(w http.ResponseWriter, _ *http.Request) {
	if s.st.Webhook == nil {
		s.pcFail(w, http.StatusNotFound, 0, "There is no webhook registration.")
		return
	}
	writeJSON(w, http.StatusOK, s.st.Webhook)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, _ *http.Request) {
	if s.st.Webhook == nil {
		s.pcFail(w, http.StatusNotFound, 0, "There is no webhook registration.")
		return
	}
	s.st.Webhook = nil
	s.st.mark(kindMeta, metaWebhook)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) webhookEvents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, supportedEvents)
}

func (s *Server) validationEvent(w http.ResponseWriter, r *http.Request) {
	id := newID()
	s.emit(pc.EventTestCreated, s.publicURL()+"/webhooks/v1/registration/validationEvents/"+id, "test")
	writeJSON(w, http.StatusOK, map[string]string{"correlationId": id})
}

// emit queues an event for the registration, if it subscribed; callers hold s.mu.
func (s *Server) emit(name, resourceURI, resourceName string) {
	reg := s.st.Webhook
	if reg == nil || !slices.Contains(reg.WebhookEvents, name) {
		return
	}
	ev := pc.WebhookEvent{
		EventName:             name,
		ResourceURI:           resourceURI,
		ResourceName:          resourceName,
		ResourceChangeUtcDate: pc.NewTime(s.now()),
	}
	body, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encode webhook event", "err", err)
		return
	}
	seq := s.deliveries.add(Delivery{Event: ev, URL: reg.WebhookURL})
	certURL := s.publicURL() + CertificatePath
	s.wg.Add(1)
	go s.deliver(seq, reg.WebhookURL, certURL, body)
}

// deliver POSTs one signed event, retrying with doubling delays; seq is its
// place in the delivery log.
func (s *Server) deliver(seq int, target, certURL string, body []byte) {
	defer s.wg.Done()
	digest := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.signer, crypto.SHA256, digest[:])
	if err != nil {
		s.log.Error("sign webhook event", "err", err)
		return
	}
	client := &http.Client{Timeout: 10 * time.Second}
	delay := s.cfg.WebhookRetryDelay
	for attempt := 1; attempt <= maxDeliveryAttempts; attempt++ {
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			s.deliveries.record(seq, attempt, 0, err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Signature "+base64.StdEncoding.EncodeToString(sig))
		req.Header.Set(pc.HeaderCertificateURL, certURL)
		req.Header.Set(pc.HeaderSignatureAlgorithm, "rsa-sha256")
		resp, err := client.Do(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
			if status < 300 {
				s.deliveries.record(seq, attempt, status, nil)
				return
			}
			err = fmt.Errorf("HTTP %d", status)
		}
		s.deliveries.record(seq, attempt, status, err)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
	}
}

// deliveryLogSize is how many deliveries the delivery log keeps (the latest).
const deliveryLogSize = 1000

// deliveryLog is the webhook delivery log, oldest first. It holds at least the
// latest deliveryLogSize deliveries and at most twice as many: add drops the
// oldest in bulk, so that a delivery costs the same however many came before.
type deliveryLog struct {
	mu      sync.Mutex
	entries []Delivery
	dropped int // the sequence number of entries[0]
}

// add appends a delivery and returns its sequence number, for record.
func (l *deliveryLog) add(d Delivery) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	seq := l.dropped + len(l.entries)
	l.entries = append(l.entries, d)
	if n := len(l.entries) - deliveryLogSize; n >= deliveryLogSize {
		l.entries = slices.Clone(l.entries[n:])
		l.dropped += n
	}
	return seq
}

// record updates delivery seq after an attempt, unless the log dropped it.
func (l *deliveryLog) record(seq, attempt, status int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq < l.dropped {
		return
	}
	d := &l.entries[seq-l.dropped]
	d.Attempts, d.LastStatus, d.Delivered = attempt, status, err == nil
	d.LastError = ""
	if err != nil {
		d.LastError = err.Error()
	}
}

// latest returns the latest deliveryLogSize deliveries, oldest first.
func (l *deliveryLog) latest() []Delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries[max(len(l.entries)-deliveryLogSize, 0):])
}

// Deliveries returns the webhook delivery log: the latest 1,000
// deliveries, oldest first.
func (s *Server) Deliveries() []Delivery { return s.deliveries.latest() }

func (s *Server) listDeliveries(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Deliveries())
}

// scanLoop turns time-derived status changes into webhook events and
// forgets expired stored answers.
func (s *Server) scanLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			s.mu.Lock()
			emitted := s.scan()
			if expired := s.st.expireAnswers(s.now()); emitted || expired {
				if err := s.flush(); err != nil {
					s.log.Error("persist simulator state", "err", err)
				}
			}
			s.mu.Unlock()
		}
	}
}

// scan emits each time-derived event once; it reports whether it did. It
// first schedules the relationships changed since the last tick (st.touched,
// at their first owed instant, past ones included), then looks at the
// relationships due by now, one by one, and schedules each at its next owed
// instant. A tick therefore costs in proportion to the relationships that
// changed or are due, not to the world; what it emits is what looking at
// every relationship would emit.
func (s *Server) scan() bool {
	now, delay := s.now(), s.cfg.ActivationDelay
	for id := range s.st.touched {
		if g := s.st.GDAP[id]; g != nil {
			next, ok := g.nextDue(time.Time{}, delay)
			s.st.due.set(g, next, ok)
		}
	}
	clear(s.st.touched)
	changed := false
	for len(s.st.due) > 0 && !s.st.due[0].dueAt.After(now) {
		g := s.st.due[0]
		if s.notify(g, now) {
			changed = true
		}
		next, ok := g.nextDue(now, delay)
		s.st.due.set(g, next, ok)
	}
	// notify marked what it changed; those relationships are scheduled.
	clear(s.st.touched)
	return changed
}

// notify emits the events g's status at now calls for and that were not
// delivered yet, and records them; it reports whether it emitted any.
func (s *Server) notify(g *gdapRecord, now time.Time) bool {
	if g.Phase == "deleted" {
		return false
	}
	uri := func() string { return s.publicURL() + "/v1.0/tenantRelationships/delegatedAdminRelationships/" + g.ID }
	changed := false
	status, _, _ := g.status(now, s.cfg.ActivationDelay)
	if event := statusEvent(status); event != "" && !g.Notified[event] {
		if g.Notified == nil {
			g.Notified = map[string]bool{}
		}
		g.Notified[event] = true
		s.st.mark(kindGDAP, g.ID)
		s.emit(event, uri(), "delegatedAdminRelationship")
		changed = true
	}
	for _, a := range g.Assignments {
		if !a.Notified && a.status(now, s.cfg.ActivationDelay) == pc.AssignmentStatusActive {
			a.Notified = true
			s.st.mark(kindGDAP, g.ID)
			s.emit(pc.EventGDAPAssignmentActivated, uri()+"/accessAssignments/"+a.ID, "delegatedAdminAccessAssignment")
			changed = true
		}
	}
	return changed
}

// statusEvent is the webhook event a relationship's status calls for, or "". Microsoft
// documents no event for expiring (Graph's "has passed its expiration date", while the
// relationship is deprovisioned): granular-admin-relationship-expired comes when it is expired,
// and -activated ("created and active") only while it is active, so a relationship the scanner
// first sees past its end gets no -activated, as one it first sees expired or terminated.
func statusEvent(status string) string {
	switch status {
	case pc.GDAPStatusActive:
		return pc.EventGDAPActivated
	case pc.GDAPStatusTerminated:
		return pc.EventGDAPTerminated
	case pc.GDAPStatusExpired:
		return pc.EventGDAPExpired
	}
	return ""
}
