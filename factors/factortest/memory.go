// Package factortest helps unit-test authentication factors without a
// database: Memory is an in-memory factors.Store, Clock a settable time,
// and NewDeps the dependencies a factor constructor expects, with a real
// Sealer and SecretHasher under random keys.
//
// Memory is a unit-test double, not a backend: it lives in one process and
// forgets everything when the test ends. It follows the contracts in
// idp/store (Version guards, ErrConflict, ErrConsumed, ErrNotFound, expiry)
// closely enough that a factor passing its tests here behaves the same on
// the real databases, which prove themselves against idp/store/storetest.
package factortest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

var _ factors.Store = (*Memory)(nil)

// Memory is an in-memory factors.Store, safe for concurrent use. Every
// method works on copies, so a caller changing a returned value changes
// nothing stored, as with a database.
type Memory struct {
	mu          sync.Mutex
	enrollments map[string]store.Enrollment
	order       []string // insertion order, to list oldest first on equal CreatedAt
	challenges  map[string]store.Challenge
	used        map[string]time.Time // single-use key -> expiry
	useCalls    int
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{
		enrollments: map[string]store.Enrollment{},
		challenges:  map[string]store.Challenge{},
		used:        map[string]time.Time{},
	}
}

func cloneEnrollment(e store.Enrollment) store.Enrollment {
	e.Secret = slices.Clone(e.Secret)
	e.ConfirmedAt = cloneTime(e.ConfirmedAt)
	e.LastUsedAt = cloneTime(e.LastUsedAt)
	return e
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// CreateEnrollment inserts e with Version 1. An empty ID gets a random one,
// as a backend would; an ID already taken is ErrConflict.
func (m *Memory) CreateEnrollment(_ context.Context, e *store.Enrollment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.ID == "" {
		e.ID = security.RandomToken(16)
	}
	if _, dup := m.enrollments[e.ID]; dup {
		return fmt.Errorf("enrollment %s: %w", e.ID, store.ErrConflict)
	}
	e.Version = 1
	m.enrollments[e.ID] = cloneEnrollment(*e)
	m.order = append(m.order, e.ID)
	return nil
}

// EnrollmentByID returns a copy of the enrollment; ErrNotFound when unknown.
func (m *Memory) EnrollmentByID(_ context.Context, id string) (*store.Enrollment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.enrollments[id]
	if !ok {
		return nil, fmt.Errorf("enrollment %s: %w", id, store.ErrNotFound)
	}
	c := cloneEnrollment(e)
	return &c, nil
}

// ListEnrollments returns the person's enrollments, pending ones too,
// oldest first.
func (m *Memory) ListEnrollments(_ context.Context, userID string) ([]store.Enrollment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Enrollment
	for _, id := range m.order {
		if e, ok := m.enrollments[id]; ok && e.UserID == userID {
			out = append(out, cloneEnrollment(e))
		}
	}
	slices.SortStableFunc(out, func(a, b store.Enrollment) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// UpdateEnrollment writes the mutable fields of e if the stored Version
// still equals e.Version, then increments e.Version.
func (m *Memory) UpdateEnrollment(_ context.Context, e *store.Enrollment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.enrollments[e.ID]
	if !ok {
		return fmt.Errorf("enrollment %s: %w", e.ID, store.ErrNotFound)
	}
	if cur.Version != e.Version {
		return fmt.Errorf("enrollment %s version %d (stored %d): %w", e.ID, e.Version, cur.Version, store.ErrConflict)
	}
	cur.Name = e.Name
	cur.Secret = slices.Clone(e.Secret)
	cur.Data = e.Data
	cur.ConfirmedAt = cloneTime(e.ConfirmedAt)
	cur.LastUsedAt = cloneTime(e.LastUsedAt)
	cur.Version++
	m.enrollments[e.ID] = cur
	e.Version = cur.Version
	return nil
}

// DeleteEnrollment removes one enrollment; ErrNotFound when unknown.
func (m *Memory) DeleteEnrollment(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.enrollments[id]; !ok {
		return fmt.Errorf("enrollment %s: %w", id, store.ErrNotFound)
	}
	delete(m.enrollments, id)
	return nil
}

// DeleteEnrollments removes the person's enrollments of factor except keepID.
func (m *Memory) DeleteEnrollments(_ context.Context, userID, factor, keepID string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for id, e := range m.enrollments {
		if e.UserID == userID && e.Factor == factor && id != keepID {
			delete(m.enrollments, id)
			n++
		}
	}
	return n, nil
}

// live reports whether c may still be answered at now: the backends'
// "expires_at > now".
func live(c store.Challenge, now time.Time) bool { return c.ExpiresAt.After(now) }

// CreateChallenge stores c. An empty ID gets a random one; an ID already
// taken is ErrConflict.
func (m *Memory) CreateChallenge(_ context.Context, c *store.Challenge) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.ID == "" {
		c.ID = security.RandomToken(16)
	}
	if _, dup := m.challenges[c.ID]; dup {
		return fmt.Errorf("challenge %s: %w", c.ID, store.ErrConflict)
	}
	cp := *c
	cp.ConsumedAt = cloneTime(c.ConsumedAt)
	m.challenges[c.ID] = cp
	return nil
}

// ChallengeByID returns the challenge, consumed or not; ErrNotFound when
// unknown or expired at now.
func (m *Memory) ChallengeByID(_ context.Context, id string, now time.Time) (*store.Challenge, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.challenges[id]
	if !ok || !live(c, now) {
		return nil, fmt.Errorf("challenge %s: %w", id, store.ErrNotFound)
	}
	c.ConsumedAt = cloneTime(c.ConsumedAt)
	return &c, nil
}

// UpdateChallengeData replaces CodeHash and Data of a live, unconsumed
// challenge whose Data is still oldData.
func (m *Memory) UpdateChallengeData(_ context.Context, id, oldData, codeHash, data string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.challenges[id]
	if !ok || !live(c, now) {
		return fmt.Errorf("challenge %s: %w", id, store.ErrNotFound)
	}
	if c.ConsumedAt != nil {
		return fmt.Errorf("challenge %s: %w", id, store.ErrConsumed)
	}
	if c.Data != oldData {
		return fmt.Errorf("challenge %s: %w", id, store.ErrConflict)
	}
	c.CodeHash, c.Data = codeHash, data
	m.challenges[id] = c
	return nil
}

// FailChallenge counts one wrong answer and returns the attempts after it.
func (m *Memory) FailChallenge(_ context.Context, id string, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.challenges[id]
	if !ok || !live(c, now) {
		return 0, fmt.Errorf("challenge %s: %w", id, store.ErrNotFound)
	}
	if c.ConsumedAt != nil || c.Attempts >= c.MaxAttempts {
		return c.Attempts, fmt.Errorf("challenge %s: %w", id, store.ErrConsumed)
	}
	c.Attempts++
	m.challenges[id] = c
	return c.Attempts, nil
}

// ConsumeChallenge marks the challenge used; exactly one of racing callers
// gets nil.
func (m *Memory) ConsumeChallenge(_ context.Context, id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.challenges[id]
	if !ok || !live(c, now) {
		return fmt.Errorf("challenge %s: %w", id, store.ErrNotFound)
	}
	if c.ConsumedAt != nil || c.Attempts >= c.MaxAttempts {
		return fmt.Errorf("challenge %s: %w", id, store.ErrConsumed)
	}
	at := now
	c.ConsumedAt = &at
	m.challenges[id] = c
	return nil
}

// UseOnce records key until expiresAt; ErrConsumed while it is recorded
// and not expired. An expired mark is replaced, as the backends' cleanup
// would have removed it.
func (m *Memory) UseOnce(_ context.Context, key string, expiresAt, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.useCalls++
	if exp, ok := m.used[key]; ok && exp.After(now) {
		return fmt.Errorf("single use %q: %w", key, store.ErrConsumed)
	}
	m.used[key] = expiresAt
	return nil
}

// UseOnceCalls returns how often UseOnce was called, successful or not:
// a malformed answer must not reach it.
func (m *Memory) UseOnceCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.useCalls
}

// UsedKeys returns the recorded single-use keys, sorted.
func (m *Memory) UsedKeys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.used))
	for k := range m.used {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare[string])
	return keys
}
