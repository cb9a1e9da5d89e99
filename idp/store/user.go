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
	CreatedAt    time.Time
	UpdatedAt    time.Time
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
}
