package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// KindRemoval is the partnership removal flow.
const KindRemoval = "removal"

// Removal statuses.
const (
	RemovalNotifying = "notifying"
	RemovalCompleted = "completed"
	RemovalFailed    = StatusFailed
)

// RemovalStatuses lists every status in lifecycle order.
var RemovalStatuses = []string{RemovalNotifying, RemovalCompleted, RemovalFailed}

// RemovalOpen reports whether a removal in status s still tells people.
func RemovalOpen(s string) bool { return s == RemovalNotifying }

// Removal is an indirect provider's removal of its partnership with a reseller, with the
// good-faith attestation the provider gave, and the notifications it owes everyone affected.
type Removal struct {
	ID               string `gorm:"primaryKey"`
	PartnerID        string
	ResellerID       string
	ResellerTenantID string
	ResellerName     string
	Status           string
	WorkflowID       string
	// The attestation: who attested, with which API key, from which address, when.
	AttestedBy    string
	AttestedKeyID string
	AttestedIP    string
	AttestedAt    time.Time
	FailureReason string
	// State is the workflow's state at its last recorded step, as JSON (see FlowChange.State).
	State     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// FlowID, FlowCreated, FlowState and FlowStatus make Removal a FlowRow.
func (r Removal) FlowID() string         { return r.ID }
func (r Removal) FlowCreated() time.Time { return r.CreatedAt }
func (r Removal) FlowState() string      { return r.State }
func (r Removal) FlowStatus() string     { return r.Status }

// RemovalChange is what a removal's workflow writes at a step.
type RemovalChange = FlowChange[Removal]

// RemovalSearchColumn is what the list's search matches: a prefix of the reseller's name.
const RemovalSearchColumn = "reseller_name"

// CreateRemoval inserts a removal; a reseller whose removal is still notifying is ErrConflict
// with that removal.
func (s *Store) CreateRemoval(ctx context.Context, r *Removal, with ...With) (*Removal, error) {
	return createOrOpen(ctx, s, KindRemoval, r, func() (*Removal, error) {
		return FindBy[Removal](ctx, s, "reseller_id = ? AND status = ?", r.ResellerID, RemovalNotifying)
	}, with...)
}

// LatestRemoval returns the newest removal of a reseller partnership.
func (s *Store) LatestRemoval(ctx context.Context, resellerID string) (*Removal, error) {
	var rm Removal
	err := s.DB.WithContext(ctx).Where("reseller_id = ?", resellerID).Order("created_at DESC, id DESC").First(&rm).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &rm, err
}

// Delivery channels and statuses.
const (
	ChannelMail    = "mail"
	ChannelWebhook = "webhook"

	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one message a flow owes one recipient: planned once, sent until delivered or its
// retries run out, and then listed as failed until someone retries it; never dropped.
type Delivery struct {
	ID       int64 `gorm:"primaryKey"`
	FlowKind string
	FlowID   string
	Channel  string
	// Recipient is an e-mail address, or a webhook subscription's ID.
	Recipient     string
	RecipientName string
	// Role says why the recipient is told, such as "reseller" or "customer".
	Role        string
	Language    string
	Status      string
	Attempts    int
	LastError   string
	DeliveredAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// PlanDeliveries records deliveries once per flow, channel and recipient; planning again (a
// retried activity) adds nothing.
func (s *Store) PlanDeliveries(ctx context.Context, ds []Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	now := time.Now().UTC()
	for i := range ds {
		ds[i].Status, ds[i].CreatedAt, ds[i].UpdatedAt = DeliveryPending, now, now
	}
	return s.DB.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "flow_kind"}, {Name: "flow_id"}, {Name: "channel"}, {Name: "recipient"}},
		DoNothing: true,
	}).CreateInBatches(ds, 500).Error
}

// PendingDeliveries returns the IDs of a flow's pending deliveries after afterID, in order.
func (s *Store) PendingDeliveries(ctx context.Context, kind, id string, afterID int64, limit int) ([]int64, error) {
	var ids []int64
	err := s.DB.WithContext(ctx).Model(&Delivery{}).
		Where("flow_kind = ? AND flow_id = ? AND status = ? AND id > ?", kind, id, DeliveryPending, afterID).
		Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// Delivery returns one delivery.
func (s *Store) Delivery(ctx context.Context, id int64) (*Delivery, error) {
	return FindBy[Delivery](ctx, s, "id = ?", id)
}

// AttemptDelivery counts an attempt before it is made.
func (s *Store) AttemptDelivery(ctx context.Context, id int64) error {
	return s.DB.WithContext(ctx).Model(&Delivery{}).Where("id = ?", id).
		UpdateColumns(map[string]any{"attempts": gorm.Expr("attempts + 1"), "updated_at": time.Now().UTC()}).Error
}

// FinishDelivery records an attempt's outcome: delivered, or the error and whether the
// delivery has now failed for good.
func (s *Store) FinishDelivery(ctx context.Context, id int64, sendErr error, final bool) error {
	now := time.Now().UTC()
	updates := map[string]any{"updated_at": now}
	switch {
	case sendErr == nil:
		updates["status"], updates["delivered_at"], updates["last_error"] = DeliveryDelivered, now, ""
	case final:
		updates["status"], updates["last_error"] = DeliveryFailed, truncateError(sendErr)
	default:
		updates["last_error"] = truncateError(sendErr)
	}
	return s.DB.WithContext(ctx).
		Model(&Delivery{}).
		Where("id = ? AND status <> ?", id, DeliveryDelivered).
		UpdateColumns(updates).
		Error
}

func truncateError(err error) string {
	msg := err.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return msg
}

// RetryFailedDeliveries makes a flow's failed deliveries pending again and returns how many.
func (s *Store) RetryFailedDeliveries(ctx context.Context, kind, id string, with ...With) (int64, error) {
	var n int64
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Delivery{}).Where("flow_kind = ? AND flow_id = ? AND status = ?", kind, id, DeliveryFailed).
			UpdateColumns(map[string]any{"status": DeliveryPending, "updated_at": time.Now().UTC()})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		n = res.RowsAffected
		for _, w := range with {
			if err := w(tx); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// DeliveryCounts sums a flow's deliveries by status.
type DeliveryCounts struct {
	Total     int64 `json:"total"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
	Pending   int64 `json:"pending"`
}

// CountDeliveries sums a flow's deliveries by status.
func (s *Store) CountDeliveries(ctx context.Context, kind, id string) (DeliveryCounts, error) {
	var rows []struct {
		Status string
		N      int64
	}
	err := s.DB.WithContext(ctx).Model(&Delivery{}).Select("status, COUNT(*) AS n").
		Where("flow_kind = ? AND flow_id = ?", kind, id).Group("status").Scan(&rows).Error
	var c DeliveryCounts
	for _, r := range rows {
		c.Total += r.N
		switch r.Status {
		case DeliveryDelivered:
			c.Delivered = r.N
		case DeliveryFailed:
			c.Failed = r.N
		case DeliveryPending:
			c.Pending = r.N
		}
	}
	return c, err
}

// ListDeliveries returns a page of a flow's deliveries in ID order, optionally of one status,
// and the ID to continue after (0 at the end).
func (s *Store) ListDeliveries(
	ctx context.Context,
	kind, id, status string,
	afterID int64,
	limit int,
) ([]Delivery, int64, error) {
	q := s.DB.WithContext(ctx).Where("flow_kind = ? AND flow_id = ? AND id > ?", kind, id, afterID)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	var out []Delivery
	if err := q.Order("id").Limit(limit + 1).Find(&out).Error; err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
