package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestBadInput: every malformed or hostile request gets the spec's error
// and changes nothing.
func TestBadInput(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) { badInput(t, backend) })
	}
}

func badInput(t *testing.T, backend string) {
	idp := startIdP(t, backend)
	ctx := context.Background()
	r := idp.rp(clientPortal, rpSecret)

	t.Run("an unregistered redirect_uri shows an error page and never redirects", func(t *testing.T) {
		for _, q := range []url.Values{
			{"client_id": {clientPortal}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"}},
			{"client_id": {clientPortal}, "redirect_uri": {rpRedirect + "/extra"}, "response_type": {"code"}, "scope": {"openid"}},
			{"client_id": {"no-such-client"}, "redirect_uri": {rpRedirect}, "response_type": {"code"}, "scope": {"openid"}},
		} {
			p := idp.browser().get(idp.issuer + "/authorize?" + q.Encode())
			if p.status != http.StatusBadRequest || p.location != "" || !strings.Contains(p.header.Get("Content-Type"), "text/html") {
				t.Fatalf("%v: %d %q %q", q, p.status, p.location, p.header.Get("Content-Type"))
			}
			if !strings.Contains(p.body, "<html") || strings.Contains(p.body, "evil.example") {
				t.Fatalf("not our error page:\n%s", p.body)
			}
		}
	})

	t.Run("a public client must use PKCE with S256", func(t *testing.T) {
		spa := idp.rp(clientSPA, "")
		p := idp.browser().get(spa.conf.AuthCodeURL("s"))
		if cb := p.callback(t); cb.Get("error") != "invalid_request" || cb.Get("state") != "s" {
			t.Fatalf("no PKCE: %v", cb)
		}
		p = idp.browser().get(spa.conf.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrs"), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if cb := p.callback(t); cb.Get("error") != "invalid_request" {
			t.Fatalf("plain PKCE: %v", cb)
		}
	})

	t.Run("a public client completes the flow with S256", func(t *testing.T) {
		spa := idp.rp(clientSPA, "")
		v := oauth2.GenerateVerifier()
		cb := idp.browser().loginFlow(spa, v)
		if _, err := spa.conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(v)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a wrong or missing PKCE verifier is invalid_grant and leaves the code usable", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := idp.browser().loginFlow(r, v).Get("code")
		for _, form := range []url.Values{
			{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {oauth2.GenerateVerifier()}},
			{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}},
		} {
			st, m, _ := idp.apiPost("/oauth/token", clientPortal, rpSecret, form)
			if st != http.StatusBadRequest || m["error"] != "invalid_grant" {
				t.Fatalf("%d %v", st, m)
			}
		}
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Fatalf("the right verifier after wrong ones: %v", err)
		}
	})

	t.Run("a reused code fails and revokes what the first use issued", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := idp.browser().loginFlow(r, v).Get("code")
		tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("second redemption succeeded")
		}
		if _, m, _ := idp.apiPost("/oauth/introspect", clientPortal, rpSecret, url.Values{"token": {tok.AccessToken}}); m["active"] != false {
			t.Fatalf("access token of a replayed code is active: %v", m)
		}
		if st, _, _ := idp.apiPost("/oauth/token", clientPortal, rpSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != http.StatusBadRequest {
			t.Fatalf("refresh token of a replayed code works: %d", st)
		}
	})

	t.Run("concurrent redemptions of one code: exactly one wins", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := idp.browser().loginFlow(r, v).Get("code")
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d redemptions succeeded", wins)
		}
	})

	t.Run("a code is dead after 60 seconds", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := idp.browser().loginFlow(r, v).Get("code")
		idp.clock.Advance(idp.cfg.Tokens.AuthCodeLifetime + time.Second)
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("expired code redeemed")
		}
	})

	t.Run("a wrong client secret is 401 invalid_client with WWW-Authenticate", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := idp.browser().loginFlow(r, v).Get("code")
		st, m, h := idp.apiPost("/oauth/token", clientPortal, "wrong-secret", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {v}})
		if st != http.StatusUnauthorized || m["error"] != "invalid_client" || h.Get("WWW-Authenticate") == "" {
			t.Fatalf("%d %v %q", st, m, h.Get("WWW-Authenticate"))
		}
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Fatalf("the code must survive a failed client authentication: %v", err)
		}
	})

	t.Run("malformed token requests get OAuth errors", func(t *testing.T) {
		cases := []struct {
			form url.Values
			want string
		}{
			{url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}}, "unsupported_grant_type"},
			{url.Values{"grant_type": {"authorization_code"}, "code": {"garbage"}, "redirect_uri": {rpRedirect}, "code_verifier": {"x"}}, "invalid_grant"},
			{url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"garbage"}}, "invalid_grant"},
		}
		for _, c := range cases {
			st, m, _ := idp.apiPost("/oauth/token", clientPortal, rpSecret, c.form)
			if st != http.StatusBadRequest || m["error"] != c.want {
				t.Errorf("%v: %d %v, want %s", c.form, st, m, c.want)
			}
		}
	})

	t.Run("an oversized request is refused with 413", func(t *testing.T) {
		big := strings.Repeat("a", int(idp.cfg.HTTP.MaxBodyBytes)+1)
		st, _, _ := idp.apiPost("/oauth/token", clientPortal, rpSecret, url.Values{"grant_type": {"client_credentials"}, "pad": {big}})
		if st != http.StatusRequestEntityTooLarge {
			t.Fatalf("token endpoint: %d", st)
		}
		p := idp.browser().postForm(idp.issuer+"/login", url.Values{"id": {"x"}, "username": {big}})
		if p.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("login: %d", p.status)
		}
	})

	t.Run("malformed claims parameter is invalid_request at the redirect URI", func(t *testing.T) {
		p := idp.browser().get(r.authCodeURL("s", "n", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("claims", "{not json")))
		if cb := p.callback(t); cb.Get("error") != "invalid_request" {
			t.Fatalf("%v", cb)
		}
	})

	t.Run("a login post without the CSRF token is refused and completes nothing", func(t *testing.T) {
		b := idp.browser()
		p := b.get(r.authCodeURL("s", "n", oauth2.GenerateVerifier()))
		_, flow := p.hidden(t)
		resp := b.postForm(idp.issuer+"/login", url.Values{"flow": {flow}, "username": {testUser}, "password": {testPassword}})
		if resp.status != http.StatusForbidden || !strings.Contains(resp.body, "<html") {
			t.Fatalf("missing CSRF: %d", resp.status)
		}
		resp = b.postForm(idp.issuer+"/login", url.Values{"flow": {flow}, "csrf": {"forged"}, "username": {testUser}, "password": {testPassword}})
		if resp.status != http.StatusForbidden {
			t.Fatalf("forged CSRF: %d", resp.status)
		}
		f, err := idp.st.LoginFlowByID(ctx, flow, idp.clock.Now())
		if err != nil || f.UserID != "" || f.Version != 1 {
			t.Fatalf("login flow changed: %+v %v", f, err)
		}
		ar, err := idp.st.AuthRequestByID(ctx, f.AuthRequestID, idp.clock.Now())
		if err != nil || ar.Done || ar.UserID != "" {
			t.Fatalf("auth request changed: %+v %v", ar, err)
		}
		// The real form still works.
		if cb := b.submitLogin(p, testUser, testPassword).callback(t); cb.Get("code") == "" {
			t.Fatalf("%v", cb)
		}
	})

	t.Run("an unknown or tampered login id shows the expired page", func(t *testing.T) {
		b := idp.browser()
		for _, id := range []string{"", "00000000-0000-0000-0000-000000000000", "'; DROP TABLE users;--", strings.Repeat("9", 300)} {
			p := b.get(idp.issuer + "/login?id=" + url.QueryEscape(id))
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, "<html") {
				t.Fatalf("id %q: %d", id, p.status)
			}
		}
	})

	t.Run("an unregistered post_logout_redirect_uri is refused", func(t *testing.T) {
		q := url.Values{"client_id": {clientPortal}, "post_logout_redirect_uri": {"https://evil.example/"}}
		p := idp.browser().get(idp.issuer + "/end_session?" + q.Encode())
		if p.status < 400 || p.location != "" {
			t.Fatalf("%d %q", p.status, p.location)
		}
	})

	t.Run("empty and overlong login fields get messages by the field", func(t *testing.T) {
		b := idp.browser()
		p := b.get(r.authCodeURL("s", "n", oauth2.GenerateVerifier()))
		resp := b.submitLogin(p, "", "")
		if resp.status != http.StatusBadRequest || !strings.Contains(resp.body, `id="username-error"`) || !strings.Contains(resp.body, `id="password-error"`) {
			t.Fatalf("%d\n%s", resp.status, resp.body)
		}
	})
}
