package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection that creates schemas

	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
	"github.com/eu-health-idp/idp/idp/store/storetest"
)

// postgresURL returns IDP_TEST_DATABASE_URL; without it the test skips
// locally and fails in CI, so CI can never silently test SQLite only.
func postgresURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("IDP_TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("IDP_TEST_DATABASE_URL is not set and CI is: PostgreSQL tests must run")
		}
		t.Skip("IDP_TEST_DATABASE_URL is not set")
	}
	return u
}

// openPostgres creates a schema of its own, opens the store with it as the
// search_path (pgx sends it as a runtime parameter) and drops it afterwards.
func openPostgres(t *testing.T) store.Store {
	t.Helper()
	return openPostgresAt(t, postgresURL(t))
}

// openPostgresAt is openPostgres on the server at base, for tests and
// benchmarks alike.
func openPostgresAt(t testing.TB, base string) store.Store {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })

	b := make([]byte, 6)
	rand.Read(b)
	schema := "idp_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := sqlstore.Open(t.Context(), u.String(), sqlstore.Options{Migrate: true, MaxOpenConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // runs before the schema is dropped
	return s
}

func TestPostgres(t *testing.T) {
	postgresURL(t)
	storetest.Run(t, openPostgres)
}

func TestPostgresConcurrency(t *testing.T) {
	postgresURL(t)
	storetest.RunConcurrency(t, openPostgres)
}
