package sqlstore

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestSQLitePragmas: every connection of the pool, not only the first,
// runs with the pragmas sqliteDSN adds. The pool's connections are held at
// once, so each query below runs on a different connection.
func TestSQLitePragmas(t *testing.T) {
	s, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "p.db"), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	want := map[string]string{
		"journal_mode":       "wal",
		"journal_size_limit": "67108864",
		"synchronous":        "1", // NORMAL
		"foreign_keys":       "1",
		"busy_timeout":       "10000",
	}
	conns := make([]*sql.Conn, defaultSQLiteConns)
	for i := range conns {
		c, err := s.sqlDB.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		for pragma, value := range want {
			var got string
			if err := c.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, pragma, err)
			}
			if got != value {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, pragma, got, value)
			}
		}
	}
	if n := s.sqlDB.Stats().MaxOpenConnections; n != defaultSQLiteConns {
		t.Errorf("MaxOpenConnections = %d, want %d", n, defaultSQLiteConns)
	}
}

// TestPoolIdleLimits: returned connections stay in the pool up to its size
// (database/sql keeps 2 by default), and a connection left unused for the
// idle time is closed.
func TestPoolIdleLimits(t *testing.T) {
	const idle = 100 * time.Millisecond
	s, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "i.db"), Options{MaxOpenConns: 4, ConnMaxIdleTime: idle})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	conns := make([]*sql.Conn, 4)
	for i := range conns {
		if conns[i], err = s.sqlDB.Conn(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	if st := s.sqlDB.Stats(); st.Idle != 4 || st.MaxIdleClosed != 0 {
		t.Errorf("after returning 4 connections: %d idle, %d closed for the idle cap; want 4 idle, none closed", st.Idle, st.MaxIdleClosed)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.sqlDB.Stats().MaxIdleTimeClosed < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("idle connections not closed after %v: %+v", idle, s.sqlDB.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
