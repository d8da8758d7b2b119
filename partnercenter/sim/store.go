package sim

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	// The pure-Go SQLite driver, registered as "sqlite" (the app database and
	// the embedded Temporal server use it too).
	_ "modernc.org/sqlite"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// The simulator persists its world in a SQLite file: one row per entity
// (a tenant, a GDAP relationship with its access assignments, a cart, an
// order, a subscription, a customer's agreement confirmations, a stored
// idempotent answer, and the webhook registration, clock offset and signing
// key), keyed by kind and ID and holding the entity's JSON. Memory stays the
// source of truth for reads; each call that changes something marks what it
// changed (state.mark) and the marked rows are written in one transaction at
// the end of the call (Server.flush), so a change costs the same in a world
// of ten tenants or ten thousand. The file is opened in WAL mode with
// synchronous=NORMAL: a killed process loses nothing committed, a power cut
// may lose the last changes (fine for a simulator).

// Row kinds.
const (
	kindTenant       = "tenant"
	kindGDAP         = "gdap"
	kindCart         = "cart"
	kindOrder        = "order"
	kindSubscription = "subscription"
	kindAgreements   = "agreements" // ID: the customer's tenant ID
	kindIdempotency  = "idempotency"
	kindApp          = "app"           // ID: the lower-case client ID
	kindRefreshToken = "refresh-token" // ID: the SHA-256 of the token
	kindMeta         = "meta"          // IDs below
)

// IDs of the kindMeta rows.
const (
	metaWebhook = "webhook"
	metaClock   = "clock"
	metaSigning = "signing"
	metaToken   = "token-signing" // the Entra token signing key (PEM)
)

// rowKey names one stored entity: its kind and its key in the state's map.
type rowKey struct{ kind, id string }

// signingRow is the stored webhook signing key and certificate.
type signingRow struct {
	KeyPEM  string `json:"keyPEM"`
	CertDER []byte `json:"certDER"`
}

// mark records that the entity changed (or was added or removed) and must be
// written at the end of the call; callers hold s.mu. Every change of a GDAP
// relationship is marked, so mark also hands the relationship to the webhook
// scanner, which works out again when its status next gives an event (see
// scan): the scanner's schedule follows every change the file does.
func (st *state) mark(kind, id string) {
	if st.dirty == nil {
		st.dirty = map[rowKey]struct{}{}
	}
	st.dirty[rowKey{kind, id}] = struct{}{}
	if kind == kindGDAP {
		st.touched[id] = struct{}{}
	}
}

// value is the entity a row holds, or false when it no longer exists.
func (st *state) value(k rowKey) (any, bool) {
	switch k.kind {
	case kindTenant:
		v, ok := st.Tenants[k.id]
		return v, ok
	case kindGDAP:
		v, ok := st.GDAP[k.id]
		return v, ok
	case kindCart:
		v, ok := st.Carts[k.id]
		return v, ok
	case kindOrder:
		v, ok := st.Orders[k.id]
		return v, ok
	case kindSubscription:
		v, ok := st.Subscriptions[k.id]
		return v, ok
	case kindAgreements:
		v, ok := st.Agreements[k.id]
		return v, ok
	case kindIdempotency:
		v, ok := st.Idempotency[k.id]
		return v, ok
	case kindApp:
		v, ok := st.Apps[k.id]
		return v, ok
	case kindRefreshToken:
		v, ok := st.RefreshTokens[k.id]
		return v, ok
	case kindMeta:
		switch k.id {
		case metaWebhook:
			return st.Webhook, st.Webhook != nil
		case metaClock:
			return st.ClockOffset, st.ClockOffset != 0
		case metaSigning:
			return signingRow{KeyPEM: st.SigningKeyPEM, CertDER: st.CertDER}, st.SigningKeyPEM != ""
		case metaToken:
			return st.TokenKeyPEM, st.TokenKeyPEM != ""
		}
	}
	return nil, false
}

// keys lists every entity in memory (for importing a JSON snapshot and for
// CheckStorage; never on a call's path).
func (st *state) keys() []rowKey {
	var out []rowKey
	add := func(kind string, ids []string) {
		for _, id := range ids {
			out = append(out, rowKey{kind, id})
		}
	}
	add(kindTenant, mapKeys(st.Tenants))
	add(kindGDAP, mapKeys(st.GDAP))
	add(kindCart, mapKeys(st.Carts))
	add(kindOrder, mapKeys(st.Orders))
	add(kindSubscription, mapKeys(st.Subscriptions))
	add(kindAgreements, mapKeys(st.Agreements))
	add(kindIdempotency, mapKeys(st.Idempotency))
	add(kindApp, mapKeys(st.Apps))
	add(kindRefreshToken, mapKeys(st.RefreshTokens))
	for _, id := range []string{metaWebhook, metaClock, metaSigning, metaToken} {
		if _, ok := st.value(rowKey{kindMeta, id}); ok {
			out = append(out, rowKey{kindMeta, id})
		}
	}
	return out
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// put loads one stored row into the state.
func (st *state) put(k rowKey, body []byte) error {
	var err error
	switch k.kind {
	case kindTenant:
		err = putRow(st.Tenants, k.id, body)
	case kindGDAP:
		err = putRow(st.GDAP, k.id, body)
	case kindCart:
		err = putRow(st.Carts, k.id, body)
	case kindOrder:
		err = putRow(st.Orders, k.id, body)
	case kindSubscription:
		err = putRow(st.Subscriptions, k.id, body)
	case kindIdempotency:
		err = putRow(st.Idempotency, k.id, body)
	case kindApp:
		err = putRow(st.Apps, k.id, body)
	case kindRefreshToken:
		err = putRow(st.RefreshTokens, k.id, body)
	case kindAgreements:
		var v []pc.CustomerAgreement
		if err = json.Unmarshal(body, &v); err == nil {
			st.Agreements[k.id] = v
		}
	case kindMeta:
		switch k.id {
		case metaWebhook:
			var v pc.WebhookRegistration
			if err = json.Unmarshal(body, &v); err == nil {
				st.Webhook = &v
			}
		case metaClock:
			var v time.Duration
			if err = json.Unmarshal(body, &v); err == nil {
				st.ClockOffset = v
			}
		case metaSigning:
			var v signingRow
			if err = json.Unmarshal(body, &v); err == nil {
				st.SigningKeyPEM, st.CertDER = v.KeyPEM, v.CertDER
			}
		case metaToken:
			err = json.Unmarshal(body, &st.TokenKeyPEM)
		default:
			return fmt.Errorf("unknown row %s/%s", k.kind, k.id)
		}
	default:
		return fmt.Errorf("unknown row kind %q", k.kind)
	}
	if err != nil {
		return fmt.Errorf("row %s/%s: %w", k.kind, k.id, err)
	}
	return nil
}

func putRow[V any](m map[string]*V, id string, body []byte) error {
	v := new(V)
	if err := json.Unmarshal(body, v); err != nil {
		return err
	}
	m[id] = v
	return nil
}

// store is the simulator's SQLite file.
type store struct {
	db   *sql.DB
	path string
}

const schema = `CREATE TABLE IF NOT EXISTS entities (
	kind TEXT NOT NULL,
	id   TEXT NOT NULL,
	body BLOB NOT NULL,
	PRIMARY KEY (kind, id)
) WITHOUT ROWID`

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// openStore opens (creating if needed) the SQLite file at path and loads the
// world from it. A JSON snapshot written by earlier versions at path is
// imported first (see importSnapshot).
func openStore(path string) (*store, *state, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("create simulator data dir: %w", err)
	}
	legacy, err := isJSONSnapshot(path)
	if err != nil {
		return nil, nil, err
	}
	if legacy {
		if err := importSnapshot(path); err != nil {
			return nil, nil, err
		}
	}
	db, err := openDB(path, "wal")
	if err != nil {
		return nil, nil, err
	}
	st, err := loadRows(db)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("read simulator data %s: %w", path, err)
	}
	return &store{db: db, path: path}, st, nil
}

// pageSize is the page size of a new data file (an existing file keeps its own). The rows are
// entities' JSON in a WITHOUT ROWID table, whose rows SQLite keeps whole in a page only up to
// about a quarter of it (2,030 bytes at 8 KiB): with 4 KiB pages every subscription (about 1.5
// KB) and relationship (about 1.1 KB) took an overflow page of its own, and the file three times
// its data. 16 KiB pages would hold bigger rows, but the driver's allocator maps and unmaps
// memory for every buffer over 16 KiB, which B-tree balancing then needs at each page split:
// seeding 100,000 customers took 12.5 s with them, 9.5 s with 8 KiB, 14.6 s (and 1 GB) with 4.
const pageSize = 8192

func openDB(path, journal string) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=synchronous(normal)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open simulator data %s: %w", path, err)
	}
	// Every write happens under the server's lock: one connection is enough.
	db.SetMaxOpenConns(1)
	// The page size first: the driver runs a DSN's pragmas in alphabetical order, and a new
	// file set to WAL has its page size fixed. Both stay in the file.
	for _, stmt := range []string{
		"PRAGMA page_size = " + strconv.Itoa(pageSize),
		"PRAGMA journal_mode = " + journal,
		schema,
	} {
		if _, err := db.Exec(stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("open simulator data %s: %w", path, err)
		}
	}
	return db, nil
}

// isJSONSnapshot reports whether path holds something other than a SQLite
// database: the JSON snapshot earlier versions wrote. A missing or empty
// file is a new database.
func isJSONSnapshot(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read simulator data %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	if n == 0 && (err == io.EOF || err == nil) {
		return false, nil
	}
	return !bytes.Equal(head[:n], sqliteHeader), nil
}

// importSnapshot replaces the JSON snapshot at path by a SQLite database with
// the same world. The snapshot is kept as <path>.legacy (so an earlier
// version can still be pointed at it), the database is built beside path and
// renamed over it, so a crash midway leaves the snapshot in place and the
// import runs again at the next start.
func importSnapshot(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read simulator data %s: %w", path, err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("parse simulator data %s: %w", path, err)
	}
	st.fill()
	if err := os.WriteFile(path+".legacy", b, 0o600); err != nil {
		return fmt.Errorf("keep the simulator's JSON snapshot: %w", err)
	}
	tmp := path + ".import"
	for _, f := range []string{tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("import simulator data: %w", err)
		}
	}
	db, err := openDB(tmp, "delete")
	if err != nil {
		return err
	}
	s := &store{db: db, path: tmp}
	if err := s.write(st, st.keys()); err != nil {
		db.Close()
		return fmt.Errorf("import simulator data %s: %w", path, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("import simulator data %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("import simulator data %s: %w", path, err)
	}
	return nil
}

func loadRows(db *sql.DB) (*state, error) {
	st := newState()
	rows, err := db.Query(`SELECT kind, id, body FROM entities`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k rowKey
		var body []byte
		if err := rows.Scan(&k.kind, &k.id, &body); err != nil {
			return nil, err
		}
		if err := st.put(k, body); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	st.fill()
	return st, nil
}

// write stores the entities named by keys as they are in memory (deleting the
// rows of those that no longer exist) in one transaction.
func (s *store) write(st *state, keys []rowKey) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	upsert, err := tx.Prepare(
		`INSERT INTO entities (kind, id, body) VALUES (?, ?, ?) ` +
			`ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body`,
	)
	if err != nil {
		return err
	}
	defer upsert.Close()
	for _, k := range keys {
		v, ok := st.value(k)
		if !ok {
			if _, err := tx.Exec(`DELETE FROM entities WHERE kind = ? AND id = ?`, k.kind, k.id); err != nil {
				return err
			}
			continue
		}
		body, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s/%s: %w", k.kind, k.id, err)
		}
		if _, err := upsert.Exec(k.kind, k.id, body); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// flush writes what the call changed; callers hold s.mu or own s
// exclusively. A failed write keeps the marks, so the next call retries it.
func (s *Server) flush() error {
	if len(s.st.dirty) == 0 {
		return nil
	}
	if s.closed {
		return errors.New("the simulator is closed: a change made after Close is not written")
	}
	if s.db == nil {
		clear(s.st.dirty)
		return nil
	}
	keys := make([]rowKey, 0, len(s.st.dirty))
	for k := range s.st.dirty {
		keys = append(keys, k)
	}
	// In key order the transaction walks the table's B-tree once instead of jumping about it:
	// it matters for the thousands of rows of an estate.
	slices.SortFunc(keys, func(a, b rowKey) int {
		if c := strings.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if err := s.db.write(s.st, keys); err != nil {
		return fmt.Errorf("write simulator data %s: %w", s.db.path, err)
	}
	clear(s.st.dirty)
	return nil
}

// CheckStorage compares the SQLite file with the world in memory and reports
// every entity that differs, is missing or is left over: a change some call
// made without marking it. It reads the whole file; it is meant for tests.
// Without a DataFile, or after Close, it reports nothing.
func (s *Server) CheckStorage() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	stored := map[rowKey][]byte{}
	rows, err := s.db.db.Query(`SELECT kind, id, body FROM entities`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k rowKey
		var body []byte
		if err := rows.Scan(&k.kind, &k.id, &body); err != nil {
			return err
		}
		stored[k] = body
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var problems []string
	for _, k := range s.st.keys() {
		v, _ := s.st.value(k)
		want, err := json.Marshal(v)
		if err != nil {
			return err
		}
		got, ok := stored[k]
		delete(stored, k)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s/%s is not stored", k.kind, k.id))
		case !bytes.Equal(got, want):
			problems = append(problems, fmt.Sprintf("%s/%s differs:\nstored %s\nmemory %s", k.kind, k.id, got, want))
		}
	}
	for k := range stored {
		problems = append(problems, fmt.Sprintf("%s/%s is stored but no longer exists", k.kind, k.id))
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return errors.New("simulator storage differs from memory: " + strings.Join(problems, "; "))
	}
	return nil
}

func (s *store) close() error { return s.db.Close() }
