package main

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/admin"
	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/store"
)

// The factor-chain clients: both require LoA substantial; "graced" lets a
// person skip setting up a factor for a week.
const (
	clientMFA    = "mfa"
	clientGraced = "graced"
	graceDays    = 7
)

// addFactorClients registers the factor-chain clients and their policies.
func (idp *testIdP) addFactorClients() {
	t := idp.t
	ctx := context.Background()
	for _, c := range []struct {
		id    string
		grace int
	}{{clientMFA, 0}, {clientGraced, graceDays}} {
		in := clientInput{id: c.id, redirectURIs: []string{rpRedirect}, grantTypes: []string{"authorization_code", "refresh_token"}}
		if _, _, err := registerClient(ctx, idp.cfg, idp.st, in, rpSecret, idp.clock.Now()); err != nil {
			t.Fatal(err)
		}
		err := idp.st.PutClientPolicy(ctx, &store.ClientPolicy{
			ClientID: c.id, MinACR: assurance.LoASubstantial, GraceDays: c.grace, UpdatedAt: idp.clock.Now(),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// htmlForm is one <form> of a page: its action and hidden fields.
type htmlForm struct {
	action string
	fields url.Values
}

var (
	formRe     = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenRe   = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	secretRe   = regexp.MustCompile(`secret=([A-Z2-7]+)`)
	recoveryRe = regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b`)
)

func (p page) forms() []htmlForm {
	var out []htmlForm
	for _, m := range formRe.FindAllStringSubmatch(p.body, -1) {
		f := htmlForm{action: html.UnescapeString(m[1]), fields: url.Values{}}
		for _, h := range hiddenRe.FindAllStringSubmatch(m[2], -1) {
			f.fields.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
		}
		out = append(out, f)
	}
	return out
}

// submit posts the form of p with this action whose hidden fields include
// match, adding extra fields.
func (b *browser) submit(p page, action string, match map[string]string, extra url.Values) page {
	b.t.Helper()
	for _, f := range p.forms() {
		if f.action != action {
			continue
		}
		ok := true
		for k, v := range match {
			if f.fields.Get(k) != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for k, v := range extra {
			f.fields[k] = v
		}
		return b.postForm(b.idp.issuer+action, f.fields)
	}
	b.t.Fatalf("no form %s %v on the page (status %d):\n%s", action, match, p.status, p.body)
	return page{}
}

// code is the TOTP code of secret at the server's time.
func (idp *testIdP) code(secret string) string {
	idp.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, idp.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		idp.t.Fatal(err)
	}
	return c
}

// nextStep moves the clock to a new TOTP time step, so a fresh code is
// not refused as already used.
func (idp *testIdP) nextStep() { idp.clock.Advance(31 * time.Second) }

// enrolTOTP runs the set-up from the enrolment offer p: start TOTP, read
// the key from the page, activate with a code, store the recovery codes.
func (b *browser) enrolTOTP(p page) (secret string, codes []string, last page) {
	b.t.Helper()
	p = b.submit(p, "/login/enroll", map[string]string{"op": "begin", "factor": "totp"}, nil)
	m := secretRe.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no TOTP key on the set-up page (status %d):\n%s", p.status, p.body)
	}
	secret = m[1]
	p = b.submit(p, "/login/enroll", map[string]string{"op": "finish"}, url.Values{"code": {b.idp.code(secret)}, "name": {"My phone"}})
	codes = recoveryRe.FindAllString(p.body, -1)
	if len(codes) != 10 {
		b.t.Fatalf("want 10 recovery codes after activating TOTP, got %d (status %d):\n%s", len(codes), p.status, p.body)
	}
	last = b.submit(p, "/login/enroll", map[string]string{"op": "finish"}, url.Values{"saved": {"on"}})
	return secret, codes, last
}

// password starts a login at r and submits the test user's password,
// returning the page that follows (the verifier is not kept).
func (b *browser) password(r *rp) page {
	b.t.Helper()
	return b.submitLogin(b.get(r.authCodeURL("s", "n", oauth2.GenerateVerifier())), testUser, testPassword)
}

// answer posts code on the factor page p.
func (b *browser) answer(p page, code string) page {
	b.t.Helper()
	return b.submit(p, "/login/factor", nil, url.Values{"code": {code}})
}

// token exchanges the callback's code and returns the verified claims.
func (r *rp) token(t *testing.T, cb url.Values, verifier string) idClaims {
	t.Helper()
	if cb.Get("code") == "" {
		t.Fatalf("no code in the callback: %v", cb)
	}
	tok, err := r.conf.Exchange(context.Background(), cb.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, c := r.verifyIDToken(t, tok)
	return c
}

func isFactorPage(p page) bool {
	return p.status == http.StatusOK && strings.Contains(p.body, `action="/login/factor"`)
}
func isEnrolOffer(p page) bool {
	return p.status == http.StatusOK && strings.Contains(p.body, `name="op" value="begin"`)
}
func isPasswordPage(p page) bool { return strings.Contains(p.body, `autocomplete="current-password"`) }

func claimsACR(acr string, essential bool) oauth2.AuthCodeOption {
	v := `{"id_token":{"acr":{"essential":` + map[bool]string{true: "true", false: "false"}[essential] + `,"values":["` + acr + `"]}}}`
	return oauth2.SetAuthURLParam("claims", v)
}

// TestFactorChain drives the factor chain through the HTML pages with a
// standard relying party, on both databases.
func TestFactorChain(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) { factorChain(t, backend) })
	}
}

func factorChain(t *testing.T, backend string) {
	idp := startIdP(t, backend)
	idp.addFactorClients()
	ctx := context.Background()
	mfa := idp.rp(clientMFA, rpSecret)
	portal := idp.rp(clientPortal, rpSecret)

	var secret string
	var recovery []string

	t.Run("a client requiring substantial makes a person without a factor enrol TOTP, and the token says substantial", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		if !isEnrolOffer(p) || strings.Contains(p.body, `value="skip"`) {
			t.Fatalf("want the mandatory enrolment offer, got %d:\n%s", p.status, p.body)
		}
		secret, recovery, p = b.enrolTOTP(p)
		c := mfa.token(t, p.callback(t), v)
		if c.ACR != assurance.LoASubstantial || !slices.Contains(c.AMR, "pwd") || !slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "mfa") {
			t.Fatalf("acr %q amr %v", c.ACR, c.AMR)
		}
		es, err := idp.st.ListEnrollments(ctx, idp.user.ID)
		if err != nil || len(es) != 2 {
			t.Fatalf("enrollments %v %v", es, err)
		}
		for _, e := range es {
			if !e.Confirmed() || strings.Contains(string(e.Secret), secret) {
				t.Fatalf("enrollment %s not confirmed, or its secret is stored in clear", e.Factor)
			}
		}
	})

	t.Run("password and TOTP reach substantial on a fresh browser", func(t *testing.T) {
		idp.nextStep()
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		if !isFactorPage(p) {
			t.Fatalf("want the TOTP page, got %d:\n%s", p.status, p.body)
		}
		c := mfa.token(t, b.answer(p, idp.code(secret)).callback(t), v)
		if c.ACR != assurance.LoASubstantial || !slices.Contains(c.AMR, "otp") {
			t.Fatalf("acr %q amr %v", c.ACR, c.AMR)
		}
	})

	t.Run("a low session steps up to substantial without a second password prompt", func(t *testing.T) {
		idp.nextStep()
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		c := portal.token(t, b.loginFlow(portal, v), v)
		if c.ACR != assurance.LoALow {
			t.Fatalf("first login acr %q", c.ACR)
		}
		first := c.AuthTime
		idp.clock.Advance(2 * time.Second)
		p := b.get(portal.authCodeURL("s", "n", v, claimsACR(assurance.LoASubstantial, true)))
		if isPasswordPage(p) || !isFactorPage(p) {
			t.Fatalf("step-up asked for the password again, or no TOTP page: %d\n%s", p.status, p.body)
		}
		c = portal.token(t, b.answer(p, idp.code(secret)).callback(t), v)
		if c.ACR != assurance.LoASubstantial || !slices.Contains(c.AMR, "pwd") || !slices.Contains(c.AMR, "otp") {
			t.Fatalf("acr %q amr %v", c.ACR, c.AMR)
		}
		if c.AuthTime != first {
			t.Fatalf("auth_time %d, want the password's %d (the oldest proof behind the acr)", c.AuthTime, first)
		}
		events, _ := idp.st.ListAudit(ctx, idp.user.ID, 20)
		if !slices.ContainsFunc(events, func(e store.AuditEvent) bool { return e.Event == "login.step_up" }) {
			t.Fatal("no login.step_up audit event")
		}
	})

	t.Run("an essential acr of high that no factor can reach ends in unmet_authentication_requirements", func(t *testing.T) {
		b := idp.browser()
		p := b.submitLogin(b.get(portal.authCodeURL("s", "n", oauth2.GenerateVerifier(), claimsACR(assurance.LoAHigh, true))), testUser, testPassword)
		cb := p.callback(t)
		if cb.Get("error") != "unmet_authentication_requirements" || cb.Get("code") != "" {
			t.Fatalf("callback %v", cb)
		}
	})

	t.Run("a voluntary acr of high gets the best reachable level", func(t *testing.T) {
		idp.nextStep()
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(portal.authCodeURL("s", "n", v, oauth2.SetAuthURLParam("acr_values", assurance.LoAHigh))), testUser, testPassword)
		if isFactorPage(p) {
			p = b.answer(p, idp.code(secret))
		}
		if c := portal.token(t, p.callback(t), v); c.ACR == assurance.LoAHigh || c.ACR == "" {
			t.Fatalf("acr %q", c.ACR)
		}
	})

	t.Run("max_age=0 and prompt=login ask for the password again", func(t *testing.T) {
		idp.nextStep()
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		portal.token(t, b.loginFlow(portal, v), v)
		for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0"), oauth2.SetAuthURLParam("prompt", "login")} {
			idp.clock.Advance(2 * time.Second)
			p := b.get(portal.authCodeURL("s", "n", v, opt))
			if !isPasswordPage(p) {
				t.Fatalf("no password prompt: %d %q", p.status, p.location)
			}
			before := idp.clock.Now().Unix()
			c := portal.token(t, b.submitLogin(p, testUser, testPassword).callback(t), v)
			if c.AuthTime < before {
				t.Fatalf("auth_time %d is older than the re-authentication at %d", c.AuthTime, before)
			}
		}
	})

	t.Run("a recovery code works once and the person is told how many remain", func(t *testing.T) {
		idp.nextStep()
		use := func(code string) page {
			b := idp.browser()
			p := b.password(mfa)
			if !isFactorPage(p) {
				t.Fatalf("no factor page: %d\n%s", p.status, p.body)
			}
			p = b.get(idp.issuer + "/login/choose?flow=" + url.QueryEscape(p.forms()[0].fields.Get("flow")))
			p = b.submit(p, "/login/choose", map[string]string{"factor": "recovery"}, nil)
			return b.answer(p, strings.ToLower(code))
		}
		p := use(recovery[0])
		if p.status != http.StatusOK || !strings.Contains(p.body, "Recovery codes left: 9 of 10.") {
			t.Fatalf("after a recovery code: %d\n%s", p.status, p.body)
		}
		p = use(recovery[0])
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("a used recovery code was accepted again: %d", p.status)
		}
	})

	t.Run("the same TOTP code sent by two logins at once succeeds exactly once", func(t *testing.T) {
		for round := 0; round < 3; round++ {
			idp.nextStep()
			browsers, pages := make([]*browser, 2), make([]page, 2)
			for i := range browsers {
				browsers[i] = idp.browser()
				pages[i] = browsers[i].password(mfa)
				if !isFactorPage(pages[i]) {
					t.Fatalf("no factor page: %d", pages[i].status)
				}
			}
			code := idp.code(secret)
			var wg sync.WaitGroup
			results := make([]page, 2)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = browsers[i].answer(pages[i], code)
				}()
			}
			wg.Wait()
			wins, refused := 0, 0
			for _, r := range results {
				switch {
				case r.status == http.StatusFound && strings.HasPrefix(r.location, rpRedirect) && strings.Contains(r.location, "code="):
					wins++
				case r.status == http.StatusUnprocessableEntity:
					refused++
				}
			}
			if wins != 1 || refused != 1 {
				t.Fatalf("round %d: %d accepted, %d refused; want 1 and 1 (%d, %d)", round, wins, refused, results[0].status, results[1].status)
			}
		}
	})

	t.Run("admin reset removes the factors and the next login must enrol again", func(t *testing.T) {
		svc := &admin.Service{Store: idp.st, Now: idp.clock.Now}
		n, err := svc.ResetFactors(ctx, idp.user.ID, "test")
		if err != nil || n != 2 {
			t.Fatalf("reset removed %d, %v", n, err)
		}
		b := idp.browser()
		p := b.submitLogin(b.get(idp.rp(clientGraced, rpSecret).authCodeURL("s", "n", oauth2.GenerateVerifier())), testUser, testPassword)
		if !isEnrolOffer(p) || strings.Contains(p.body, `value="skip"`) {
			t.Fatalf("after a reset the grace period must be over: %d\n%s", p.status, p.body)
		}
		events, _ := idp.st.ListAudit(ctx, idp.user.ID, 50)
		if !slices.ContainsFunc(events, func(e store.AuditEvent) bool { return e.Event == "factors.reset" }) {
			t.Fatal("no factors.reset audit event")
		}
	})
}

// TestEnrolmentGracePeriod: within the grace period the person may skip
// (and gets only low), after the deadline the set-up is mandatory.
func TestEnrolmentGracePeriod(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) {
			idp := startIdP(t, backend)
			idp.addFactorClients()
			graced := idp.rp(clientGraced, rpSecret)
			login := func() (*browser, page, string) {
				b := idp.browser()
				v := oauth2.GenerateVerifier()
				return b, b.submitLogin(b.get(graced.authCodeURL("s", "n", v)), testUser, testPassword), v
			}

			b, p, v := login()
			if !isEnrolOffer(p) || !strings.Contains(p.body, "(7 days left)") {
				t.Fatalf("want a skippable offer with 7 days left: %d\n%s", p.status, p.body)
			}
			p = b.submit(p, "/login/enroll", map[string]string{"op": "skip"}, nil)
			if c := graced.token(t, p.callback(t), v); c.ACR != assurance.LoALow || slices.Contains(c.AMR, "mfa") {
				t.Fatalf("skipping granted acr %q amr %v", c.ACR, c.AMR)
			}

			idp.clock.Advance(3 * 24 * time.Hour)
			_, p, _ = login()
			if !strings.Contains(p.body, "(4 days left)") {
				t.Fatalf("want 4 days left: %d\n%s", p.status, p.body)
			}

			idp.clock.Advance(4*24*time.Hour + time.Minute)
			b, p, v = login()
			if !isEnrolOffer(p) || strings.Contains(p.body, `value="skip"`) {
				t.Fatalf("after the deadline the set-up must be mandatory: %d\n%s", p.status, p.body)
			}
			// A forged skip changes nothing.
			again := b.submit(p, "/login/enroll", map[string]string{"op": "begin", "factor": "totp"}, nil)
			if !secretRe.MatchString(again.body) {
				t.Fatalf("no TOTP set-up page: %d", again.status)
			}
			forged := b.postForm(idp.issuer+"/login/enroll", url.Values{"csrf": {again.forms()[0].fields.Get("csrf")}, "flow": {again.forms()[0].fields.Get("flow")}, "op": {"skip"}})
			if forged.status == http.StatusFound {
				t.Fatalf("a forged skip after the deadline finished the login: %q", forged.location)
			}
			_, _, last := b.enrolTOTP(p)
			if c := graced.token(t, last.callback(t), v); c.ACR != assurance.LoASubstantial {
				t.Fatalf("acr %q", c.ACR)
			}
		})
	}
}

// TestFactorBadInput: malformed codes, foreign, tampered and expired flows
// get a clear error and change nothing; wrong codes end the challenge after
// the configured number.
func TestFactorBadInput(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) { factorBadInput(t, backend) })
	}
}

func factorBadInput(t *testing.T, backend string) {
	idp := startIdP(t, backend)
	idp.addFactorClients()
	ctx := context.Background()
	mfa := idp.rp(clientMFA, rpSecret)

	b := idp.browser()
	p := b.password(mfa)
	secret, _, _ := b.enrolTOTP(p)

	// factorPage logs in on a new browser up to the TOTP page.
	factorPage := func() (*browser, page, *store.LoginFlow) {
		idp.nextStep()
		b := idp.browser()
		p := b.password(mfa)
		if !isFactorPage(p) {
			t.Fatalf("no factor page: %d\n%s", p.status, p.body)
		}
		f, err := idp.st.LoginFlowByID(ctx, p.forms()[0].fields.Get("flow"), idp.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return b, p, f
	}
	attempts := func(f *store.LoginFlow) int {
		f, err := idp.st.LoginFlowByID(ctx, f.ID, idp.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		ch, err := idp.st.ChallengeByID(ctx, f.ChallengeID, idp.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return ch.Attempts
	}

	t.Run("malformed codes get a message by the field and do not count as attempts", func(t *testing.T) {
		b, p, f := factorPage()
		for _, code := range []string{"", "12ab56", "12345", "1234567", strings.Repeat("1", 1000), "١٢٣٤٥٦"} {
			r := b.answer(p, code)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `aria-invalid="true"`) {
				t.Fatalf("code %q: %d\n%s", code, r.status, r.body)
			}
		}
		if n := attempts(f); n != 0 {
			t.Fatalf("malformed input counted %d attempts", n)
		}
		if r := b.answer(p, idp.code(secret)); r.status != http.StatusFound {
			t.Fatalf("the right code after malformed ones: %d", r.status)
		}
	})

	t.Run("wrong codes end the challenge after five, with a way to try again", func(t *testing.T) {
		b, p, f := factorPage()
		wrong := "000000"
		if wrong == idp.code(secret) {
			wrong = "111111"
		}
		for i := 1; i <= 4; i++ {
			if r := b.answer(p, wrong); r.status != http.StatusUnprocessableEntity {
				t.Fatalf("wrong code %d: %d", i, r.status)
			}
		}
		r := b.answer(p, wrong)
		if r.status != http.StatusOK || !strings.Contains(r.body, `value="retry"`) {
			t.Fatalf("fifth wrong code: %d\n%s", r.status, r.body)
		}
		if r := b.answer(p, idp.code(secret)); r.status == http.StatusFound {
			t.Fatal("the exhausted challenge accepted a code")
		}
		r = b.submit(r, "/login/factor", map[string]string{"op": "retry"}, nil)
		if !isFactorPage(r) || attempts(f) != 0 {
			t.Fatalf("retry: %d attempts %d", r.status, attempts(f))
		}
		if r := b.answer(r, idp.code(secret)); r.status != http.StatusFound {
			t.Fatalf("the right code after a retry: %d", r.status)
		}
		events, _ := idp.st.ListAudit(ctx, idp.user.ID, 100)
		if !slices.ContainsFunc(events, func(e store.AuditEvent) bool { return e.Event == "factor.challenge_exhausted" }) {
			t.Fatal("no factor.challenge_exhausted audit event")
		}
	})

	t.Run("tampered flow ids show the expired page", func(t *testing.T) {
		b, p, _ := factorPage()
		csrf := p.forms()[0].fields.Get("csrf")
		for _, id := range []string{"nope", strings.Repeat("x", 500), "' OR 1=1 --"} {
			if r := b.get(idp.issuer + "/login?flow=" + url.QueryEscape(id)); r.status != http.StatusBadRequest || !strings.Contains(r.body, "<html") {
				t.Fatalf("GET flow %q: %d", id, r.status)
			}
			r := b.postForm(idp.issuer+"/login/factor", url.Values{"csrf": {csrf}, "flow": {id}, "code": {idp.code(secret)}})
			if r.status != http.StatusBadRequest {
				t.Fatalf("POST flow %q: %d", id, r.status)
			}
		}
	})

	t.Run("a flow id from another browser is refused and nothing changes", func(t *testing.T) {
		_, _, f := factorPage()
		other := idp.browser()
		if r := other.get(idp.issuer + "/login?flow=" + url.QueryEscape(f.ID)); r.status != http.StatusForbidden {
			t.Fatalf("foreign GET: %d", r.status)
		}
		// With its own CSRF token, the other browser still cannot answer.
		own := other.get(mfa.authCodeURL("s", "n", oauth2.GenerateVerifier()))
		csrf, _ := own.hidden(t)
		r := other.postForm(idp.issuer+"/login/factor", url.Values{"csrf": {csrf}, "flow": {f.ID}, "code": {idp.code(secret)}})
		if r.status != http.StatusForbidden {
			t.Fatalf("foreign POST: %d", r.status)
		}
		after, err := idp.st.LoginFlowByID(ctx, f.ID, idp.clock.Now())
		if err != nil || after.Version != f.Version || attempts(f) != 0 {
			t.Fatalf("the flow changed: %+v %v", after, err)
		}
	})

	t.Run("an expired flow shows the expired page", func(t *testing.T) {
		b, p, _ := factorPage()
		idp.clock.Advance(idp.cfg.Factors.FlowLifetime + time.Minute)
		r := b.answer(p, idp.code(secret))
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "<html") {
			t.Fatalf("%d", r.status)
		}
	})
}

// TestFactorAccountLockout: wrong answers count against the account across
// challenges and logins; at the budget factor login locks (audited), and
// an admin reset clears it.
func TestFactorAccountLockout(t *testing.T) {
	idp := startIdP(t, "sqlite", func(c *config.Config) { c.Factors.AccountFailures = 3 })
	idp.addFactorClients()
	ctx := context.Background()
	mfa := idp.rp(clientMFA, rpSecret)
	b := idp.browser()
	secret, _, _ := b.enrolTOTP(b.password(mfa))

	wrong := func() page {
		idp.nextStep()
		b := idp.browser()
		p := b.password(mfa)
		if !isFactorPage(p) {
			return p
		}
		code := "000000"
		if code == idp.code(secret) {
			code = "111111"
		}
		return b.answer(p, code)
	}
	wrong()
	wrong()
	if p := wrong(); p.status != http.StatusTooManyRequests {
		t.Fatalf("the third wrong answer did not lock: %d", p.status)
	}
	// Locked: even the right code on a new login gets the locked page.
	idp.nextStep()
	b = idp.browser()
	p := b.password(mfa)
	if p.status != http.StatusTooManyRequests {
		t.Fatalf("locked account: %d", p.status)
	}
	events, _ := idp.st.ListAudit(ctx, idp.user.ID, 50)
	if !slices.ContainsFunc(events, func(e store.AuditEvent) bool { return e.Event == "factor.lockout" }) {
		t.Fatal("no factor.lockout audit event")
	}
	if _, err := (&admin.Service{Store: idp.st, Now: idp.clock.Now}).ResetFactors(ctx, idp.user.ID, "test"); err != nil {
		t.Fatal(err)
	}
	b = idp.browser()
	if p := b.password(mfa); !isEnrolOffer(p) {
		t.Fatalf("after the reset: %d", p.status)
	}
}
