package store

import (
	"context"
	"time"
)

// Access token formats a client may receive.
const (
	AccessTokenJWT    = "jwt"
	AccessTokenOpaque = "opaque"
)

// Client is a registered relying party (a portal).
type Client struct {
	ID string
	// SecretHash is the keyed SHA-256 of the secret (hex); empty for public
	// clients. Secrets are generated high-entropy, so a slow hash buys nothing.
	SecretHash             string
	Public                 bool
	RedirectURIs           []string // matched exactly
	PostLogoutRedirectURIs []string // matched exactly
	GrantTypes             []string // authorization_code, refresh_token, client_credentials
	IDTokenAlg             string   // ES256 (default) or RS256
	AccessTokenType        string   // AccessTokenJWT or AccessTokenOpaque
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// Clients is the client repository.
type Clients interface {
	// CreateClient inserts c; ErrConflict when the id is taken.
	CreateClient(ctx context.Context, c *Client) error
	ClientByID(ctx context.Context, id string) (*Client, error)
	// ListClients returns all clients ordered by id.
	ListClients(ctx context.Context) ([]Client, error)
}
