package oidcop

import (
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// BenchmarkSignIDToken times one ID token issuance as op.CreateIDToken
// does it: take the active key from the KeyManager (cached), build a
// signer from it (op.SignerFromKey), marshal and sign the claims
// (crypto.Sign). The claims are a typical ID token: at_hash, nonce, acr,
// amr, and the profile and email claims.
func BenchmarkSignIDToken(b *testing.B) {
	ctx := b.Context()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "k.db"), sqlstore.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, _ := security.NewSealer(key)
	km := NewKeyManager(st, sealer, time.Now, time.Hour, time.Hour)
	if err := km.Ensure(ctx); err != nil {
		b.Fatal(err)
	}

	now := time.Now()
	for _, alg := range SupportedAlgs {
		b.Run(alg, func(b *testing.B) {
			sign := func() string {
				sk, err := km.Signing(ctx, alg)
				if err != nil {
					b.Fatal(err)
				}
				claims := oidc.NewIDTokenClaims("https://idp.example.org", "0b6c2f4e-4d1e-4f57-9a43-6d2b1c0e7a55",
					[]string{"portal"}, now.Add(time.Hour), now, "n-0S6_WzA2Mj", "urn:eu:loa:substantial",
					[]string{"pwd", "otp", "mfa"}, "portal", 0)
				claims.AccessTokenHash, err = oidc.ClaimHash("kL0xZ2mV7qN4rT8yW1eB5cF9hJ3pS6uA", sk.SignatureAlgorithm())
				if err != nil {
					b.Fatal(err)
				}
				claims.SetUserInfo(&oidc.UserInfo{
					Subject:         claims.Subject,
					UserInfoProfile: oidc.UserInfoProfile{Name: "Alice Martin", PreferredUsername: "alice"},
					UserInfoEmail:   oidc.UserInfoEmail{Email: "alice@example.org", EmailVerified: true},
				})
				signer, err := op.SignerFromKey(sk)
				if err != nil {
					b.Fatal(err)
				}
				tok, err := crypto.Sign(claims, signer)
				if err != nil {
					b.Fatal(err)
				}
				return tok
			}
			tok := sign()
			if _, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				sign()
			}
			b.ReportMetric(float64(len(tok)), "token-bytes")
		})
	}
}
