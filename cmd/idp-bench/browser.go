package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// browser is one person's browser: a fresh cookie jar (so every login
// iteration is a new browser with no SSO session), on the worker's
// keep-alive transport. It follows redirects itself, within the issuer
// only, and stops at the redirect back to the relying party.
type browser struct {
	w      *worker
	client *http.Client
}

func newBrowser(w *worker) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{w: w, client: &http.Client{Transport: w.tr, Jar: jar, CheckRedirect: noRedirects, Timeout: w.env.opts.Timeout}}
}

// loginParams say what an authorization should look like.
type loginParams struct {
	clientID, redirectURI, scope, acrValues string
	user                                    *benchUser
	// totp: a TOTP page is expected; the code is the user's next unused one.
	totp bool
	// noPassword: the session must not be asked for the password (step-up).
	noPassword bool
	// enrol: set up TOTP when the page offers it (setup), storing the key
	// in user.TOTPSecret.
	enrol bool
}

// page is where a visit ended: an HTML page, or the redirect back to
// the relying party (callback).
type page struct {
	url      *url.URL
	status   int
	body     string
	callback url.Values
}

func (b *browser) sameOrigin(u *url.URL) bool {
	iss := b.w.env.issuer
	return u.Scheme == iss.Scheme && u.Host == iss.Host
}

// visit sends a GET (form == nil) or a form POST and follows redirects
// within the issuer.
func (b *browser) visit(ctx context.Context, u string, form url.Values, redirectURI string) (page, error) {
	for hop := 0; hop < 10; hop++ {
		var req *http.Request
		var err error
		if form == nil {
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		} else {
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		}
		if err != nil {
			return page{}, err
		}
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Accept-Language", "en")
		resp, body, err := b.w.send(b.client, req)
		if err != nil {
			return page{}, err
		}
		switch resp.StatusCode {
		case http.StatusFound, http.StatusSeeOther, http.StatusMovedPermanently, http.StatusTemporaryRedirect:
			loc, err := resp.Location()
			if err != nil {
				return page{}, errKind("login: bad redirect", "%v", err)
			}
			if strings.HasPrefix(loc.String(), redirectURI) {
				return page{url: loc, status: resp.StatusCode, callback: loc.Query()}, nil
			}
			if !b.sameOrigin(loc) {
				return page{}, errKind("login: redirect outside the issuer", "%s", loc.Redacted())
			}
			u, form = loc.String(), nil
			continue
		}
		return page{url: req.URL, status: resp.StatusCode, body: string(body)}, nil
	}
	return page{}, errKind("login: too many redirects", "")
}

// htmlForm is one <form> of a page.
type htmlForm struct {
	action string // resolved against the page's URL
	fields url.Values
	inner  string
}

var (
	formRe   = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	secretRe = regexp.MustCompile(`secret=([A-Z2-7]+)`)
	h1Re     = regexp.MustCompile(`(?s)<h1[^>]*>(.*?)</h1>`)
)

func (p page) forms() []htmlForm {
	var out []htmlForm
	for _, m := range formRe.FindAllStringSubmatch(p.body, -1) {
		action := html.UnescapeString(m[1])
		if ref, err := url.Parse(action); err == nil && p.url != nil {
			action = p.url.ResolveReference(ref).String()
		}
		f := htmlForm{action: action, fields: url.Values{}, inner: m[2]}
		for _, h := range hiddenRe.FindAllStringSubmatch(m[2], -1) {
			f.fields.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
		}
		out = append(out, f)
	}
	return out
}

// find returns the form posting to a path ending in suffix whose inner
// HTML contains want and whose hidden fields include match.
func find(forms []htmlForm, suffix, want string, match map[string]string) (htmlForm, bool) {
	for _, f := range forms {
		u, err := url.Parse(f.action)
		if err != nil || !strings.HasSuffix(u.Path, suffix) || !strings.Contains(f.inner, want) {
			continue
		}
		ok := true
		for k, v := range match {
			ok = ok && f.fields.Get(k) == v
		}
		if ok {
			return f, true
		}
	}
	return htmlForm{}, false
}

// describe names a page for an error message: status and heading.
func (p page) describe() string {
	h := ""
	if m := h1Re.FindStringSubmatch(p.body); m != nil {
		h = strings.TrimSpace(html.UnescapeString(m[1]))
	}
	return fmt.Sprintf("http %d %q at %s", p.status, truncate(h, 80), p.url.Path)
}

func randomURLSafe(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorize runs the authorization request through the pages the server
// shows (password, TOTP, TOTP set-up) and returns the callback's
// parameters and the PKCE verifier.
func (b *browser) authorize(ctx context.Context, p loginParams) (url.Values, string, error) {
	e := b.w.env
	verifier := randomURLSafe(32)
	sum := sha256.Sum256([]byte(verifier))
	state := randomURLSafe(9)
	q := url.Values{
		"client_id": {p.clientID}, "redirect_uri": {p.redirectURI}, "response_type": {"code"},
		"scope": {p.scope}, "state": {state}, "nonce": {randomURLSafe(9)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	if p.acrValues != "" {
		q.Set("acr_values", p.acrValues)
	}
	sep := "?"
	if strings.Contains(e.disc.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	pg, err := b.visit(ctx, e.disc.AuthorizationEndpoint+sep+q.Encode(), nil, p.redirectURI)
	if err != nil {
		return nil, "", err
	}
	passwordSent, codeSent := false, false
	for step := 0; step < 8; step++ {
		if cb := pg.callback; cb != nil {
			if code := cb.Get("error"); code != "" {
				return nil, "", errKind("authorize: "+code, "%s", cb.Get("error_description"))
			}
			if cb.Get("state") != state {
				return nil, "", errKind("authorize: state mismatch", "")
			}
			if cb.Get("code") == "" {
				return nil, "", errKind("authorize: no code", "")
			}
			return cb, verifier, nil
		}
		forms := pg.forms()
		var next url.Values
		var action string
		if f, ok := find(forms, "/login", `name="password"`, nil); ok {
			switch {
			case p.noPassword:
				return nil, "", errKind("step-up: password asked again", "%s", pg.describe())
			case passwordSent:
				return nil, "", errKind("login: password refused", "%s", pg.describe())
			}
			passwordSent = true
			next, action = f.fields, f.action
			next.Set("username", p.user.Username)
			next.Set("password", p.user.Password)
		} else if f, ok := find(forms, "/login/factor", `name="code"`, nil); ok {
			switch {
			case !p.totp:
				return nil, "", errKind("login: unexpected factor page", "%s", pg.describe())
			case codeSent:
				return nil, "", errKind("totp: code refused", "%s", pg.describe())
			}
			code, err := p.user.nextCode(time.Now())
			if err != nil {
				return nil, "", err
			}
			codeSent = true
			next, action = f.fields, f.action
			next.Set("code", code)
		} else if f, ok := find(forms, "/login/enroll", "", map[string]string{"op": "begin", "factor": "totp"}); ok && p.enrol {
			next, action = f.fields, f.action
		} else if f, ok := find(forms, "/login/enroll", `name="code"`, map[string]string{"op": "finish"}); ok && p.enrol {
			m := secretRe.FindStringSubmatch(pg.body)
			if m == nil || codeSent {
				return nil, "", errKind("enrol: no TOTP key or code refused", "%s", pg.describe())
			}
			p.user.TOTPSecret = m[1]
			code, err := p.user.nextCode(time.Now())
			if err != nil {
				return nil, "", err
			}
			codeSent = true
			next, action = f.fields, f.action
			next.Set("code", code)
			next.Set("name", "idp-bench")
		} else if f, ok := find(forms, "/login/enroll", `name="saved"`, map[string]string{"op": "finish"}); ok && p.enrol {
			next, action = f.fields, f.action
			next.Set("saved", "on")
		} else {
			return nil, "", errKind("login: unexpected page", "%s", pg.describe())
		}
		if pg, err = b.visit(ctx, action, next, p.redirectURI); err != nil {
			return nil, "", err
		}
	}
	return nil, "", errKind("login: too many pages", "%s", pg.describe())
}

// exchange redeems the callback's code at the token endpoint and wants
// field in the answer; the body returned is valid until the worker's
// next request.
func (b *browser) exchange(ctx context.Context, auth string, cb url.Values, verifier, redirectURI, field string) ([]byte, error) {
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.w.env.disc.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	resp, body, err := b.w.send(b.w.client, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, httpError("token", resp.StatusCode, body)
	}
	if jsonString(body, field) == "" {
		return nil, errKind("token: no "+field, "%d bytes", len(body))
	}
	return body, nil
}
