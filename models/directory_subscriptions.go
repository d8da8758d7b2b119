package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The customers' subscriptions in the directory. Partner Center lists subscriptions one customer
// at a time ("Get a customer's subscriptions"), so a pass cannot afford to read them all: each
// pass reads a bounded number of customers, those never read first, then the least recently
// read (DirectorySubscriptionsDue), and every read replaces what the directory held for that
// customer (SaveDirectorySubscriptions). When each customer was read is kept beside it
// (DirectorySubscriptionRead), and its page says so.

// DirectorySubscriptionReadsPerPass bounds the customers whose subscriptions one pass of the
// estate sync reads: a call each (activities.SubscriptionReadsPerPass).
const DirectorySubscriptionReadsPerPass = 200

// DirectorySubscription is one subscription of a directory customer as the estate sync last read
// it from Partner Center.
type DirectorySubscription struct {
	PartnerID string `gorm:"primaryKey"`
	// ID is Partner Center's subscription ID, in lower case.
	ID               string `gorm:"primaryKey"`
	CustomerTenantID string
	OfferID          string
	// OfferName is the product's name (offerName); FriendlyName the name the partner gave it.
	OfferName    string
	FriendlyName string
	Quantity     int
	// Status is Partner Center's: active, pending, suspended, expired or deleted.
	Status       string
	BillingCycle string
	TermDuration string
	// CommitmentEndsAt is the end of the subscription's term (commitmentEndDate; far in the
	// future for usage-based ones).
	CommitmentEndsAt *time.Time
	AutoRenew        bool
	// ResellerPartnerID is the PartnerID (MPN ID) of the indirect reseller on record (partnerId),
	// "" when none.
	ResellerPartnerID string
	// Gone says the customer's latest read no longer listed it.
	Gone        bool
	Pass        int64
	FirstSeenAt time.Time
	SeenAt      time.Time
	ChangedAt   time.Time
}

// DirectorySubscriptionRead is when the estate sync last read a customer's subscriptions, in
// which pass, how many Partner Center listed, and why it refused to list them ("" when it did).
type DirectorySubscriptionRead struct {
	PartnerID        string `gorm:"primaryKey"`
	CustomerTenantID string `gorm:"primaryKey"`
	// ReadAt is the latest attempt, listed or refused; ListedAt the latest that Partner Center
	// answered (nil while it never did). A customer whose first reads were refused has nothing
	// to compare with yet, so its first listing is imported quietly too.
	ReadAt        time.Time
	ListedAt      *time.Time
	Pass          int64
	Subscriptions int
	Error         string
}

// Kinds of changes to a customer's subscriptions, also outbound webhook events. A customer's
// first read imports its subscriptions without a change each.
const (
	// ChangeSubscriptionAdded: a subscription the customer's earlier reads did not list.
	ChangeSubscriptionAdded = "directory.subscription.added"
	// ChangeSubscriptionStatus: a subscription's status changed (suspended, expired, deleted, …).
	ChangeSubscriptionStatus = "directory.subscription.status_changed"
	// ChangeSubscriptionChanged: its quantity, term, billing cycle, renewal, offer or reseller
	// changed, its status did not.
	ChangeSubscriptionChanged = "directory.subscription.changed"
	// ChangeSubscriptionGone: the customer's subscriptions no longer list it.
	ChangeSubscriptionGone = "directory.subscription.gone"
)

// SubscriptionChangeKinds are the kinds of changes to subscriptions.
var SubscriptionChangeKinds = []string{
	ChangeSubscriptionAdded, ChangeSubscriptionStatus, ChangeSubscriptionChanged, ChangeSubscriptionGone,
}

// The subscriptions' changes are directory changes: webhook subscriptions may name them
// (DirectoryEvents) and the sync delivers them with the rest.
func init() {
	DirectoryChangeKinds = append(DirectoryChangeKinds, SubscriptionChangeKinds...)
}

// DirectorySubscriptionsDue returns the customers (tenant IDs) whose subscriptions the pass should
// read next: customers the pass listed (still there) whose subscriptions it has not read yet,
// those never read first (by tenant ID), then the least recently read. limit bounds the pass's
// reads, not one call's: the customers the pass already read (a retried activity, or a run
// continued as new) count against it, so a pass never reads more than limit customers.
func (s *Store) DirectorySubscriptionsDue(ctx context.Context, partnerID string, pass int64, limit int) (
	[]string, error,
) {
	db := s.DB.WithContext(ctx)
	var done int64
	if err := db.Model(&DirectorySubscriptionRead{}).Where("partner_id = ? AND pass = ?", partnerID, pass).
		Count(&done).Error; err != nil {
		return nil, fmt.Errorf("count the customers whose subscriptions the pass read: %w", err)
	}
	limit -= int(done)
	if limit <= 0 {
		return nil, nil
	}
	var due []string
	err := db.Table("directory_customers c").
		Where("c.partner_id = ? AND c.pass = ? AND NOT c.gone", partnerID, pass).
		Where(`NOT EXISTS (SELECT 1 FROM directory_subscription_reads r
			WHERE r.partner_id = c.partner_id AND r.customer_tenant_id = c.tenant_id)`).
		Order("c.tenant_id").Limit(limit).Pluck("c.tenant_id", &due).Error
	if err != nil {
		return nil, fmt.Errorf("the customers whose subscriptions were never read: %w", err)
	}
	if len(due) == limit {
		return due, nil
	}
	var oldest []string
	err = db.Table("directory_subscription_reads r").
		Joins("JOIN directory_customers c ON c.partner_id = r.partner_id AND c.tenant_id = r.customer_tenant_id").
		Where("r.partner_id = ? AND r.pass < ? AND c.pass = ? AND NOT c.gone", partnerID, pass, pass).
		Order("r.read_at, r.customer_tenant_id").Limit(limit-len(due)).Pluck("r.customer_tenant_id", &oldest).Error
	if err != nil {
		return nil, fmt.Errorf("the customers whose subscriptions were read longest ago: %w", err)
	}
	return append(due, oldest...), nil
}

// SaveDirectorySubscriptions replaces what the directory holds of one customer's subscriptions
// with what Partner Center listed in the pass: new ones are added, listed ones updated, and the
// customer's subscriptions the list no longer holds are marked gone. Once the customer's
// subscriptions were read before, each difference is a change (one per subscription and pass);
// the first read imports them quietly. It records the read and returns how many changes it wrote.
func (s *Store) SaveDirectorySubscriptions(
	ctx context.Context,
	p DirectoryPass,
	partnerID, tenantID string,
	rows []DirectorySubscription,
	at time.Time,
) (int, error) {
	at = at.UTC()
	added := 0
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var read DirectorySubscriptionRead
		err := tx.First(&read, "partner_id = ? AND customer_tenant_id = ?", partnerID, tenantID).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		// Only a read Partner Center answered is something to compare with.
		readBefore := err == nil && read.ListedAt != nil
		var stored []DirectorySubscription
		if err := tx.Where("partner_id = ? AND customer_tenant_id = ?", partnerID, tenantID).
			Find(&stored).Error; err != nil {
			return err
		}
		before := make(map[string]DirectorySubscription, len(stored))
		for _, r := range stored {
			before[r.ID] = r
		}
		var changes []DirectoryChange
		listed := make(map[string]bool, len(rows))
		for _, r := range rows {
			r.PartnerID, r.CustomerTenantID, r.ID = partnerID, tenantID, strings.ToLower(r.ID)
			if r.ID == "" || listed[r.ID] {
				continue
			}
			listed[r.ID] = true
			r.Pass, r.SeenAt, r.ChangedAt, r.FirstSeenAt = p.Pass, at, at, at
			if r.CommitmentEndsAt != nil {
				end := r.CommitmentEndsAt.UTC()
				r.CommitmentEndsAt = &end
			}
			old, seen := before[r.ID]
			switch {
			case !seen || old.Gone:
				if seen {
					r.FirstSeenAt = old.FirstSeenAt
				}
				changes = append(changes, subscriptionChange(r, ChangeSubscriptionAdded,
					subscriptionName(r)+": "+r.Status+", quantity "+strconv.Itoa(r.Quantity), at))
			default:
				r.FirstSeenAt = old.FirstSeenAt
				diff := subscriptionDiff(old, r)
				switch {
				case old.Status != r.Status:
					changes = append(changes, subscriptionChange(r, ChangeSubscriptionStatus,
						subscriptionName(r)+": "+strings.Join(diff, ", "), at))
				case len(diff) > 0:
					changes = append(changes, subscriptionChange(r, ChangeSubscriptionChanged,
						subscriptionName(r)+": "+strings.Join(diff, ", "), at))
				case old.FriendlyName == r.FriendlyName:
					r.ChangedAt = old.ChangedAt
				}
			}
			if err := tx.Save(&r).Error; err != nil {
				return err
			}
		}
		for _, old := range stored {
			if old.Gone || listed[old.ID] {
				continue
			}
			gone := old
			gone.Pass = p.Pass
			changes = append(changes, subscriptionChange(gone, ChangeSubscriptionGone,
				subscriptionName(old)+" is no longer listed", at))
			if err := tx.Model(&DirectorySubscription{}).Where("partner_id = ? AND id = ?", partnerID, old.ID).
				Updates(map[string]any{"gone": true, "changed_at": at}).Error; err != nil {
				return err
			}
		}
		read = DirectorySubscriptionRead{
			PartnerID: partnerID, CustomerTenantID: tenantID, ReadAt: at, ListedAt: &at, Pass: p.Pass,
			Subscriptions: len(listed),
		}
		if err := tx.Save(&read).Error; err != nil {
			return err
		}
		if !readBefore {
			return nil
		}
		added, err = addDirectoryChanges(tx, changes)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("save the subscriptions of customer %s: %w", tenantID, err)
	}
	return added, nil
}

// RefuseDirectorySubscriptions records that Partner Center refused to list a customer's
// subscriptions in the pass (reason says why): what the directory held of them stays as it was,
// and the customer waits for its turn again like one that was read.
func (s *Store) RefuseDirectorySubscriptions(
	ctx context.Context,
	p DirectoryPass,
	partnerID, tenantID, reason string,
	at time.Time,
) error {
	read := DirectorySubscriptionRead{
		PartnerID: partnerID, CustomerTenantID: tenantID, ReadAt: at.UTC(), Pass: p.Pass, Error: reason,
	}
	err := s.DB.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "partner_id"}, {Name: "customer_tenant_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"read_at", "pass", "error"}),
	}).Create(&read).Error
	if err != nil {
		return fmt.Errorf("record the refused read of customer %s's subscriptions: %w", tenantID, err)
	}
	return nil
}

// subscriptionName is how a change names a subscription: the partner's name for it, else the
// product's, with its ID.
func subscriptionName(r DirectorySubscription) string {
	name := r.FriendlyName
	if name == "" {
		name = r.OfferName
	}
	if name == "" {
		name = r.OfferID
	}
	return name + " (" + r.ID + ")"
}

// subscriptionDiff says what changed between two reads of a subscription, its status first;
// a new name the partner gave it is not news.
func subscriptionDiff(old, r DirectorySubscription) []string {
	var out []string
	was := func(what, before, after string) {
		if before != after {
			out = append(out, what+" "+orNone(before)+" → "+orNone(after))
		}
	}
	was("status", old.Status, r.Status)
	was("quantity", strconv.Itoa(old.Quantity), strconv.Itoa(r.Quantity))
	was("offer", old.OfferID, r.OfferID)
	was("billing cycle", old.BillingCycle, r.BillingCycle)
	was("term", old.TermDuration, r.TermDuration)
	was("commitment end", dateOf(old.CommitmentEndsAt), dateOf(r.CommitmentEndsAt))
	was("auto-renew", strconv.FormatBool(old.AutoRenew), strconv.FormatBool(r.AutoRenew))
	was("reseller", old.ResellerPartnerID, r.ResellerPartnerID)
	return out
}

func dateOf(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

func subscriptionChange(r DirectorySubscription, kind, detail string, at time.Time) DirectoryChange {
	return DirectoryChange{
		PartnerID: r.PartnerID, Kind: kind, SubjectID: r.ID, CustomerTenantID: r.CustomerTenantID,
		Detail: detail, Key: kind + "/" + r.ID + "/" + strconv.FormatInt(r.Pass, 10), CreatedAt: at,
	}
}

// MaxDirectorySubscriptionsShown caps the subscriptions a customer's detail shows; a customer
// holds a few dozen at most, so the cap only guards the page against an odd one.
const MaxDirectorySubscriptionsShown = 500

// DirectoryCustomerSubscriptions is what the directory knows of one customer's subscriptions:
// the listed ones first, then the gone, each by name; and the latest read (nil when the sync
// has not read the customer's subscriptions yet).
type DirectoryCustomerSubscriptions struct {
	Subscriptions []DirectorySubscription
	Read          *DirectorySubscriptionRead
}

// DirectoryCustomerSubscriptionsOf returns one customer's subscriptions as the directory holds
// them, for its detail.
func (s *Store) DirectoryCustomerSubscriptionsOf(ctx context.Context, partnerID, tenantID string) (
	DirectoryCustomerSubscriptions, error,
) {
	var out DirectoryCustomerSubscriptions
	db := s.DB.WithContext(ctx)
	if err := db.Where("partner_id = ? AND customer_tenant_id = ?", partnerID, tenantID).
		Order("gone, offer_name, friendly_name, id").Limit(MaxDirectorySubscriptionsShown).
		Find(&out.Subscriptions).Error; err != nil {
		return out, fmt.Errorf("the subscriptions of customer %s: %w", tenantID, err)
	}
	var read DirectorySubscriptionRead
	err := db.Where("partner_id = ? AND customer_tenant_id = ?", partnerID, tenantID).Limit(1).Find(&read).Error
	if err != nil {
		return out, fmt.Errorf("the latest read of customer %s's subscriptions: %w", tenantID, err)
	}
	if read.PartnerID != "" {
		out.Read = &read
	}
	return out, nil
}
