// Package activities holds every side effect of partnerflow's workflows: writes to the app
// database, calls to Partner Center and Microsoft Graph, and messages to people. Workflows call
// them through a nil *Activities, as in Temporal's reference apps.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// Config is what the activities need.
type Config struct {
	Store         *models.Store
	PartnerCenter partnercenter.Client
	Mailer        notify.Mailer
	Logger        *slog.Logger
	// Signer derives customer links; it never hands a token to a workflow.
	Signer *links.Signer
	// BaseURL is the public base of partnerflow's customer links.
	BaseURL string
	// PartnerName introduces the partner in messages to customers.
	PartnerName string
	// Credentials encrypts new tenants' first admin passwords (notify.NewCredentialBox).
	Credentials *notify.SecretBox
	// Outbox seals the bodies of mail kept in the outbox (notify.NewOutboxBox); required.
	Outbox *notify.SecretBox
	// DefaultLanguage is the language of messages to recipients whose own is not known.
	DefaultLanguage string
	// PartnerID is the partner tenant partnerflow acts for; ContactEmail its contact, who hears
	// when the Partner Center connection stops working.
	PartnerID    string
	ContactEmail string
	// Now is the clock of the estate sync's directory (default time.Now), so tests can move it
	// with the simulator's.
	Now func() time.Time
}

// Activities carries the dependencies of every activity method.
type Activities struct {
	cfg Config
	// estate paces each partner's estate sync calls (waitEstateCall).
	estateMu sync.Mutex
	estate   map[string]*rate.Limiter
}

// New returns the activities.
func New(cfg Config) *Activities {
	if cfg.Outbox == nil {
		panic("activities: Config.Outbox is required: mail bodies are kept sealed")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DefaultLanguage == "" {
		cfg.DefaultLanguage = "en"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Activities{cfg: cfg}
}

// Error types of non-retryable application errors; workflows switch on them. They are recorded
// in running workflows' histories, so their values never change.
const (
	ErrTypeRefused     = "PartnerCenterRefusal"
	ErrTypeNotReady    = "NotReady"
	ErrTypeAccessEnded = "AccessEnded"
	// ErrTypeConnectionNeeded is the error type of an activity whose Partner Center call needs
	// the partner's App+User connection (Microsoft's secure application model), which is missing
	// or stopped working. A flow waits for it; it never fails for it.
	ErrTypeConnectionNeeded = "ConnectionNeeded"
	// ErrTypeFlowGone is the error type of a record for a flow whose row does not exist. Every
	// flow uses it; its value dates from when the invitation was the only flow and stays, because
	// recorded histories carry it.
	ErrTypeFlowGone = "InvitationGone"
	// ErrTypeResellerTenantTaken is the error type of a record that would make a partnership
	// active with a reseller tenant another active partnership holds.
	ErrTypeResellerTenantTaken = "ResellerTenantTaken"
)

// serviceError turns a Partner Center failure into what Temporal's retry needs: a refusal that
// retrying cannot fix becomes non-retryable with its code, throttling waits as long as the
// service asked, and a call that needs the partner's App+User connection, which is missing or
// stopped working, becomes ErrTypeConnectionNeeded after the partner is told (once).
func (a *Activities) serviceError(ctx context.Context, op string, err error) error {
	if partnercenter.NeedsConnection(err) {
		a.connectionLost(ctx, err)
		return temporal.NewApplicationErrorWithOptions(
			op+": "+err.Error(),
			ErrTypeConnectionNeeded,
			temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err},
		)
	}
	var pcErr *partnercenter.Error
	if !errors.As(err, &pcErr) {
		return err
	}
	if !pcErr.Retryable() {
		return temporal.NewApplicationErrorWithOptions(
			op+": "+pcErr.Error(),
			ErrTypeRefused,
			temporal.ApplicationErrorOptions{
				NonRetryable: true,
				Cause:        err,
				Details:      []any{pcErr.StatusCode, pcErr.Code},
			},
		)
	}
	if pcErr.RetryAfter > 0 {
		return temporal.NewApplicationErrorWithOptions(
			op+": "+pcErr.Error(),
			"Throttled",
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: pcErr.RetryAfter},
		)
	}
	return err
}

// record writes a flow's step to the app database; a flow whose row is gone is a non-retryable
// error the workflow ends on.
func record[R any](ctx context.Context, store *models.Store, kind, id string, ch models.FlowChange[R]) error {
	err := models.Record(ctx, store, kind, id, ch)
	if errors.Is(err, models.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(kind+" "+id+" does not exist", ErrTypeFlowGone, err)
	}
	if err != nil {
		return fmt.Errorf("record %s %s step %s: %w", kind, id, ch.Step, err)
	}
	return nil
}

// notReady is the retryable error of an activity that waits for the service to reach a state.
func notReady(msg string) error {
	return temporal.NewApplicationError(msg, ErrTypeNotReady)
}
