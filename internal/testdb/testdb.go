// Package testdb gives each test a fresh, migrated app database: a SQLite file always, and a
// PostgreSQL schema of its own when TEST_DATABASE_URL is set (CI sets it).
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/partnerflow/partnerflow/models"
)

// SQLite returns a migrated store in a SQLite file under the test's temp dir.
func SQLite(t testing.TB) *models.Store {
	t.Helper()
	store := emptySQLite(t)
	migrate(t, store)
	return store
}

func emptySQLite(t testing.TB) *models.Store {
	t.Helper()
	store, err := models.Open(filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// Postgres returns a migrated store in a new schema of the TEST_DATABASE_URL database, dropped
// when the test ends; it skips the test when TEST_DATABASE_URL is unset.
func Postgres(t testing.TB) *models.Store {
	t.Helper()
	store := emptyPostgres(t)
	migrate(t, store)
	return store
}

func emptyPostgres(t testing.TB) *models.Store {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TEST_DATABASE_URL is not set; PostgreSQL store tests run in CI")
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	schema := "t_" + hex.EncodeToString(suffix)
	admin, err := models.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.DB.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.DB.Exec("DROP SCHEMA " + schema + " CASCADE").Error
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	store, err := models.Open(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// Each runs fn once per available database: SQLite always, PostgreSQL when configured.
func Each(t *testing.T, fn func(t *testing.T, store *models.Store)) {
	t.Helper()
	for _, dialect := range []string{models.DialectSQLite, models.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			fn(t, Open(t, dialect))
		})
	}
}

// Open returns a fresh store of the named dialect.
func Open(t testing.TB, dialect string) *models.Store {
	t.Helper()
	switch dialect {
	case models.DialectSQLite:
		return SQLite(t)
	case models.DialectPostgres:
		return Postgres(t)
	}
	panic(fmt.Sprintf("unknown dialect %q", dialect))
}

// Empty returns a fresh store of the named dialect without any migration applied, for tests
// of the migrations themselves.
func Empty(t testing.TB, dialect string) *models.Store {
	t.Helper()
	if dialect == models.DialectPostgres {
		return emptyPostgres(t)
	}
	return emptySQLite(t)
}

func migrate(t testing.TB, store *models.Store) {
	t.Helper()
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
}
