package oidcop

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/eu-health-idp/idp/idp/store"
)

// AuthRequest is an /authorize request as op sees it.
type AuthRequest struct{ r *store.AuthRequest }

var _ op.AuthRequest = (*AuthRequest)(nil)

func (a *AuthRequest) GetID() string              { return a.r.ID }
func (a *AuthRequest) GetACR() string             { return a.r.ACR }
func (a *AuthRequest) GetAMR() []string           { return a.r.AMR }
func (a *AuthRequest) GetAudience() []string      { return []string{a.r.ClientID} }
func (a *AuthRequest) GetAuthTime() time.Time     { return a.r.AuthTime }
func (a *AuthRequest) GetClientID() string        { return a.r.ClientID }
func (a *AuthRequest) GetNonce() string           { return a.r.Nonce }
func (a *AuthRequest) GetRedirectURI() string     { return a.r.RedirectURI }
func (a *AuthRequest) GetScopes() []string        { return a.r.Scopes }
func (a *AuthRequest) GetState() string           { return a.r.State }
func (a *AuthRequest) GetSubject() string         { return a.r.UserID }
func (a *AuthRequest) Done() bool                 { return a.r.Done }
func (a *AuthRequest) Record() *store.AuthRequest { return a.r }

func (a *AuthRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.r.ResponseType)
}

func (a *AuthRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.r.ResponseMode)
}

func (a *AuthRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.r.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{
		Challenge: a.r.CodeChallenge,
		Method:    oidc.CodeChallengeMethod(a.r.CodeChallengeMethod),
	}
}

// refreshRequest is a refresh-token grant. It implements op.AuthRequest as
// well as op.RefreshTokenRequest because op.CreateIDToken reads acr only
// from an op.AuthRequest: without it refreshed ID tokens would lose acr.
type refreshRequest struct {
	t      *store.RefreshToken
	scopes []string
}

var (
	_ op.RefreshTokenRequest = (*refreshRequest)(nil)
	_ op.AuthRequest         = (*refreshRequest)(nil)
)

func (r *refreshRequest) GetID() string                         { return r.t.ID }
func (r *refreshRequest) GetACR() string                        { return r.t.ACR }
func (r *refreshRequest) GetAMR() []string                      { return r.t.AMR }
func (r *refreshRequest) GetAudience() []string                 { return r.t.Audience }
func (r *refreshRequest) GetAuthTime() time.Time                { return r.t.AuthTime }
func (r *refreshRequest) GetClientID() string                   { return r.t.ClientID }
func (r *refreshRequest) GetScopes() []string                   { return r.scopes }
func (r *refreshRequest) GetSubject() string                    { return r.t.UserID }
func (r *refreshRequest) SetCurrentScopes(s []string)           { r.scopes = slices.Clone(s) }
func (r *refreshRequest) GetCodeChallenge() *oidc.CodeChallenge { return nil }
func (r *refreshRequest) GetNonce() string                      { return "" }
func (r *refreshRequest) GetRedirectURI() string                { return "" }
func (r *refreshRequest) GetResponseType() oidc.ResponseType    { return oidc.ResponseTypeCode }
func (r *refreshRequest) GetResponseMode() oidc.ResponseMode    { return "" }
func (r *refreshRequest) GetState() string                      { return "" }
func (r *refreshRequest) Done() bool                            { return true }

// clientCredentialsRequest is a client_credentials grant: no user.
type clientCredentialsRequest struct {
	clientID string
	scopes   []string
	jwt      bool // the client takes JWT access tokens: issued without a row
}

var _ op.TokenRequest = (*clientCredentialsRequest)(nil)

func (c *clientCredentialsRequest) GetSubject() string    { return c.clientID }
func (c *clientCredentialsRequest) GetAudience() []string { return []string{c.clientID} }
func (c *clientCredentialsRequest) GetScopes() []string   { return c.scopes }
