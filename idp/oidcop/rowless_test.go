package oidcop

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection that creates schemas

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
	"github.com/eu-health-idp/idp/idp/store/storetest"
)

// backends opens a fresh store per test on SQLite and, when
// IDP_TEST_DATABASE_URL is set, on PostgreSQL in a schema of its own (as
// sqlstore's tests do); in CI a missing URL fails.
func backends(t *testing.T) map[string]func(t *testing.T) store.Store {
	t.Helper()
	return map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			s, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "op.db"), sqlstore.Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": openPostgres,
	}
}

func openPostgres(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), storetest.PostgresDSN(t), sqlstore.Options{Migrate: true, MaxOpenConns: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addClient registers a confidential client_credentials client and returns
// its secret.
func (o *testOP) addClient(t *testing.T, id, tokenType string) string {
	t.Helper()
	secret := security.RandomToken(32)
	err := o.st.CreateClient(context.Background(), &store.Client{
		ID: id, SecretHash: o.p.storage.secrets.Hash(secret), GrantTypes: []string{GrantClientCredentials},
		RedirectURIs: []string{"http://127.0.0.1:9/cb"}, IDTokenAlg: "ES256", AccessTokenType: tokenType,
		CreatedAt: time.Now(), UpdatedAt: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func (o *testOP) post(t *testing.T, path, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://idp.test"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	w := httptest.NewRecorder()
	o.p.Handler().ServeHTTP(w, r)
	var body map[string]any
	if w.Body.Len() > 0 && strings.HasPrefix(strings.TrimSpace(w.Body.String()), "{") {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %s", path, err, w.Body)
		}
	}
	return w.Code, body
}

func (o *testOP) clientToken(t *testing.T, id, secret string) string {
	t.Helper()
	code, body := o.post(t, "/oauth/token", id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"openid profile"}})
	if code != http.StatusOK {
		t.Fatalf("client_credentials: %d %v", code, body)
	}
	tok, _ := body["access_token"].(string)
	if tok == "" {
		t.Fatalf("no access token: %v", body)
	}
	return tok
}

// peer is a second node on the same database: its own provider, caches and
// key manager, the same keys and op crypto key.
func (o *testOP) peer(t *testing.T) *testOP {
	t.Helper()
	km := NewKeyManager(o.st, o.seal, o.clock.now, testTTL, time.Hour)
	p, err := New(Options{
		Issuer: "http://idp.test", Store: o.st, Keys: km, Secrets: o.p.storage.secrets, CryptoKey: o.crypt,
		Lifetimes: o.p.storage.life, DefaultAlg: "ES256", ACRValues: []string{"low", "high"}, Now: o.clock.now,
		LoginPath: "/login", LogoutPath: "/logged-out", ClientCacheTTL: testTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testOP{p: p, st: o.st, km: km, clock: o.clock, seal: o.seal, crypt: o.crypt}
}

func TestClientCredentialsJWTWithoutRow(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			a := newTestOP(t, open(t))
			b := a.peer(t)
			secret := a.addClient(t, "svc", store.AccessTokenJWT)
			otherSecret := a.addClient(t, "other", store.AccessTokenJWT)
			tok := a.clientToken(t, "svc", secret)

			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("not a JWT: %s", tok)
			}
			jti := ""
			if c, ok := introspectedClaims(withIntrospectedToken(context.Background(), tok), ""); ok {
				t.Fatalf("claims matched an empty jti: %+v", c)
			}
			{
				p := rowlessPrefix
				var claims struct {
					JTI string `json:"jti"`
				}
				raw, _ := decodeSegment(parts[1])
				_ = json.Unmarshal(raw, &claims)
				if !strings.HasPrefix(claims.JTI, p) {
					t.Fatalf("jti %q does not mark a rowless token", claims.JTI)
				}
				jti = claims.JTI
			}
			if _, err := a.st.AccessTokenByID(context.Background(), jti); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("issuing wrote a row (or failed to look): %v", err)
			}

			for _, node := range []*testOP{a, b} {
				code, body := node.post(t, "/oauth/introspect", "svc", secret, url.Values{"token": {tok}})
				if code != http.StatusOK || body["active"] != true {
					t.Fatalf("introspection of a fresh token: %d %v", code, body)
				}
				if body["client_id"] != "svc" || body["scope"] != "openid profile" || body["exp"] == nil || body["token_type"] != "Bearer" {
					t.Fatalf("introspection lacks the token's claims: %v", body)
				}
			}

			t.Run("another client can neither read nor revoke it", func(t *testing.T) {
				if _, body := a.post(t, "/oauth/introspect", "other", otherSecret, url.Values{"token": {tok}}); body["active"] != false {
					t.Fatalf("another client introspected it: %v", body)
				}
				a.post(t, "/revoke", "other", otherSecret, url.Values{"token": {tok}, "token_type_hint": {"access_token"}})
				if _, body := a.post(t, "/oauth/introspect", "svc", secret, url.Values{"token": {tok}}); body["active"] != true {
					t.Fatalf("another client's revocation took effect: %v", body)
				}
			})

			t.Run("a made-up id is not recorded as revoked", func(t *testing.T) {
				code, _ := a.post(t, "/revoke", "svc", secret, url.Values{"token": {rowlessPrefix + "made-up"}})
				if code != http.StatusOK {
					t.Fatalf("revoking garbage: %d, want 200 (RFC 7009 2.2)", code)
				}
				if _, err := a.st.AccessTokenByID(context.Background(), rowlessPrefix+"made-up"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("an unverified string was written as a revocation: %v", err)
				}
			})

			t.Run("revoked on one node, inactive on every node", func(t *testing.T) {
				code, body := a.post(t, "/revoke", "svc", secret, url.Values{"token": {tok}, "token_type_hint": {"access_token"}})
				if code != http.StatusOK {
					t.Fatalf("revoke: %d %v", code, body)
				}
				for i, node := range []*testOP{a, b} {
					if _, body := node.post(t, "/oauth/introspect", "svc", secret, url.Values{"token": {tok}}); body["active"] != false {
						t.Fatalf("node %d: a revoked token is active: %v", i, body)
					}
				}
				// Revoking again is fine and changes nothing.
				if code, _ := b.post(t, "/revoke", "svc", secret, url.Values{"token": {tok}}); code != http.StatusOK {
					t.Fatalf("second revocation: %d", code)
				}
				if _, body := a.post(t, "/oauth/introspect", "svc", secret, url.Values{"token": {tok}}); body["active"] != false {
					t.Fatalf("active after a second revocation: %v", body)
				}
			})

			t.Run("a sibling token stays active", func(t *testing.T) {
				tok2 := a.clientToken(t, "svc", secret)
				if _, body := b.post(t, "/oauth/introspect", "svc", secret, url.Values{"token": {tok2}}); body["active"] != true {
					t.Fatalf("revoking one token touched another: %v", body)
				}
			})

			t.Run("an opaque token still has its row", func(t *testing.T) {
				s := a.addClient(t, "svc-opaque", store.AccessTokenOpaque)
				tok := a.clientToken(t, "svc-opaque", s)
				if strings.Count(tok, ".") == 2 {
					t.Fatalf("opaque client got a JWT")
				}
				if _, body := b.post(t, "/oauth/introspect", "svc-opaque", s, url.Values{"token": {tok}}); body["active"] != true {
					t.Fatalf("opaque token: %v", body)
				}
				a.post(t, "/revoke", "svc-opaque", s, url.Values{"token": {tok}})
				if _, body := b.post(t, "/oauth/introspect", "svc-opaque", s, url.Values{"token": {tok}}); body["active"] != false {
					t.Fatalf("revoked opaque token: %v", body)
				}
			})
		})
	}
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}
