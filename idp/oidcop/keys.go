package oidcop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// SupportedAlgs are the ID token signing algorithms a client may choose.
// ES256 is the default (15x cheaper than RS256); RS256 is offered because
// OIDC Discovery requires it and some RP libraries accept nothing else.
var SupportedAlgs = []string{"ES256", "RS256"}

// KeyManager keeps the signing keys: created on first start, rotated on
// demand, private parts sealed in the database, everything cached for
// CacheTTL because op asks for the signing key on every issuance and for
// the key set on every verification.
type KeyManager struct {
	keys   store.Keys
	sealer *security.Sealer
	now    func() time.Time
	// CacheTTL bounds how stale a node's view may be; rotation activates a
	// new key only after it, so every node publishes a key before any signs.
	cacheTTL time.Duration
	// publishFor is how long a retired key stays in the JWKS: the longest
	// lifetime of a token it may have signed.
	publishFor time.Duration

	// snap is what every issuance and verification reads: lock-free, so a
	// request never waits behind another one's database read.
	snap atomic.Pointer[keySnapshot]
	// reload makes the refresh of an expired snapshot a single flight: one
	// caller reads the database, the others wait for its result instead of
	// all reading at once. Nothing else takes it; invalidate does not.
	reload sync.Mutex
}

// keySnapshot is one loaded key set with its JWKS document encoded once:
// /keys serves these bytes until the set changes.
type keySnapshot struct {
	loadedAt time.Time // zero: expired (invalidated)
	keys     []loadedKey
	jwks     []byte
	etag     string
}

func (s *keySnapshot) fresh(now time.Time, ttl time.Duration) bool {
	return s != nil && !s.loadedAt.IsZero() && now.Sub(s.loadedAt) < ttl && !now.Before(s.loadedAt)
}

type loadedKey struct {
	rec  store.SigningKey
	pub  jose.JSONWebKey
	priv crypto.Signer
}

// NewKeyManager returns a manager; call Ensure before serving.
func NewKeyManager(keys store.Keys, sealer *security.Sealer, now func() time.Time, cacheTTL, publishFor time.Duration) *KeyManager {
	return &KeyManager{keys: keys, sealer: sealer, now: now, cacheTTL: cacheTTL, publishFor: publishFor}
}

// Ensure creates a key for every supported algorithm that has none.
func (m *KeyManager) Ensure(ctx context.Context) error {
	now := m.now()
	have, err := m.keys.ListKeys(ctx, now)
	if err != nil {
		return err
	}
	for _, alg := range SupportedAlgs {
		if hasUnretired(have, alg) {
			continue
		}
		k, err := m.generate(alg, now)
		if err != nil {
			return err
		}
		if _, err := m.keys.CreateKeyIfNone(ctx, k); err != nil {
			return err
		}
	}
	m.invalidate()
	return nil
}

func hasUnretired(keys []store.SigningKey, alg string) bool {
	for _, k := range keys {
		if k.Alg == alg && k.RetiredAt == nil {
			return true
		}
	}
	return false
}

// Rotate adds a new key for alg that becomes active one cache period from
// now and retires the current one, which stays published until the tokens
// it signed have expired.
func (m *KeyManager) Rotate(ctx context.Context, alg string) (*store.SigningKey, error) {
	now := m.now()
	k, err := m.generate(alg, now)
	if err != nil {
		return nil, err
	}
	k.ActiveFrom = now.Add(m.cacheTTL)
	if err := m.keys.RotateKey(ctx, k, k.ActiveFrom.Add(m.publishFor)); err != nil {
		return nil, err
	}
	m.invalidate()
	return k, nil
}

func (m *KeyManager) generate(alg string, now time.Time) (*store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("keys: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: id, Algorithm: alg, Use: "sig"})
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	sealed, err := m.sealer.Seal(der, keyAAD(id))
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{ID: id, Alg: alg, PublicJWK: pub, PrivateEnc: sealed, CreatedAt: now, ActiveFrom: now}, nil
}

// keyAAD binds a sealed private key to its row: a ciphertext copied onto
// another key id does not open.
func keyAAD(id string) []byte { return []byte("signing_key:" + id) }

func (m *KeyManager) invalidate() {
	for {
		// Always store a new pointer, even over nothing yet loaded (an empty
		// expired snapshot): a reload running now sees its compare-and-swap
		// fail and does not keep a read that may predate the change.
		old := m.snap.Load()
		expired := keySnapshot{}
		if old != nil {
			expired = *old
		}
		expired.loadedAt = time.Time{}
		// Keep the keys: they are what a database blip falls back to. Retry
		// when a reload stored a snapshot in between.
		if m.snap.CompareAndSwap(old, &expired) {
			return
		}
	}
}

// current returns the key set, re-read from the database at most once per
// cache period (and after a local rotation).
func (m *KeyManager) current(ctx context.Context) (*keySnapshot, error) {
	if s := m.snap.Load(); s.fresh(m.now(), m.cacheTTL) {
		return s, nil
	}
	m.reload.Lock()
	defer m.reload.Unlock()
	now := m.now()
	prev := m.snap.Load()
	if prev.fresh(now, m.cacheTTL) {
		return prev, nil // another caller reloaded while this one waited
	}
	recs, err := m.keys.ListKeys(ctx, now)
	if err != nil {
		if prev != nil && prev.keys != nil {
			// Keep serving the last good set through a database blip.
			return prev, nil
		}
		return nil, err
	}
	old := map[string]loadedKey{}
	if prev != nil {
		for _, k := range prev.keys {
			old[k.rec.ID] = k
		}
	}
	out := make([]loadedKey, 0, len(recs))
	for _, r := range recs {
		if k, ok := old[r.ID]; ok {
			k.rec = r
			out = append(out, k)
			continue
		}
		k, err := m.open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	next := &keySnapshot{loadedAt: now, keys: out}
	if prev != nil && prev.jwks != nil && sameKeys(prev.keys, out) {
		next.jwks, next.etag = prev.jwks, prev.etag
	} else if next.jwks, next.etag, err = encodeJWKS(out); err != nil {
		return nil, err
	}
	if !m.snap.CompareAndSwap(prev, next) {
		// Only invalidate changes the snapshot outside this mutex: a local
		// rotation happened while this read ran and the read may predate
		// it. Keep the result, expired, so the next caller reads again.
		next.loadedAt = time.Time{}
		m.snap.Store(next)
	}
	return next, nil
}

// sameKeys reports whether two loads publish the same keys, in order.
func sameKeys(a, b []loadedKey) bool {
	return slices.EqualFunc(a, b, func(x, y loadedKey) bool { return x.rec.ID == y.rec.ID && x.rec.Alg == y.rec.Alg })
}

// encodeJWKS builds the /keys document (what op.Keys would encode) and its
// ETag.
func encodeJWKS(keys []loadedKey) ([]byte, string, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{KeyID: k.rec.ID, Algorithm: k.rec.Alg, Use: "sig", Key: k.pub.Key})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, "", fmt.Errorf("keys: encode jwks: %w", err)
	}
	return b, etagOf(b), nil
}

// JWKS returns the encoded public key set and its ETag; the bytes are
// shared and must not be modified.
func (m *KeyManager) JWKS(ctx context.Context) ([]byte, string, error) {
	s, err := m.current(ctx)
	if err != nil {
		return nil, "", err
	}
	return s.jwks, s.etag, nil
}

// CacheTTL is how long a node may serve a key set before re-reading it.
func (m *KeyManager) CacheTTL() time.Duration { return m.cacheTTL }

func (m *KeyManager) open(r store.SigningKey) (loadedKey, error) {
	var pub jose.JSONWebKey
	if err := pub.UnmarshalJSON(r.PublicJWK); err != nil {
		return loadedKey{}, fmt.Errorf("keys: public key %s: %w", r.ID, err)
	}
	der, err := m.sealer.Open(r.PrivateEnc, keyAAD(r.ID))
	if err != nil {
		return loadedKey{}, fmt.Errorf("keys: private key %s does not open with the configured encryption key: %w", r.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return loadedKey{}, fmt.Errorf("keys: private key %s: %w", r.ID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return loadedKey{}, fmt.Errorf("keys: private key %s is not a signer", r.ID)
	}
	return loadedKey{rec: r, pub: pub, priv: signer}, nil
}

// ErrNoActiveKey means no key of the algorithm is active yet.
var ErrNoActiveKey = errors.New("keys: no active signing key")

// Signing returns the active key for alg: the newest whose ActiveFrom has
// passed and that is not retired (ListKeys orders newest first).
func (m *KeyManager) Signing(ctx context.Context, alg string) (op.SigningKey, error) {
	snap, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now()
	for _, k := range snap.keys {
		if k.rec.Alg != alg || k.rec.ActiveFrom.After(now) {
			continue
		}
		if k.rec.RetiredAt != nil && !k.rec.RetiredAt.After(now) {
			continue
		}
		return signingKey{k}, nil
	}
	return nil, fmt.Errorf("%w for %s", ErrNoActiveKey, alg)
}

// Public returns every published public key.
func (m *KeyManager) Public(ctx context.Context) ([]op.Key, error) {
	snap, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, 0, len(snap.keys))
	for _, k := range snap.keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

type signingKey struct{ k loadedKey }

func (s signingKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(s.k.rec.Alg)
}
func (s signingKey) Key() any   { return s.k.priv }
func (s signingKey) ID() string { return s.k.rec.ID }

type publicKey struct{ k loadedKey }

func (p publicKey) ID() string                         { return p.k.rec.ID }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(p.k.rec.Alg) }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.pub.Key }
