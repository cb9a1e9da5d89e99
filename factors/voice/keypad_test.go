package voice

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/factortest"
	"github.com/eu-health-idp/idp/idp/store"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		ref, kind, id string
		ok            bool
	}{
		{"voice.c.abc.1", "c", "abc", true},
		{"voice.e.a-b_c.12", "e", "a-b_c", true},
		{"voice.c.a.b.3", "c", "a.b", true},
		{"voice.c..1", "", "", false},
		{"voice.c.abc", "", "", false},
		{"voice.c.abc.0", "", "", false},
		{"voice.c.abc.-1", "", "", false},
		{"voice.c.abc.+1", "", "", false},
		{"voice.c.abc.01", "", "", false},
		{"voice.q.abc.1", "", "", false},
		{"sms.c.abc.1", "", "", false},
		{"voicec.abc.1", "", "", false},
	}
	for _, tt := range tests {
		kind, id, ok := parseRef(tt.ref)
		if kind != tt.kind || id != tt.id || ok != tt.ok {
			t.Errorf("parseRef(%q) = %q %q %v", tt.ref, kind, id, ok)
		}
	}
	if kind, id, ok := parseRef(callRef("e", "x.y", 7)); !ok || kind != "e" || id != "x.y" {
		t.Errorf("callRef does not parse back: %q %q %v", kind, id, ok)
	}
}

// FuzzKeypress hands Keypress arbitrary references and digits while a
// login call and a set-up call wait: it must never panic, never record
// an entry for anything but those two calls, never answer either with
// digits other than the ones shown, and count at most one wrong entry.
func FuzzKeypress(f *testing.F) {
	for _, seed := range [][2]string{
		{"voice.c.fz.1", "12"}, {"voice.e.en.1", "00"}, {"voice.c.fz.1", ""}, {"voice.c.fz.2", "12"},
		{"voice.c.fz.1.1", "1"}, {"voice.c.fz", "99"}, {"voice.e.fz.1", "12"}, {"voice.c.en.1", "12"},
		{"voice.c.fz.1", "１２"}, {"voice.c.fz.1", "12345678901234567890123456789012345"}, {"voice..", "*"},
	} {
		f.Add(seed[0], seed[1])
	}
	deps, _ := factortest.NewDeps(f)
	f.Fuzz(func(t *testing.T, ref, digits string) {
		d := deps
		mem := factortest.NewMemory()
		d.Store, d.Notify = mem, &factortest.Sender{}
		fac, err := New(d)
		if err != nil {
			t.Fatal(err)
		}
		v := fac.(*Factor)
		now := factortest.Start
		u := factortest.User("fuzz")

		// A confirmed number and a login call to it.
		at := now
		num := &store.Enrollment{UserID: u.ID, Factor: ID, Data: `{"phone":"+31612345678","primary":true}`, ConfirmedAt: &at, CreatedAt: now}
		if err := mem.CreateEnrollment(ctx, num); err != nil {
			t.Fatal(err)
		}
		ch := &store.Challenge{ID: "fz", FlowID: "f", UserID: u.ID, Factor: ID, MaxAttempts: 5, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
		if err := mem.CreateChallenge(ctx, ch); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Start(ctx, factors.Attempt{User: u, Challenge: ch, Enrollments: []store.Enrollment{*num}, Lang: "en", Now: now}); err != nil {
			t.Fatal(err)
		}
		// A set-up call to another number.
		pending := &store.Enrollment{ID: "en", UserID: u.ID, Factor: ID, CreatedAt: now}
		if err := mem.CreateEnrollment(ctx, pending); err != nil {
			t.Fatal(err)
		}
		form := url.Values{"step": {StepVerify}, "country": {"NL"}, "phone": {"0201234567"}}
		if _, err := v.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: pending, Lang: "en", Now: now}, factors.Input{Form: form}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}

		_, kerr := v.Keypress(ctx, ref, digits, now)
		if kerr != nil && !errors.Is(kerr, store.ErrNotFound) {
			t.Fatalf("Keypress(%q, %q): %v", ref, digits, kerr)
		}

		got, _ := mem.ChallengeByID(ctx, "fz", now)
		cd, err := parseChallenge(got.Data)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := v.Status(ctx, factors.Attempt{User: u, Challenge: got, Now: now})
		if st == factors.Answered && (ref != "voice.c.fz.1" || digits != cd.Digits) {
			t.Fatalf("Keypress(%q, %q) answered the login call of %q", ref, digits, cd.Digits)
		}
		if got.Attempts > 1 || (got.Attempts == 1 && (kerr != nil || ref != "voice.c.fz.1" || digits == cd.Digits)) {
			t.Fatalf("Keypress(%q, %q): %d attempts counted", ref, digits, got.Attempts)
		}
		if (kerr == nil && ref == "voice.c.fz.1") != (st != factors.Pending) {
			t.Fatalf("Keypress(%q, %q) = %v, status %s", ref, digits, kerr, st)
		}

		e, _ := mem.EnrollmentByID(ctx, "en")
		nd, err := parseNumber(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		est, _ := v.EnrollStatus(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: now})
		if est == factors.Answered && (ref != "voice.e.en.1" || digits != nd.Digits) {
			t.Fatalf("Keypress(%q, %q) answered the set-up call of %q", ref, digits, nd.Digits)
		}
		if nd.Wrong > 1 || (kerr == nil && ref == "voice.e.en.1") != (est != factors.Pending) {
			t.Fatalf("Keypress(%q, %q) = %v: set-up status %s, %d wrong", ref, digits, kerr, est, nd.Wrong)
		}
	})
}

func TestCallEnded(t *testing.T) {
	start := func(t *testing.T) (*fixture, string) {
		fx := newFixture(t)
		fx.confirmed(t, fx.u, mobile, true)
		id, _ := fx.start(t, "en")
		return fx, id
	}
	t.Run("a login call that ends without an entry fails at once, and Check says no entry came", func(t *testing.T) {
		fx, id := start(t)
		if got := fx.status(t, id); got != factors.Pending {
			t.Fatalf("before: Status = %s", got)
		}
		if err := fx.f.CallEnded(ctx, fx.lastCall(t).Ref, fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if got := fx.status(t, id); got != factors.Failed {
			t.Errorf("Status = %s, want failed before the timeout", got)
		}
		_, err := fx.check(t, id)
		if fe := factortest.AssertMessage(t, err, factors.Malformed, ""); fe.MessageID != MsgNoEntry {
			t.Errorf("message %s", fe.MessageID)
		}
		if ch, _ := fx.stored(t, id); ch.Attempts != 0 {
			t.Errorf("an unanswered call counted %d attempts", ch.Attempts)
		}
		// The call is over: a late keypress is refused.
		if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, "12", fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("keypress after the end: %v", err)
		}
	})
	t.Run("the end of an answered call changes nothing", func(t *testing.T) {
		fx, id := start(t)
		_, d := fx.stored(t, id)
		if _, err := fx.f.Keypress(ctx, fx.lastCall(t).Ref, d.Digits, fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := fx.f.CallEnded(ctx, fx.lastCall(t).Ref, fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CallEnded after the entry: %v", err)
		}
		if got := fx.status(t, id); got != factors.Answered {
			t.Errorf("Status = %s", got)
		}
	})
	t.Run("unknown and malformed references are not found", func(t *testing.T) {
		fx, _ := start(t)
		for _, ref := range []string{"", "voice", "voice.c.nope.1", "voice.x.y.1", "sms.c.a.1"} {
			if err := fx.f.CallEnded(ctx, ref, fx.clock.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("CallEnded(%q) = %v", ref, err)
			}
		}
	})
	t.Run("a set-up call that ends without an entry fails at once", func(t *testing.T) {
		fx := newFixture(t)
		s := fx.begin(t, fx.u)
		s.verify(t, "NL", mobileTyped)
		if err := fx.f.CallEnded(ctx, fx.lastCall(t).Ref, fx.clock.Now()); err != nil {
			t.Fatal(err)
		}
		st, err := fx.f.EnrollStatus(ctx, s.attempt(t))
		if err != nil || st != factors.Failed {
			t.Errorf("EnrollStatus = %s, %v", st, err)
		}
	})
}
