package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TestMultiNode runs three real idp processes on one PostgreSQL database
// and checks what "any number of stateless nodes behind a load balancer"
// means: the same key set on all, a login whose every step lands on
// another node (password only, and password + TOTP with enrolment and
// attempt counting spread over the nodes), a key rotation all pick up, and
// a clean exit on SIGTERM.
func TestMultiNode(t *testing.T) {
	bin := buildIdP(t)
	dsn := testDSN(t, "postgres")
	env := processEnv(dsn,
		"IDP_KEYS_CACHE_TTL=1s",
		"IDP_PASSWORDS_ARGON2_MEMORY_KIB=8192",
		"IDP_PASSWORDS_ARGON2_ITERATIONS=1",
		"IDP_HTTP_SHUTDOWN_TIMEOUT=5s",
		"IDP_LOG_LEVEL=info",
	)
	cli := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, bin, args...)
		c.Env = env
		c.Stdin = strings.NewReader(stdin)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			t.Fatalf("idp %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}

	const (
		username     = "patient"
		password     = "a long enough multi node password"
		clientID     = "portal"
		clientSecret = "portal-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
		redirectURI  = "http://127.0.0.1:9/callback"
		mfaClientID  = "portal-mfa"
	)
	cli(password+"\n", "user", "add", "--username", username, "--email", "patient@example.org", "--password-stdin")
	cli(clientSecret+"\n", "client", "add", "--id", clientID, "--secret-stdin", "--redirect-uri", redirectURI)
	cli(clientSecret+"\n", "client", "add", "--id", mfaClientID, "--secret-stdin", "--redirect-uri", redirectURI)
	cli("", "client", "policy", "set", "--id", mfaClientID, "--min-acr", "substantial")

	addrA, addrB, addrC := freeAddr(t), freeAddr(t), freeAddr(t)
	issuer := "http://" + addrA
	// A first, then B: both would otherwise create the first keys at once.
	a := startNode(t, bin, env, addrA, issuer)
	a.waitReady(t)
	b := startNode(t, bin, env, addrB, issuer)
	c := startNode(t, bin, env, addrC, issuer)
	b.waitReady(t)
	c.waitReady(t)
	urlA, urlB, urlC := "http://"+addrA, "http://"+addrB, "http://"+addrC

	t.Run("all nodes publish the same key set", func(t *testing.T) {
		ka, kb, kc := kids(t, urlA), kids(t, urlB), kids(t, urlC)
		if len(ka) == 0 || !slices.Equal(ka, kb) || !slices.Equal(ka, kc) {
			t.Fatalf("JWKS differ: A %v, B %v, C %v", ka, kb, kc)
		}
	})

	t.Run("a login hopping between nodes gets a verifiable low-assurance ID token", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{
			Jar: jar, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		verifier := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("v", 10) + rand.Text()))
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{
			"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
			"scope": {"openid profile"}, "state": {"st4te"}, "nonce": {"n0nce"},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		}
		// 1. /authorize on A sends the browser to the login page.
		loc := redirect(t, hc, http.MethodGet, urlA+"/authorize?"+q.Encode(), nil)
		if !strings.Contains(loc.Path, "/login") || loc.Query().Get("id") == "" {
			t.Fatalf("/authorize redirected to %s, want /login?id=...", loc)
		}
		// 2. The login page, on B.
		res, body := do(t, hc, http.MethodGet, onNode(loc, urlB), nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /login on B: %d\n%s", res.StatusCode, body)
		}
		csrf, flow := hiddenInput(t, body, "csrf"), hiddenInput(t, body, "flow")
		// 3. The password, posted to B, back to the flow's page.
		form := url.Values{"username": {username}, "password": {password}, "csrf": {csrf}, "flow": {flow}}
		loc = redirect(t, hc, http.MethodPost, urlB+"/login", form)
		if loc.Path != "/login" || loc.Query().Get("flow") != flow {
			t.Fatalf("POST /login redirected to %s, want the flow page", loc)
		}
		// 3b. The flow page, on A, finishes the login (no factor required).
		loc = redirect(t, hc, http.MethodGet, onNode(loc, urlA), nil)
		if !strings.Contains(loc.Path, "/authorize/callback") {
			t.Fatalf("POST /login redirected to %s, want /authorize/callback", loc)
		}
		// 4. The callback, on A, hands out the code.
		loc = redirect(t, hc, http.MethodGet, onNode(loc, urlA), nil)
		if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
			t.Fatalf("callback redirected to %s, want %s", loc, redirectURI)
		}
		code := loc.Query().Get("code")
		if code == "" || loc.Query().Get("state") != "st4te" || loc.Query().Get("iss") != issuer {
			t.Fatalf("authorization response %s: want code, state and iss=%s", loc, issuer)
		}
		// 5. The code, redeemed at B.
		tokenForm := url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier},
		}
		req, _ := http.NewRequest(http.MethodPost, urlB+"/oauth/token", strings.NewReader(tokenForm.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, clientSecret)
		res, tokBody := doReq(t, hc, req)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("token on B: %d %s", res.StatusCode, tokBody)
		}
		var tok struct {
			IDToken     string `json:"id_token"`
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal([]byte(tokBody), &tok); err != nil || tok.IDToken == "" {
			t.Fatalf("token response %s: %v", tokBody, err)
		}
		// 6. The ID token verifies against A's key set.
		claims := verifyJWT(t, tok.IDToken, jwks(t, urlA))
		if claims["iss"] != issuer || claims["nonce"] != "n0nce" || claims["sub"] == "" {
			t.Errorf("claims %v: want iss %s, nonce n0nce and a subject", claims, issuer)
		}
		if aud := fmt.Sprint(claims["aud"]); !strings.Contains(aud, clientID) {
			t.Errorf("aud = %v, want %s", claims["aud"], clientID)
		}
		if claims["acr"] != "http://eidas.europa.eu/LoA/low" {
			t.Errorf("acr = %v, want http://eidas.europa.eu/LoA/low", claims["acr"])
		}
		if amr, _ := claims["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
			t.Errorf("amr = %v, want [pwd]", claims["amr"])
		}
		// The same code a second time, now at A: refused.
		req, _ = http.NewRequest(http.MethodPost, urlA+"/oauth/token", strings.NewReader(tokenForm.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, clientSecret)
		if res, body := doReq(t, hc, req); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
			t.Errorf("replayed code on A: %d %s, want 400 invalid_grant", res.StatusCode, body)
		}
	})

	t.Run("a key rotation reaches every node within the cache period", func(t *testing.T) {
		var rotated []struct {
			Kid string `json:"kid"`
		}
		if err := json.Unmarshal([]byte(cli("", "keys", "rotate", "--json")), &rotated); err != nil || len(rotated) == 0 {
			t.Fatalf("keys rotate --json: %v %v", rotated, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			missing := []string{}
			for _, node := range []string{urlA, urlB, urlC} {
				have := kids(t, node)
				for _, k := range rotated {
					if !slices.Contains(have, k.Kid) {
						missing = append(missing, node+":"+k.Kid)
					}
				}
			}
			if len(missing) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 10s still not published: %v", missing)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if ka, kb, kc := kids(t, urlA), kids(t, urlB), kids(t, urlC); !slices.Equal(ka, kb) || !slices.Equal(ka, kc) {
			t.Errorf("after rotation JWKS differ: A %v, B %v, C %v", ka, kb, kc)
		}
	})

	t.Run("a TOTP login hops over three nodes: enrolment, wrong codes counted across nodes, step-up", func(t *testing.T) {
		threeNodeTOTP(t, []string{urlA, urlB, urlC}, issuer, mfaClientID, clientSecret, redirectURI, username, password)
	})

	t.Run("SIGTERM stops every node cleanly", func(t *testing.T) {
		for _, n := range []*node{a, b, c} {
			n.terminate(t, 10*time.Second)
		}
	})
}

// node is one running idp serve process.
type node struct {
	addr string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // valid once done is closed
}

func startNode(t *testing.T, bin string, env []string, addr, issuer string) *node {
	t.Helper()
	n := &node{addr: addr, out: &syncBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(bin, "serve", "--listen", addr, "--issuer", issuer)
	n.cmd.Env = env
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("node %s output:\n%s", addr, n.out.String())
		}
	})
	return n
}

// waitReady polls /readyz for at most 20 s.
func (n *node) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-n.done:
			t.Fatalf("node %s exited before ready: %v\n%s", n.addr, n.err, n.out.String())
		default:
		}
		res, err := hc.Get("http://" + n.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not ready after 20s: %v\n%s", n.addr, err, n.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// terminate sends SIGTERM and wants exit status 0 within timeout.
func (n *node) terminate(t *testing.T, timeout time.Duration) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("node %s: SIGTERM: %v", n.addr, err)
	}
	select {
	case <-n.done:
		if n.err != nil {
			t.Errorf("node %s exited with %v after SIGTERM\n%s", n.addr, n.err, n.out.String())
		}
	case <-time.After(timeout):
		t.Errorf("node %s still running %s after SIGTERM", n.addr, timeout)
	}
}

// syncBuffer collects a process's output; written by exec's copier
// goroutine, read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// onNode points u at another node (same path and query).
func onNode(u *url.URL, base string) string {
	b, _ := url.Parse(base)
	v := *u
	v.Scheme, v.Host = b.Scheme, b.Host
	return v.String()
}

func do(t *testing.T, hc *http.Client, method, target string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return doReq(t, hc, req)
}

func doReq(t *testing.T, hc *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// redirect does one request that must answer with a redirect, and returns
// its absolute Location.
func redirect(t *testing.T, hc *http.Client, method, target string, form url.Values) *url.URL {
	t.Helper()
	res, body := do(t, hc, method, target, form)
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s %s: status %d, want a redirect\n%s", method, target, res.StatusCode, body)
	}
	loc, err := res.Location()
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return loc
}

func hiddenInput(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil || m[1] == "" {
		t.Fatalf("no hidden input %q in the login page:\n%s", name, page)
	}
	return html.UnescapeString(m[1])
}

func jwks(t *testing.T, base string) jose.JSONWebKeySet {
	t.Helper()
	res, body := do(t, http.DefaultClient, http.MethodGet, base+"/keys", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/keys: %d %s", base, res.StatusCode, body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatalf("GET %s/keys: %v\n%s", base, err, body)
	}
	return set
}

// kids lists the key ids a node publishes, sorted.
func kids(t *testing.T, base string) []string {
	t.Helper()
	var out []string
	for _, k := range jwks(t, base).Keys {
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

// verifyJWT checks the signature of a compact JWS against set and returns
// its claims.
func verifyJWT(t *testing.T, token string, set jose.JSONWebKeySet) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatalf("ID token does not parse: %v", err)
	}
	if len(jws.Signatures) != 1 {
		t.Fatalf("ID token has %d signatures", len(jws.Signatures))
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) == 0 {
		t.Fatalf("ID token kid %q is not in the key set", kid)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("ID token signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if exp, _ := claims["exp"].(float64); time.Unix(int64(exp), 0).Before(time.Now()) {
		t.Errorf("ID token expired: exp %v", claims["exp"])
	}
	return claims
}

// threeNodeTOTP drives logins of a client requiring LoA substantial, every
// request on the next node: enrolment (password on one node, QR code on
// another, activation on a third), then a login whose wrong TOTP codes land
// on different nodes and still end the challenge after five.
func threeNodeTOTP(t *testing.T, nodes []string, issuer, clientID, secret, redirectURI, username, password string) {
	var turn int
	next := func() string { turn++; return nodes[turn%len(nodes)] }
	newBrowser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	// step sends one request to the next node and follows nothing.
	step := func(hc *http.Client, method, path string, form url.Values) (*http.Response, string) {
		t.Helper()
		return do(t, hc, method, next()+path, form)
	}
	// page GETs the flow page on the next node and wants 200.
	page := func(hc *http.Client, flow string) string {
		t.Helper()
		res, body := step(hc, http.MethodGet, "/login?flow="+url.QueryEscape(flow), nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("flow page: %d\n%s", res.StatusCode, body)
		}
		return body
	}
	post := func(hc *http.Client, path string, body string, form url.Values) (*http.Response, string) {
		t.Helper()
		form.Set("csrf", hiddenInput(t, body, "csrf"))
		form.Set("flow", hiddenInput(t, body, "flow"))
		return step(hc, http.MethodPost, path, form)
	}
	// finish follows the flow page to the code and redeems it on the next node.
	finish := func(hc *http.Client, flow, verifier string) map[string]any {
		t.Helper()
		res, body := step(hc, http.MethodGet, "/login?flow="+url.QueryEscape(flow), nil)
		loc, err := res.Location()
		if err != nil {
			t.Fatalf("flow page did not finish: %d\n%s", res.StatusCode, body)
		}
		res, _ = step(hc, http.MethodGet, loc.RequestURI(), nil)
		loc, err = res.Location()
		if err != nil || loc.Query().Get("code") == "" {
			t.Fatalf("callback: %d %v", res.StatusCode, loc)
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
		req, _ := http.NewRequest(http.MethodPost, next()+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, secret)
		res, tokBody := doReq(t, hc, req)
		var tok struct {
			IDToken string `json:"id_token"`
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(tokBody), &tok) != nil {
			t.Fatalf("token: %d %s", res.StatusCode, tokBody)
		}
		return verifyJWT(t, tok.IDToken, jwks(t, next()))
	}
	// start runs authorize and the password, and returns the flow id and
	// the page after the password.
	start := func(hc *http.Client) (flow, verifier, body string) {
		t.Helper()
		verifier = base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("v", 10) + rand.Text()))
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{
			"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"s"}, "nonce": {"n"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		}
		res, _ := step(hc, http.MethodGet, "/authorize?"+q.Encode(), nil)
		loc, err := res.Location()
		if err != nil {
			t.Fatalf("authorize: %d", res.StatusCode)
		}
		res, body = step(hc, http.MethodGet, loc.RequestURI(), nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("login page: %d", res.StatusCode)
		}
		flow = hiddenInput(t, body, "flow")
		if res, _ := post(hc, "/login", body, url.Values{"username": {username}, "password": {password}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("password: %d", res.StatusCode)
		}
		return flow, verifier, page(hc, flow)
	}
	code := func(key string, at time.Time) string {
		c, err := totp.GenerateCodeCustom(key, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Enrolment, one request per node.
	hc := newBrowser()
	flow, verifier, body := start(hc)
	if res, _ := post(hc, "/login/enroll", body, url.Values{"op": {"begin"}, "factor": {"totp"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("begin: %d", res.StatusCode)
	}
	body = page(hc, flow)
	m := regexp.MustCompile(`secret=([A-Z2-7]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no TOTP key:\n%s", body)
	}
	key := m[1]
	if res, b := post(hc, "/login/enroll", body, url.Values{"op": {"finish"}, "code": {code(key, time.Now())}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("activate: %d\n%s", res.StatusCode, b)
	}
	body = page(hc, flow) // the recovery codes
	if res, _ := post(hc, "/login/enroll", body, url.Values{"op": {"finish"}, "saved": {"on"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("recovery codes: %d", res.StatusCode)
	}
	claims := finish(hc, flow, verifier)
	if claims["acr"] != "http://eidas.europa.eu/LoA/substantial" || claims["iss"] != issuer {
		t.Fatalf("after enrolment: %v", claims)
	}

	// A new browser: five wrong codes on alternating nodes end the
	// challenge (the counter is in the database), a retry starts a new one.
	hc = newBrowser()
	flow, verifier, body = start(hc)
	right := code(key, time.Now().Add(30*time.Second)) // the next step: the activation's is used
	wrong := "000000"
	if wrong == right {
		wrong = "111111"
	}
	for i := 1; i <= 5; i++ {
		res, b := post(hc, "/login/factor", body, url.Values{"code": {wrong}})
		want := http.StatusUnprocessableEntity
		if i == 5 {
			want = http.StatusSeeOther
		}
		if res.StatusCode != want {
			t.Fatalf("wrong code %d: %d, want %d\n%s", i, res.StatusCode, want, b)
		}
		if i < 5 {
			body = b
		}
	}
	body = page(hc, flow)
	if !strings.Contains(body, `value="retry"`) {
		t.Fatalf("no retry after five wrong codes:\n%s", body)
	}
	if res, _ := post(hc, "/login/factor", body, url.Values{"op": {"retry"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d", res.StatusCode)
	}
	body = page(hc, flow)
	if res, b := post(hc, "/login/factor", body, url.Values{"code": {right}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("right code: %d\n%s", res.StatusCode, b)
	}
	claims = finish(hc, flow, verifier)
	if claims["acr"] != "http://eidas.europa.eu/LoA/substantial" {
		t.Fatalf("after TOTP: %v", claims)
	}
	if amr := fmt.Sprint(claims["amr"]); !strings.Contains(amr, "otp") || !strings.Contains(amr, "pwd") {
		t.Fatalf("amr %v", amr)
	}
}
