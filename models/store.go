package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	// The pure-Go SQLite driver, registered as "sqlite"; the embedded Temporal server uses the same one.
	_ "modernc.org/sqlite"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write would break a uniqueness rule.
var ErrConflict = errors.New("conflict")

// isUniqueViolation recognises a unique-constraint failure from either database; GORM translates
// PostgreSQL's, the pure-Go SQLite driver's only shows in its message.
func isUniqueViolation(err error) bool {
	return errors.Is(err, gorm.ErrDuplicatedKey) ||
		(err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed"))
}

// Store is the app database: a GORM handle and the dialect its migrations are written for.
type Store struct {
	DB      *gorm.DB
	Dialect string
}

// Dialects the store supports.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// Open connects to dsn: a postgres:// or postgresql:// URL means PostgreSQL, anything else is
// the path of a SQLite file (created if missing) opened in WAL mode.
func Open(dsn string) (*Store, error) {
	cfg := &gorm.Config{
		Logger: logger.Discard, TranslateError: true,
		// Statements are prepared once and reused: parsing and planning them again on every call
		// was most of a step's cost on SQLite. The cache is bounded (lists build statements with
		// varying filters) and idle statements are closed.
		PrepareStmt: true, PrepareStmtMaxSize: 512, PrepareStmtTTL: time.Hour,
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := gorm.Open(postgres.Open(dsn), cfg)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return &Store{DB: db, Dialect: DialectPostgres}, keepConnections(db)
	}
	path := strings.TrimPrefix(dsn, "sqlite://")
	conn := "file:" + path + "?_pragma=journal_mode(wal)&_pragma=synchronous(normal)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: "sqlite", DSN: conn}), cfg)
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	return &Store{DB: db, Dialect: DialectSQLite}, keepConnections(db)
}

// MaxConns is how many connections a process holds to the app database at most. Each API,
// worker and dev process has its own pool; PostgreSQL allows 100 connections by default.
const MaxConns = 20

// keepConnections keeps the pool's connections open between calls: database/sql keeps 2 idle
// by default, so under load every other step opened a new connection (a new PostgreSQL backend,
// and its prepared statements prepared again).
func keepConnections(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	sqlDB.SetMaxOpenConns(MaxConns)
	sqlDB.SetMaxIdleConns(MaxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close releases the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}
