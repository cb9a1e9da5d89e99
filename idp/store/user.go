package store

import (
	"context"
	"time"
)

// User is a person who can log in. Username is stored normalised (lower
// case) by the caller; lookups are exact.
type User struct {
	ID           string // opaque, stable; the OIDC "sub"
	Username     string
	Email        string
	Phone        string // E.164 or empty
	PasswordHash string // PHC string ($argon2id$...) or an imported bcrypt hash
	Disabled     bool
	// LastFactor is the factor the person chose last time; the chooser
	// shows it first.
	LastFactor string
	// EnrolOfferedAt is when the person was first offered to set up a
	// factor their portal requires: the grace period counts from here. nil
	// when never offered; the Unix epoch after an admin reset (no grace).
	EnrolOfferedAt *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Users is the user repository.
type Users interface {
	// CreateUser inserts u; ErrConflict when the username or email is taken.
	CreateUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByUsername looks up by the normalised username; ErrNotFound if none.
	UserByUsername(ctx context.Context, username string) (*User, error)
	// ListUsers returns all users ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
	SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) error
	// UpdatePasswordHash replaces the hash (rehash on login, password change).
	UpdatePasswordHash(ctx context.Context, id, hash string, at time.Time) error
	// SetUserLastFactor remembers the factor the person chose.
	SetUserLastFactor(ctx context.Context, id, factor string) error
	// MarkEnrolOffered sets EnrolOfferedAt to at unless it is already set,
	// and returns the stored value (the first offer wins under races).
	MarkEnrolOffered(ctx context.Context, id string, at time.Time) (time.Time, error)
	// ResetUserFactors is the admin reset, in one transaction: it deletes
	// the person's enrollments, challenges and SSO sessions and sets
	// EnrolOfferedAt to the Unix epoch, so the next login must enrol again
	// with no grace period. It returns how many enrollments were removed;
	// ErrNotFound when the user is unknown.
	ResetUserFactors(ctx context.Context, id string, at time.Time) (int64, error)
}
