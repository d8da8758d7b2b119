package activities

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

// partnerName is the partner's name in the mails it sends (connection.PartnerName): the name
// the operator configured, or else the company name the Partner Center connection read from the
// partner's profile. It is read where the mail is rendered, so no workflow carries it; a store
// that does not answer leaves the configured name.
func (a *Activities) partnerName(ctx context.Context) string {
	name, err := a.cfg.Store.CompanyName(ctx, a.cfg.PartnerID)
	if err != nil {
		a.cfg.Logger.WarnContext(
			ctx,
			"read the partner's company name; the mail names the configured one",
			"error", err,
		)
	}
	return connection.PartnerName(a.cfg.PartnerName, name)
}

// deliver writes a rendered message to the outbox once per key, then sends it unless an earlier
// attempt already did, so a retried activity never mails twice. What is sent is the outbox's
// record, so a retry sends exactly what was recorded first. The outbox keeps the bodies sealed:
// they carry customers' link tokens.
func (a *Activities) deliver(ctx context.Context, key, to string, m notify.Rendered) error {
	msg, err := a.cfg.Store.EnqueueMail(ctx, &models.OutboxMessage{
		IdempotencyKey: key, ToAddress: to, Subject: m.Subject, Language: m.Language, Kind: m.Kind(),
		Body: SealMailText(a.cfg.Outbox, key, m.Text), HTML: SealMailText(a.cfg.Outbox, key, m.HTML),
	})
	if err != nil {
		return fmt.Errorf("write mail %s to the outbox: %w", key, err)
	}
	if msg.Status == models.OutboxSent || msg.Status == models.OutboxLogged {
		return nil
	}
	body, err := OpenMailText(a.cfg.Outbox, msg.IdempotencyKey, msg.Body)
	if err != nil {
		return err
	}
	html, err := OpenMailText(a.cfg.Outbox, msg.IdempotencyKey, msg.HTML)
	if err != nil {
		return err
	}
	delivered, err := a.cfg.Mailer.Send(ctx, notify.Message{
		To: msg.ToAddress, Subject: msg.Subject, Body: body, HTML: html, Language: msg.Language, ID: msg.IdempotencyKey,
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

// sealedMailPrefix marks an outbox text sealed with the outbox box; rows written before bodies
// were sealed hold plain text and are sent as they are.
const sealedMailPrefix = "sealed:v1:"

// SealMailText seals one part of a message for the outbox, bound to the message's key.
func SealMailText(box *notify.SecretBox, key, text string) string {
	if text == "" {
		return ""
	}
	return sealedMailPrefix + base64.StdEncoding.EncodeToString(box.Seal(key, text))
}

// OpenMailText opens what SealMailText sealed for the same key.
func OpenMailText(box *notify.SecretBox, key, stored string) (string, error) {
	b64, sealed := strings.CutPrefix(stored, sealedMailPrefix)
	if !sealed {
		return stored, nil
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("open mail %s from the outbox: %w", key, err)
	}
	text, err := box.Open(key, raw)
	if err != nil {
		return "", fmt.Errorf(
			"open mail %s from the outbox (is PARTNERFLOW_SIGNING_KEY the one that sealed it?): %w",
			key,
			err,
		)
	}
	return text, nil
}
