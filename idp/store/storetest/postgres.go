package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection that creates schemas
)

// PostgresURL returns IDP_TEST_DATABASE_URL. Without it the test skips
// locally and fails when CI is set, so CI can never pass by testing
// SQLite only.
func PostgresURL(t testing.TB) string {
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

// PostgresDSN returns a DSN for a new, empty schema on the test server
// (PostgresURL), dropped when the test ends.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return SchemaDSN(t, PostgresURL(t))
}

// SchemaDSN creates a schema of its own on the server at base and returns
// base with that schema as the search_path (pgx sends it as a runtime
// parameter); the schema is dropped when the test ends, after the
// cleanups registered later (closing the store) have run.
func SchemaDSN(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "idp_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer admin.Close()
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
	return u.String()
}
