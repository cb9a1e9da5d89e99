package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// racers is how many goroutines fight over one single-use item.
const racers = 50

// race runs fn racers times at once and returns the errors by index.
func race(fn func(i int) error) []error {
	errs := make([]error, racers)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range racers {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = fn(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

// oneWinner fails unless exactly one call succeeded and every other lost
// with ErrConsumed.
func oneWinner(t *testing.T, errs []error) int {
	t.Helper()
	winner, consumed := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("calls %d and %d both won", winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrConsumed):
			consumed++
		default:
			t.Fatalf("call %d: unexpected error %v", i, err)
		}
	}
	if winner < 0 || consumed != racers-1 {
		t.Fatalf("winner %d, %d ErrConsumed; want one winner and %d ErrConsumed", winner, consumed, racers-1)
	}
	return winner
}

// RunConcurrency checks that single-use items are single-use under
// concurrent callers and that rate-limit hits are never lost.
func RunConcurrency(t *testing.T, open Opener) {
	t.Run("of 50 concurrent redemptions of one code exactly one wins", func(t *testing.T) {
		s := open(t)
		codeReady(t, s, "ar1")
		errs := race(func(i int) error {
			a, r := newAccess(seq("at", i), seq("fam", i), "ar1"), newRefresh(seq("rt", i), seq("fam", i), "ar1")
			return s.IssueFromCode(t.Context(), "ar1", t0, &a, &r)
		})
		w := oneWinner(t, errs)
		_, err := s.AccessTokenByID(t.Context(), seq("at", w))
		check(t, err)
		for i := range racers {
			if i == w {
				continue
			}
			if _, err := s.AccessTokenByID(t.Context(), seq("at", i)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("loser %d left an access token (err %v)", i, err)
			}
		}
	})

	t.Run("of 50 concurrent rotations of one refresh token exactly one wins", func(t *testing.T) {
		s := open(t)
		codeReady(t, s, "ar1")
		r0 := newRefresh("rt0", "fam", "ar1")
		check(t, s.IssueFromCode(t.Context(), "ar1", t0, nil, &r0))
		errs := race(func(i int) error {
			next, a := newRefresh(seq("rt", i+1), "fam", ""), newAccess(seq("at", i), "fam", "")
			return s.RotateRefreshToken(t.Context(), r0.ID, t0.Add(time.Minute), &next, &a)
		})
		w := oneWinner(t, errs)
		_, err := s.RefreshTokenByHash(t.Context(), "hash-"+seq("rt", w+1))
		check(t, err)
	})

	t.Run("50 concurrent hits on one key count 50", func(t *testing.T) {
		s := open(t)
		counts := make([]int, racers)
		errs := race(func(i int) error {
			n, err := s.Hit(t.Context(), "login:alice", time.Hour, t0)
			counts[i] = n
			return err
		})
		seen := map[int]bool{}
		for i, err := range errs {
			check(t, err)
			seen[counts[i]] = true
		}
		same(t, "distinct counts returned", len(seen), racers)
		n, err := s.Count(t.Context(), "login:alice", time.Hour, t0)
		check(t, err)
		same(t, "final count", n, racers)
	})

	t.Run("of 50 nodes creating the first key of an algorithm at once exactly one does", func(t *testing.T) {
		s := open(t)
		created := make([]bool, racers)
		errs := race(func(i int) error {
			k := newKey(seq("race-key", i), "ES256", t0)
			ok, err := s.CreateKeyIfNone(t.Context(), &k)
			created[i] = ok
			return err
		})
		n := 0
		for i, err := range errs {
			check(t, err)
			if created[i] {
				n++
			}
		}
		same(t, "keys created", n, 1)
		keys, err := s.ListKeys(t.Context(), t0)
		check(t, err)
		same(t, "keys published", len(keys), 1)
	})
}
