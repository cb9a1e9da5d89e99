package store

import (
	"context"
	"time"
)

// SigningKey is one asymmetric key of the issuer. The private part is
// encrypted with a key from config, bound to ID as associated data.
type SigningKey struct {
	ID         string // JWK "kid"
	Alg        string // ES256, RS256
	PublicJWK  []byte // JSON of the public JWK
	PrivateEnc []byte // AEAD(private key PKCS#8 DER), AAD = "signing_key:"+ID
	CreatedAt  time.Time
	// ActiveFrom is when nodes may start signing with the key. Rotation sets
	// it one cache period ahead so every node publishes the key before any
	// node signs with it.
	ActiveFrom time.Time
	// RetiredAt is when a newer key replaced it; nil while current.
	RetiredAt *time.Time
	// PublishUntil is when it leaves the JWKS (tokens it signed have
	// expired); nil while current.
	PublishUntil *time.Time
}

// Keys is the signing-key repository.
type Keys interface {
	// ListKeys returns every key not yet past PublishUntil at now, newest
	// ActiveFrom first (ties broken by ID, so every node picks the same).
	ListKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	// RotateKey inserts next and, in the same transaction, retires every
	// other unretired key of next.Alg: RetiredAt=next.ActiveFrom,
	// PublishUntil=publishUntil.
	RotateKey(ctx context.Context, next *SigningKey, publishUntil time.Time) error
	// CreateKeyIfNone inserts k unless an unretired key of k.Alg exists;
	// reports whether it inserted. First start of several nodes may race and
	// create two; both are published and the ordering of ListKeys decides.
	CreateKeyIfNone(ctx context.Context, k *SigningKey) (bool, error)
}
