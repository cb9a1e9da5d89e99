package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func testMaintenance(t *testing.T, open Opener) {
	t.Run("a migrated store answers and reports its migrations current", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		check(t, s.Ping(ctx))
		ok, err := s.MigrationsCurrent(ctx)
		check(t, err)
		same(t, "current", ok, true)
	})

	t.Run("deleting expired rows removes what ended at or before now and nothing else", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		now := t0.Add(time.Hour)
		user := newUser(1)
		check(t, s.CreateUser(ctx, &user))
		for i, exp := range []time.Time{now.Add(-time.Minute), now, now.Add(µs)} {
			ar := newAuthRequest(seq("ar", i))
			ar.ExpiresAt = exp
			check(t, s.CreateAuthRequest(ctx, &ar))
			at := newAccess(seq("at", i), "", "")
			at.ExpiresAt = exp
			check(t, s.CreateAccessToken(ctx, &at))
			sess := newSession(seq("s", i), "u1")
			sess.ExpiresAt = exp
			check(t, s.CreateSession(ctx, &sess))
			_, err := s.Hit(ctx, seq("rl", i), exp.Sub(t0), t0) // window ends at exp
			check(t, err)
			f := newLoginFlow(seq("f", i))
			f.ExpiresAt = exp
			check(t, s.CreateLoginFlow(ctx, &f))
			c := newChallenge(seq("c", i), f.ID, user.ID)
			c.ExpiresAt = exp
			check(t, s.CreateChallenge(ctx, &c))
			check(t, s.ConsumeChallenge(ctx, c.ID, t0)) // consumed challenges live until they expire too
			check(t, s.UseOnce(ctx, seq("once", i), exp, t0))
		}
		codeReady(t, s, "code")
		rt := newRefresh("rt", "fam", "code")
		rt.ExpiresAt = now
		check(t, s.IssueFromCode(ctx, "code", t0, nil, &rt)) // the "code" request expires at t0+10m

		n, err := s.DeleteExpired(ctx, now)
		check(t, err)
		same(t, "rows removed", n, int64(7*2+1+1)) // 2 of each kind, the refresh token, the code's request

		_, err = s.AuthRequestByID(ctx, seq("ar", 2), t0)
		check(t, err)
		_, err = s.AccessTokenByID(ctx, seq("at", 2))
		check(t, err)
		_, err = s.AccessTokenByID(ctx, seq("at", 1))
		wantErr(t, err, store.ErrNotFound)
		_, err = s.SessionByID(ctx, seq("s", 2), t0)
		check(t, err)
		_, err = s.RefreshTokenByHash(ctx, rt.TokenHash)
		wantErr(t, err, store.ErrNotFound)
		c, err := s.Count(ctx, seq("rl", 2), now.Add(µs).Sub(t0), t0)
		check(t, err)
		same(t, "live window kept", c, 1)
		_, err = s.UserByID(ctx, user.ID)
		check(t, err)
		_, err = s.LoginFlowByID(ctx, seq("f", 2), t0)
		check(t, err)
		_, err = s.ChallengeByID(ctx, seq("c", 2), t0)
		check(t, err)
		wantErr(t, s.UseOnce(ctx, seq("once", 2), now.Add(time.Hour), t0), store.ErrConsumed)
		// Read at t0, the ones that expired at now would still be live had
		// they been kept.
		_, err = s.LoginFlowByID(ctx, seq("f", 1), t0)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.ChallengeByID(ctx, seq("c", 1), t0)
		wantErr(t, err, store.ErrNotFound)
		check(t, s.UseOnce(ctx, seq("once", 1), now.Add(time.Hour), t0))

		n, err = s.DeleteExpired(ctx, now)
		check(t, err)
		same(t, "second pass", n, int64(0))
	})

	t.Run("enrollments left pending for a day are removed, confirmed ones never", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		now := t0.Add(10 * 24 * time.Hour)
		uid := userReady(t, s, 901)
		old := now.Add(-store.PendingEnrollmentLifetime - time.Minute)
		confirmed := old
		for _, e := range []store.Enrollment{
			{ID: "pend-old", UserID: uid, Factor: "totp", CreatedAt: old},
			{ID: "pend-new", UserID: uid, Factor: "totp", CreatedAt: now.Add(-time.Hour)},
			{ID: "conf-old", UserID: uid, Factor: "totp", CreatedAt: old, ConfirmedAt: &confirmed},
		} {
			check(t, s.CreateEnrollment(ctx, &e))
		}
		_, err := s.DeleteExpired(ctx, now)
		check(t, err)
		_, err = s.EnrollmentByID(ctx, "pend-old")
		wantErr(t, err, store.ErrNotFound)
		for _, id := range []string{"pend-new", "conf-old"} {
			_, err := s.EnrollmentByID(ctx, id)
			check(t, err)
		}
	})
}
