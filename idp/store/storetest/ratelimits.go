package storetest

import (
	"testing"
	"time"
)

func testRateLimits(t *testing.T, open Opener) {
	const window = time.Minute

	t.Run("hits count up within a window and a new window starts exactly at its end", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		steps := []struct {
			at   time.Time
			want int
		}{
			{t0, 1},
			{t0.Add(time.Second), 2},
			{t0.Add(window - µs), 3},
			{t0.Add(window), 1}, // the window began at t0: it is over
			{t0.Add(window + time.Second), 2},
		}
		for _, st := range steps {
			n, err := s.Hit(ctx, "ip:1", window, st.at)
			check(t, err)
			same(t, "count at "+st.at.Sub(t0).String(), n, st.want)
		}
	})

	t.Run("count reads the open window without adding", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		n, err := s.Count(ctx, "ip:1", window, t0)
		check(t, err)
		same(t, "unknown key", n, 0)
		for range 3 {
			_, err := s.Hit(ctx, "ip:1", window, t0)
			check(t, err)
		}
		for _, tc := range []struct {
			at   time.Time
			want int
		}{{t0, 3}, {t0.Add(window - µs), 3}, {t0.Add(window), 0}} {
			n, err := s.Count(ctx, "ip:1", window, tc.at)
			check(t, err)
			same(t, "count at "+tc.at.Sub(t0).String(), n, tc.want)
		}
	})

	t.Run("keys count apart and reset forgets one", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for _, k := range []string{"a", "a", "b"} {
			_, err := s.Hit(ctx, k, window, t0)
			check(t, err)
		}
		check(t, s.Reset(ctx, "a"))
		check(t, s.Reset(ctx, "never"))
		for k, want := range map[string]int{"a": 0, "b": 1} {
			n, err := s.Count(ctx, k, window, t0)
			check(t, err)
			same(t, k, n, want)
		}
		n, err := s.Hit(ctx, "a", window, t0)
		check(t, err)
		same(t, "after reset", n, 1)
	})
}
