package main

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// methodEnrollment returns the enrollment id behind the "Remove" button of
// the method called name on the account page p ("" when it is not listed).
func methodEnrollment(p page, name string) string {
	re := regexp.MustCompile(`(?s)<li class="method">\s*<p><strong>` + regexp.QuoteMeta(name) + `</strong>.*?name="enrollment" value="([^"]+)"`)
	if m := re.FindStringSubmatch(p.body); m != nil {
		return m[1]
	}
	return ""
}

// TestAccountSelfService: seed 003's "several numbers per person" and the
// issue's demo: a person who set up the email code at their first login
// adds a mobile and a landline on the account page, each change behind a
// fresh second factor, then logs in with each of the three; removing one
// asks again. On both databases.
func TestAccountSelfService(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) { accountSelfService(t, backend) })
	}
}

func accountSelfService(t *testing.T, backend string) {
	idp := startIdP(t, backend, devMode)
	idp.addFactorClients()
	mfa := idp.rp(clientMFA, rpSecret)
	const (
		address  = testUserEmail
		mobile   = "+31612345678"
		landline = "+31201234567"
	)
	b := idp.browser()
	emailCode := func() string {
		m, _ := b.lastMessage("email", address)
		return codeIn(t, m.Body)
	}

	// A portal that asks only the password: the person has no second
	// factor yet and sets up the email code on the account page, which
	// then asks only for a fresh password.
	portal := idp.rp(clientPortal, rpSecret)
	v := oauth2.GenerateVerifier()
	portal.token(t, b.submitLogin(b.get(portal.authCodeURL("s", "n", v)), testUser, testPassword).callback(t), v)

	t.Run("with only a password, adding a method asks the password again once it is 5 minutes old", func(t *testing.T) {
		acct := b.get(idp.issuer + "/account")
		if !strings.Contains(acct.body, "Only your password.") {
			t.Fatalf("account page (status %d) without methods:\n%s", acct.status, acct.body)
		}
		idp.clock.Advance(6 * time.Minute)
		p := b.submit(acct, "/login/account", map[string]string{"op": "add", "factor": "email"}, nil)
		if !isPasswordPage(p) || !strings.Contains(p.body, "Sign in to your account") {
			t.Fatalf("want the password page first (status %d):\n%s", p.status, p.body)
		}
		p = b.submitLogin(p, testUser, testPassword)
		if !strings.Contains(p.body, `autocomplete="email"`) {
			t.Fatalf("want the email set-up page after the password (status %d):\n%s", p.status, p.body)
		}
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "send"}, url.Values{"email": {address}})
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "confirm"}, url.Values{"code": {emailCode()}})
		// Recovery codes follow a first factor, in the same flow.
		p = b.saveRecoveryCodes(p)
		if !strings.Contains(p.body, "The sign-in method was added.") || methodEnrollment(p, "Code by email") == "" || methodEnrollment(p, "Recovery code") == "" {
			t.Fatalf("want the account page with the email method and recovery codes (status %d):\n%s", p.status, p.body)
		}
	})

	t.Run("the account page lists the email method masked and offers the others", func(t *testing.T) {
		p := b.get(idp.issuer + "/account")
		if p.status != http.StatusOK || methodEnrollment(p, "Code by email") == "" {
			t.Fatalf("account page (status %d) does not list the email method:\n%s", p.status, p.body)
		}
		if strings.Contains(p.body, address) || !strings.Contains(p.body, "•••@") {
			t.Errorf("the address is not masked on the account page")
		}
		for _, f := range []string{"sms", "voice", "totp"} {
			if !strings.Contains(p.body, `name="factor" value="`+f+`"`) {
				t.Errorf("no offer to add %s", f)
			}
		}
	})

	t.Run("adding a mobile asks the email code again once it is older than 5 minutes", func(t *testing.T) {
		idp.clock.Advance(6 * time.Minute)
		p := b.submit(b.get(idp.issuer+"/account"), "/login/account", map[string]string{"op": "add", "factor": "sms"}, nil)
		if !isFactorPage(p) || sessionIDRe.FindString(p.body) == "" {
			t.Fatalf("want the email code page first (status %d):\n%s", p.status, p.body)
		}
		if got := b.answer(p, "000000"); got.status != http.StatusUnprocessableEntity {
			t.Fatalf("a wrong code: status %d", got.status)
		}
		if slices.ContainsFunc(b.outbox(), func(m outboxMessage) bool { return m.Channel == "sms" }) {
			t.Fatal("the set-up began before the factor was proved")
		}
		p = b.answer(b.get(idp.issuer+flowURLPath(flowOf(t, p))), emailCode())
		if !strings.Contains(p.body, `name="phone"`) {
			t.Fatalf("want the SMS set-up page after the email code (status %d):\n%s", p.status, p.body)
		}
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "send"}, url.Values{"country": {"NL"}, "phone": {"06 1234 5678"}})
		m, _ := b.lastMessage("sms", mobile)
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "confirm"}, url.Values{"code": {codeIn(t, m.Body)}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "The sign-in method was added.") || methodEnrollment(p, "Code by SMS") == "" {
			t.Fatalf("want the account page with the SMS method (status %d):\n%s", p.status, p.body)
		}
		if !strings.Contains(p.body, "xxxx-xxxx78") || strings.Contains(p.body, "612345678") {
			t.Errorf("the number is not masked on the account page")
		}
		if m, _ := b.lastMessage("email", address); m.Subject != "A sign-in method was added to your account" ||
			!strings.Contains(m.Body, "Code by SMS (xxxx-xxxx78) was added") || strings.Contains(m.Body, "612345678") {
			t.Errorf("want a notice mail of the new number, masked; the newest mail is %q:\n%s", m.Subject, m.Body)
		}
	})

	t.Run("a landline is added right away while the last factor is fresh", func(t *testing.T) {
		p := b.submit(b.get(idp.issuer+"/account"), "/login/account", map[string]string{"op": "add", "factor": "voice"}, nil)
		if !strings.Contains(p.body, `name="country"`) {
			t.Fatalf("want the voice set-up page at once (status %d):\n%s", p.status, p.body)
		}
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "verify"}, url.Values{"country": {"NL"}, "phone": {"020 123 4567"}})
		digits := shownDigits(t, p)
		call, _ := b.lastMessage("voice", landline)
		b.keypad(call.Ref, digits)
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "check"}, nil)
		if methodEnrollment(p, "Phone call") == "" || methodEnrollment(p, "Code by SMS") == "" || methodEnrollment(p, "Code by email") == "" {
			t.Fatalf("want three methods on the account page (status %d):\n%s", p.status, p.body)
		}
	})

	t.Run("each of the three methods logs in", func(t *testing.T) {
		for factor, amr := range map[string]string{"email": "email", "sms": "sms", "voice": "tel"} {
			c := idp.browser()
			v := oauth2.GenerateVerifier()
			p := c.submitLogin(c.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
			_, flowID := p.hidden(t)
			p = c.get(idp.issuer + "/login/choose?flow=" + url.QueryEscape(flowID))
			p = c.submit(p, "/login/choose", map[string]string{"factor": factor}, nil)
			switch factor {
			case "email":
				m, _ := c.lastMessage("email", address)
				p = c.answer(p, codeIn(t, m.Body))
			case "sms":
				m, _ := c.lastMessage("sms", mobile)
				p = c.answer(p, codeIn(t, m.Body))
			case "voice":
				call, _ := c.lastMessage("voice", landline)
				c.keypad(call.Ref, shownDigits(t, p))
				p = c.submit(p, "/login/factor", nil, nil)
			}
			if cl := mfa.token(t, p.callback(t), v); !slices.Contains(cl.AMR, amr) {
				t.Errorf("%s: amr %v", factor, cl.AMR)
			}
		}
	})

	t.Run("removing a method asks a factor again and then removes it once", func(t *testing.T) {
		idp.clock.Advance(6 * time.Minute)
		acct := b.get(idp.issuer + "/account")
		id := methodEnrollment(acct, "Phone call")
		p := b.submit(acct, "/login/account", map[string]string{"op": "remove", "enrollment": id}, nil)
		if !strings.Contains(p.body, `action="/login/choose"`) {
			t.Fatalf("want the choice of a factor before the removal (status %d):\n%s", p.status, p.body)
		}
		if methodEnrollment(b.get(idp.issuer+"/account"), "Phone call") == "" {
			t.Fatal("removed before the factor was proved")
		}
		p = b.submit(p, "/login/choose", map[string]string{"factor": "sms"}, nil)
		m, _ := b.lastMessage("sms", mobile)
		p = b.answer(p, codeIn(t, m.Body))
		if !strings.Contains(p.body, "The sign-in method was removed.") || methodEnrollment(p, "Phone call") != "" {
			t.Fatalf("want the account page without the phone call (status %d):\n%s", p.status, p.body)
		}
		if m, _ := b.lastMessage("email", address); m.Subject != "A sign-in method was removed from your account" || !strings.Contains(m.Body, "Phone call (xxxx-xxxx67)") {
			t.Errorf("want a notice mail of the removal; the newest mail is %q:\n%s", m.Subject, m.Body)
		}
		// The same form again (a double submit, a back button) changes nothing.
		if again := b.submit(acct, "/login/account", map[string]string{"op": "remove", "enrollment": id}, nil); methodEnrollment(again, "Code by SMS") == "" {
			t.Errorf("a second removal: status %d", again.status)
		}
	})

	t.Run("bad requests change nothing", func(t *testing.T) {
		acct := b.get(idp.issuer + "/account")
		sms := methodEnrollment(acct, "Code by SMS")
		if p := b.postForm(idp.issuer+"/login/account", url.Values{"op": {"remove"}, "enrollment": {sms}}); p.status != http.StatusForbidden {
			t.Errorf("without the CSRF token: status %d", p.status)
		}
		if p := b.submit(acct, "/login/account", map[string]string{"op": "add", "factor": "sms"}, url.Values{"factor": {"pigeon"}}); p.status != http.StatusBadRequest {
			t.Errorf("an unknown factor: status %d", p.status)
		}
		// Someone else, with no session, is sent to log in and cannot
		// reach the person's methods.
		o := idp.browser()
		p := o.get(idp.issuer + "/account")
		if !isPasswordPage(p) {
			t.Fatalf("the account page without a session: status %d, want the password page", p.status)
		}
		p = o.submitLogin(p, testUser, "wrong password")
		if isPasswordPage(p) == false || strings.Contains(p.body, "xxxx-xxxx78") {
			t.Errorf("a wrong password reached the account page")
		}
		if methodEnrollment(b.get(idp.issuer+"/account"), "Code by SMS") != sms {
			t.Errorf("the SMS method changed")
		}
	})

	t.Run("sign out ends the session", func(t *testing.T) {
		p := b.submit(b.get(idp.issuer+"/account"), "/login/account", map[string]string{"op": "logout"}, nil)
		if p.status != http.StatusOK || !strings.Contains(p.body, "You are signed out") {
			t.Fatalf("sign out: status %d\n%s", p.status, p.body)
		}
		if p := b.get(idp.issuer + "/account"); !isPasswordPage(p) {
			t.Errorf("after signing out the account page is still shown (status %d)", p.status)
		}
	})
}
