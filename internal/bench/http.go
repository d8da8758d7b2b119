package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Target is the deployment a run drives: the API as a partner's tool calls it, the simulator's
// customer actions as a customer clicks them.
type Target struct {
	// APIURL and APIKey reach partnerflow's HTTP API (a key with every role).
	APIURL string
	APIKey string
	// SimURL is the Partner Center simulator the deployment talks to.
	SimURL string
	// PartnerID is the partner tenant partnerflow acts as (the simulator's home partner).
	PartnerID string
}

// httpDriver makes the bench's HTTP calls, sharing one connection pool.
type httpDriver struct {
	t      Target
	client *http.Client
}

func newHTTPDriver(t Target, conns int) *httpDriver {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns*4, conns*4
	return &httpDriver{t: t, client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// apiError is an answer the bench did not expect.
type apiError struct {
	status int
	call   string
	body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.call, e.status, strings.TrimSpace(e.body))
}

// do sends a JSON request and decodes a 2xx answer into out.
func (d *httpDriver) do(ctx context.Context, method, url string, auth bool, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+d.t.APIKey)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &apiError{status: resp.StatusCode, call: method + " " + url, body: string(b)}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (d *httpDriver) api(ctx context.Context, method, path string, in, out any) error {
	return d.do(ctx, method, d.t.APIURL+path, true, in, out)
}

func (d *httpDriver) sim(ctx context.Context, path string, in, out any) error {
	return d.do(ctx, http.MethodPost, d.t.SimURL+path, false, in, out)
}

func (d *httpDriver) simGet(ctx context.Context, path string, out any) error {
	return d.do(ctx, http.MethodGet, d.t.SimURL+path, false, nil, out)
}

// invitation is what the bench reads of an invitation.
type invitation struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	WorkflowID         string `json:"workflowId"`
	GDAPRelationshipID string `json:"gdapRelationshipId"`
	Steps              []struct {
		Name string `json:"name"`
	} `json:"steps"`
}

func (v invitation) has(step string) bool {
	for _, s := range v.Steps {
		if s.Name == step {
			return true
		}
	}
	return false
}

// createTenant makes a customer tenant at the simulator with one Global admin.
func (d *httpDriver) createTenant(ctx context.Context, domain string) error {
	return d.sim(ctx, "/sim/tenants", map[string]any{
		"domain": domain, "country": "US", "companyName": "Bench " + domain,
		"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
	}, nil)
}

// invite is the partner's create call.
func (d *httpDriver) invite(ctx context.Context, domain string) (invitation, error) {
	var v invitation
	err := d.api(ctx, http.MethodPost, "/v1/invitations", map[string]any{
		"customerDomain": domain, "customerEmail": "admin@" + domain,
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
	}, &v)
	return v, err
}

// untilSent reads the invitation, backing off from 50 ms to 500 ms, until its mail is sent and
// its GDAP request exists: what the customer's mail would carry.
func (d *httpDriver) untilSent(ctx context.Context, id string) (invitation, error) {
	wait := 50 * time.Millisecond
	for {
		var v invitation
		if err := d.api(ctx, http.MethodGet, "/v1/invitations/"+id, nil, &v); err != nil {
			return v, err
		}
		if v.GDAPRelationshipID != "" && v.has("sent") {
			return v, nil
		}
		if v.Status != "pending" {
			return v, fmt.Errorf("invitation %s is %s before the customer acted", id, v.Status)
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// customerAction clicks a customer action at the simulator, trying again for a while when it
// is refused (the GDAP request may still be locking for approval).
func (d *httpDriver) customerAction(ctx context.Context, action string, body map[string]string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := d.sim(ctx, "/sim/customer-actions/"+action, body, nil)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		if ae, ok := err.(*apiError); ok && ae.status >= 500 && ae.status != http.StatusServiceUnavailable {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
