package models_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

// BenchmarkRecordAStatusChange is one workflow step's write on SQLite: a status, two columns and
// a timeline step (what most of an invitation's records are).
func BenchmarkRecordAStatusChange(b *testing.B) {
	ctx := context.Background()
	store := testdb.SQLite(b)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := store.CreateInvitation(ctx, newInvitation("inv_1", "contoso.com", at)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := models.Record(ctx, store, models.KindInvitation, "inv_1", models.InvitationChange{
			Status:  models.InvitationAccepted,
			Set:     models.Invitation{CustomerTenantID: "tenant-1", RemindersSent: i%5 + 1},
			Step:    "reseller-accepted",
			StepKey: fmt.Sprintf("inv_1/reseller-accepted/%d", i),
			At:      at.Add(time.Duration(i) * time.Second),
		}); err != nil {
			b.Fatal(err)
		}
	}
}
