package store

import (
	"context"
	"time"
)

// ClientPolicy is what an admin decides for one portal. Levels are stored
// as full acr values (the caller resolves short names through the acr
// table). A client with no row uses the configured default policy.
type ClientPolicy struct {
	ClientID string
	// AllowedFactors lists factor ids usable after the password; empty
	// means every registered factor.
	AllowedFactors []string
	MinACR         string // every login reaches at least this ("" = none)
	DefaultACR     string // aimed for when the client asks nothing ("" = MinACR)
	// FactorMaxAge caps how old a proof may be for this client before
	// step-up asks again (0 = the acr table's freshness only).
	FactorMaxAge time.Duration
	// GraceDays: days a person may skip setting up a factor MinACR needs.
	GraceDays int
	// RememberDevice allows "remember this device" for RememberFor.
	RememberDevice bool
	RememberFor    time.Duration
	// AccountChangeFactors may confirm account changes (empty = all allowed).
	AccountChangeFactors []string
	UpdatedAt            time.Time
}

// Policies is the per-client policy repository.
type Policies interface {
	// ClientPolicy returns the client's policy; ErrNotFound when it has none.
	ClientPolicy(ctx context.Context, clientID string) (*ClientPolicy, error)
	// PutClientPolicy inserts or replaces the client's policy.
	PutClientPolicy(ctx context.Context, p *ClientPolicy) error
	// SeedClientPolicy inserts p only if the client has no policy yet and
	// reports whether it did (config seeding never overwrites admin edits).
	SeedClientPolicy(ctx context.Context, p *ClientPolicy) (bool, error)
}
