package security

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// SecretHasher hashes high-entropy secrets that we generate, such as client
// secrets, with HMAC-SHA256 under a derived key. A slow password hash would
// cap token issuance (every client_secret_basic request verifies one) without
// adding security: a 256-bit random secret cannot be guessed. The key means a
// stolen database alone does not allow checking guesses offline either.
// It is safe for concurrent use.
type SecretHasher struct {
	key []byte
}

// NewSecretHasher returns a SecretHasher keyed with key, normally
// DeriveKey(master, "client-secrets"). It panics on a key shorter than 16
// bytes: that is a wiring mistake, never user input.
func NewSecretHasher(key []byte) *SecretHasher {
	if len(key) < 16 {
		panic("security: SecretHasher key shorter than 16 bytes")
	}
	return &SecretHasher{key: append([]byte(nil), key...)}
}

func (h *SecretHasher) sum(secret string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Hash returns the lower-case hex HMAC-SHA256 of secret.
func (h *SecretHasher) Hash(secret string) string {
	return hex.EncodeToString(h.sum(secret))
}

// Equal reports whether hash (as returned by Hash) belongs to secret, in time
// independent of where they differ.
func (h *SecretHasher) Equal(hash, secret string) bool {
	want, err := hex.DecodeString(hash)
	if err != nil {
		return false
	}
	return hmac.Equal(want, h.sum(secret))
}

// RandomToken returns nbytes of crypto/rand output as unpadded URL-safe
// base64, for auth codes, refresh tokens, session ids and client secrets.
// Use at least 32 bytes for anything that authenticates.
func RandomToken(nbytes int) string {
	b := make([]byte, nbytes)
	rand.Read(b) // never returns an error since Go 1.24; it crashes instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the hex SHA-256 of a token, the form in which auth codes,
// refresh tokens and session cookie ids are stored and looked up. No key and
// no salt are needed: the token already has 256 bits of entropy, and a plain
// hash keeps lookups by equality possible.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// ConstantTimeEqual compares two strings without leaking where they differ
// or, because both are hashed first, how long the expected one is.
func ConstantTimeEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
