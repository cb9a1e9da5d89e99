package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func newKey(id, alg string, activeFrom time.Time) store.SigningKey {
	return store.SigningKey{
		ID:         id,
		Alg:        alg,
		PublicJWK:  []byte(`{"kty":"EC","crv":"P-256","kid":"` + id + `"}`),
		PrivateEnc: []byte{0x00, 0x01, 0xfe, 0xff, byte(len(id))},
		CreatedAt:  activeFrom.Add(-time.Hour),
		ActiveFrom: activeFrom,
	}
}

func keyIDs(keys []store.SigningKey) []string {
	ids := []string{}
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func testKeys(t *testing.T, open Opener) {
	t.Run("the first key of an algorithm is created and reads back whole", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		k := newKey("k1", "ES256", t0)
		created, err := s.CreateKeyIfNone(ctx, &k)
		check(t, err)
		same(t, "created", created, true)
		keys, err := s.ListKeys(ctx, t0)
		check(t, err)
		same(t, "keys", keys, []store.SigningKey{k})
	})

	t.Run("a second key of the same algorithm is not created, one of another is", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		k1, k2, rs := newKey("k1", "ES256", t0), newKey("k2", "ES256", t0), newKey("r1", "RS256", t0)
		for _, tc := range []struct {
			key  *store.SigningKey
			want bool
		}{{&k1, true}, {&k2, false}, {&rs, true}} {
			created, err := s.CreateKeyIfNone(ctx, tc.key)
			check(t, err)
			same(t, tc.key.ID+" created", created, tc.want)
		}
		keys, err := s.ListKeys(ctx, t0)
		check(t, err)
		same(t, "ids", keyIDs(keys), []string{"k1", "r1"})
	})

	t.Run("rotation retires every current key of its algorithm and no other", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		// Two current ES256 keys, as after a first-start race.
		for _, k := range []store.SigningKey{newKey("e1", "ES256", t0), newKey("e2", "ES256", t0), newKey("r1", "RS256", t0)} {
			check(t, s.RotateKey(ctx, &k, t0)) // a rotation with nothing to retire
		}
		// e1 was retired by e2's rotation: start from what is current.
		next := newKey("e3", "ES256", t0.Add(time.Hour))
		publishUntil := t0.Add(48 * time.Hour)
		check(t, s.RotateKey(ctx, &next, publishUntil))

		keys, err := s.ListKeys(ctx, t0.Add(2*time.Hour))
		check(t, err)
		byID := map[string]store.SigningKey{}
		for _, k := range keys {
			byID[k.ID] = k
		}
		same(t, "e3 is current", byID["e3"].RetiredAt == nil && byID["e3"].PublishUntil == nil, true)
		same(t, "r1 is current", byID["r1"].RetiredAt == nil && byID["r1"].PublishUntil == nil, true)
		e2 := byID["e2"]
		if e2.RetiredAt == nil || !e2.RetiredAt.Equal(next.ActiveFrom) {
			t.Fatalf("e2 RetiredAt = %v, want %v", e2.RetiredAt, next.ActiveFrom)
		}
		same(t, "e2 publish until", e2.PublishUntil, &publishUntil)
		if _, ok := byID["e1"]; ok {
			t.Fatal("e1 was retired with PublishUntil=t0 and must not be listed after it")
		}
	})

	t.Run("keys are listed newest ActiveFrom first, ties by id", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for _, k := range []store.SigningKey{
			newKey("b", "ES256", t0), newKey("c", "RS256", t0.Add(time.Hour)),
			newKey("a", "RS256", t0), newKey("d", "EdDSA", t0.Add(-time.Hour)),
		} {
			created, err := s.CreateKeyIfNone(ctx, &k)
			check(t, err)
			if !created {
				// Same alg as an earlier key: insert through rotation
				// so both stay listed.
				check(t, s.RotateKey(ctx, &k, t0.Add(time.Hour)))
			}
		}
		keys, err := s.ListKeys(ctx, t0)
		check(t, err)
		same(t, "order", keyIDs(keys), []string{"c", "a", "b", "d"})
	})

	t.Run("a key leaves the list exactly at PublishUntil", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		old, next := newKey("old", "ES256", t0.Add(-time.Hour)), newKey("new", "ES256", t0)
		check(t, s.RotateKey(ctx, &old, t0))
		until := t0.Add(time.Hour)
		check(t, s.RotateKey(ctx, &next, until))
		for _, tc := range []struct {
			now  time.Time
			want []string
		}{
			{until.Add(-µs), []string{"new", "old"}},
			{until, []string{"new"}},
		} {
			keys, err := s.ListKeys(ctx, tc.now)
			check(t, err)
			same(t, "ids at "+tc.now.String(), keyIDs(keys), tc.want)
		}
	})

	t.Run("rotating to a taken key id is a conflict and retires nothing", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		k := newKey("k1", "ES256", t0)
		check(t, s.RotateKey(ctx, &k, t0.Add(time.Hour)))
		other := newKey("k2", "ES256", t0)
		check(t, s.RotateKey(ctx, &other, t0.Add(time.Hour)))
		dup := newKey("k1", "ES256", t0.Add(time.Minute))
		wantErr(t, s.RotateKey(ctx, &dup, t0.Add(time.Hour)), store.ErrConflict)
		keys, err := s.ListKeys(ctx, t0)
		check(t, err)
		for _, k := range keys {
			if k.ID == "k2" && k.RetiredAt != nil {
				t.Fatal("the failed rotation retired k2")
			}
		}
	})
}
