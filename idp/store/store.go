package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors every backend returns (wrapped or bare) so callers can
// branch with errors.Is without knowing the database.
var (
	// ErrNotFound: no row, or a row that is expired where the method says so.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique constraint would be violated (username, client id).
	ErrConflict = errors.New("store: conflict")
	// ErrConsumed: a single-use item (code, refresh token) was already used or
	// revoked. Returned to exactly one loser of every race.
	ErrConsumed = errors.New("store: already consumed")
	// ErrUnavailable: the database could not be reached or dropped the
	// connection (refused, reset, timed out, shutting down). Nothing is
	// wrong with the request: the caller answers 503 and the person or
	// client tries again; the pool reconnects on its own.
	ErrUnavailable = errors.New("store: database unavailable")
)

// Store is every repository at once, the shape sqlstore returns. Code that
// needs only one aggregate should accept the small interface instead.
type Store interface {
	Users
	Clients
	Keys
	AuthRequests
	Tokens
	Sessions
	RateLimits
	Audit
	Enrollments
	Challenges
	SingleUse
	LoginFlows
	Outbox
	Policies
	Maintenance
}

// Maintenance covers the health of the database itself.
type Maintenance interface {
	// Ping reports whether the database answers; /readyz calls it.
	Ping(ctx context.Context) error
	// MigrationsCurrent reports whether every embedded migration is applied.
	MigrationsCurrent(ctx context.Context) (bool, error)
	// DeleteExpired removes rows whose lifetime ended before now (auth
	// requests, tokens, sessions, rate-limit windows, login flows,
	// challenges, single-use marks) and enrollments left pending for longer
	// than PendingEnrollmentLifetime. Called periodically.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
	Close() error
}
