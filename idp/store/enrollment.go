package store

import (
	"context"
	"time"
)

// Enrollment is one factor a person has set up: a TOTP app, a set of
// recovery codes, later a phone number or a passkey. Every factor shares
// this table, so a new factor rarely needs a migration: what only the
// factor understands lives in Secret (sealed by the factor, bound to the
// enrollment id) and Data (plain JSON).
type Enrollment struct {
	ID     string
	UserID string
	Factor string // factor id: "totp", "recovery", ...
	Name   string // what the person called it ("Work phone")
	// Secret is opaque to the store: the factor seals it (AES-GCM, AAD =
	// enrollment id) before saving, so a database leak reveals no seed.
	Secret []byte
	// Data is non-secret factor state as JSON ("" when none).
	Data string
	// ConfirmedAt is nil while the enrollment is pending (QR shown, code not
	// yet entered). Pending enrollments never authenticate.
	ConfirmedAt *time.Time
	LastUsedAt  *time.Time
	// Version counts updates; UpdateEnrollment succeeds only when it still
	// matches, which makes read-modify-write (consume a recovery code, bump
	// a sign counter) safe under concurrency.
	Version   int
	CreatedAt time.Time
}

// PendingEnrollmentLifetime is how long an unconfirmed enrollment is kept
// before DeleteExpired removes it.
const PendingEnrollmentLifetime = 24 * time.Hour

// Confirmed reports whether the enrollment may be used to authenticate.
func (e *Enrollment) Confirmed() bool { return e.ConfirmedAt != nil }

// Enrollments is the repository of the factors people have set up.
type Enrollments interface {
	// CreateEnrollment inserts e with Version 1 (set on e).
	CreateEnrollment(ctx context.Context, e *Enrollment) error
	// EnrollmentByID returns the enrollment; ErrNotFound when unknown.
	EnrollmentByID(ctx context.Context, id string) (*Enrollment, error)
	// ListEnrollments returns the person's enrollments (pending ones too),
	// oldest first.
	ListEnrollments(ctx context.Context, userID string) ([]Enrollment, error)
	// UpdateEnrollment writes Name, Secret, Data, ConfirmedAt and LastUsedAt
	// of e if its stored Version still equals e.Version, then increments
	// e.Version. ErrConflict when another update came first (reload and
	// retry), ErrNotFound when the row is gone.
	UpdateEnrollment(ctx context.Context, e *Enrollment) error
	// DeleteEnrollment removes one enrollment; ErrNotFound when unknown.
	DeleteEnrollment(ctx context.Context, id string) error
	// DeleteEnrollments removes the person's enrollments of factor except
	// keepID ("" keeps none) and returns how many went. Used when a new set
	// of recovery codes replaces the old one.
	DeleteEnrollments(ctx context.Context, userID, factor, keepID string) (int64, error)
}
