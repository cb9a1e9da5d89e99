package oidcop

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/eu-health-idp/idp/idp/store"
)

// rowlessPrefix marks the id (jti) of a client_credentials JWT access
// token, which is issued without an access_tokens row: writing one per
// token was a quarter of the cost of issuing it, and the JWT itself
// carries everything introspection answers (client, audience, scopes,
// expiry), signed. What a row still does for these tokens is revocation:
// RFC 7009 revocation inserts a row with this id, already revoked, kept
// until the token would have expired, and introspection on any node
// looks for that row before it answers active. Tokens issued from a code
// or a refresh token keep their rows: family and replay revocation find
// them by auth request and family.
const rowlessPrefix = "atj_"

// rowlessClaims are the claims of a client_credentials JWT that
// introspection reports.
type rowlessClaims struct {
	Subject  string                   `json:"sub"`
	Audience oidc.Audience            `json:"aud"`
	Expiry   oidc.Time                `json:"exp"`
	IssuedAt oidc.Time                `json:"iat"`
	ClientID string                   `json:"client_id"`
	JTI      string                   `json:"jti"`
	Scopes   oidc.SpaceDelimitedArray `json:"scope"`
}

type ctxIntrospectedKey struct{}

// withIntrospectedToken keeps the token of an introspection request in the
// context: op verifies it, but hands the storage only its jti and subject.
func withIntrospectedToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, ctxIntrospectedKey{}, token)
}

// introspectedClaims decodes the payload of the token being introspected.
// op has already verified this very string's signature and expiry before
// it calls the storage; the jti must match the id op extracted, so the
// claims are those of the verified token.
func introspectedClaims(ctx context.Context, jti string) (*rowlessClaims, bool) {
	tok, _ := ctx.Value(ctxIntrospectedKey{}).(string)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var c rowlessClaims
	if json.Unmarshal(payload, &c) != nil || c.JTI != jti {
		return nil, false
	}
	return &c, true
}

var errInactive = errors.New("token is not active")

// activeRowless answers for a client_credentials JWT: active unless a
// revocation row exists or it expired. Used by introspection; UserInfo
// never accepts these tokens (no user).
func (s *Storage) activeRowless(ctx context.Context, id string) (*store.AccessToken, error) {
	c, ok := introspectedClaims(ctx, id)
	if !ok {
		return nil, errInactive
	}
	now := s.now()
	if !c.Expiry.AsTime().After(now) {
		return nil, errInactive
	}
	switch _, err := s.st.AccessTokenByID(ctx, id); {
	case err == nil:
		return nil, errInactive // the revocation mark
	case !errors.Is(err, store.ErrNotFound):
		unavailable(ctx, err)
		return nil, errInactive
	}
	return &store.AccessToken{
		ID: id, ClientID: c.ClientID, Audience: c.Audience, Scopes: c.Scopes,
		CreatedAt: c.IssuedAt.AsTime(), ExpiresAt: c.Expiry.AsTime(),
	}, nil
}

// revokeRowless records the revocation of a client_credentials JWT. op
// passes the subject of a token whose signature it verified; for these
// tokens the subject is the client they were issued to. An empty subject
// means op could not verify the string (expired, foreign, garbage):
// RFC 7009 answers 200 for such tokens and nothing is written.
func (s *Storage) revokeRowless(ctx context.Context, id, subject, clientID string) *oidc.Error {
	if subject == "" {
		return nil
	}
	if subject != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
	}
	now := s.now()
	mark := &store.AccessToken{
		ID: id, ClientID: clientID, Audience: []string{clientID},
		// The token expires at most one access-token lifetime after it was
		// issued, which was before now: the mark outlives it.
		CreatedAt: now, ExpiresAt: now.Add(s.life.AccessToken), RevokedAt: &now,
	}
	switch err := s.st.CreateAccessToken(ctx, mark); {
	case err == nil, errors.Is(err, store.ErrConflict): // revoked before
		return nil
	default:
		unavailable(ctx, err)
		s.log.ErrorContext(ctx, "revoke access token", "err", err)
		return oidc.ErrServerError()
	}
}
