package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/flow"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// The seed fast path writes rows straight into the schema's tables
// (migrations/*/0001_init.sql and 0002), bypassing the store and the CLI:
// one `idp user add` per user spends a process start and an argon2id hash
// (~0.1 s), days for a million users. Here every seeded user shares ONE
// argon2id hash of one password, computed once with the configured
// parameters, so the users can still log in (at full argon2id cost) and
// seeding a million takes a minute or two. The schema is migrated first
// through the project's own migrations; the column lists below follow
// it and must change when a migration changes those tables.

// seedOptions configure `idp-bench seed`.
type seedOptions struct {
	DSN        string
	ConfigFile string // argon2id parameters (and IDP_* environment)
	Prefix     string
	Users      int
	Sessions   int // spread over the users, round robin
	Audit      int // spread over the users, times over the last 30 days
	Log        io.Writer
}

// seedResult is what seed prints (JSON): the one password of every
// seeded user is shown here once.
type seedResult struct {
	Database       string  `json:"database"`
	Prefix         string  `json:"prefix"`
	Users          int     `json:"users"`
	Sessions       int     `json:"sessions"`
	Audit          int     `json:"audit_events"`
	UsernameFormat string  `json:"username_format"` // fmt verb: prefix-%07d, from 1
	Password       string  `json:"password"`
	Seconds        float64 `json:"seconds"`
}

// rowSource yields the rows of one table without holding them.
type rowSource struct {
	table string
	cols  []string
	n     int
	row   func(i int, dst []any)
}

func seedUsername(prefix string, i int) string { return fmt.Sprintf("%s-%07d", prefix, i+1) }

// seedUserID is a UUID derived from the username, so sessions and audit
// events can name users without keeping a million IDs in memory.
func seedUserID(prefix string, i int) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("idp-bench/"+seedUsername(prefix, i))).String()
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}

func seed(ctx context.Context, o seedOptions) (*seedResult, error) {
	if o.Users < 1 {
		return nil, errors.New("--users: at least 1")
	}
	if o.Prefix == "" || strings.ContainsAny(o.Prefix, " :@") {
		return nil, errors.New("--prefix: a short name without spaces, colons or @")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	t0 := time.Now()
	// The project's migrations create (or update) the schema.
	st, err := sqlstore.Open(ctx, o.DSN, sqlstore.Options{Migrate: true})
	if err != nil {
		return nil, err
	}
	st.Close()

	cfg, err := config.Load(o.ConfigFile, os.Environ())
	if err != nil {
		return nil, fmt.Errorf("reading the argon2id parameters from the config: %w", err)
	}
	password := "seed-" + randomURLSafe(18)
	hash, err := security.NewPasswordHasher(security.Argon2Params{
		MemoryKiB: cfg.Passwords.Argon2MemoryKiB, Iterations: cfg.Passwords.Argon2Iterations,
		Parallelism: cfg.Passwords.Argon2Parallelism, SaltLen: 16, KeyLen: 32,
	}).HashContext(ctx, password)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	proofs, err := json.Marshal([]store.Proof{flow.CredentialsProof(now.UTC())})
	if err != nil {
		return nil, err
	}
	p := o.Prefix
	sources := []rowSource{
		{
			table: "users",
			cols:  []string{"id", "username", "email", "phone", "password_hash", "disabled", "created_at", "updated_at", "last_factor", "enrol_offered_at"},
			n:     o.Users,
			row: func(i int, d []any) {
				name := seedUsername(p, i)
				d[0], d[1], d[2], d[3], d[4] = seedUserID(p, i), name, name+"@seed.invalid", "", hash
				d[5], d[6], d[7], d[8], d[9] = false, micros(now), micros(now), "", nil
			},
		},
		{
			table: "sessions",
			cols:  []string{"id", "user_id", "proofs", "auth_time", "created_at", "last_seen_at", "expires_at"},
			n:     o.Sessions,
			row: func(i int, d []any) {
				// Session IDs are SHA-256 hex of the cookie; no browser holds these.
				sum := sha256.Sum256(fmt.Appendf(nil, "idp-bench/%s/session/%d", p, i))
				d[0], d[1], d[2] = hex.EncodeToString(sum[:]), seedUserID(p, i%o.Users), string(proofs)
				d[3], d[4], d[5], d[6] = micros(now), micros(now), micros(now), micros(now.Add(cfg.Session.Lifetime))
			},
		},
		{
			table: "audit_events",
			cols:  []string{"user_id", "event", "client_id", "ip", "user_agent", "detail", "created_at"},
			n:     o.Audit,
			row: func(i int, d []any) {
				at := now.Add(-time.Duration(i%(30*24*3600)) * time.Second)
				d[0], d[1], d[2], d[3] = seedUserID(p, i%o.Users), "login.success", p+"-portal", fmt.Sprintf("192.0.2.%d", i%250+1)
				d[4], d[5], d[6] = "idp-bench seed", `{"factor":"password"}`, micros(at)
			},
		},
	}
	write := writeSQLite
	if !strings.HasPrefix(o.DSN, "sqlite:") {
		write = writePostgres
	}
	for _, src := range sources {
		if src.n == 0 {
			continue
		}
		t := time.Now()
		if err := write(ctx, o.DSN, src); err != nil {
			return nil, fmt.Errorf("seeding %s: %w", src.table, err)
		}
		el := time.Since(t)
		fmt.Fprintf(o.Log, "%s: %d rows in %v (%.0f rows/s)\n", src.table, src.n, el.Round(time.Millisecond), float64(src.n)/el.Seconds())
	}
	return &seedResult{
		Database: redactDSN(o.DSN), Prefix: p, Users: o.Users, Sessions: o.Sessions, Audit: o.Audit,
		UsernameFormat: p + "-%07d", Password: password, Seconds: time.Since(t0).Seconds(),
	}, nil
}

// writePostgres streams the rows with COPY.
func writePostgres(ctx context.Context, dsn string, src rowSource) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.CopyFrom(ctx, pgx.Identifier{src.table}, src.cols, &copySource{src: src, i: -1, vals: make([]any, len(src.cols))})
	return err
}

type copySource struct {
	src  rowSource
	i    int
	vals []any
}

func (c *copySource) Next() bool {
	c.i++
	return c.i < c.src.n
}

func (c *copySource) Values() ([]any, error) {
	c.src.row(c.i, c.vals)
	return c.vals, nil
}

func (c *copySource) Err() error { return nil }

// writeSQLite inserts the rows in multi-row INSERTs, 50,000 rows per
// transaction.
func writeSQLite(ctx context.Context, dsn string, src rowSource) error {
	path := strings.TrimPrefix(dsn, "sqlite:")
	path, _, _ = strings.Cut(path, "?")
	db, err := gorm.Open(sqlite.Open(path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(1)

	const perStmt = 100 // rows per INSERT: 1,000 parameters at 10 columns
	const perTx = 50000
	stmtText := func(rows int) string {
		one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(src.cols)), ",") + ")"
		return "INSERT INTO " + src.table + " (" + strings.Join(src.cols, ",") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
	}
	args := make([]any, perStmt*len(src.cols))
	for start := 0; start < src.n; start += perTx {
		end := min(start+perTx, src.n)
		if err := func() error {
			tx, err := sqlDB.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var full *sql.Stmt
			for i := start; i < end; i += perStmt {
				rows := min(perStmt, end-i)
				for r := 0; r < rows; r++ {
					src.row(i+r, args[r*len(src.cols):(r+1)*len(src.cols)])
				}
				a := args[:rows*len(src.cols)]
				if rows == perStmt {
					if full == nil {
						if full, err = tx.PrepareContext(ctx, stmtText(perStmt)); err != nil {
							return err
						}
						defer full.Close()
					}
					_, err = full.ExecContext(ctx, a...)
				} else {
					_, err = tx.ExecContext(ctx, stmtText(rows), a...)
				}
				if err != nil {
					return err
				}
			}
			return tx.Commit()
		}(); err != nil {
			return err
		}
	}
	return nil
}
