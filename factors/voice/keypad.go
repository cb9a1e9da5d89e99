package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/store"
)

// errNoCall is what Keypress answers for a reference that is not a call
// waiting for its entry: unknown, superseded by a newer call, entered
// already, timed out, or of a challenge that ended. The caller hears a
// generic goodbye, and learns nothing about which it was.
var errNoCall = fmt.Errorf("voice: no call waiting for an entry: %w", store.ErrNotFound)

// Keypress records the digits typed during call ref. The first entry of
// the latest call of a live challenge or pending set-up decides; every
// other keypress is store.ErrNotFound. A wrong entry at login is counted
// against the challenge (FailChallenge), at set-up in the enrollment.
func (f *Factor) Keypress(ctx context.Context, ref, digits string, now time.Time) (factors.Keyed, error) {
	kind, id, ok := parseRef(ref)
	if !ok {
		return factors.Keyed{}, errNoCall
	}
	if kind == "e" {
		return f.setupKeypress(ctx, id, ref, digits, now)
	}
	ch, err := f.store.ChallengeByID(ctx, id, now)
	if err != nil {
		return factors.Keyed{}, noCall(err)
	}
	var correct bool
	var lang string
	_, _, err = f.updateChallenge(ctx, *ch, now, func(ch *store.Challenge, d *challengeData) error {
		if ch.Factor != ID || ch.ConsumedAt != nil || ch.Attempts >= ch.MaxAttempts {
			return errNoCall
		}
		c := d.Calls.latest()
		if c == nil || c.Ref != ref || !f.waiting(c, now) {
			return errNoCall
		}
		// The compare-and-swap on this state change is what makes the
		// entry one per call: of two racing callbacks, the second
		// re-reads a call that is no longer waiting.
		correct, lang = f.matches(ch.CodeHash, digits), d.Lang
		c.State = stateWrong
		if correct {
			c.State = stateAnswered
		}
		return nil
	})
	if err != nil {
		return factors.Keyed{}, noCall(err)
	}
	if !correct {
		// Counted after the entry is recorded, so exactly one count per
		// call. ErrConsumed: the attempts ran out meanwhile; the entry is
		// refused either way.
		if _, err := f.store.FailChallenge(ctx, id, now); err != nil && !errors.Is(err, store.ErrConsumed) && !errors.Is(err, store.ErrNotFound) {
			slog.ErrorContext(ctx, "voice: could not count a wrong entry", "ref", ref, "err", err)
			return factors.Keyed{}, fmt.Errorf("voice: counting a wrong entry: %w", err)
		}
	}
	return f.keyed(lang, correct, ch.UserID), nil
}

// noCall maps the store's "not there" answers to errNoCall and passes
// server faults on.
func noCall(err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConsumed) {
		return errNoCall
	}
	return err
}

// keyed is the outcome of an entry by user.
func (f *Factor) keyed(lang string, correct bool, user string) factors.Keyed {
	k := factors.Keyed{Reply: f.reply(lang, correct)}
	if !correct {
		k.WrongFor = user
	}
	return k
}

// reply is what the call says before it hangs up.
func (f *Factor) reply(lang string, correct bool) notify.Reply {
	l := f.lang(lang)
	id := "voice.reply.wrong"
	if correct {
		id = "voice.reply.correct"
	}
	return notify.Reply{Text: l.T(id), Lang: l.Lang()}
}

// setupKeypress records the entry of a set-up call in the pending
// enrollment.
func (f *Factor) setupKeypress(ctx context.Context, id, ref, digits string, now time.Time) (factors.Keyed, error) {
	e, err := f.store.EnrollmentByID(ctx, id)
	if err != nil {
		return factors.Keyed{}, noCall(err)
	}
	var correct bool
	var lang string
	_, _, err = f.updateEnrollment(ctx, *e, func(e *store.Enrollment, d *numberData) error {
		if e.Factor != ID || e.Confirmed() || d.Hash == "" || d.Wrong >= maxSetupWrong {
			return errNoCall
		}
		c := d.Calls.latest()
		if c == nil || c.Ref != ref || !f.waiting(c, now) {
			return errNoCall
		}
		correct, lang = f.matches(d.Hash, digits), d.Lang
		c.State = stateWrong
		if correct {
			c.State = stateAnswered
		} else {
			d.Wrong++
		}
		return nil
	})
	if err != nil {
		return factors.Keyed{}, noCall(err)
	}
	return f.keyed(lang, correct, e.UserID), nil
}

// CallEnded marks call ref as over without an entry when it is the
// latest call of a live challenge or pending set-up and still waits for
// the keypad. The provider reports the end of every call, answered or
// not: for a call that had its entry this changes nothing.
func (f *Factor) CallEnded(ctx context.Context, ref string, now time.Time) error {
	kind, id, ok := parseRef(ref)
	if !ok {
		return errNoCall
	}
	end := func(cs calls) error {
		c := cs.latest()
		if c == nil || c.Ref != ref || c.State != stateCalling {
			return errNoCall
		}
		c.State = stateEnded
		return nil
	}
	if kind == "e" {
		e, err := f.store.EnrollmentByID(ctx, id)
		if err != nil {
			return noCall(err)
		}
		_, _, err = f.updateEnrollment(ctx, *e, func(e *store.Enrollment, d *numberData) error {
			if e.Factor != ID || e.Confirmed() {
				return errNoCall
			}
			return end(d.Calls)
		})
		return noCall(err)
	}
	ch, err := f.store.ChallengeByID(ctx, id, now)
	if err != nil {
		return noCall(err)
	}
	_, _, err = f.updateChallenge(ctx, *ch, now, func(ch *store.Challenge, d *challengeData) error {
		if ch.Factor != ID || ch.ConsumedAt != nil {
			return errNoCall
		}
		return end(d.Calls)
	})
	return noCall(err)
}
