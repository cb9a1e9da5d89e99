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
