package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// userReady stores newUser(i) and returns its id: enrollments and
// challenges belong to a person who exists.
func userReady(t *testing.T, s store.Store, i int) string {
	t.Helper()
	u := newUser(i)
	check(t, s.CreateUser(t.Context(), &u))
	return u.ID
}

// newEnrollment is a pending TOTP enrollment created at t0.
func newEnrollment(id, user string) store.Enrollment {
	return store.Enrollment{
		ID:        id,
		UserID:    user,
		Factor:    "totp",
		Name:      "Work phone",
		Secret:    []byte{0x00, 0x01, 0xfe, 0xff, 'k', 'e', 'y'},
		Data:      `{"digits":6,"period":30}`,
		CreatedAt: t0,
	}
}

func testEnrollments(t *testing.T, open Opener) {
	t.Run("a pending enrollment reads back whole with Version 1", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		e := newEnrollment("e1", userReady(t, s, 1))
		e.Version = 7 // the store decides the first version
		check(t, s.CreateEnrollment(ctx, &e))
		same(t, "version set on e", e.Version, 1)
		got, err := s.EnrollmentByID(ctx, e.ID)
		check(t, err)
		same(t, "enrollment", *got, e)
		same(t, "confirmed", got.Confirmed(), false)
	})

	t.Run("a confirmed enrollment reads back with its times", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		e := newEnrollment("e1", userReady(t, s, 1))
		e.ConfirmedAt, e.LastUsedAt = ptr(t0.Add(time.Minute)), ptr(t0.Add(time.Hour))
		check(t, s.CreateEnrollment(ctx, &e))
		got, err := s.EnrollmentByID(ctx, e.ID)
		check(t, err)
		same(t, "enrollment", *got, e)
		same(t, "confirmed", got.Confirmed(), true)
	})

	t.Run("an enrollment without secret or data reads back with a nil secret", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		user := userReady(t, s, 1)
		for i, secret := range [][]byte{nil, {}} {
			e := newEnrollment(seq("e", i), user)
			e.Secret, e.Data = secret, ""
			check(t, s.CreateEnrollment(ctx, &e))
			got, err := s.EnrollmentByID(ctx, e.ID)
			check(t, err)
			e.Secret = nil
			same(t, "enrollment", *got, e)
		}
	})

	t.Run("a taken id is a conflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		e := newEnrollment("e1", userReady(t, s, 1))
		check(t, s.CreateEnrollment(ctx, &e))
		dup := newEnrollment("e1", e.UserID)
		wantErr(t, s.CreateEnrollment(ctx, &dup), store.ErrConflict)
	})

	t.Run("an enrollment of an unknown user is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		e := newEnrollment("e1", "nobody")
		wantErr(t, s.CreateEnrollment(ctx, &e), store.ErrNotFound)
	})

	t.Run("an unknown enrollment is not found, read, updated or deleted", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		_, err := s.EnrollmentByID(ctx, "nope")
		wantErr(t, err, store.ErrNotFound)
		e := newEnrollment("nope", "nobody")
		e.Version = 1
		wantErr(t, s.UpdateEnrollment(ctx, &e), store.ErrNotFound)
		same(t, "version after a failed update", e.Version, 1)
		wantErr(t, s.DeleteEnrollment(ctx, "nope"), store.ErrNotFound)
	})

	t.Run("a person's enrollments are listed oldest first, pending ones too, and only theirs", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		alice, bob := userReady(t, s, 1), userReady(t, s, 2)
		empty, err := s.ListEnrollments(ctx, alice)
		check(t, err)
		same(t, "empty list length", len(empty), 0)
		for i, at := range []time.Duration{2 * time.Minute, 0, time.Minute} {
			e := newEnrollment(seq("a", i), alice)
			e.CreatedAt = t0.Add(at)
			if i == 0 {
				e.ConfirmedAt = ptr(t0.Add(3 * time.Minute))
			}
			check(t, s.CreateEnrollment(ctx, &e))
		}
		other := newEnrollment("b", bob)
		check(t, s.CreateEnrollment(ctx, &other))
		list, err := s.ListEnrollments(ctx, alice)
		check(t, err)
		var ids []string
		for _, e := range list {
			ids = append(ids, e.ID)
		}
		same(t, "order", ids, []string{"a-001", "a-002", "a-000"})
		same(t, "the confirmed one reads back whole", list[2].ConfirmedAt, ptr(t0.Add(3*time.Minute)))
	})

	t.Run("an update writes name, secret, data and times and increments Version", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		e := newEnrollment("e1", userReady(t, s, 1))
		check(t, s.CreateEnrollment(ctx, &e))
		e.Name, e.Secret, e.Data = "Home phone", []byte("new sealed seed"), `{"digits":8}`
		e.ConfirmedAt, e.LastUsedAt = ptr(t0.Add(time.Minute)), ptr(t0.Add(2*time.Minute))
		check(t, s.UpdateEnrollment(ctx, &e))
		same(t, "version set on e", e.Version, 2)
		got, err := s.EnrollmentByID(ctx, e.ID)
		check(t, err)
		same(t, "enrollment", *got, e)

		e.Secret, e.Data, e.ConfirmedAt, e.LastUsedAt = nil, "", nil, nil
		check(t, s.UpdateEnrollment(ctx, &e))
		same(t, "version set on e", e.Version, 3)
		got, err = s.EnrollmentByID(ctx, e.ID)
		check(t, err)
		same(t, "cleared enrollment", *got, e)
	})

	t.Run("an update leaves the owner, factor and creation time alone", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		e := newEnrollment("e1", userReady(t, s, 1))
		check(t, s.CreateEnrollment(ctx, &e))
		want := e
		changed := e
		changed.UserID, changed.Factor, changed.CreatedAt = userReady(t, s, 2), "sms", t0.Add(time.Hour)
		check(t, s.UpdateEnrollment(ctx, &changed))
		want.Version = 2
		got, err := s.EnrollmentByID(ctx, e.ID)
		check(t, err)
		same(t, "enrollment", *got, want)
	})

	t.Run("an update with a stale version is a conflict and changes nothing", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		e := newEnrollment("e1", userReady(t, s, 1))
		check(t, s.CreateEnrollment(ctx, &e))
		stale := e
		e.Name = "first"
		check(t, s.UpdateEnrollment(ctx, &e))
		stale.Name, stale.Secret = "second", []byte("other")
		wantErr(t, s.UpdateEnrollment(ctx, &stale), store.ErrConflict)
		same(t, "stale version kept", stale.Version, 1)
		got, err := s.EnrollmentByID(ctx, e.ID)
		check(t, err)
		same(t, "enrollment", *got, e)
	})

	t.Run("deleting an enrollment removes it", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		e := newEnrollment("e1", userReady(t, s, 1))
		check(t, s.CreateEnrollment(ctx, &e))
		check(t, s.DeleteEnrollment(ctx, e.ID))
		_, err := s.EnrollmentByID(ctx, e.ID)
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, s.DeleteEnrollment(ctx, e.ID), store.ErrNotFound)
	})

	t.Run("deleting a person's enrollments of a factor keeps keepID, other factors and other people", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		alice, bob := userReady(t, s, 1), userReady(t, s, 2)
		for _, e := range []store.Enrollment{
			{ID: "r1", UserID: alice, Factor: "recovery", CreatedAt: t0},
			{ID: "r2", UserID: alice, Factor: "recovery", CreatedAt: t0},
			{ID: "r3", UserID: alice, Factor: "recovery", CreatedAt: t0},
			{ID: "t1", UserID: alice, Factor: "totp", CreatedAt: t0},
			{ID: "rb", UserID: bob, Factor: "recovery", CreatedAt: t0},
		} {
			check(t, s.CreateEnrollment(ctx, &e))
		}
		n, err := s.DeleteEnrollments(ctx, alice, "recovery", "r3")
		check(t, err)
		same(t, "removed", n, int64(2))
		remaining := func(user string) []string {
			list, err := s.ListEnrollments(ctx, user)
			check(t, err)
			var ids []string
			for _, e := range list {
				ids = append(ids, e.ID)
			}
			return ids
		}
		same(t, "alice keeps", remaining(alice), []string{"r3", "t1"})
		same(t, "bob keeps", remaining(bob), []string{"rb"})

		n, err = s.DeleteEnrollments(ctx, alice, "recovery", "")
		check(t, err)
		same(t, "removed with no keepID", n, int64(1))
		same(t, "alice keeps", remaining(alice), []string{"t1"})
		n, err = s.DeleteEnrollments(ctx, alice, "recovery", "")
		check(t, err)
		same(t, "removed when none are left", n, int64(0))
	})
}
