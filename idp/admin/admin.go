// Package admin holds the operations administrators perform on people's
// accounts. The CLI calls them today and the admin API will tomorrow, so
// each does its whole job (change, side effects, audit) in one place.
package admin

import (
	"context"
	"strconv"
	"time"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// Store is what the admin operations use.
type Store interface {
	store.Users
	store.RateLimits
	store.Audit
}

// Service runs admin operations.
type Service struct {
	Store Store
	Now   func() time.Time
}

// ResetFactors is the "lost my phone" reset (seed 001): it removes every
// factor the person set up and ends their sessions, clears their factor
// lockout, and records who did it. Their next login asks them to enrol
// again, with no grace period. It returns how many factors were removed;
// store.ErrNotFound when the user is unknown.
func (s *Service) ResetFactors(ctx context.Context, userID, actor string) (int64, error) {
	now := s.Now()
	n, err := s.Store.ResetUserFactors(ctx, userID, now)
	if err != nil {
		return 0, err
	}
	if err := security.ForgetFailures(ctx, s.Store, security.ScopeFactor, userID); err != nil {
		return n, err
	}
	err = s.Store.RecordAudit(ctx, &store.AuditEvent{
		UserID: userID, Event: "factors.reset", CreatedAt: now,
		Detail: map[string]string{"by": actor, "removed": strconv.FormatInt(n, 10)},
	})
	return n, err
}
