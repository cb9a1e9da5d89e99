package voice

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/factortest"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/store"
)

// setup is one set-up in progress, as the engine keeps it: the pending
// row, re-read before every request.
type setup struct {
	fx   *fixture
	u    *store.User
	id   string
	lang string
}

func (fx *fixture) begin(t *testing.T, u *store.User) *setup {
	t.Helper()
	e, err := fx.f.BeginEnroll(ctx, factors.EnrollAttempt{FlowID: "flow-1", User: u, Lang: "en", Now: fx.clock.Now()})
	if err != nil {
		t.Fatalf("BeginEnroll: %v", err)
	}
	if e.Confirmed() || e.Factor != ID || e.UserID != u.ID {
		t.Fatalf("enrollment %+v", e)
	}
	return &setup{fx: fx, u: u, id: e.ID, lang: "en"}
}

func (s *setup) attempt(t *testing.T) factors.EnrollAttempt {
	t.Helper()
	e, err := s.fx.mem.EnrollmentByID(ctx, s.id)
	if err != nil {
		t.Fatalf("EnrollmentByID: %v", err)
	}
	return factors.EnrollAttempt{FlowID: "flow-1", User: s.u, Enrollment: e, Lang: s.lang, IP: "192.0.2.9", Now: s.fx.clock.Now()}
}

func (s *setup) step(t *testing.T, form url.Values) (store.Proof, error) {
	t.Helper()
	form.Set("op", "finish")
	return s.fx.f.FinishEnroll(ctx, s.attempt(t), factors.Input{Form: form})
}

func (s *setup) page(t *testing.T) factors.Prompt {
	t.Helper()
	p, err := s.fx.f.EnrollPrompt(ctx, s.attempt(t))
	if err != nil {
		t.Fatalf("EnrollPrompt: %v", err)
	}
	if p.Template != "enroll_voice" {
		t.Errorf("template %s", p.Template)
	}
	return p
}

func (s *setup) status(t *testing.T) factors.Status {
	t.Helper()
	st, err := s.fx.f.EnrollStatus(ctx, s.attempt(t))
	if err != nil {
		t.Fatalf("EnrollStatus: %v", err)
	}
	return st
}

// verify enters a number and expects the call.
func (s *setup) verify(t *testing.T, country, number string) {
	t.Helper()
	if _, err := s.step(t, url.Values{"step": {StepVerify}, "country": {country}, "phone": {number}}); !errors.Is(err, factors.ErrEnrollContinues) {
		t.Fatalf("verify %s %s: %v", country, number, err)
	}
}

// answer types the digits the page shows on the latest call.
func (s *setup) answer(t *testing.T) {
	t.Helper()
	if _, err := s.fx.f.Keypress(ctx, s.fx.lastCall(t).Ref, shown(s.page(t)), s.fx.clock.Now()); err != nil {
		t.Fatalf("Keypress: %v", err)
	}
}

func (s *setup) data(t *testing.T) numberData {
	t.Helper()
	d, err := parseNumber(s.attempt(t).Enrollment.Data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func wantMessage(t *testing.T, err error, field, id string) {
	t.Helper()
	if fe := factortest.AssertMessage(t, err, factors.Malformed, field); fe.MessageID != id {
		t.Errorf("message %s, want %s", fe.MessageID, id)
	}
}

func TestEnrollNumberForm(t *testing.T) {
	fx := newFixture(t)
	s := fx.begin(t, fx.u)
	t.Run("the page asks for a number, the Netherlands selected first", func(t *testing.T) {
		s.lang = "nl"
		p := s.page(t)
		s.lang = "en"
		cs := p.Data["Countries"].([]country)
		if len(cs) != 4 || cs[0].Label != "Nederland (+31)" || !cs[0].Selected || cs[1].Selected {
			t.Errorf("countries %+v", cs)
		}
		if p.Data["HasNumber"] != false || p.Data["Alternate"] != false || p.Data["Waiting"] != false {
			t.Errorf("page %+v", p.Data)
		}
		if st := s.status(t); st != factors.Failed {
			t.Errorf("EnrollStatus without a number = %s", st)
		}
	})
	tests := []struct {
		name, country, number, msg, field string
	}{
		{"nothing typed is asked for", "NL", "  ", phone.MsgRequired, FieldPhone},
		{"garbage is not a number", "NL", "call me maybe", phone.MsgInvalid, FieldPhone},
		{"too few digits are not a number", "NL", "612", phone.MsgInvalid, FieldPhone},
		{"a country off the allow-list is refused next to the selector", "DE", "030 1234567", phone.MsgCountry, FieldCountry},
		{"a number of a country off the allow-list is refused next to the number", "NL", "+49 30 1234567", phone.MsgCountry, FieldPhone},
		{"a number that cannot be called is refused", "NL", "0800 1234", phone.MsgNoCalls, FieldPhone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.step(t, url.Values{"step": {StepVerify}, "country": {tt.country}, "phone": {tt.number}})
			wantMessage(t, err, tt.field, tt.msg)
			if len(fx.sender.Sent()) != 0 {
				t.Error("a call was placed")
			}
			if d := s.data(t); d.Phone != "" {
				t.Errorf("stored %+v", d)
			}
		})
	}
	t.Run("steps that need a number refuse without one", func(t *testing.T) {
		for _, step := range []string{StepCall, StepCheck} {
			_, err := s.step(t, url.Values{"step": {step}})
			wantMessage(t, err, "", MsgNoNumber)
		}
	})
}

func TestEnroll(t *testing.T) {
	t.Run("a mobile typed without the 0 is called with the enrollment's reference", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", mobileTyped)
		m := fx.lastCall(t)
		want := notify.Message{
			Channel: notify.Voice, To: mobile, Ref: "voice.e." + s.id + ".1", Lang: "en", Digits: 2,
			Text:   "This is Test Health IdP calling for your login. Please enter the two digits shown on your screen.",
			UserID: fx.u.ID, IP: "192.0.2.9",
		}
		if m != want {
			t.Errorf("call\n got %+v\nwant %+v", m, want)
		}
		p := s.page(t)
		if p.Data["HasNumber"] != true || p.Data["Waiting"] != true || p.Data["Number"] != "+31 6 12345678" || len(shown(p)) != 2 {
			t.Errorf("page %+v", p.Data)
		}
		d := s.data(t)
		if d.Phone != mobile || d.Region != "NL" || d.Hash == "" || d.Hash == d.Digits || !fx.deps.Codes.Equal(d.Hash, d.Digits) {
			t.Errorf("stored %+v", d)
		}
		if st := s.status(t); st != factors.Pending {
			t.Errorf("EnrollStatus = %s", st)
		}
	})
	t.Run("a landline is allowed, typed with its 0", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", "020 123 4567")
		if m := fx.lastCall(t); m.To != landline {
			t.Errorf("called %s", m.To)
		}
	})
	t.Run("+CC wins over the selector", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", "+48 512 345 678")
		if m := fx.lastCall(t); m.To != polish {
			t.Errorf("called %s", m.To)
		}
		if d := s.data(t); d.Region != "PL" {
			t.Errorf("region %s", d.Region)
		}
	})
	t.Run("the right digits confirm the number as primary, named in full, with the tel proof", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", mobileTyped)
		_, err := s.step(t, url.Values{"step": {StepCheck}})
		wantMessage(t, err, "", MsgNotYet)
		s.answer(t)
		if st := s.status(t); st != factors.Answered {
			t.Errorf("EnrollStatus = %s", st)
		}
		if p := s.page(t); p.Data["Answered"] != true || p.Data["Waiting"] != false {
			t.Errorf("page %+v", p.Data)
		}
		proof, err := s.step(t, url.Values{"step": {StepCheck}})
		if err != nil {
			t.Fatal(err)
		}
		if proof.Factor != ID || len(proof.AMR) != 1 || proof.AMR[0] != "tel" || !proof.At.Equal(fx.clock.Now()) {
			t.Errorf("proof %+v", proof)
		}
		e := s.attempt(t).Enrollment
		if !e.Confirmed() || e.Name != "+31 6 12345678" || e.Data != `{"phone":"+31612345678","primary":true}` {
			t.Errorf("enrollment %+v", e)
		}
		t.Run("a double submit is the engine's ErrConflict", func(t *testing.T) {
			if _, err := s.step(t, url.Values{"step": {StepCheck}}); !errors.Is(err, store.ErrConflict) {
				t.Errorf("second check: %v", err)
			}
		})
		t.Run("a second number is an alternate, not primary", func(t *testing.T) {
			s2 := fx.begin(t, fx.u)
			if p := s2.page(t); p.Data["Alternate"] != true {
				t.Error("the page does not say the number will be an alternate")
			}
			fx.clock.Advance(time.Minute)
			s2.verify(t, "NL", "0201234567")
			s2.answer(t)
			if _, err := s2.step(t, url.Values{"step": {StepCheck}}); err != nil {
				t.Fatal(err)
			}
			e2 := s2.attempt(t).Enrollment
			if e2.Data != `{"phone":"+31201234567"}` || e2.Name != "+31 20 123 4567" {
				t.Errorf("second enrollment %+v", e2)
			}
			// And a login calls the primary first, the alternate on request.
			id, _ := fx.start(t, "en")
			if fx.lastCall(t).To != mobile {
				t.Errorf("login called %s", fx.lastCall(t).To)
			}
			if err := fx.resend(t, id, e2.ID); err != nil || fx.lastCall(t).To != landline {
				t.Errorf("alternate: %v, called %s", err, fx.lastCall(t).To)
			}
		})
		t.Run("a number already confirmed is refused", func(t *testing.T) {
			s3 := fx.begin(t, fx.u)
			_, err := s3.step(t, url.Values{"step": {StepVerify}, "country": {"NL"}, "phone": {"06-12345678"}})
			wantMessage(t, err, FieldPhone, MsgNumberKnown)
		})
		t.Run("another person may set up the same number", func(t *testing.T) {
			s4 := fx.begin(t, factortest.User("bob"))
			fx.clock.Advance(time.Minute)
			s4.verify(t, "NL", mobileTyped)
		})
	})
	t.Run("wrong digits are counted in the set-up, and the call may be repeated at once", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", mobileTyped)
		ref := fx.lastCall(t).Ref
		r, err := fx.f.Keypress(ctx, ref, other(shown(s.page(t))), fx.clock.Now())
		if err != nil || r.Reply.Text != "The digits were not correct. Please try again on your screen." || r.WrongFor != fx.u.ID {
			t.Fatalf("reply %+v, %v", r, err)
		}
		if _, err := fx.f.Keypress(ctx, ref, shown(s.page(t)), fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second entry on the call: %v", err)
		}
		if d := s.data(t); d.Wrong != 1 {
			t.Errorf("wrong = %d", d.Wrong)
		}
		if st := s.status(t); st != factors.Failed {
			t.Errorf("EnrollStatus = %s", st)
		}
		if p := s.page(t); p.Data["Wrong"] != true {
			t.Errorf("page %+v", p.Data)
		}
		_, err = s.step(t, url.Values{"step": {StepCheck}})
		wantMessage(t, err, "", MsgDigitsWrong)
		if _, err := s.step(t, url.Values{"step": {StepCall}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		if m := fx.lastCall(t); m.Ref != "voice.e."+s.id+".2" || m.To != mobile {
			t.Errorf("second call %+v", m)
		}
		s.answer(t)
		if _, err := s.step(t, url.Values{"step": {StepCheck}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("five wrong entries end the set-up's calls", func(t *testing.T) {
		fx := newFixture(t, func(d *factors.Deps) { d.Voice.CallsPer10Min = 10 })
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", mobileTyped)
		for i := range 5 {
			if i > 0 {
				if _, err := s.step(t, url.Values{"step": {StepCall}}); !errors.Is(err, factors.ErrEnrollContinues) {
					t.Fatalf("call %d: %v", i+1, err)
				}
			}
			if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, other(shown(s.page(t))), fx.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		_, err := s.step(t, url.Values{"step": {StepCall}})
		wantMessage(t, err, "", MsgTooManyWrong)
		if _, err := s.step(t, url.Values{"step": {StepChange}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		_, err = s.step(t, url.Values{"step": {StepVerify}, "country": {"NL"}, "phone": {"0201234567"}})
		wantMessage(t, err, "", MsgTooManyWrong)
		if p := s.page(t); p.Data["Error"] != MsgTooManyWrong {
			t.Errorf("page %+v", p.Data)
		}
		if n := len(fx.sender.Sent()); n != 5 {
			t.Errorf("%d calls", n)
		}
	})
	t.Run("calling again waits for a ringing call and stops at the cap", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", mobileTyped)
		_, err := s.step(t, url.Values{"step": {StepCall}})
		wantMessage(t, err, "", MsgWait)
		for range 2 {
			fx.clock.Advance(cooldown)
			if _, err := s.step(t, url.Values{"step": {StepCall}}); !errors.Is(err, factors.ErrEnrollContinues) {
				t.Fatal(err)
			}
		}
		fx.clock.Advance(cooldown)
		_, err = s.step(t, url.Values{"step": {StepCall}})
		wantMessage(t, err, "", MsgTooManyCalls)
		_, err = s.step(t, url.Values{"step": {StepChange}})
		if !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		_, err = s.step(t, url.Values{"step": {StepVerify}, "country": {"NL"}, "phone": {"0201234567"}})
		wantMessage(t, err, "", MsgTooManyCalls)
	})
	t.Run("changing the number forgets it, and the ringing call takes no entry", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", "0201234567")
		digits, ref := shown(s.page(t)), fx.lastCall(t).Ref
		if _, err := s.step(t, url.Values{"step": {StepChange}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		if p := s.page(t); p.Data["HasNumber"] != false || p.Data["Waiting"] != false {
			t.Errorf("page %+v", p.Data)
		}
		if _, err := fx.f.Keypress(ctx, ref, digits, fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("entry after the change: %v", err)
		}
		// The new number is called at once: the cooldown is per number.
		s.verify(t, "NL", mobileTyped)
		if m := fx.lastCall(t); m.To != mobile || m.Ref != "voice.e."+s.id+".2" {
			t.Errorf("call %+v", m)
		}
		s.answer(t)
		if _, err := s.step(t, url.Values{"step": {StepCheck}}); err != nil {
			t.Fatal(err)
		}
		if e := s.attempt(t).Enrollment; e.Name != "+31 6 12345678" {
			t.Errorf("confirmed %s", e.Name)
		}
	})
	t.Run("a call not answered in time is failed and may be repeated", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", mobileTyped)
		fx.clock.Advance(90 * time.Second)
		if st := s.status(t); st != factors.Failed {
			t.Errorf("EnrollStatus = %s", st)
		}
		if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, shown(s.page(t)), fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("late entry: %v", err)
		}
		_, err := s.step(t, url.Values{"step": {StepCheck}})
		wantMessage(t, err, "", MsgNoEntry)
		if p := s.page(t); p.Data["TimedOut"] != true {
			t.Errorf("page %+v", p.Data)
		}
	})
	t.Run("a failed call shows the reason and may be repeated at once", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		fx.sender.SetErr(notify.ErrUndeliverable)
		s.verify(t, "NL", mobileTyped)
		if p := s.page(t); p.Data["Error"] != notify.MsgUndeliverable || p.Data["Failed"] != true || p.Data["HasNumber"] != true {
			t.Errorf("page %+v", p.Data)
		}
		if st := s.status(t); st != factors.Failed {
			t.Errorf("EnrollStatus = %s", st)
		}
		_, err := s.step(t, url.Values{"step": {StepCheck}})
		wantMessage(t, err, "", notify.MsgUndeliverable)
		fx.sender.SetErr(nil)
		if _, err := s.step(t, url.Values{"step": {StepCall}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		if p := s.page(t); p.Data["Waiting"] != true {
			t.Errorf("page %+v", p.Data)
		}
		if _, ok := s.page(t).Data["Error"]; ok {
			t.Error("the old failure is still shown")
		}
	})
	t.Run("the set-up call speaks Dutch for a Dutch page", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.lang = "nl"
		s.verify(t, "NL", mobileTyped)
		m := fx.lastCall(t)
		if m.Lang != "nl" || !strings.HasPrefix(m.Text, "U wordt gebeld door Test Health IdP") {
			t.Errorf("call %q in %s", m.Text, m.Lang)
		}
		r, err := fx.f.Keypress(ctx, m.Ref, shown(s.page(t)), fx.clock.Now())
		if err != nil || r.Reply.Lang != "nl" || r.Reply.Text != "Dank u wel. U kunt verdergaan op uw scherm." {
			t.Errorf("reply %+v, %v", r, err)
		}
	})
	t.Run("Enter in the number field verifies, on the calling page it checks", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		if _, err := s.step(t, url.Values{"country": {"NL"}, "phone": {mobileTyped}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		_, err := s.step(t, url.Values{"step": {"bogus"}})
		wantMessage(t, err, "", MsgNotYet)
	})
	t.Run("someone else's or a confirmed enrollment is not set up here", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		a := s.attempt(t)
		a.User = factortest.User("mallory")
		if _, err := fx.f.FinishEnroll(ctx, a, factors.Input{Form: url.Values{"step": {StepVerify}, "phone": {mobileTyped}}}); err == nil || factors.IsMalformed(err) {
			t.Errorf("FinishEnroll for another person: %v", err)
		}
		if _, err := fx.f.EnrollPrompt(ctx, a); err == nil {
			t.Error("EnrollPrompt for another person")
		}
	})
	t.Run("twenty racing entries on a set-up call record exactly one", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", mobileTyped)
		digits, ref := shown(s.page(t)), fx.lastCall(t).Ref
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			typed := digits
			if i%2 == 1 {
				typed = other(digits)
			}
			wg.Go(func() { _, errs[i] = fx.f.Keypress(ctx, ref, typed, fx.clock.Now()) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
		}
		d := s.data(t)
		answered := d.Calls.latest().State == stateAnswered
		if ok != 1 || (answered && d.Wrong != 0) || (!answered && d.Wrong != 1) {
			t.Errorf("%d entries recorded, wrong %d, state %s", ok, d.Wrong, d.Calls.latest().State)
		}
	})
}
