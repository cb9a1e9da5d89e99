package oidcop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// Options configure the provider. Every field is required unless noted.
type Options struct {
	Issuer      string
	Store       store.Store
	Keys        *KeyManager
	Secrets     *security.SecretHasher
	CryptoKey   [32]byte // encrypts opaque access tokens and codes; same on every node
	Lifetimes   Lifetimes
	DefaultAlg  string
	CookieName  string   // the SSO session cookie, read on end_session
	ACRValues   []string // ordered acr table, for discovery
	UILocales   []language.Tag
	Now         func() time.Time // optional, time.Now
	Logger      *slog.Logger     // optional
	LoginPath   string           // "/login"
	LogoutPath  string           // "/logged-out": end_session lands here without a registered URI
	RenderError func(w http.ResponseWriter, r *http.Request, status int, messageID, detail string)
	// ClientCacheTTL is how long a node may use a client it read (optional;
	// 0 reads the client on every request). A changed or removed client
	// takes effect on every node within it.
	ClientCacheTTL time.Duration
}

// Provider is the OpenID provider: op plus our additions, as one handler.
type Provider struct {
	op          *op.Provider
	storage     *Storage
	issuer      string
	cookieName  string
	acrValues   []string
	renderError func(w http.ResponseWriter, r *http.Request, status int, messageID, detail string)
	log         *slog.Logger
	keys        *KeyManager
	// disc is the discovery document, encoded on first use: it depends only
	// on the configuration, which does not change while the process runs.
	disc atomic.Pointer[cachedDoc]
}

// cachedDoc is a JSON document served as is, with its ETag.
type cachedDoc struct {
	body []byte
	etag string
}

// New builds the provider.
func New(o Options) (*Provider, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	issuer := strings.TrimSuffix(o.Issuer, "/")
	st := &Storage{
		clients: newClientCache(o.ClientCacheTTL, o.Now),
		st:      o.Store, keys: o.Keys, secrets: o.Secrets, now: o.Now, life: o.Lifetimes,
		defaultAlg: o.DefaultAlg, loginURL: issuer + o.LoginPath + "?id=",
		logoutURL: issuer + o.LogoutPath, log: o.Logger,
	}
	p := &Provider{
		storage: st, issuer: issuer, cookieName: o.CookieName, acrValues: o.ACRValues,
		renderError: o.RenderError, log: o.Logger, keys: o.Keys,
	}
	cfg := &op.Config{
		CryptoKey:                o.CryptoKey,
		DefaultLogoutRedirectURI: st.logoutURL,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       o.UILocales,
		SupportedClaims:          append(append([]string{}, op.DefaultSupportedClaims...), "updated_at"),
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeOfflineAccess},
	}
	opts := []op.Option{
		op.WithHttpInterceptors(p.interceptor),
		op.WithLogger(o.Logger),
	}
	if strings.HasPrefix(issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	prov, err := op.NewProvider(cfg, st, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, err
	}
	p.op = prov
	return p, nil
}

// Storage returns the op storage (the login pages complete requests through
// the store directly; tests use this).
func (p *Provider) Storage() *Storage { return p.storage }

// Issuer returns the issuer URL without trailing slash.
func (p *Provider) Issuer() string { return p.issuer }

// CallbackURL is where the login sends the browser once a request is done.
func (p *Provider) CallbackURL(ctx context.Context, id string) string {
	return op.AuthCallbackURL(p.op)(op.ContextWithIssuer(ctx, p.issuer), id)
}

// AuthRequestError answers an authorization request with an OAuth error at
// its redirect URI (login_required, unmet_authentication_requirements, ...).
func (p *Provider) AuthRequestError(w http.ResponseWriter, r *http.Request, req *store.AuthRequest, err *oidc.Error) {
	rw := &authorizeWriter{ResponseWriter: w, p: p, r: r}
	op.AuthRequestError(rw, r, &AuthRequest{r: req}, err, p.op)
	rw.finish()
}

// Handler serves every op endpoint with our fixes around them.
func (p *Provider) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := &requestClient{}
		r = r.WithContext(context.WithValue(r.Context(), ctxRequestClient, h))
		switch strings.TrimPrefix(r.URL.Path, "/") {
		case ".well-known/openid-configuration":
			p.discovery(w, r)
		case "keys":
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				p.op.ServeHTTP(w, r) // CORS preflight and op's method errors
				return
			}
			p.jwks(w, r)
		case "authorize", "authorize/callback", "end_session":
			rw := &authorizeWriter{ResponseWriter: w, p: p, r: r, h: h}
			p.op.ServeHTTP(rw, r)
			rw.finish()
		case "oauth/introspect":
			// op reuses the parsed form; the token is kept for the claims of
			// client_credentials JWTs, which have no row (rowless.go).
			if r.ParseForm() == nil {
				r = r.WithContext(withIntrospectedToken(r.Context(), r.PostForm.Get("token")))
			}
			rw := &apiWriter{ResponseWriter: w, path: r.URL.Path, h: h}
			p.op.ServeHTTP(rw, r)
			rw.finish()
		case "oauth/token", "revoke", "userinfo":
			rw := &apiWriter{ResponseWriter: w, path: r.URL.Path, h: h}
			p.op.ServeHTTP(rw, r)
			rw.finish()
		default:
			p.op.ServeHTTP(w, r)
		}
	})
}

// discovery serves op's document plus what op leaves out, encoded once.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	d := p.disc.Load()
	if d == nil {
		body, err := p.buildDiscovery(r.Context())
		if err != nil {
			p.log.ErrorContext(r.Context(), "discovery", "err", err)
			http.Error(w, "discovery", http.StatusInternalServerError)
			return
		}
		d = &cachedDoc{body: body, etag: etagOf(body)}
		p.disc.Store(d) // concurrent first requests build the same bytes
	}
	serveJSON(w, r, d.body, d.etag, "public, max-age=300")
}

func (p *Provider) buildDiscovery(ctx context.Context) ([]byte, error) {
	ctx = op.ContextWithIssuer(ctx, p.issuer)
	d := op.CreateDiscoveryConfig(ctx, p.op, p.storage)
	d.ACRValuesSupported = p.acrValues
	d.ClaimsParameterSupported = true
	d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery), string(oidc.ResponseModeFragment)}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	// Only the code flow and the endpoints we serve are advertised.
	delete(doc, "device_authorization_endpoint")
	doc["response_types_supported"] = []string{string(oidc.ResponseTypeCode)}
	doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "client_secret_post", "none"}
	// RFC 9207: we add iss to every authorization response.
	doc["authorization_response_iss_parameter_supported"] = true
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// jwks serves the key set the KeyManager encoded when it last loaded it, so
// a rotation on another node shows here within keys.cache_ttl, which is
// also how long clients may cache the answer.
func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	body, etag, err := p.keys.JWKS(r.Context())
	if err != nil {
		unavailable(r.Context(), err)
		p.log.ErrorContext(r.Context(), "jwks", "err", err)
		w.Header().Set("Content-Type", "application/json")
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrUnavailable) {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "30")
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(&oidc.Error{ErrorType: oidc.ServerError, Description: "key set unavailable"})
		return
	}
	maxAge := int(p.keys.CacheTTL() / time.Second)
	serveJSON(w, r, body, etag, "public, max-age="+strconv.Itoa(maxAge))
}

// serveJSON writes a public, cacheable JSON document and answers a
// matching If-None-Match with 304. Both documents are meant for browsers
// too (SPAs fetch them), so any origin may read them; no credentials.
func serveJSON(w http.ResponseWriter, r *http.Request, body []byte, etag, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", etag)
	if r.Header.Get("Origin") != "" {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 13.1.2).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// authorizeWriter adds the RFC 9207 iss parameter to redirects back to the
// client, and turns op's plain-text errors (unregistered redirect_uri,
// unknown client: cases that must never redirect) into our localized page.
type authorizeWriter struct {
	http.ResponseWriter
	p       *Provider
	r       *http.Request
	h       *requestClient
	status  int
	capture bytes.Buffer
	held    bool
}

func (a *authorizeWriter) WriteHeader(status int) {
	if a.status != 0 {
		return
	}
	a.status = status
	if a.h.isUnavailable() && a.p.renderError != nil {
		// Whatever op concluded (unknown client, a server_error redirect
		// carrying the driver's error), the truth is an outage: our 503
		// page, and reloading this URL later starts the login afresh.
		a.status, a.held = http.StatusServiceUnavailable, true
		return
	}
	if status == http.StatusFound || status == http.StatusSeeOther {
		if loc := a.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, a.p.issuer+"/") && !strings.HasPrefix(loc, "/") {
			a.Header().Set("Location", addIssuer(loc, a.p.issuer))
		}
	}
	if status >= 400 && a.p.renderError != nil {
		a.held = true
		return
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *authorizeWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	if a.held {
		return a.capture.Write(b)
	}
	return a.ResponseWriter.Write(b)
}

func (a *authorizeWriter) finish() {
	if !a.held {
		return
	}
	for _, k := range []string{"Content-Type", "X-Content-Type-Options", "Content-Length"} {
		a.Header().Del(k)
	}
	if a.status == http.StatusServiceUnavailable && a.h.isUnavailable() {
		a.Header().Del("Location")
		a.p.renderError(a.ResponseWriter, a.r, http.StatusServiceUnavailable, "error.unavailable", "")
		return
	}
	body := strings.TrimSpace(a.capture.String())
	var e oidc.Error
	if json.Unmarshal([]byte(body), &e) == nil && e.ErrorType != "" {
		body = e.Description
		if body == "" {
			body = string(e.ErrorType)
		}
	}
	id := "error.invalid_request"
	switch low := strings.ToLower(body); {
	case strings.Contains(low, "redirect_uri") || strings.Contains(low, "redirect uri"):
		id = "error.invalid_redirect_uri"
	case strings.Contains(low, "client"):
		id = "error.invalid_client"
	case a.status >= 500:
		id = "error.internal"
		body = ""
	}
	a.p.renderError(a.ResponseWriter, a.r, a.status, id, body)
}

// addIssuer adds iss to an authorization response URL, in the fragment
// when the response is in the fragment.
func addIssuer(loc, issuer string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	if u.Fragment != "" {
		v, err := url.ParseQuery(u.EscapedFragment())
		if err == nil && (v.Has("code") || v.Has("error") || v.Has("id_token")) {
			v.Set("iss", issuer)
			u.Fragment = ""
			return u.String() + "#" + v.Encode()
		}
	}
	q := u.Query()
	if !q.Has("code") && !q.Has("error") {
		return loc
	}
	q.Set("iss", issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

// apiWriter fixes what op v3.51.3 leaves out of its API responses: token
// responses must not be cached (RFC 6749 5.1), a 401 names its scheme
// (RFC 6750 3 / RFC 6749 5.2), and a failed PKCE check is invalid_grant.
type apiWriter struct {
	http.ResponseWriter
	path    string
	h       *requestClient
	status  int
	buf     bytes.Buffer
	buffer  bool
	written bool
}

func (a *apiWriter) WriteHeader(status int) {
	if a.status != 0 {
		return
	}
	a.status = status
	h := a.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if a.h.isUnavailable() {
		// op's answer says what it made of the outage (invalid_client,
		// invalid_grant, active:false, a 500 with the driver's error):
		// drop it, finish answers 503.
		a.buffer = true
		return
	}
	if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		if a.path == "/userinfo" {
			h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			h.Set("WWW-Authenticate", `Basic realm="token"`)
		}
	}
	if status == http.StatusBadRequest && a.path == "/oauth/token" {
		a.buffer = true
		return
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *apiWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	if a.buffer {
		return a.buf.Write(b)
	}
	return a.ResponseWriter.Write(b)
}

func (a *apiWriter) finish() {
	if !a.buffer {
		return
	}
	if a.h.isUnavailable() {
		h := a.Header()
		for _, k := range []string{"Content-Length", "WWW-Authenticate"} {
			h.Del(k)
		}
		h.Set("Content-Type", "application/json")
		h.Set("Retry-After", "30")
		a.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(a.ResponseWriter).Encode(&oidc.Error{
			ErrorType: "temporarily_unavailable", Description: "the service is temporarily unavailable, try again in a few minutes",
		})
		return
	}
	body := a.buf.Bytes()
	var e oidc.Error
	if json.Unmarshal(body, &e) == nil && e.ErrorType == oidc.InvalidRequest && strings.Contains(e.Description, "code_verifier") {
		e.ErrorType = oidc.InvalidGrant
		if b, err := json.Marshal(&e); err == nil {
			body = b
		}
	}
	a.Header().Del("Content-Length")
	a.ResponseWriter.WriteHeader(a.status)
	_, _ = a.ResponseWriter.Write(body)
}

// ErrUnmet is the OIDC error for an essential acr that cannot be reached.
func ErrUnmet(desc string) *oidc.Error {
	return &oidc.Error{ErrorType: "unmet_authentication_requirements", Description: desc}
}
