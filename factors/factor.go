// Package factors defines what an authentication factor is to the login
// engine, and the registry that holds the configured ones. The engine
// (idp/web + idp/flow) knows no factor by name: it reads Properties to
// decide which factors could raise the session's level, calls Start and
// Check to run a challenge, and Enroller to set one up. Each factor lives in
// its own folder (factors/totp, factors/recovery, ...) and is registered by
// one line in factors/builtin.
package factors

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// Kind is an authentication factor category (NIST SP 800-63B). Two proofs
// are independent factors when their kinds differ.
type Kind string

// The factor kinds.
const (
	Knowledge  Kind = "knowledge"  // something you know: password, PIN
	Possession Kind = "possession" // something you have: phone, TOTP app, recovery codes
	Inherence  Kind = "inherence"  // something you are: biometrics (user verification)
)

// Properties describe a factor to the engine and to assurance evaluation.
type Properties struct {
	// Kinds the factor proves at once (a passkey with user verification
	// proves possession and inherence).
	Kinds []Kind
	// AMR are the RFC 8176 values a proof carries (plus at most one
	// non-standard value next to them, e.g. "email").
	AMR []string
	// PhishingResistant: bound to the origin (WebAuthn); counts for high.
	PhishingResistant bool
	// Channel names the delivery channel the factor needs ("email", "sms",
	// "voice"); "" for none.
	Channel string
	// Backup factors (recovery codes) are offered in the chooser last, are
	// never offered alone at enrolment, and are set up right after the
	// person's first other factor.
	Backup bool
	// Restricted is NIST's "restricted authenticator" (SMS, voice): allowed,
	// with a warning at enrolment and a non-phone alternative offered.
	Restricted bool
}

// Prompt is a page a factor asks the engine to show: a template under
// templates/ (named after the factor, e.g. "factor_totp", "enroll_totp")
// and the data it needs. The engine adds the flow id, CSRF token,
// localizer, errors and the "use another method" link.
type Prompt struct {
	Template string
	Data     map[string]any
}

// Input is what the person submitted on the factor's page.
type Input struct {
	Form url.Values
}

// Attempt is one run of a factor within a login flow.
type Attempt struct {
	FlowID string
	User   *store.User
	// Challenge is the engine's row for this attempt: created (and stored)
	// before Start, live (not consumed, not expired, attempts left) at
	// Check. The engine counts wrong answers and consumes it on success.
	Challenge *store.Challenge
	// Enrollments are the person's confirmed enrollments of this factor.
	Enrollments []store.Enrollment
	// Lang is the BCP 47 tag of the page, for anything the factor sends.
	Lang string
	Now  time.Time
}

// Result is what a successful Check proved.
type Result struct {
	Proof store.Proof
	// EnrollmentID is the enrollment that answered ("" when none).
	EnrollmentID string
	// Notice, when set, is shown once before the login continues (for
	// example "you have 3 recovery codes left").
	Notice *Prompt
}

// Factor is one way to prove who you are after the credentials.
type Factor interface {
	ID() string
	Properties() Properties
	// Start prepares the challenge a.Challenge (sends a code, places a call,
	// or nothing for TOTP) and returns the page to show. It is called once
	// per challenge; reloading the page calls Prompt instead.
	Start(ctx context.Context, a Attempt) (Prompt, error)
	// Prompt returns the page of a challenge already started.
	Prompt(ctx context.Context, a Attempt) (Prompt, error)
	// Check verifies the answer. A wrong answer returns an *Error of kind
	// Wrong (the engine counts it), a malformed one an *Error of kind
	// Malformed (not counted, nothing changes). A code is accepted once,
	// even when two requests race.
	Check(ctx context.Context, a Attempt, in Input) (Result, error)
}

// Enroller is a factor a person can set up during login or later.
type Enroller interface {
	Factor
	// BeginEnroll creates a pending enrollment for u (a new TOTP seed, a
	// fresh set of recovery codes) and stores it.
	BeginEnroll(ctx context.Context, u *store.User, now time.Time) (*store.Enrollment, error)
	// EnrollPrompt returns the page of the pending enrollment e (QR code,
	// codes to write down); it may be called again on reload.
	EnrollPrompt(ctx context.Context, u *store.User, e *store.Enrollment) (Prompt, error)
	// FinishEnroll checks in (an activation code, a device name), confirms
	// e, and returns the proof it makes: entering a TOTP code proves the
	// factor; a zero Proof (Factor "") when it proves nothing. Errors as in
	// Check.
	FinishEnroll(ctx context.Context, u *store.User, e *store.Enrollment, in Input, now time.Time) (store.Proof, error)
}

// ErrorKind classifies a factor's answer error.
type ErrorKind int

const (
	// Malformed input (letters in a code, too long): not counted as an attempt.
	Malformed ErrorKind = iota + 1
	// Wrong answer (or a code already used): counted against the challenge
	// and the account.
	Wrong
)

// Error is an answer the factor refused, with the message to show next to
// the field.
type Error struct {
	Kind      ErrorKind
	MessageID string // i18n id, e.g. "factor.error.code_format"
	Field     string // form field the message belongs to
}

func (e *Error) Error() string { return fmt.Sprintf("factor: %s (%s)", e.MessageID, e.Field) }

// IsWrong reports whether err is a wrong answer the engine must count.
func IsWrong(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Kind == Wrong
}

// IsMalformed reports whether err is malformed input.
func IsMalformed(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Kind == Malformed
}

// Store is the part of the database factors may use.
type Store interface {
	store.Enrollments
	store.Challenges
	store.SingleUse
}

// Deps are handed to every factor constructor.
type Deps struct {
	Store Store
	// Sealer encrypts enrollment secrets; the AAD is the enrollment id.
	Sealer *security.Sealer
	// Codes hashes codes and recovery codes (keyed SHA-256).
	Codes *security.SecretHasher
	// Issuer is the name authenticator apps show for the account.
	Issuer string
}

// Constructor builds a factor from its dependencies.
type Constructor func(Deps) (Factor, error)

// Registration names a factor's constructor.
type Registration struct {
	ID  string
	New Constructor
}

// Registry holds the configured factors in registration order.
type Registry struct {
	order []Factor
	byID  map[string]Factor
}

// NewRegistry builds every registered factor.
func NewRegistry(d Deps, regs []Registration) (*Registry, error) {
	r := &Registry{byID: map[string]Factor{}}
	for _, reg := range regs {
		f, err := reg.New(d)
		if err != nil {
			return nil, fmt.Errorf("factors: %s: %w", reg.ID, err)
		}
		if f.ID() != reg.ID {
			return nil, fmt.Errorf("factors: %s registered as %q", f.ID(), reg.ID)
		}
		if _, dup := r.byID[reg.ID]; dup {
			return nil, fmt.Errorf("factors: %s registered twice", reg.ID)
		}
		r.order = append(r.order, f)
		r.byID[reg.ID] = f
	}
	return r, nil
}

// Get returns the factor with id.
func (r *Registry) Get(id string) (Factor, bool) {
	f, ok := r.byID[id]
	return f, ok
}

// All returns the factors in registration order.
func (r *Registry) All() []Factor { return r.order }

// IDs returns the factor ids in registration order.
func (r *Registry) IDs() []string {
	ids := make([]string, len(r.order))
	for i, f := range r.order {
		ids[i] = f.ID()
	}
	return ids
}

// ProofOf builds the proof a factor reports, stamped at now.
func ProofOf(f Factor, now time.Time) store.Proof {
	p := f.Properties()
	kinds := make([]string, len(p.Kinds))
	for i, k := range p.Kinds {
		kinds[i] = string(k)
	}
	return store.Proof{Factor: f.ID(), AMR: append([]string(nil), p.AMR...), Kinds: kinds, PhishingResistant: p.PhishingResistant, At: now}
}
