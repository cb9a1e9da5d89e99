package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/factortest"
	"github.com/eu-health-idp/idp/factors/oob"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/store"
)

type fixture struct {
	f      *Factor
	deps   factors.Deps
	mem    *factortest.Memory
	sender *factortest.Sender
	clock  *factortest.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d, mem := factortest.NewDeps(t)
	f, err := New(d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{f: f.(*Factor), deps: d, mem: mem, sender: d.Notify.(*factortest.Sender), clock: factortest.NewClock(factortest.Start)}
}

var ctx = context.Background()

// codeIn finds the 6-digit code in a message's text.
var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

func codeIn(t *testing.T, m notify.Message) string {
	t.Helper()
	c := codeRE.FindString(m.Text)
	if c == "" {
		t.Fatalf("no code in %q", m.Text)
	}
	return c
}

func (fx *fixture) last(t *testing.T) notify.Message {
	t.Helper()
	m, ok := fx.sender.Last()
	if !ok {
		t.Fatal("nothing was sent")
	}
	return m
}

func (fx *fixture) enrollAttempt(u *store.User, e *store.Enrollment) factors.EnrollAttempt {
	return factors.EnrollAttempt{FlowID: "flow-" + u.ID, User: u, Enrollment: e, Lang: "en", IP: "192.0.2.7", Now: fx.clock.Now()}
}

func (fx *fixture) finish(t *testing.T, u *store.User, e *store.Enrollment, form url.Values) (store.Proof, error) {
	t.Helper()
	return fx.f.FinishEnroll(ctx, fx.enrollAttempt(u, e), factors.Input{Form: form})
}

// enrol sets up and confirms addr for u through the set-up pages.
func (fx *fixture) enrol(t *testing.T, u *store.User, addr string) *store.Enrollment {
	t.Helper()
	e, err := fx.f.BeginEnroll(ctx, fx.enrollAttempt(u, nil))
	if err != nil {
		t.Fatalf("BeginEnroll: %v", err)
	}
	if _, err := fx.finish(t, u, e, url.Values{"step": {"send"}, "email": {addr}}); !errors.Is(err, factors.ErrEnrollContinues) {
		t.Fatalf("send: %v", err)
	}
	if _, err := fx.finish(t, u, e, url.Values{"step": {"confirm"}, "code": {codeIn(t, fx.last(t))}}); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return e
}

// challenge creates the engine's challenge row for u and returns the
// attempt Start gets.
func (fx *fixture) challenge(t *testing.T, u *store.User) factors.Attempt {
	t.Helper()
	a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
	a.IP = "192.0.2.7"
	if err := fx.mem.CreateChallenge(ctx, a.Challenge); err != nil {
		t.Fatal(err)
	}
	return a
}

// again is a's next request: the challenge re-read, the clock's time.
func (fx *fixture) again(t *testing.T, a factors.Attempt) factors.Attempt {
	t.Helper()
	ch, err := fx.mem.ChallengeByID(ctx, a.Challenge.ID, fx.clock.Now())
	if err != nil {
		t.Fatalf("ChallengeByID: %v", err)
	}
	a.Challenge, a.Now = ch, fx.clock.Now()
	a.Enrollments = factortest.Confirmed(t, fx.mem, a.User.ID, ID)
	return a
}

func (fx *fixture) start(t *testing.T, u *store.User) (factors.Attempt, factors.Prompt) {
	t.Helper()
	a := fx.challenge(t, u)
	p, err := fx.f.Start(ctx, a)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return fx.again(t, a), p
}

func (fx *fixture) check(t *testing.T, a factors.Attempt, code string) (factors.Result, error) {
	t.Helper()
	return fx.f.Check(ctx, fx.again(t, a), factors.Input{Form: url.Values{"code": {code}}})
}

func (fx *fixture) resend(t *testing.T, a factors.Attempt, to string) error {
	t.Helper()
	return fx.f.Resend(ctx, fx.again(t, a), factors.Input{Form: url.Values{"op": {"resend"}, "to": {to}}})
}

func TestNew(t *testing.T) {
	d, _ := factortest.NewDeps(t)
	tests := []struct {
		name   string
		change func(*factors.Deps)
	}{
		{"a missing store is refused", func(d *factors.Deps) { d.Store = nil }},
		{"a missing code hasher is refused", func(d *factors.Deps) { d.Codes = nil }},
		{"missing catalogs are refused", func(d *factors.Deps) { d.Messages = nil }},
		{"a blank issuer is refused", func(d *factors.Deps) { d.Issuer = " " }},
		{"codes of 8 digits are refused", func(d *factors.Deps) { d.Email.Digits = 8 }},
		{"a negative lifetime is refused", func(d *factors.Deps) { d.Email.Lifetime = -time.Minute }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := d
			tt.change(&d)
			if _, err := New(d); err == nil {
				t.Error("New succeeded")
			}
		})
	}
	t.Run("zero settings take the defaults", func(t *testing.T) {
		d := d
		d.Email = factors.CodeSettings{}
		f, err := New(d)
		if err != nil {
			t.Fatal(err)
		}
		if s := f.(*Factor).kit.Settings; s.Lifetime != 10*time.Minute || s.ResendCooldown != 30*time.Second || s.SendsPerHour != 5 || s.Digits != 6 {
			t.Errorf("settings %+v", s)
		}
	})
	t.Run("it is a possession factor with amr otp and email, sent by email", func(t *testing.T) {
		f, _ := New(d)
		p := f.Properties()
		if f.ID() != "email" || len(p.Kinds) != 1 || p.Kinds[0] != factors.Possession || strings.Join(p.AMR, ",") != "otp,email" ||
			p.Channel != "email" || p.Restricted || p.Backup || p.PhishingResistant {
			t.Errorf("ID %q, Properties %+v", f.ID(), p)
		}
	})
}

func TestStart(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	e := fx.enrol(t, u, "Anna.Kowalska@Example.ORG")
	before := len(fx.sender.Sent())
	a, p := fx.start(t, u)
	sent := fx.sender.Sent()[before:]
	if len(sent) != 1 {
		t.Fatalf("%d messages sent", len(sent))
	}
	m := sent[0]
	session, _ := p.Data["SessionID"].(string)

	t.Run("it sends one email to the address, for the person and their IP, in the page's language", func(t *testing.T) {
		if m.Channel != notify.Email || m.To != "Anna.Kowalska@example.org" || m.UserID != u.ID || m.IP != "192.0.2.7" || m.Lang != "en" {
			t.Errorf("message %+v", m)
		}
		if m.Ref != "email."+a.Challenge.ID+".1" {
			t.Errorf("Ref %q", m.Ref)
		}
	})
	t.Run("the page shows a 3-digit session identifier and the masked address", func(t *testing.T) {
		if p.Template != "factor_email" || !regexp.MustCompile(`^[0-9]{3}$`).MatchString(session) ||
			p.Data["Masked"] != "A•••@example.org" || p.Data["Minutes"] != 10 {
			t.Errorf("prompt %+v", p)
		}
		if _, ok := p.Data["Error"]; ok {
			t.Error("an Error key on a successful send")
		}
	})
	t.Run("the subject, text and HTML carry the same session identifier", func(t *testing.T) {
		if !strings.Contains(m.Subject, session) || !strings.Contains(m.Text, "Session identifier: "+session) || !strings.Contains(m.HTML, ">"+session+"<") {
			t.Errorf("subject %q\ntext %s\nhtml %s", m.Subject, m.Text, m.HTML)
		}
	})
	t.Run("the text and HTML carry the code", func(t *testing.T) {
		code := codeIn(t, m)
		if !strings.Contains(m.Text, "Login code: "+code) || !strings.Contains(m.HTML, ">"+code+"<") {
			t.Errorf("text %s\nhtml %s", m.Text, m.HTML)
		}
	})
	t.Run("the mail tells the person to compare the identifier and not to enter the code otherwise", func(t *testing.T) {
		for _, part := range []string{m.Text, m.HTML} {
			if !strings.Contains(part, "Compare the session identifier with the one on the login page") ||
				!strings.Contains(part, "if you are not logging in right now, do not enter the code") {
				t.Errorf("part lacks the warning:\n%s", part)
			}
		}
		if !strings.Contains(m.HTML, "<html lang=\"en\">") || !strings.Contains(m.HTML, "<title>"+m.Subject+"</title>") {
			t.Errorf("layout missing:\n%s", m.HTML)
		}
	})
	t.Run("the challenge stores the code's hash and the state, never the code", func(t *testing.T) {
		code := codeIn(t, m)
		if a.Challenge.CodeHash == "" || strings.Contains(a.Challenge.CodeHash, code) || strings.Contains(a.Challenge.Data, code) {
			t.Errorf("challenge %+v", a.Challenge)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(a.Challenge.Data), &st); err != nil {
			t.Fatal(err)
		}
		if st["enrollment"] != e.ID || st["masked"] != "A•••@example.org" || st["session"] != session || st["n"] != 1.0 || st["code_at"] == nil {
			t.Errorf("Data %s", a.Challenge.Data)
		}
	})
	t.Run("a reload shows the same page and sends nothing", func(t *testing.T) {
		again, err := fx.f.Prompt(ctx, fx.again(t, a))
		if err != nil || again.Data["SessionID"] != session || again.Data["Masked"] != p.Data["Masked"] {
			t.Errorf("%+v, %v", again, err)
		}
		if len(fx.sender.Sent()) != before+1 {
			t.Error("the reload sent a message")
		}
	})
	t.Run("a second Start of the same challenge sends nothing", func(t *testing.T) {
		again, err := fx.f.Start(ctx, fx.again(t, a))
		if err != nil || again.Data["SessionID"] != session || len(fx.sender.Sent()) != before+1 {
			t.Errorf("%+v, %v, %d sent", again, err, len(fx.sender.Sent())-before)
		}
	})
	t.Run("without an address Start fails", func(t *testing.T) {
		if _, err := fx.f.Start(ctx, fx.challenge(t, factortest.User("nobody"))); err == nil {
			t.Error("no error")
		}
	})
}

func TestStartInHungarian(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("kovacs.janos")
	fx.enrol(t, u, "janos@example.hu")
	a := fx.challenge(t, u)
	a.Lang = "hu"
	p, err := fx.f.Start(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	m := fx.last(t)
	session := p.Data["SessionID"].(string)
	if m.Lang != "hu" || m.Subject != factortest.Issuer+" hitelesítő kód – munkamenet-azonosító: "+session {
		t.Errorf("lang %q subject %q", m.Lang, m.Subject)
	}
	for _, part := range []string{m.Text, m.HTML} {
		if !strings.Contains(part, "Hitelesítő kód") || !strings.Contains(part, "Munkamenet-azonosító") || !strings.Contains(part, "ne adja meg a kódot") {
			t.Errorf("not Hungarian:\n%s", part)
		}
	}
	if !strings.Contains(m.HTML, `<html lang="hu">`) {
		t.Error("HTML not marked Hungarian")
	}
}

func TestStartChoosesTheAddress(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	first := fx.enrol(t, u, "first@example.org")
	fx.clock.Advance(time.Minute)
	second := fx.enrol(t, u, "second@example.org")

	t.Run("the newest address when none was used", func(t *testing.T) {
		fx.start(t, u)
		if fx.last(t).To != "second@example.org" {
			t.Errorf("sent to %s", fx.last(t).To)
		}
	})
	t.Run("the address used most recently", func(t *testing.T) {
		row, _ := fx.mem.EnrollmentByID(ctx, first.ID)
		at := fx.clock.Now()
		row.LastUsedAt = &at
		if err := fx.mem.UpdateEnrollment(ctx, row); err != nil {
			t.Fatal(err)
		}
		fx.start(t, u)
		if fx.last(t).To != "first@example.org" {
			t.Errorf("sent to %s", fx.last(t).To)
		}
	})
	t.Run("a successful code records the use", func(t *testing.T) {
		fx.clock.Advance(time.Minute)
		a := fx.challenge(t, u)
		if _, err := fx.f.Start(ctx, a); err != nil {
			t.Fatal(err)
		}
		fx.clock.Advance(30 * time.Second)
		if err := fx.resend(t, a, second.ID); err != nil {
			t.Fatalf("resend to the other address: %v", err)
		}
		res, err := fx.check(t, a, codeIn(t, fx.last(t)))
		if err != nil || res.EnrollmentID != second.ID {
			t.Fatalf("%+v, %v", res, err)
		}
		row, _ := fx.mem.EnrollmentByID(ctx, second.ID)
		if row.LastUsedAt == nil || !row.LastUsedAt.Equal(fx.clock.Now()) {
			t.Errorf("LastUsedAt %v", row.LastUsedAt)
		}
	})
}

func TestCheck(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	e := fx.enrol(t, u, "anna@example.org")
	a, _ := fx.start(t, u)
	code := codeIn(t, fx.last(t))

	t.Run("malformed answers are Malformed and change nothing", func(t *testing.T) {
		for _, in := range []string{"", "12345", "1234567", "abcdef", "12 34 5a"} {
			_, err := fx.check(t, a, in)
			factortest.AssertMessage(t, err, factors.Malformed, "code")
		}
		if now := fx.again(t, a).Challenge; now.Data != a.Challenge.Data || now.CodeHash != a.Challenge.CodeHash || now.Attempts != 0 {
			t.Errorf("challenge changed: %+v", now)
		}
	})
	t.Run("a wrong code is Wrong", func(t *testing.T) {
		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
		_, err := fx.check(t, a, wrong)
		if fe := factortest.AssertMessage(t, err, factors.Wrong, "code"); fe.MessageID != oob.MsgCodeWrong {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("the code works, with spaces, and proves otp and email", func(t *testing.T) {
		res, err := fx.check(t, a, code[:3]+" "+code[3:])
		if err != nil {
			t.Fatal(err)
		}
		if res.EnrollmentID != e.ID || res.Proof.Factor != "email" || strings.Join(res.Proof.AMR, ",") != "otp,email" || !res.Proof.At.Equal(fx.clock.Now()) {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("once the engine consumed the challenge, the code works on no new challenge", func(t *testing.T) {
		if err := fx.mem.ConsumeChallenge(ctx, a.Challenge.ID, fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		b, _ := fx.start(t, u)
		_, err := fx.check(t, b, code)
		factortest.AssertMessage(t, err, factors.Wrong, "code")
	})
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func TestCheckExpiry(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	fx.enrol(t, u, "anna@example.org")
	// The engine's challenge lives 10 minutes too; this one outlives the
	// code so that the code's own lifetime shows.
	a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
	a.Challenge.ExpiresAt = fx.clock.Now().Add(time.Hour)
	if err := fx.mem.CreateChallenge(ctx, a.Challenge); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.f.Start(ctx, a); err != nil {
		t.Fatal(err)
	}
	code := codeIn(t, fx.last(t))

	t.Run("a code is good until its lifetime ends", func(t *testing.T) {
		fx.clock.Advance(10*time.Minute - time.Second)
		if _, err := fx.check(t, a, code); err != nil {
			t.Error(err)
		}
	})
	t.Run("an expired code is Malformed with a message to get a new one", func(t *testing.T) {
		fx.clock.Advance(time.Second)
		_, err := fx.check(t, a, code)
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "code"); fe.MessageID != oob.MsgCodeExpired {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("a new code after expiry works", func(t *testing.T) {
		if err := fx.resend(t, a, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.check(t, a, codeIn(t, fx.last(t))); err != nil {
			t.Error(err)
		}
	})
}

func TestCodeOfAnotherFlow(t *testing.T) {
	fx := newFixture(t)
	anna, jan := factortest.User("anna"), factortest.User("jan")
	fx.enrol(t, anna, "anna@example.org")
	fx.enrol(t, jan, "jan@example.org")
	a, _ := fx.start(t, anna)
	annaCode := codeIn(t, fx.last(t))
	b, _ := fx.start(t, jan)
	janCode := codeIn(t, fx.last(t))
	if annaCode == janCode {
		t.Skip("the two codes happen to be equal")
	}
	t.Run("a code from another flow's challenge is Wrong", func(t *testing.T) {
		_, err := fx.check(t, b, annaCode)
		factortest.AssertMessage(t, err, factors.Wrong, "code")
	})
	t.Run("a second challenge of the same person has its own code", func(t *testing.T) {
		c, _ := fx.start(t, anna)
		annaCode2 := codeIn(t, fx.last(t))
		if annaCode2 != annaCode {
			if _, err := fx.check(t, c, annaCode); !factors.IsWrong(err) {
				t.Errorf("the first challenge's code: %v", err)
			}
		}
		if _, err := fx.check(t, a, annaCode); err != nil {
			t.Errorf("the first challenge: %v", err)
		}
		if _, err := fx.check(t, b, janCode); err != nil {
			t.Errorf("jan's own code: %v", err)
		}
	})
	t.Run("a challenge of another person is refused", func(t *testing.T) {
		other := fx.again(t, a)
		other.User = jan
		if _, err := fx.f.Check(ctx, other, factors.Input{Form: url.Values{"code": {annaCode}}}); err == nil || factors.IsWrong(err) || factors.IsMalformed(err) {
			t.Errorf("got %v, want a server fault", err)
		}
	})
}

func TestResend(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	fx.enrol(t, u, "anna@example.org")
	a, p := fx.start(t, u)
	first := fx.last(t)
	session := p.Data["SessionID"].(string)

	t.Run("during the cooldown a resend is refused without a field", func(t *testing.T) {
		fx.clock.Advance(29 * time.Second)
		err := fx.resend(t, a, "")
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != oob.MsgCooldown {
			t.Errorf("message %s", fe.MessageID)
		}
		if fx.last(t).Ref != first.Ref {
			t.Error("sent during the cooldown")
		}
	})
	t.Run("after the cooldown a new code goes out with the same session identifier", func(t *testing.T) {
		fx.clock.Advance(time.Second)
		if err := fx.resend(t, a, ""); err != nil {
			t.Fatal(err)
		}
		m := fx.last(t)
		if m.Ref != "email."+a.Challenge.ID+".2" || m.To != "anna@example.org" || !strings.Contains(m.Subject, session) || !strings.Contains(m.Text, session) {
			t.Errorf("message %+v", m)
		}
		again, _ := fx.f.Prompt(ctx, fx.again(t, a))
		if again.Data["SessionID"] != session {
			t.Errorf("session %v, want %s", again.Data["SessionID"], session)
		}
	})
	t.Run("the old code stops working and the new one works", func(t *testing.T) {
		old, cur := codeIn(t, first), codeIn(t, fx.last(t))
		if old != cur {
			_, err := fx.check(t, a, old)
			factortest.AssertMessage(t, err, factors.Wrong, "code")
		}
		if _, err := fx.check(t, a, cur); err != nil {
			t.Error(err)
		}
	})
	t.Run("the sends per challenge are capped", func(t *testing.T) {
		for i := 3; i <= 5; i++ {
			fx.clock.Advance(30 * time.Second)
			if err := fx.resend(t, a, ""); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		fx.clock.Advance(30 * time.Second)
		err := fx.resend(t, a, "")
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != oob.MsgSendCap {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("an address that is not the person's is refused", func(t *testing.T) {
		b, _ := fx.start(t, u)
		fx.clock.Advance(30 * time.Second)
		other := fx.enrol(t, factortest.User("jan"), "jan@example.org")
		err := fx.resend(t, b, other.ID)
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != oob.MsgNotYours {
			t.Errorf("message %s", fe.MessageID)
		}
	})
}

func TestDeliveryFailure(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	fx.enrol(t, u, "anna@example.org")

	fx.sender.SetErr(fmt.Errorf("smtp: 451 try later: %w", notify.ErrUnavailable))
	a := fx.challenge(t, u)
	p, err := fx.f.Start(ctx, a)
	t.Run("Start shows the failure on the page instead of failing", func(t *testing.T) {
		if err != nil || p.Template != "factor_email" || p.Data["Error"] != notify.MsgUnavailable {
			t.Errorf("%+v, %v", p, err)
		}
		if p.Data["SessionID"] == "" {
			t.Error("no session identifier")
		}
	})
	t.Run("a reload still shows it", func(t *testing.T) {
		again, err := fx.f.Prompt(ctx, fx.again(t, a))
		if err != nil || again.Data["Error"] != notify.MsgUnavailable {
			t.Errorf("%+v, %v", again, err)
		}
	})
	t.Run("send again works at once", func(t *testing.T) {
		fx.sender.SetErr(nil)
		if err := fx.resend(t, a, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.check(t, a, codeIn(t, fx.last(t))); err != nil {
			t.Error(err)
		}
		again, _ := fx.f.Prompt(ctx, fx.again(t, a))
		if _, ok := again.Data["Error"]; ok {
			t.Error("the failure is still shown after a good send")
		}
	})
	t.Run("a failed resend is Malformed with the transport's message", func(t *testing.T) {
		fx.clock.Advance(30 * time.Second)
		fx.sender.SetErr(&notify.LimitError{Scope: "destination", RetryAfter: time.Hour})
		err := fx.resend(t, a, "")
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != notify.MsgLimited {
			t.Errorf("message %s", fe.MessageID)
		}
		fx.sender.SetErr(nil)
	})
	t.Run("a message already sent under its reference counts as sent", func(t *testing.T) {
		st, _ := oob.ParseChallenge(fx.again(t, a).Challenge.Data)
		ref := fmt.Sprintf("email.%s.%d", a.Challenge.ID, st.N+1)
		if err := fx.sender.Send(ctx, notify.Message{Ref: ref}); err != nil {
			t.Fatal(err)
		}
		if err := fx.resend(t, a, ""); err != nil {
			t.Errorf("got %v", err)
		}
		if again, _ := fx.f.Prompt(ctx, fx.again(t, a)); again.Data["Error"] != nil {
			t.Errorf("page shows %v", again.Data["Error"])
		}
	})
	t.Run("without a configured sender the page says the code could not be sent", func(t *testing.T) {
		d := fx.deps
		d.Notify = nil
		f, err := New(d)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.Start(ctx, fx.challenge(t, u))
		if err != nil || p.Data["Error"] != notify.MsgUnavailable {
			t.Errorf("%+v, %v", p, err)
		}
	})
}

func TestRacing(t *testing.T) {
	t.Run("of racing answers with the right code exactly one finishes the login", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		fx.enrol(t, u, "anna@example.org")
		a, _ := fx.start(t, u)
		code := codeIn(t, fx.last(t))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// What the engine does: Check, then ConsumeChallenge.
				b := a
				if _, err := fx.f.Check(ctx, b, factors.Input{Form: url.Values{"code": {code}}}); err != nil {
					return
				}
				if fx.mem.ConsumeChallenge(ctx, a.Challenge.ID, fx.clock.Now()) == nil {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d wins", wins.Load())
		}
	})
	t.Run("of racing resends exactly one sends", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		fx.enrol(t, u, "anna@example.org")
		a, _ := fx.start(t, u)
		fx.clock.Advance(time.Minute)
		before := len(fx.sender.Sent())
		b := fx.again(t, a)
		var wg sync.WaitGroup
		var ok, cooldown atomic.Int32
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := fx.f.Resend(ctx, b, factors.Input{Form: url.Values{}})
				var fe *factors.Error
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &fe) && fe.MessageID == oob.MsgCooldown:
					cooldown.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || len(fx.sender.Sent()) != before+1 {
			t.Errorf("%d succeeded, %d in cooldown, %d sent", ok.Load(), cooldown.Load(), len(fx.sender.Sent())-before)
		}
		if _, err := fx.check(t, a, codeIn(t, fx.last(t))); err != nil {
			t.Errorf("the code sent does not work: %v", err)
		}
	})
}

func TestDescribe(t *testing.T) {
	f := newFixture(t).f
	for data, want := range map[string]string{
		`{"email":"anna@example.org"}`: "a•••@example.org",
		`{"phone":"+31612345678"}`:     "",
		`not json`:                     "",
	} {
		if got := f.Describe(store.Enrollment{Factor: ID, Data: data}); got != want {
			t.Errorf("Describe(%s) = %q, want %q", data, got, want)
		}
	}
}
