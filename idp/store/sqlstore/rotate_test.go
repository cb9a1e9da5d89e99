package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// TestRotationWithAccessToken covers the refusals of RotateRefreshToken
// when it also inserts an access token (the refresh grant's case, one
// statement on PostgreSQL): a refused rotation inserts nothing.
func TestRotationWithAccessToken(t *testing.T) {
	for name, open := range map[string]func(*testing.T) store.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			s, ctx := open(t), t.Context()
			t0 := time.Now().Truncate(time.Microsecond)
			ar := store.AuthRequest{ID: "ar1", ClientID: "portal", RedirectURI: "https://p/cb", ResponseType: "code",
				CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := s.CreateAuthRequest(ctx, &ar); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveAuthCode(ctx, "ar1", "code", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			link := func(id string, exp time.Time) store.RefreshToken {
				return store.RefreshToken{ID: id, TokenHash: "h-" + id, FamilyID: "fam", ClientID: "portal", UserID: "u1",
					Scopes: []string{"openid"}, ACR: "low", AMR: []string{"pwd"}, CreatedAt: t0, ExpiresAt: exp}
			}
			access := func(id string) store.AccessToken {
				return store.AccessToken{ID: id, ClientID: "portal", UserID: "u1", RefreshFamilyID: "fam",
					Scopes: []string{"openid"}, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
			}
			r1 := link("rt1", t0.Add(time.Hour))
			if err := s.IssueFromCode(ctx, "ar1", t0, nil, &r1); err != nil {
				t.Fatal(err)
			}
			notThere := func(rt, at string) {
				t.Helper()
				if _, err := s.RefreshTokenByHash(ctx, "h-"+rt); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("refused rotation stored link %s: %v", rt, err)
				}
				if _, err := s.AccessTokenByID(ctx, at); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("refused rotation stored access token %s: %v", at, err)
				}
			}

			r2, a2 := link("rt2", t0.Add(time.Hour)), access("at2")
			if err := s.RotateRefreshToken(ctx, "rt1", t0.Add(time.Minute), &r2, &a2); err != nil {
				t.Fatal(err)
			}
			if got, err := s.RefreshTokenByHash(ctx, "h-rt2"); err != nil || got.ACR != "low" || got.FamilyID != "fam" {
				t.Fatalf("next link: %+v %v", got, err)
			}
			if got, err := s.AccessTokenByID(ctx, "at2"); err != nil || got.RefreshFamilyID != "fam" || got.UserID != "u1" {
				t.Fatalf("access token: %+v %v", got, err)
			}

			r3, a3 := link("rt3", t0.Add(time.Hour)), access("at3")
			if err := s.RotateRefreshToken(ctx, "rt1", t0.Add(time.Minute), &r3, &a3); !errors.Is(err, store.ErrConsumed) {
				t.Fatalf("rotating a rotated link: %v, want ErrConsumed", err)
			}
			notThere("rt3", "at3")
			if err := s.RotateRefreshToken(ctx, "rt2", t0.Add(2*time.Hour), &r3, &a3); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("rotating an expired link: %v, want ErrNotFound", err)
			}
			notThere("rt3", "at3")
			if err := s.RotateRefreshToken(ctx, "nope", t0, &r3, &a3); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("rotating an unknown link: %v, want ErrNotFound", err)
			}
			notThere("rt3", "at3")
			if err := s.RevokeRefreshFamily(ctx, "fam", t0); err != nil {
				t.Fatal(err)
			}
			if err := s.RotateRefreshToken(ctx, "rt2", t0.Add(time.Minute), &r3, &a3); !errors.Is(err, store.ErrConsumed) {
				t.Fatalf("rotating a revoked link: %v, want ErrConsumed", err)
			}
			notThere("rt3", "at3")
		})
	}
}

func TestRefreshTokenWithUser(t *testing.T) {
	for name, open := range map[string]func(*testing.T) store.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			s, ctx := open(t), t.Context()
			t0 := time.Now().Truncate(time.Microsecond)
			u := store.User{ID: "u1", Username: "anna", Email: "anna@example.org", PasswordHash: "h", Disabled: true,
				CreatedAt: t0, UpdatedAt: t0}
			if err := s.CreateUser(ctx, &u); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"ar1", "ar2"} {
				ar := store.AuthRequest{ID: id, ClientID: "portal", RedirectURI: "https://p/cb", ResponseType: "code",
					CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
				if err := s.CreateAuthRequest(ctx, &ar); err != nil {
					t.Fatal(err)
				}
				if err := s.SaveAuthCode(ctx, id, "code-"+id, t0.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			mine := store.RefreshToken{ID: "rt1", TokenHash: "h1", FamilyID: "f1", ClientID: "portal", UserID: "u1",
				Scopes: []string{"openid"}, ACR: "low", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			orphan := store.RefreshToken{ID: "rt2", TokenHash: "h2", FamilyID: "f2", ClientID: "portal", UserID: "gone",
				CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := s.IssueFromCode(ctx, "ar1", t0, nil, &mine); err != nil {
				t.Fatal(err)
			}
			if err := s.IssueFromCode(ctx, "ar2", t0, nil, &orphan); err != nil {
				t.Fatal(err)
			}
			rt, got, err := s.RefreshTokenWithUser(ctx, "h1")
			if err != nil {
				t.Fatal(err)
			}
			if rt.ID != "rt1" || rt.FamilyID != "f1" || rt.ACR != "low" || !rt.ExpiresAt.Equal(mine.ExpiresAt) {
				t.Fatalf("token: %+v", rt)
			}
			if got.ID != "u1" || got.Username != "anna" || got.Email != "anna@example.org" || !got.Disabled || !got.CreatedAt.Equal(t0) {
				t.Fatalf("user: %+v", got)
			}
			if _, _, err := s.RefreshTokenWithUser(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a token whose user is gone: %v", err)
			}
			if _, _, err := s.RefreshTokenWithUser(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown hash: %v", err)
			}
		})
	}
}
