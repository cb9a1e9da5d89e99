package store

import (
	"context"
	"time"
)

// Proof is one factor the session has proved: what a factor reports, from
// which the assurance level is computed (never stored as a level).
type Proof struct {
	Factor string   `json:"factor"` // "password", "totp", ...
	AMR    []string `json:"amr"`    // RFC 8176 values
	// Kinds are the factor categories proved (knowledge, possession,
	// inherence); proofs of different kinds are independent factors. Empty
	// in proofs stored before kinds existed: the factor id stands in.
	Kinds             []string  `json:"kinds,omitempty"`
	PhishingResistant bool      `json:"phr,omitempty"`
	At                time.Time `json:"at"`
}

// Session is the browser's single sign-on session. ID is the SHA-256 (hex)
// of the cookie value, so a database leak does not hand out live cookies.
type Session struct {
	ID         string
	UserID     string
	Proofs     []Proof
	AuthTime   time.Time // time of the last interactive authentication
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// Sessions is the SSO session repository.
type Sessions interface {
	CreateSession(ctx context.Context, s *Session) error
	// SessionByID returns the session; ErrNotFound when unknown or expired at now.
	SessionByID(ctx context.Context, id string, now time.Time) (*Session, error)
	// ReplaceSession deletes oldID (if any) and inserts s in one transaction:
	// every login and step-up issues a new session id.
	ReplaceSession(ctx context.Context, oldID string, s *Session) error
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSessions(ctx context.Context, userID string) error
}
