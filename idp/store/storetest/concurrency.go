package storetest

import (
	"errors"
	"fmt"
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
	return oneWinnerOf(t, errs, store.ErrConsumed)
}

// oneWinnerOf fails unless exactly one call succeeded and every other lost
// with lost (ErrConflict for version-guarded updates).
func oneWinnerOf(t *testing.T, errs []error, lost error) int {
	t.Helper()
	winner, losers := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("calls %d and %d both won", winner, i)
			}
			winner = i
		case errors.Is(err, lost):
			losers++
		default:
			t.Fatalf("call %d: unexpected error %v", i, err)
		}
	}
	if winner < 0 || losers != racers-1 {
		t.Fatalf("winner %d, %d losers; want one winner and %d times %v", winner, losers, racers-1, lost)
	}
	return winner
}

// RunConcurrency checks that single-use items are single-use under
// concurrent callers, that version-guarded updates let one writer through,
// and that rate-limit hits and wrong answers are never lost or overcounted.
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

	t.Run("of 50 concurrent consumptions of one challenge exactly one wins", func(t *testing.T) {
		s := open(t)
		c := challengeReady(t, s, "c1")
		w := oneWinner(t, race(func(i int) error {
			return s.ConsumeChallenge(t.Context(), c.ID, t0.Add(time.Duration(i)*µs))
		}))
		got, err := s.ChallengeByID(t.Context(), c.ID, t0)
		check(t, err)
		same(t, "consumed at the winner's time", got.ConsumedAt, ptr(t0.Add(time.Duration(w)*µs)))
	})

	t.Run("of 50 concurrent updates of one challenge's data from the same state exactly one lands", func(t *testing.T) {
		s := open(t)
		c := challengeReady(t, s, "c1")
		w := oneWinnerOf(t, race(func(i int) error {
			return s.UpdateChallengeData(t.Context(), c.ID, c.Data, seq("code-hash", i), fmt.Sprintf(`{"sent":%d}`, i), t0)
		}), store.ErrConflict)
		got, err := s.ChallengeByID(t.Context(), c.ID, t0)
		check(t, err)
		same(t, "code hash", got.CodeHash, seq("code-hash", w))
		same(t, "data", got.Data, fmt.Sprintf(`{"sent":%d}`, w))
	})

	t.Run("of 50 concurrent uses of one key exactly one wins", func(t *testing.T) {
		s := open(t)
		oneWinner(t, race(func(int) error {
			return s.UseOnce(t.Context(), "totp:user-001:59000000", t0.Add(time.Minute), t0)
		}))
	})

	t.Run("of 50 concurrent replacements of one expired key exactly one wins", func(t *testing.T) {
		s := open(t)
		check(t, s.UseOnce(t.Context(), "jti-1", t0, t0.Add(-time.Minute)))
		oneWinner(t, race(func(int) error {
			return s.UseOnce(t.Context(), "jti-1", t0.Add(time.Minute), t0)
		}))
	})

	t.Run("of 50 concurrent wrong answers exactly MaxAttempts are counted", func(t *testing.T) {
		s := open(t)
		c := newChallenge("c1", "flow-1", userReady(t, s, 1))
		c.MaxAttempts = 5
		check(t, s.CreateChallenge(t.Context(), &c))
		counts := make([]int, racers)
		errs := race(func(i int) error {
			n, err := s.FailChallenge(t.Context(), c.ID, t0)
			counts[i] = n
			return err
		})
		seen := map[int]bool{}
		for i, err := range errs {
			switch {
			case err == nil:
				if seen[counts[i]] {
					t.Fatalf("attempt count %d returned twice", counts[i])
				}
				seen[counts[i]] = true
			case !errors.Is(err, store.ErrConsumed):
				t.Fatalf("call %d: unexpected error %v", i, err)
			}
		}
		same(t, "answers counted", len(seen), c.MaxAttempts)
		for n := 1; n <= c.MaxAttempts; n++ {
			if !seen[n] {
				t.Fatalf("attempt count %d never returned", n)
			}
		}
		got, err := s.ChallengeByID(t.Context(), c.ID, t0)
		check(t, err)
		same(t, "attempts stored", got.Attempts, c.MaxAttempts)
	})

	t.Run("of 50 concurrent updates of one enrollment version exactly one lands", func(t *testing.T) {
		s := open(t)
		e := newEnrollment("e1", userReady(t, s, 1))
		check(t, s.CreateEnrollment(t.Context(), &e))
		w := oneWinnerOf(t, race(func(i int) error {
			mine := e
			mine.Name = seq("name", i)
			return s.UpdateEnrollment(t.Context(), &mine)
		}), store.ErrConflict)
		got, err := s.EnrollmentByID(t.Context(), e.ID)
		check(t, err)
		same(t, "name", got.Name, seq("name", w))
		same(t, "version", got.Version, 2)
	})

	t.Run("of 50 concurrent updates of one login flow version exactly one lands", func(t *testing.T) {
		s := open(t)
		f := newLoginFlow("f1")
		check(t, s.CreateLoginFlow(t.Context(), &f))
		w := oneWinnerOf(t, race(func(i int) error {
			mine := f
			mine.Factor = seq("factor", i)
			return s.UpdateLoginFlow(t.Context(), &mine, t0)
		}), store.ErrConflict)
		got, err := s.LoginFlowByID(t.Context(), f.ID, t0)
		check(t, err)
		same(t, "factor", got.Factor, seq("factor", w))
		same(t, "version", got.Version, 2)
	})

	t.Run("of 50 concurrent enrolment offers the first stored wins and every caller sees it", func(t *testing.T) {
		s := open(t)
		id := userReady(t, s, 1)
		offered := make([]time.Time, racers)
		errs := race(func(i int) error {
			at, err := s.MarkEnrolOffered(t.Context(), id, t0.Add(time.Duration(i)*time.Second))
			offered[i] = at
			return err
		})
		for _, err := range errs {
			check(t, err)
		}
		u, err := s.UserByID(t.Context(), id)
		check(t, err)
		for i, at := range offered {
			same(t, seq("offer seen by call", i), at, *u.EnrolOfferedAt)
		}
	})

	t.Run("of 50 concurrent seedings of one client's policy exactly one inserts", func(t *testing.T) {
		s := open(t)
		clientReady(t, s, "portal")
		inserted := make([]bool, racers)
		errs := race(func(i int) error {
			p := newPolicy("portal")
			p.GraceDays = i
			ok, err := s.SeedClientPolicy(t.Context(), &p)
			inserted[i] = ok
			return err
		})
		winner := -1
		for i, err := range errs {
			check(t, err)
			if inserted[i] {
				if winner >= 0 {
					t.Fatalf("calls %d and %d both inserted", winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatal("no call inserted")
		}
		p, err := s.ClientPolicy(t.Context(), "portal")
		check(t, err)
		same(t, "grace days of the seed that inserted", p.GraceDays, winner)
	})
}
