package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/oidcop"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// The test relying parties. Their redirect URIs point at a port nothing
// listens on: the browser stops at the redirect and the test reads it.
const (
	rpRedirect     = "http://127.0.0.1:9/cb"
	rpPostLogout   = "http://127.0.0.1:9/bye"
	rpSecret       = "portal-secret-0123456789-abcdefghijklmnop"
	testUser       = "alice"
	testPassword   = "tulip-harbour-violin-42"
	testUserEmail  = "alice@example.org"
	clientPortal   = "portal"   // confidential, ES256, all grants
	clientSPA      = "spa"      // public: PKCE required
	clientLegacy   = "legacy"   // confidential, RS256 ID tokens
	clientReporter = "reporter" // confidential, opaque access tokens, client_credentials
)

// testClock is the injected time of the server under test.
type testClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

// testIdP is a server running in-process on a real loopback listener.
type testIdP struct {
	t      testing.TB
	cfg    config.Config
	st     *sqlstore.Store
	app    *app
	issuer string
	clock  *testClock
	user   *store.User
}

func startIdP(t testing.TB, backend string, tune ...func(*config.Config)) *testIdP {
	t.Helper()
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	cfg := testConfig(t, testDSN(t, backend), issuer)
	for _, f := range tune {
		f(&cfg)
	}
	log := slog.New(slog.NewTextHandler(testLogOutput(), nil))
	st, err := openStore(ctx, cfg, true, log)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	a, err := buildApp(ctx, cfg, st, log, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.server, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = st.Close()
	})
	idp := &testIdP{t: t, cfg: cfg, st: st, app: a, issuer: issuer, clock: clock}
	u, err := newUser(ctx, cfg, testUser, testUserEmail, "+31612345678", testPassword, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	idp.user = u
	all := []string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken, oidcop.GrantClientCredentials}
	for _, c := range []struct {
		in     clientInput
		secret string
	}{
		{clientInput{id: clientPortal, redirectURIs: []string{rpRedirect}, postLogoutURIs: []string{rpPostLogout}, grantTypes: all}, rpSecret},
		{clientInput{id: clientSPA, public: true, redirectURIs: []string{rpRedirect}}, ""},
		{clientInput{id: clientLegacy, redirectURIs: []string{rpRedirect}, alg: "RS256"}, rpSecret},
		{clientInput{id: clientReporter, redirectURIs: []string{rpRedirect}, grantTypes: all, accessTokenType: store.AccessTokenOpaque}, rpSecret},
	} {
		if _, _, err := registerClient(ctx, cfg, st, c.in, c.secret, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return idp
}

// rp is a relying party built from standard libraries: go-oidc for
// discovery and ID token verification, x/oauth2 for the code exchange.
type rp struct {
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func (idp *testIdP) rp(clientID, secret string) *rp {
	idp.t.Helper()
	p, err := oidc.NewProvider(context.Background(), idp.issuer)
	if err != nil {
		idp.t.Fatal(err)
	}
	return &rp{
		provider: p,
		conf: oauth2.Config{
			ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: rpRedirect,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
		},
		verifier: p.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"ES256", "RS256"}}),
	}
}

// browser follows redirects within the IdP and stops at the first one
// that leaves it (back to the relying party), like a person's browser
// whose RP is not running.
type browser struct {
	t      testing.TB
	idp    *testIdP
	client *http.Client
}

func (idp *testIdP) browser() *browser {
	jar, _ := cookiejar.New(nil)
	host := strings.TrimPrefix(idp.issuer, "http://")
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return &browser{t: idp.t, idp: idp, client: c}
}

// page is a response read to the end.
type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) postForm(u string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	csrfRe = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	idRe   = regexp.MustCompile(`name="flow" value="([^"]*)"`)
)

// hidden returns the login form's csrf and flow fields.
func (p page) hidden(t testing.TB) (csrf, flow string) {
	t.Helper()
	c, i := csrfRe.FindStringSubmatch(p.body), idRe.FindStringSubmatch(p.body)
	if c == nil || i == nil {
		t.Fatalf("no login form in page (status %d):\n%s", p.status, p.body)
	}
	return c[1], i[1]
}

// submitLogin posts the login form found on p.
func (b *browser) submitLogin(p page, username, password string) page {
	b.t.Helper()
	csrf, flow := p.hidden(b.t)
	return b.postForm(b.idp.issuer+"/login", url.Values{"csrf": {csrf}, "flow": {flow}, "username": {username}, "password": {password}})
}

// callback parses a redirect back to the relying party.
func (p page) callback(t testing.TB) url.Values {
	t.Helper()
	if p.status != http.StatusFound || !strings.HasPrefix(p.location, rpRedirect) {
		t.Fatalf("want a redirect to the RP, got %d %q\n%s", p.status, p.location, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// authCodeURL is the RP's authorization URL with PKCE S256 and nonce.
func (r *rp) authCodeURL(state, nonce, verifier string, extra ...oauth2.AuthCodeOption) string {
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}, extra...)
	return r.conf.AuthCodeURL(state, opts...)
}

// loginFlow runs authorize -> login form -> callback and returns the code.
func (b *browser) loginFlow(r *rp, verifier string, extra ...oauth2.AuthCodeOption) url.Values {
	b.t.Helper()
	p := b.get(r.authCodeURL("st-1", "n-1", verifier, extra...))
	if p.status == http.StatusFound {
		return p.callback(b.t) // SSO session reused
	}
	return b.submitLogin(p, testUser, testPassword).callback(b.t)
}

// idClaims are the claims the tests look at.
type idClaims struct {
	Subject  string   `json:"sub"`
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	AuthTime int64    `json:"auth_time"`
	Nonce    string   `json:"nonce"`
	Email    string   `json:"email"`
	Username string   `json:"preferred_username"`
}

func (r *rp) verifyIDToken(t testing.TB, tok *oauth2.Token) (*oidc.IDToken, idClaims) {
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatal("token response has no id_token")
	}
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("ID token does not verify: %v", err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return idt, c
}

// apiPost posts a form to an IdP endpoint with client basic auth and
// decodes the JSON answer.
func (idp *testIdP) apiPost(path, clientID, secret string, form url.Values) (int, map[string]any, http.Header) {
	idp.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, idp.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		idp.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m, resp.Header
}

// testLogOutput is where the server under test logs: nowhere, unless
// IDP_TEST_LOG is set (debugging a failing e2e test).
func testLogOutput() io.Writer {
	if os.Getenv("IDP_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
