package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
)

// flowView is what the bench reads of a reseller or a customer onboarding.
type flowView struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	WorkflowID string `json:"workflowId"`
	Steps      []struct {
		Name string `json:"name"`
	} `json:"steps"`
}

func (v flowView) has(step string) bool {
	for _, s := range v.Steps {
		if s.Name == step {
			return true
		}
	}
	return false
}

// until reads a flow's detail at path, backing off from 50 ms to 500 ms, until ready says so;
// a status in ended stops it with an error.
func (d *httpDriver) until(
	ctx context.Context, path string, ready func(flowView) bool, ended ...string,
) (flowView, error) {
	wait := 50 * time.Millisecond
	for {
		var v flowView
		if err := d.api(ctx, http.MethodGet, path, nil, &v); err != nil {
			return v, err
		}
		if ready(v) {
			return v, nil
		}
		for _, e := range ended {
			if v.Status == e {
				return v, fmt.Errorf("%s is %s", path, v.Status)
			}
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// waitDone waits for a flow's workflow to complete and checks the status its detail ends in.
func waitDone(ctx context.Context, tc client.Client, d *httpDriver, path, workflowID, want string) error {
	if err := tc.GetWorkflow(ctx, workflowID, "").Get(ctx, nil); err != nil {
		return err
	}
	var v flowView
	if err := d.api(ctx, http.MethodGet, path, nil, &v); err != nil {
		return err
	}
	if v.Status != want {
		return fmt.Errorf("%s ended %s, not %s", path, v.Status, want)
	}
	return nil
}

// resellerKind drives reseller partnerships: the partner asks a reseller (a partner the
// simulator knows, agreement signed) to authorize it, the reseller's admin authorizes the
// provider at the simulator once the request is sent, and the flow is done when the reseller
// is active. Partner Center sends no event for an authorization: the flow notices it when it
// next polls, so the deployment's poll interval is part of acceptance-to-done (the in-process
// stack polls every 2 s when resellers take part).
type resellerKind struct {
	driver   *httpDriver
	t        Target
	temporal client.Client
	runID    string
	mpnBase  int
	made     int
}

func newResellerKind(d *httpDriver, t Target, tc client.Client, runID string) *resellerKind {
	return &resellerKind{driver: d, t: t, temporal: tc, runID: runID, mpnBase: 1000000 + rand.IntN(8000000)}
}

func (k *resellerKind) domain(i int) string {
	return fmt.Sprintf("bench-reseller-%s-%d.onmicrosoft.com", k.runID, i)
}

func (k *resellerKind) mpnID(i int) string { return fmt.Sprintf("%07d", k.mpnBase+i) }

func (k *resellerKind) prepare(ctx context.Context, upto int) error {
	err := parallel(k.made, upto, func(i int) error {
		d := k.domain(i)
		return k.driver.sim(ctx, "/sim/partners", map[string]any{
			"domain": d, "country": "US", "companyName": "Bench Reseller " + d,
			"mpnId": k.mpnID(i), "agreementSigned": true,
			"users": []map[string]any{{"upn": "admin@" + d, "globalAdmin": true}},
		}, nil)
	})
	k.made = upto
	if err != nil {
		return fmt.Errorf("create reseller partners at the simulator: %w", err)
	}
	return nil
}

func (k *resellerKind) create(ctx context.Context, i int) (flowHandle, error) {
	var v flowView
	d := k.domain(i)
	err := k.driver.api(ctx, http.MethodPost, "/v1/resellers", map[string]any{
		"email": "admin@" + d, "companyName": "Bench Reseller " + d, "mpnId": k.mpnID(i),
	}, &v)
	return flowHandle{id: v.ID, workflowID: v.WorkflowID, domain: d}, err
}

func (k *resellerKind) accept(ctx context.Context, h flowHandle) (time.Time, error) {
	path := "/v1/resellers/" + h.id
	if _, err := k.driver.until(
		ctx, path, func(v flowView) bool { return v.has("sent") }, "cancelled", "expired", "failed",
	); err != nil {
		return time.Time{}, err
	}
	start := time.Now()
	return start, k.driver.customerAction(ctx, "authorize-provider", map[string]string{
		"resellerDomain": h.domain, "providerId": k.t.PartnerID, "upn": "admin@" + h.domain,
	})
}

func (k *resellerKind) wait(ctx context.Context, h flowHandle) error {
	return waitDone(ctx, k.temporal, k.driver, "/v1/resellers/"+h.id, h.workflowID, "active")
}

// customerKind drives customer onboardings: the partner creates a new customer tenant with a
// cart through the API, attests the customer's acceptance of the Microsoft Customer Agreement
// once the flow awaits it, checks the cart out once it is in review, and the flow is done when
// the onboarding is completed.
type customerKind struct {
	driver   *httpDriver
	temporal client.Client
	runID    string
}

func (k *customerKind) prepare(context.Context, int) error { return nil }

func (k *customerKind) prefix(i int) string { return fmt.Sprintf("bench%s%d", k.runID, i) }

func (k *customerKind) create(ctx context.Context, i int) (flowHandle, error) {
	var v flowView
	p := k.prefix(i)
	err := k.driver.api(ctx, http.MethodPost, "/v1/customers", map[string]any{
		"companyName": "Bench " + p, "domainPrefix": p, "country": "TR", "language": "tr",
		"registrationNumber": "1234567890",
		"contact": map[string]any{
			"firstName": "Ayşe", "lastName": "Yılmaz", "email": "ayse@" + p + ".example",
		},
		"address": map[string]any{"line1": "İstiklal Caddesi 1", "city": "İstanbul", "postalCode": "34433"},
		"products": []map[string]any{{
			"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			"quantity":      2,
			"billingCycle":  "monthly",
			"termDuration":  "P1M",
		}},
	}, &v)
	return flowHandle{id: v.ID, workflowID: v.WorkflowID, domain: p}, err
}

var customerEnded = []string{"cancelled", "expired", "failed", "completed"}

func (k *customerKind) accept(ctx context.Context, h flowHandle) (time.Time, error) {
	path := "/v1/customers/" + h.id
	if _, err := k.driver.until(
		ctx, path, func(v flowView) bool { return v.Status == "awaiting_agreement" }, customerEnded...,
	); err != nil {
		return time.Time{}, err
	}
	start := time.Now()
	if err := k.driver.api(ctx, http.MethodPost, path+"/agreement", map[string]any{
		"primaryContact": map[string]any{
			"firstName": "Ayşe", "lastName": "Yılmaz", "email": "ayse@" + h.domain + ".example",
		},
		"dateAgreed": time.Now().UTC().Format("2006-01-02"),
	}, nil); err != nil {
		return start, err
	}
	if _, err := k.driver.until(
		ctx, path, func(v flowView) bool { return v.Status == "review" }, customerEnded...,
	); err != nil {
		return start, err
	}
	return start, k.driver.api(ctx, http.MethodPost, path+"/cart/checkout", nil, nil)
}

func (k *customerKind) wait(ctx context.Context, h flowHandle) error {
	return waitDone(ctx, k.temporal, k.driver, "/v1/customers/"+h.id, h.workflowID, "completed")
}

// parallel calls f for every i in [from, to), eight at a time, and returns the first error and
// how many failed.
func parallel(from, to int, f func(i int) error) error {
	next := make(chan int)
	errs := make(chan error, to-from+1)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		next <- i
	}
	close(next)
	for range 8 {
		<-done
	}
	close(errs)
	n, first := 0, error(nil)
	for err := range errs {
		if first == nil {
			first = err
		}
		n++
	}
	if n > 0 {
		return fmt.Errorf("%d failed, first: %w", n, first)
	}
	return nil
}
