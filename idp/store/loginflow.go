package store

import (
	"context"
	"time"
)

// LoginFlow is the persisted state of one login: which authorization
// request it serves, which browser runs it, who has proved their
// credentials, which factor was chosen and what is being enrolled. It
// lives in the database so a login survives a restart and may continue on
// another node; the decision of what comes next is always recomputed from
// it (flow.Next), never stored.
type LoginFlow struct {
	ID            string // random, in every URL and form of the login
	AuthRequestID string
	// BrowserHash is the SHA-256 of the browser's flow-binding cookie: a
	// flow id pasted into another browser is refused.
	BrowserHash string
	UserID      string // set once credentials are proved
	// Factor is the factor the person chose ("" = not chosen: the chooser
	// decides, or goes straight to the only candidate).
	Factor      string
	ChallengeID string // the live challenge of Factor, if any
	// Enrolling is the factor being set up and EnrollmentID its pending
	// enrollment.
	Enrolling    string
	EnrollmentID string
	// SkippedEnrol: the person chose "Skip" on the enrolment offer within
	// the grace period; the login finishes at the level already reached.
	SkippedEnrol bool
	// StartACR is the level the session held when the flow began, so the
	// audit log can tell a step-up.
	StartACR string
	// Purpose is "" for the login of a relying party; account self-service
	// flows carry the change they make once the person proved a fresh
	// factor ("account", "account.add:<factor>", "account.remove:<id>").
	// It is rewritten as the change proceeds.
	Purpose string
	// Version guards updates (see UpdateLoginFlow).
	Version   int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LoginFlows is the login-flow repository.
type LoginFlows interface {
	// CreateLoginFlow inserts f with Version 1 (set on f).
	CreateLoginFlow(ctx context.Context, f *LoginFlow) error
	// LoginFlowByID returns the flow; ErrNotFound when unknown or expired at now.
	LoginFlowByID(ctx context.Context, id string, now time.Time) (*LoginFlow, error)
	// UpdateLoginFlow writes every mutable field of f if the stored Version
	// still equals f.Version, then increments f.Version. ErrConflict when a
	// concurrent request updated it first (a double submit): reload and
	// decide again. ErrNotFound when gone or expired.
	UpdateLoginFlow(ctx context.Context, f *LoginFlow, now time.Time) error
}
