package assurance

import (
	"slices"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	pwd := store.Proof{Factor: "password", AMR: []string{"pwd"}, At: now.Add(-time.Minute)}
	otp := store.Proof{Factor: "totp", AMR: []string{"otp"}, At: now.Add(-30 * time.Second)}
	hwk := store.Proof{Factor: "passkey", AMR: []string{"hwk", "user"}, PhishingResistant: true, At: now}
	stale := store.Proof{Factor: "totp", AMR: []string{"otp"}, At: now.Add(-13 * time.Hour)}

	cases := []struct {
		name   string
		proofs []store.Proof
		f      Freshness
		acr    string
		amr    []string
		at     time.Time
	}{
		{"nothing proved reaches no level", nil, Freshness{}, "", nil, time.Time{}},
		{"a password alone is low", []store.Proof{pwd}, Freshness{}, LoALow, []string{"pwd"}, pwd.At},
		{"password and totp are substantial with mfa", []store.Proof{pwd, otp}, Freshness{}, LoASubstantial, []string{"pwd", "otp", "mfa"}, otp.At},
		{"a phishing-resistant second factor is high", []store.Proof{pwd, hwk}, Freshness{}, LoAHigh, []string{"pwd", "hwk", "user", "mfa"}, hwk.At},
		{"a stale factor no longer counts", []store.Proof{pwd, stale}, Freshness{MaxAge: 12 * time.Hour}, LoALow, []string{"pwd"}, pwd.At},
		{"the same factor twice is still one factor", []store.Proof{pwd, pwd}, Freshness{}, LoALow, []string{"pwd"}, pwd.At},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(c.proofs, now, c.f)
			if r.ACR != c.acr || !slices.Equal(r.AMR, c.amr) || !r.AuthTime.Equal(c.at) {
				t.Fatalf("got acr=%q amr=%v at=%v, want acr=%q amr=%v at=%v", r.ACR, r.AMR, r.AuthTime, c.acr, c.amr, c.at)
			}
		})
	}
}

func TestSatisfies(t *testing.T) {
	cases := []struct {
		reached, wanted string
		ok              bool
	}{
		{LoALow, LoALow, true},
		{LoASubstantial, LoALow, true},
		{LoALow, LoASubstantial, false},
		{LoAHigh, LoASubstantial, true},
		{"", LoALow, false},
		{LoAHigh, "urn:unknown", false},
	}
	for _, c := range cases {
		if got := Satisfies(DefaultLevels, c.reached, c.wanted); got != c.ok {
			t.Errorf("Satisfies(%q, %q) = %v, want %v", c.reached, c.wanted, got, c.ok)
		}
	}
}
