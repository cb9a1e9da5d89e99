package factortest

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// Issuer is the issuer name NewDeps hands to factors.
const Issuer = "Test Health IdP"

// Clock is a settable time for tests: factors take time as an argument,
// and tests move it instead of sleeping. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Start is a fixed instant tests may begin at: mid-way through a 30 s
// TOTP step, so a few seconds either way stay in the same step.
var Start = time.Date(2026, 3, 2, 9, 30, 15, 0, time.UTC)

// NewDeps returns the dependencies of a factor: a fresh Memory store, a
// Sealer and SecretHasher under random keys (so no test can depend on a
// key value), a recording Sender as Notify (d.Notify.(*Sender)), the real
// message catalogs, a phone policy with the Netherlands as default
// country and NL, PL, SE, HU allowed, and the default settings of the
// factors that send.
func NewDeps(t testing.TB) (factors.Deps, *Memory) {
	t.Helper()
	sealer, err := security.NewSealer(randomKey())
	if err != nil {
		t.Fatalf("factortest: NewSealer: %v", err)
	}
	bundle, err := i18n.New()
	if err != nil {
		t.Fatalf("factortest: i18n.New: %v", err)
	}
	phones, err := phone.NewPolicy("NL", []string{"NL", "PL", "SE", "HU"})
	if err != nil {
		t.Fatalf("factortest: phone.NewPolicy: %v", err)
	}
	m := NewMemory()
	return factors.Deps{
		Store:    m,
		Sealer:   sealer,
		Codes:    security.NewSecretHasher(randomKey()),
		Issuer:   Issuer,
		Notify:   &Sender{},
		Messages: bundle,
		Phones:   phones,
		Email:    factors.CodeSettings{Lifetime: 10 * time.Minute, ResendCooldown: 30 * time.Second, SendsPerHour: 5, Digits: 6},
		SMS:      factors.CodeSettings{Lifetime: 5 * time.Minute, ResendCooldown: 30 * time.Second, SendsPerHour: 5, Digits: 6},
		Voice:    factors.VoiceSettings{Digits: 2, CallsPer10Min: 3, CallTimeout: 90 * time.Second},
	}, m
}

func randomKey() []byte {
	k := make([]byte, security.KeySize)
	rand.Read(k)
	return k
}

// User returns a person to enrol; the id is unique per call.
func User(username string) *store.User {
	return &store.User{ID: "u-" + security.RandomToken(8), Username: username, CreatedAt: Start}
}

// Confirmed returns u's confirmed enrollments of factor, as the engine
// puts them into factors.Attempt.Enrollments.
func Confirmed(t testing.TB, st factors.Store, userID, factor string) []store.Enrollment {
	t.Helper()
	all, err := st.ListEnrollments(context.Background(), userID)
	if err != nil {
		t.Fatalf("factortest: ListEnrollments: %v", err)
	}
	var out []store.Enrollment
	for _, e := range all {
		if e.Factor == factor && e.Confirmed() {
			out = append(out, e)
		}
	}
	return out
}

// Attempt builds the attempt the engine would hand to f's Check for u at
// now, with u's confirmed enrollments of f.
func Attempt(t testing.TB, st factors.Store, f factors.Factor, u *store.User, now time.Time) factors.Attempt {
	t.Helper()
	return factors.Attempt{
		FlowID: "flow-" + u.ID,
		User:   u,
		Challenge: &store.Challenge{
			ID: "ch-" + security.RandomToken(8), FlowID: "flow-" + u.ID, UserID: u.ID, Factor: f.ID(),
			MaxAttempts: 5, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute),
		},
		Enrollments: Confirmed(t, st, u.ID, f.ID()),
		Lang:        "en",
		Now:         now,
	}
}

var (
	catalogOnce sync.Once
	catalogIDs  []string
	catalogErr  error
)

// AssertMessage fails t unless err is a *factors.Error of kind with a
// message id that the English catalog defines and, when field is not "",
// that names field.
func AssertMessage(t testing.TB, err error, kind factors.ErrorKind, field string) *factors.Error {
	t.Helper()
	var fe *factors.Error
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a *factors.Error", err)
	}
	if fe.Kind != kind {
		t.Fatalf("got kind %d (%s), want %d", fe.Kind, fe.MessageID, kind)
	}
	if field != "" && fe.Field != field {
		t.Errorf("error names field %q, want %q", fe.Field, field)
	}
	if !KnownMessage(t, fe.MessageID) {
		t.Errorf("message id %q is not in the English catalog", fe.MessageID)
	}
	return fe
}

// KnownMessage reports whether the English catalog defines id.
func KnownMessage(t testing.TB, id string) bool {
	t.Helper()
	catalogOnce.Do(func() {
		var b *i18n.Bundle
		if b, catalogErr = i18n.New(); catalogErr == nil {
			catalogIDs = b.IDs()
		}
	})
	if catalogErr != nil {
		t.Fatalf("factortest: i18n.New: %v", catalogErr)
	}
	_, found := slices.BinarySearch(catalogIDs, id)
	return found
}
