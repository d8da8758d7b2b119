package activities

import (
	"context"
	"fmt"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

// deliver writes a rendered message to the outbox once per key, then sends it unless an earlier
// attempt already did, so a retried activity never mails twice. What is sent is the outbox's
// record, so a retry sends exactly what was recorded first.
func (a *Activities) deliver(ctx context.Context, key, to string, m notify.Rendered) error {
	msg, err := a.cfg.Store.EnqueueMail(ctx, &models.OutboxMessage{
		IdempotencyKey: key, ToAddress: to, Subject: m.Subject, Body: m.Text, HTML: m.HTML, Language: m.Language, Kind: m.Kind(),
	})
	if err != nil {
		return fmt.Errorf("write mail %s to the outbox: %w", key, err)
	}
	if msg.Status == models.OutboxSent || msg.Status == models.OutboxLogged {
		return nil
	}
	delivered, err := a.cfg.Mailer.Send(ctx, notify.Message{
		To: msg.ToAddress, Subject: msg.Subject, Body: msg.Body, HTML: msg.HTML, Language: msg.Language, ID: msg.IdempotencyKey,
	})
	if err != nil {
		_ = a.cfg.Store.MarkMail(ctx, msg.ID, models.OutboxFailed, err.Error())
		return fmt.Errorf("send mail %s to %s: %w", key, msg.ToAddress, err)
	}
	status := models.OutboxSent
	if !delivered {
		status = models.OutboxLogged
	}
	return a.cfg.Store.MarkMail(ctx, msg.ID, status, "")
}
