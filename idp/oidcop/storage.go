package oidcop

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/eu-health-idp/idp/idp/policy"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// Lifetimes of what the storage issues.
type Lifetimes struct {
	AccessToken  time.Duration
	IDToken      time.Duration
	RefreshToken time.Duration
	AuthCode     time.Duration
	AuthRequest  time.Duration
}

// Storage implements op.Storage on our store.
type Storage struct {
	st         store.Store
	keys       *KeyManager
	secrets    *security.SecretHasher
	now        func() time.Time
	life       Lifetimes
	defaultAlg string
	loginURL   string // issuer + "/login?id="
	logoutURL  string // where end_session lands without a registered URI
	log        *slog.Logger
	clients    *clientCache
}

var (
	_ op.Storage                        = (*Storage)(nil)
	_ op.ClientCredentialsStorage       = (*Storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*Storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*Storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*Storage)(nil)
)

// unavailable reports whether err means the database could not be reached,
// and notes it on the request: the provider then answers 503 with
// temporarily_unavailable (RFC 6749 4.1.2.1), whatever op made of the
// error, so no client takes an outage for a bad secret, code or token.
func unavailable(ctx context.Context, err error) bool {
	if !errors.Is(err, store.ErrUnavailable) {
		return false
	}
	if h := clientHolder(ctx); h != nil {
		h.markUnavailable()
	}
	return true
}

// Health is op's readiness probe.
func (s *Storage) Health(ctx context.Context) error { return s.st.Ping(ctx) }

// ---- clients ----

// GetClientByClientID is called on /authorize, at the token endpoint for
// every grant, on end_session and introspection. It also notes the
// client's signing algorithm for SigningKey.
func (s *Storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	c, err := s.clients.get(ctx, s.st, clientID)
	if err != nil {
		unavailable(ctx, err)
		if errors.Is(err, store.ErrNotFound) {
			return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
		}
		return nil, err
	}
	if h := clientHolder(ctx); h != nil {
		h.set(c.IDTokenAlg)
	}
	return s.wrapClient(c), nil
}

func (s *Storage) wrapClient(c *store.Client) *Client {
	return &Client{c: c, loginURL: s.loginURL, idTokenLifetime: s.life.IDToken}
}

// AuthorizeClientIDSecret is called at the token, introspection and
// revocation endpoints for confidential clients. Secrets are generated
// high-entropy, so a keyed SHA-256 compared in constant time is enough and
// keeps client authentication off the argon2 budget.
func (s *Storage) AuthorizeClientIDSecret(ctx context.Context, clientID, clientSecret string) error {
	_, err := s.authenticate(ctx, clientID, clientSecret)
	return err
}

// authenticate checks a confidential client's secret and notes its signing
// algorithm. Every token request passes through here or through
// GetClientByClientID (public clients) before op signs anything.
func (s *Storage) authenticate(ctx context.Context, clientID, clientSecret string) (*store.Client, error) {
	c, err := s.clients.get(ctx, s.st, clientID)
	if err != nil {
		unavailable(ctx, err)
		// Hash anyway so an unknown client costs the same as a wrong secret.
		s.secrets.Equal(strings.Repeat("0", 64), clientSecret)
		return nil, oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	if c.Public || !s.secrets.Equal(c.SecretHash, clientSecret) {
		return nil, oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	if h := clientHolder(ctx); h != nil {
		h.set(c.IDTokenAlg)
	}
	return c, nil
}

// ClientCredentials authenticates a client_credentials grant.
func (s *Storage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	c, err := s.authenticate(ctx, clientID, clientSecret)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(c.GrantTypes, GrantClientCredentials) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("client_credentials grant not allowed for this client")
	}
	return s.wrapClient(c), nil
}

// ClientCredentialsTokenRequest builds the token request after
// ClientCredentials succeeded (so the client is in the cache).
func (s *Storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	c, err := s.clients.get(ctx, s.st, clientID)
	if err != nil {
		unavailable(ctx, err)
		return nil, oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	return &clientCredentialsRequest{clientID: clientID, scopes: scopes, jwt: c.AccessTokenType != store.AccessTokenOpaque}, nil
}

// ---- authorization requests ----

// CreateAuthRequest is called by /authorize after op validated the client,
// redirect URI, scopes and prompt. userID is the sub of a verified
// id_token_hint. We add what op leaves out: S256-only PKCE, mandatory for
// public clients, and the claims parameter.
func (s *Storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	c, err := s.clients.get(ctx, s.st, req.ClientID)
	if err != nil {
		unavailable(ctx, err)
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if req.CodeChallenge == "" && c.Public {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge (PKCE, S256) is required for public clients")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	claims := claimsParam(ctx)
	if claims != "" {
		if _, err := policy.ParseClaimsACR(claims); err != nil {
			return nil, oidc.ErrInvalidRequest().WithDescription("claims parameter: %s", err.Error())
		}
	}
	now := s.now()
	r := &store.AuthRequest{
		ID:                  uuid.NewString(),
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		Scopes:              req.Scopes,
		State:               req.State,
		Nonce:               req.Nonce,
		ResponseType:        string(req.ResponseType),
		ResponseMode:        string(req.ResponseMode),
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod),
		Prompt:              req.Prompt,
		LoginHint:           req.LoginHint,
		ACRValues:           req.ACRValues,
		Claims:              claims,
		HintUserID:          userID,
		CreatedAt:           now,
		ExpiresAt:           now.Add(s.life.AuthRequest),
	}
	if req.MaxAge != nil {
		v := int64(*req.MaxAge)
		r.MaxAge = &v
	}
	for _, t := range req.UILocales {
		r.UILocales = append(r.UILocales, t.String())
	}
	if err := s.st.CreateAuthRequest(ctx, r); err != nil {
		unavailable(ctx, err)
		return nil, err
	}
	return &AuthRequest{r: r}, nil
}

// AuthRequestByID is called by /authorize/callback once our login said the
// request is done.
func (s *Storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	r, err := s.st.AuthRequestByID(ctx, id, s.now())
	if err != nil {
		unavailable(ctx, err)
		return nil, err
	}
	return &AuthRequest{r: r}, nil
}

// SaveAuthCode is called by /authorize/callback; only the code's hash is
// kept, with its 60-second lifetime.
func (s *Storage) SaveAuthCode(ctx context.Context, id, code string) error {
	err := s.st.SaveAuthCode(ctx, id, security.HashToken(code), s.now().Add(s.life.AuthCode))
	unavailable(ctx, err)
	return err
}

// AuthRequestByCode is called at the token endpoint before PKCE and client
// checks. It does not consume the code (a wrong verifier changes nothing);
// the issuing transaction does. A code redeemed before is a replay: every
// token it produced is revoked (RFC 6749 4.1.2, RFC 9700 4.x).
func (s *Storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.st.AuthRequestByCode(ctx, security.HashToken(code), s.now())
	unavailable(ctx, err)
	if errors.Is(err, store.ErrConsumed) && r != nil {
		s.revokeReplayedCode(ctx, r)
		return nil, oidc.ErrInvalidGrant().WithDescription("authorization code already used")
	}
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid or expired authorization code")
	}
	if !r.Done {
		return nil, oidc.ErrInvalidGrant().WithDescription("authorization not completed")
	}
	return &AuthRequest{r: r}, nil
}

func (s *Storage) revokeReplayedCode(ctx context.Context, r *store.AuthRequest) {
	now := s.now()
	if err := s.st.RevokeByAuthRequest(ctx, r.ID, now); err != nil {
		s.log.ErrorContext(ctx, "revoke tokens of replayed code", "err", err, "auth_request", r.ID)
	}
	s.audit(ctx, r.UserID, r.ClientID, "token.code_replayed", map[string]string{"auth_request": r.ID})
}

// DeleteAuthRequest is called by op after tokens were issued from a code
// (and on refresh, with the refresh token's id, which matches no request).
// The store keeps redeemed requests until they expire, so a replayed code
// is still recognised.
func (s *Storage) DeleteAuthRequest(ctx context.Context, id string) error {
	if strings.HasPrefix(id, "rt_") {
		// A refresh grant: no auth request has this id, and the DELETE
		// would cost a round trip (on SQLite, the write lock) for nothing.
		return nil
	}
	return s.st.DeleteAuthRequest(ctx, id)
}

// ---- tokens ----

// CreateAccessToken is called for a code exchange without refresh token and
// for client_credentials.
func (s *Storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	now := s.now()
	switch r := req.(type) {
	case *AuthRequest:
		at := s.accessFromAuthRequest(r.r, now)
		if err := s.st.IssueFromCode(ctx, r.r.ID, now, at, nil); err != nil {
			return "", time.Time{}, s.codeIssueError(ctx, r.r, err)
		}
		return at.ID, at.ExpiresAt, nil
	case *clientCredentialsRequest:
		if r.jwt {
			// A JWT carries everything introspection answers and is verified
			// by its signature: no row. Only a revocation writes one (see
			// RevokeToken), which introspection looks for.
			return rowlessPrefix + uuid.NewString(), now.Add(s.life.AccessToken), nil
		}
		at := &store.AccessToken{
			ID: "at_" + uuid.NewString(), ClientID: r.clientID, Audience: []string{r.clientID},
			Scopes: r.scopes, CreatedAt: now, ExpiresAt: now.Add(s.life.AccessToken),
		}
		if err := s.st.CreateAccessToken(ctx, at); err != nil {
			unavailable(ctx, err)
			return "", time.Time{}, err
		}
		return at.ID, at.ExpiresAt, nil
	}
	return "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

func (s *Storage) codeIssueError(ctx context.Context, r *store.AuthRequest, err error) error {
	unavailable(ctx, err)
	if errors.Is(err, store.ErrConsumed) {
		// Lost a race with a concurrent redemption of the same code.
		s.revokeReplayedCode(ctx, r)
		return oidc.ErrInvalidGrant().WithDescription("authorization code already used")
	}
	return err
}

func (s *Storage) accessFromAuthRequest(r *store.AuthRequest, now time.Time) *store.AccessToken {
	return &store.AccessToken{
		ID: "at_" + uuid.NewString(), ClientID: r.ClientID, UserID: r.UserID,
		Audience: []string{r.ClientID}, Scopes: r.Scopes,
		AuthTime: r.AuthTime, ACR: r.ACR, AMR: r.AMR, AuthRequestID: r.ID,
		CreatedAt: now, ExpiresAt: now.Add(s.life.AccessToken),
	}
}

// CreateAccessAndRefreshTokens is called for a code exchange with
// offline_access (currentRefreshToken empty) and for every refresh grant.
// Rotation: the presented token is marked rotated in the same transaction
// that stores its successor; losing that race means the token was used
// twice, and the whole family is revoked.
func (s *Storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	now := s.now()
	raw := security.RandomToken(32)
	switch r := req.(type) {
	case *AuthRequest:
		at := s.accessFromAuthRequest(r.r, now)
		rt := &store.RefreshToken{
			ID: "rt_" + uuid.NewString(), TokenHash: security.HashToken(raw), FamilyID: uuid.NewString(),
			ClientID: r.r.ClientID, UserID: r.r.UserID, Audience: []string{r.r.ClientID}, Scopes: r.r.Scopes,
			AuthTime: r.r.AuthTime, ACR: r.r.ACR, AMR: r.r.AMR, AuthRequestID: r.r.ID,
			CreatedAt: now, ExpiresAt: now.Add(s.life.RefreshToken),
		}
		at.RefreshFamilyID = rt.FamilyID
		if err := s.st.IssueFromCode(ctx, r.r.ID, now, at, rt); err != nil {
			return "", "", time.Time{}, s.codeIssueError(ctx, r.r, err)
		}
		return at.ID, raw, at.ExpiresAt, nil
	case *refreshRequest:
		cur := r.t
		next := *cur
		next.ID, next.TokenHash = "rt_"+uuid.NewString(), security.HashToken(raw)
		next.Scopes = r.scopes
		next.CreatedAt, next.ExpiresAt, next.RotatedAt, next.RevokedAt = now, now.Add(s.life.RefreshToken), nil, nil
		at := &store.AccessToken{
			ID: "at_" + uuid.NewString(), ClientID: cur.ClientID, UserID: cur.UserID,
			Audience: cur.Audience, Scopes: r.scopes, AuthTime: cur.AuthTime, ACR: cur.ACR, AMR: cur.AMR,
			RefreshFamilyID: cur.FamilyID, AuthRequestID: cur.AuthRequestID,
			CreatedAt: now, ExpiresAt: now.Add(s.life.AccessToken),
		}
		if err := s.st.RotateRefreshToken(ctx, cur.ID, now, &next, at); err != nil {
			unavailable(ctx, err)
			if errors.Is(err, store.ErrConsumed) {
				s.revokeFamily(ctx, cur, "token.refresh_reused")
				return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
			}
			return "", "", time.Time{}, err
		}
		return at.ID, raw, at.ExpiresAt, nil
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

func (s *Storage) revokeFamily(ctx context.Context, t *store.RefreshToken, event string) {
	if err := s.st.RevokeRefreshFamily(ctx, t.FamilyID, s.now()); err != nil {
		s.log.ErrorContext(ctx, "revoke refresh family", "err", err, "family", t.FamilyID)
	}
	s.audit(ctx, t.UserID, t.ClientID, event, map[string]string{"family": t.FamilyID})
}

// TokenRequestByRefreshToken is called by the refresh grant (after client
// authentication for confidential clients). A token that was already
// rotated is being replayed: its family is revoked.
func (s *Storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	t, u, err := s.st.RefreshTokenWithUser(ctx, security.HashToken(token))
	if err != nil {
		unavailable(ctx, err)
		return nil, op.ErrInvalidRefreshToken
	}
	switch {
	case t.RevokedAt != nil:
		return nil, op.ErrInvalidRefreshToken
	case t.RotatedAt != nil:
		s.revokeFamily(ctx, t, "token.refresh_reused")
		return nil, op.ErrInvalidRefreshToken
	case !t.ExpiresAt.After(s.now()):
		return nil, op.ErrInvalidRefreshToken
	}
	if u.Disabled {
		return nil, op.ErrInvalidRefreshToken
	}
	if h := clientHolder(ctx); h != nil {
		h.setUser(u) // the ID token's claims need it again in this request
	}
	return &refreshRequest{t: t, scopes: slices.Clone(t.Scopes)}, nil
}

// GetRefreshTokenInfo is called by /revoke to tell a refresh token from an
// access token. Returning op.ErrInvalidRefreshToken makes op try the token
// as an access token.
func (s *Storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	t, err := s.st.RefreshTokenByHash(ctx, security.HashToken(token))
	unavailable(ctx, err)
	if err != nil || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.UserID, refreshRef + t.TokenHash, nil
}

// refreshRef prefixes the id GetRefreshTokenInfo hands to RevokeToken. It
// carries the token's hash, which only the holder of the token can produce.
const refreshRef = "rth:"

// RevokeToken is called by /revoke with what GetRefreshTokenInfo returned,
// or an access token's id (decrypted or from a verified JWT), or the raw
// string when neither decoded. RFC 7009: unknown tokens are not an error;
// a client may revoke only its own tokens; revoking a refresh token ends
// its whole family.
func (s *Storage) RevokeToken(ctx context.Context, tokenOrID, subject string, clientID string) *oidc.Error {
	now := s.now()
	if h, ok := strings.CutPrefix(tokenOrID, refreshRef); ok {
		t, err := s.st.RefreshTokenByHash(ctx, h)
		if err != nil {
			unavailable(ctx, err)
			return nil
		}
		if t.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
		}
		s.revokeFamily(ctx, t, "token.revoked")
		return nil
	}
	if strings.HasPrefix(tokenOrID, rowlessPrefix) {
		return s.revokeRowless(ctx, tokenOrID, subject, clientID)
	}
	t, err := s.st.AccessTokenByID(ctx, tokenOrID)
	if err != nil {
		unavailable(ctx, err)
		return nil
	}
	if t.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
	}
	if err := s.st.RevokeAccessToken(ctx, t.ID, now); err != nil {
		unavailable(ctx, err)
		return oidc.ErrServerError()
	}
	return nil
}

// activeAccessToken loads an access token that is neither revoked nor
// expired and whose user is still enabled.
func (s *Storage) activeAccessToken(ctx context.Context, id string) (*store.AccessToken, error) {
	if strings.HasPrefix(id, rowlessPrefix) {
		return s.activeRowless(ctx, id)
	}
	t, err := s.st.AccessTokenByID(ctx, id)
	if err != nil {
		unavailable(ctx, err)
		return nil, errors.New("token is not active")
	}
	if t.RevokedAt != nil || !t.ExpiresAt.After(s.now()) {
		return nil, errors.New("token is not active")
	}
	if t.UserID != "" {
		if u, err := s.st.UserByID(ctx, t.UserID); err != nil || u.Disabled {
			unavailable(ctx, err)
			return nil, errors.New("token is not active")
		}
	}
	return t, nil
}

// ---- userinfo, introspection, claims ----

// SetUserinfoFromScopes is called while building an ID token. The subject
// must always be set: op's SetUserInfo overwrites sub with it.
func (s *Storage) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, _ string, scopes []string) error {
	return s.fillUserinfo(ctx, ui, userID, scopes)
}

// SetUserinfoFromRequest is called after SetUserinfoFromScopes for ID tokens.
func (s *Storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	ui.Subject = req.GetSubject()
	return nil
}

// SetUserinfoFromToken is called by /userinfo with a verified access token.
func (s *Storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.activeAccessToken(ctx, tokenID)
	if err != nil || t.UserID == "" || t.UserID != subject {
		return errors.New("token is not active")
	}
	return s.fillUserinfo(ctx, ui, t.UserID, t.Scopes)
}

func (s *Storage) fillUserinfo(ctx context.Context, ui *oidc.UserInfo, userID string, scopes []string) error {
	u := clientHolder(ctx).userByID(userID)
	if u == nil {
		var err error
		if u, err = s.st.UserByID(ctx, userID); err != nil {
			unavailable(ctx, err)
			return err
		}
	}
	ui.Subject = u.ID
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			ui.PreferredUsername = u.Username
			ui.UpdatedAt = oidc.FromTime(u.UpdatedAt)
		case oidc.ScopeEmail:
			ui.Email = u.Email
			ui.EmailVerified = false // addresses are not verified yet
		case oidc.ScopePhone:
			if u.Phone != "" {
				ui.PhoneNumber = u.Phone
			}
		}
	}
	return nil
}

// SetIntrospectionFromToken is called by /oauth/introspect. Only the client
// the token was issued to (its audience) may introspect it. op has no acr
// field: acr, amr and auth_time go into the extra claims.
func (s *Storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.activeAccessToken(ctx, tokenID)
	if err != nil {
		return err
	}
	if t.ClientID != clientID && !slices.Contains(t.Audience, clientID) {
		return errors.New("token is not active")
	}
	if t.UserID != "" {
		ui := new(oidc.UserInfo)
		if err := s.fillUserinfo(ctx, ui, t.UserID, t.Scopes); err != nil {
			return err
		}
		resp.SetUserInfo(ui)
		resp.Claims = userAssurance(t.ACR, t.AMR, t.AuthTime)
	}
	resp.Subject = subject
	resp.Active = true
	resp.Scope = t.Scopes
	resp.ClientID = t.ClientID
	resp.Audience = t.Audience
	resp.Expiration = oidc.FromTime(t.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(t.CreatedAt)
	resp.TokenType = "Bearer"
	return nil
}

func userAssurance(acr string, amr []string, authTime time.Time) map[string]any {
	m := map[string]any{}
	if acr != "" {
		m["acr"] = acr
	}
	if len(amr) > 0 {
		m["amr"] = amr
	}
	if !authTime.IsZero() {
		m["auth_time"] = authTime.Unix()
	}
	return m
}

// GetPrivateClaimsFromScopes is op's fallback; we implement the request
// variant below, so it only serves JWT profile grants (unused).
func (s *Storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest adds acr, amr and auth_time to JWT access
// tokens, so resource servers can enforce step-up (RFC 9470).
func (s *Storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	switch r := req.(type) {
	case *AuthRequest:
		return userAssurance(r.r.ACR, r.r.AMR, r.r.AuthTime), nil
	case *refreshRequest:
		return userAssurance(r.t.ACR, r.t.AMR, r.t.AuthTime), nil
	case *clientCredentialsRequest:
		// op puts no scope claim into JWT access tokens; a rowless token
		// must carry it for introspection (and RFC 9068 2.2.3 wants it).
		if len(r.scopes) > 0 {
			return map[string]any{"scope": strings.Join(r.scopes, " ")}, nil
		}
	}
	return nil, nil
}

// GetKeyByIDAndClientID serves private_key_jwt / JWT profile, which we do
// not offer yet.
func (s *Storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("jwt client authentication is not supported")
}

// ValidateJWTProfileScopes serves the JWT profile grant, not offered.
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile grant is not supported")
}

// ---- keys ----

// SigningKey is called per issuance; the client's algorithm was noted in
// the context by whichever storage call authenticated or loaded it.
func (s *Storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := s.defaultAlg
	if h := clientHolder(ctx); h != nil && h.get() != "" {
		alg = h.get()
	}
	k, err := s.keys.Signing(ctx, alg)
	unavailable(ctx, err)
	return k, err
}

// SignatureAlgorithms lists the algorithms for discovery.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	out := make([]jose.SignatureAlgorithm, 0, len(SupportedAlgs))
	for _, a := range SupportedAlgs {
		out = append(out, jose.SignatureAlgorithm(a))
	}
	return out, nil
}

// KeySet is called per verification and per /keys request (cached).
func (s *Storage) KeySet(ctx context.Context) ([]op.Key, error) {
	k, err := s.keys.Public(ctx)
	unavailable(ctx, err)
	return k, err
}

// ---- sessions ----

// TerminateSession is op's fallback; TerminateSessionFromRequest is used.
func (s *Storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	return nil
}

// TerminateSessionFromRequest is called by end_session after op validated
// id_token_hint, client and post_logout_redirect_uri. It ends the browser's
// SSO session (its cookie reached us through the context) and revokes the
// user's tokens for that client.
func (s *Storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	if raw := sessionCookie(ctx); raw != "" {
		id := security.HashToken(raw)
		sess, err := s.st.SessionByID(ctx, id, s.now())
		unavailable(ctx, err)
		if err == nil {
			if req.UserID == "" || req.UserID == sess.UserID {
				if err := s.st.DeleteSession(ctx, id); err != nil {
					unavailable(ctx, err)
					return "", err
				}
				s.audit(ctx, sess.UserID, req.ClientID, "logout", nil)
			}
		}
	}
	if req.UserID != "" && req.ClientID != "" {
		if err := s.st.RevokeUserTokens(ctx, req.UserID, req.ClientID, s.now()); err != nil {
			unavailable(ctx, err)
			return "", err
		}
	}
	return req.RedirectURI, nil
}

func (s *Storage) audit(ctx context.Context, userID, clientID, event string, detail map[string]string) {
	e := &store.AuditEvent{UserID: userID, ClientID: clientID, Event: event, Detail: detail, CreatedAt: s.now()}
	if err := s.st.RecordAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit", "err", err, "event", event)
	}
}
