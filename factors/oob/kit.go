package oob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// casRetries bounds the reload-and-retry loops after a concurrent change
// of the same challenge or enrollment (a double submit, a racing resend).
const casRetries = 3

// Kit runs the sends and checks of one code factor. It is safe for
// concurrent use.
type Kit struct {
	// Factor is the factor id: it starts every message reference.
	Factor   string
	Store    factors.Store
	Codes    *security.SecretHasher
	Notify   notify.Sender // nil: every send fails as not configured
	Settings factors.CodeSettings
}

// Dest is where a code goes: one of the person's enrollments.
type Dest struct {
	Enrollment string
	// To is the address or the E.164 number.
	To string
	// Masked is To as pages show it.
	Masked string
}

// Compose builds the message that carries code to dest. The kit fills
// Ref, UserID and IP, and Lang when Compose left it empty (Compose knows
// the language it actually wrote in).
type Compose func(code string, dest Dest, c Challenge) (notify.Message, error)

// Lookup finds the person's confirmed enrollment id as a destination.
type Lookup func(enrollmentID string) (Dest, bool)

// errStarted ends a send loop when the challenge was started by a racing
// request: its state stands, and nothing more is sent.
var errStarted = errors.New("oob: challenge already started")

// Start sends the first code of a.Challenge to dest and stores the
// challenge's state (session is the email login's identifier, "" for
// SMS). A delivery failure is not an error: it comes back as the message
// id to show (failed), and the state lets "send again" go at once. When
// the challenge was started already (a racing request) its state is
// returned and nothing is sent.
func (k *Kit) Start(ctx context.Context, a factors.Attempt, dest Dest, session string, compose Compose) (c Challenge, failed string, err error) {
	if err := k.checkAttempt(a); err != nil {
		return c, "", err
	}
	c, sendErr, err := k.send(ctx, a, compose, func(cur *Challenge, started bool) (Dest, error) {
		if started {
			return Dest{}, errStarted
		}
		*cur = Challenge{Enrollment: dest.Enrollment, Masked: dest.Masked, Session: session}
		return dest, nil
	})
	if errors.Is(err, errStarted) {
		return c, c.Failed, nil
	}
	if err != nil {
		return c, "", err
	}
	return c, notify.MessageID(sendErr), nil
}

// Resend sends a new code for a.Challenge, to the enrollment named by to
// ("" for the one challenged so far), which lookup must know as the
// person's. Refusals (cooldown, cap, a destination not the person's) and
// delivery failures are Malformed *factors.Error with no field: the page
// shows them above the form.
func (k *Kit) Resend(ctx context.Context, a factors.Attempt, to string, lookup Lookup, compose Compose) error {
	if err := k.checkAttempt(a); err != nil {
		return err
	}
	_, sendErr, err := k.send(ctx, a, compose, func(cur *Challenge, started bool) (Dest, error) {
		if !started {
			return Dest{}, fmt.Errorf("oob: resend of challenge %s that was never started", a.Challenge.ID)
		}
		id := to
		if id == "" {
			id = cur.Enrollment
		}
		dest, ok := lookup(id)
		if !ok {
			return Dest{}, &factors.Error{Kind: factors.Malformed, MessageID: MsgNotYours}
		}
		if ferr := cur.allow(a.Now, k.Settings, ""); ferr != nil {
			return Dest{}, ferr
		}
		cur.Enrollment, cur.Masked = dest.Enrollment, dest.Masked
		return dest, nil
	})
	if err != nil {
		return err
	}
	if sendErr != nil {
		return &factors.Error{Kind: factors.Malformed, MessageID: notify.MessageID(sendErr)}
	}
	return nil
}

// send is the cycle both Start and Resend run: edit decides the
// destination on the current state, a new code's hash and the new state
// are written first (compare-and-swap on Data, re-read on a race), and only
// then is the message sent, so a code never reaches anyone before it can
// be checked. A failed send is recorded in the state afterwards.
func (k *Kit) send(ctx context.Context, a factors.Attempt, compose Compose, edit func(cur *Challenge, started bool) (Dest, error)) (Challenge, error, error) {
	ch := a.Challenge
	for try := 0; ; try++ {
		cur, err := ParseChallenge(ch.Data)
		if err != nil {
			return cur, nil, err
		}
		dest, err := edit(&cur, ch.Data != "")
		if err != nil {
			return cur, nil, err
		}
		code := NewCode()
		n := cur.begin(a.Now)
		hash := hashCode(k.Codes, scopeChallenge, ch.ID, code)
		data, err := marshal(cur)
		if err != nil {
			return cur, nil, err
		}
		err = k.Store.UpdateChallengeData(ctx, ch.ID, ch.Data, hash, data, a.Now)
		if errors.Is(err, store.ErrConflict) && try < casRetries {
			if ch, err = k.Store.ChallengeByID(ctx, ch.ID, a.Now); err != nil {
				return cur, nil, fmt.Errorf("oob: reloading challenge: %w", err)
			}
			continue
		}
		if err != nil {
			return cur, nil, fmt.Errorf("oob: storing the code of challenge %s: %w", ch.ID, err)
		}
		m, err := compose(code, dest, cur)
		if err != nil {
			return cur, nil, err
		}
		m.Ref = k.Factor + "." + ch.ID + "." + strconv.Itoa(n)
		m.UserID, m.IP = a.User.ID, a.IP
		if m.Lang == "" {
			m.Lang = a.Lang
		}
		sendErr := k.deliver(ctx, m)
		if sendErr == nil {
			return cur, nil, nil
		}
		slog.WarnContext(ctx, "oob: sending a login code failed", "factor", k.Factor, "challenge", ch.ID,
			"enrollment", dest.Enrollment, "reason", notify.MessageID(sendErr))
		cur.fail(sendErr)
		failed, err := marshal(cur)
		if err != nil {
			return cur, sendErr, err
		}
		// A conflict here means a racing resend wrote a newer state, which
		// stands: this failure is no longer what the page should show.
		if err := k.Store.UpdateChallengeData(ctx, ch.ID, data, hash, failed, a.Now); err != nil && !errors.Is(err, store.ErrConflict) {
			return cur, sendErr, fmt.Errorf("oob: recording the failed send of challenge %s: %w", ch.ID, err)
		}
		return cur, sendErr, nil
	}
}

// deliver sends m. A reference already sent (notify.Once after a retry) is
// a message that went out, not a failure.
func (k *Kit) deliver(ctx context.Context, m notify.Message) error {
	if k.Notify == nil {
		return notify.ErrNotConfigured
	}
	if err := k.Notify.Send(ctx, m); err != nil && !errors.Is(err, notify.ErrDuplicate) {
		return err
	}
	return nil
}

// PromptData is the page data of every code challenge: where the code
// went, how many minutes it lives, and the delivery failure, if any. Error
// is set only when there is one: an empty Error would hide the engine's
// own message.
func (k *Kit) PromptData(c Challenge, failed string) map[string]any {
	data := map[string]any{"Masked": c.Masked, "Minutes": Minutes(k.Settings.Lifetime)}
	if failed != "" {
		data["Error"] = failed
	}
	return data
}

// State returns the state of a.Challenge as Start or Resend left it.
func (k *Kit) State(a factors.Attempt) (Challenge, error) {
	if err := k.checkAttempt(a); err != nil {
		return Challenge{}, err
	}
	return ParseChallenge(a.Challenge.Data)
}

// Check verifies the code typed for a.Challenge: malformed input and a
// code past its lifetime are Malformed (not counted, nothing compared), a
// mismatch is Wrong. It returns the challenge's state; the engine consumes
// the challenge after a success, which makes the code single-use.
func (k *Kit) Check(a factors.Attempt, in factors.Input) (Challenge, error) {
	code, ferr := ParseCode(in.Form.Get(FieldCode))
	if ferr != nil {
		return Challenge{}, ferr
	}
	c, err := k.State(a)
	if err != nil {
		return c, err
	}
	if a.Challenge.CodeHash == "" || c.expired(a.Now, k.Settings.Lifetime) {
		return c, &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeExpired, Field: FieldCode}
	}
	if !codeMatches(k.Codes, a.Challenge.CodeHash, scopeChallenge, a.Challenge.ID, code) {
		return c, &factors.Error{Kind: factors.Wrong, MessageID: MsgCodeWrong, Field: FieldCode}
	}
	return c, nil
}

// Answer is Check followed by the proof: the code's destination must still
// be one of usable (an address or number removed while the code was on
// its way proves nothing), whose last use is then recorded.
func (k *Kit) Answer(ctx context.Context, f factors.Factor, a factors.Attempt, in factors.Input, usable []store.Enrollment) (factors.Result, error) {
	c, err := k.Check(a, in)
	if err != nil {
		return factors.Result{}, err
	}
	for _, e := range usable {
		if e.ID == c.Enrollment {
			k.Touch(ctx, e, a.Now)
			return factors.Result{Proof: factors.ProofOf(f, a.Now), EnrollmentID: e.ID}, nil
		}
	}
	return factors.Result{}, &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeExpired, Field: FieldCode}
}

func (k *Kit) checkAttempt(a factors.Attempt) error {
	switch {
	case a.User == nil || a.Challenge == nil:
		return errors.New("oob: attempt without a user or challenge")
	case a.Challenge.Factor != k.Factor || a.Challenge.UserID != a.User.ID:
		return fmt.Errorf("oob: challenge %s is not this person's %s challenge", a.Challenge.ID, k.Factor)
	}
	return nil
}

// Touch records when e was last used (the email factor challenges the
// most recently used address). It is bookkeeping after an accepted code:
// a failure is logged and the login goes on.
func (k *Kit) Touch(ctx context.Context, e store.Enrollment, now time.Time) {
	var err error
	for range casRetries {
		if e.LastUsedAt != nil && !e.LastUsedAt.Before(now) {
			return
		}
		at := now
		e.LastUsedAt = &at
		if err = k.Store.UpdateEnrollment(ctx, &e); !errors.Is(err, store.ErrConflict) {
			break
		}
		var cur *store.Enrollment
		if cur, err = k.Store.EnrollmentByID(ctx, e.ID); err != nil {
			break
		}
		e = *cur
	}
	if err != nil {
		slog.WarnContext(ctx, "oob: could not record the last use", "factor", k.Factor, "enrollment", e.ID, "err", err)
	}
}
