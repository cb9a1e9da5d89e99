package main

import (
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/oauth2"

	"github.com/eu-health-idp/idp/config"
)

var sessionIDRe = regexp.MustCompile(`class="session-id">([0-9]{3})<`)

// sessionID returns the 3-digit session identifier the email page shows.
func sessionID(t *testing.T, p page) string {
	t.Helper()
	m := sessionIDRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no session identifier on the page (status %d):\n%s", p.status, p.body)
	}
	return m[1]
}

// enrolEmail sets up the email code from the enrolment offer p, reading
// the confirmation code with read, and returns the page that follows.
func (b *browser) enrolEmail(p page, address string, read func() string) page {
	b.t.Helper()
	p = b.submit(p, "/login/enroll", map[string]string{"op": "begin", "factor": "email"}, nil)
	if !strings.Contains(p.body, `autocomplete="email"`) {
		b.t.Fatalf("no address field on the set-up page:\n%s", p.body)
	}
	p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "send"}, url.Values{"email": {address}})
	p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "confirm"}, url.Values{"code": {read()}})
	return b.saveRecoveryCodes(p)
}

// TestEmailCodeFactor: seed 002 through the pages with a standard RP, on
// both databases, reading the mails from the dev outbox.
func TestEmailCodeFactor(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) { emailCode(t, backend) })
	}
}

func emailCode(t *testing.T, backend string) {
	idp := startIdP(t, backend, devMode)
	idp.addFactorClients()
	mfa := idp.rp(clientMFA, rpSecret)
	const address = testUserEmail

	t.Run("an address confirmed by a mailed code sets up the factor; the token says otp and email", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		p = b.enrolEmail(p, address, func() string {
			m, n := b.lastMessage("email", address)
			if n != 1 || m.Subject == "" || m.HTML == "" {
				t.Errorf("want one confirmation mail with a subject and an HTML part, got %d: %+v", n, m)
			}
			return codeIn(t, m.Body)
		})
		c := mfa.token(t, p.callback(t), v)
		if c.ACR != "http://eidas.europa.eu/LoA/substantial" || !slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "email") {
			t.Errorf("acr %s amr %v", c.ACR, c.AMR)
		}
	})

	t.Run("the login page and the mail show the same session identifier next to the code", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		id := sessionID(t, p)
		m, _ := b.lastMessage("email", address)
		for part, text := range map[string]string{"subject": m.Subject, "text": m.Body, "html": m.HTML} {
			if !strings.Contains(text, id) {
				t.Errorf("the mail's %s does not carry the session identifier %s: %q", part, id, text)
			}
		}
		code := codeIn(t, m.Body)
		if !strings.Contains(m.HTML, code) {
			t.Errorf("the HTML part lacks the code")
		}
		c := mfa.token(t, b.answer(p, code).callback(t), v)
		if !slices.Contains(c.AMR, "email") {
			t.Errorf("amr %v", c.AMR)
		}
	})

	t.Run("a code from one login does not finish another, and each login's own code does", func(t *testing.T) {
		a, b := idp.browser(), idp.browser()
		va, vb := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		pa := a.submitLogin(a.get(mfa.authCodeURL("a", "n", va)), testUser, testPassword)
		codeA := codeIn(t, func() string { m, _ := a.lastMessage("email", address); return m.Body }())
		pb := b.submitLogin(b.get(mfa.authCodeURL("b", "n", vb)), testUser, testPassword)
		codeB := codeIn(t, func() string { m, _ := b.lastMessage("email", address); return m.Body }())
		if codeA == codeB {
			t.Skip("the two codes happen to be equal (1 in a million)")
		}
		if got := b.answer(pb, codeA); got.status != http.StatusUnprocessableEntity {
			t.Fatalf("login B took login A's code: %d", got.status)
		}
		mfa.token(t, a.answer(pa, codeA).callback(t), va)
		mfa.token(t, b.answer(b.get(idp.issuer+flowURLPath(flowOf(t, pb))), codeB).callback(t), vb)
		// The code was used: a new login does not take it.
		c := idp.browser()
		pc := c.submitLogin(c.get(mfa.authCodeURL("c", "n", oauth2.GenerateVerifier())), testUser, testPassword)
		if got := c.answer(pc, codeA); got.status != http.StatusUnprocessableEntity {
			t.Errorf("a used code was taken again: %d", got.status)
		}
	})

	t.Run("send again waits for the cooldown, keeps the session identifier and voids the old code", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		id := sessionID(t, p)
		first, n := b.lastMessage("email", address)
		p = b.submit(p, "/login/factor", map[string]string{"op": "resend"}, nil)
		if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Please wait a moment before asking for another one") {
			t.Fatalf("resend within the cooldown: status %d, want 429 with the wait message", p.status)
		}
		if _, again := b.lastMessage("email", address); again != n {
			t.Fatalf("a resend within the cooldown sent a mail")
		}
		idp.clock.Advance(31 * time.Second)
		p = b.submit(p, "/login/factor", map[string]string{"op": "resend"}, nil)
		second, again := b.lastMessage("email", address)
		if again != n+1 || !strings.Contains(second.Subject, id) || sessionID(t, p) != id {
			t.Fatalf("want one more mail with the same identifier %s, got %d: %q", id, again-n, second.Subject)
		}
		oldCode, newCode := codeIn(t, first.Body), codeIn(t, second.Body)
		if oldCode != newCode {
			if got := b.answer(p, oldCode); got.status != http.StatusUnprocessableEntity {
				t.Errorf("the replaced code was accepted: %d", got.status)
			}
		}
		mfa.token(t, b.answer(p, newCode).callback(t), v)
	})

	t.Run("five wrong codes end the challenge; trying again mails a new code", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		m, n := b.lastMessage("email", address)
		wrong := "000000"
		if codeIn(t, m.Body) == wrong {
			wrong = "111111"
		}
		for range 5 {
			p = b.answer(p, wrong)
		}
		if !strings.Contains(p.body, `value="retry"`) {
			t.Fatalf("want the try-again page after 5 wrong codes (status %d):\n%s", p.status, p.body)
		}
		p = b.submit(p, "/login/factor", map[string]string{"op": "retry"}, nil)
		m, again := b.lastMessage("email", address)
		if again != n+1 {
			t.Fatalf("want a new mail after trying again, got %d", again-n)
		}
		mfa.token(t, b.answer(p, codeIn(t, m.Body)).callback(t), v)
	})
}

// flowOf returns the flow id of a login page.
func flowOf(t *testing.T, p page) string {
	t.Helper()
	_, id := p.hidden(t)
	return id
}

// TestSMSCodeFactor: seed 004 through the pages, on both databases: a
// mobile typed with its trunk 0 in the Netherlands, a landline refused, the
// masked number, the 5-minute lifetime and send again.
func TestSMSCodeFactor(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) { smsCode(t, backend) })
	}
}

func smsCode(t *testing.T, backend string) {
	idp := startIdP(t, backend, devMode)
	idp.addFactorClients()
	mfa := idp.rp(clientMFA, rpSecret)
	const mobile = "+31612345678"

	t.Run("set-up refuses a landline and garbage next to the field, then confirms a mobile by SMS", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		p = b.submit(p, "/login/enroll", map[string]string{"op": "begin", "factor": "sms"}, nil)
		if !strings.Contains(p.body, `name="op" value="begin"`) || !strings.Contains(p.body, `value="totp"`) {
			t.Errorf("the SMS set-up page offers no non-phone alternative:\n%s", p.body)
		}
		for raw, want := range map[string]string{"0201234567": "not a mobile number", "06-abc": "not a valid phone number"} {
			got := b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "send"}, url.Values{"country": {"NL"}, "phone": {raw}})
			if got.status != http.StatusBadRequest || !strings.Contains(got.body, want) || !strings.Contains(got.body, `aria-invalid="true"`) {
				t.Errorf("%q: status %d, want 400 with %q next to the field", raw, got.status, want)
			}
			if !strings.Contains(got.body, `value="`+raw+`"`) {
				t.Errorf("%q: the refused number is not in the field to correct", raw)
			}
		}
		if len(b.outbox()) != 0 {
			t.Fatal("a refused number was sent an SMS")
		}
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "send"}, url.Values{"country": {"NL"}, "phone": {"06 1234 5678"}})
		m, _ := b.lastMessage("sms", mobile)
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "confirm"}, url.Values{"code": {codeIn(t, m.Body)}})
		p = b.saveRecoveryCodes(p)
		c := mfa.token(t, p.callback(t), v)
		if !slices.Contains(c.AMR, "sms") || c.ACR != "http://eidas.europa.eu/LoA/substantial" {
			t.Errorf("acr %s amr %v", c.ACR, c.AMR)
		}
	})

	t.Run("the login shows the masked number; a code past 5 minutes is refused, a new one works", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		if !strings.Contains(p.body, "xxxx-xxxx78") || strings.Contains(p.body, "612345678") {
			t.Errorf("want the number masked as xxxx-xxxx78:\n%s", p.body)
		}
		m, _ := b.lastMessage("sms", mobile)
		idp.clock.Advance(5*time.Minute + time.Second)
		p = b.answer(p, codeIn(t, m.Body))
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "no longer valid") {
			t.Fatalf("a code past its 5 minutes: status %d\n%s", p.status, p.body)
		}
		p = b.submit(p, "/login/factor", map[string]string{"op": "resend"}, nil)
		m, _ = b.lastMessage("sms", mobile)
		c := mfa.token(t, b.answer(p, codeIn(t, m.Body)).callback(t), v)
		if !slices.Contains(c.AMR, "sms") {
			t.Errorf("amr %v", c.AMR)
		}
	})
}

// smtpSink is an SMTP server that keeps what it receives.
type smtpSink struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct{ s *smtpSink }

func (x *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *sinkSession) Reset()                               {}
func (x *sinkSession) Logout() error                        { return nil }
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, b)
	x.s.mu.Unlock()
	return err
}

func (s *smtpSink) last(t *testing.T) (n int, subject, text, html string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		t.Fatal("no mail received over SMTP")
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(s.msgs[len(s.msgs)-1])))
	if err != nil {
		t.Fatal(err)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("want multipart/alternative, got %q (%v)", mt, err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(part)
		switch pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); pt {
		case "text/plain":
			text = string(body)
		case "text/html":
			html = string(body)
		}
	}
	return len(s.msgs), subject, text, html
}

// TestEmailOverRealSMTP: the email code travels in a real SMTP
// conversation; the received mail has the session identifier in its
// subject and both parts, and its code works once.
func TestEmailOverRealSMTP(t *testing.T) {
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	port, _ := strconv.Atoi(strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:"))
	idp := startIdP(t, "sqlite", func(c *config.Config) {
		c.Notify.Email.Transport = "smtp"
		c.Notify.Email.SMTP.Host = "127.0.0.1"
		c.Notify.Email.SMTP.Port = port
		c.Notify.Email.SMTP.TLS = "none" // a relay on loopback
		c.Notify.Email.SMTP.From = "Login <noreply@idp.example.eu>"
	})
	idp.addFactorClients()
	mfa := idp.rp(clientMFA, rpSecret)

	b := idp.browser()
	v := oauth2.GenerateVerifier()
	p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
	p = b.enrolEmail(p, testUserEmail, func() string {
		_, _, text, _ := sink.last(t)
		return codeIn(t, text)
	})
	mfa.token(t, p.callback(t), v)

	// The set-up is told of in a mail of its own.
	if n, subject, text, html := sink.last(t); n != 2 || subject != "A sign-in method was added to your account" ||
		!strings.Contains(text, "Code by email (a•••@example.org) was added") || !strings.Contains(html, "If this was not you") {
		t.Errorf("want the notice of the set-up as mail 2 of 2, got mail %d %q:\n%s", n, subject, text)
	}

	b = idp.browser()
	v = oauth2.GenerateVerifier()
	p = b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
	id := sessionID(t, p)
	n, subject, text, html := sink.last(t)
	if n != 3 {
		t.Fatalf("want 3 mails (confirmation, notice, login), got %d", n)
	}
	code := codeIn(t, text)
	for part, s := range map[string]string{"subject": subject, "text": text, "html": html} {
		if !strings.Contains(s, id) {
			t.Errorf("the %s lacks the session identifier %s: %q", part, id, s)
		}
	}
	if !strings.Contains(html, code) {
		t.Errorf("the HTML part lacks the code")
	}
	mfa.token(t, b.answer(p, code).callback(t), v)

	c := idp.browser()
	pc := c.submitLogin(c.get(mfa.authCodeURL("s", "n", oauth2.GenerateVerifier())), testUser, testPassword)
	if got := c.answer(pc, code); got.status != http.StatusUnprocessableEntity {
		t.Errorf("the used code was accepted again: %d", got.status)
	}
}
