package security

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealerRoundTripsAndRejectsTampering(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	s, err := NewSealer(DeriveKey(master, "signing-keys"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSealer(DeriveKey(master, "op-crypto"))
	aad := []byte("enrollments:42:secret")
	pt := []byte("JBSWY3DPEHPK3PXP")
	sealed, err := s.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 1+12+len(pt)+16 || sealed[0] != 1 {
		t.Fatalf("layout: len %d version %d", len(sealed), sealed[0])
	}
	again, _ := s.Seal(pt, aad)
	if bytes.Equal(sealed[1:13], again[1:13]) {
		t.Fatal("nonces must be random")
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		aad    []byte
		ok     bool
	}{
		{"the same key and row open the value", s, sealed, aad, true},
		{"another row's associated data is refused", s, sealed, []byte("enrollments:43:secret"), false},
		{"missing associated data is refused", s, sealed, nil, false},
		{"a key derived for another purpose is refused", other, sealed, aad, false},
		{"a flipped ciphertext bit is refused", s, flip(14), aad, false},
		{"a flipped nonce bit is refused", s, flip(3), aad, false},
		{"a flipped tag bit is refused", s, flip(len(sealed) - 1), aad, false},
		{"an unknown version is refused", s, flip(0), aad, false},
		{"a truncated value is refused", s, sealed[:20], aad, false},
		{"an empty value is refused", s, nil, aad, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, tt.aad)
			if tt.ok {
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, ErrOpen) || got != nil {
				t.Fatalf("want ErrOpen, got %q, %v", got, err)
			}
		})
	}
}

func TestNewSealerWantsA32ByteKey(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("%d-byte key accepted", n)
		}
	}
}

func TestDeriveKeyGivesIndependentStableSubkeys(t *testing.T) {
	m1, m2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	a := DeriveKey(m1, "client-secrets")
	if len(a) != 32 {
		t.Fatalf("len %d", len(a))
	}
	if !bytes.Equal(a, DeriveKey(m1, "client-secrets")) {
		t.Fatal("not deterministic")
	}
	if bytes.Equal(a, DeriveKey(m1, "signing-keys")) {
		t.Fatal("labels must give different keys")
	}
	if bytes.Equal(a, DeriveKey(m2, "client-secrets")) {
		t.Fatal("masters must give different keys")
	}
}
