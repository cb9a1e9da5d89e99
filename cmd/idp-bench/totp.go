package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP codes are single-use per person and 30-second step: the server
// accepts the codes of the step before, of, and after its time, and
// refuses a step the person already used. A load test that sent the same
// person's code twice in a step would measure refusals, so every TOTP user
// remembers the last step it used (LastStep, saved in the setup file
// between runs) and only ever moves forward:
//
//   - a user is handed to one worker at a time (totpPool);
//   - the code sent is of the earliest step after LastStep that the server
//     will still accept with a safety margin: the previous step while at
//     least prevMargin of the current one remains, the current step, or
//     the next step once nextMargin of the current one has passed.
//
// So a user can log in three times in a row and then once per step, and
// a pool of U users sustains U/30 TOTP logins per second with bursts of
// 3U. When no user has an unused step the worker waits (untimed) for the
// next step; the result reports those waits (totp_waits).
const (
	totpPeriod = 30
	prevMargin = 10 * time.Second
	nextMargin = 5 * time.Second
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

func stepOf(t time.Time) (step int64, into time.Duration) {
	s := t.Unix() / totpPeriod
	return s, t.Sub(time.Unix(s*totpPeriod, 0))
}

// usable reports whether the user has a step that will still be usable
// whenever the code is sent later: the current step, or the next once
// nextMargin has passed (and later times only add steps).
func usable(last int64, now time.Time) bool {
	cur, into := stepOf(now)
	return last < cur || (last == cur && into >= nextMargin)
}

// pickStep is the earliest acceptable step after last, or false.
func pickStep(last int64, now time.Time) (int64, bool) {
	cur, into := stepOf(now)
	switch {
	case last < cur-1 && totpPeriod*time.Second-into >= prevMargin:
		return cur - 1, true
	case last < cur:
		return cur, true
	case last < cur+1 && into >= nextMargin:
		return cur + 1, true
	}
	return 0, false
}

// nextCode returns the code of the user's next unused step and marks the
// step used (whether or not the server then accepts it).
func (u *benchUser) nextCode(now time.Time) (string, error) {
	if u.TOTPSecret == "" {
		return "", errKind("totp: user has no TOTP secret", "%s", u.Username)
	}
	step, ok := pickStep(u.LastStep, now)
	if !ok {
		return "", errKind("totp: no unused step", "%s", u.Username)
	}
	code, err := totp.GenerateCodeCustom(u.TOTPSecret, time.Unix(step*totpPeriod, 0), totpOpts)
	if err != nil {
		return "", errKind("totp: bad secret", "%v", err)
	}
	u.LastStep = step
	return code, nil
}

// totpPool hands out TOTP users, one worker at a time each, first in
// first out.
type totpPool struct {
	mu      sync.Mutex
	free    []*benchUser
	changed chan struct{} // closed and replaced on every release
	waits   atomic.Uint64
}

func newTOTPPool(users []benchUser) *totpPool {
	p := &totpPool{changed: make(chan struct{})}
	for i := range users {
		p.free = append(p.free, &users[i])
	}
	return p
}

// acquire returns the first free user with a usable step, waiting for a
// release or the next step when there is none.
func (p *totpPool) acquire(ctx context.Context) (*benchUser, error) {
	for {
		now := time.Now()
		p.mu.Lock()
		i := slices.IndexFunc(p.free, func(u *benchUser) bool { return usable(u.LastStep, now) })
		if i >= 0 {
			u := p.free[i]
			p.free = slices.Delete(p.free, i, i+1)
			p.mu.Unlock()
			return u, nil
		}
		changed := p.changed
		p.mu.Unlock()
		p.waits.Add(1)
		cur, into := stepOf(now)
		wait := time.Unix((cur+1)*totpPeriod, 0).Sub(now)
		if into < nextMargin {
			wait = nextMargin - into // the next step opens before the current one ends
		}
		t := time.NewTimer(wait + 10*time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

func (p *totpPool) release(u *benchUser) {
	p.mu.Lock()
	p.free = append(p.free, u)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}
