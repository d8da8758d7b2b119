// Package webhooks delivers flow events to partners' own systems: it takes due deliveries from
// the store's outbox, signs and sends them, and retries failures with exponential backoff.
package webhooks

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

// Sender sends one signed webhook request; *notify.WebhookSender is the one partnerflow uses.
type Sender interface {
	Send(ctx context.Context, url, secret, eventType, deliveryID string, body []byte) error
}

// Defaults of a Dispatcher's schedule.
const (
	DefaultPoll        = time.Second
	DefaultBatch       = 20
	DefaultFirstRetry  = 10 * time.Second
	DefaultMaxRetry    = time.Hour
	DefaultMaxAttempts = 12
)

// Dispatcher delivers pending webhook deliveries. Any number may run against one database: each
// claims its deliveries under a lease, so none is sent by two at once.
type Dispatcher struct {
	Store   *models.Store
	Sender  Sender
	Secrets *notify.SecretBox
	Logger  *slog.Logger
	// Poll is how often it looks for due deliveries (DefaultPoll).
	Poll time.Duration
	// Batch is how many deliveries one pass claims and sends concurrently (DefaultBatch).
	Batch int
	// FirstRetry is the wait after the first failed attempt, doubling after each further one up
	// to MaxRetry; after MaxAttempts attempts a delivery has failed.
	FirstRetry  time.Duration
	MaxRetry    time.Duration
	MaxAttempts int
	// Lease is how long a claimed delivery is kept from other dispatchers; longer than an
	// attempt can take (default twice notify.WebhookTimeout plus a margin).
	Lease time.Duration
}

func (d *Dispatcher) withDefaults() {
	if d.Poll <= 0 {
		d.Poll = DefaultPoll
	}
	if d.Batch <= 0 {
		d.Batch = DefaultBatch
	}
	if d.FirstRetry <= 0 {
		d.FirstRetry = DefaultFirstRetry
	}
	if d.MaxRetry <= 0 {
		d.MaxRetry = DefaultMaxRetry
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.Lease <= 0 {
		d.Lease = 2*notify.WebhookTimeout + 10*time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
}

// Run delivers due deliveries until ctx ends; a full batch is followed by the next at once.
func (d *Dispatcher) Run(ctx context.Context) {
	d.withDefaults()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		n, err := d.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			d.Logger.ErrorContext(ctx, "webhook dispatch", "error", err)
		}
		next := d.Poll
		if n == d.Batch {
			next = 0
		}
		timer.Reset(next)
	}
}

// DeliverDue claims one batch of due deliveries, sends them concurrently and records each
// attempt; it returns how many it claimed.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	d.withDefaults()
	claimed, err := d.Store.ClaimWebhookDeliveries(ctx, time.Now(), d.Lease, d.Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, c := range claimed {
		wg.Go(func() { d.deliver(ctx, c) })
	}
	wg.Wait()
	return len(claimed), nil
}

// deliver makes one attempt and records it; a failure to record is logged, and the lease's end
// brings the delivery back.
func (d *Dispatcher) deliver(ctx context.Context, c models.ClaimedWebhookDelivery) {
	log := d.Logger.With(
		"delivery", c.ID,
		"subscription", c.SubscriptionID,
		"event", c.EventType,
		"attempt", c.Attempts+1,
	)
	secret, err := d.Secrets.Open(c.SubscriptionID, c.SecretCiphertext)
	if err == nil {
		err = d.Sender.Send(ctx, c.URL, secret, c.EventType, c.ID, []byte(c.Payload))
	}
	// A delivery is recorded even when shutdown began during the send, so it is not sent again.
	record := context.WithoutCancel(ctx)
	switch {
	case err == nil:
		if err := d.Store.MarkWebhookDelivered(record, c.ID, time.Now()); err != nil {
			log.ErrorContext(ctx, "record a webhook delivery", "error", err)
		}
		return
	case ctx.Err() != nil:
		// Shutdown cut the attempt short; it does not count, and the lease's end brings it back.
		log.InfoContext(ctx, "webhook attempt interrupted by shutdown", "error", err)
		return
	}
	retryAt := time.Time{}
	if attempts := c.Attempts + 1; attempts < d.MaxAttempts {
		retryAt = time.Now().Add(d.backoff(attempts))
	}
	log.WarnContext(ctx, "webhook attempt failed", "error", err, "retry_at", retryAt)
	if err := d.Store.MarkWebhookAttemptFailed(record, c.ID, truncate(err.Error(), maxErrorText), retryAt); err != nil {
		log.ErrorContext(ctx, "record a failed webhook attempt", "error", err)
	}
}

// maxErrorText bounds the error a failed attempt leaves in the delivery log.
const maxErrorText = 1000

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// backoff is the wait after the given number of failed attempts: FirstRetry, doubling, capped
// at MaxRetry.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	wait := d.FirstRetry
	for i := 1; i < attempts && wait < d.MaxRetry; i++ {
		wait *= 2
	}
	return min(wait, d.MaxRetry)
}
