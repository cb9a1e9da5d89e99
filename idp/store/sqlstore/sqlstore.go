// Package sqlstore implements store.Store on SQLite (pure Go) and
// PostgreSQL through gorm. The schema comes from the goose migrations in
// package migrations, never from AutoMigrate; gorm rows are unexported and
// mapped to the domain types at the edge, so nothing outside this package
// sees gorm.
//
// Every time is stored as unix microseconds (UTC) in a BIGINT column on both
// databases: SQLite has no time type, and comparing integers is the one
// representation where expiry checks in SQL mean the same on both. Times
// therefore round-trip at microsecond precision (PostgreSQL's own). Rows
// turn off gorm's automatic CreatedAt/UpdatedAt (autoCreateTime:false,
// autoUpdateTime:false): on an int64 field gorm writes unix seconds, into a
// zero field on insert and into updated_at on every update and upsert.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/migrations"
)

var _ store.Store = (*Store)(nil)

// Options tune Open.
type Options struct {
	// MaxOpenConns caps the connection pool; 0 keeps the driver default
	// (unlimited on PostgreSQL, 8 on SQLite).
	MaxOpenConns int
	// Migrate applies pending migrations before Open returns.
	Migrate bool
	// Logger receives gorm's warnings and errors; nil discards them.
	Logger *slog.Logger
	// ConnMaxIdleTime closes a pooled connection unused this long; 0 is
	// connMaxIdle.
	ConnMaxIdleTime time.Duration
}

// Store is the SQL backend of every repository in package store.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect goose.Dialect
	folder  string
	// writes is set on SQLite only (see writeLock).
	writes *writeLock
}

// defaultSQLiteConns is enough for concurrent readers under WAL while every
// write transaction is serialised by BEGIN IMMEDIATE.
const defaultSQLiteConns = 8

// Open connects to dsn, which is "sqlite:PATH" or a "postgres://" /
// "postgresql://" URL, and optionally migrates.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	var (
		dialector gorm.Dialector
		s         = &Store{}
		maxConns  = opts.MaxOpenConns
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		d, err := sqliteDSN(strings.TrimPrefix(dsn, "sqlite:"))
		if err != nil {
			return nil, err
		}
		dialector = sqlite.Open(d)
		s.dialect, s.folder = goose.DialectSQLite3, "sqlite"
		if maxConns == 0 {
			maxConns = defaultSQLiteConns
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		dialector = postgres.Open(dsn)
		s.dialect, s.folder = goose.DialectPostgres, "postgres"
	default:
		return nil, errors.New(`sqlstore: dsn must start with "sqlite:", "postgres://" or "postgresql://"`)
	}

	log := logger.Discard
	if opts.Logger != nil {
		log = quietTrace{logger.NewSlogLogger(opts.Logger, logger.Config{
			SlowThreshold:             slowStatement,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true, // never log token hashes or secrets
			LogLevel:                  logger.Warn,
		})}
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 log,
		TranslateError:         true, // unique violations -> gorm.ErrDuplicatedKey on both drivers
		SkipDefaultTransaction: true, // single statements need no wrapping tx
		NowFunc:                func() time.Time { return time.Now().UTC() },
		// SQLite compiles every statement anew unless it is prepared: that
		// was half the cost of a primary-key read. Our statements are a
		// fixed set, so the cache stays small. pgx already caches prepared
		// statements per connection on PostgreSQL.
		PrepareStmt:        s.dialect == goose.DialectSQLite3,
		PrepareStmtMaxSize: 512, // a bound, should a query ever be built per call
	})
	if err != nil {
		return nil, mapErr("open", err) // gorm pings PostgreSQL here
	}
	s.db = db
	if s.dialect == goose.DialectSQLite3 {
		s.writes = &writeLock{}
		if err := s.writes.register(db); err != nil {
			return nil, fmt.Errorf("sqlstore: open: %w", err)
		}
	}
	if s.sqlDB, err = db.DB(); err != nil {
		return nil, fmt.Errorf("sqlstore: open: %w", err)
	}
	if maxConns > 0 {
		s.sqlDB.SetMaxOpenConns(maxConns)
		// database/sql keeps 2 idle connections by default: above two
		// requests in flight every query then closes and reopens a
		// PostgreSQL connection (measured: 47% of the machine in the
		// kernel, client_credentials 749/s -> 2,163/s with this line).
		s.sqlDB.SetMaxIdleConns(maxConns)
	}
	// A connection idle for minutes is closed: a quiet node does not hold
	// PostgreSQL backends (each a server process) it no longer needs, at
	// the cost of one reconnect when traffic returns. (On SQLite it did
	// not measurably lower the node's RSS: 46 MiB before and after.)
	idle := opts.ConnMaxIdleTime
	if idle <= 0 {
		idle = connMaxIdle
	}
	s.sqlDB.SetConnMaxIdleTime(idle)
	if err := s.Ping(ctx); err != nil {
		s.sqlDB.Close()
		return nil, err
	}
	if opts.Migrate {
		if err := s.Migrate(ctx); err != nil {
			s.sqlDB.Close()
			return nil, err
		}
	}
	return s, nil
}

// connMaxIdle is how long a pooled connection may sit unused.
const connMaxIdle = 5 * time.Minute

// sqliteDSN creates the database's directory and adds the pragmas every
// connection needs: WAL so readers do not block the writer, a busy timeout
// so writers queue instead of failing, foreign keys, and BEGIN IMMEDIATE so
// a transaction takes the write lock up front: a deferred transaction that
// upgrades from read to write fails with SQLITE_BUSY instead of waiting.
func sqliteDSN(raw string) (string, error) {
	path, query, _ := strings.Cut(raw, "?")
	if path == "" {
		return "", errors.New("sqlstore: sqlite dsn has no path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("sqlstore: create database directory: %w", err)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("sqlstore: sqlite dsn query: %w", err)
	}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// After a checkpoint the WAL file is truncated to this size; without
	// it, a busy hour leaves a WAL as large as its peak (150 MB seen).
	q.Add("_pragma", "journal_size_limit(67108864)")
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode(), nil
}

func (s *Store) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations.FS, s.folder)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(s.dialect, s.sqlDB, sub)
}

// Migrate applies every pending embedded migration.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// MigrationsCurrent reports whether every embedded migration is applied.
func (s *Store) MigrationsCurrent(ctx context.Context) (bool, error) {
	p, err := s.provider()
	if err != nil {
		return false, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return !pending, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return mapErr("ping", s.sqlDB.PingContext(ctx))
}

// Close releases the connection pool.
func (s *Store) Close() error { return s.sqlDB.Close() }

// DeleteExpired removes rows whose lifetime ended at or before now. Redeemed
// auth requests live until their own expiry, which is what keeps code-reuse
// detection working until then; consumed challenges likewise stay until
// theirs. Pending enrollments and dev outbox messages have no expiry column:
// they go a fixed lifetime after they were created.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	n := micros(now)
	var total int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		for _, table := range []string{
			"auth_requests", "access_tokens", "refresh_tokens", "sessions", "rate_limits",
			"login_flows", "challenges", "single_use",
		} {
			res := tx.Exec("DELETE FROM "+table+" WHERE expires_at <= ?", n)
			if res.Error != nil {
				return res.Error
			}
			total += res.RowsAffected
		}
		// A set-up abandoned half way (QR shown, code never entered) is
		// useless after a day: no login flow lives that long.
		res := tx.Exec("DELETE FROM enrollments WHERE confirmed_at IS NULL AND created_at <= ?", micros(now.Add(-store.PendingEnrollmentLifetime)))
		if res.Error != nil {
			return res.Error
		}
		total += res.RowsAffected
		res = tx.Exec("DELETE FROM outbox_messages WHERE created_at <= ?", micros(now.Add(-store.OutboxLifetime)))
		if res.Error != nil {
			return res.Error
		}
		total += res.RowsAffected
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete expired: %w", err)
	}
	return total, nil
}

// tx runs fn in a transaction; on SQLite it holds the write lock from the
// start (see sqliteDSN).
func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.writes != nil {
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
	}
	return s.db.WithContext(ctx).Transaction(fn)
}

// slowStatement is the duration past which a statement is logged.
const slowStatement = 200 * time.Millisecond

// quietTrace keeps gorm from rendering statements that will not be logged.
// gorm's slog logger renders every statement with its values (a regexp
// over the SQL) before it decides whether to log it: that was 5% of the
// CPU of a refresh grant. Only failed and slow statements reach it now.
// For the same reason raw queries are read with Find, never Scan: Scan
// renders the statement for its own trace recorder whatever the logger.
type quietTrace struct{ logger.Interface }

func (q quietTrace) LogMode(level logger.LogLevel) logger.Interface {
	return quietTrace{q.Interface.LogMode(level)}
}

func (q quietTrace) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if (err != nil && !errors.Is(err, gorm.ErrRecordNotFound)) || time.Since(begin) > slowStatement {
		q.Interface.Trace(ctx, begin, fc, err)
	}
}

// mapErr turns driver errors into the store's sentinels.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrConsumed),
		errors.Is(err, store.ErrUnavailable):
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	case unavailable(err):
		return fmt.Errorf("sqlstore: %s: %w: %w", op, store.ErrUnavailable, err)
	case errors.Is(err, gorm.ErrRecordNotFound), errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrConflict)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		// The row names a user or client that does not exist.
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// unavailable tells an unreachable database from a refused statement: a
// SQLite database whose write lock could not be had within busy_timeout, a
// failed dial, a socket error or closed connection, a connection pgx or
// database/sql gave up on, the server shutting down or out of connection
// slots (SQLSTATE class 08, 57P01-57P03, 53300), or a statement that ran
// out of time. A canceled context is not one: the caller went away.
func unavailable(err error) bool {
	var (
		connErr *pgconn.ConnectError
		netErr  net.Error
		pgErr   *pgconn.PgError
	)
	var liteErr interface{ Code() int }
	if errors.As(err, &liteErr) {
		// SQLITE_BUSY / SQLITE_LOCKED (and their extended codes): the write
		// lock stayed taken for the whole busy timeout. A retry later
		// succeeds; the request is not at fault.
		switch liteErr.Code() & 0xff {
		case 5, 6:
			return true
		}
	}
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &pgErr):
		switch c := pgErr.Code; {
		case strings.HasPrefix(c, "08"), c == "57P01", c == "57P02", c == "57P03", c == "53300":
			return true
		}
	}
	return false
}

// exists tells a missing row from one a guarded UPDATE skipped.
func exists(tx *gorm.DB, table, id string) (bool, error) {
	var n int64
	err := tx.Table(table).Where("id = ?", id).Count(&n).Error
	return n > 0, err
}
