package security

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// cheap parameters keep the tests fast; the defaults are benchmarked below.
var cheap = Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestHashProducesAPHCStringWithTheHashersParameters(t *testing.T) {
	h := NewPasswordHasher(DefaultArgon2)
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	parts := strings.Split(enc, "$")
	if len(parts[4]) != 22 || len(parts[5]) != 43 || strings.ContainsAny(parts[4]+parts[5], "=") {
		t.Fatalf("want raw std base64 of 16-byte salt and 32-byte key, got %q", enc)
	}
	again, _ := h.Hash("correct horse battery staple")
	if again == enc {
		t.Fatal("two hashes of one password must differ (random salt)")
	}
}

func TestVerify(t *testing.T) {
	h := NewPasswordHasher(cheap)
	own, _ := h.Hash("s3cret-Passw0rd")
	other, _ := NewPasswordHasher(Argon2Params{MemoryKiB: 128, Iterations: 2, Parallelism: 2}).Hash("s3cret-Passw0rd")
	bc, _ := bcrypt.GenerateFromPassword([]byte("s3cret-Passw0rd"), bcrypt.MinCost)
	bc2y := "$2y$" + string(bc[4:])
	bc2a := "$2a$" + string(bc[4:])
	// Reference vector from the argon2 reference implementation / PHC
	// (password "password", salt "somesalt", m=65536,t=2,p=1 -> 32 bytes).
	ref := "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

	tests := []struct {
		name        string
		hash, pw    string
		ok, rehash  bool
		wantMalform bool
	}{
		{"the right password matches its own hash", own, "s3cret-Passw0rd", true, false, false},
		{"a wrong password does not match", own, "s3cret-passw0rd", false, false, false},
		{"a hash with other parameters matches and asks for a rehash", other, "s3cret-Passw0rd", true, true, false},
		{"a wrong password on a hash with other parameters asks for nothing", other, "nope", false, false, false},
		{"an imported bcrypt $2b$ hash matches and asks for a rehash", string(bc), "s3cret-Passw0rd", true, true, false},
		{"an imported bcrypt $2y$ hash matches", bc2y, "s3cret-Passw0rd", true, true, false},
		{"an imported bcrypt $2a$ hash matches", bc2a, "s3cret-Passw0rd", true, true, false},
		{"a wrong password on a bcrypt hash does not match", string(bc), "wrong", false, false, false},
		{"the reference implementation's test vector verifies", ref, "password", true, true, false},
		{"an empty hash is malformed", "", "x", false, false, true},
		{"an unknown algorithm is malformed", "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"another argon2 version is malformed", "$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"a missing parameter is malformed", "$argon2id$v=19$m=65536,t=2$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"absurd memory is malformed", "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"zero parallelism is malformed", "$argon2id$v=19$m=65536,t=2,p=0$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"bad base64 is malformed", "$argon2id$v=19$m=65536,t=2,p=1$c29tZX!hbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"a truncated key is malformed", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFh", "password", false, false, true},
		{"a truncated bcrypt hash is malformed", string(bc[:20]), "s3cret-Passw0rd", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.hash, tt.pw)
			if tt.wantMalform {
				if !errors.Is(err, ErrMalformedHash) {
					t.Fatalf("want ErrMalformedHash, got ok=%v err=%v", ok, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || rehash != tt.rehash {
				t.Fatalf("got ok=%v needsRehash=%v, want %v %v", ok, rehash, tt.ok, tt.rehash)
			}
		})
	}
}

func TestAnImportedBcryptHashIsUpgradedToArgon2id(t *testing.T) {
	h := NewPasswordHasher(cheap)
	bc, _ := bcrypt.GenerateFromPassword([]byte("legacy password"), bcrypt.MinCost)
	ok, rehash, err := h.Verify(string(bc), "legacy password")
	if err != nil || !ok || !rehash {
		t.Fatalf("bcrypt verify: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	upgraded, err := h.Hash("legacy password")
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err = h.Verify(upgraded, "legacy password")
	if err != nil || !ok || rehash {
		t.Fatalf("after upgrade: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
}

func TestNFKCEquivalentPasswordsVerify(t *testing.T) {
	h := NewPasswordHasher(cheap)
	enc, _ := h.Hash("caf\u00e9-\u00e9t\u00e9-2024")               // composed é
	ok, _, err := h.Verify(enc, "cafe\u0301-e\u0301te\u0301-2024") // decomposed
	if err != nil || !ok {
		t.Fatalf("decomposed input should verify: ok=%v err=%v", ok, err)
	}
}

func TestWaitingForASlotGivesUpWhenTheContextEnds(t *testing.T) {
	h := NewPasswordHasher(cheap, WithConcurrency(1))
	enc, _ := h.Hash("pw")
	h.sem <- struct{}{} // occupy the only slot
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := h.VerifyContext(ctx, enc, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("VerifyContext: want deadline exceeded, got %v", err)
	}
	if _, err := h.HashContext(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HashContext: want deadline exceeded, got %v", err)
	}
	if err := h.DummyVerifyContext(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DummyVerifyContext: want deadline exceeded, got %v", err)
	}
	<-h.sem
	if ok, _, err := h.VerifyContext(context.Background(), enc, "pw"); err != nil || !ok {
		t.Fatalf("after release: ok=%v err=%v", ok, err)
	}
}

func TestConcurrencyDefaultsToTwicePerCPU(t *testing.T) {
	for _, n := range []int{0, -1} {
		if got := cap(NewPasswordHasher(cheap, WithConcurrency(n)).sem); got < 2 {
			t.Fatalf("WithConcurrency(%d): capacity %d", n, got)
		}
	}
	if got := cap(NewPasswordHasher(cheap, WithConcurrency(3)).sem); got != 3 {
		t.Fatalf("WithConcurrency(3): capacity %d", got)
	}
}

func TestZeroParametersFallBackToTheDefaults(t *testing.T) {
	if got := NewPasswordHasher(Argon2Params{}).Params(); got != DefaultArgon2 {
		t.Fatalf("got %+v", got)
	}
}

func TestDummyVerifyTakesAboutAsLongAsARealVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	h := NewPasswordHasher(DefaultArgon2)
	enc, _ := h.Hash("some password")
	measure := func(f func()) time.Duration {
		best := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			f()
			best = min(best, time.Since(start))
		}
		return best
	}
	real := measure(func() { h.Verify(enc, "wrong password") })
	dummy := measure(func() { h.DummyVerify("wrong password") })
	if dummy < real/2 || dummy > real*2 {
		t.Fatalf("dummy %v vs real %v", dummy, real)
	}
}

func BenchmarkVerifyArgon2idDefault(b *testing.B) {
	h := NewPasswordHasher(DefaultArgon2)
	enc, _ := h.Hash("benchmark password")
	b.ReportAllocs()
	for b.Loop() {
		h.Verify(enc, "benchmark password")
	}
}
