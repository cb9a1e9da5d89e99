package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRecoveryCodesRenewedOnAccountPage: a person with TOTP and recovery
// codes makes a new set on the account page. The change asks a fresh TOTP
// code first, a notice mail tells the owner of it, and from then on only
// the new codes log in. On both databases.
func TestRecoveryCodesRenewedOnAccountPage(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) { recoveryCodesRenewed(t, backend) })
	}
}

func recoveryCodesRenewed(t *testing.T, backend string) {
	idp := startIdP(t, backend, devMode)
	idp.addFactorClients()
	mfa := idp.rp(clientMFA, rpSecret)
	b := idp.browser()
	p := b.password(mfa)
	if !isEnrolOffer(p) {
		t.Fatalf("want the enrolment offer (status %d):\n%s", p.status, p.body)
	}
	secret, oldCodes, _ := b.enrolTOTP(p)
	_, mailsBefore := b.lastMessage("email", testUserEmail) // the TOTP set-up's notice

	// The TOTP proof of the login is too old for an account change.
	idp.clock.Advance(6 * time.Minute)
	acct := b.get(idp.issuer + "/account")
	if !strings.Contains(acct.body, "Make a new set. The old codes stop working.") {
		t.Fatalf("the account page does not offer to renew the codes (status %d):\n%s", acct.status, acct.body)
	}
	p = b.submit(acct, "/login/account", map[string]string{"op": "add", "factor": "recovery"}, nil)
	if !isFactorPage(p) || len(recoveryRe.FindAllString(p.body, -1)) != 0 {
		t.Fatalf("want the TOTP page before any new codes are shown (status %d):\n%s", p.status, p.body)
	}
	p = b.answer(p, idp.code(secret))
	newCodes := recoveryRe.FindAllString(p.body, -1)
	if len(newCodes) != 10 {
		t.Fatalf("want 10 new recovery codes after the TOTP code, got %d (status %d):\n%s", len(newCodes), p.status, p.body)
	}
	for _, c := range newCodes {
		if slices.Contains(oldCodes, c) {
			t.Fatalf("the new set repeats the old code %s", c)
		}
	}
	p = b.saveRecoveryCodes(p)
	if p.status != http.StatusOK || !strings.Contains(p.body, "The sign-in method was added.") {
		t.Fatalf("want the account page after saving the codes (status %d):\n%s", p.status, p.body)
	}
	if n := strings.Count(p.body, "<strong>Recovery code</strong>"); n != 1 {
		t.Errorf("the account page lists %d sets of recovery codes, want 1", n)
	}

	m, mails := b.lastMessage("email", testUserEmail)
	if mails != mailsBefore+1 {
		t.Fatalf("%d mails to the account address after the renewal, want %d", mails, mailsBefore+1)
	}
	if m.Subject != "A sign-in method was added to your account" ||
		!strings.Contains(m.Body, "Recovery code was added to your account on") ||
		!strings.Contains(m.Body, "If this was not you") ||
		!strings.HasPrefix(m.Ref, "account.added.") {
		t.Errorf("want a notice mail of the new recovery codes; the newest mail is %q (ref %s):\n%s", m.Subject, m.Ref, m.Body)
	}
	for _, c := range append(oldCodes, newCodes...) {
		if strings.Contains(m.Body, c) || strings.Contains(m.HTML, c) {
			t.Fatalf("the notice mail carries the code %s", c)
		}
	}

	// A recovery code at a fresh login: the old set is gone, the new works.
	useCode := func(code string) page {
		c := idp.browser()
		p := c.password(mfa)
		_, flowID := p.hidden(t)
		p = c.get(idp.issuer + "/login/choose?flow=" + url.QueryEscape(flowID))
		p = c.submit(p, "/login/choose", map[string]string{"factor": "recovery"}, nil)
		return c.answer(p, code)
	}
	if p := useCode(oldCodes[1]); p.status != http.StatusUnprocessableEntity {
		t.Errorf("an old recovery code after the renewal: status %d, want %d", p.status, http.StatusUnprocessableEntity)
	}
	if p := useCode(newCodes[0]); p.status != http.StatusOK || !strings.Contains(p.body, "Recovery codes left: 9 of 10.") {
		t.Errorf("a new recovery code: status %d\n%s", p.status, p.body)
	}
}
