package store

import (
	"context"
	"time"
)

// AccessToken is the server-side record of an access token (opaque or JWT;
// for a JWT, ID is its jti). Introspection and revocation read it.
type AccessToken struct {
	ID              string
	ClientID        string
	UserID          string // empty for client_credentials
	Audience        []string
	Scopes          []string
	AuthTime        time.Time
	ACR             string
	AMR             []string
	RefreshFamilyID string // set when issued together with a refresh token
	AuthRequestID   string // set when issued from an authorization code
	CreatedAt       time.Time
	ExpiresAt       time.Time
	RevokedAt       *time.Time
}

// RefreshToken is one link of a rotation chain (family). Only its hash is
// stored. acr/amr/auth_time ride along so refreshed ID tokens keep them.
type RefreshToken struct {
	ID            string
	TokenHash     string // SHA-256 hex of the token handed out
	FamilyID      string
	ClientID      string
	UserID        string
	Audience      []string
	Scopes        []string
	AuthTime      time.Time
	ACR           string
	AMR           []string
	AuthRequestID string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	RotatedAt     *time.Time // set when exchanged for the next link
	RevokedAt     *time.Time
}

// Tokens is the token repository.
type Tokens interface {
	CreateAccessToken(ctx context.Context, t *AccessToken) error
	AccessTokenByID(ctx context.Context, id string) (*AccessToken, error)

	// IssueFromCode atomically marks the auth request's code consumed
	// (ErrConsumed when another redemption won) and inserts the tokens;
	// refresh may be nil.
	IssueFromCode(ctx context.Context, authRequestID string, now time.Time, access *AccessToken, refresh *RefreshToken) error

	RefreshTokenByHash(ctx context.Context, tokenHash string) (*RefreshToken, error)
	// RefreshTokenWithUser is RefreshTokenByHash plus the token's user, in
	// one read (the refresh grant needs both); ErrNotFound when either is
	// missing.
	RefreshTokenWithUser(ctx context.Context, tokenHash string) (*RefreshToken, *User, error)
	// RotateRefreshToken atomically marks currentID rotated and inserts the
	// next link and its access token. ErrConsumed when currentID was already
	// rotated or revoked: the caller treats that as reuse.
	RotateRefreshToken(ctx context.Context, currentID string, now time.Time, next *RefreshToken, access *AccessToken) error

	// RevokeAccessToken revokes one access token.
	RevokeAccessToken(ctx context.Context, id string, at time.Time) error
	// RevokeRefreshFamily revokes every refresh and access token of a family.
	RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) error
	// RevokeByAuthRequest revokes every token issued from one auth request's
	// code (the code was replayed).
	RevokeByAuthRequest(ctx context.Context, authRequestID string, at time.Time) error
	// RevokeUserTokens revokes every token of a user (admin reset, disable);
	// clientID empty means all clients.
	RevokeUserTokens(ctx context.Context, userID, clientID string, at time.Time) error
}
