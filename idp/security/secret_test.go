package security

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestSecretHasher(t *testing.T) {
	h := NewSecretHasher(DeriveKey(bytes.Repeat([]byte{9}, 32), "client-secrets"))
	other := NewSecretHasher(DeriveKey(bytes.Repeat([]byte{8}, 32), "client-secrets"))
	secret := RandomToken(32)
	hash := h.Hash(secret)
	tests := []struct {
		name   string
		hasher *SecretHasher
		hash   string
		secret string
		want   bool
	}{
		{"the secret matches its hash", h, hash, secret, true},
		{"an upper-case hex hash still matches", h, strings.ToUpper(hash), secret, true},
		{"another secret does not match", h, hash, secret + "x", false},
		{"another key does not match", other, hash, secret, false},
		{"a hash that is not hex does not match", h, "zz" + hash[2:], secret, false},
		{"an empty hash does not match", h, "", secret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.hasher.Equal(tt.hash, tt.secret); got != tt.want {
				t.Fatalf("got %v", got)
			}
		})
	}
	if len(hash) != 64 || hash != strings.ToLower(hash) {
		t.Fatalf("want 64 lower-case hex digits, got %q", hash)
	}
}

func TestRandomTokenIsURLSafeAndUnique(t *testing.T) {
	a, b := RandomToken(32), RandomToken(32)
	if a == b {
		t.Fatal("two tokens are equal")
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Fatalf("decode: %v, %d bytes", err, len(raw))
	}
}

func TestHashTokenIsPlainSHA256Hex(t *testing.T) {
	// SHA-256("abc") from FIPS 180-2.
	if got := HashToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("got %s", got)
	}
}

func TestConstantTimeEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"equal strings are equal", "abc", "abc", true},
		{"different strings differ", "abc", "abd", false},
		{"a prefix differs", "abc", "ab", false},
		{"two empty strings are equal", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ConstantTimeEqual(tt.a, tt.b); got != tt.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func BenchmarkSecretHasherEqual(b *testing.B) {
	h := NewSecretHasher(DeriveKey(bytes.Repeat([]byte{9}, 32), "client-secrets"))
	secret := RandomToken(32)
	hash := h.Hash(secret)
	b.ReportAllocs()
	for b.Loop() {
		h.Equal(hash, secret)
	}
}
