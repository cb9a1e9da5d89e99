package security

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// sealVersion is the first byte of every sealed value. It names the
// algorithm (AES-256-GCM, 12-byte random nonce) so that a later change of
// algorithm or key can tell old rows from new ones.
const sealVersion byte = 1

const (
	// KeySize is the size of a Sealer key and of every DeriveKey output.
	KeySize   = 32
	nonceSize = 12
	tagSize   = 16
)

// ErrOpen is returned by Open for every failure to authenticate a sealed
// value: wrong key, wrong associated data, truncation or tampering. The cases
// are deliberately not told apart.
var ErrOpen = errors.New("security: cannot open sealed value")

// Sealer encrypts small secrets at rest (TOTP seeds, private signing keys)
// with AES-256-GCM. The associated data binds a ciphertext to its row (for
// example "enrollments:<id>:secret"), so a value copied into another row by
// someone with write access to the database does not decrypt there.
// It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key, normally
// DeriveKey(master, "<purpose>").
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("security: sealer key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad and returns version||nonce||ciphertext.
// Random nonces are safe here: far fewer than 2^32 values are sealed under
// one derived key.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+tagSize)
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("security: reading nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+nonceSize], plaintext, aad), nil
}

// Open authenticates and decrypts a value produced by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+tagSize {
		return nil, ErrOpen
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrOpen, sealed[0])
	}
	pt, err := s.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// DeriveKey derives an independent 32-byte subkey from the configured master
// key with HKDF-SHA256, the label being HKDF's info ("signing-keys",
// "client-secrets", "op-crypto", ...). Independent subkeys mean that a key
// exposed in one place (say, the OP's token encryption) reveals nothing about
// the others, while operators manage a single secret.
func DeriveKey(master []byte, label string) []byte {
	key, err := hkdf.Key(sha256.New, master, nil, "eu-health-idp/"+label, KeySize)
	if err != nil {
		// Only possible for lengths above 255*32 bytes or in FIPS mode
		// with a master key below 112 bits; both are programming errors.
		panic("security: DeriveKey: " + err.Error())
	}
	return key
}
