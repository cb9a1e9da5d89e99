package oidcop

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// testClock is a settable clock shared by the provider and its key manager.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testOP struct {
	p     *Provider
	st    store.Store
	km    *KeyManager
	clock *testClock
	seal  *security.Sealer
	crypt [32]byte
}

const testTTL = 30 * time.Second

// newTestOP builds a provider on a fresh store at open (nil: SQLite in a
// temp dir).
func newTestOP(t *testing.T, st store.Store) *testOP {
	t.Helper()
	ctx := context.Background()
	if st == nil {
		s, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "op.db"), sqlstore.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = s
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, _ := security.NewSealer(key)
	clock := &testClock{t: time.Now()}
	km := NewKeyManager(st, sealer, clock.now, testTTL, time.Hour)
	if err := km.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	var crypt [32]byte
	_, _ = rand.Read(crypt[:])
	p, err := New(Options{
		Issuer: "http://idp.test", Store: st, Keys: km, Secrets: security.NewSecretHasher(key), CryptoKey: crypt,
		Lifetimes: Lifetimes{AccessToken: 5 * time.Minute, IDToken: 5 * time.Minute, RefreshToken: time.Hour,
			AuthCode: time.Minute, AuthRequest: 10 * time.Minute},
		DefaultAlg: "ES256", ACRValues: []string{"low", "high"}, Now: clock.now,
		LoginPath: "/login", LogoutPath: "/logged-out", ClientCacheTTL: testTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testOP{p: p, st: st, km: km, clock: clock, seal: sealer, crypt: crypt}
}

func (o *testOP) get(t *testing.T, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://idp.test"+path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	o.p.Handler().ServeHTTP(w, r)
	return w
}

func TestDiscoveryIsServedFromCache(t *testing.T) {
	o := newTestOP(t, nil)
	first := o.get(t, "/.well-known/openid-configuration", nil)
	if first.Code != http.StatusOK {
		t.Fatalf("status %d: %s", first.Code, first.Body)
	}
	var doc map[string]any
	if err := json.Unmarshal(first.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != "http://idp.test" || doc["jwks_uri"] != "http://idp.test/keys" {
		t.Fatalf("issuer or jwks_uri wrong: %v %v", doc["issuer"], doc["jwks_uri"])
	}
	if _, ok := doc["device_authorization_endpoint"]; ok {
		t.Fatal("device_authorization_endpoint is advertised")
	}
	if got, _ := doc["acr_values_supported"].([]any); len(got) != 2 {
		t.Fatalf("acr_values_supported = %v", doc["acr_values_supported"])
	}
	if doc["authorization_response_iss_parameter_supported"] != true || doc["claims_parameter_supported"] != true {
		t.Fatal("our additions are missing")
	}

	t.Run("the second answer is byte for byte the first", func(t *testing.T) {
		again := o.get(t, "/.well-known/openid-configuration", nil)
		if again.Body.String() != first.Body.String() || again.Header().Get("ETag") != first.Header().Get("ETag") {
			t.Fatal("discovery changed between two requests")
		}
		if cc := again.Header().Get("Cache-Control"); cc != "public, max-age=300" {
			t.Fatalf("Cache-Control %q", cc)
		}
	})
	t.Run("a matching If-None-Match gets 304 without a body", func(t *testing.T) {
		w := o.get(t, "/.well-known/openid-configuration", map[string]string{"If-None-Match": first.Header().Get("ETag")})
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Fatalf("status %d, %d bytes", w.Code, w.Body.Len())
		}
		w = o.get(t, "/.well-known/openid-configuration", map[string]string{"If-None-Match": `"other"`})
		if w.Code != http.StatusOK {
			t.Fatalf("a stale ETag got %d", w.Code)
		}
	})
	t.Run("a browser on another origin may read it", func(t *testing.T) {
		w := o.get(t, "/.well-known/openid-configuration", map[string]string{"Origin": "https://spa.example"})
		if w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Fatal("no CORS header")
		}
	})
}

func jwksKids(t *testing.T, w *httptest.ResponseRecorder) []string {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("/keys: %d %s", w.Code, w.Body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if k.Use != "sig" || k.Algorithm == "" || !k.Valid() || !k.IsPublic() {
			t.Fatalf("bad key in JWKS: %+v", k)
		}
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

func TestJWKSFollowsRotationWithinTheCachePeriod(t *testing.T) {
	o := newTestOP(t, nil)
	first := o.get(t, "/keys", nil)
	before := jwksKids(t, first)
	if len(before) != len(SupportedAlgs) {
		t.Fatalf("published %v", before)
	}
	if cc := first.Header().Get("Cache-Control"); cc != "public, max-age=30" {
		t.Fatalf("Cache-Control %q, want the key cache period", cc)
	}
	etag := first.Header().Get("ETag")
	if w := o.get(t, "/keys", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified {
		t.Fatalf("unchanged key set with its ETag: %d", w.Code)
	}

	// Another node rotates: a second KeyManager on the same database.
	other := NewKeyManager(o.st, o.seal, o.clock.now, testTTL, time.Hour)
	next, err := other.Rotate(context.Background(), "ES256")
	if err != nil {
		t.Fatal(err)
	}
	o.clock.add(testTTL / 2)
	if got := jwksKids(t, o.get(t, "/keys", nil)); !slices.Equal(got, before) {
		t.Fatalf("the key set changed before the cache period ended: %v", got)
	}
	o.clock.add(testTTL/2 + time.Second)
	w := o.get(t, "/keys", nil)
	after := jwksKids(t, w)
	if !slices.Contains(after, next.ID) || len(after) != len(before)+1 {
		t.Fatalf("after the cache period: %v, want the old keys and %s", after, next.ID)
	}
	if w.Header().Get("ETag") == etag {
		t.Fatal("the ETag did not change with the key set")
	}
	if w := o.get(t, "/keys", map[string]string{"If-None-Match": etag}); w.Code != http.StatusOK {
		t.Fatalf("the old ETag still answers %d", w.Code)
	}

	t.Run("a local rotation is published at once", func(t *testing.T) {
		k, err := o.km.Rotate(context.Background(), "RS256")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(jwksKids(t, o.get(t, "/keys", nil)), k.ID) {
			t.Fatal("this node's own rotation is not in its JWKS")
		}
	})
}

// TestKeyManagerConcurrentReaders: many requests at the moment the cache
// expires all get a key set, and the keys are read once, not once each.
func TestKeyManagerConcurrentReaders(t *testing.T) {
	o := newTestOP(t, nil)
	counting := &countingKeys{Keys: o.st}
	km := NewKeyManager(counting, o.seal, o.clock.now, testTTL, time.Hour)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, _, err := km.JWKS(context.Background()); err != nil {
				t.Error(err)
			}
			if _, err := km.Signing(context.Background(), "ES256"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := counting.n.Load(); n != 1 {
		t.Fatalf("%d reads of the key set for one cache period, want 1", n)
	}
}

type countingKeys struct {
	store.Keys
	n atomic.Int64
}

func (c *countingKeys) ListKeys(ctx context.Context, now time.Time) ([]store.SigningKey, error) {
	c.n.Add(1)
	return c.Keys.ListKeys(ctx, now)
}

// blockingKeys holds ListKeys until released, to invalidate mid-read.
type blockingKeys struct {
	store.Keys
	n       atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (b *blockingKeys) ListKeys(ctx context.Context, now time.Time) ([]store.SigningKey, error) {
	if b.n.Add(1) == 1 {
		close(b.entered)
		<-b.release
	}
	return b.Keys.ListKeys(ctx, now)
}

// TestKeyManagerInvalidatedDuringReload: a read that was running when this
// node rotated may predate the rotation; its result must not be served as
// fresh for a whole cache period.
func TestKeyManagerInvalidatedDuringReload(t *testing.T) {
	o := newTestOP(t, nil)
	bk := &blockingKeys{Keys: o.st, entered: make(chan struct{}), release: make(chan struct{})}
	km := NewKeyManager(bk, o.seal, o.clock.now, testTTL, time.Hour)
	done := make(chan error, 1)
	go func() { _, err := km.Public(context.Background()); done <- err }()
	<-bk.entered
	km.invalidate() // what Rotate does after writing the new key
	close(bk.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := km.Public(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := bk.n.Load(); n != 2 {
		t.Fatalf("%d reads, want 2: the read that raced the invalidation was cached as fresh", n)
	}
	if _, err := km.Public(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := bk.n.Load(); n != 2 {
		t.Fatalf("%d reads, want the second read cached", n)
	}
}
