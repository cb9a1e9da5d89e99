package oidcop

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// TestKeyRotation: a rotated key is published at once but signs only after
// the cache period; the old key keeps signing until then and stays
// published until the tokens it signed have expired.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "k.db"), sqlstore.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, _ := security.NewSealer(key)
	now := time.Now()
	clock := func() time.Time { return now }
	const ttl, publishFor = 30 * time.Second, time.Hour
	km := NewKeyManager(st, sealer, clock, ttl, publishFor)
	if err := km.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := km.Ensure(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	kids := func() []string {
		ks, err := km.Public(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range ks {
			out = append(out, k.ID())
		}
		return out
	}
	if n := len(kids()); n != len(SupportedAlgs) {
		t.Fatalf("first start published %d keys, want one per algorithm", n)
	}
	old, err := km.Signing(ctx, "ES256")
	if err != nil {
		t.Fatal(err)
	}

	next, err := km.Rotate(ctx, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(kids(), next.ID) || !slices.Contains(kids(), old.ID()) {
		t.Fatal("both keys must be published right after rotation")
	}
	if k, _ := km.Signing(ctx, "ES256"); k.ID() != old.ID() {
		t.Fatal("the new key signed before every node could publish it")
	}
	now = now.Add(ttl + time.Second)
	km.invalidate()
	if k, _ := km.Signing(ctx, "ES256"); k.ID() != next.ID {
		t.Fatal("the new key does not sign after the cache period")
	}
	if !slices.Contains(kids(), old.ID()) {
		t.Fatal("the old key left the JWKS while its tokens may be valid")
	}
	now = now.Add(publishFor + time.Second)
	km.invalidate()
	if slices.Contains(kids(), old.ID()) {
		t.Fatal("the old key is still published after its tokens expired")
	}
	if k, _ := km.Signing(ctx, "RS256"); k == nil {
		t.Fatal("rotating ES256 touched RS256")
	}

	t.Run("a key sealed under another master key does not open", func(t *testing.T) {
		other := make([]byte, 32)
		_, _ = rand.Read(other)
		s2, _ := security.NewSealer(other)
		km2 := NewKeyManager(st, s2, clock, ttl, publishFor)
		if _, err := km2.Public(ctx); err == nil {
			t.Fatal("keys opened with the wrong encryption key")
		}
	})
}
