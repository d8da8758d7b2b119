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
		Subject:      pkix.Name{CommonName: "pcnotifications-dispatch.simulator.local", Organization: []string{"partnerflow simulator"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create webhook certificate: %w", err)
	}
	s.st.SigningKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
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
	ev := pc.WebhookEvent{EventName: name, ResourceURI: resourceURI, ResourceName: resourceName, ResourceChangeUtcDate: pc.NewTime(s.now())}
	body, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encode webhook event", "err", err)
		return
	}
	s.deliveriesMu.Lock()
	s.deliveries = append(s.deliveries, Delivery{Event: ev, URL: reg.WebhookURL})
	idx := len(s.deliveries) - 1
	s.deliveriesMu.Unlock()
	certURL := s.publicURL() + CertificatePath
	s.wg.Add(1)
	go s.deliver(idx, reg.WebhookURL, certURL, body)
}

// deliver POSTs one signed event, retrying with doubling delays.
func (s *Server) deliver(idx int, target, certURL string, body []byte) {
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
			s.recordDelivery(idx, attempt, 0, err)
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
				s.recordDelivery(idx, attempt, status, nil)
				return
			}
			err = fmt.Errorf("HTTP %d", status)
		}
		s.recordDelivery(idx, attempt, status, err)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
	}
}

func (s *Server) recordDelivery(idx, attempt, status int, err error) {
	s.deliveriesMu.Lock()
	defer s.deliveriesMu.Unlock()
	d := &s.deliveries[idx]
	d.Attempts, d.LastStatus, d.Delivered = attempt, status, err == nil
	d.LastError = ""
	if err != nil {
		d.LastError = err.Error()
	}
}

// Deliveries returns the webhook delivery log.
func (s *Server) Deliveries() []Delivery {
	s.deliveriesMu.Lock()
	defer s.deliveriesMu.Unlock()
	return slices.Clone(s.deliveries)
}

func (s *Server) listDeliveries(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Deliveries())
}

// scanLoop turns time-derived status changes into webhook events.
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
			if s.scan() {
				if err := s.flush(); err != nil {
					s.log.Error("persist simulator state", "err", err)
				}
			}
			s.mu.Unlock()
		}
	}
}

// scan emits each time-derived event once; it reports whether it did.
func (s *Server) scan() bool {
	now := s.now()
	changed := false
	for _, g := range s.st.GDAP {
		if g.Phase == "deleted" {
			continue
		}
		uri := func() string { return s.publicURL() + "/v1.0/tenantRelationships/delegatedAdminRelationships/" + g.ID }
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
	}
	return changed
}

// statusEvent is the webhook event a relationship's status calls for, or "".
func statusEvent(status string) string {
	switch status {
	case pc.GDAPStatusActive, pc.GDAPStatusExpiring:
		return pc.EventGDAPActivated
	case pc.GDAPStatusTerminated:
		return pc.EventGDAPTerminated
	case pc.GDAPStatusExpired:
		return pc.EventGDAPExpired
	}
	return ""
}
