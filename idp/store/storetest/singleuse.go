package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func testSingleUse(t *testing.T, open Opener) {
	t.Run("a key is used once until it expires, then may be used again", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		key, exp := "totp:user-001:59000000", t0.Add(90*time.Second)
		check(t, s.UseOnce(ctx, key, exp, t0))
		wantErr(t, s.UseOnce(ctx, key, exp, t0), store.ErrConsumed)
		wantErr(t, s.UseOnce(ctx, key, exp.Add(time.Hour), exp.Add(-µs)), store.ErrConsumed)
		check(t, s.UseOnce(ctx, key, exp.Add(time.Hour), exp))
		// The replacement carries its own expiry.
		wantErr(t, s.UseOnce(ctx, key, exp.Add(time.Hour), exp.Add(time.Minute)), store.ErrConsumed)
		check(t, s.UseOnce(ctx, key, exp.Add(2*time.Hour), exp.Add(time.Hour)))
	})

	t.Run("different keys do not interfere", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for i := range 3 {
			check(t, s.UseOnce(ctx, seq("jti", i), t0.Add(time.Minute), t0))
		}
		wantErr(t, s.UseOnce(ctx, seq("jti", 1), t0.Add(time.Minute), t0), store.ErrConsumed)
	})
}
