package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

var b64std = base64.StdEncoding

// scenarios in the order docs/LOADTEST.md lists them. The first five speak
// only standard OIDC/OAuth and run against any OP; the logins drive this
// project's HTML pages.
var scenarios = []scenario{
	{name: "discovery", about: "GET /.well-known/openid-configuration", start: startDiscovery},
	{name: "jwks", about: "GET the jwks_uri of discovery", start: startJWKS},
	{name: "client-credentials", about: "POST token endpoint, grant_type=client_credentials, client_secret_basic", start: startClientCredentials},
	{name: "introspect", about: "POST introspection endpoint with an access token got at set-up, as the client", start: startIntrospect},
	{name: "refresh", about: "POST token endpoint, grant_type=refresh_token; each worker keeps its own rotating chain", start: startRefresh},
	{name: "login", about: "authorize (PKCE) -> password page -> code -> token, a new browser each time", start: startLogin},
	{name: "login-totp", about: "as login, at the client requiring substantial: password, then a TOTP code", start: startLoginTOTP},
	{name: "step-up", about: "login at low, then authorize again with acr_values: TOTP only -> token", start: startStepUp},
}

// reusable is a request a worker sends again and again: built once, bound
// to the run's context once, its body rewound before each send.
type reusable struct {
	base, bound *http.Request
	ctx         context.Context
	body        []byte
	rd          bytes.Reader
	rc          io.ReadCloser
}

type readerCloser struct{ *bytes.Reader }

func (readerCloser) Close() error { return nil }

func newReusable(method, u, auth string, body []byte) (*reusable, error) {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Accept", "application/json")
	r := &reusable{base: req}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.rc = readerCloser{&r.rd}
		r.setBody(body)
	}
	return r, nil
}

// setBody replaces the body (a refresh token rotated); b is kept, not copied.
func (r *reusable) setBody(b []byte) {
	r.body = b
	r.base.ContentLength = int64(len(b))
	r.base.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.ctx = nil
}

func (r *reusable) request(ctx context.Context) *http.Request {
	if r.ctx != ctx {
		r.bound, r.ctx = r.base.WithContext(ctx), ctx
	}
	if r.body != nil {
		r.rd.Reset(r.body)
		r.bound.Body = r.rc
	}
	return r.bound
}

// getIteration GETs u and wants a 200 whose body contains marker.
func getIteration(w *worker, endpoint, u, marker string) (iteration, error) {
	r, err := newReusable(http.MethodGet, u, "", nil)
	if err != nil {
		return iteration{}, err
	}
	m := []byte(marker)
	return iteration{do: func(ctx context.Context) error {
		resp, body, err := w.send(w.client, r.request(ctx))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return httpError(endpoint, resp.StatusCode, body)
		}
		if !bytes.Contains(body, m) {
			return errKind(endpoint+": unexpected body", "no %s in %d bytes", marker, len(body))
		}
		return nil
	}}, nil
}

func startDiscovery(_ context.Context, w *worker) (iteration, error) {
	return getIteration(w, "discovery", discoveryURL(w.env.opts.Issuer), `"issuer"`)
}

func startJWKS(_ context.Context, w *worker) (iteration, error) {
	return getIteration(w, "jwks", w.env.disc.JWKSURI, `"keys"`)
}

func (e *env) needClient() error {
	if e.basic == "" {
		return errors.New("no client: give --setup-file, or --client-id and --client-secret")
	}
	return nil
}

// tokenPost posts body to the token endpoint and wants a 200 with field.
func tokenPost(ctx context.Context, w *worker, r *reusable, field string) ([]byte, error) {
	resp, body, err := w.send(w.client, r.request(ctx))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, httpError("token", resp.StatusCode, body)
	}
	if !bytes.Contains(body, []byte(`"`+field+`"`)) {
		return nil, errKind("token: no "+field, "%d bytes", len(body))
	}
	return body, nil
}

var ccBody = []byte("grant_type=client_credentials")

func startClientCredentials(_ context.Context, w *worker) (iteration, error) {
	if err := w.env.needClient(); err != nil {
		return iteration{}, err
	}
	r, err := newReusable(http.MethodPost, w.env.disc.TokenEndpoint, w.env.basic, ccBody)
	if err != nil {
		return iteration{}, err
	}
	return iteration{do: func(ctx context.Context) error {
		_, err := tokenPost(ctx, w, r, "access_token")
		return err
	}}, nil
}

func startIntrospect(ctx context.Context, w *worker) (iteration, error) {
	e := w.env
	if err := e.needClient(); err != nil {
		return iteration{}, err
	}
	if e.disc.IntrospectionEndpoint == "" {
		return iteration{}, errors.New("introspect: discovery has no introspection_endpoint")
	}
	// The token to introspect: a client_credentials one, so the scenario
	// needs no login and runs against any OP with that grant.
	tr, err := newReusable(http.MethodPost, e.disc.TokenEndpoint, e.basic, ccBody)
	if err != nil {
		return iteration{}, err
	}
	body, err := tokenPost(ctx, w, tr, "access_token")
	if err != nil {
		return iteration{}, fmt.Errorf("introspect: getting a token: %w", err)
	}
	at := jsonString(body, "access_token")
	form := []byte("token=" + url.QueryEscape(at) + "&token_type_hint=access_token")
	r, err := newReusable(http.MethodPost, e.disc.IntrospectionEndpoint, e.basic, form)
	if err != nil {
		return iteration{}, err
	}
	active := []byte(`"active":true`)
	return iteration{do: func(ctx context.Context) error {
		resp, body, err := w.send(w.client, r.request(ctx))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return httpError("introspect", resp.StatusCode, body)
		}
		if !bytes.Contains(body, active) {
			return errKind("introspect: token not active", "%s", truncate(string(body), 200))
		}
		return nil
	}}, nil
}

// startRefresh logs the worker in once (untimed) for its own refresh
// token, then each iteration redeems the current token and keeps the new
// one: the chain rotates at every step, as a relying party's would.
func startRefresh(ctx context.Context, w *worker) (iteration, error) {
	e := w.env
	if err := e.needClient(); err != nil {
		return iteration{}, err
	}
	if len(e.setup.Users) == 0 {
		return iteration{}, errors.New("refresh: needs a user to log in once per worker (--setup-file or --username/--password)")
	}
	user := &e.setup.Users[w.id%len(e.setup.Users)]
	r, err := newReusable(http.MethodPost, e.disc.TokenEndpoint, e.basic, []byte{})
	if err != nil {
		return iteration{}, err
	}
	var form []byte
	setToken := func(rt string) {
		form = append(form[:0], "grant_type=refresh_token&refresh_token="...)
		form = append(form, url.QueryEscape(rt)...)
		// The request keeps the slice it is given: a fresh one per
		// rotation, so a retry's GetBody never sees the next token.
		r.setBody(bytes.Clone(form))
	}
	relogin := func(ctx context.Context) error {
		b := newBrowser(w)
		cb, verifier, err := b.authorize(ctx, loginParams{
			clientID: e.setup.ClientID, redirectURI: e.setup.redirectURI(), scope: "openid offline_access", user: user,
		})
		if err != nil {
			return err
		}
		body, err := b.exchange(ctx, e.basic, cb, verifier, e.setup.redirectURI(), "refresh_token")
		if err != nil {
			return err
		}
		setToken(jsonString(body, "refresh_token"))
		return nil
	}
	if err := relogin(ctx); err != nil {
		return iteration{}, fmt.Errorf("refresh: the worker's first login: %w", err)
	}
	return iteration{
		do: func(ctx context.Context) error {
			body, err := tokenPost(ctx, w, r, "refresh_token")
			if err != nil {
				return err
			}
			rt := jsonString(body, "refresh_token")
			if rt == "" {
				return errKind("token: no refresh_token", "")
			}
			setToken(rt)
			return nil
		},
		recover: relogin,
	}, nil
}

func startLogin(_ context.Context, w *worker) (iteration, error) {
	e := w.env
	if err := e.needClient(); err != nil {
		return iteration{}, err
	}
	if len(e.setup.Users) == 0 {
		return iteration{}, errors.New("login: no users (--setup-file or --username/--password)")
	}
	n := w.id
	return iteration{do: func(ctx context.Context) error {
		user := &e.setup.Users[n%len(e.setup.Users)]
		n += e.opts.Concurrency
		b := newBrowser(w)
		cb, verifier, err := b.authorize(ctx, loginParams{
			clientID: e.setup.ClientID, redirectURI: e.setup.redirectURI(), scope: "openid profile email", user: user,
		})
		if err != nil {
			return err
		}
		_, err = b.exchange(ctx, e.basic, cb, verifier, e.setup.redirectURI(), "id_token")
		return err
	}}, nil
}

func (e *env) needTOTP(name string) error {
	if e.pool == nil {
		return fmt.Errorf("%s: no TOTP users (setup --totp-users N, or --username/--password/--totp-secret)", name)
	}
	return nil
}

// startLoginTOTP: each iteration takes a TOTP user whose next code is
// unused (waiting, untimed, when there is none), logs in at the client
// that requires substantial, answers the TOTP page and redeems the code.
func startLoginTOTP(_ context.Context, w *worker) (iteration, error) {
	e := w.env
	if e.mfa == "" {
		return iteration{}, errors.New("login-totp: no client requiring substantial (setup's mfa_client_id)")
	}
	if err := e.needTOTP("login-totp"); err != nil {
		return iteration{}, err
	}
	var user *benchUser
	return iteration{
		prepare: func(ctx context.Context) (err error) {
			user, err = e.pool.acquire(ctx)
			return err
		},
		do: func(ctx context.Context) error {
			defer e.pool.release(user)
			b := newBrowser(w)
			cb, verifier, err := b.authorize(ctx, loginParams{
				clientID: e.setup.MFAClientID, redirectURI: e.setup.redirectURI(), scope: "openid profile", user: user, totp: true,
			})
			if err != nil {
				return err
			}
			_, err = b.exchange(ctx, e.mfa, cb, verifier, e.setup.redirectURI(), "id_token")
			return err
		},
	}, nil
}

// startStepUp: a password login at the low client, its token, then the
// same browser authorizes again with acr_values: only the TOTP page is
// shown; the second half is also recorded as the phase "step-up".
func startStepUp(_ context.Context, w *worker) (iteration, error) {
	e := w.env
	if err := e.needClient(); err != nil {
		return iteration{}, err
	}
	if err := e.needTOTP("step-up"); err != nil {
		return iteration{}, err
	}
	acr := e.opts.ACR
	var user *benchUser
	return iteration{
		prepare: func(ctx context.Context) (err error) {
			user, err = e.pool.acquire(ctx)
			return err
		},
		do: func(ctx context.Context) error {
			defer e.pool.release(user)
			b := newBrowser(w)
			p := loginParams{clientID: e.setup.ClientID, redirectURI: e.setup.redirectURI(), scope: "openid", user: user}
			cb, verifier, err := b.authorize(ctx, p)
			if err != nil {
				return err
			}
			if _, err := b.exchange(ctx, e.basic, cb, verifier, e.setup.redirectURI(), "id_token"); err != nil {
				return err
			}
			t0 := time.Now()
			p.acrValues, p.totp, p.noPassword = acr, true, true
			cb, verifier, err = b.authorize(ctx, p)
			if err != nil {
				return err
			}
			body, err := b.exchange(ctx, e.basic, cb, verifier, e.setup.redirectURI(), "id_token")
			if err != nil {
				return err
			}
			if acr != "" && !idTokenHasACR(jsonString(body, "id_token"), acr) {
				return errKind("step-up: acr not reached", "the ID token does not carry %s", acr)
			}
			w.phase("step-up", time.Since(t0))
			return nil
		},
	}, nil
}

// idTokenHasACR decodes the ID token's payload (no signature check: the
// load tool trusts the server it measures) and looks for the acr.
func idTokenHasACR(idt, acr string) bool {
	parts := strings.Split(idt, ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	return jsonString(raw, "acr") == acr
}

// jsonString returns the string value of key in a flat JSON object
// without decoding the rest: token responses are read on the hot path.
// Escaped values fall back to encoding/json.
func jsonString(body []byte, key string) string {
	pat := `"` + key + `"`
	i := 0
	for {
		j := bytes.Index(body[i:], []byte(pat))
		if j < 0 {
			return ""
		}
		k := i + j + len(pat)
		for k < len(body) && (body[k] == ' ' || body[k] == '\n' || body[k] == '\t' || body[k] == '\r') {
			k++
		}
		if k >= len(body) || body[k] != ':' {
			i = k // a value equal to the key name; keep looking
			continue
		}
		k++
		for k < len(body) && (body[k] == ' ' || body[k] == '\n' || body[k] == '\t' || body[k] == '\r') {
			k++
		}
		if k >= len(body) || body[k] != '"' {
			return ""
		}
		end := bytes.IndexByte(body[k+1:], '"')
		if end < 0 {
			return ""
		}
		v := body[k+1 : k+1+end]
		if bytes.IndexByte(v, '\\') < 0 {
			return string(v)
		}
		var m map[string]json.RawMessage
		var out string
		if json.Unmarshal(body, &m) == nil {
			_ = json.Unmarshal(m[key], &out)
		}
		return out
	}
}
