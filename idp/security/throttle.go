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
// name and ipMax per IP within window.
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
	n, err = t.st.Count(ctx, ipKey(scope, ip), t.window, now)
	return err == nil && n >= t.ipMax, err
}

// Fail counts one failure against both counters.
func (t *Throttle) Fail(ctx context.Context, scope, account, ip string) error {
	now := t.now()
	if _, err := t.st.Hit(ctx, accountKey(scope, account), t.window, now); err != nil {
		return err
	}
	_, err := t.st.Hit(ctx, ipKey(scope, ip), t.window, now)
	return err
}

// Succeed forgets the account's failures (NIST: consecutive failures).
func (t *Throttle) Succeed(ctx context.Context, scope, account string) error {
	return t.st.Reset(ctx, accountKey(scope, account))
}

// FactorFailureKey is the rate-limit key counting a person's consecutive
// wrong factor answers (NIST SP 800-63B: at most 100 before the factor
// locks); a success or an admin reset clears it.
func FactorFailureKey(userID string) string { return "factor:account:" + userID }
