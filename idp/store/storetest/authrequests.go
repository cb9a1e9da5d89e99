package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func newAuthRequest(id string) store.AuthRequest {
	return store.AuthRequest{
		ID:                  id,
		ClientID:            "portal",
		RedirectURI:         "https://portal.example.org/cb",
		Scopes:              []string{"openid", "profile"},
		State:               "st",
		Nonce:               "nn",
		ResponseType:        "code",
		ResponseMode:        "query",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Prompt:              []string{"login", "consent"},
		MaxAge:              ptr(int64(0)),
		LoginHint:           "alice",
		UILocales:           []string{"fr", "en"},
		ACRValues:           []string{"urn:eu:loa:high"},
		Claims:              `{"id_token":{"acr":{"essential":true}}}`,
		HintUserID:          "user-001",
		CreatedAt:           t0,
		ExpiresAt:           t0.Add(10 * time.Minute),
	}
}

var completion = store.Completion{
	UserID: "user-001", SessionID: "sess-1", AuthTime: t0.Add(time.Minute),
	ACR: "urn:eu:loa:high", AMR: []string{"pwd", "otp"},
}

func testAuthRequests(t *testing.T, open Opener) {
	t.Run("a request reads back whole, with MaxAge zero kept apart from absent", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := newAuthRequest("ar1")
		check(t, s.CreateAuthRequest(ctx, &r))
		got, err := s.AuthRequestByID(ctx, r.ID, t0)
		check(t, err)
		same(t, "request", *got, r)

		bare := store.AuthRequest{ID: "ar2", ClientID: "portal", Scopes: []string{}, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		check(t, s.CreateAuthRequest(ctx, &bare))
		got, err = s.AuthRequestByID(ctx, bare.ID, t0)
		check(t, err)
		bare.Scopes = nil
		same(t, "bare request", *got, bare)
	})

	t.Run("a request expires exactly at ExpiresAt", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := newAuthRequest("ar1")
		check(t, s.CreateAuthRequest(ctx, &r))
		_, err := s.AuthRequestByID(ctx, r.ID, r.ExpiresAt.Add(-µs))
		check(t, err)
		_, err = s.AuthRequestByID(ctx, r.ID, r.ExpiresAt)
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("an unknown request is not found and cannot be completed or given a code", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		_, err := s.AuthRequestByID(ctx, "nope", t0)
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, s.CompleteAuthRequest(ctx, "nope", completion), store.ErrNotFound)
		wantErr(t, s.SaveAuthCode(ctx, "nope", "hash", t0.Add(time.Minute)), store.ErrNotFound)
	})

	t.Run("a taken request id is a conflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := newAuthRequest("ar1")
		check(t, s.CreateAuthRequest(ctx, &r))
		wantErr(t, s.CreateAuthRequest(ctx, &r), store.ErrConflict)
	})

	t.Run("completing a request records who authenticated and how", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := newAuthRequest("ar1")
		check(t, s.CreateAuthRequest(ctx, &r))
		check(t, s.CompleteAuthRequest(ctx, r.ID, completion))
		got, err := s.AuthRequestByID(ctx, r.ID, t0)
		check(t, err)
		r.UserID, r.SessionID, r.AuthTime, r.ACR, r.AMR, r.Done = completion.UserID, completion.SessionID, completion.AuthTime, completion.ACR, completion.AMR, true
		same(t, "request", *got, r)
	})

	t.Run("a saved code finds its request until the code expires", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := newAuthRequest("ar1")
		check(t, s.CreateAuthRequest(ctx, &r))
		check(t, s.CompleteAuthRequest(ctx, r.ID, completion))
		exp := t0.Add(time.Minute)
		check(t, s.SaveAuthCode(ctx, r.ID, "codehash", exp))
		got, err := s.AuthRequestByCode(ctx, "codehash", exp.Add(-µs))
		check(t, err)
		same(t, "id", got.ID, r.ID)
		same(t, "code hash", got.CodeHash, "codehash")
		same(t, "code expiry", got.CodeExpiresAt, &exp)
		same(t, "consumed", got.CodeConsumedAt, (*time.Time)(nil))
		same(t, "done", got.Done, true)
		_, err = s.AuthRequestByCode(ctx, "codehash", exp)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.AuthRequestByCode(ctx, "other", t0)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.AuthRequestByCode(ctx, "", t0)
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("a redeemed code returns its request with ErrConsumed", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := newAuthRequest("ar1")
		check(t, s.CreateAuthRequest(ctx, &r))
		check(t, s.SaveAuthCode(ctx, r.ID, "codehash", t0.Add(time.Minute)))
		check(t, s.IssueFromCode(ctx, r.ID, t0, nil, nil))
		got, err := s.AuthRequestByCode(ctx, "codehash", t0.Add(time.Second))
		wantErr(t, err, store.ErrConsumed)
		if got == nil || got.ID != r.ID || got.CodeConsumedAt == nil || !got.CodeConsumedAt.Equal(t0) {
			t.Fatalf("got %+v, want the request consumed at %v", got, t0)
		}
		// A replay after the code's expiry is still recognised.
		_, err = s.AuthRequestByCode(ctx, "codehash", t0.Add(time.Hour))
		wantErr(t, err, store.ErrConsumed)
		// And a redeemed request cannot be given a fresh code.
		wantErr(t, s.SaveAuthCode(ctx, r.ID, "again", t0.Add(time.Hour)), store.ErrConsumed)
	})

	t.Run("a code hash used by another request is a conflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a, b := newAuthRequest("a"), newAuthRequest("b")
		check(t, s.CreateAuthRequest(ctx, &a))
		check(t, s.CreateAuthRequest(ctx, &b))
		check(t, s.SaveAuthCode(ctx, a.ID, "same", t0.Add(time.Minute)))
		wantErr(t, s.SaveAuthCode(ctx, b.ID, "same", t0.Add(time.Minute)), store.ErrConflict)
	})

	t.Run("deleting removes an unredeemed request but keeps a redeemed one", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a, b := newAuthRequest("a"), newAuthRequest("b")
		check(t, s.CreateAuthRequest(ctx, &a))
		check(t, s.CreateAuthRequest(ctx, &b))
		check(t, s.SaveAuthCode(ctx, b.ID, "code-b", t0.Add(time.Minute)))
		check(t, s.IssueFromCode(ctx, b.ID, t0, nil, nil))
		check(t, s.DeleteAuthRequest(ctx, a.ID))
		check(t, s.DeleteAuthRequest(ctx, b.ID))
		check(t, s.DeleteAuthRequest(ctx, "never-existed"))
		_, err := s.AuthRequestByID(ctx, a.ID, t0)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.AuthRequestByID(ctx, b.ID, t0)
		check(t, err)
	})
}
