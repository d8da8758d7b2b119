package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DirectoryCustomer is one customer tenant of the partner as the estate sync last read it from
// Partner Center, whoever made it.
type DirectoryCustomer struct {
	PartnerID   string `gorm:"primaryKey"`
	TenantID    string `gorm:"primaryKey"`
	CompanyName string
	// Domain is the customer's *.onmicrosoft.com domain.
	Domain string
	// Relationship is Partner Center's relationshipToPartner (reseller, advisor, …).
	Relationship string
	// ResellerTenantID is the indirect reseller the customer is associated with ("" when none),
	// as of ResellerPass: the pass that last read the reseller's customers.
	ResellerTenantID string
	ResellerPass     int64
	// Gone says the latest full pass no longer found the customer.
	Gone        bool
	Pass        int64
	FirstSeenAt time.Time
	SeenAt      time.Time
	ChangedAt   time.Time
}

// DirectoryGDAP is one GDAP relationship of the partner as the estate sync last read it from
// Microsoft Graph, whoever made it.
type DirectoryGDAP struct {
	PartnerID        string `gorm:"primaryKey"`
	ID               string `gorm:"primaryKey"`
	CustomerTenantID string
	DisplayName      string
	Status           string
	// Roles are the relationship's role definition IDs, comma-separated.
	Roles string
	// GlobalAdmin says the relationship includes the Global Administrator role.
	GlobalAdmin bool
	// AutoExtend says the relationship extends itself at its end (autoExtendDuration P180D).
	AutoExtend  bool
	ActivatedAt *time.Time
	EndsAt      *time.Time
	// Assignments counts the relationship's access assignments; -1 while not read.
	Assignments int
	Gone        bool
	Pass        int64
	FirstSeenAt time.Time
	SeenAt      time.Time
	ChangedAt   time.Time
}

// TableName is the table of the GDAP relationships.
func (DirectoryGDAP) TableName() string { return "directory_gdap" }

// DirectoryChange is one change a pass found: a customer or relationship that appeared,
// changed, ended or crossed an alert threshold. Each is written once (Key) and stays
// undelivered until the sync has told the flows and subscribers concerned.
type DirectoryChange struct {
	ID               int64 `gorm:"primaryKey"`
	PartnerID        string
	Kind             string
	SubjectID        string
	CustomerTenantID string
	Detail           string
	Key              string `gorm:"column:change_key"`
	CreatedAt        time.Time
	DeliveredAt      *time.Time
}

// DirectorySync is a partner's sync: the pass under way and the last one completed.
type DirectorySync struct {
	PartnerID     string `gorm:"primaryKey"`
	Pass          int64
	StartedAt     *time.Time
	CompletedPass int64
	CompletedAt   *time.Time
	Customers     int
	Relationships int
	LastError     string
}

// KindDirectory is the kind of the directory's outbound webhook events, "directory.<change>".
const KindDirectory = "directory"

// Kinds of directory changes; they are also the outbound webhook events' names.
const (
	ChangeCustomerAdded       = "directory.customer.added"
	ChangeCustomerGone        = "directory.customer.gone"
	ChangeCustomerReseller    = "directory.customer.reseller_changed"
	ChangeGDAPAdded           = "directory.gdap.added"
	ChangeGDAPStatus          = "directory.gdap.status_changed"
	ChangeGDAPGone            = "directory.gdap.gone"
	ChangeGDAPExpiring        = "directory.gdap.expiring"
	ChangeGDAPGlobalAdmin     = "directory.gdap.global_admin"
	ChangeGDAPNoAssignments   = "directory.gdap.no_assignments"
	directoryChangeBatchLimit = 500
)

// DirectoryChangeKinds are every kind of directory change.
var DirectoryChangeKinds = []string{
	ChangeCustomerAdded, ChangeCustomerGone, ChangeCustomerReseller, ChangeGDAPAdded, ChangeGDAPStatus,
	ChangeGDAPGone, ChangeGDAPExpiring, ChangeGDAPGlobalAdmin, ChangeGDAPNoAssignments,
}

// DirectoryEvents are the changes' webhook event names after "directory.", as subscriptions name
// them.
func DirectoryEvents() []string {
	out := make([]string, len(DirectoryChangeKinds))
	for i, k := range DirectoryChangeKinds {
		out[i] = k[len(KindDirectory)+1:]
	}
	return out
}

// GDAP relationship statuses the directory reasons about (Microsoft Graph's
// delegatedAdminRelationshipStatus); expiring is Graph's "has passed its expiration date".
const (
	GDAPActive     = "active"
	GDAPExpiring   = "expiring"
	GDAPExpired    = "expired"
	GDAPTerminated = "terminated"
)

// GDAPEnded reports whether a relationship no longer gives access.
func GDAPEnded(status string) bool {
	return status == GDAPExpired || status == GDAPTerminated || status == GDAPExpiring
}

// ExpiryWarningDays are the days before a relationship's end at which partnerflow warns, as
// Partner Center's own mails do (30, 7 and 1 days before).
var ExpiryWarningDays = []int{30, 7, 1}

// DirectoryPass is a pass under way: its number, and whether an earlier full pass exists, so what
// this one finds different is news (the first pass imports the estate without a change each).
type DirectoryPass struct {
	Pass     int64
	Imported bool
}

// BeginDirectoryPass starts the partner's next pass, or resumes the one under way when the last
// did not complete.
func (s *Store) BeginDirectoryPass(ctx context.Context, partnerID string, at time.Time) (DirectoryPass, error) {
	var out DirectoryPass
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sync := DirectorySync{PartnerID: partnerID}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&sync).Error; err != nil {
			return err
		}
		if err := tx.First(&sync, "partner_id = ?", partnerID).Error; err != nil {
			return err
		}
		if sync.Pass == sync.CompletedPass {
			at := at.UTC()
			sync.Pass, sync.StartedAt = sync.Pass+1, &at
			if err := tx.Model(&sync).Select("pass", "started_at").Updates(&sync).Error; err != nil {
				return err
			}
		}
		out = DirectoryPass{Pass: sync.Pass, Imported: sync.CompletedPass > 0}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("begin the directory pass of %s: %w", partnerID, err)
	}
	return out, nil
}

// DirectorySaved is what saving a page found: how many changes it wrote, and the relationships
// whose access assignments should be counted (active ones not counted yet, or just activated).
type DirectorySaved struct {
	Changes          int
	CountAssignments []string
}

// SaveDirectoryCustomers writes a page of customers seen in the pass, with a change for each that
// appeared since the last full pass. Their resellers come from AssociateDirectoryReseller.
func (s *Store) SaveDirectoryCustomers(
	ctx context.Context,
	p DirectoryPass,
	rows []DirectoryCustomer,
	at time.Time,
) (DirectorySaved, error) {
	var saved DirectorySaved
	if len(rows) == 0 {
		return saved, nil
	}
	at = at.UTC()
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		before, err := knownRows(tx, rows, "tenant_id", func(c DirectoryCustomer) (string, string) {
			return c.PartnerID, c.TenantID
		})
		if err != nil {
			return err
		}
		var changes []DirectoryChange
		for _, r := range rows {
			old, seen := before[r.TenantID]
			r.Pass, r.SeenAt, r.ChangedAt, r.FirstSeenAt = p.Pass, at, at, at
			r.ResellerTenantID, r.ResellerPass = "", 0
			switch {
			case !seen:
				changes = append(changes, customerChange(r, ChangeCustomerAdded, "", at))
			default:
				r.FirstSeenAt = old.FirstSeenAt
				r.ResellerTenantID, r.ResellerPass = old.ResellerTenantID, old.ResellerPass
				if old.Pass == p.Pass {
					// The page again in the same pass (a retried activity): a customer the pass
					// found first stays new, so its reseller is not announced as a change.
					r.SeenAt = old.SeenAt
				}
				if old.CompanyName == r.CompanyName && old.Domain == r.Domain && old.Relationship == r.Relationship &&
					!old.Gone {
					r.ChangedAt = old.ChangedAt
				}
			}
			if err := tx.Save(&r).Error; err != nil {
				return err
			}
		}
		if !p.Imported {
			return nil
		}
		n, err := addDirectoryChanges(tx, changes)
		saved.Changes = n
		return err
	})
	if err != nil {
		return saved, fmt.Errorf("save a page of the directory's customers: %w", err)
	}
	return saved, nil
}

// AssociateDirectoryReseller records that the pass found these customers associated with the
// indirect reseller; a customer that was with another reseller, or none, is a change.
func (s *Store) AssociateDirectoryReseller(
	ctx context.Context,
	p DirectoryPass,
	partnerID, resellerTenantID string,
	tenantIDs []string,
	at time.Time,
) (DirectorySaved, error) {
	var saved DirectorySaved
	if len(tenantIDs) == 0 {
		return saved, nil
	}
	at = at.UTC()
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var known []DirectoryCustomer
		if err := tx.Where("partner_id = ? AND tenant_id IN ?", partnerID, tenantIDs).Find(&known).Error; err != nil {
			return err
		}
		var changes []DirectoryChange
		for _, c := range known {
			update := map[string]any{"reseller_pass": p.Pass}
			if c.ResellerTenantID != resellerTenantID {
				before := c.ResellerTenantID
				c.ResellerTenantID = resellerTenantID
				// A customer this pass found first is announced once, with its reseller.
				if !c.FirstSeenAt.Equal(c.SeenAt) || c.Pass != p.Pass {
					changes = append(changes, customerChange(c, ChangeCustomerReseller, before, at))
				}
				update["reseller_tenant_id"], update["changed_at"] = resellerTenantID, at
			}
			if err := tx.Model(&DirectoryCustomer{}).Where("partner_id = ? AND tenant_id = ?", partnerID, c.TenantID).
				Updates(update).Error; err != nil {
				return err
			}
		}
		if !p.Imported {
			return nil
		}
		var err error
		saved.Changes, err = addDirectoryChanges(tx, changes)
		return err
	})
	if err != nil {
		return saved, fmt.Errorf("associate customers with reseller %s: %w", resellerTenantID, err)
	}
	return saved, nil
}

// knownRows reads the stored rows of a page (one partner's) by the page's keys in column.
func knownRows[R any](tx *gorm.DB, page []R, column string, key func(R) (partner, id string)) (map[string]R, error) {
	partner, _ := key(page[0])
	ids := make([]string, len(page))
	for i, r := range page {
		_, ids[i] = key(r)
	}
	var stored []R
	if err := tx.Where("partner_id = ? AND "+column+" IN ?", partner, ids).Find(&stored).Error; err != nil {
		return nil, err
	}
	out := make(map[string]R, len(stored))
	for _, r := range stored {
		_, id := key(r)
		out[id] = r
	}
	return out, nil
}

func customerChange(r DirectoryCustomer, kind, before string, at time.Time) DirectoryChange {
	key := kind + "/" + r.TenantID
	detail := r.CompanyName + " (" + r.Domain + ")"
	if kind == ChangeCustomerReseller {
		key += "/" + before + "/" + r.ResellerTenantID + "/" + at.Format(time.RFC3339)
		detail += ": reseller " + orNone(before) + " → " + orNone(r.ResellerTenantID)
	}
	return DirectoryChange{
		PartnerID: r.PartnerID, Kind: kind, SubjectID: r.TenantID, CustomerTenantID: r.TenantID,
		Detail: detail, Key: key, CreatedAt: at,
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// SaveDirectoryGDAP writes a page of GDAP relationships seen in the pass. After the first full
// pass, a relationship that appeared or changed status is a change. Alerts are changes in every
// pass, each once: the tightest expiry warning a relationship that does not extend itself has
// reached (30, 7 or 1 days before its end; again for a new end date), an active relationship
// holding Global Administrator, and one whose access assignments were counted as none.
func (s *Store) SaveDirectoryGDAP(
	ctx context.Context,
	p DirectoryPass,
	rows []DirectoryGDAP,
	at time.Time,
) (DirectorySaved, error) {
	var saved DirectorySaved
	if len(rows) == 0 {
		return saved, nil
	}
	at = at.UTC()
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		before, err := knownRows(tx, rows, "id", func(g DirectoryGDAP) (string, string) { return g.PartnerID, g.ID })
		if err != nil {
			return err
		}
		var news, alerts []DirectoryChange
		for _, r := range rows {
			old, seen := before[r.ID]
			r.Pass, r.SeenAt, r.ChangedAt, r.FirstSeenAt, r.Assignments = p.Pass, at, at, at, -1
			switch {
			case !seen:
				news = append(news, gdapChange(r, ChangeGDAPAdded, r.ID, r.DisplayName+": "+r.Status, at))
			default:
				r.FirstSeenAt, r.Assignments = old.FirstSeenAt, old.Assignments
				if old.Status != r.Status {
					news = append(news, gdapChange(r, ChangeGDAPStatus, r.ID+"/"+r.Status+"/"+at.Format(time.RFC3339),
						r.DisplayName+": "+old.Status+" → "+r.Status, at))
				} else if old.DisplayName == r.DisplayName && old.Roles == r.Roles && sameTime(old.EndsAt, r.EndsAt) &&
					old.AutoExtend == r.AutoExtend && !old.Gone {
					r.ChangedAt = old.ChangedAt
				}
			}
			if r.Status == GDAPActive && (r.Assignments < 0 || old.Status != GDAPActive) {
				saved.CountAssignments = append(saved.CountAssignments, r.ID)
			}
			alerts = append(alerts, gdapAlerts(r, at)...)
			if err := tx.Save(&r).Error; err != nil {
				return err
			}
		}
		if p.Imported {
			alerts = append(news, alerts...)
		}
		n, err := addDirectoryChanges(tx, alerts)
		saved.Changes = n
		return err
	})
	if err != nil {
		return saved, fmt.Errorf("save a page of the directory's GDAP relationships: %w", err)
	}
	return saved, nil
}

// SetDirectoryAssignments records how many access assignments a relationship has; none on an
// active relationship is an alert, once.
func (s *Store) SetDirectoryAssignments(ctx context.Context, partnerID, id string, n int, at time.Time) (int, error) {
	added := 0
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r DirectoryGDAP
		if err := tx.First(&r, "partner_id = ? AND id = ?", partnerID, id).Error; err != nil {
			return err
		}
		if err := tx.Model(&r).Update("assignments", n).Error; err != nil {
			return err
		}
		r.Assignments = n
		var err error
		added, err = addDirectoryChanges(tx, gdapAlerts(r, at.UTC()))
		return err
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, ErrNotFound
	}
	return added, err
}

func gdapChange(r DirectoryGDAP, kind, key, detail string, at time.Time) DirectoryChange {
	return DirectoryChange{
		PartnerID: r.PartnerID, Kind: kind, SubjectID: r.ID, CustomerTenantID: r.CustomerTenantID,
		Detail: detail, Key: kind + "/" + key, CreatedAt: at,
	}
}

// gdapAlerts are the alerts a relationship's state raises now; their keys make each one once.
func gdapAlerts(r DirectoryGDAP, at time.Time) []DirectoryChange {
	if r.Status != GDAPActive {
		return nil
	}
	var out []DirectoryChange
	if r.EndsAt != nil && !r.AutoExtend {
		left := r.EndsAt.Sub(at)
		tightest := 0
		for _, days := range ExpiryWarningDays {
			if left <= time.Duration(days)*24*time.Hour {
				tightest = days
			}
		}
		if tightest > 0 {
			end := r.EndsAt.UTC().Format(time.DateOnly)
			out = append(out, gdapChange(r, ChangeGDAPExpiring, fmt.Sprintf("%s/%d/%s", r.ID, tightest, end),
				fmt.Sprintf("%s ends on %s (within %d days)", r.DisplayName, end, tightest), at))
		}
	}
	if r.GlobalAdmin {
		out = append(out, gdapChange(r, ChangeGDAPGlobalAdmin, r.ID,
			r.DisplayName+" holds Global Administrator: it cannot extend itself and grants more than any task "+
				"needs", at))
	}
	if r.Assignments == 0 {
		out = append(out, gdapChange(r, ChangeGDAPNoAssignments, r.ID,
			r.DisplayName+" is active but assigns its roles to no security group: nobody can use it", at))
	}
	return out
}

func sameTime(a, b *time.Time) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(*b))
}

// addDirectoryChanges writes changes not written before (by key) and counts the new ones.
func addDirectoryChanges(tx *gorm.DB, changes []DirectoryChange) (int, error) {
	added := 0
	for _, c := range changes {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&c)
		if res.Error != nil {
			return added, res.Error
		}
		added += int(res.RowsAffected)
	}
	return added, nil
}

// EndDirectoryPass completes a pass: what it did not see is marked gone (a change once an earlier
// full pass exists), and the partner's sync records the pass and the estate's size. When the pass
// read every reseller's customers (resellersRead), a customer no reseller listed is direct again.
func (s *Store) EndDirectoryPass(
	ctx context.Context,
	partnerID string,
	p DirectoryPass,
	resellersRead bool,
	at time.Time,
) (int, error) {
	at = at.UTC()
	added := 0
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var goneCustomers []DirectoryCustomer
		if err := tx.Where("partner_id = ? AND pass < ? AND NOT gone", partnerID, p.Pass).
			Find(&goneCustomers).Error; err != nil {
			return err
		}
		var goneGDAP []DirectoryGDAP
		if err := tx.Where("partner_id = ? AND pass < ? AND NOT gone", partnerID, p.Pass).
			Find(&goneGDAP).Error; err != nil {
			return err
		}
		var changes []DirectoryChange
		for _, c := range goneCustomers {
			changes = append(changes, customerChange(c, ChangeCustomerGone, "", at))
			changes[len(changes)-1].Key += "/" + at.Format(time.RFC3339)
		}
		for _, g := range goneGDAP {
			changes = append(changes, gdapChange(g, ChangeGDAPGone, g.ID+"/"+at.Format(time.RFC3339),
				g.DisplayName+" is no longer listed", at))
		}
		if resellersRead {
			var left []DirectoryCustomer
			if err := tx.Where("partner_id = ? AND reseller_tenant_id <> '' AND reseller_pass < ? AND pass = ?",
				partnerID, p.Pass, p.Pass).Find(&left).Error; err != nil {
				return err
			}
			for _, c := range left {
				before := c.ResellerTenantID
				c.ResellerTenantID = ""
				changes = append(changes, customerChange(c, ChangeCustomerReseller, before, at))
			}
			if err := tx.Model(&DirectoryCustomer{}).
				Where("partner_id = ? AND reseller_tenant_id <> '' AND reseller_pass < ? AND pass = ?",
					partnerID, p.Pass, p.Pass).
				Updates(map[string]any{"reseller_tenant_id": "", "changed_at": at}).Error; err != nil {
				return err
			}
		}
		update := map[string]any{"gone": true, "changed_at": at}
		if err := tx.Model(&DirectoryCustomer{}).Where("partner_id = ? AND pass < ? AND NOT gone", partnerID, p.Pass).
			Updates(update).Error; err != nil {
			return err
		}
		if err := tx.Model(&DirectoryGDAP{}).Where("partner_id = ? AND pass < ? AND NOT gone", partnerID, p.Pass).
			Updates(update).Error; err != nil {
			return err
		}
		if p.Imported {
			var err error
			if added, err = addDirectoryChanges(tx, changes); err != nil {
				return err
			}
		}
		var customers, relationships int64
		if err := tx.Model(&DirectoryCustomer{}).Where("partner_id = ? AND NOT gone", partnerID).
			Count(&customers).Error; err != nil {
			return err
		}
		if err := tx.Model(&DirectoryGDAP{}).Where("partner_id = ? AND NOT gone", partnerID).
			Count(&relationships).Error; err != nil {
			return err
		}
		completed := map[string]any{
			"completed_pass": p.Pass, "completed_at": at, "customers": customers, "relationships": relationships,
			"last_error": "",
		}
		return tx.Model(&DirectorySync{}).Where("partner_id = ? AND pass = ?", partnerID, p.Pass).
			Updates(completed).Error
	})
	if err != nil {
		return 0, fmt.Errorf("end the directory pass %d of %s: %w", p.Pass, partnerID, err)
	}
	return added, nil
}

// NoteDirectoryError records why the partner's sync could not go on, for the dashboard.
func (s *Store) NoteDirectoryError(ctx context.Context, partnerID, reason string) error {
	return s.DB.WithContext(ctx).Model(&DirectorySync{}).Where("partner_id = ?", partnerID).
		Update("last_error", reason).Error
}

// DirectorySyncOf returns the partner's sync.
func (s *Store) DirectorySyncOf(ctx context.Context, partnerID string) (*DirectorySync, error) {
	var d DirectorySync
	err := s.DB.WithContext(ctx).First(&d, "partner_id = ?", partnerID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &d, err
}

// UndeliveredDirectoryChanges returns the partner's oldest changes not yet delivered to webhook
// subscribers (the flows' signals are UndeliveredDirectorySignals).
func (s *Store) UndeliveredDirectoryChanges(
	ctx context.Context,
	partnerID string,
	limit int,
) ([]DirectoryChange, error) {
	if limit <= 0 || limit > directoryChangeBatchLimit {
		limit = directoryChangeBatchLimit
	}
	var out []DirectoryChange
	err := s.DB.WithContext(ctx).Where("partner_id = ? AND delivered_at IS NULL AND kind NOT LIKE ?", partnerID,
		SignalPrefix+"%").Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// MarkDirectoryChangesDelivered records that the changes were delivered.
func (s *Store) MarkDirectoryChangesDelivered(ctx context.Context, partnerID string, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return s.DB.WithContext(ctx).Model(&DirectoryChange{}).
		Where("partner_id = ? AND id IN ? AND delivered_at IS NULL", partnerID, slices.Clip(ids)).
		Update("delivered_at", at.UTC()).Error
}

// directoryEventData is what a directory change's webhook event carries.
type directoryEventData struct {
	Subject          string `json:"subject"`
	CustomerTenantID string `json:"customerTenantId,omitempty"`
	Detail           string `json:"detail"`
}

// DeliverDirectoryChanges sends up to limit of the partner's undelivered changes to the webhook
// subscriptions that want them and marks them delivered, in one transaction: each change becomes
// one event (its ID is the change's key), however often this runs. It returns how many it took.
func (s *Store) DeliverDirectoryChanges(ctx context.Context, partnerID string, limit int, at time.Time) (int, error) {
	if limit <= 0 || limit > directoryChangeBatchLimit {
		limit = directoryChangeBatchLimit
	}
	n := 0
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var changes []DirectoryChange
		if err := tx.Where("partner_id = ? AND delivered_at IS NULL AND kind NOT LIKE ?", partnerID,
			SignalPrefix+"%").Order("id").Limit(limit).Find(&changes).Error; err != nil {
			return err
		}
		ids := make([]int64, len(changes))
		for i, c := range changes {
			data := directoryEventData{Subject: c.SubjectID, CustomerTenantID: c.CustomerTenantID, Detail: c.Detail}
			if err := enqueueWebhookEvent(tx, partnerID, c.Kind, c.Key, c.CreatedAt, data); err != nil {
				return err
			}
			ids[i] = c.ID
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		return tx.Model(&DirectoryChange{}).Where("id IN ?", ids).Update("delivered_at", at.UTC()).Error
	})
	if err != nil {
		return 0, fmt.Errorf("deliver the directory's changes: %w", err)
	}
	return n, nil
}
