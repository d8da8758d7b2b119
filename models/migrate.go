package models

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed migrations
var migrations embed.FS

func (s *Store) provider() (*goose.Provider, error) {
	dialect, dir := goose.DialectPostgres, "migrations/postgres"
	if s.Dialect == DialectSQLite {
		dialect, dir = goose.DialectSQLite3, "migrations/sqlite"
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	sqlDB, err := s.DB.DB()
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, sqlDB, sub, goose.WithDisableGlobalRegistry(true))
}

// Migrate applies every migration the database lacks and returns the version it ends at.
func (s *Store) Migrate(ctx context.Context) (int64, error) {
	p, err := s.provider()
	if err != nil {
		return 0, fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("migrate %s database: %w", s.Dialect, err)
	}
	return p.GetDBVersion(ctx)
}

// LatestVersion is the newest schema version this binary knows.
func (s *Store) LatestVersion() (int64, error) {
	p, err := s.provider()
	if err != nil {
		return 0, err
	}
	sources := p.ListSources()
	return sources[len(sources)-1].Version, nil
}

// CheckSchema refuses a database whose schema is not exactly the one this binary was built for,
// with a message that says what to do.
func (s *Store) CheckSchema(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version (run `partnerflow migrate`): %w", err)
	}
	latest, err := s.LatestVersion()
	if err != nil {
		return err
	}
	switch {
	case current < latest:
		return fmt.Errorf(
			"database schema is at version %d but this partnerflow needs %d: run `partnerflow migrate` first",
			current,
			latest,
		)
	case current > latest:
		return fmt.Errorf(
			"database schema is at version %d, newer than this partnerflow knows (%d): run a newer partnerflow",
			current,
			latest,
		)
	}
	return nil
}

// MigrateTo applies the migrations up to and including version (tests of upgrades use it).
func (s *Store) MigrateTo(ctx context.Context, version int64) (int64, error) {
	p, err := s.provider()
	if err != nil {
		return 0, fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return 0, fmt.Errorf("migrate %s database to %d: %w", s.Dialect, version, err)
	}
	return p.GetDBVersion(ctx)
}
