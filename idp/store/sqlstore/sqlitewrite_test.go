package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// TestSQLiteWritesWaitForTheProcessLock: a write outside a transaction and
// a transaction both wait for the in-process write lock and go ahead the
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
	done := make(chan error, 2)
	go func() { done <- s.UseOnce(ctx, "k1", now.Add(time.Hour), now) }()
	go func() { _, err := s.DeleteExpired(ctx, now); done <- err }()
	if _, err := s.AccessTokenByID(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a read while a write is held: %v", err)
	}
	select {
	case err := <-done:
		s.writes.mu.Unlock()
		t.Fatalf("a write ran while the lock was held (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	s.writes.mu.Unlock()
	for range 2 {
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
