package sqlstore_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// The storage hot paths, one backend per benchmark. The tables hold only
// the rows each benchmark creates: these are point lookups on the primary
// key (or the user id index) of small tables, not the 1M-user data-growth
// test, which is still open.

func BenchmarkSQLite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "idp.db")
	s, err := sqlstore.Open(b.Context(), "sqlite:"+path, sqlstore.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	benchStore(b, s)
}

// BenchmarkPostgres skips when IDP_TEST_DATABASE_URL is unset, in CI too:
// benchmarks are run by hand, the tests are what CI requires.
func BenchmarkPostgres(b *testing.B) {
	u := os.Getenv("IDP_TEST_DATABASE_URL")
	if u == "" {
		b.Skip("IDP_TEST_DATABASE_URL is not set")
	}
	benchStore(b, openPostgresAt(b, u))
}

func benchStore(b *testing.B, s store.Store) {
	ctx := b.Context()
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}

	user := store.User{ID: "user-001", Username: "alice", Email: "alice@example.org",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		CreatedAt:    t0, UpdatedAt: t0}
	must(s.CreateUser(ctx, &user))

	hasher := security.NewSecretHasher(security.DeriveKey(bytes.Repeat([]byte{9}, 32), "client-secrets"))
	secret := security.RandomToken(32)
	client := store.Client{ID: "portal", SecretHash: hasher.Hash(secret),
		RedirectURIs:           []string{"https://portal.example.org/cb"},
		PostLogoutRedirectURIs: []string{"https://portal.example.org/"},
		GrantTypes:             []string{"authorization_code", "refresh_token", "client_credentials"},
		IDTokenAlg:             "ES256", AccessTokenType: store.AccessTokenJWT, CreatedAt: t0, UpdatedAt: t0}
	must(s.CreateClient(ctx, &client))

	sess := store.Session{ID: "sess-001", UserID: user.ID,
		Proofs: []store.Proof{
			{Factor: "password", AMR: []string{"pwd"}, Kinds: []string{"knowledge"}, At: t0},
			{Factor: "totp", AMR: []string{"otp"}, Kinds: []string{"possession"}, At: t0.Add(time.Second)},
		},
		AuthTime: t0.Add(time.Second), CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(8 * time.Hour)}
	must(s.CreateSession(ctx, &sess))

	maxAge := int64(3600)
	ar := store.AuthRequest{ID: "ar-001", ClientID: client.ID, RedirectURI: client.RedirectURIs[0],
		Scopes: []string{"openid", "profile", "email"}, State: "af0ifjsldkj", Nonce: "n-0S6_WzA2Mj",
		ResponseType: "code", ResponseMode: "query",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		MaxAge: &maxAge, UILocales: []string{"fr", "en"}, ACRValues: []string{"urn:eu:loa:substantial"},
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
	must(s.CreateAuthRequest(ctx, &ar))

	// A person with TOTP, recovery codes and a passkey.
	for i, f := range []string{"totp", "recovery", "webauthn"} {
		e := store.Enrollment{ID: fmt.Sprintf("enr-%03d", i), UserID: user.ID, Factor: f, Name: f,
			Secret: bytes.Repeat([]byte{byte(i)}, 60), Data: `{"digits":6,"period":30}`,
			ConfirmedAt: &t0, CreatedAt: t0}
		must(s.CreateEnrollment(ctx, &e))
	}

	b.Run("SessionByID", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.SessionByID(ctx, sess.ID, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AuthRequestByID", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.AuthRequestByID(ctx, ar.ID, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ClientByID", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.ClientByID(ctx, client.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	// ClientAuth is the client_credentials secret check as a whole: the
	// client lookup, then the keyed-hash comparison.
	b.Run("ClientAuth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := s.ClientByID(ctx, client.ID)
			if err != nil {
				b.Fatal(err)
			}
			if !hasher.Equal(c.SecretHash, secret) {
				b.Fatal("the secret does not match")
			}
		}
	})
	b.Run("ListEnrollments", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			es, err := s.ListEnrollments(ctx, user.ID)
			if err != nil || len(es) != 3 {
				b.Fatalf("ListEnrollments = %d, %v", len(es), err)
			}
		}
	})
	// UseOnce marks a new key each time, as every accepted TOTP code does:
	// one INSERT ... ON CONFLICT, committed.
	b.Run("UseOnce", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if err := s.UseOnce(ctx, fmt.Sprintf("totp:%s:%d", user.ID, i), t0.Add(time.Minute), t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
