package voice

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/factortest"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

var ctx = context.Background()

// The numbers of the tests: a Dutch mobile, a Dutch landline, a Polish
// mobile.
const (
	mobile      = "+31612345678"
	landline    = "+31201234567"
	polish      = "+48512345678"
	mobileTyped = "6 12345678"
)

type fixture struct {
	f      *Factor
	deps   factors.Deps
	mem    *factortest.Memory
	clock  *factortest.Clock
	sender *factortest.Sender
	u      *store.User
}

func newFixture(t *testing.T, change ...func(*factors.Deps)) *fixture {
	t.Helper()
	d, mem := factortest.NewDeps(t)
	for _, c := range change {
		c(&d)
	}
	f, err := New(d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sender, _ := d.Notify.(*factortest.Sender)
	return &fixture{
		f: f.(*Factor), deps: d, mem: mem, clock: factortest.NewClock(factortest.Start),
		sender: sender, u: factortest.User("anna"),
	}
}

// confirmed stores a confirmed number for u directly, as an earlier
// set-up would have left it.
func (fx *fixture) confirmed(t *testing.T, u *store.User, e164 string, primary bool) *store.Enrollment {
	t.Helper()
	buf, _ := json.Marshal(numberData{Phone: e164, Primary: primary})
	at := fx.clock.Now()
	e := &store.Enrollment{UserID: u.ID, Factor: ID, Name: e164, Data: string(buf), ConfirmedAt: &at, CreatedAt: at}
	if err := fx.mem.CreateEnrollment(ctx, e); err != nil {
		t.Fatal(err)
	}
	fx.clock.Advance(time.Second) // keep "oldest first" unambiguous
	return e
}

// challenge creates the challenge the engine would, stored, and returns
// its id.
func (fx *fixture) challenge(t *testing.T, lifetime time.Duration) string {
	t.Helper()
	now := fx.clock.Now()
	ch := &store.Challenge{
		ID: security.RandomToken(24), FlowID: "flow-1", UserID: fx.u.ID, Factor: ID,
		MaxAttempts: 5, CreatedAt: now, ExpiresAt: now.Add(lifetime),
	}
	if err := fx.mem.CreateChallenge(ctx, ch); err != nil {
		t.Fatal(err)
	}
	return ch.ID
}

// attempt is what the engine hands the factor at a request: the
// challenge as stored now, and the person's confirmed numbers.
func (fx *fixture) attempt(t *testing.T, id string) factors.Attempt {
	t.Helper()
	now := fx.clock.Now()
	ch, err := fx.mem.ChallengeByID(ctx, id, now)
	if err != nil {
		t.Fatalf("ChallengeByID: %v", err)
	}
	return factors.Attempt{
		FlowID: "flow-1", User: fx.u, Challenge: ch, Enrollments: factortest.Confirmed(t, fx.mem, fx.u.ID, ID),
		Lang: "en", IP: "192.0.2.7", Now: now,
	}
}

// start begins a challenge for fx.u in lang and returns its id and page.
func (fx *fixture) start(t *testing.T, lang string) (string, factors.Prompt) {
	t.Helper()
	id := fx.challenge(t, 30*time.Minute)
	a := fx.attempt(t, id)
	a.Lang = lang
	p, err := fx.f.Start(ctx, a)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return id, p
}

func (fx *fixture) stored(t *testing.T, id string) (*store.Challenge, challengeData) {
	t.Helper()
	ch, err := fx.mem.ChallengeByID(ctx, id, fx.clock.Now())
	if err != nil {
		t.Fatalf("ChallengeByID: %v", err)
	}
	d, err := parseChallenge(ch.Data)
	if err != nil {
		t.Fatal(err)
	}
	return ch, d
}

// shown are the digits a page shows, as the person reads them.
func shown(p factors.Prompt) string {
	s, _ := p.Data["Digits"].(string)
	return strings.ReplaceAll(s, " ", "")
}

// other returns digits of the same length that differ from d.
func other(d string) string {
	b := []byte(d)
	for i := range b {
		b[i] = '0' + (b[i]-'0'+1)%10
	}
	return string(b)
}

func (fx *fixture) lastCall(t *testing.T) notify.Message {
	t.Helper()
	m, ok := fx.sender.Last()
	if !ok {
		t.Fatal("no call placed")
	}
	return m
}

func (fx *fixture) status(t *testing.T, id string) factors.Status {
	t.Helper()
	s, err := fx.f.Status(ctx, fx.attempt(t, id))
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return s
}

func (fx *fixture) check(t *testing.T, id string) (factors.Result, error) {
	t.Helper()
	return fx.f.Check(ctx, fx.attempt(t, id), factors.Input{Form: url.Values{}})
}

func (fx *fixture) resend(t *testing.T, id, to string) error {
	t.Helper()
	return fx.f.Resend(ctx, fx.attempt(t, id), factors.Input{Form: url.Values{"op": {"resend"}, "to": {to}}})
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
		{"negative digits are refused", func(d *factors.Deps) { d.Voice.Digits = -1 }},
		{"more digits than people type are refused", func(d *factors.Deps) { d.Voice.Digits = 9 }},
		{"a negative cap is refused", func(d *factors.Deps) { d.Voice.CallsPer10Min = -1 }},
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
		d.Voice = factors.VoiceSettings{}
		f, err := New(d)
		if err != nil {
			t.Fatal(err)
		}
		v := f.(*Factor)
		if v.digits != 2 || v.perTen != 3 || v.timeout != 90*time.Second {
			t.Errorf("defaults %d %d %s", v.digits, v.perTen, v.timeout)
		}
	})
	t.Run("no voice transport is not a reason to refuse to start", func(t *testing.T) {
		d := d
		d.Notify = nil
		if _, err := New(d); err != nil {
			t.Error(err)
		}
	})
	t.Run("it is a restricted possession factor with amr tel on the voice channel", func(t *testing.T) {
		f, _ := New(d)
		p := f.Properties()
		if len(p.Kinds) != 1 || p.Kinds[0] != factors.Possession || len(p.AMR) != 1 || p.AMR[0] != "tel" ||
			p.Channel != "voice" || !p.Restricted || p.PhishingResistant || p.Backup {
			t.Errorf("Properties = %+v", p)
		}
	})
}

func TestStart(t *testing.T) {
	t.Run("it places exactly one call to the primary number, asking for the digits on screen", func(t *testing.T) {
		fx := newFixture(t)
		primary := fx.confirmed(t, fx.u, mobile, true)
		fx.confirmed(t, fx.u, landline, false)
		id, p := fx.start(t, "en")
		sent := fx.sender.Sent()
		if len(sent) != 1 {
			t.Fatalf("%d calls placed", len(sent))
		}
		m := sent[0]
		want := notify.Message{
			Channel: notify.Voice, To: mobile, Ref: "voice.c." + id + ".1", Lang: "en", Digits: 2,
			Text:   "This is Test Health IdP calling for your login. Please enter the two digits shown on your screen.",
			UserID: fx.u.ID, IP: "192.0.2.7",
		}
		if m != want {
			t.Errorf("call\n got %+v\nwant %+v", m, want)
		}
		if strings.Contains(m.Text, shown(p)) {
			t.Error("the call says the digits: possession of the phone would prove nothing")
		}
		if p.Template != "factor_voice" || len(shown(p)) != 2 || p.Data["Waiting"] != true || p.Data["Number"] != "xxxx-xxxx78" {
			t.Errorf("prompt %+v", p)
		}
		if _, ok := p.Data["Error"]; ok {
			t.Error("a successful call sets Error, which would hide the engine's message")
		}
		ch, d := fx.stored(t, id)
		if d.Enrollment != primary.ID || d.Digits != shown(p) || len(d.Calls) != 1 || d.Calls[0].State != stateCalling {
			t.Errorf("stored %+v", d)
		}
		if ch.CodeHash == "" || ch.CodeHash == d.Digits || !fx.deps.Codes.Equal(ch.CodeHash, d.Digits) {
			t.Error("the challenge does not hold the keyed hash of the digits")
		}
		if got := fx.status(t, id); got != factors.Pending {
			t.Errorf("Status = %s", got)
		}
	})
	t.Run("without a primary mark the oldest number is called", func(t *testing.T) {
		fx := newFixture(t)
		fx.confirmed(t, fx.u, landline, false)
		fx.confirmed(t, fx.u, mobile, false)
		fx.start(t, "en")
		if m := fx.lastCall(t); m.To != landline {
			t.Errorf("called %s", m.To)
		}
	})
	t.Run("numbers of other people and pending set-ups are never called", func(t *testing.T) {
		fx := newFixture(t)
		bob := factortest.User("bob")
		fx.confirmed(t, bob, mobile, true)
		pending, err := fx.f.BeginEnroll(ctx, factors.EnrollAttempt{User: fx.u, Now: fx.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		a := fx.attempt(t, fx.challenge(t, 30*time.Minute))
		a.Enrollments = append(factortest.Confirmed(t, fx.mem, bob.ID, ID), *pending)
		if _, err := fx.f.Start(ctx, a); err == nil {
			t.Error("Start called a number that is not the person's")
		}
		if len(fx.sender.Sent()) != 0 {
			t.Error("a call was placed")
		}
	})
	t.Run("the call speaks the page's language", func(t *testing.T) {
		fx := newFixture(t)
		fx.confirmed(t, fx.u, mobile, true)
		fx.start(t, "nl")
		m := fx.lastCall(t)
		if m.Lang != "nl" || m.Text != "U wordt gebeld door Test Health IdP voor uw inlog. Toets de twee cijfers in die op uw scherm staan." {
			t.Errorf("call %q in %s", m.Text, m.Lang)
		}
	})
	t.Run("a language without a catalog is spoken in English", func(t *testing.T) {
		fx := newFixture(t)
		fx.confirmed(t, fx.u, mobile, true)
		fx.start(t, "fr-FR")
		if m := fx.lastCall(t); m.Lang != "en" || !strings.HasPrefix(m.Text, "This is") {
			t.Errorf("call %q in %s", m.Text, m.Lang)
		}
	})
	t.Run("one digit, as in the seed, is asked for in the singular", func(t *testing.T) {
		fx := newFixture(t, func(d *factors.Deps) { d.Voice.Digits = 1 })
		fx.confirmed(t, fx.u, mobile, true)
		_, p := fx.start(t, "pl")
		m := fx.lastCall(t)
		if len(shown(p)) != 1 || m.Digits != 1 || !strings.HasSuffix(m.Text, "Wpisz cyfrę widoczną na ekranie.") {
			t.Errorf("%q, %d digits, page %q", m.Text, m.Digits, shown(p))
		}
	})
	t.Run("seven digits are counted in the sentence", func(t *testing.T) {
		fx := newFixture(t, func(d *factors.Deps) { d.Voice.Digits = 7 })
		fx.confirmed(t, fx.u, mobile, true)
		fx.start(t, "sv")
		if m := fx.lastCall(t); !strings.Contains(m.Text, "de 7 siffrorna") || m.Digits != 7 {
			t.Errorf("%q", m.Text)
		}
	})
	t.Run("a second Start of the same challenge calls nobody", func(t *testing.T) {
		fx := newFixture(t)
		fx.confirmed(t, fx.u, mobile, true)
		id, p := fx.start(t, "en")
		a := fx.attempt(t, id)
		a.Challenge.Data = "" // the engine's stale copy
		p2, err := fx.f.Start(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(fx.sender.Sent()) != 1 || shown(p2) != shown(p) {
			t.Errorf("%d calls, digits %q then %q", len(fx.sender.Sent()), shown(p), shown(p2))
		}
	})
	t.Run("the digits are uniform decimal digits", func(t *testing.T) {
		seen := map[byte]int{}
		for range 200 {
			for _, c := range []byte(newDigits(5)) {
				if c < '0' || c > '9' {
					t.Fatalf("digit %q", c)
				}
				seen[c]++
			}
		}
		if len(seen) != 10 {
			t.Errorf("only %d different digits in 1000", len(seen))
		}
	})
}

func TestKeypress(t *testing.T) {
	setup := func(t *testing.T) (*fixture, string, string) {
		fx := newFixture(t)
		fx.confirmed(t, fx.u, mobile, true)
		id, p := fx.start(t, "en")
		return fx, id, shown(p)
	}
	t.Run("the right digits answer the call: Status is answered and Check proves tel", func(t *testing.T) {
		fx, id, digits := setup(t)
		ref := fx.lastCall(t).Ref
		r, err := fx.f.Keypress(ctx, ref, digits, fx.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r.Reply.Text != "Thank you. You can continue on your screen." || r.Reply.Lang != "en" || r.WrongFor != "" {
			t.Errorf("reply %+v", r)
		}
		if got := fx.status(t, id); got != factors.Answered {
			t.Errorf("Status = %s", got)
		}
		res, err := fx.check(t, id)
		if err != nil {
			t.Fatal(err)
		}
		want := factortest.Confirmed(t, fx.mem, fx.u.ID, ID)[0].ID
		if res.Proof.Factor != ID || len(res.Proof.AMR) != 1 || res.Proof.AMR[0] != "tel" || res.EnrollmentID != want || !res.Proof.At.Equal(fx.clock.Now()) {
			t.Errorf("result %+v", res)
		}
		if ch, _ := fx.stored(t, id); ch.Attempts != 0 {
			t.Errorf("%d attempts counted", ch.Attempts)
		}
	})
	t.Run("wrong digits count exactly one attempt, and Check refuses without counting again", func(t *testing.T) {
		fx, id, digits := setup(t)
		r, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, other(digits), fx.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r.Reply.Text != "The digits were not correct. Please try again on your screen." {
			t.Errorf("reply %+v", r)
		}
		if r.WrongFor != fx.u.ID {
			t.Errorf("WrongFor = %q, want the person %q, for the engine to count", r.WrongFor, fx.u.ID)
		}
		if got := fx.status(t, id); got != factors.Failed {
			t.Errorf("Status = %s", got)
		}
		_, err = fx.check(t, id)
		fe := factortest.AssertMessage(t, err, factors.Malformed, "")
		if fe.MessageID != MsgDigitsWrong {
			t.Errorf("message %s", fe.MessageID)
		}
		if ch, _ := fx.stored(t, id); ch.Attempts != 1 {
			t.Errorf("%d attempts counted, want 1", ch.Attempts)
		}
		p, _ := fx.f.Prompt(ctx, fx.attempt(t, id))
		if p.Data["Wrong"] != true || p.Data["Waiting"] != false {
			t.Errorf("page %+v", p.Data)
		}
	})
	t.Run("an entry that is not digits at all is a wrong entry", func(t *testing.T) {
		fx, id, _ := setup(t)
		if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, "*#", fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if ch, _ := fx.stored(t, id); ch.Attempts != 1 || fx.status(t, id) != factors.Failed {
			t.Errorf("%d attempts", ch.Attempts)
		}
	})
	t.Run("the first entry of a call decides: a second one is refused", func(t *testing.T) {
		for _, first := range []string{"wrong", "right"} {
			t.Run("after a "+first+" entry", func(t *testing.T) {
				fx, id, digits := setup(t)
				ref := fx.lastCall(t).Ref
				typed := digits
				if first == "wrong" {
					typed = other(digits)
				}
				if _, err := fx.f.Keypress(ctx, ref, typed, fx.clock.Now()); err != nil {
					t.Fatal(err)
				}
				for _, again := range []string{digits, other(digits)} {
					if _, err := fx.f.Keypress(ctx, ref, again, fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("second entry: %v", err)
					}
				}
				ch, _ := fx.stored(t, id)
				if want := map[string]int{"wrong": 1, "right": 0}[first]; ch.Attempts != want {
					t.Errorf("%d attempts, want %d", ch.Attempts, want)
				}
				wantStatus := map[string]factors.Status{"wrong": factors.Failed, "right": factors.Answered}[first]
				if got := fx.status(t, id); got != wantStatus {
					t.Errorf("Status = %s", got)
				}
			})
		}
	})
	t.Run("twenty racing entries on one call record exactly one", func(t *testing.T) {
		for range 5 {
			fx, id, digits := setup(t)
			ref := fx.lastCall(t).Ref
			var wg sync.WaitGroup
			type outcome struct {
				typed string
				err   error
			}
			results := make([]outcome, 20)
			for i := range results {
				typed := digits
				if i%2 == 1 {
					typed = other(digits)
				}
				wg.Go(func() {
					_, err := fx.f.Keypress(ctx, ref, typed, fx.clock.Now())
					results[i] = outcome{typed, err}
				})
			}
			wg.Wait()
			var winner *outcome
			for i, r := range results {
				switch {
				case r.err == nil && winner != nil:
					t.Fatal("two entries recorded")
				case r.err == nil:
					winner = &results[i]
				case !errors.Is(r.err, store.ErrNotFound):
					t.Fatalf("entry: %v", r.err)
				}
			}
			if winner == nil {
				t.Fatal("no entry recorded")
			}
			ch, _ := fx.stored(t, id)
			right := winner.typed == digits
			if (right && (ch.Attempts != 0 || fx.status(t, id) != factors.Answered)) ||
				(!right && (ch.Attempts != 1 || fx.status(t, id) != factors.Failed)) {
				t.Errorf("winner right=%v, attempts %d, status %s", right, ch.Attempts, fx.status(t, id))
			}
		}
	})
	t.Run("an entry for an earlier call is refused after calling again", func(t *testing.T) {
		fx, id, digits := setup(t)
		old := fx.lastCall(t).Ref
		fx.clock.Advance(cooldown)
		if err := fx.resend(t, id, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.f.Keypress(ctx, old, digits, fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old call: %v", err)
		}
		_, d := fx.stored(t, id)
		if fx.lastCall(t).Ref != "voice.c."+id+".2" {
			t.Errorf("new ref %s", fx.lastCall(t).Ref)
		}
		if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, d.Digits, fx.clock.Now()); err != nil {
			t.Fatalf("new call: %v", err)
		}
		if _, err := fx.check(t, id); err != nil {
			t.Error(err)
		}
	})
	t.Run("the digits of an earlier call do not answer the new one", func(t *testing.T) {
		fx, id, _ := setup(t)
		fx.clock.Advance(cooldown)
		// Calls until the digits differ (they may repeat by chance).
		for range 2 {
			_, before := fx.stored(t, id)
			if err := fx.resend(t, id, ""); err != nil {
				t.Fatal(err)
			}
			_, after := fx.stored(t, id)
			if before.Digits == after.Digits {
				fx.clock.Advance(cooldown)
				continue
			}
			if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, before.Digits, fx.clock.Now()); err != nil {
				t.Fatal(err)
			}
			if fx.status(t, id) != factors.Failed {
				t.Error("old digits answered the new call")
			}
			return
		}
	})
	t.Run("a finished challenge takes no entry", func(t *testing.T) {
		tests := []struct {
			name string
			end  func(fx *fixture, id string)
		}{
			{"consumed", func(fx *fixture, id string) {
				if err := fx.mem.ConsumeChallenge(ctx, id, fx.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}},
			{"expired", func(fx *fixture, _ string) { fx.clock.Advance(31 * time.Minute) }},
			{"out of attempts", func(fx *fixture, id string) {
				for range 5 {
					if _, err := fx.mem.FailChallenge(ctx, id, fx.clock.Now()); err != nil {
						t.Fatal(err)
					}
				}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				fx, id, digits := setup(t)
				tt.end(fx, id)
				if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, digits, fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Keypress: %v", err)
				}
			})
		}
	})
	t.Run("references that name no call are refused", func(t *testing.T) {
		fx, id, digits := setup(t)
		for _, ref := range []string{
			"", "voice", "voice.c", "voice.c." + id, "voice.c." + id + ".", "voice.c." + id + ".0", "voice.c." + id + ".01",
			"voice.c." + id + ".2", "voice.x." + id + ".1", "sms.c." + id + ".1", "voice.c.nope.1", "voice.e." + id + ".1",
		} {
			if _, err := fx.f.Keypress(ctx, ref, digits, fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%q: %v", ref, err)
			}
		}
		if ch, _ := fx.stored(t, id); ch.Attempts != 0 || fx.status(t, id) != factors.Pending {
			t.Errorf("a refused reference changed the challenge: %d attempts", ch.Attempts)
		}
	})
	t.Run("the reply speaks the language the call was placed in", func(t *testing.T) {
		fx := newFixture(t)
		fx.confirmed(t, fx.u, mobile, true)
		_, p := fx.start(t, "nl")
		r, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, shown(p), fx.clock.Now())
		if err != nil || r.Reply.Lang != "nl" || r.Reply.Text != "Dank u wel. U kunt verdergaan op uw scherm." {
			t.Errorf("reply %+v, %v", r, err)
		}
	})
}

func TestWaiting(t *testing.T) {
	fx := newFixture(t)
	fx.confirmed(t, fx.u, mobile, true)
	id, p := fx.start(t, "en")
	t.Run("before the entry Check says not yet, and counts nothing", func(t *testing.T) {
		_, err := fx.check(t, id)
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != MsgNotYet {
			t.Errorf("message %s", fe.MessageID)
		}
		if ch, _ := fx.stored(t, id); ch.Attempts != 0 {
			t.Error("counted")
		}
	})
	t.Run("the form field code plays no part", func(t *testing.T) {
		a := fx.attempt(t, id)
		if _, err := fx.f.Check(ctx, a, factors.Input{Form: url.Values{"code": {shown(p)}}}); !factors.IsMalformed(err) {
			t.Errorf("Check with the digits typed on screen: %v", err)
		}
	})
	t.Run("after the call timeout the status is failed and the entry is refused", func(t *testing.T) {
		fx.clock.Advance(89 * time.Second)
		if got := fx.status(t, id); got != factors.Pending {
			t.Errorf("Status just before the timeout = %s", got)
		}
		fx.clock.Advance(time.Second)
		if got := fx.status(t, id); got != factors.Failed {
			t.Errorf("Status = %s", got)
		}
		if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, shown(p), fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("late entry: %v", err)
		}
		_, err := fx.check(t, id)
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != MsgNoEntry {
			t.Errorf("message %s", fe.MessageID)
		}
		pr, _ := fx.f.Prompt(ctx, fx.attempt(t, id))
		if pr.Data["TimedOut"] != true || pr.Data["Waiting"] != false {
			t.Errorf("page %+v", pr.Data)
		}
	})
	t.Run("a consumed challenge reports answered, so the page posts and moves on", func(t *testing.T) {
		fx := newFixture(t)
		fx.confirmed(t, fx.u, mobile, true)
		id, _ := fx.start(t, "en")
		_ = fx.mem.ConsumeChallenge(ctx, id, fx.clock.Now())
		if got := fx.status(t, id); got != factors.Answered {
			t.Errorf("Status = %s", got)
		}
	})
	t.Run("a number removed since the call proves nothing", func(t *testing.T) {
		fx := newFixture(t)
		e := fx.confirmed(t, fx.u, mobile, true)
		fx.confirmed(t, fx.u, landline, false)
		id, p := fx.start(t, "en")
		if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, shown(p), fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := fx.mem.DeleteEnrollment(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.check(t, id); !factors.IsMalformed(err) {
			t.Errorf("Check: %v", err)
		}
	})
}

func TestResend(t *testing.T) {
	setup := func(t *testing.T) (*fixture, string, *store.Enrollment, *store.Enrollment) {
		fx := newFixture(t)
		first := fx.confirmed(t, fx.u, mobile, true)
		second := fx.confirmed(t, fx.u, landline, false)
		id, _ := fx.start(t, "en")
		return fx, id, first, second
	}
	wantMsg := func(t *testing.T, err error, id string) {
		t.Helper()
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != id {
			t.Errorf("message %s, want %s", fe.MessageID, id)
		}
	}
	t.Run("calling again waits while the call rings, for 30 seconds", func(t *testing.T) {
		fx, id, _, _ := setup(t)
		wantMsg(t, fx.resend(t, id, ""), MsgWait)
		fx.clock.Advance(29 * time.Second)
		wantMsg(t, fx.resend(t, id, ""), MsgWait)
		fx.clock.Advance(time.Second)
		if err := fx.resend(t, id, ""); err != nil {
			t.Fatal(err)
		}
		if n := len(fx.sender.Sent()); n != 2 {
			t.Errorf("%d calls", n)
		}
	})
	t.Run("after a wrong entry the next call may follow at once, with new digits", func(t *testing.T) {
		fx, id, _, _ := setup(t)
		ch, d := fx.stored(t, id)
		if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, other(d.Digits), fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := fx.resend(t, id, ""); err != nil {
			t.Fatal(err)
		}
		ch2, d2 := fx.stored(t, id)
		if ch2.CodeHash == ch.CodeHash && d2.Digits != d.Digits {
			t.Error("the hash was not renewed")
		}
		if ch2.Attempts != 1 || fx.status(t, id) != factors.Pending || fx.lastCall(t).To != mobile {
			t.Errorf("attempts %d, status %s", ch2.Attempts, fx.status(t, id))
		}
		if _, err := fx.check(t, id); !factors.IsMalformed(err) {
			t.Error("the new call starts answered")
		}
	})
	t.Run("at most three calls per 10 minutes", func(t *testing.T) {
		fx, id, _, _ := setup(t)
		for i := range 2 {
			fx.clock.Advance(cooldown)
			if err := fx.resend(t, id, ""); err != nil {
				t.Fatalf("call %d: %v", i+2, err)
			}
		}
		fx.clock.Advance(cooldown)
		wantMsg(t, fx.resend(t, id, ""), MsgTooManyCalls)
		wantMsg(t, fx.resend(t, id, fx.confirmedIDs(t)[1]), MsgTooManyCalls)
		if n := len(fx.sender.Sent()); n != 3 {
			t.Errorf("%d calls", n)
		}
		fx.clock.Advance(10*time.Minute - 2*cooldown)
		if err := fx.resend(t, id, ""); err != nil {
			t.Errorf("after the window: %v", err)
		}
	})
	t.Run("another of the person's numbers can be called, at once", func(t *testing.T) {
		fx, id, first, second := setup(t)
		if err := fx.resend(t, id, second.ID); err != nil {
			t.Fatal(err)
		}
		m := fx.lastCall(t)
		if m.To != landline || m.Ref != "voice.c."+id+".2" {
			t.Errorf("call %+v", m)
		}
		_, d := fx.stored(t, id)
		if d.Enrollment != second.ID || d.Masked != "xxxx-xxxx67" {
			t.Errorf("stored %+v", d)
		}
		p, _ := fx.f.Prompt(ctx, fx.attempt(t, id))
		others := p.Data["Others"].([]number)
		if len(others) != 1 || others[0].ID != first.ID || others[0].Masked != "xxxx-xxxx78" {
			t.Errorf("others %+v", others)
		}
		if _, err := fx.f.Keypress(ctx, m.Ref, d.Digits, fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := fx.check(t, id)
		if err != nil || res.EnrollmentID != second.ID {
			t.Errorf("Check %+v, %v", res, err)
		}
	})
	t.Run("a number that is not the person's is refused", func(t *testing.T) {
		fx, id, _, _ := setup(t)
		theirs := fx.confirmed(t, factortest.User("bob"), polish, true)
		pending, _ := fx.f.BeginEnroll(ctx, factors.EnrollAttempt{User: fx.u, Now: fx.clock.Now()})
		for _, to := range []string{theirs.ID, pending.ID, "nope"} {
			wantMsg(t, fx.resend(t, id, to), MsgUnknownNumber)
		}
		if n := len(fx.sender.Sent()); n != 1 {
			t.Errorf("%d calls", n)
		}
	})
	t.Run("two racing requests to call again place one call", func(t *testing.T) {
		fx, id, _, _ := setup(t)
		fx.clock.Advance(cooldown)
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			a := fx.attempt(t, id)
			wg.Go(func() { errs[i] = fx.f.Resend(ctx, a, factors.Input{Form: url.Values{}}) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != MsgWait {
				t.Errorf("message %s", fe.MessageID)
			}
		}
		if ok != 1 || len(fx.sender.Sent()) != 2 {
			t.Errorf("%d succeeded, %d calls", ok, len(fx.sender.Sent()))
		}
	})
}

func (fx *fixture) confirmedIDs(t *testing.T) []string {
	var ids []string
	for _, e := range factortest.Confirmed(t, fx.mem, fx.u.ID, ID) {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestDeliveryFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		msg  string
	}{
		{"the provider is down", notify.ErrUnavailable, notify.MsgUnavailable},
		{"a send limit is reached", &notify.LimitError{Scope: "destination", RetryAfter: time.Hour}, notify.MsgLimited},
		{"the number's country is not allowed", notify.ErrCountryNotAllowed, notify.MsgCountry},
	}
	for _, tt := range tests {
		t.Run("when "+tt.name+" the page says so and calling again works at once", func(t *testing.T) {
			fx := newFixture(t)
			fx.confirmed(t, fx.u, mobile, true)
			fx.sender.SetErr(tt.err)
			id, p := fx.start(t, "en")
			if p.Data["Error"] != tt.msg || p.Data["Waiting"] != false {
				t.Errorf("page %+v", p.Data)
			}
			if got := fx.status(t, id); got != factors.Failed {
				t.Errorf("Status = %s", got)
			}
			_, err := fx.check(t, id)
			if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != tt.msg {
				t.Errorf("message %s", fe.MessageID)
			}
			if p, _ := fx.f.Prompt(ctx, fx.attempt(t, id)); p.Data["Error"] != tt.msg {
				t.Errorf("reloaded page %+v", p.Data)
			}
			// Still failing: the error comes back from Resend as well.
			if fe := factortest.AssertMessage(t, fx.resend(t, id, ""), factors.Malformed, ""); fe.MessageID != tt.msg {
				t.Errorf("resend message %s", fe.MessageID)
			}
			fx.sender.SetErr(nil)
			if err := fx.resend(t, id, ""); err != nil {
				t.Fatalf("calling again: %v", err)
			}
			m := fx.lastCall(t)
			if m.Ref != "voice.c."+id+".3" {
				t.Errorf("ref %s", m.Ref)
			}
			p, _ = fx.f.Prompt(ctx, fx.attempt(t, id))
			if _, ok := p.Data["Error"]; ok || p.Data["Waiting"] != true {
				t.Errorf("page after the call %+v", p.Data)
			}
		})
	}
	t.Run("a reference already sent counts as a call placed", func(t *testing.T) {
		fx := newFixture(t)
		fx.confirmed(t, fx.u, mobile, true)
		fx.sender.SetErr(notify.ErrDuplicate)
		_, p := fx.start(t, "en")
		if _, ok := p.Data["Error"]; ok || p.Data["Waiting"] != true {
			t.Errorf("page %+v", p.Data)
		}
	})
	t.Run("without a voice transport the page says the call could not be placed", func(t *testing.T) {
		fx := newFixture(t, func(d *factors.Deps) { d.Notify = nil })
		fx.sender = &factortest.Sender{}
		fx.confirmed(t, fx.u, mobile, true)
		_, p := fx.start(t, "en")
		if p.Data["Error"] != notify.MsgUnavailable {
			t.Errorf("page %+v", p.Data)
		}
	})
}

func TestDescribe(t *testing.T) {
	f := newFixture(t).f
	for data, want := range map[string]string{
		`{"phone":"+31201234567","primary":true}`: "xxxx-xxxx67",
		`{}`:       "",
		`not json`: "",
	} {
		if got := f.Describe(store.Enrollment{Factor: ID, Data: data}); got != want {
			t.Errorf("Describe(%s) = %q, want %q", data, got, want)
		}
	}
}
