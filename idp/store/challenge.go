package store

import (
	"context"
	"time"
)

// Challenge is one attempt at proving a factor within a login flow: the
// TOTP prompt, a code sent by email or SMS, a voice call. The login engine
// creates it and counts attempts; the factor fills CodeHash and Data.
type Challenge struct {
	ID           string
	FlowID       string // the login flow it belongs to; a code never finishes another flow
	UserID       string
	Factor       string
	EnrollmentID string // the device or number challenged; "" when any
	CodeHash     string // keyed hash of a code we sent; "" for TOTP
	Data         string // factor JSON (masked destination, session identifier, ...)
	Attempts     int    // wrong answers so far
	MaxAttempts  int
	CreatedAt    time.Time
	ExpiresAt    time.Time
	ConsumedAt   *time.Time
}

// Challenges is the challenge repository. Every transition is one guarded
// UPDATE, so two racing requests never both win.
type Challenges interface {
	CreateChallenge(ctx context.Context, c *Challenge) error
	// ChallengeByID returns the challenge, consumed or not; ErrNotFound when
	// unknown or expired at now.
	ChallengeByID(ctx context.Context, id string, now time.Time) (*Challenge, error)
	// UpdateChallengeData replaces CodeHash and Data of a live, unconsumed
	// challenge whose Data is still oldData (a resend with a new code, a
	// keypress recorded): a compare-and-swap, so of two racing updates
	// from the same state one wins and the other gets ErrConflict.
	// Attempts are kept. ErrConsumed when consumed, ErrNotFound when
	// unknown or expired.
	UpdateChallengeData(ctx context.Context, id, oldData, codeHash, data string, now time.Time) error
	// FailChallenge counts one wrong answer and returns the attempts after
	// it. ErrConsumed when the challenge was consumed or had already used up
	// MaxAttempts (the answer is not counted then), ErrNotFound when unknown
	// or expired.
	FailChallenge(ctx context.Context, id string, now time.Time) (int, error)
	// ConsumeChallenge marks the challenge used: UPDATE ... WHERE consumed_at
	// IS NULL AND attempts < max_attempts AND expires_at > now. Exactly one
	// of racing callers gets nil; the others get ErrConsumed (ErrNotFound
	// when unknown or expired).
	ConsumeChallenge(ctx context.Context, id string, now time.Time) error
}

// SingleUse remembers that something was used, for values that are not
// rows of their own: a TOTP code (per person and time step), later a
// private_key_jwt jti.
type SingleUse interface {
	// UseOnce records key until expiresAt. ErrConsumed when key is already
	// recorded and not expired: exactly one of racing callers gets nil.
	UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error
}
