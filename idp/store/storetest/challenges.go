package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// newChallenge is an SMS code challenge of flow, live until t0+5m, with
// three attempts.
func newChallenge(id, flow, user string) store.Challenge {
	return store.Challenge{
		ID:           id,
		FlowID:       flow,
		UserID:       user,
		Factor:       "sms",
		EnrollmentID: "enr-phone",
		CodeHash:     "code-hash-1",
		Data:         `{"to":"xxxx-xxxx72"}`,
		MaxAttempts:  3,
		CreatedAt:    t0,
		ExpiresAt:    t0.Add(5 * time.Minute),
	}
}

// challengeReady stores newChallenge for a new user and returns it.
func challengeReady(t *testing.T, s store.Store, id string) store.Challenge {
	t.Helper()
	c := newChallenge(id, "flow-1", userReady(t, s, 1))
	check(t, s.CreateChallenge(t.Context(), &c))
	return c
}

func testChallenges(t *testing.T, open Opener) {
	t.Run("a challenge reads back whole", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := newChallenge("c1", "flow-1", userReady(t, s, 1))
		c.Attempts = 1
		check(t, s.CreateChallenge(ctx, &c))
		got, err := s.ChallengeByID(ctx, c.ID, t0)
		check(t, err)
		same(t, "challenge", *got, c)
	})

	t.Run("a challenge of no enrollment and no user yet reads back with empty ids", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := newChallenge("c1", "flow-1", "")
		c.EnrollmentID, c.CodeHash, c.Data = "", "", ""
		check(t, s.CreateChallenge(ctx, &c))
		got, err := s.ChallengeByID(ctx, c.ID, t0)
		check(t, err)
		same(t, "challenge", *got, c)
	})

	t.Run("a taken id is a conflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		wantErr(t, s.CreateChallenge(ctx, &c), store.ErrConflict)
	})

	t.Run("a challenge of an unknown user is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := newChallenge("c1", "flow-1", "nobody")
		wantErr(t, s.CreateChallenge(ctx, &c), store.ErrNotFound)
	})

	t.Run("a challenge expires exactly at ExpiresAt", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		_, err := s.ChallengeByID(ctx, c.ID, c.ExpiresAt.Add(-µs))
		check(t, err)
		_, err = s.ChallengeByID(ctx, c.ID, c.ExpiresAt)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.ChallengeByID(ctx, "nope", t0)
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("a challenge is consumed once and still reads back, consumed", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		at := t0.Add(time.Minute)
		check(t, s.ConsumeChallenge(ctx, c.ID, at))
		wantErr(t, s.ConsumeChallenge(ctx, c.ID, at), store.ErrConsumed)
		got, err := s.ChallengeByID(ctx, c.ID, at)
		check(t, err)
		c.ConsumedAt = &at
		same(t, "challenge", *got, c)
	})

	t.Run("consuming at the last live microsecond works, at ExpiresAt it is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		wantErr(t, s.ConsumeChallenge(ctx, c.ID, c.ExpiresAt), store.ErrNotFound)
		check(t, s.ConsumeChallenge(ctx, c.ID, c.ExpiresAt.Add(-µs)))
		wantErr(t, s.ConsumeChallenge(ctx, "nope", t0), store.ErrNotFound)
	})

	t.Run("a consumed challenge that expired is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		check(t, s.ConsumeChallenge(ctx, c.ID, t0))
		wantErr(t, s.ConsumeChallenge(ctx, c.ID, c.ExpiresAt), store.ErrNotFound)
		_, err := s.FailChallenge(ctx, c.ID, c.ExpiresAt)
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, s.UpdateChallengeData(ctx, c.ID, c.Data, "h", "{}", c.ExpiresAt), store.ErrNotFound)
	})

	t.Run("wrong answers count up to MaxAttempts, then are refused uncounted", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		for want := 1; want <= c.MaxAttempts; want++ {
			n, err := s.FailChallenge(ctx, c.ID, t0)
			check(t, err)
			same(t, "attempts returned", n, want)
		}
		_, err := s.FailChallenge(ctx, c.ID, t0)
		wantErr(t, err, store.ErrConsumed)
		got, err := s.ChallengeByID(ctx, c.ID, t0)
		check(t, err)
		same(t, "attempts stored", got.Attempts, c.MaxAttempts)
		wantErr(t, s.ConsumeChallenge(ctx, c.ID, t0), store.ErrConsumed)
	})

	t.Run("a challenge with attempts left can still be consumed", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		for range c.MaxAttempts - 1 {
			_, err := s.FailChallenge(ctx, c.ID, t0)
			check(t, err)
		}
		check(t, s.ConsumeChallenge(ctx, c.ID, t0))
	})

	t.Run("a consumed challenge counts no wrong answers", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		check(t, s.ConsumeChallenge(ctx, c.ID, t0))
		_, err := s.FailChallenge(ctx, c.ID, t0)
		wantErr(t, err, store.ErrConsumed)
		got, err := s.ChallengeByID(ctx, c.ID, t0)
		check(t, err)
		same(t, "attempts", got.Attempts, 0)
	})

	t.Run("failing an unknown or expired challenge is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		_, err := s.FailChallenge(ctx, c.ID, c.ExpiresAt)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.FailChallenge(ctx, "nope", t0)
		wantErr(t, err, store.ErrNotFound)
		got, err := s.ChallengeByID(ctx, c.ID, t0)
		check(t, err)
		same(t, "attempts", got.Attempts, 0)
	})

	t.Run("a resend replaces code and data and keeps the attempts", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		_, err := s.FailChallenge(ctx, c.ID, t0)
		check(t, err)
		wantErr(t, s.UpdateChallengeData(ctx, c.ID, `{"stale":true}`, "code-hash-2", `{"to":"xxxx-xxxx72","sent":2}`, t0), store.ErrConflict)
		check(t, s.UpdateChallengeData(ctx, c.ID, c.Data, "code-hash-2", `{"to":"xxxx-xxxx72","sent":2}`, t0.Add(time.Minute)))
		got, err := s.ChallengeByID(ctx, c.ID, t0)
		check(t, err)
		c.CodeHash, c.Data, c.Attempts = "code-hash-2", `{"to":"xxxx-xxxx72","sent":2}`, 1
		same(t, "challenge", *got, c)
	})

	t.Run("a consumed challenge cannot be resent, an unknown or expired one is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := challengeReady(t, s, "c1")
		wantErr(t, s.UpdateChallengeData(ctx, c.ID, c.Data, "h", "{}", c.ExpiresAt), store.ErrNotFound)
		wantErr(t, s.UpdateChallengeData(ctx, "nope", "", "h", "{}", t0), store.ErrNotFound)
		check(t, s.ConsumeChallenge(ctx, c.ID, t0))
		wantErr(t, s.UpdateChallengeData(ctx, c.ID, c.Data, "h", "{}", t0), store.ErrConsumed)
		got, err := s.ChallengeByID(ctx, c.ID, t0)
		check(t, err)
		same(t, "code hash", got.CodeHash, c.CodeHash)
	})
}
