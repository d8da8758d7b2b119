package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PartnerConnection is the partner's App+User connection to Partner Center (Microsoft's secure
// application model): who connected, the refresh token sealed (never in the clear, never in a
// log or a workflow), and whether it still works. There is one row per partner.
type PartnerConnection struct {
	PartnerID string `gorm:"primaryKey"`
	// UPN, Name and ObjectID name the partner user who signed in (with MFA).
	UPN      string
	Name     string
	ObjectID string
	// SealedRefreshToken is the refresh token sealed with the connection box, bound to the
	// partner ID; empty when never connected.
	SealedRefreshToken []byte
	// Version grows with every connection and every rotated refresh token, so a process writes a
	// rotated token only over the one it redeemed.
	Version     int64
	ConnectedAt *time.Time
	// RefreshedAt is when the refresh token was last redeemed: Entra lets one lapse after 90 days
	// unused.
	RefreshedAt *time.Time
	LastUsedAt  *time.Time
	// LostAt is set when the connection stopped working (or a call needed it before any
	// existed) and cleared by connecting again; LostReason says why.
	LostAt     *time.Time
	LostReason string
	// LapseWarnedAt is when the partner was warned that the refresh token is about to lapse;
	// cleared with every new version, so each version is warned at most once.
	LapseWarnedAt *time.Time
	// CompanyName is the partner's company name in its Partner Center profile, read when the
	// connection is made or renewed; empty until then. A new sign-in keeps the one read before.
	CompanyName string
}

// Connected reports whether the connection holds a refresh token that has not stopped working.
func (c *PartnerConnection) Connected() bool {
	return c != nil && len(c.SealedRefreshToken) > 0 && c.LostAt == nil
}

// ConnectionLifetime is how long Entra keeps a refresh token that is not used.
const ConnectionLifetime = 90 * 24 * time.Hour

// LapsesAt is when the refresh token lapses unless it is used before then.
func (c *PartnerConnection) LapsesAt() time.Time {
	if c == nil || c.RefreshedAt == nil {
		return time.Time{}
	}
	return c.RefreshedAt.Add(ConnectionLifetime)
}

// Connection returns the partner's connection, or ErrNotFound.
func (s *Store) Connection(ctx context.Context, partnerID string) (*PartnerConnection, error) {
	var c PartnerConnection
	err := s.DB.WithContext(ctx).Where("partner_id = ?", partnerID).First(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read the partner connection: %w", err)
	}
	return &c, nil
}

// SaveConnection stores a new sign-in: the user, the sealed refresh token, a new version, and
// the connection working again.
func (s *Store) SaveConnection(ctx context.Context, c *PartnerConnection, at time.Time) error {
	at = at.UTC()
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var old PartnerConnection
		err := tx.Where("partner_id = ?", c.PartnerID).First(&old).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("read the partner connection: %w", err)
		}
		c.Version = old.Version + 1
		if c.CompanyName == "" {
			c.CompanyName = old.CompanyName
		}
		c.ConnectedAt, c.RefreshedAt, c.LastUsedAt = &at, &at, nil
		c.LostAt, c.LostReason, c.LapseWarnedAt = nil, "", nil
		err = tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "partner_id"}}, UpdateAll: true}).
			Create(c).
			Error
		if err != nil {
			return fmt.Errorf("save the partner connection: %w", err)
		}
		return nil
	})
}

// RotateRefreshToken stores the refresh token Entra returned for the one of version, unless
// another process rotated or replaced it meanwhile (false then: Entra keeps both valid, and the
// newer one stays).
func (s *Store) RotateRefreshToken(
	ctx context.Context,
	partnerID string,
	version int64,
	sealed []byte,
	at time.Time,
) (bool, error) {
	res := s.DB.WithContext(ctx).
		Model(&PartnerConnection{}).
		Where("partner_id = ? AND version = ? AND lost_at IS NULL", partnerID, version).
		Updates(map[string]any{
			"sealed_refresh_token": sealed,
			"version":              gorm.Expr("version + 1"),
			"refreshed_at":         at.UTC(),
			"last_used_at":         at.UTC(),
			"lapse_warned_at":      nil,
		})
	if res.Error != nil {
		return false, fmt.Errorf("store the rotated refresh token: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// SetCompanyName records the partner's company name as its Partner Center profile gives it.
func (s *Store) SetCompanyName(ctx context.Context, partnerID, name string) error {
	err := s.DB.WithContext(ctx).
		Model(&PartnerConnection{}).
		Where("partner_id = ?", partnerID).
		Update("company_name", name).
		Error
	if err != nil {
		return fmt.Errorf("record the partner's company name: %w", err)
	}
	return nil
}

// CompanyName returns the partner's company name from its Partner Center profile, or "" when
// it is not known (never connected, or not read yet).
func (s *Store) CompanyName(ctx context.Context, partnerID string) (string, error) {
	var names []string
	err := s.DB.WithContext(ctx).
		Model(&PartnerConnection{}).
		Where("partner_id = ?", partnerID).
		Limit(1).
		Pluck("company_name", &names).
		Error
	if err != nil {
		return "", fmt.Errorf("read the partner's company name: %w", err)
	}
	if len(names) == 0 {
		return "", nil
	}
	return names[0], nil
}

// TouchConnection records that the connection served a call.
func (s *Store) TouchConnection(ctx context.Context, partnerID string, at time.Time) error {
	err := s.DB.WithContext(ctx).
		Model(&PartnerConnection{}).
		Where("partner_id = ?", partnerID).
		Update("last_used_at", at.UTC()).
		Error
	if err != nil {
		return fmt.Errorf("record the connection's use: %w", err)
	}
	return nil
}

// ConnectionLoss is what the first process to see a connection fail records with it, in one
// transaction: the partner's mail and the connection.lost event.
type ConnectionLoss struct {
	PartnerID string
	// Version is the connection's version the caller found not working (0: none existed).
	Version int64
	Reason  string
	At      time.Time
	// Mail is the partner contact's message, written to the outbox under ConnectionLossKey;
	// nil sends none.
	Mail *OutboxMessage
	// EventData is the connection.lost event's data.
	EventData any
}

// KindConnection names the Partner Center connection's outbound webhook events
// ("connection.<event>"); ConnectionEvents lists them.
const KindConnection = "connection"

// EventConnectionLost is the outbound webhook event of a lost Partner Center connection.
const EventConnectionLost = KindConnection + ".lost"

// EventConnectionLapsing is the outbound webhook event of a Partner Center connection whose
// refresh token lapses soon because it has not been renewed.
const EventConnectionLapsing = KindConnection + ".lapsing"

// ConnectionEvents are the events of the Partner Center connection partners may subscribe to.
var ConnectionEvents = []string{"lost", "lapsing"}

// ConnectionLossKey names the loss of one version of a partner's connection: the
// connection.lost event's ID and the key of its mail.
func ConnectionLossKey(partnerID string, version int64) string {
	return fmt.Sprintf("connection/%s/lost/%d", partnerID, version)
}

// MarkConnectionLost records that the connection stopped working, once per loss: it reports
// true to the one caller that made the change (whose mail and event are written with it), and
// false to every other, which must not tell anybody again. A sign-in that replaced the version
// the caller saw fail is not marked.
func (s *Store) MarkConnectionLost(ctx context.Context, loss ConnectionLoss) (bool, error) {
	at := loss.At.UTC()
	changed := false
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// A partner that never connected gets a row to carry the loss.
		err := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&PartnerConnection{PartnerID: loss.PartnerID}).
			Error
		if err != nil {
			return fmt.Errorf("create the partner connection: %w", err)
		}
		res := tx.Model(&PartnerConnection{}).
			Where("partner_id = ? AND version = ? AND lost_at IS NULL", loss.PartnerID, loss.Version).
			Updates(map[string]any{"lost_at": at, "lost_reason": loss.Reason})
		if res.Error != nil {
			return fmt.Errorf("mark the partner connection lost: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		changed = true
		eventID := ConnectionLossKey(loss.PartnerID, loss.Version)
		if err := enqueueWebhookEvent(
			tx,
			loss.PartnerID,
			EventConnectionLost,
			eventID,
			at,
			loss.EventData,
		); err != nil {
			return err
		}
		if loss.Mail != nil {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(loss.Mail).Error; err != nil {
				return fmt.Errorf("write the connection mail to the outbox: %w", err)
			}
		}
		return nil
	})
	return changed, err
}

// ConnectionLapse is the warning that one version of the connection lapses soon, recorded with
// its mail and its connection.lapsing event in one transaction.
type ConnectionLapse struct {
	PartnerID string
	// Version is the connection's version that lapses soon.
	Version int64
	At      time.Time
	// Mail is the partner contact's message, written to the outbox under ConnectionLapseKey;
	// nil sends none.
	Mail *OutboxMessage
	// EventData is the connection.lapsing event's data.
	EventData any
}

// ConnectionLapseKey names the lapse warning of one version of a partner's connection: the
// connection.lapsing event's ID and the key of its mail.
func ConnectionLapseKey(partnerID string, version int64) string {
	return fmt.Sprintf("connection/%s/lapsing/%d", partnerID, version)
}

// MarkConnectionLapsing records that the partner is warned that the connection's version lapses
// soon, once per version: it reports true to the one caller that made the change (its mail and
// event are written with it), and false to every other, which must not tell anybody again. A
// version that was renewed, replaced or lost meanwhile is not warned.
func (s *Store) MarkConnectionLapsing(ctx context.Context, lapse ConnectionLapse) (bool, error) {
	at := lapse.At.UTC()
	changed := false
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&PartnerConnection{}).
			Where(
				"partner_id = ? AND version = ? AND lost_at IS NULL AND lapse_warned_at IS NULL",
				lapse.PartnerID,
				lapse.Version,
			).
			Update("lapse_warned_at", at)
		if res.Error != nil {
			return fmt.Errorf("record the lapse warning: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		changed = true
		eventID := ConnectionLapseKey(lapse.PartnerID, lapse.Version)
		if err := enqueueWebhookEvent(
			tx,
			lapse.PartnerID,
			EventConnectionLapsing,
			eventID,
			at,
			lapse.EventData,
		); err != nil {
			return err
		}
		if lapse.Mail != nil {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(lapse.Mail).Error; err != nil {
				return fmt.Errorf("write the lapse warning to the outbox: %w", err)
			}
		}
		return nil
	})
	return changed, err
}
