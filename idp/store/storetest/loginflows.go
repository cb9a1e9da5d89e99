package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// newLoginFlow is a flow with every field set, live until t0+30m.
func newLoginFlow(id string) store.LoginFlow {
	return store.LoginFlow{
		ID:            id,
		AuthRequestID: "ar-1",
		BrowserHash:   "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
		UserID:        "user-001",
		Factor:        "sms",
		ChallengeID:   "c1",
		Enrolling:     "totp",
		EnrollmentID:  "e1",
		SkippedEnrol:  true,
		StartACR:      "http://eidas.europa.eu/LoA/low",
		Purpose:       "account.add:sms",
		CreatedAt:     t0,
		ExpiresAt:     t0.Add(30 * time.Minute),
	}
}

func testLoginFlows(t *testing.T, open Opener) {
	t.Run("a login flow reads back whole with Version 1", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		f := newLoginFlow("f1")
		f.Version = 9 // the store decides the first version
		check(t, s.CreateLoginFlow(ctx, &f))
		same(t, "version set on f", f.Version, 1)
		got, err := s.LoginFlowByID(ctx, f.ID, t0)
		check(t, err)
		same(t, "flow", *got, f)
	})

	t.Run("a flow before the credentials reads back with empty fields", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		f := store.LoginFlow{ID: "f1", AuthRequestID: "ar-1", BrowserHash: "b", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		check(t, s.CreateLoginFlow(ctx, &f))
		got, err := s.LoginFlowByID(ctx, f.ID, t0)
		check(t, err)
		same(t, "flow", *got, f)
	})

	t.Run("a taken id is a conflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		f := newLoginFlow("f1")
		check(t, s.CreateLoginFlow(ctx, &f))
		dup := newLoginFlow("f1")
		wantErr(t, s.CreateLoginFlow(ctx, &dup), store.ErrConflict)
	})

	t.Run("a flow expires exactly at ExpiresAt", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		f := newLoginFlow("f1")
		check(t, s.CreateLoginFlow(ctx, &f))
		_, err := s.LoginFlowByID(ctx, f.ID, f.ExpiresAt.Add(-µs))
		check(t, err)
		_, err = s.LoginFlowByID(ctx, f.ID, f.ExpiresAt)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.LoginFlowByID(ctx, "nope", t0)
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("an update writes the flow's progress and increments Version", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		f := store.LoginFlow{ID: "f1", AuthRequestID: "ar-1", BrowserHash: "b", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		check(t, s.CreateLoginFlow(ctx, &f))
		full := newLoginFlow("f1")
		f.UserID, f.Factor, f.ChallengeID = full.UserID, full.Factor, full.ChallengeID
		f.Enrolling, f.EnrollmentID, f.SkippedEnrol = full.Enrolling, full.EnrollmentID, true
		f.StartACR, f.Purpose, f.ExpiresAt = full.StartACR, full.Purpose, t0.Add(time.Hour)
		check(t, s.UpdateLoginFlow(ctx, &f, t0))
		same(t, "version set on f", f.Version, 2)
		got, err := s.LoginFlowByID(ctx, f.ID, t0)
		check(t, err)
		same(t, "flow", *got, f)

		f.Factor, f.ChallengeID, f.Enrolling, f.EnrollmentID, f.SkippedEnrol = "", "", "", "", false
		f.Purpose = "account"
		check(t, s.UpdateLoginFlow(ctx, &f, t0))
		same(t, "version set on f", f.Version, 3)
		got, err = s.LoginFlowByID(ctx, f.ID, t0)
		check(t, err)
		same(t, "cleared flow", *got, f)
	})

	t.Run("an update does not move a flow to another auth request or browser", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		f := newLoginFlow("f1")
		check(t, s.CreateLoginFlow(ctx, &f))
		want := f
		moved := f
		moved.AuthRequestID, moved.BrowserHash, moved.CreatedAt = "ar-other", "other-browser", t0.Add(time.Minute)
		check(t, s.UpdateLoginFlow(ctx, &moved, t0))
		want.Version = 2
		got, err := s.LoginFlowByID(ctx, f.ID, t0)
		check(t, err)
		same(t, "flow", *got, want)
	})

	t.Run("an update with a stale version is a conflict and changes nothing", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		f := newLoginFlow("f1")
		check(t, s.CreateLoginFlow(ctx, &f))
		stale := f
		f.Factor = "totp"
		check(t, s.UpdateLoginFlow(ctx, &f, t0))
		stale.Factor, stale.UserID = "voice", "user-002"
		wantErr(t, s.UpdateLoginFlow(ctx, &stale, t0), store.ErrConflict)
		same(t, "stale version kept", stale.Version, 1)
		got, err := s.LoginFlowByID(ctx, f.ID, t0)
		check(t, err)
		same(t, "flow", *got, f)
	})

	t.Run("updating an unknown or expired flow is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		f := newLoginFlow("f1")
		check(t, s.CreateLoginFlow(ctx, &f))
		f.Factor = "totp"
		wantErr(t, s.UpdateLoginFlow(ctx, &f, f.ExpiresAt), store.ErrNotFound)
		same(t, "version after a failed update", f.Version, 1)
		// Even a stale version: a flow that is gone is not a conflict.
		f.Version = 0
		wantErr(t, s.UpdateLoginFlow(ctx, &f, f.ExpiresAt), store.ErrNotFound)
		gone := newLoginFlow("nope")
		gone.Version = 1
		wantErr(t, s.UpdateLoginFlow(ctx, &gone, t0), store.ErrNotFound)
		got, err := s.LoginFlowByID(ctx, "f1", t0)
		check(t, err)
		same(t, "factor", got.Factor, "sms")
	})
}
