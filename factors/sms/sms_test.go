package sms

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
	"unicode/utf8"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/factortest"
	"github.com/eu-health-idp/idp/factors/oob"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/store"
)

var ctx = context.Background()

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

var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

func codeIn(t *testing.T, m notify.Message) string {
	t.Helper()
	c := codeRE.FindString(m.Text)
	if c == "" {
		t.Fatalf("no code in %q", m.Text)
	}
	return c
}

func otherCode(code string) string {
	n := 0
	for _, r := range code {
		n = n*10 + int(r-'0')
	}
	return fmt.Sprintf("%06d", (n+1)%1000000)
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

func (fx *fixture) stored(t *testing.T, id string) *store.Enrollment {
	t.Helper()
	e, err := fx.mem.EnrollmentByID(ctx, id)
	if err != nil {
		t.Fatalf("EnrollmentByID: %v", err)
	}
	return e
}

func (fx *fixture) begin(t *testing.T, u *store.User) *store.Enrollment {
	t.Helper()
	e, err := fx.f.BeginEnroll(ctx, fx.enrollAttempt(u, nil))
	if err != nil {
		t.Fatalf("BeginEnroll: %v", err)
	}
	return e
}

// finish posts one set-up step for the stored row of e.
func (fx *fixture) finish(t *testing.T, u *store.User, e *store.Enrollment, form url.Values) (store.Proof, error) {
	t.Helper()
	return fx.f.FinishEnroll(ctx, fx.enrollAttempt(u, fx.stored(t, e.ID)), factors.Input{Form: form})
}

func (fx *fixture) enrollPrompt(t *testing.T, u *store.User, e *store.Enrollment) factors.Prompt {
	t.Helper()
	p, err := fx.f.EnrollPrompt(ctx, fx.enrollAttempt(u, fx.stored(t, e.ID)))
	if err != nil {
		t.Fatalf("EnrollPrompt: %v", err)
	}
	return p
}

// enrol sets up and confirms a number for u through the set-up pages.
func (fx *fixture) enrol(t *testing.T, u *store.User, country, number string) *store.Enrollment {
	t.Helper()
	e := fx.begin(t, u)
	if _, err := fx.finish(t, u, e, url.Values{"step": {"send"}, "country": {country}, "phone": {number}}); !errors.Is(err, factors.ErrEnrollContinues) {
		t.Fatalf("send: %v", err)
	}
	if _, err := fx.finish(t, u, e, url.Values{"step": {"confirm"}, "code": {codeIn(t, fx.last(t))}}); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return fx.stored(t, e.ID)
}

func (fx *fixture) challenge(t *testing.T, u *store.User) factors.Attempt {
	t.Helper()
	a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
	a.IP = "192.0.2.7"
	if err := fx.mem.CreateChallenge(ctx, a.Challenge); err != nil {
		t.Fatal(err)
	}
	return a
}

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

func (fx *fixture) prompt(t *testing.T, a factors.Attempt) factors.Prompt {
	t.Helper()
	p, err := fx.f.Prompt(ctx, fx.again(t, a))
	if err != nil {
		t.Fatalf("Prompt: %v", err)
	}
	return p
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
		{"a missing phone policy is refused", func(d *factors.Deps) { d.Phones = nil }},
		{"codes of 4 digits are refused", func(d *factors.Deps) { d.SMS.Digits = 4 }},
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
		d.SMS = factors.CodeSettings{}
		f, err := New(d)
		if err != nil {
			t.Fatal(err)
		}
		if s := f.(*Factor).kit.Settings; s.Lifetime != 5*time.Minute || s.ResendCooldown != 30*time.Second || s.SendsPerHour != 5 || s.Digits != 6 {
			t.Errorf("settings %+v", s)
		}
	})
	t.Run("it is a restricted possession factor with amr sms", func(t *testing.T) {
		f, _ := New(d)
		p := f.Properties()
		if f.ID() != "sms" || len(p.Kinds) != 1 || p.Kinds[0] != factors.Possession || strings.Join(p.AMR, ",") != "sms" ||
			p.Channel != "sms" || !p.Restricted || p.Backup || p.PhishingResistant {
			t.Errorf("ID %q, Properties %+v", f.ID(), p)
		}
	})
}

func TestStart(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("karin")
	e := fx.enrol(t, u, "NL", "06 1234 5678")
	before := len(fx.sender.Sent())
	a, p := fx.start(t, u)
	sent := fx.sender.Sent()[before:]
	if len(sent) != 1 {
		t.Fatalf("%d messages sent", len(sent))
	}
	m := sent[0]

	t.Run("it sends one SMS to the number, for the person and their IP, in the page's language", func(t *testing.T) {
		if m.Channel != notify.SMS || m.To != "+31612345678" || m.UserID != u.ID || m.IP != "192.0.2.7" || m.Lang != "en" ||
			m.Ref != "sms."+a.Challenge.ID+".1" || m.Subject != "" || m.HTML != "" {
			t.Errorf("message %+v", m)
		}
	})
	t.Run("the SMS says the code and how long it is valid", func(t *testing.T) {
		want := codeIn(t, m) + " is your login code. It is valid for 5 minutes. Do not share it."
		if m.Text != want {
			t.Errorf("text %q, want %q", m.Text, want)
		}
	})
	t.Run("the page shows the masked number and the lifetime", func(t *testing.T) {
		if p.Template != "factor_sms" || p.Data["Masked"] != "xxxx-xxxx78" || p.Data["Minutes"] != 5 {
			t.Errorf("prompt %+v", p)
		}
		if others, _ := p.Data["Others"].([]Other); len(others) != 0 {
			t.Errorf("others %v", others)
		}
		if _, ok := p.Data["Error"]; ok {
			t.Error("Error set on a good send")
		}
	})
	t.Run("the challenge holds the enrollment, the masked number and the code's hash only", func(t *testing.T) {
		code := codeIn(t, m)
		var st map[string]any
		if err := json.Unmarshal([]byte(a.Challenge.Data), &st); err != nil {
			t.Fatal(err)
		}
		if st["enrollment"] != e.ID || st["masked"] != "xxxx-xxxx78" || st["session"] != nil || strings.Contains(a.Challenge.Data, "612345678") ||
			a.Challenge.CodeHash == "" || strings.Contains(a.Challenge.CodeHash+a.Challenge.Data, code) {
			t.Errorf("challenge %+v", a.Challenge)
		}
	})
	t.Run("the code works and proves sms", func(t *testing.T) {
		res, err := fx.check(t, a, codeIn(t, m))
		if err != nil || res.EnrollmentID != e.ID || res.Proof.Factor != "sms" || strings.Join(res.Proof.AMR, ",") != "sms" {
			t.Errorf("%+v, %v", res, err)
		}
	})
	t.Run("a wrong code is Wrong, a malformed one Malformed", func(t *testing.T) {
		_, err := fx.check(t, a, otherCode(codeIn(t, m)))
		factortest.AssertMessage(t, err, factors.Wrong, "code")
		_, err = fx.check(t, a, "12-34-56")
		factortest.AssertMessage(t, err, factors.Malformed, "code")
	})
	t.Run("the code expires after 5 minutes", func(t *testing.T) {
		fx.clock.Advance(5*time.Minute - time.Second)
		if _, err := fx.check(t, a, codeIn(t, m)); err != nil {
			t.Errorf("just before: %v", err)
		}
		fx.clock.Advance(time.Second)
		// The engine's challenge ends at the same moment: reading it fails
		// first. The factor's own check is what a longer challenge meets.
		b := a
		b.Now = fx.clock.Now()
		_, err := fx.f.Check(ctx, b, factors.Input{Form: url.Values{"code": {codeIn(t, m)}}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "code"); fe.MessageID != oob.MsgCodeExpired {
			t.Errorf("message %s", fe.MessageID)
		}
	})
}

func TestSeveralNumbers(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("karin")
	primary := fx.enrol(t, u, "NL", "0612345678")
	fx.clock.Advance(time.Minute)
	second := fx.enrol(t, u, "SE", "070-123 45 34")

	t.Run("the first confirmed number is the primary, the next one is not", func(t *testing.T) {
		if primary.Data != `{"phone":"+31612345678","primary":true}` || second.Data != `{"phone":"+46701234534"}` {
			t.Errorf("data %s / %s", primary.Data, second.Data)
		}
		if primary.Name != "+31 6 12345678" || second.Name != "+46 70 123 45 34" {
			t.Errorf("names %q / %q", primary.Name, second.Name)
		}
	})
	a, p := fx.start(t, u)
	t.Run("the code goes to the primary and the page offers the other number", func(t *testing.T) {
		if fx.last(t).To != "+31612345678" {
			t.Errorf("sent to %s", fx.last(t).To)
		}
		others, _ := p.Data["Others"].([]Other)
		if len(others) != 1 || others[0].ID != second.ID || others[0].Masked != "xxxx-xxxx34" {
			t.Errorf("others %+v", others)
		}
	})
	t.Run("send to the other number, after the cooldown", func(t *testing.T) {
		err := fx.resend(t, a, second.ID)
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != oob.MsgCooldown {
			t.Errorf("message %s", fe.MessageID)
		}
		fx.clock.Advance(30 * time.Second)
		if err := fx.resend(t, a, second.ID); err != nil {
			t.Fatal(err)
		}
		if m := fx.last(t); m.To != "+46701234534" || m.Ref != "sms."+a.Challenge.ID+".2" {
			t.Errorf("message %+v", m)
		}
		p := fx.prompt(t, a)
		others, _ := p.Data["Others"].([]Other)
		if p.Data["Masked"] != "xxxx-xxxx34" || len(others) != 1 || others[0].ID != primary.ID {
			t.Errorf("prompt %+v", p.Data)
		}
	})
	t.Run("the code of the other number answers for it", func(t *testing.T) {
		res, err := fx.check(t, a, codeIn(t, fx.last(t)))
		if err != nil || res.EnrollmentID != second.ID {
			t.Errorf("%+v, %v", res, err)
		}
	})
	t.Run("send again goes on to the number chosen last", func(t *testing.T) {
		fx.clock.Advance(30 * time.Second)
		if err := fx.resend(t, a, ""); err != nil {
			t.Fatal(err)
		}
		if fx.last(t).To != "+46701234534" {
			t.Errorf("sent to %s", fx.last(t).To)
		}
	})
	t.Run("a number of someone else is refused", func(t *testing.T) {
		fx.clock.Advance(30 * time.Second)
		other := fx.enrol(t, factortest.User("jan"), "PL", "512 345 678")
		err := fx.resend(t, a, other.ID)
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != oob.MsgNotYours {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("the sends of a challenge are capped", func(t *testing.T) {
		// 3 sent so far.
		for range 2 {
			if err := fx.resend(t, a, primary.ID); err != nil {
				t.Fatal(err)
			}
			fx.clock.Advance(30 * time.Second)
		}
		err := fx.resend(t, a, "")
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != oob.MsgSendCap {
			t.Errorf("message %s", fe.MessageID)
		}
	})
}

func TestDeliveryFailure(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("karin")
	fx.enrol(t, u, "NL", "0612345678")
	fx.sender.SetErr(fmt.Errorf("twilio 21610: %w", notify.ErrUndeliverable))
	a := fx.challenge(t, u)
	p, err := fx.f.Start(ctx, a)
	t.Run("Start shows the failure on the page instead of failing", func(t *testing.T) {
		if err != nil || p.Data["Error"] != notify.MsgUndeliverable || p.Data["Masked"] != "xxxx-xxxx78" {
			t.Errorf("%+v, %v", p, err)
		}
		if again := fx.prompt(t, a); again.Data["Error"] != notify.MsgUndeliverable {
			t.Errorf("reload %+v", again.Data)
		}
	})
	t.Run("send again works at once and its code works", func(t *testing.T) {
		fx.sender.SetErr(nil)
		if err := fx.resend(t, a, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.check(t, a, codeIn(t, fx.last(t))); err != nil {
			t.Error(err)
		}
	})
	t.Run("a country the transport refuses is its own message", func(t *testing.T) {
		fx.clock.Advance(30 * time.Second)
		fx.sender.SetErr(notify.ErrCountryNotAllowed)
		defer fx.sender.SetErr(nil)
		err := fx.resend(t, a, "")
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != notify.MsgCountry {
			t.Errorf("message %s", fe.MessageID)
		}
	})
}

func TestEnroll(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("karin")
	e := fx.begin(t, u)

	t.Run("the page asks for the number with the default country first", func(t *testing.T) {
		p := fx.enrollPrompt(t, u, e)
		countries, _ := p.Data["Countries"].([]phone.Country)
		if p.Template != "enroll_sms" || p.Data["Stage"] != "number" || p.Data["Country"] != "NL" || p.Data["Phone"] != "" ||
			len(countries) != 4 || countries[0].Region != "NL" || countries[0].Code != 31 {
			t.Errorf("prompt %+v", p.Data)
		}
	})
	refused := []struct {
		name, country, number, field, msg string
	}{
		{"an empty number is required", "NL", " ", "phone", phone.MsgRequired},
		{"garbage is not a number", "NL", "call me maybe", "phone", phone.MsgInvalid},
		{"too few digits are not a number", "NL", "06 123", "phone", phone.MsgInvalid},
		{"a landline cannot receive SMS", "NL", "020 123 4567", "phone", phone.MsgNotMobile},
		{"a country not allowed is refused on the selector", "DE", "0151 23456789", "country", phone.MsgCountry},
		{"a +CC not allowed is refused on the number", "NL", "+49 151 23456789", "phone", phone.MsgCountry},
		{"an unknown country is refused on the selector", "XX", "0612345678", "country", phone.MsgCountry},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fx.finish(t, u, e, url.Values{"step": {"send"}, "country": {tt.country}, "phone": {tt.number}})
			if fe := factortest.AssertMessage(t, err, factors.Malformed, tt.field); fe.MessageID != tt.msg {
				t.Errorf("message %s, want %s", fe.MessageID, tt.msg)
			}
			if len(fx.sender.Sent()) != 0 || fx.stored(t, e.ID).Data != "" {
				t.Error("something was sent or stored")
			}
		})
	}
	t.Run("a mobile number gets a code by SMS", func(t *testing.T) {
		_, err := fx.finish(t, u, e, url.Values{"step": {"send"}, "country": {"PL"}, "phone": {"512-345-678"}})
		if !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		m := fx.last(t)
		want := codeIn(t, m) + " is your code to confirm this number. It is valid for 5 minutes."
		if m.Channel != notify.SMS || m.To != "+48512345678" || m.Ref != "sms.e."+e.ID+".1" || m.Text != want || m.UserID != u.ID {
			t.Errorf("message %+v", m)
		}
		p := fx.enrollPrompt(t, u, e)
		if p.Data["Stage"] != "code" || p.Data["Display"] != "+48 512 345 678" || p.Data["Minutes"] != 5 {
			t.Errorf("prompt %+v", p.Data)
		}
	})
	t.Run("five wrong codes, then the code is dead until a new one is sent", func(t *testing.T) {
		code := codeIn(t, fx.last(t))
		for i := range 5 {
			_, err := fx.finish(t, u, e, url.Values{"step": {"confirm"}, "code": {otherCode(code)}})
			if !factors.IsWrong(err) {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		_, err := fx.finish(t, u, e, url.Values{"step": {"confirm"}, "code": {code}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "code"); fe.MessageID != oob.MsgCodeDead {
			t.Errorf("message %s", fe.MessageID)
		}
		_, err = fx.finish(t, u, e, url.Values{"step": {"resend"}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "phone"); fe.MessageID != oob.MsgCooldown {
			t.Errorf("resend during the cooldown: %s", fe.MessageID)
		}
		fx.clock.Advance(30 * time.Second)
		if _, err := fx.finish(t, u, e, url.Values{"step": {"resend"}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		if fx.last(t).To != "+48512345678" {
			t.Errorf("resent to %s", fx.last(t).To)
		}
	})
	t.Run("the right code confirms the number as the primary", func(t *testing.T) {
		proof, err := fx.finish(t, u, e, url.Values{"code": {codeIn(t, fx.last(t))}})
		if err != nil || proof.Factor != "sms" {
			t.Fatalf("%+v, %v", proof, err)
		}
		row := fx.stored(t, e.ID)
		if !row.Confirmed() || row.Name != "+48 512 345 678" || row.Data != `{"phone":"+48512345678","primary":true}` {
			t.Errorf("row %+v", row)
		}
	})
	t.Run("a number the person already has is refused", func(t *testing.T) {
		e2 := fx.begin(t, u)
		_, err := fx.finish(t, u, e2, url.Values{"step": {"send"}, "country": {"NL"}, "phone": {"+48 512 345 678"}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "phone"); fe.MessageID != MsgPhoneTaken {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("use another number shows the old one to correct", func(t *testing.T) {
		fx.clock.Advance(time.Minute)
		e3 := fx.begin(t, u)
		if _, err := fx.finish(t, u, e3, url.Values{"step": {"send"}, "country": {"HU"}, "phone": {"06 20 123 4567"}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		if _, err := fx.finish(t, u, e3, url.Values{"step": {"change"}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		p := fx.enrollPrompt(t, u, e3)
		if p.Data["Stage"] != "number" || p.Data["Country"] != "HU" || p.Data["Phone"] != "+36 20 123 4567" {
			t.Errorf("prompt %+v", p.Data)
		}
	})
}

func TestEnrollDeliveryFailure(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("karin")
	e := fx.begin(t, u)
	fx.sender.SetErr(&notify.LimitError{Scope: "destination", RetryAfter: time.Hour})
	_, err := fx.finish(t, u, e, url.Values{"step": {"send"}, "phone": {"0612345678"}})
	if fe := factortest.AssertMessage(t, err, factors.Malformed, "phone"); fe.MessageID != notify.MsgLimited {
		t.Errorf("message %s", fe.MessageID)
	}
	if p := fx.enrollPrompt(t, u, e); p.Data["SendError"] != notify.MsgLimited || p.Data["Stage"] != "code" {
		t.Errorf("prompt %+v", p.Data)
	}
}

func TestTextsFitOneSegment(t *testing.T) {
	b, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range i18n.Supported {
		for _, id := range []string{"sms.text.login", "sms.text.enrol"} {
			t.Run(id+" in "+tag.String()+" fits one SMS", func(t *testing.T) {
				text := b.Localizer(tag).T(id, "Code", "123456", "Minutes", 10)
				if !strings.Contains(text, "123456") || !strings.Contains(text, "10") {
					t.Errorf("text %q", text)
				}
				limit := 160
				if !gsm7(text) {
					limit = 70 // UCS-2
				}
				if n := utf8.RuneCountInString(text); n > limit {
					t.Errorf("%d characters, one segment holds %d: %q", n, limit, text)
				}
			})
		}
	}
	t.Run("the Hungarian SMS is Hungarian", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("kovacs")
		fx.enrol(t, u, "HU", "06 20 123 4567")
		a := fx.challenge(t, u)
		a.Lang = "hu"
		if _, err := fx.f.Start(ctx, a); err != nil {
			t.Fatal(err)
		}
		if m := fx.last(t); m.Lang != "hu" || m.Text != codeIn(t, m)+" az Ön belépési kódja. 5 percig érvényes. Ne adja meg senkinek." {
			t.Errorf("message %+v", m)
		}
	})
}

// gsm7 reports whether s uses only the GSM 03.38 basic character set.
func gsm7(s string) bool {
	const basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	for _, r := range s {
		if !strings.ContainsRune(basic, r) {
			return false
		}
	}
	return true
}

func TestRacingChecks(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("karin")
	fx.enrol(t, u, "NL", "0612345678")
	a, _ := fx.start(t, u)
	code := codeIn(t, fx.last(t))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := fx.f.Check(ctx, a, factors.Input{Form: url.Values{"code": {code}}}); err != nil {
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
}

func TestPendingNumbersNeverAuthenticate(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("karin")
	e := fx.begin(t, u)
	if _, err := fx.finish(t, u, e, url.Values{"step": {"send"}, "phone": {"0612345678"}}); !errors.Is(err, factors.ErrEnrollContinues) {
		t.Fatal(err)
	}
	before := len(fx.sender.Sent())
	t.Run("no login code goes to a number still being set up", func(t *testing.T) {
		if _, err := fx.f.Start(ctx, fx.challenge(t, u)); err == nil || len(fx.sender.Sent()) != before {
			t.Errorf("got %v, %d sent", err, len(fx.sender.Sent())-before)
		}
	})
	t.Run("nor a resend, once the person has a confirmed number", func(t *testing.T) {
		fx.clock.Advance(30 * time.Second)
		fx.enrol(t, u, "NL", "0623456734")
		a, _ := fx.start(t, u)
		if fx.last(t).To != "+31623456734" {
			t.Errorf("sent to %s", fx.last(t).To)
		}
		fx.clock.Advance(30 * time.Second)
		err := fx.resend(t, a, e.ID)
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != oob.MsgNotYours {
			t.Errorf("message %s", fe.MessageID)
		}
	})
}

func TestDescribe(t *testing.T) {
	f := newFixture(t).f
	for data, want := range map[string]string{
		`{"phone":"+31612345678","primary":true}`: "xxxx-xxxx78",
		`{"email":"a@example.org"}`:               "",
		`not json`:                                "",
	} {
		if got := f.Describe(store.Enrollment{Factor: ID, Data: data}); got != want {
			t.Errorf("Describe(%s) = %q, want %q", data, got, want)
		}
	}
}
