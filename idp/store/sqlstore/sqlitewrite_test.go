package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/eu-health-idp/idp/idp/store"
)

// TestSQLiteWritesWaitForTheProcessLock: a write outside a transaction, a
// raw write read with Find (the rate-limit upsert) and a transaction all wait for the in-process write lock and go ahead the
// moment it is released; reads do not wait for it.
func TestSQLiteWritesWaitForTheProcessLock(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "w.db"), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if err := s.UseOnce(ctx, "warm", now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}

	s.writes.mu.Lock()
	done := make(chan error, 3)
	go func() { done <- s.UseOnce(ctx, "k1", now.Add(time.Hour), now) }()
	go func() { _, err := s.DeleteExpired(ctx, now); done <- err }()
	go func() { _, err := s.Hit(ctx, "ip:1", time.Minute, now); done <- err }()
	if _, err := s.AccessTokenByID(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a read while a write is held: %v", err)
	}
	if n, err := s.Count(ctx, "ip:1", time.Minute, now); err != nil || n != 0 {
		t.Fatalf("a raw read while a write is held: %d, %v", n, err)
	}
	select {
	case err := <-done:
		s.writes.mu.Unlock()
		t.Fatalf("a write ran while the lock was held (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	s.writes.mu.Unlock()
	for range 3 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a write did not go ahead after the lock was released")
		}
	}
	if err := s.UseOnce(ctx, "k1", now.Add(time.Hour), now); !errors.Is(err, store.ErrConsumed) {
		t.Fatalf("the waiting write was lost: %v", err)
	}
	if n, err := s.Count(ctx, "ip:1", time.Minute, now); err != nil || n != 1 {
		t.Fatalf("the waiting hit was lost: %d, %v", n, err)
	}
}

func TestRawWrite(t *testing.T) {
	for sql, want := range map[string]bool{
		"\n\t\tINSERT INTO rate_limits": true,
		"UPDATE\n users SET":            true,
		"delete from x":                 true,
		"SELECT count FROM rate_limits": false,
		"":                              false,
		"WITH cur AS (SELECT 1)":        false,
	} {
		if got := rawWrite(sql); got != want {
			t.Errorf("rawWrite(%q) = %v, want %v", sql, got, want)
		}
	}
}

type codeErr int

func (c codeErr) Error() string { return fmt.Sprintf("sqlite code %d", int(c)) }
func (c codeErr) Code() int     { return int(c) }

func TestSQLiteBusyIsUnavailable(t *testing.T) {
	for _, c := range []struct {
		code int
		want bool
	}{{5, true}, {6, true}, {517, true}, {19, false}, {1, false}} {
		err := mapErr("x", fmt.Errorf("wrapped: %w", codeErr(c.code)))
		if got := errors.Is(err, store.ErrUnavailable); got != c.want {
			t.Errorf("code %d: unavailable %v, want %v", c.code, got, c.want)
		}
	}
}

// TestQuietTrace: gorm's statement rendering runs only for what is logged.
func TestQuietTrace(t *testing.T) {
	var rendered int
	fc := func() (string, int64) { rendered++; return "SELECT 1", 1 }
	inner := logger.NewSlogLogger(slog.New(slog.NewTextHandler(io.Discard, nil)),
		logger.Config{SlowThreshold: slowStatement, LogLevel: logger.Warn})
	q := quietTrace{inner}.LogMode(logger.Warn)
	q.Trace(context.Background(), time.Now(), fc, nil)
	q.Trace(context.Background(), time.Now(), fc, gorm.ErrRecordNotFound)
	if rendered != 0 {
		t.Fatalf("a fast statement was rendered %d times", rendered)
	}
	q.Trace(context.Background(), time.Now(), fc, errors.New("boom"))
	q.Trace(context.Background(), time.Now().Add(-slowStatement-time.Millisecond), fc, nil)
	if rendered != 2 {
		t.Fatalf("failed and slow statements rendered %d times, want 2", rendered)
	}
}
