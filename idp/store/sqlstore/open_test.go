package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

func TestOpen(t *testing.T) {
	t.Run("an unknown dsn scheme is refused", func(t *testing.T) {
		for _, dsn := range []string{"", "mysql://x", "/tmp/idp.db", "sqlite:"} {
			if s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{}); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded", dsn)
			}
		}
	})

	t.Run("an unmigrated database reports its migrations pending until migrated", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "idp.db")
		s, err := sqlstore.Open(t.Context(), "sqlite:"+path, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		current, err := s.MigrationsCurrent(t.Context())
		if err != nil || current {
			t.Fatalf("MigrationsCurrent = %v, %v; want false", current, err)
		}
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		current, err = s.MigrationsCurrent(t.Context())
		if err != nil || !current {
			t.Fatalf("MigrationsCurrent = %v, %v; want true", current, err)
		}
	})

	t.Run("migrating on every start is harmless", func(t *testing.T) {
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "idp.db")
		for range 2 {
			s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
	})
}
