package main

// What a running idp does when the world around it fails: SIGTERM with
// requests in flight (TestGracefulShutdown), PostgreSQL going away and
// coming back (TestDatabaseOutage), SIGKILL in the middle of load
// (TestCrashRecovery). Every test runs real `idp serve` processes, as
// multinode_test.go does, on a fresh PostgreSQL schema.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

const (
	faultPassword    = "a long enough fault test password"
	faultClient      = "portal"     // code + refresh, password only
	faultMFAClient   = "portal-mfa" // requires LoA substantial: TOTP
	faultSecret      = "portal-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
	faultRedirectURI = "http://127.0.0.1:9/callback"
)

// faultRig is a built idp binary, a fresh PostgreSQL schema, and the
// environment every process of one test shares (the same encryption key).
type faultRig struct {
	t   *testing.T
	bin string
	dsn string
	env []string
}

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	bin := buildIdP(t)
	dsn := testDSN(t, "postgres")
	env := processEnv(dsn,
		"IDP_PASSWORDS_ARGON2_MEMORY_KIB=8192",
		"IDP_PASSWORDS_ARGON2_ITERATIONS=1",
		"IDP_LOG_LEVEL=info",
	)
	return &faultRig{t: t, bin: bin, dsn: dsn, env: env}
}

// with is the rig's environment with KEY=value overrides (the last of
// duplicate keys wins in exec.Cmd.Env).
func (r *faultRig) with(kv ...string) []string {
	return append(slices.Clone(r.env), kv...)
}

// cli runs an idp command on the rig's database and returns its stdout.
func (r *faultRig) cli(stdin string, args ...string) string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, r.bin, args...)
	c.Env = r.env
	c.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		r.t.Fatalf("idp %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// addUsers creates users with faultPassword.
func (r *faultRig) addUsers(names ...string) {
	r.t.Helper()
	for _, u := range names {
		r.cli(faultPassword+"\n", "user", "add", "--username", u, "--email", u+"@example.org", "--password-stdin")
	}
}

// addClients registers the password-only portal and the MFA portal.
func (r *faultRig) addClients() {
	r.t.Helper()
	for _, id := range []string{faultClient, faultMFAClient} {
		r.cli(faultSecret+"\n", "client", "add", "--id", id, "--secret-stdin", "--redirect-uri", faultRedirectURI)
	}
	r.cli("", "client", "policy", "set", "--id", faultMFAClient, "--min-acr", "substantial")
}

// db opens the rig's schema directly, for the checks a test makes in SQL.
func (r *faultRig) db() *sql.DB {
	r.t.Helper()
	db, err := sql.Open("pgx", r.dsn)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { db.Close() })
	return db
}

// ---- a browser and a relying party that report errors instead of failing ----

// agent is one person's browser plus the portal's back end: a cookie jar,
// no redirects followed, every failure returned as an error so that it can
// run in goroutines and across a crash.
type agent struct {
	base string
	hc   *http.Client
	lang string // Accept-Language, when set
}

func newAgent(base string) *agent {
	jar, _ := cookiejar.New(nil)
	return &agent{base: base, hc: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// reply is a response read to the end.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, strings.TrimSpace(r.body)) }

// location is the reply's redirect target, resolved against base.
func (r reply) location(base string) (*url.URL, error) {
	if r.status != http.StatusFound && r.status != http.StatusSeeOther {
		return nil, fmt.Errorf("want a redirect, got %s", r)
	}
	b, _ := url.Parse(base)
	loc, err := b.Parse(r.header.Get("Location"))
	if err != nil || r.header.Get("Location") == "" {
		return nil, fmt.Errorf("redirect without a usable Location: %q", r.header.Get("Location"))
	}
	return loc, nil
}

// errTransport marks a request that got no response: refused, reset, or
// cut by a dying server. Anything else wrong is an answer we did not want.
var errTransport = errors.New("no response")

func (a *agent) send(method, target string, form url.Values, basicAuth bool) (reply, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	if strings.HasPrefix(target, "/") {
		target = a.base + target
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return reply{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if a.lang != "" {
		req.Header.Set("Accept-Language", a.lang)
	}
	if basicAuth {
		req.SetBasicAuth(faultClient, faultSecret)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%w: %s %s: %w", errTransport, method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return reply{}, fmt.Errorf("%w: %s %s: reading the body: %v", errTransport, method, req.URL.Path, err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: string(b)}, nil
}

// hiddenFields are the hidden inputs of a page (the first of each name;
// hiddenRe is the factor tests').
func hiddenFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(page, -1) {
		if !v.Has(m[1]) {
			v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
	}
	return v
}

// loginAttempt is one authorization request and its login flow.
type loginAttempt struct {
	client   string
	flow     string
	verifier string
	page     string // the last page shown
	next     string // with no flow: where the SSO session sent the browser
}

// authorize starts a login at client and returns the login page's flow.
func (a *agent) authorize(client, scope string) (*loginAttempt, error) {
	verifier := base64.RawURLEncoding.EncodeToString([]byte(rand.Text() + rand.Text()))
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {client}, "redirect_uri": {faultRedirectURI}, "response_type": {"code"},
		"scope": {scope}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	rep, err := a.send(http.MethodGet, "/authorize?"+q.Encode(), nil, false)
	if err != nil {
		return nil, err
	}
	loc, err := rep.location(a.base)
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	if rep, err = a.send(http.MethodGet, loc.String(), nil, false); err != nil {
		return nil, err
	}
	l := &loginAttempt{client: client, verifier: verifier, page: rep.body}
	if rep.status == http.StatusFound {
		// A session already satisfies the request: on to the callback.
		next, err := rep.location(a.base)
		if err != nil {
			return nil, err
		}
		l.next = next.String()
		return l, nil
	}
	if rep.status != http.StatusOK {
		return nil, fmt.Errorf("login page: %s", rep)
	}
	if l.flow = hiddenFields(rep.body).Get("flow"); l.flow == "" {
		return nil, fmt.Errorf("login page without a flow:\n%s", rep.body)
	}
	return l, nil
}

// post submits a form of the flow's current page with extra fields and
// wants the flow's redirect back to its page.
func (a *agent) post(l *loginAttempt, path string, extra url.Values) error {
	form := hiddenFields(l.page)
	for k, v := range extra {
		form[k] = v
	}
	rep, err := a.send(http.MethodPost, path, form, false)
	if err != nil {
		return err
	}
	if rep.status != http.StatusSeeOther {
		return fmt.Errorf("POST %s: %s", path, rep)
	}
	return nil
}

// password submits the credentials.
func (a *agent) password(l *loginAttempt, username string) error {
	return a.post(l, "/login", url.Values{"username": {username}, "password": {faultPassword}})
}

// show loads the flow's page; a redirect (the login is done) is returned
// as the reply, not followed.
func (a *agent) show(l *loginAttempt) (reply, error) {
	rep, err := a.send(http.MethodGet, "/login?flow="+url.QueryEscape(l.flow), nil, false)
	if err == nil && rep.status == http.StatusOK {
		l.page = rep.body
	}
	return rep, err
}

// finish follows the finished flow to the relying party and returns the
// authorization code.
func (a *agent) finish(l *loginAttempt) (string, error) {
	target := l.next
	if l.flow != "" {
		target = "/login?flow=" + url.QueryEscape(l.flow)
	}
	for range 3 {
		rep, err := a.send(http.MethodGet, target, nil, false)
		if err != nil {
			return "", err
		}
		loc, err := rep.location(a.base)
		if err != nil {
			return "", fmt.Errorf("finishing the login: %w", err)
		}
		if strings.HasPrefix(loc.String(), faultRedirectURI) {
			code := loc.Query().Get("code")
			if code == "" {
				return "", fmt.Errorf("back at the portal without a code: %s", loc)
			}
			return code, nil
		}
		target = loc.String()
	}
	return "", errors.New("too many redirects")
}

// login runs a whole password login at the portal and returns the code.
func (a *agent) login(username string) (code, verifier string, err error) {
	l, err := a.authorize(faultClient, "openid offline_access")
	if err != nil {
		return "", "", err
	}
	if l.flow != "" {
		if err := a.password(l, username); err != nil {
			return "", "", err
		}
	}
	code, err = a.finish(l)
	return code, l.verifier, err
}

// tokens is a token endpoint answer.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	IDToken string `json:"id_token"`
	Error   string `json:"error"`
}

// grant posts to the token endpoint as the portal.
func (a *agent) grant(form url.Values) (reply, tokens, error) {
	rep, err := a.send(http.MethodPost, "/oauth/token", form, true)
	var tok tokens
	if err == nil {
		_ = json.Unmarshal([]byte(rep.body), &tok)
	}
	return rep, tok, err
}

func (a *agent) exchange(code, verifier string) (reply, tokens, error) {
	return a.grant(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {faultRedirectURI}, "code_verifier": {verifier},
	})
}

func (a *agent) refresh(rt string) (reply, tokens, error) {
	return a.grant(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// enrolTOTP runs the MFA portal's enrolment after the password: set up an
// authenticator app, activate it with a code, store the recovery codes.
// It returns once the TOTP enrolment is confirmed, and the code at the end.
func (a *agent) enrolTOTP(username string, confirmed func()) (string, error) {
	l, err := a.authorize(faultMFAClient, "openid")
	if err != nil {
		return "", err
	}
	if err := a.password(l, username); err != nil {
		return "", err
	}
	steps := []struct {
		form func(page string) (url.Values, error)
	}{
		{func(string) (url.Values, error) { return url.Values{"op": {"begin"}, "factor": {"totp"}}, nil }},
		{func(page string) (url.Values, error) {
			m := regexp.MustCompile(`secret=([A-Z2-7]+)`).FindStringSubmatch(page)
			if m == nil {
				return nil, fmt.Errorf("no TOTP key on the set-up page:\n%s", page)
			}
			c, err := totp.GenerateCodeCustom(m[1], time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			return url.Values{"op": {"finish"}, "code": {c}}, err
		}},
		{func(string) (url.Values, error) { return url.Values{"op": {"finish"}, "saved": {"on"}}, nil }},
	}
	for i, s := range steps {
		rep, err := a.show(l)
		if err != nil {
			return "", err
		}
		if rep.status != http.StatusOK {
			return "", fmt.Errorf("enrolment step %d: %s", i, rep)
		}
		form, err := s.form(rep.body)
		if err != nil {
			return "", err
		}
		if err := a.post(l, "/login/enroll", form); err != nil {
			return "", err
		}
		if i == 1 {
			confirmed()
		}
	}
	return a.finish(l)
}

// leaks lists what an answer must never show a person or a client: the
// store's, the driver's or the runtime's words.
func leaks(body string) []string {
	var out []string
	for _, s := range []string{"sqlstore", "pgconn", "pgx", "SQLSTATE", "dial tcp", "connection refused",
		"connection reset", "broken pipe", "failed to connect", "unexpected EOF", "database=", "store: ",
		"goroutine ", "panic", ".go:"} {
		if strings.Contains(body, s) {
			out = append(out, s)
		}
	}
	return out
}

// ---- a TCP proxy in front of PostgreSQL that can fail ----

// dbProxy forwards connections to PostgreSQL. fail() is the outage: every
// open connection is reset and every new one reset on accept, as a host
// whose database died answers. freeze() is a partition: connections stay
// open but no byte goes through. restore() and thaw() end them. The shared
// PostgreSQL server itself is never touched.
type dbProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	thawed *sync.Cond // signalled when frozen turns false
	down   bool
	frozen bool
	conns  map[net.Conn]bool
}

func startDBProxy(t *testing.T, target string) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.thawed = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.thaw()
		p.fail()
		p.wg.Wait()
	})
	return p
}

func (p *dbProxy) addr() string { return p.ln.Addr().String() }

// dsn is base with its host replaced by the proxy's address.
func (p *dbProxy) dsn(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.addr()
	return u.String()
}

func (p *dbProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			reset(c)
			continue
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// track registers c unless the proxy is down.
func (p *dbProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *dbProxy) forward(c net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil || !p.track(up) {
		if up != nil {
			up.Close()
		}
		reset(c)
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, c); done <- struct{}{} }()
	go func() { p.pipe(c, up); done <- struct{}{} }()
	<-done
	reset(c)
	reset(up)
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// pipe copies src to dst, holding every chunk while the proxy is frozen.
func (p *dbProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.frozen {
			p.thawed.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze stops every byte, in both directions, until thaw.
func (p *dbProxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *dbProxy) thaw() {
	p.mu.Lock()
	p.frozen = false
	p.thawed.Broadcast()
	p.mu.Unlock()
}

// fail resets every connection and refuses new ones until restore.
func (p *dbProxy) fail() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		reset(c)
	}
	clear(p.conns)
}

func (p *dbProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// reset closes c with an RST rather than a FIN, as a crashed peer does.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// ---- polling ----

// eventually polls cond every 50 ms until it is true, and fails the test
// when within passes first; it returns how long cond took to hold.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("after %s: still not %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// readyz is the status of a node's readiness probe, 0 when it does not answer.
func readyz(base string) int {
	hc := &http.Client{Timeout: 3 * time.Second}
	res, err := hc.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// refused tells whether a new TCP connection to addr is refused.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	c.Close()
	return false
}

// TestDatabaseOutage puts a TCP proxy between `idp serve` and PostgreSQL
// and cuts it: readiness fails, pages that need the database are a 503 in
// the person's language with Retry-After, OIDC endpoints answer without
// internals; when the proxy forwards again the same process, never
// restarted, finishes a login begun before the outage and serves new ones.
func TestDatabaseOutage(t *testing.T) {
	r := newFaultRig(t)
	r.addUsers("patient")
	r.addClients()
	pg, err := url.Parse(os.Getenv("IDP_TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startDBProxy(t, pg.Host)
	viaProxy := proxy.dsn(t, r.dsn)
	addr := freeAddr(t)
	issuer := "http://" + addr
	// A request deadline shorter than the default 10s: the partition
	// case below checks that IDP_HTTP_REQUEST_TIMEOUT is the deadline.
	const requestTimeout = 4 * time.Second
	n := startNode(t, r.bin, r.with("IDP_DATABASE_DSN="+viaProxy, "IDP_TOKENS_AUTH_CODE_LIFETIME=10m",
		"IDP_HTTP_REQUEST_TIMEOUT="+requestTimeout.String()), addr, issuer)
	n.waitReady(t)
	ctx := context.Background()

	// Before the outage: a person looking at the login page, and a portal
	// holding an unredeemed code, an access token and a refresh token.
	early := newAgent(issuer)
	halfway, err := early.authorize(faultClient, "openid offline_access")
	if err != nil {
		t.Fatal(err)
	}
	portal := newAgent(issuer)
	code, verifier, err := portal.login("patient")
	if err != nil {
		t.Fatal(err)
	}
	rep, held, err := portal.exchange(code, verifier)
	if err != nil || rep.status != http.StatusOK || held.Refresh == "" {
		t.Fatalf("exchange before the outage: %v %s", err, rep)
	}
	code, verifier, err = newAgent(issuer).login("patient")
	if err != nil {
		t.Fatal(err)
	}
	// The same classification in-process, on a store opened through the proxy.
	st, err := sqlstore.Open(ctx, viaProxy, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	proxy.fail()
	failedAt := time.Now()
	detected := eventually(t, 10*time.Second, "reporting not ready", func() bool { return readyz(issuer) == http.StatusServiceUnavailable })
	t.Logf("outage: /readyz said 503 after %s", detected.Round(time.Millisecond))

	t.Run("store calls fail with store.ErrUnavailable, and so does opening a store", func(t *testing.T) {
		if _, err := st.UserByUsername(ctx, "patient"); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("UserByUsername: %v, want store.ErrUnavailable", err)
		}
		if err := st.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Ping: %v, want store.ErrUnavailable", err)
		}
		if s2, err := sqlstore.Open(ctx, viaProxy, sqlstore.Options{}); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Open: %v, want store.ErrUnavailable", err)
			if s2 != nil {
				s2.Close()
			}
		}
	})

	unavailablePage := func(t *testing.T, rep reply, lang, text string) {
		t.Helper()
		if rep.status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503\n%s", rep.status, rep.body)
		}
		if got := rep.header.Get("Retry-After"); got == "" {
			t.Error("no Retry-After header")
		}
		if !strings.Contains(rep.body, `<html lang="`+lang+`">`) || !strings.Contains(rep.body, text) {
			t.Errorf("want a %s page saying %q:\n%s", lang, text, rep.body)
		}
		if l := leaks(rep.body); len(l) > 0 {
			t.Errorf("the page shows internals %v:\n%s", l, rep.body)
		}
	}

	t.Run("the login page of a flow is a 503 in Dutch", func(t *testing.T) {
		early.lang = "nl-NL,nl;q=0.9,en;q=0.5"
		rep, err := early.show(halfway)
		if err != nil {
			t.Fatal(err)
		}
		unavailablePage(t, rep, "nl", "De inlogdienst is tijdelijk niet beschikbaar. Probeer het over een paar minuten opnieuw.")
	})

	t.Run("submitting the password is a 503 in Hungarian", func(t *testing.T) {
		early.lang = "hu"
		form := hiddenFields(halfway.page)
		form.Set("username", "patient")
		form.Set("password", faultPassword)
		rep, err := early.send(http.MethodPost, "/login", form, false)
		if err != nil {
			t.Fatal(err)
		}
		unavailablePage(t, rep, "hu", "A bejelentkezési szolgáltatás átmenetileg nem érhető el.")
	})

	t.Run("a new authorization request is a 503 page in Polish, not 'unknown application'", func(t *testing.T) {
		a := newAgent(issuer)
		a.lang = "pl"
		q := url.Values{"client_id": {faultClient}, "redirect_uri": {faultRedirectURI}, "response_type": {"code"}, "scope": {"openid"}}
		rep, err := a.send(http.MethodGet, "/authorize?"+q.Encode(), nil, false)
		if err != nil {
			t.Fatal(err)
		}
		unavailablePage(t, rep, "pl", "Usługa logowania jest chwilowo niedostępna.")
	})

	t.Run("OIDC endpoints answer 503 temporarily_unavailable, not a verdict on the client's code, token or secret", func(t *testing.T) {
		defer func() {
			if t.Failed() {
				t.Log("idp/oidcop must note store.ErrUnavailable on the request and answer 503 temporarily_unavailable " +
					"(see the faults branch report for the patch): otherwise portals drop valid codes and refresh tokens, " +
					"report a wrong client secret, or see the driver's error")
			}
		}()
		calls := []struct {
			name string
			do   func() (reply, error)
			want int // 0: anything but a 500
		}{
			{"code exchange", func() (reply, error) { r, _, err := portal.exchange(code, verifier); return r, err }, 503},
			{"refresh", func() (reply, error) { r, _, err := portal.refresh(held.Refresh); return r, err }, 503},
			{"introspection", func() (reply, error) {
				return portal.send(http.MethodPost, "/oauth/introspect", url.Values{"token": {held.Access}}, true)
			}, 503},
			{"userinfo", func() (reply, error) {
				req, _ := http.NewRequest(http.MethodGet, issuer+"/userinfo", nil)
				req.Header.Set("Authorization", "Bearer "+held.Access)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return reply{}, err
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return reply{status: res.StatusCode, header: res.Header, body: string(b)}, nil
			}, 503},
			{"discovery", func() (reply, error) {
				return portal.send(http.MethodGet, "/.well-known/openid-configuration", nil, false)
			}, 200},
			{"jwks (cached)", func() (reply, error) { return portal.send(http.MethodGet, "/keys", nil, false) }, 0},
		}
		for _, c := range calls {
			rep, err := c.do()
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			t.Logf("during the outage, %s: %d %s", c.name, rep.status, strings.TrimSpace(rep.body[:min(len(rep.body), 160)]))
			if l := leaks(rep.body); len(l) > 0 {
				t.Errorf("%s shows internals %v: %s", c.name, l, rep.body)
			}
			switch {
			case rep.status == http.StatusInternalServerError:
				t.Errorf("%s: 500 for an unreachable database, want 503: %s", c.name, rep.body)
			case c.want == 0:
			case rep.status != c.want:
				t.Errorf("%s: %d, want %d: %s", c.name, rep.status, c.want, rep.body)
			case c.want == http.StatusServiceUnavailable:
				var e struct {
					Error string `json:"error"`
				}
				if json.Unmarshal([]byte(rep.body), &e) != nil || e.Error != "temporarily_unavailable" || rep.header.Get("Retry-After") == "" {
					t.Errorf("%s: want JSON error temporarily_unavailable and Retry-After, got %v %s", c.name, rep.header, rep.body)
				}
			}
		}
	})

	proxy.restore()
	recoveredAt := time.Now()
	recovery := eventually(t, 10*time.Second, "ready again", func() bool { return readyz(issuer) == http.StatusOK })
	t.Logf("recovery: /readyz said 200 %s after the database came back (outage lasted %s)",
		recovery.Round(time.Millisecond), recoveredAt.Sub(failedAt).Round(time.Millisecond))

	t.Run("the login begun before the outage finishes, on the same process", func(t *testing.T) {
		early.lang = ""
		if err := early.password(halfway, "patient"); err != nil {
			t.Fatal(err)
		}
		c, err := early.finish(halfway)
		if err != nil {
			t.Fatal(err)
		}
		if rep, tok, err := early.exchange(c, halfway.verifier); err != nil || rep.status != http.StatusOK || tok.IDToken == "" {
			t.Fatalf("exchange: %v %s", err, rep)
		}
		t.Logf("first full login after recovery done %s after the database came back", time.Since(recoveredAt).Round(time.Millisecond))
	})

	t.Run("the code and the refresh token the portal held through the outage still work", func(t *testing.T) {
		if rep, _, err := portal.exchange(code, verifier); err != nil || rep.status != http.StatusOK {
			t.Errorf("code: %v %s", err, rep)
		}
		if rep, tok, err := portal.refresh(held.Refresh); err != nil || rep.status != http.StatusOK || tok.Refresh == "" {
			t.Errorf("refresh: %v %s", err, rep)
		}
	})

	t.Run("a new login works end to end", func(t *testing.T) {
		a := newAgent(issuer)
		c, v, err := a.login("patient")
		if err != nil {
			t.Fatal(err)
		}
		if rep, _, err := a.exchange(c, v); err != nil || rep.status != http.StatusOK {
			t.Fatalf("exchange: %v %s", err, rep)
		}
	})

	t.Run("the in-process store's first call after the outage succeeds: its pool dropped the dead connections", func(t *testing.T) {
		if _, err := st.UserByUsername(ctx, "patient"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a database that stops answering (no refusal, no reset) is a 503 after the request deadline, and recovers", func(t *testing.T) {
		a := newAgent(issuer)
		l, err := a.authorize(faultClient, "openid")
		if err != nil {
			t.Fatal(err)
		}
		proxy.freeze()
		frozenAt := time.Now()
		detected := eventually(t, 10*time.Second, "reporting not ready", func() bool { return readyz(issuer) == http.StatusServiceUnavailable })
		a.lang = "sv"
		a.hc.Timeout = 30 * time.Second
		start := time.Now()
		rep, err := a.show(l)
		waited := time.Since(start)
		if err != nil {
			t.Fatalf("the login page during a partition: %v after %s", err, waited)
		}
		unavailablePage(t, rep, "sv", "Inloggningstjänsten är tillfälligt otillgänglig.")
		if waited < requestTimeout-100*time.Millisecond || waited > requestTimeout+3*time.Second {
			t.Errorf("the 503 took %s, want about the %s request deadline (http.request_timeout)", waited, requestTimeout)
		}
		proxy.thaw()
		thawedAt := time.Now()
		recovery := eventually(t, 10*time.Second, "ready again", func() bool { return readyz(issuer) == http.StatusOK })
		t.Logf("partition: /readyz 503 after %s, a page waited %s for its 503; ready %s after it healed (lasted %s)",
			detected.Round(time.Millisecond), waited.Round(time.Millisecond), recovery.Round(time.Millisecond), thawedAt.Sub(frozenAt).Round(time.Millisecond))
		a.lang = ""
		if err := a.password(l, "patient"); err != nil {
			t.Fatal(err)
		}
		c, err := a.finish(l)
		if err != nil {
			t.Fatal(err)
		}
		if rep, _, err := a.exchange(c, l.verifier); err != nil || rep.status != http.StatusOK {
			t.Fatalf("exchange: %v %s", err, rep)
		}
	})

	if strings.Contains(n.out.String(), "panic") {
		t.Errorf("the node panicked:\n%s", n.out.String())
	}
}

// TestGracefulShutdown sends SIGTERM to `idp serve` while logins are in
// flight: requests the server has started on finish (their bodies are sent
// only after the signal), new connections are refused at once, the store
// is closed and the process exits 0; a request that never finishes is cut
// at http.shutdown_timeout and the exit status is still 0.
func TestGracefulShutdown(t *testing.T) {
	r := newFaultRig(t)
	r.addUsers("patient")
	r.addClients()

	// held starts n password logins and stops each one half way through its
	// body, once the server has begun reading it.
	held := func(t *testing.T, issuer string, n int) []*heldRequest {
		out := make([]*heldRequest, n)
		for i := range out {
			a := newAgent(issuer)
			l, err := a.authorize(faultClient, "openid")
			if err != nil {
				t.Fatal(err)
			}
			form := hiddenFields(l.page)
			form.Set("username", "patient")
			form.Set("password", faultPassword)
			out[i] = holdRequest(t, issuer, "/login", a.cookies(issuer+"/login"), form.Encode())
		}
		return out
	}

	t.Run("logins in flight finish after SIGTERM, new connections are refused, exit status 0", func(t *testing.T) {
		addr := freeAddr(t)
		issuer := "http://" + addr
		n := startNode(t, r.bin, r.with("IDP_HTTP_SHUTDOWN_TIMEOUT=15s"), addr, issuer)
		n.waitReady(t)
		inFlight := held(t, issuer, 8)

		signalled := time.Now()
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "refusing new connections", func() bool { return refused(addr) })
		refusedAfter := time.Since(signalled)
		select {
		case <-n.done:
			t.Fatalf("exited with requests in flight: %v\n%s", n.err, n.out.String())
		default:
		}
		for i, h := range inFlight {
			res, err := h.finish()
			if err != nil {
				t.Fatalf("login %d in flight: %v", i, err)
			}
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?flow=") {
				t.Errorf("login %d in flight: %d %s, want 303 to the flow page", i, res.StatusCode, res.Header.Get("Location"))
			}
		}
		answered := time.Now()
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("still running 10s after its last request\n%s", n.out.String())
		}
		if n.err != nil {
			t.Fatalf("exit: %v, want status 0\n%s", n.err, n.out.String())
		}
		if !strings.Contains(n.out.String(), `"msg":"stopped"`) {
			t.Errorf("no \"stopped\" log line (the store closed):\n%s", n.out.String())
		}
		t.Logf("SIGTERM: refusing new connections after %s; exit %s after the last of %d requests in flight was answered (%s after the signal)",
			refusedAfter.Round(time.Millisecond), time.Since(answered).Round(time.Millisecond), len(inFlight), time.Since(signalled).Round(time.Millisecond))
	})

	t.Run("a request that never finishes is cut at http.shutdown_timeout, and the exit status is still 0", func(t *testing.T) {
		const timeout = 2 * time.Second
		addr := freeAddr(t)
		issuer := "http://" + addr
		n := startNode(t, r.bin, r.with("IDP_HTTP_SHUTDOWN_TIMEOUT="+timeout.String()), addr, issuer)
		n.waitReady(t)
		stuck := held(t, issuer, 1)[0]

		signalled := time.Now()
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "refusing new connections", func() bool { return refused(addr) })
		select {
		case <-n.done:
		case <-time.After(timeout + 5*time.Second):
			t.Fatalf("still running %s after SIGTERM\n%s", timeout+5*time.Second, n.out.String())
		}
		took := time.Since(signalled)
		if n.err != nil {
			t.Fatalf("exit: %v, want status 0\n%s", n.err, n.out.String())
		}
		if took < timeout {
			t.Errorf("exited after %s, before the %s shutdown timeout, with a request in flight", took, timeout)
		}
		if res, err := stuck.read(); err == nil {
			t.Errorf("the unfinished request got an answer: %d", res.StatusCode)
		}
		if !strings.Contains(n.out.String(), "shutdown timeout") {
			t.Errorf("no shutdown timeout warning:\n%s", n.out.String())
		}
		t.Logf("SIGTERM with a stuck request: exit status 0 after %s (timeout %s)", took.Round(time.Millisecond), timeout)
	})
}

// cookies is the Cookie header the agent's browser sends to target.
func (a *agent) cookies(target string) string {
	u, _ := url.Parse(target)
	var parts []string
	for _, c := range a.hc.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// heldRequest is a POST on a raw connection whose headers and first half
// of the body are sent; the server has begun reading the body (it sent
// 100 Continue), so the request is in flight until finish sends the rest.
type heldRequest struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	rest string
}

func holdRequest(t *testing.T, base, path, cookie, body string) *heldRequest {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	half := len(body) / 2
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: %d\r\nCookie: %s\r\nExpect: 100-continue\r\n\r\n", path, u.Host, len(body), cookie)
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	h := &heldRequest{t: t, conn: conn, br: bufio.NewReader(conn), rest: body[half:]}
	// 100 Continue comes when the handler first reads the body: from then
	// on the server counts the request as in flight.
	res, err := http.ReadResponse(h.br, nil)
	if err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v %v", res, err)
	}
	if _, err := io.WriteString(conn, body[:half]); err != nil {
		t.Fatal(err)
	}
	return h
}

// finish sends the rest of the body and reads the answer.
func (h *heldRequest) finish() (*http.Response, error) {
	if _, err := io.WriteString(h.conn, h.rest); err != nil {
		return nil, err
	}
	return h.read()
}

func (h *heldRequest) read() (*http.Response, error) {
	res, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res, nil
}

// TestCrashRecovery SIGKILLs `idp serve` in the middle of load (logins
// through the pages, code exchanges, refresh token rotations, TOTP
// enrolments), restarts it on the same database, and checks what a crash
// must not do: honour a code or a refresh token a second time, lose
// anything committed, leave rows pointing at nothing, or strand a person
// half way through a login.
func TestCrashRecovery(t *testing.T) {
	r := newFaultRig(t)
	const workers, enrollers = 6, 2 // the first enrollers set up TOTP first
	users := make([]string, workers)
	for i := range users {
		users[i] = fmt.Sprintf("patient%d", i)
	}
	r.addUsers(users...)
	r.addClients()
	db := r.db()
	env := r.with("IDP_TOKENS_AUTH_CODE_LIFETIME=10m") // a refused code is refused for being used, not for age
	addr := freeAddr(t)
	issuer := "http://" + addr
	n := startNode(t, r.bin, env, addr, issuer)
	n.waitReady(t)
	kidsBefore := kids(t, issuer)

	// Two logins the crash will catch half way, whatever the load is doing
	// then: one showing the login page, one past the password.
	var interrupted []*halfLogin
	for i, withPassword := range []bool{false, true} {
		h := &halfLogin{agent: newAgent(issuer), user: users[i]}
		var err error
		if h.login, err = h.agent.authorize(faultClient, "openid offline_access"); err != nil {
			t.Fatal(err)
		}
		if withPassword {
			if err := h.agent.password(h.login, h.user); err != nil {
				t.Fatal(err)
			}
		}
		interrupted = append(interrupted, h)
	}

	var progress loadProgress
	stop := make(chan struct{})
	logs := make([]*loadWorker, workers)
	var wg sync.WaitGroup
	for i := range logs {
		w := &loadWorker{base: issuer, user: users[i], enrol: i < enrollers, progress: &progress}
		logs[i] = w
		wg.Add(1)
		go func() { defer wg.Done(); w.run(stop) }()
	}
	loadStart := time.Now()
	eventually(t, 30*time.Second, "enough load honoured", func() bool {
		return progress.codes.Load() >= 30 && progress.rotations.Load() >= 30 && progress.enrolled.Load() >= enrollers
	})
	killedAt := time.Now()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-n.done
	close(stop)
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(20 * time.Second):
		t.Fatal("load workers still running 20s after the kill")
	}
	busy := 0
	for _, w := range logs {
		for _, p := range w.problems {
			t.Errorf("%s under load: %s", w.user, p)
		}
		if w.stoppedAt.Before(killedAt) && !w.stoppedAt.IsZero() {
			t.Errorf("%s lost its connection before the kill (%s)", w.user, killedAt.Sub(w.stoppedAt))
		}
		if w.cut != nil || w.pending != nil && w.pending.unsure || w.currentUnsure {
			busy++
		}
		if w.cut != nil {
			interrupted = append(interrupted, w.cut)
		}
	}
	t.Logf("SIGKILL after %s of load: %d codes and %d refresh tokens honoured, %d TOTP enrolments; %d of %d workers had a request or login cut by the kill",
		killedAt.Sub(loadStart).Round(time.Millisecond), progress.codes.Load(), progress.rotations.Load(), progress.enrolled.Load(), busy, workers)

	t.Run("right after the crash the database has no rows pointing at nothing", func(t *testing.T) {
		checkConsistency(t, db)
	})

	restarted := time.Now()
	n = startNode(t, r.bin, env, addr, issuer)
	n.waitReady(t)
	t.Logf("restart: ready %s after start", time.Since(restarted).Round(time.Millisecond))

	t.Run("nothing committed is lost: users, clients, keys, confirmed enrolments", func(t *testing.T) {
		if got := kids(t, issuer); !slices.Equal(got, kidsBefore) {
			t.Errorf("JWKS after the restart %v, before the crash %v", got, kidsBefore)
		}
		count := func(q string, args ...any) int {
			var n int
			if err := db.QueryRow(q, args...).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return n
		}
		if got := count(`SELECT count(*) FROM users`); got != workers {
			t.Errorf("%d users, want %d", got, workers)
		}
		if got := count(`SELECT count(*) FROM clients`); got != 2 {
			t.Errorf("%d clients, want 2", got)
		}
		if got := count(`SELECT count(*) FROM signing_keys WHERE retired_at IS NULL`); got != 2 {
			t.Errorf("%d current signing keys, want 2 (ES256, RS256)", got)
		}
		for _, w := range logs {
			if !w.enrolled {
				continue
			}
			if got := count(`SELECT count(*) FROM enrollments e JOIN users u ON u.id = e.user_id
				WHERE u.username = $1 AND e.factor = 'totp' AND e.confirmed_at IS NOT NULL`, w.user); got != 1 {
				t.Errorf("%s: %d confirmed TOTP enrolments, want 1", w.user, got)
			}
		}
	})

	portal := newAgent(issuer)
	t.Run("refresh tokens and codes handed out but not yet used still work", func(t *testing.T) {
		checked := 0
		for _, w := range logs {
			if w.current != "" {
				rep, _, err := portal.refresh(w.current)
				switch {
				case err != nil:
					t.Errorf("%s: refresh: %v", w.user, err)
				case rep.status == http.StatusOK:
					checked++
				case w.currentUnsure && rep.status == http.StatusBadRequest && strings.Contains(rep.body, "invalid_grant"):
					// Rotated just before the kill; the answer was lost.
				default:
					t.Errorf("%s: the newest refresh token (sent at the kill: %v): %s, want 200", w.user, w.currentUnsure, rep)
				}
			}
			if p := w.pending; p != nil {
				rep, _, err := portal.exchange(p.code, p.verifier)
				switch {
				case err != nil:
					t.Errorf("%s: code: %v", w.user, err)
				case rep.status == http.StatusOK:
					checked++
				case p.unsure && rep.status == http.StatusBadRequest && strings.Contains(rep.body, "invalid_grant"):
				default:
					t.Errorf("%s: the code not yet redeemed (sent at the kill: %v): %s, want 200", w.user, p.unsure, rep)
				}
			}
		}
		t.Logf("%d tokens and codes from before the crash used after it", checked)
	})

	t.Run("every code and refresh token honoured before the crash is refused after it", func(t *testing.T) {
		var codes, refreshes int
		for _, w := range logs {
			for _, c := range w.codes {
				rep, _, err := portal.exchange(c.code, c.verifier)
				if err != nil || rep.status != http.StatusBadRequest || !strings.Contains(rep.body, "invalid_grant") {
					t.Errorf("%s: replayed code: %v %s, want 400 invalid_grant", w.user, err, rep)
				}
				codes++
			}
			for _, rt := range w.rotated {
				rep, _, err := portal.refresh(rt)
				if err != nil || rep.status != http.StatusBadRequest || !strings.Contains(rep.body, "invalid_grant") {
					t.Errorf("%s: replayed refresh token: %v %s, want 400 invalid_grant", w.user, err, rep)
				}
				refreshes++
			}
		}
		t.Logf("replayed %d codes and %d refresh tokens: all refused", codes, refreshes)
	})

	t.Run("a person whose login the crash cut can carry on, or start again from the portal", func(t *testing.T) {
		outcomes := map[string]int{}
		defer func() { t.Logf("%d logins cut by the crash, after the restart: %v", len(interrupted), outcomes) }()
		for i, h := range interrupted {
			rep, err := h.agent.show(h.login)
			if err != nil {
				t.Fatalf("login %d: %v", i, err)
			}
			if l := leaks(rep.body); len(l) > 0 || rep.status >= 500 {
				t.Errorf("login %d: flow page %d with %v:\n%s", i, rep.status, l, rep.body)
			}
			switch {
			case rep.status == http.StatusOK && strings.Contains(rep.body, `autocomplete="current-password"`):
				outcomes["carried on from the password"]++
				if err := h.agent.password(h.login, h.user); err != nil {
					t.Errorf("login %d: password after the restart: %v", i, err)
					break
				}
				fallthrough
			case rep.status == http.StatusFound:
				if rep.status == http.StatusFound {
					outcomes["carried on to the code"]++
				}
				code, err := h.agent.finish(h.login)
				if err != nil {
					t.Errorf("login %d: carrying on: %v", i, err)
					break
				}
				if rep, _, err := h.agent.exchange(code, h.login.verifier); err != nil || rep.status != http.StatusOK {
					t.Errorf("login %d: exchange: %v %s", i, err, rep)
				}
			case rep.status == http.StatusOK:
				// Another step of the flow (an enrolment): it shows, which is all a person needs.
				outcomes["shown at another step"]++
			case rep.status == http.StatusBadRequest && strings.Contains(rep.body, "has expired"):
				// A flow the crash lost: the page says to start again.
				outcomes["told to start again"]++
			default:
				t.Errorf("login %d: flow page %s", i, rep)
			}
			// And a new login from the portal, in the same browser.
			code, verifier, err := h.agent.login(h.user)
			if err != nil {
				t.Errorf("login %d: a new login: %v", i, err)
				continue
			}
			if rep, _, err := h.agent.exchange(code, verifier); err != nil || rep.status != http.StatusOK {
				t.Errorf("login %d: a new login's code: %v %s", i, err, rep)
			}
		}
		a := newAgent(issuer)
		a.lang = "sv"
		rep, err := a.send(http.MethodGet, "/login?flow="+rand.Text(), nil, false)
		if err != nil || rep.status != http.StatusBadRequest || !strings.Contains(rep.body, "Den här inloggningssidan har gått ut") {
			t.Errorf("an unknown flow id: %v %d, want 400 with the Swedish 'expired' page:\n%s", err, rep.status, rep.body)
		}
	})

	t.Run("after all that the database still has no rows pointing at nothing", func(t *testing.T) {
		checkConsistency(t, db)
	})
}

// halfLogin is a login that stopped somewhere between authorize and code.
type halfLogin struct {
	agent *agent
	login *loginAttempt
	user  string
}

type loadProgress struct {
	codes, rotations, enrolled atomic.Int64
}

// usedCode is a redeemed code with its PKCE verifier.
type usedCode struct{ code, verifier string }

// loadWorker logs one person in again and again at the portal, redeems
// each code and rotates each refresh token a few times, and records what
// the server honoured; it stops at the first request without an answer
// (the kill). Fields are read after run returns.
type loadWorker struct {
	base     string
	user     string
	enrol    bool
	progress *loadProgress

	codes         []usedCode // redeemed with a 200
	rotated       []string   // refresh tokens rotated with a 200
	current       string     // the newest refresh token received
	currentUnsure bool       // a refresh with current got no answer
	pending       *struct {  // a code received, not (knowingly) redeemed
		code, verifier string
		unsure         bool // the exchange was sent and got no answer
	}
	enrolled  bool       // TOTP confirmed (the activation was answered)
	cut       *halfLogin // a login the kill cut half way
	problems  []string   // wrong answers, whatever the kill
	stoppedAt time.Time  // when a request got no answer
}

func (w *loadWorker) run(stop <-chan struct{}) {
	if w.enrol {
		a := newAgent(w.base)
		if _, err := a.enrolTOTP(w.user, func() { w.enrolled = true; w.progress.enrolled.Add(1) }); err != nil {
			w.failed(err, nil)
			return
		}
	}
	for {
		select {
		case <-stop:
			return
		default:
		}
		a := newAgent(w.base)
		l, err := a.authorize(faultClient, "openid offline_access")
		if err != nil {
			w.failed(err, nil)
			return
		}
		half := &halfLogin{agent: a, login: l, user: w.user}
		if err := a.password(l, w.user); err != nil {
			w.failed(err, half)
			return
		}
		code, err := a.finish(l)
		if err != nil {
			w.failed(err, half)
			return
		}
		w.pending = &struct {
			code, verifier string
			unsure         bool
		}{code: code, verifier: l.verifier, unsure: true}
		rep, tok, err := a.exchange(code, l.verifier)
		if err != nil {
			w.pending.unsure = !errors.Is(err, syscall.ECONNREFUSED)
			w.failed(err, nil)
			return
		}
		w.pending = nil
		if rep.status != http.StatusOK || tok.Refresh == "" {
			w.problems = append(w.problems, "exchange: "+rep.String())
			return
		}
		w.codes = append(w.codes, usedCode{code, l.verifier})
		w.progress.codes.Add(1)
		w.current = tok.Refresh
		for range 3 {
			rep, tok, err := a.refresh(w.current)
			if err != nil {
				w.currentUnsure = !errors.Is(err, syscall.ECONNREFUSED)
				w.failed(err, nil)
				return
			}
			if rep.status != http.StatusOK || tok.Refresh == "" {
				w.problems = append(w.problems, "refresh: "+rep.String())
				return
			}
			w.rotated = append(w.rotated, w.current)
			w.progress.rotations.Add(1)
			w.current = tok.Refresh
		}
	}
}

// failed records why the worker stops: the kill (no answer), or a wrong one.
func (w *loadWorker) failed(err error, half *halfLogin) {
	if errors.Is(err, errTransport) {
		w.stoppedAt = time.Now()
		w.cut = half
		return
	}
	w.problems = append(w.problems, err.Error())
}

// checkConsistency runs the invariants the code relies on but no foreign
// key enforces (migrations/postgres: tokens, sessions and flows name users,
// clients, requests and challenges by id only).
func checkConsistency(t *testing.T, db *sql.DB) {
	t.Helper()
	checks := []struct{ what, query string }{
		{"refresh tokens of a missing user", `SELECT count(*) FROM refresh_tokens r WHERE r.user_id <> '' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id)`},
		{"refresh tokens of a missing client", `SELECT count(*) FROM refresh_tokens r WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = r.client_id)`},
		{"access tokens of a missing user", `SELECT count(*) FROM access_tokens a WHERE a.user_id <> '' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)`},
		{"access tokens of a missing client", `SELECT count(*) FROM access_tokens a WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = a.client_id)`},
		{"access tokens of a missing refresh family", `SELECT count(*) FROM access_tokens a WHERE a.refresh_family_id <> '' AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = a.refresh_family_id)`},
		{"refresh families with two live tokens", `SELECT count(*) FROM (SELECT family_id FROM refresh_tokens WHERE rotated_at IS NULL AND revoked_at IS NULL GROUP BY family_id HAVING count(*) > 1) f`},
		{"rotated refresh tokens without a successor", `SELECT count(*) FROM refresh_tokens r WHERE r.rotated_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM refresh_tokens s WHERE s.family_id = r.family_id AND s.id <> r.id AND s.created_at = r.rotated_at)`},
		{"redeemed codes that issued no access token", `SELECT count(*) FROM auth_requests ar WHERE ar.code_consumed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.auth_request_id = ar.id)`},
		{"codes of unfinished requests", `SELECT count(*) FROM auth_requests WHERE code_hash IS NOT NULL AND (NOT done OR user_id = '')`},
		{"sessions of a missing user", `SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)`},
		{"login flows of a missing request", `SELECT count(*) FROM login_flows f WHERE NOT EXISTS (SELECT 1 FROM auth_requests a WHERE a.id = f.auth_request_id)`},
		{"login flows of a missing user", `SELECT count(*) FROM login_flows f WHERE f.user_id <> '' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = f.user_id)`},
		{"login flows of a missing challenge", `SELECT count(*) FROM login_flows f WHERE f.challenge_id <> '' AND NOT EXISTS (SELECT 1 FROM challenges c WHERE c.id = f.challenge_id)`},
		{"login flows of a missing enrolment", `SELECT count(*) FROM login_flows f WHERE f.enrollment_id <> '' AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = f.enrollment_id)`},
		{"challenges of a missing flow", `SELECT count(*) FROM challenges c WHERE c.flow_id <> '' AND NOT EXISTS (SELECT 1 FROM login_flows f WHERE f.id = c.flow_id)`},
		{"challenges of a missing enrolment", `SELECT count(*) FROM challenges c WHERE c.enrollment_id <> '' AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = c.enrollment_id)`},
		{"algorithms without a current signing key", `SELECT count(*) FROM (VALUES ('ES256'), ('RS256')) AS want(alg) WHERE NOT EXISTS (SELECT 1 FROM signing_keys k WHERE k.alg = want.alg AND k.retired_at IS NULL)`},
	}
	for _, c := range checks {
		var n int
		if err := db.QueryRow(c.query).Scan(&n); err != nil {
			t.Errorf("%s: %v", c.what, err)
			continue
		}
		if n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}
}

// TestOverload floods one node, whose password hasher may run one hash and
// queue one more, with parallel logins of a known and of unknown users:
// the logins beyond that get a 503 with Retry-After and the login form in
// the person's language, count no failed attempt and audit no failed
// login; refresh-token grants, which hash no password, all succeed during
// the flood; the shedding is counted in /metrics; and a login right after
// the flood succeeds.
func TestOverload(t *testing.T) {
	r := newFaultRig(t)
	// Hashes of ~30-50 ms on this machine (8 passes over 8 MiB), for the
	// stored hash and the dummy one alike, so that two slots are always
	// far fewer than the flood's logins.
	heavy := []string{"IDP_PASSWORDS_ARGON2_ITERATIONS=8"}
	for _, u := range []string{"patient", "crowd"} {
		c := exec.Command(r.bin, "user", "add", "--username", u, "--email", u+"@example.org", "--password-stdin")
		c.Env, c.Stdin = r.with(heavy...), strings.NewReader(faultPassword+"\n")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("user add %s: %v\n%s", u, err, out)
		}
	}
	r.addClients()
	addr := freeAddr(t)
	issuer := "http://" + addr
	n := startNode(t, r.bin, r.with(append(heavy,
		"IDP_PASSWORDS_MAX_CONCURRENT_HASHES=1", "IDP_PASSWORDS_MAX_QUEUED_HASHES=1",
		// The unknown users' failures all come from 127.0.0.1: the IP
		// limit must not be what stops them.
		"IDP_THROTTLE_IP_FAILURES=100000")...), addr, issuer)
	n.waitReady(t)

	portal := newAgent(issuer)
	code, verifier, err := portal.login("patient")
	if err != nil {
		t.Fatal(err)
	}
	rep, tok, err := portal.exchange(code, verifier)
	if err != nil || rep.status != http.StatusOK || tok.Refresh == "" {
		t.Fatalf("exchange before the flood: %v %s", err, rep)
	}

	const workers, flood = 16, 2 * time.Second
	type outcome struct {
		unknown bool
		rep     reply
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		errs     []error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			a := newAgent(issuer)
			a.lang = "nl"
			username := "crowd"
			if i%2 == 1 {
				username = fmt.Sprintf("nobody-%d", i) // the dummy verification
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				l, err := a.authorize(faultClient, "openid")
				if err == nil && l.flow == "" {
					a = newAgent(issuer) // logged in: a new browser
					a.lang = "nl"
					continue
				}
				var rep reply
				if err == nil {
					form := hiddenFields(l.page)
					form.Set("username", username)
					form.Set("password", faultPassword)
					rep, err = a.send(http.MethodPost, "/login", form, false)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					outcomes = append(outcomes, outcome{unknown: i%2 == 1, rep: rep})
				}
				mu.Unlock()
			}
		})
	}

	// The portal refreshes its token throughout the flood.
	var refreshes int
	var refreshErr error
	deadline := time.Now().Add(flood)
	for time.Now().Before(deadline) {
		rep, next, err := portal.refresh(tok.Refresh)
		if err != nil || rep.status != http.StatusOK || next.Refresh == "" {
			refreshErr = fmt.Errorf("refresh %d during the flood: %v %s", refreshes+1, err, rep)
			break
		}
		tok = next
		refreshes++
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if refreshErr != nil {
		t.Error(refreshErr)
	}
	for _, err := range errs {
		t.Errorf("a flood login got no answer: %v", err)
	}

	const message = "Er loggen op dit moment te veel mensen in. Probeer het zo meteen opnieuw."
	var shed, passed, shedUnknown int
	for _, o := range outcomes {
		switch rep := o.rep; {
		case rep.status == http.StatusServiceUnavailable:
			shed++
			if o.unknown {
				shedUnknown++
			}
			if shed > 1 {
				continue // the first page is checked in full
			}
			if got := rep.header.Get("Retry-After"); got != "5" {
				t.Errorf("Retry-After %q, want 5", got)
			}
			if !strings.Contains(rep.header.Get("Cache-Control"), "no-store") {
				t.Errorf("Cache-Control %q, want no-store", rep.header.Get("Cache-Control"))
			}
			if !strings.Contains(rep.body, `<html lang="nl">`) || !strings.Contains(rep.body, message) ||
				!strings.Contains(rep.body, `autocomplete="current-password"`) || !strings.Contains(rep.body, `action="/login"`) {
				t.Errorf("want the Dutch login form saying %q:\n%s", message, rep.body)
			}
			if l := leaks(rep.body); len(l) > 0 {
				t.Errorf("the page shows internals %v", l)
			}
		case rep.status == http.StatusSeeOther && !o.unknown:
			passed++
		case rep.status == http.StatusOK && o.unknown && strings.Contains(rep.body, "De gebruikersnaam of het wachtwoord is onjuist"):
			passed++ // checked, and refused as a wrong password
		default:
			t.Errorf("a flood login (unknown user %v): %s", o.unknown, rep)
		}
	}
	t.Logf("flood of %s with %d browsers: %d logins answered, %d shed with 503 (%d of unknown users), %d checked; %d refresh grants, all 200",
		flood, workers, len(outcomes), shed, shedUnknown, passed, refreshes)
	if shed == 0 || shedUnknown == 0 || shed == shedUnknown {
		t.Errorf("want logins of the known and of unknown users shed, got %d shed, %d of them unknown users", shed, shedUnknown)
	}
	if passed == 0 {
		t.Error("no login was checked during the flood: the hasher must keep working at its limit")
	}
	if refreshes < 5 {
		t.Errorf("only %d refresh grants in %s", refreshes, flood)
	}

	// Shed logins are neither failures nor audited: the known user, whose
	// password was right every time, has no failed login and no counter.
	db := r.db()
	var failures, counters int
	if err := db.QueryRow(`SELECT count(*) FROM audit_events e JOIN users u ON u.id = e.user_id
		WHERE u.username = 'crowd' AND e.event <> 'login.success'`).Scan(&failures); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM rate_limits WHERE key = $1`, "login:account:"+security.HashToken("crowd")).Scan(&counters); err != nil {
		t.Fatal(err)
	}
	if failures != 0 || counters != 0 {
		t.Errorf("the shed logins of a right password left %d audit events other than success and %d throttle counters", failures, counters)
	}

	// Every 503 is counted in the metrics.
	metrics, err := newAgent(issuer).send(http.MethodGet, "/metrics", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	counted := 0.0
	for _, m := range regexp.MustCompile(`(?m)^idp_password_hashes_shed_total\{reason="[a-z_]+"\} (\d+)$`).FindAllStringSubmatch(metrics.body, -1) {
		var v float64
		fmt.Sscan(m[1], &v)
		counted += v
	}
	if int(counted) != shed {
		t.Errorf("idp_password_hashes_shed_total sums to %v, want the %d logins shed", counted, shed)
	}

	// Recovery: the flood is over, the next person logs in.
	after := newAgent(issuer)
	if code, verifier, err = after.login("patient"); err != nil {
		t.Fatalf("a login after the flood: %v", err)
	}
	if rep, _, err := after.exchange(code, verifier); err != nil || rep.status != http.StatusOK {
		t.Fatalf("exchange after the flood: %v %s", err, rep)
	}
}
