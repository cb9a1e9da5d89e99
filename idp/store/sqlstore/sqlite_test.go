package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
	"github.com/eu-health-idp/idp/idp/store/storetest"
)

// openSQLite opens a fresh database file in a directory Open must create.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nested", "idp.db")
	s, err := sqlstore.Open(t.Context(), "sqlite:"+path, sqlstore.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, openSQLite)
}

func TestSQLiteConcurrency(t *testing.T) {
	storetest.RunConcurrency(t, openSQLite)
}
