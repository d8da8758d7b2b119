package models_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

func TestACappedStepIsAddedExactlyUpToItsLimit(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		const limit, callers = 10, 40
		var wg sync.WaitGroup
		var mu sync.Mutex
		full := 0
		for i := range callers {
			wg.Go(func() {
				f, err := store.AddCappedStep(
					ctx,
					models.KindInvitation,
					"inv_1",
					"acknowledged",
					"",
					"inv_1/acknowledged/"+strconv.Itoa(i),
					at,
					limit,
				)
				if err != nil {
					t.Error(err)
					return
				}
				if f {
					mu.Lock()
					full++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		count := func(name string) int {
			steps, _, err := store.Steps(ctx, models.KindInvitation, "inv_1", "", 0)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, s := range steps {
				if s.Name == name {
					n++
				}
			}
			return n
		}
		if n := count("acknowledged"); n != limit || full != callers-limit {
			t.Fatalf(
				"%d steps added and %d callers told the timeline is full, want %d and %d",
				n,
				full,
				limit,
				callers-limit,
			)
		}
		// Another step name of the same flow has its own cap, and a repeated key adds nothing.
		for range 2 {
			f, err := store.AddCappedStep(
				ctx,
				models.KindInvitation,
				"inv_1",
				"opened",
				"",
				"inv_1/opened/1",
				at,
				limit,
			)
			if err != nil || f {
				t.Fatalf("another step name: full %v, %v", f, err)
			}
		}
		if n := count("opened"); n != 1 {
			t.Fatalf("%d opened steps after one key added twice", n)
		}
	})
}
