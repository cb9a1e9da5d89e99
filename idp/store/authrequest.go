package store

import (
	"context"
	"time"
)

// AuthRequest is one /authorize request from its creation to the code
// exchange. The login pages complete it; the token endpoint consumes its
// code exactly once.
type AuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	Scopes              []string
	State               string
	Nonce               string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              *int64 // seconds; nil when absent
	LoginHint           string
	UILocales           []string
	ACRValues           []string
	Claims              string // raw JSON of the "claims" parameter
	HintUserID          string // sub of a verified id_token_hint

	// Set when the person has authenticated.
	UserID    string
	SessionID string
	AuthTime  time.Time
	ACR       string
	AMR       []string
	Done      bool

	// CodeHash is SHA-256 (hex) of the authorization code.
	CodeHash       string
	CodeExpiresAt  *time.Time
	CodeConsumedAt *time.Time

	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthRequests is the authorization-request repository.
type AuthRequests interface {
	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	// AuthRequestByID returns the request; ErrNotFound when unknown or
	// expired at now.
	AuthRequestByID(ctx context.Context, id string, now time.Time) (*AuthRequest, error)
	// CompleteAuthRequest records who authenticated and how, and marks it done.
	CompleteAuthRequest(ctx context.Context, id string, c Completion) error
	// SaveAuthCode stores the hash of the code issued for the request.
	SaveAuthCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error
	// AuthRequestByCode finds the request by code hash. ErrNotFound when
	// unknown or the code expired; ErrConsumed (with the request) when the
	// code was already redeemed, so the caller can revoke what it issued.
	AuthRequestByCode(ctx context.Context, codeHash string, now time.Time) (*AuthRequest, error)
	// DeleteAuthRequest removes a request that was never redeemed (denied,
	// errored). Redeemed ones stay until expiry for reuse detection.
	DeleteAuthRequest(ctx context.Context, id string) error
}

// Completion is what the login flow proved for an AuthRequest.
type Completion struct {
	UserID    string
	SessionID string
	AuthTime  time.Time
	ACR       string
	AMR       []string
}
