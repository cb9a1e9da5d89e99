package sqlstore_test

import (
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection that creates schemas

	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
	"github.com/eu-health-idp/idp/idp/store/storetest"
)

// postgresURL is the test server, or a skip (a failure in CI).
func postgresURL(t *testing.T) string { return storetest.PostgresURL(t) }

// openPostgres opens a migrated store in a schema of its own.
func openPostgres(t *testing.T) store.Store {
	t.Helper()
	return openPostgresAt(t, postgresURL(t))
}

// openPostgresAt is openPostgres on the server at base, for tests and
// benchmarks alike.
func openPostgresAt(t testing.TB, base string) store.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), storetest.SchemaDSN(t, base), sqlstore.Options{Migrate: true, MaxOpenConns: 20})
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
