package security

import (
	"context"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// Throttle limits failed attempts per account and per client IP. Counters
// live in the database (store.RateLimits), so the limit holds across every
// node. The account key is the name that was typed, not a user id, so an
// unknown name is throttled exactly like a real one: no enumeration.
type Throttle struct {
	st         store.RateLimits
	accountMax int
	ipMax      int
	window     time.Duration
	now        func() time.Time
}

// NewThrottle returns a throttle allowing accountMax failures per account
// name and ipMax per IP within window. ipMax 0 counts no IP (the factor
// budget is per person only).
func NewThrottle(st store.RateLimits, accountMax, ipMax int, window time.Duration, now func() time.Time) *Throttle {
	return &Throttle{st: st, accountMax: accountMax, ipMax: ipMax, window: window, now: now}
}

func accountKey(scope, account string) string { return scope + ":account:" + HashToken(account) }
func ipKey(scope, ip string) string           { return scope + ":ip:" + ip }

// Blocked reports whether either counter is at its limit.
func (t *Throttle) Blocked(ctx context.Context, scope, account, ip string) (bool, error) {
	now := t.now()
	n, err := t.st.Count(ctx, accountKey(scope, account), t.window, now)
	if err != nil || n >= t.accountMax {
		return err == nil, err
	}
	if t.ipMax <= 0 {
		return false, nil
	}
	n, err = t.st.Count(ctx, ipKey(scope, ip), t.window, now)
	return err == nil && n >= t.ipMax, err
}

// Fail counts one failure against both counters and reports whether this
// failure is the one that reached the account's limit (to audit a lockout
// once).
func (t *Throttle) Fail(ctx context.Context, scope, account, ip string) (lockedNow bool, err error) {
	now := t.now()
	n, err := t.st.Hit(ctx, accountKey(scope, account), t.window, now)
	if err != nil {
		return false, err
	}
	if t.ipMax > 0 {
		if _, err := t.st.Hit(ctx, ipKey(scope, ip), t.window, now); err != nil {
			return false, err
		}
	}
	return n == t.accountMax, nil
}

// Succeed forgets the account's failures (NIST: consecutive failures).
func (t *Throttle) Succeed(ctx context.Context, scope, account string) error {
	return ForgetFailures(ctx, t.st, scope, account)
}

// ForgetFailures clears an account's failures in scope without a Throttle
// at hand: an admin reset lifts a lockout.
func ForgetFailures(ctx context.Context, st store.RateLimits, scope, account string) error {
	return st.Reset(ctx, accountKey(scope, account))
}

// ScopeFactor is the throttle scope of wrong factor answers, counted per
// person (user id): NIST SP 800-63B allows at most 100 consecutive ones.
const ScopeFactor = "factor"
