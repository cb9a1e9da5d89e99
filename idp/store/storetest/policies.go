package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// newPolicy is a policy with every field set for client id.
func newPolicy(id string) store.ClientPolicy {
	return store.ClientPolicy{
		ClientID:             id,
		AllowedFactors:       []string{"totp", "sms", "recovery"},
		MinACR:               "http://eidas.europa.eu/LoA/substantial",
		DefaultACR:           "http://eidas.europa.eu/LoA/high",
		FactorMaxAge:         12 * time.Hour,
		GraceDays:            14,
		RememberDevice:       true,
		RememberFor:          30 * 24 * time.Hour,
		AccountChangeFactors: []string{"totp"},
		UpdatedAt:            t0,
	}
}

// clientReady stores newClient(id): a policy belongs to a client.
func clientReady(t *testing.T, s store.Store, id string) {
	t.Helper()
	c := newClient(id)
	check(t, s.CreateClient(t.Context(), &c))
}

func testPolicies(t *testing.T, open Opener) {
	t.Run("a policy reads back whole", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		clientReady(t, s, "portal")
		p := newPolicy("portal")
		check(t, s.PutClientPolicy(ctx, &p))
		got, err := s.ClientPolicy(ctx, p.ClientID)
		check(t, err)
		same(t, "policy", *got, p)
	})

	t.Run("a policy with empty lists and zero values reads back with nil lists", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		clientReady(t, s, "portal")
		p := store.ClientPolicy{ClientID: "portal", AllowedFactors: []string{}, UpdatedAt: t0}
		check(t, s.PutClientPolicy(ctx, &p))
		got, err := s.ClientPolicy(ctx, p.ClientID)
		check(t, err)
		p.AllowedFactors = nil
		same(t, "policy", *got, p)
	})

	t.Run("a client without a policy is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		clientReady(t, s, "portal")
		_, err := s.ClientPolicy(ctx, "portal")
		wantErr(t, err, store.ErrNotFound)
		_, err = s.ClientPolicy(ctx, "nope")
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("a policy for an unknown client is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		p := newPolicy("nope")
		wantErr(t, s.PutClientPolicy(ctx, &p), store.ErrNotFound)
		_, err := s.SeedClientPolicy(ctx, &p)
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("putting a policy replaces the whole previous one", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		clientReady(t, s, "portal")
		clientReady(t, s, "other")
		p, other := newPolicy("portal"), newPolicy("other")
		check(t, s.PutClientPolicy(ctx, &p))
		check(t, s.PutClientPolicy(ctx, &other))
		next := store.ClientPolicy{
			ClientID: "portal", AllowedFactors: []string{"voice"}, MinACR: "http://eidas.europa.eu/LoA/low",
			GraceDays: 3, UpdatedAt: t0.Add(time.Hour),
		}
		check(t, s.PutClientPolicy(ctx, &next))
		got, err := s.ClientPolicy(ctx, "portal")
		check(t, err)
		same(t, "policy", *got, next)
		got, err = s.ClientPolicy(ctx, "other")
		check(t, err)
		same(t, "other client's policy", *got, other)
	})

	t.Run("seeding inserts only when the client has no policy", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		clientReady(t, s, "portal")
		seed := newPolicy("portal")
		ok, err := s.SeedClientPolicy(ctx, &seed)
		check(t, err)
		same(t, "first seed inserted", ok, true)
		got, err := s.ClientPolicy(ctx, "portal")
		check(t, err)
		same(t, "seeded policy", *got, seed)

		edit := newPolicy("portal")
		edit.MinACR, edit.GraceDays, edit.UpdatedAt = "http://eidas.europa.eu/LoA/high", 0, t0.Add(time.Hour)
		check(t, s.PutClientPolicy(ctx, &edit))
		again := newPolicy("portal")
		ok, err = s.SeedClientPolicy(ctx, &again)
		check(t, err)
		same(t, "second seed inserted", ok, false)
		got, err = s.ClientPolicy(ctx, "portal")
		check(t, err)
		same(t, "the admin's edit is kept", *got, edit)
	})
}
