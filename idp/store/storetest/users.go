package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func newUser(i int) store.User {
	return store.User{
		ID:           seq("user", i),
		Username:     seq("name", i),
		Email:        seq("mail", i) + "@example.org",
		Phone:        "+3312345678",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		CreatedAt:    t0,
		UpdatedAt:    t0.Add(time.Second),
	}
}

func testUsers(t *testing.T, open Opener) {
	t.Run("a created user reads back whole by id and by username", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		u := newUser(1)
		u.Disabled = true
		check(t, s.CreateUser(ctx, &u))
		got, err := s.UserByID(ctx, u.ID)
		check(t, err)
		same(t, "by id", *got, u)
		got, err = s.UserByUsername(ctx, u.Username)
		check(t, err)
		same(t, "by username", *got, u)
	})

	t.Run("users without email or phone do not conflict and read back empty", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for i := range 2 {
			u := newUser(i)
			u.Email, u.Phone = "", ""
			check(t, s.CreateUser(ctx, &u))
			got, err := s.UserByID(ctx, u.ID)
			check(t, err)
			same(t, "user", *got, u)
		}
	})

	t.Run("a user saved without times reads back without them", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		u := newUser(1)
		u.CreatedAt, u.UpdatedAt = time.Time{}, time.Time{}
		check(t, s.CreateUser(ctx, &u))
		check(t, s.SetUserLastFactor(ctx, u.ID, "totp"))
		got, err := s.UserByID(ctx, u.ID)
		check(t, err)
		u.LastFactor = "totp"
		same(t, "user", *got, u)
	})

	t.Run("times given in another zone read back in UTC", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		u := newUser(1)
		u.CreatedAt = t0.In(time.FixedZone("CET", 3600))
		check(t, s.CreateUser(ctx, &u))
		got, err := s.UserByID(ctx, u.ID)
		check(t, err)
		if got.CreatedAt.Location() != time.UTC || !got.CreatedAt.Equal(t0) {
			t.Fatalf("CreatedAt = %v, want %v in UTC", got.CreatedAt, t0)
		}
	})

	conflicts := []struct {
		name   string
		change func(u *store.User)
	}{
		{"a taken username is a conflict", func(u *store.User) { u.ID, u.Email = "other", "other@example.org" }},
		{"a taken email is a conflict", func(u *store.User) { u.ID, u.Username = "other", "other" }},
		{"a taken id is a conflict", func(u *store.User) { u.Username, u.Email = "other", "other@example.org" }},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := open(t), t.Context()
			u := newUser(1)
			check(t, s.CreateUser(ctx, &u))
			dup := newUser(1)
			tc.change(&dup)
			wantErr(t, s.CreateUser(ctx, &dup), store.ErrConflict)
		})
	}

	t.Run("an unknown id or username is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		_, err := s.UserByID(ctx, "nobody")
		wantErr(t, err, store.ErrNotFound)
		_, err = s.UserByUsername(ctx, "nobody")
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("users are listed by username", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		empty, err := s.ListUsers(ctx)
		check(t, err)
		same(t, "empty list length", len(empty), 0)
		for _, i := range []int{3, 1, 2} {
			u := newUser(i)
			u.ID = seq("id", 10-i) // ids ordered against usernames
			check(t, s.CreateUser(ctx, &u))
		}
		list, err := s.ListUsers(ctx)
		check(t, err)
		var names []string
		for _, u := range list {
			names = append(names, u.Username)
		}
		same(t, "order", names, []string{"name-001", "name-002", "name-003"})
	})

	t.Run("disabling and enabling a user sets the flag and UpdatedAt", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		u := newUser(1)
		check(t, s.CreateUser(ctx, &u))
		at := t0.Add(time.Hour)
		check(t, s.SetUserDisabled(ctx, u.ID, true, at))
		got, err := s.UserByID(ctx, u.ID)
		check(t, err)
		same(t, "disabled", got.Disabled, true)
		same(t, "updated at", got.UpdatedAt, at)
		check(t, s.SetUserDisabled(ctx, u.ID, false, at.Add(time.Hour)))
		got, err = s.UserByID(ctx, u.ID)
		check(t, err)
		same(t, "disabled", got.Disabled, false)
	})

	t.Run("a new password hash replaces the old one", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		u := newUser(1)
		check(t, s.CreateUser(ctx, &u))
		at := t0.Add(time.Hour)
		check(t, s.UpdatePasswordHash(ctx, u.ID, "$argon2id$new", at))
		got, err := s.UserByID(ctx, u.ID)
		check(t, err)
		same(t, "hash", got.PasswordHash, "$argon2id$new")
		same(t, "updated at", got.UpdatedAt, at)
	})

	t.Run("changing an unknown user is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		wantErr(t, s.SetUserDisabled(ctx, "nobody", true, t0), store.ErrNotFound)
		wantErr(t, s.UpdatePasswordHash(ctx, "nobody", "x", t0), store.ErrNotFound)
	})

	t.Run("a user's last factor and enrolment offer read back whole", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		u := newUser(1)
		u.LastFactor, u.EnrolOfferedAt = "totp", ptr(t0.Add(-24*time.Hour))
		check(t, s.CreateUser(ctx, &u))
		got, err := s.UserByID(ctx, u.ID)
		check(t, err)
		same(t, "user", *got, u)
	})

	t.Run("the factor chosen last is remembered and nothing else changes", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		u := newUser(1)
		check(t, s.CreateUser(ctx, &u))
		check(t, s.SetUserLastFactor(ctx, u.ID, "sms"))
		check(t, s.SetUserLastFactor(ctx, u.ID, "voice"))
		got, err := s.UserByID(ctx, u.ID)
		check(t, err)
		u.LastFactor = "voice"
		same(t, "user", *got, u)
		wantErr(t, s.SetUserLastFactor(ctx, "nobody", "sms"), store.ErrNotFound)
	})

	t.Run("the first enrolment offer wins", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		u := newUser(1)
		check(t, s.CreateUser(ctx, &u))
		first := t0.Add(time.Hour)
		at, err := s.MarkEnrolOffered(ctx, u.ID, first)
		check(t, err)
		same(t, "first offer", at, first)
		at, err = s.MarkEnrolOffered(ctx, u.ID, first.Add(24*time.Hour))
		check(t, err)
		same(t, "later offer returns the first", at, first)
		got, err := s.UserByID(ctx, u.ID)
		check(t, err)
		same(t, "stored offer", got.EnrolOfferedAt, &first)
		_, err = s.MarkEnrolOffered(ctx, "nobody", first)
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("resetting a person's factors removes their enrollments, challenges and sessions only", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		alice, bob := newUser(1), newUser(2)
		alice.LastFactor, alice.EnrolOfferedAt = "totp", ptr(t0)
		bob.LastFactor, bob.EnrolOfferedAt = "sms", ptr(t0)
		for _, u := range []*store.User{&alice, &bob} {
			check(t, s.CreateUser(ctx, u))
			pending, confirmed := newEnrollment("pending-"+u.ID, u.ID), newEnrollment("confirmed-"+u.ID, u.ID)
			confirmed.ConfirmedAt = ptr(t0)
			check(t, s.CreateEnrollment(ctx, &pending))
			check(t, s.CreateEnrollment(ctx, &confirmed))
			c := newChallenge("c-"+u.ID, "flow-"+u.ID, u.ID)
			check(t, s.CreateChallenge(ctx, &c))
			sess := newSession("s-"+u.ID, u.ID)
			check(t, s.CreateSession(ctx, &sess))
		}
		at := t0.Add(time.Hour)
		n, err := s.ResetUserFactors(ctx, alice.ID, at)
		check(t, err)
		same(t, "enrollments removed", n, int64(2))

		left, err := s.ListEnrollments(ctx, alice.ID)
		check(t, err)
		same(t, "alice's enrollments left", len(left), 0)
		_, err = s.ChallengeByID(ctx, "c-"+alice.ID, t0)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.SessionByID(ctx, "s-"+alice.ID, t0)
		wantErr(t, err, store.ErrNotFound)
		got, err := s.UserByID(ctx, alice.ID)
		check(t, err)
		alice.LastFactor, alice.EnrolOfferedAt, alice.UpdatedAt = "", ptr(time.Unix(0, 0).UTC()), at
		same(t, "alice after the reset", *got, alice)

		left, err = s.ListEnrollments(ctx, bob.ID)
		check(t, err)
		same(t, "bob's enrollments left", len(left), 2)
		_, err = s.ChallengeByID(ctx, "c-"+bob.ID, t0)
		check(t, err)
		_, err = s.SessionByID(ctx, "s-"+bob.ID, t0)
		check(t, err)
		got, err = s.UserByID(ctx, bob.ID)
		check(t, err)
		same(t, "bob", *got, bob)
	})

	t.Run("after a reset the enrolment offer stays at the epoch: no grace period", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		u := newUser(1)
		check(t, s.CreateUser(ctx, &u))
		n, err := s.ResetUserFactors(ctx, u.ID, t0)
		check(t, err)
		same(t, "enrollments removed", n, int64(0))
		at, err := s.MarkEnrolOffered(ctx, u.ID, t0.Add(time.Hour))
		check(t, err)
		same(t, "offered at", at, time.Unix(0, 0).UTC())
		same(t, "offered at is not the zero time", at.IsZero(), false)
	})

	t.Run("resetting an unknown user is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		_, err := s.ResetUserFactors(ctx, "nobody", t0)
		wantErr(t, err, store.ErrNotFound)
	})
}
