package security_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

func TestThrottle(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "t.db"), sqlstore.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ctx := t.Context()

	t.Run("the account locks at its limit, and only the failure that reaches it says so", func(t *testing.T) {
		th := security.NewThrottle(st, 3, 0, time.Hour, clock)
		var locked []bool
		for range 4 {
			l, err := th.Fail(ctx, security.ScopeFactor, "u1", "")
			if err != nil {
				t.Fatal(err)
			}
			locked = append(locked, l)
		}
		if locked[0] || locked[1] || !locked[2] || locked[3] {
			t.Fatalf("lockedNow per failure = %v, want only the third", locked)
		}
		if b, _ := th.Blocked(ctx, security.ScopeFactor, "u1", ""); !b {
			t.Fatal("not blocked at the limit")
		}
		if b, _ := th.Blocked(ctx, security.ScopeFactor, "u2", ""); b {
			t.Fatal("another account is blocked")
		}
	})

	t.Run("forgetting the failures lifts the lock", func(t *testing.T) {
		th := security.NewThrottle(st, 3, 0, time.Hour, clock)
		if err := security.ForgetFailures(ctx, st, security.ScopeFactor, "u1"); err != nil {
			t.Fatal(err)
		}
		if b, _ := th.Blocked(ctx, security.ScopeFactor, "u1", ""); b {
			t.Fatal("still blocked after ForgetFailures")
		}
	})

	t.Run("an IP limit counts failures of every account from that address", func(t *testing.T) {
		th := security.NewThrottle(st, 100, 2, time.Hour, clock)
		for _, acct := range []string{"a", "b"} {
			if _, err := th.Fail(ctx, "login", acct, "192.0.2.7"); err != nil {
				t.Fatal(err)
			}
		}
		if b, _ := th.Blocked(ctx, "login", "c", "192.0.2.7"); !b {
			t.Fatal("a third account from the same IP is not blocked")
		}
		if b, _ := th.Blocked(ctx, "login", "c", "192.0.2.8"); b {
			t.Fatal("another IP is blocked")
		}
	})

	t.Run("failures older than the window no longer count", func(t *testing.T) {
		th := security.NewThrottle(st, 1, 0, time.Minute, clock)
		if _, err := th.Fail(ctx, "old", "x", ""); err != nil {
			t.Fatal(err)
		}
		later := security.NewThrottle(st, 1, 0, time.Minute, func() time.Time { return now.Add(2 * time.Minute) })
		if b, _ := later.Blocked(ctx, "old", "x", ""); b {
			t.Fatal("blocked after the window")
		}
	})
}
