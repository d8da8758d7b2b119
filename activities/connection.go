package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

// ConnectionPath is the dashboard's Partner Center connection page.
const ConnectionPath = "/connection"

// connectionLost records that the partner's Partner Center connection stopped working and, if
// this call is the first to see it, tells the partner's contact by mail and the partner's
// systems by the connection.lost webhook event, both written with the change. Every later call
// finds the loss on record and tells nobody again, until a global admin connects anew. A
// failure to record or mail is logged: the flow waits either way.
func (a *Activities) connectionLost(ctx context.Context, cause error) {
	loss := models.ConnectionLoss{PartnerID: a.cfg.PartnerID, Reason: cause.Error(), At: time.Now()}
	var lost *connection.LostError
	if errors.As(cause, &lost) {
		loss.Version, loss.Reason = lost.Version, lost.Reason
	}
	upn := ""
	if row, err := a.cfg.Store.Connection(ctx, a.cfg.PartnerID); err == nil {
		upn = row.UPN
		if lost == nil {
			// The service refused the connection's token (no MFA): the version in use is lost.
			loss.Version = row.Version
		}
	}
	loss.EventData = map[string]any{"partnerId": a.cfg.PartnerID, "reason": loss.Reason, "connectedBy": upn}
	var rendered notify.Rendered
	if a.cfg.ContactEmail != "" {
		msg, err := notify.Render(notify.KindConnectionLost, a.cfg.DefaultLanguage, notify.ConnectionAlert{
			UPN: upn, Reason: loss.Reason, Link: strings.TrimSuffix(a.cfg.BaseURL, "/") + ConnectionPath,
		})
		if err != nil {
			a.cfg.Logger.Error("render the connection-lost mail", "error", err)
		} else {
			rendered = msg
			key := models.ConnectionLossKey(a.cfg.PartnerID, loss.Version)
			loss.Mail = &models.OutboxMessage{
				IdempotencyKey: key,
				ToAddress:      a.cfg.ContactEmail,
				Subject:        msg.Subject,
				Language:       msg.Language,
				Kind:           msg.Kind(),
				Body:           SealMailText(a.cfg.Outbox, key, msg.Text),
				HTML:           SealMailText(a.cfg.Outbox, key, msg.HTML),
				Status:         models.OutboxPending,
				CreatedAt:      time.Now().UTC(),
			}
		}
	}
	changed, err := a.cfg.Store.MarkConnectionLost(ctx, loss)
	if err != nil {
		a.cfg.Logger.Error("record the lost Partner Center connection", "error", err)
		return
	}
	if !changed {
		return
	}
	a.cfg.Logger.Warn(
		"the Partner Center connection is needed: App+User calls wait until a global admin connects",
		"reason", loss.Reason,
	)
	if loss.Mail == nil {
		return
	}
	if err := a.deliver(ctx, loss.Mail.IdempotencyKey, loss.Mail.ToAddress, rendered); err != nil {
		a.cfg.Logger.Error("mail the partner about the lost Partner Center connection", "error", err)
	}
}

// LapseWarner is the keep-alive's warning that the partner's Partner Center connection lapses
// soon (connection.Manager.KeepAlive): the partner's contact by mail and the partner's systems by
// the connection.lapsing webhook event, both written with the mark on the connection's version,
// so each version is warned once however many workers check it. A function rather than a
// method, so the worker does not register it as an activity.
func LapseWarner(a *Activities) connection.LapseWarner {
	return a.warnLapsing
}

func (a *Activities) warnLapsing(ctx context.Context, l connection.Lapse) (bool, error) {
	row := l.Connection
	lapse := models.ConnectionLapse{
		PartnerID: row.PartnerID,
		Version:   row.Version,
		At:        time.Now(),
		EventData: map[string]any{
			"partnerId":   row.PartnerID,
			"connectedBy": row.UPN,
			"lapsesAt":    l.LapsesAt.UTC(),
			"reason":      l.Reason,
		},
	}
	var rendered notify.Rendered
	if a.cfg.ContactEmail != "" {
		msg, err := notify.Render(notify.KindConnectionLapsing, a.cfg.DefaultLanguage, notify.ConnectionAlert{
			UPN:      row.UPN,
			Reason:   l.Reason,
			Link:     strings.TrimSuffix(a.cfg.BaseURL, "/") + ConnectionPath,
			LapsesAt: l.LapsesAt,
		})
		if err != nil {
			return false, fmt.Errorf("render the connection-lapsing mail: %w", err)
		}
		rendered = msg
		key := models.ConnectionLapseKey(row.PartnerID, row.Version)
		lapse.Mail = &models.OutboxMessage{
			IdempotencyKey: key,
			ToAddress:      a.cfg.ContactEmail,
			Subject:        msg.Subject,
			Language:       msg.Language,
			Kind:           msg.Kind(),
			Body:           SealMailText(a.cfg.Outbox, key, msg.Text),
			HTML:           SealMailText(a.cfg.Outbox, key, msg.HTML),
			Status:         models.OutboxPending,
			CreatedAt:      time.Now().UTC(),
		}
	}
	changed, err := a.cfg.Store.MarkConnectionLapsing(ctx, lapse)
	if err != nil || !changed || lapse.Mail == nil {
		return changed, err
	}
	if err := a.deliver(ctx, lapse.Mail.IdempotencyKey, lapse.Mail.ToAddress, rendered); err != nil {
		return true, fmt.Errorf("mail the partner that the Partner Center connection lapses soon: %w", err)
	}
	return true, nil
}
