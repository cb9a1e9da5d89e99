package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func newSession(id, user string) store.Session {
	return store.Session{
		ID:     id,
		UserID: user,
		Proofs: []store.Proof{
			{Factor: "password", AMR: []string{"pwd"}, At: t0},
			// Proofs stored before kinds existed have none; newer ones do.
			{Factor: "webauthn", AMR: []string{"hwk", "user"}, Kinds: []string{"possession", "inherence"}, PhishingResistant: true, At: t0.Add(time.Second)},
		},
		AuthTime:   t0.Add(time.Second),
		CreatedAt:  t0,
		LastSeenAt: t0,
		ExpiresAt:  t0.Add(8 * time.Hour),
	}
}

func testSessions(t *testing.T, open Opener) {
	t.Run("a session reads back whole with its proofs", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		sess := newSession("s1", "u1")
		check(t, s.CreateSession(ctx, &sess))
		got, err := s.SessionByID(ctx, sess.ID, t0)
		check(t, err)
		same(t, "session", *got, sess)
		wantErr(t, s.CreateSession(ctx, &sess), store.ErrConflict)
	})

	t.Run("a session without proofs reads back with nil proofs", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		sess := newSession("s1", "u1")
		sess.Proofs = []store.Proof{}
		check(t, s.CreateSession(ctx, &sess))
		got, err := s.SessionByID(ctx, sess.ID, t0)
		check(t, err)
		sess.Proofs = nil
		same(t, "session", *got, sess)
	})

	t.Run("a session expires exactly at ExpiresAt", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		sess := newSession("s1", "u1")
		check(t, s.CreateSession(ctx, &sess))
		_, err := s.SessionByID(ctx, sess.ID, sess.ExpiresAt.Add(-µs))
		check(t, err)
		_, err = s.SessionByID(ctx, sess.ID, sess.ExpiresAt)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.SessionByID(ctx, "nope", t0)
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("replacing a session removes the old id and adds the new", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		old, next := newSession("old", "u1"), newSession("new", "u1")
		check(t, s.CreateSession(ctx, &old))
		check(t, s.ReplaceSession(ctx, old.ID, &next))
		_, err := s.SessionByID(ctx, old.ID, t0)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.SessionByID(ctx, next.ID, t0)
		check(t, err)
	})

	t.Run("replacing with no old session just inserts", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		next := newSession("new", "u1")
		check(t, s.ReplaceSession(ctx, "", &next))
		check(t, s.ReplaceSession(ctx, "gone", &store.Session{ID: "new2", UserID: "u1", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		_, err := s.SessionByID(ctx, "new2", t0)
		check(t, err)
	})

	t.Run("a failed replacement keeps the old session", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		old, taken := newSession("old", "u1"), newSession("taken", "u2")
		check(t, s.CreateSession(ctx, &old))
		check(t, s.CreateSession(ctx, &taken))
		wantErr(t, s.ReplaceSession(ctx, old.ID, &taken), store.ErrConflict)
		_, err := s.SessionByID(ctx, old.ID, t0)
		check(t, err)
	})

	t.Run("touching a session moves LastSeenAt only", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		sess := newSession("s1", "u1")
		check(t, s.CreateSession(ctx, &sess))
		at := t0.Add(time.Hour)
		check(t, s.TouchSession(ctx, sess.ID, at))
		got, err := s.SessionByID(ctx, sess.ID, t0)
		check(t, err)
		sess.LastSeenAt = at
		same(t, "session", *got, sess)
		wantErr(t, s.TouchSession(ctx, "nope", at), store.ErrNotFound)
	})

	t.Run("deleting one session or all of a user's", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for _, sess := range []store.Session{newSession("a1", "a"), newSession("a2", "a"), newSession("b1", "b")} {
			check(t, s.CreateSession(ctx, &sess))
		}
		check(t, s.DeleteSession(ctx, "b1"))
		check(t, s.DeleteSession(ctx, "b1"))
		check(t, s.DeleteUserSessions(ctx, "a"))
		for _, id := range []string{"a1", "a2", "b1"} {
			_, err := s.SessionByID(ctx, id, t0)
			wantErr(t, err, store.ErrNotFound)
		}
	})
}
