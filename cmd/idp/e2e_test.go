package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/eu-health-idp/idp/idp/assurance"
)

// TestCodeFlowWithStandardRP is the relying party's whole day, on every
// backend: discovery, code + PKCE through the HTML login, ID token
// verified against JWKS, userinfo, introspection, refresh with rotation,
// replay detection, revocation, and logout.
func TestCodeFlowWithStandardRP(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) {
			idp := startIdP(t, backend)
			ctx := context.Background()
			r := idp.rp(clientPortal, rpSecret)
			b := idp.browser()

			verifier := oauth2.GenerateVerifier()
			before := time.Now().Add(-time.Second)
			cb := b.loginFlow(r, verifier)
			if cb.Get("state") != "st-1" {
				t.Fatalf("state = %q", cb.Get("state"))
			}
			if cb.Get("iss") != idp.issuer {
				t.Fatalf("RFC 9207 iss = %q, want %q", cb.Get("iss"), idp.issuer)
			}
			tok, err := r.conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("code exchange: %v", err)
			}
			idt, claims := r.verifyIDToken(t, tok)
			if claims.Nonce != "n-1" || claims.Subject != idp.user.ID {
				t.Fatalf("nonce %q sub %q", claims.Nonce, claims.Subject)
			}
			if claims.ACR != assurance.LoALow || !slices.Equal(claims.AMR, []string{"pwd"}) {
				t.Fatalf("acr %q amr %v, want low and [pwd]", claims.ACR, claims.AMR)
			}
			if at := time.Unix(claims.AuthTime, 0); at.Before(before.Truncate(time.Second)) || at.After(time.Now().Add(time.Second)) {
				t.Fatalf("auth_time %v not around the login", at)
			}
			if claims.Email != testUserEmail || claims.Username != testUser {
				t.Fatalf("email %q preferred_username %q", claims.Email, claims.Username)
			}
			if tok.RefreshToken == "" {
				t.Fatal("offline_access granted no refresh token")
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}

			t.Run("userinfo answers for the access token", func(t *testing.T) {
				ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
				if err != nil {
					t.Fatal(err)
				}
				if ui.Subject != idp.user.ID || ui.Email != testUserEmail {
					t.Fatalf("userinfo sub %q email %q", ui.Subject, ui.Email)
				}
			})

			t.Run("introspection shows acr, amr and auth_time", func(t *testing.T) {
				st, m, _ := idp.apiPost("/oauth/introspect", clientPortal, rpSecret, url.Values{"token": {tok.AccessToken}})
				if st != http.StatusOK || m["active"] != true || m["acr"] != assurance.LoALow || m["sub"] != idp.user.ID {
					t.Fatalf("introspection %d %v", st, m)
				}
				if _, ok := m["auth_time"]; !ok {
					t.Fatalf("no auth_time in %v", m)
				}
			})

			t.Run("another client may not introspect the token", func(t *testing.T) {
				_, m, _ := idp.apiPost("/oauth/introspect", clientLegacy, rpSecret, url.Values{"token": {tok.AccessToken}})
				if m["active"] != false {
					t.Fatalf("foreign client saw %v", m)
				}
			})

			// Refresh: rotation issues a new refresh token and keeps acr.
			first := tok.RefreshToken
			refreshed, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: first, Expiry: time.Now().Add(-time.Hour)}).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if refreshed.RefreshToken == "" || refreshed.RefreshToken == first {
				t.Fatal("refresh did not rotate the refresh token")
			}
			_, rc := r.verifyIDToken(t, refreshed)
			if rc.ACR != assurance.LoALow || !slices.Equal(rc.AMR, []string{"pwd"}) || rc.AuthTime != claims.AuthTime {
				t.Fatalf("refreshed ID token lost its assurance: %+v", rc)
			}

			t.Run("a replayed refresh token is refused and revokes its family", func(t *testing.T) {
				st, m, _ := idp.apiPost("/oauth/token", clientPortal, rpSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}})
				if st != http.StatusBadRequest || m["error"] != "invalid_grant" {
					t.Fatalf("replay: %d %v", st, m)
				}
				st, m, _ = idp.apiPost("/oauth/token", clientPortal, rpSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshed.RefreshToken}})
				if st != http.StatusBadRequest || m["error"] != "invalid_grant" {
					t.Fatalf("the newest link still works after a replay: %d %v", st, m)
				}
				_, m, _ = idp.apiPost("/oauth/introspect", clientPortal, rpSecret, url.Values{"token": {refreshed.AccessToken}})
				if m["active"] != false {
					t.Fatalf("access token of the revoked family is still active: %v", m)
				}
			})

			t.Run("revocation ends an access token", func(t *testing.T) {
				cb := b.loginFlow(r, verifier) // SSO: no second password prompt
				tok2, err := r.conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatal(err)
				}
				st, _, _ := idp.apiPost("/revoke", clientPortal, rpSecret, url.Values{"token": {tok2.AccessToken}})
				if st != http.StatusOK {
					t.Fatalf("revoke: %d", st)
				}
				_, m, _ := idp.apiPost("/oauth/introspect", clientPortal, rpSecret, url.Values{"token": {tok2.AccessToken}})
				if m["active"] != false {
					t.Fatalf("revoked token is active: %v", m)
				}
				if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok2)); err == nil {
					t.Fatal("userinfo accepted a revoked token")
				}
				// Revoking the refresh token ends it too.
				st, _, _ = idp.apiPost("/revoke", clientPortal, rpSecret, url.Values{"token": {tok2.RefreshToken}, "token_type_hint": {"refresh_token"}})
				if st != http.StatusOK {
					t.Fatalf("revoke refresh: %d", st)
				}
				st, m, _ = idp.apiPost("/oauth/token", clientPortal, rpSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2.RefreshToken}})
				if st != http.StatusBadRequest || m["error"] != "invalid_grant" {
					t.Fatalf("revoked refresh token still works: %d %v", st, m)
				}
			})

			t.Run("logout ends the SSO session and returns to a registered URI", func(t *testing.T) {
				raw := tok.Extra("id_token").(string)
				q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {rpPostLogout}, "state": {"bye-1"}}
				p := b.get(idp.issuer + "/end_session?" + q.Encode())
				if p.status != http.StatusFound || p.location != rpPostLogout+"?state=bye-1" {
					t.Fatalf("end_session: %d %q", p.status, p.location)
				}
				// prompt=none now has no session to use.
				p = b.get(r.authCodeURL("st-2", "n-2", verifier, oauth2.SetAuthURLParam("prompt", "none")))
				if cb := p.callback(t); cb.Get("error") != "login_required" {
					t.Fatalf("after logout prompt=none gave %v", cb)
				}
			})
		})
	}
}

// TestLoginBehaviour covers the login page and the OIDC request
// parameters around it on SQLite (the storage suite covers both backends).
func TestLoginBehaviour(t *testing.T) {
	idp := startIdP(t, "sqlite")
	ctx := context.Background()
	r := idp.rp(clientPortal, rpSecret)

	t.Run("prompt=none with a session returns a code without a page", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		b.loginFlow(r, v)
		p := b.get(r.authCodeURL("s", "n", v, oauth2.SetAuthURLParam("prompt", "none")))
		if cb := p.callback(t); cb.Get("code") == "" {
			t.Fatalf("prompt=none with session: %v", cb)
		}
	})

	t.Run("prompt=login and max_age=0 ask for the password again", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		b.loginFlow(r, v)
		for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
			p := b.get(r.authCodeURL("s", "n", v, opt))
			if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
				t.Fatalf("re-authentication not asked: %d %q", p.status, p.location)
			}
			cb := b.submitLogin(p, testUser, testPassword).callback(t)
			if cb.Get("code") == "" {
				t.Fatalf("no code after re-authentication: %v", cb)
			}
		}
	})

	t.Run("max_age leaves a recent session alone", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		b.loginFlow(r, v)
		p := b.get(r.authCodeURL("s", "n", v, oauth2.SetAuthURLParam("max_age", "3600")))
		if p.callback(t).Get("code") == "" {
			t.Fatal("max_age=3600 re-prompted a fresh session")
		}
	})

	t.Run("an essential acr that cannot be reached is an error, not a lower acr", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		// No registered factor is phishing-resistant, so high is out of reach.
		claims := `{"id_token":{"acr":{"essential":true,"values":["` + assurance.LoAHigh + `"]}}}`
		p := b.get(r.authCodeURL("s", "n", v, oauth2.SetAuthURLParam("claims", claims)))
		cb := b.submitLogin(p, testUser, testPassword).callback(t)
		if cb.Get("error") != "unmet_authentication_requirements" || cb.Get("code") != "" || cb.Get("state") != "s" {
			t.Fatalf("got %v", cb)
		}
	})

	t.Run("a voluntary acr_values gets the best reachable level", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.get(r.authCodeURL("s", "n", v, oauth2.SetAuthURLParam("acr_values", assurance.LoASubstantial)))
		cb := b.submitLogin(p, testUser, testPassword).callback(t)
		tok, err := r.conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if _, c := r.verifyIDToken(t, tok); c.ACR != assurance.LoALow {
			t.Fatalf("acr %q", c.ACR)
		}
	})

	t.Run("login_hint fills the username and ui_locales picks the language", func(t *testing.T) {
		b := idp.browser()
		p := b.get(r.authCodeURL("s", "n", oauth2.GenerateVerifier(),
			oauth2.SetAuthURLParam("login_hint", "alice"), oauth2.SetAuthURLParam("ui_locales", "pl")))
		if !strings.Contains(p.body, `value="alice"`) || !strings.Contains(p.body, `lang="pl"`) {
			t.Fatalf("login page without hint or Polish:\n%s", p.body)
		}
	})

	t.Run("a wrong password and an unknown user get the same message", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		wrong := b.submitLogin(b.get(r.authCodeURL("s", "n", v)), testUser, "not-the-password")
		unknown := b.submitLogin(b.get(r.authCodeURL("s", "n", v)), "nobody", "not-the-password")
		if wrong.status != unknown.status || !strings.Contains(wrong.body, `role="alert"`) {
			t.Fatalf("statuses %d %d", wrong.status, unknown.status)
		}
		strip := func(s string) string { return csrfRe.ReplaceAllString(idRe.ReplaceAllString(s, ""), "") }
		if w, u := strip(wrong.body), strip(unknown.body); strings.Replace(u, `value="nobody"`, `value="alice"`, 1) != w {
			t.Fatal("the pages for a wrong password and an unknown user differ")
		}
	})

	t.Run("repeated failures throttle the account, also with the right password", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		name := "throttled-" + strings.ToLower(t.Name()[len(t.Name())-4:])
		for i := 0; i < idp.cfg.Throttle.AccountFailures; i++ {
			b.submitLogin(b.get(r.authCodeURL("s", "n", v)), name, "wrong")
		}
		p := b.submitLogin(b.get(r.authCodeURL("s", "n", v)), name, "wrong")
		if p.status != http.StatusTooManyRequests {
			t.Fatalf("after %d failures: %d", idp.cfg.Throttle.AccountFailures, p.status)
		}
		idp.clock.Advance(idp.cfg.Throttle.Window + time.Second)
		p = b.submitLogin(b.get(r.authCodeURL("s", "n", v)), name, "wrong")
		if p.status == http.StatusTooManyRequests {
			t.Fatal("the throttle did not end with its window")
		}
	})

	t.Run("a disabled user cannot log in", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		u, err := newUser(ctx, idp.cfg, "bob", "bob@example.org", "", testPassword, idp.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := idp.st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := idp.st.SetUserDisabled(ctx, u.ID, true, idp.clock.Now()); err != nil {
			t.Fatal(err)
		}
		p := b.submitLogin(b.get(r.authCodeURL("s", "n", v)), "bob", testPassword)
		if p.status == http.StatusFound || !strings.Contains(p.body, `role="alert"`) {
			t.Fatalf("disabled user: %d %q", p.status, p.location)
		}
	})

	t.Run("the session cookie is HttpOnly, SameSite=Lax and renewed at every login", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		// One hop only, sharing the browser's cookies, to see Set-Cookie.
		oneHop := &http.Client{Jar: b.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		loginCookie := func(p page) *http.Cookie {
			csrf, flow := p.hidden(t)
			resp, err := oneHop.PostForm(idp.issuer+"/login", url.Values{"csrf": {csrf}, "flow": {flow}, "username": {testUser}, "password": {testPassword}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for _, c := range resp.Cookies() {
				if c.Name == idp.cfg.Session.CookieName {
					return c
				}
			}
			t.Fatalf("no session cookie after login (status %d)", resp.StatusCode)
			return nil
		}
		first := loginCookie(b.get(r.authCodeURL("s", "n", v)))
		if !first.HttpOnly || first.SameSite != http.SameSiteLaxMode || len(first.Value) < 22 {
			t.Fatalf("cookie %+v", first)
		}
		second := loginCookie(b.get(r.authCodeURL("s", "n", v, oauth2.SetAuthURLParam("prompt", "login"))))
		if second.Value == first.Value {
			t.Fatal("the session id was not renewed at the second login")
		}
	})

	t.Run("an RS256 client gets RS256 ID tokens, others ES256", func(t *testing.T) {
		for _, c := range []struct{ id, alg string }{{clientLegacy, "RS256"}, {clientPortal, "ES256"}} {
			rr := idp.rp(c.id, rpSecret)
			rr.conf.Scopes = []string{oidc.ScopeOpenID}
			rr.verifier = rr.provider.Verifier(&oidc.Config{ClientID: c.id, SupportedSigningAlgs: []string{c.alg}})
			b := idp.browser()
			v := oauth2.GenerateVerifier()
			cb := b.loginFlow(rr, v)
			tok, err := rr.conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatal(err)
			}
			rr.verifyIDToken(t, tok)
		}
	})

	t.Run("client credentials issues a JWT access token that verifies against JWKS", func(t *testing.T) {
		st, m, h := idp.apiPost("/oauth/token", clientPortal, rpSecret, url.Values{"grant_type": {"client_credentials"}})
		if st != http.StatusOK || m["access_token"] == nil || h.Get("Cache-Control") != "no-store" {
			t.Fatalf("client_credentials %d %v cache=%q", st, m, h.Get("Cache-Control"))
		}
		ks := oidc.NewRemoteKeySet(ctx, idp.issuer+"/keys")
		if _, err := ks.VerifySignature(ctx, m["access_token"].(string)); err != nil {
			t.Fatalf("JWT access token: %v", err)
		}
		_, im, _ := idp.apiPost("/oauth/introspect", clientPortal, rpSecret, url.Values{"token": {m["access_token"].(string)}})
		if im["active"] != true || im["client_id"] != clientPortal {
			t.Fatalf("introspection %v", im)
		}
	})

	t.Run("opaque access tokens introspect too", func(t *testing.T) {
		_, m, _ := idp.apiPost("/oauth/token", clientReporter, rpSecret, url.Values{"grant_type": {"client_credentials"}})
		at, _ := m["access_token"].(string)
		if at == "" || strings.Count(at, ".") == 2 {
			t.Fatalf("want an opaque token, got %q", at)
		}
		_, im, _ := idp.apiPost("/oauth/introspect", clientReporter, rpSecret, url.Values{"token": {at}})
		if im["active"] != true {
			t.Fatalf("introspection %v", im)
		}
	})
}

// TestImportedBcryptHashIsUpgraded: a user migrated with a bcrypt hash logs
// in, and the stored hash becomes argon2id.
func TestImportedBcryptHashIsUpgraded(t *testing.T) {
	idp := startIdP(t, "sqlite")
	ctx := context.Background()
	hash, err := bcrypt.GenerateFromPassword([]byte("old-system-password-7"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := importUser("carol", "carol@example.org", "", "not-a-hash", idp.clock.Now()); err == nil {
		t.Fatal("a malformed hash was imported")
	}
	u, err := importUser("Carol", "carol@example.org", "", string(hash), idp.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	r := idp.rp(clientPortal, rpSecret)
	b := idp.browser()
	p := b.get(r.authCodeURL("s", "n", oauth2.GenerateVerifier()))
	if cb := b.submitLogin(p, "carol", "old-system-password-7").callback(t); cb.Get("code") == "" {
		t.Fatalf("bcrypt login: %v", cb)
	}
	got, err := idp.st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
		t.Fatalf("hash not upgraded: %q", got.PasswordHash[:7])
	}
	// And the upgraded hash still accepts the password.
	b = idp.browser()
	p = b.get(r.authCodeURL("s", "n", oauth2.GenerateVerifier()))
	if cb := b.submitLogin(p, "carol", "old-system-password-7").callback(t); cb.Get("code") == "" {
		t.Fatalf("after upgrade: %v", cb)
	}
}

// TestHealth: /healthz is the process, /readyz the database and schema.
func TestHealth(t *testing.T) {
	idp := startIdP(t, "sqlite")
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(idp.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	_ = idp.st.Close()
	resp, err := http.Get(idp.issuer + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database closed: %d", resp.StatusCode)
	}
}
