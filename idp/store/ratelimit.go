package store

import (
	"context"
	"time"
)

// RateLimits are fixed-window counters kept in the database, so a limit
// holds across every node behind the load balancer.
type RateLimits interface {
	// Hit adds one to key's window (a new window starts when the old one is
	// older than window at now) and returns the count after the hit.
	// Atomic under concurrency on every backend.
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
	// Count returns the current count of key's window without adding.
	Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
	// Reset forgets key.
	Reset(ctx context.Context, key string) error
}
