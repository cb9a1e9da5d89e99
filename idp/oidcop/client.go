package oidcop

import (
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/eu-health-idp/idp/idp/store"
)

// Grant types a client may be registered for.
const (
	GrantAuthorizationCode = string(oidc.GrantTypeCode)
	GrantRefreshToken      = string(oidc.GrantTypeRefreshToken)
	GrantClientCredentials = string(oidc.GrantTypeClientCredentials)
)

// Client is a registered relying party as op sees it.
type Client struct {
	c               *store.Client
	loginURL        string
	idTokenLifetime time.Duration
}

var _ op.Client = (*Client)(nil)

func (c *Client) GetID() string                    { return c.c.ID }
func (c *Client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *Client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }

// ApplicationType is always web: op's native type matches loopback
// redirect URIs on any port, and we match redirect URIs exactly.
func (c *Client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

func (c *Client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (c *Client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *Client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.c.GrantTypes))
	for _, g := range c.c.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}

func (c *Client) LoginURL(id string) string { return c.loginURL + id }

func (c *Client) AccessTokenType() op.AccessTokenType {
	if c.c.AccessTokenType == store.AccessTokenOpaque {
		return op.AccessTokenTypeBearer
	}
	return op.AccessTokenTypeJWT
}

func (c *Client) IDTokenLifetime() time.Duration { return c.idTokenLifetime }

// DevMode only relaxes op's "no http redirect URI" rule, which runs after
// the exact match. Registration accepts http:// redirect URIs for loopback
// hosts only (or in dev mode), so allowing them here is safe.
func (c *Client) DevMode() bool {
	return slices.ContainsFunc(c.c.RedirectURIs, func(u string) bool { return strings.HasPrefix(u, "http://") })
}

func (c *Client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *Client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed is asked for scopes beyond the standard OIDC ones; we
// define none yet.
func (c *Client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion puts profile/email claims into the ID token
// too: most RP libraries read them from there.
func (c *Client) IDTokenUserinfoClaimsAssertion() bool { return true }

func (c *Client) ClockSkew() time.Duration { return 0 }

// Record returns the stored client.
func (c *Client) Record() *store.Client { return c.c }
