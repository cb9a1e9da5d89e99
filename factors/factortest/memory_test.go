package factortest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func TestMemoryEnrollments(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	e := &store.Enrollment{ID: "e1", UserID: "u1", Factor: "totp", Secret: []byte{1}, CreatedAt: Start}
	if err := m.CreateEnrollment(ctx, e); err != nil || e.Version != 1 {
		t.Fatalf("create: %v, version %d", err, e.Version)
	}

	t.Run("a second row with the same id is a conflict", func(t *testing.T) {
		if err := m.CreateEnrollment(ctx, &store.Enrollment{ID: "e1"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("returned rows are copies", func(t *testing.T) {
		got, _ := m.EnrollmentByID(ctx, "e1")
		got.Secret[0] = 9
		again, _ := m.EnrollmentByID(ctx, "e1")
		if again.Secret[0] != 1 {
			t.Error("the stored secret changed through a returned copy")
		}
	})
	t.Run("an update with the current version wins and bumps it", func(t *testing.T) {
		a, _ := m.EnrollmentByID(ctx, "e1")
		b, _ := m.EnrollmentByID(ctx, "e1")
		a.Name = "A"
		if err := m.UpdateEnrollment(ctx, a); err != nil || a.Version != 2 {
			t.Fatalf("first: %v, version %d", err, a.Version)
		}
		b.Name = "B"
		if err := m.UpdateEnrollment(ctx, b); !errors.Is(err, store.ErrConflict) || b.Version != 1 {
			t.Errorf("stale: %v, version %d", err, b.Version)
		}
		if got, _ := m.EnrollmentByID(ctx, "e1"); got.Name != "A" {
			t.Errorf("name %q", got.Name)
		}
	})
	t.Run("unknown rows are not found", func(t *testing.T) {
		if _, err := m.EnrollmentByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("by id: %v", err)
		}
		if err := m.UpdateEnrollment(ctx, &store.Enrollment{ID: "nope"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update: %v", err)
		}
		if err := m.DeleteEnrollment(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete: %v", err)
		}
	})
	t.Run("deleting a person's factor keeps the named row and other factors", func(t *testing.T) {
		for _, x := range []store.Enrollment{
			{ID: "r1", UserID: "u1", Factor: "recovery", CreatedAt: Start.Add(time.Second)},
			{ID: "r2", UserID: "u1", Factor: "recovery", CreatedAt: Start.Add(2 * time.Second)},
			{ID: "r3", UserID: "u2", Factor: "recovery", CreatedAt: Start},
		} {
			if err := m.CreateEnrollment(ctx, &x); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := m.DeleteEnrollments(ctx, "u1", "recovery", "r2"); err != nil || n != 1 {
			t.Fatalf("deleted %d, %v", n, err)
		}
		list, _ := m.ListEnrollments(ctx, "u1")
		if len(list) != 2 || list[0].ID != "e1" || list[1].ID != "r2" {
			t.Errorf("left %+v", list)
		}
	})
}

func TestMemoryChallenges(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	c := &store.Challenge{ID: "c1", MaxAttempts: 2, CreatedAt: Start, ExpiresAt: Start.Add(time.Minute)}
	if err := m.CreateChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n, err := m.FailChallenge(ctx, "c1", Start); err != nil || n != 1 {
		t.Fatalf("fail: %d, %v", n, err)
	}
	if err := m.UpdateChallengeData(ctx, "c1", "stale", "h", "{}", Start); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update from stale data: %v", err)
	}
	if err := m.UpdateChallengeData(ctx, "c1", c.Data, "h", "{}", Start); err != nil {
		t.Fatal(err)
	}
	t.Run("an expired challenge is not found", func(t *testing.T) {
		if _, err := m.ChallengeByID(ctx, "c1", Start.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("got %v", err)
		}
		if err := m.ConsumeChallenge(ctx, "c1", Start.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("consume: %v", err)
		}
	})
	t.Run("of racing consumers exactly one wins", func(t *testing.T) {
		var wins, lost atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := m.ConsumeChallenge(ctx, "c1", Start); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrConsumed):
					lost.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || lost.Load() != 49 {
			t.Errorf("%d wins, %d consumed", wins.Load(), lost.Load())
		}
	})
	t.Run("a consumed challenge counts no more answers and takes no new code", func(t *testing.T) {
		if _, err := m.FailChallenge(ctx, "c1", Start); !errors.Is(err, store.ErrConsumed) {
			t.Errorf("fail: %v", err)
		}
		if err := m.UpdateChallengeData(ctx, "c1", "{}", "h2", "", Start); !errors.Is(err, store.ErrConsumed) {
			t.Errorf("update: %v", err)
		}
	})
	t.Run("a challenge out of attempts cannot be consumed", func(t *testing.T) {
		m.CreateChallenge(ctx, &store.Challenge{ID: "c2", MaxAttempts: 1, ExpiresAt: Start.Add(time.Minute)})
		m.FailChallenge(ctx, "c2", Start)
		if _, err := m.FailChallenge(ctx, "c2", Start); !errors.Is(err, store.ErrConsumed) {
			t.Errorf("fail beyond the limit: %v", err)
		}
		if err := m.ConsumeChallenge(ctx, "c2", Start); !errors.Is(err, store.ErrConsumed) {
			t.Errorf("consume: %v", err)
		}
	})
}

func TestMemoryUseOnce(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	exp := Start.Add(time.Minute)
	if err := m.UseOnce(ctx, "k", exp, Start); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		want error
	}{
		{"a recorded key is consumed until it expires", Start.Add(59 * time.Second), store.ErrConsumed},
		{"an expired key may be recorded again", exp, nil},
		{"and is then consumed again", exp, store.ErrConsumed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.UseOnce(ctx, "k", tt.at.Add(time.Minute), tt.at); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	if m.UseOnceCalls() != 4 || len(m.UsedKeys()) != 1 {
		t.Errorf("calls %d, keys %v", m.UseOnceCalls(), m.UsedKeys())
	}
}
