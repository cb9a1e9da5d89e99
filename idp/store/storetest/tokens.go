package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func newAccess(id, family, authReq string) store.AccessToken {
	return store.AccessToken{
		ID: id, ClientID: "portal", UserID: "user-001",
		Audience: []string{"portal", "api"}, Scopes: []string{"openid"},
		AuthTime: t0.Add(-time.Minute), ACR: "urn:eu:loa:high", AMR: []string{"pwd", "otp"},
		RefreshFamilyID: family, AuthRequestID: authReq,
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
	}
}

func newRefresh(id, family, authReq string) store.RefreshToken {
	return store.RefreshToken{
		ID: id, TokenHash: "hash-" + id, FamilyID: family, ClientID: "portal", UserID: "user-001",
		Audience: []string{"portal"}, Scopes: []string{"openid", "offline_access"},
		AuthTime: t0.Add(-time.Minute), ACR: "urn:eu:loa:substantial", AMR: []string{"pwd"},
		AuthRequestID: authReq, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
	}
}

// codeReady stores an auth request with a code valid until t0+1m.
func codeReady(t *testing.T, s store.Store, id string) {
	t.Helper()
	r := newAuthRequest(id)
	check(t, s.CreateAuthRequest(t.Context(), &r))
	check(t, s.SaveAuthCode(t.Context(), id, "code-"+id, t0.Add(time.Minute)))
}

func accessRevoked(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	a, err := s.AccessTokenByID(t.Context(), id)
	check(t, err)
	return a.RevokedAt != nil
}

func refreshRevoked(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	r, err := s.RefreshTokenByHash(t.Context(), "hash-"+id)
	check(t, err)
	return r.RevokedAt != nil
}

func testTokens(t *testing.T, open Opener) {
	t.Run("an access token reads back whole, revoked or not", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a := newAccess("at1", "", "")
		b := newAccess("at2", "fam", "ar")
		b.UserID, b.AMR, b.Audience, b.RevokedAt = "", nil, []string{}, ptr(t0)
		for _, tok := range []*store.AccessToken{&a, &b} {
			check(t, s.CreateAccessToken(ctx, tok))
		}
		got, err := s.AccessTokenByID(ctx, a.ID)
		check(t, err)
		same(t, "token", *got, a)
		got, err = s.AccessTokenByID(ctx, b.ID)
		check(t, err)
		b.Audience = nil
		same(t, "token", *got, b)
		wantErr(t, s.CreateAccessToken(ctx, &a), store.ErrConflict)
		_, err = s.AccessTokenByID(ctx, "nope")
		wantErr(t, err, store.ErrNotFound)
		_, err = s.RefreshTokenByHash(ctx, "nope")
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("a code issues its tokens once and only once", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		codeReady(t, s, "ar1")
		a, r := newAccess("at1", "fam1", "ar1"), newRefresh("rt1", "fam1", "ar1")
		check(t, s.IssueFromCode(ctx, "ar1", t0, &a, &r))
		gotA, err := s.AccessTokenByID(ctx, a.ID)
		check(t, err)
		same(t, "access", *gotA, a)
		gotR, err := s.RefreshTokenByHash(ctx, r.TokenHash)
		check(t, err)
		same(t, "refresh", *gotR, r)

		a2, r2 := newAccess("at2", "fam2", "ar1"), newRefresh("rt2", "fam2", "ar1")
		wantErr(t, s.IssueFromCode(ctx, "ar1", t0, &a2, &r2), store.ErrConsumed)
		_, err = s.AccessTokenByID(ctx, a2.ID)
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("a code without a refresh token issues only the access token", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		codeReady(t, s, "ar1")
		a := newAccess("at1", "", "ar1")
		check(t, s.IssueFromCode(ctx, "ar1", t0, &a, nil))
		_, err := s.AccessTokenByID(ctx, a.ID)
		check(t, err)
	})

	t.Run("a code is redeemable until just before its expiry and not at it", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		codeReady(t, s, "late")
		codeReady(t, s, "just")
		exp := t0.Add(time.Minute)
		wantErr(t, s.IssueFromCode(ctx, "late", exp, nil, nil), store.ErrNotFound)
		check(t, s.IssueFromCode(ctx, "just", exp.Add(-µs), nil, nil))
	})

	t.Run("a request that is unknown or has no code issues nothing", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := newAuthRequest("nocode")
		check(t, s.CreateAuthRequest(ctx, &r))
		wantErr(t, s.IssueFromCode(ctx, "nocode", t0, nil, nil), store.ErrNotFound)
		wantErr(t, s.IssueFromCode(ctx, "unknown", t0, nil, nil), store.ErrNotFound)
	})

	t.Run("a failed insert leaves the code unconsumed", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		taken := newAccess("taken", "", "")
		check(t, s.CreateAccessToken(ctx, &taken))
		codeReady(t, s, "ar1")
		wantErr(t, s.IssueFromCode(ctx, "ar1", t0, &taken, nil), store.ErrConflict)
		a := newAccess("at1", "", "ar1")
		check(t, s.IssueFromCode(ctx, "ar1", t0, &a, nil))
	})

	t.Run("rotation marks the current link and inserts the next with its access token", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		codeReady(t, s, "ar1")
		r1 := newRefresh("rt1", "fam", "ar1")
		check(t, s.IssueFromCode(ctx, "ar1", t0, nil, &r1))
		now := t0.Add(time.Hour)
		r2, a2 := newRefresh("rt2", "fam", ""), newAccess("at2", "fam", "")
		check(t, s.RotateRefreshToken(ctx, r1.ID, now, &r2, &a2))
		got, err := s.RefreshTokenByHash(ctx, r1.TokenHash)
		check(t, err)
		same(t, "rotated at", got.RotatedAt, &now)
		got, err = s.RefreshTokenByHash(ctx, r2.TokenHash)
		check(t, err)
		same(t, "next", *got, r2)
		_, err = s.AccessTokenByID(ctx, a2.ID)
		check(t, err)

		r3 := newRefresh("rt3", "fam", "")
		wantErr(t, s.RotateRefreshToken(ctx, r1.ID, now, &r3, nil), store.ErrConsumed)
		_, err = s.RefreshTokenByHash(ctx, r3.TokenHash)
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("a revoked refresh token cannot rotate", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		codeReady(t, s, "ar1")
		r1 := newRefresh("rt1", "fam", "ar1")
		check(t, s.IssueFromCode(ctx, "ar1", t0, nil, &r1))
		check(t, s.RevokeRefreshFamily(ctx, "fam", t0))
		r2 := newRefresh("rt2", "fam", "")
		wantErr(t, s.RotateRefreshToken(ctx, r1.ID, t0, &r2, nil), store.ErrConsumed)
	})

	t.Run("a refresh token rotates until just before its expiry and not at it", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		codeReady(t, s, "ar1")
		r1 := newRefresh("rt1", "fam", "ar1")
		check(t, s.IssueFromCode(ctx, "ar1", t0, nil, &r1))
		r2, r3 := newRefresh("rt2", "fam", ""), newRefresh("rt3", "fam", "")
		wantErr(t, s.RotateRefreshToken(ctx, r1.ID, r1.ExpiresAt, &r2, nil), store.ErrNotFound)
		check(t, s.RotateRefreshToken(ctx, r1.ID, r1.ExpiresAt.Add(-µs), &r3, nil))
		wantErr(t, s.RotateRefreshToken(ctx, "unknown", t0, &r2, nil), store.ErrNotFound)
	})

	t.Run("revoking an access token keeps the first revocation time", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a := newAccess("at1", "", "")
		check(t, s.CreateAccessToken(ctx, &a))
		check(t, s.RevokeAccessToken(ctx, a.ID, t0))
		check(t, s.RevokeAccessToken(ctx, a.ID, t0.Add(time.Hour)))
		got, err := s.AccessTokenByID(ctx, a.ID)
		check(t, err)
		same(t, "revoked at", got.RevokedAt, ptr(t0))
		wantErr(t, s.RevokeAccessToken(ctx, "nope", t0), store.ErrNotFound)
	})

	// issueTwoFamilies: code ar1 -> fam1 (rt1 rotated to rt2 with at2),
	// code ar2 -> fam2, plus an unrelated client_credentials token.
	issueTwoFamilies := func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for _, id := range []string{"ar1", "ar2"} {
			codeReady(t, s, id)
		}
		a1, r1 := newAccess("at1", "fam1", "ar1"), newRefresh("rt1", "fam1", "ar1")
		check(t, s.IssueFromCode(ctx, "ar1", t0, &a1, &r1))
		r2, a2 := newRefresh("rt2", "fam1", ""), newAccess("at2", "fam1", "")
		check(t, s.RotateRefreshToken(ctx, r1.ID, t0, &r2, &a2))
		a3, r3 := newAccess("at3", "fam2", "ar2"), newRefresh("rt3", "fam2", "ar2")
		r3.ClientID, a3.ClientID = "other", "other"
		check(t, s.IssueFromCode(ctx, "ar2", t0, &a3, &r3))
		cc := newAccess("cc", "", "")
		cc.UserID = ""
		check(t, s.CreateAccessToken(ctx, &cc))
	}
	revocations := []struct {
		name          string
		revoke        func(ctx context.Context, s store.Store) error
		access, fresh map[string]bool // token id -> want revoked
	}{
		{
			"revoking a family revokes its refresh and access tokens only",
			func(ctx context.Context, s store.Store) error { return s.RevokeRefreshFamily(ctx, "fam1", t0) },
			map[string]bool{"at1": true, "at2": true, "at3": false, "cc": false},
			map[string]bool{"rt1": true, "rt2": true, "rt3": false},
		},
		{
			"revoking by auth request revokes what the code issued and what rotated from it",
			func(ctx context.Context, s store.Store) error { return s.RevokeByAuthRequest(ctx, "ar1", t0) },
			map[string]bool{"at1": true, "at2": true, "at3": false, "cc": false},
			map[string]bool{"rt1": true, "rt2": true, "rt3": false},
		},
		{
			"revoking a user's tokens at one client leaves other clients",
			func(ctx context.Context, s store.Store) error {
				return s.RevokeUserTokens(ctx, "user-001", "other", t0)
			},
			map[string]bool{"at1": false, "at2": false, "at3": true, "cc": false},
			map[string]bool{"rt1": false, "rt2": false, "rt3": true},
		},
		{
			"revoking a user's tokens at every client leaves client credentials",
			func(ctx context.Context, s store.Store) error { return s.RevokeUserTokens(ctx, "user-001", "", t0) },
			map[string]bool{"at1": true, "at2": true, "at3": true, "cc": false},
			map[string]bool{"rt1": true, "rt2": true, "rt3": true},
		},
		{
			"revoking something unknown changes nothing and is no error",
			func(ctx context.Context, s store.Store) error {
				if err := s.RevokeRefreshFamily(ctx, "nope", t0); err != nil {
					return err
				}
				if err := s.RevokeByAuthRequest(ctx, "nope", t0); err != nil {
					return err
				}
				return s.RevokeUserTokens(ctx, "nobody", "", t0)
			},
			map[string]bool{"at1": false, "at2": false, "at3": false, "cc": false},
			map[string]bool{"rt1": false, "rt2": false, "rt3": false},
		},
	}
	for _, tc := range revocations {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			issueTwoFamilies(t, s)
			check(t, tc.revoke(t.Context(), s))
			for id, want := range tc.access {
				same(t, id+" revoked", accessRevoked(t, s, id), want)
			}
			for id, want := range tc.fresh {
				same(t, id+" revoked", refreshRevoked(t, s, id), want)
			}
		})
	}
}
