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

	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/phone"
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
	// IP is the client address of the person, for send limits.
	IP  string
	Now time.Time
}

// EnrollAttempt is one set-up of a factor within a login flow.
type EnrollAttempt struct {
	FlowID string
	User   *store.User
	// Enrollment is the pending enrollment being set up: nil in
	// BeginEnroll, the stored row (as BeginEnroll or the last
	// FinishEnroll step left it) afterwards.
	Enrollment *store.Enrollment
	Lang       string // BCP 47 tag of the page
	IP         string // client address, for send limits
	Now        time.Time
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
	// BeginEnroll creates a pending enrollment for a.User (a new TOTP
	// seed, a fresh set of recovery codes, an empty address) and stores it.
	BeginEnroll(ctx context.Context, a EnrollAttempt) (*store.Enrollment, error)
	// EnrollPrompt returns the page of the pending enrollment a.Enrollment
	// (QR code, codes to write down, the address form or the code sent to
	// it); it may be called again on reload.
	EnrollPrompt(ctx context.Context, a EnrollAttempt) (Prompt, error)
	// FinishEnroll checks in (an activation code, a device name), confirms
	// the enrollment, and returns the proof it makes: entering a TOTP code
	// proves the factor; a zero Proof (Factor "") when it proves nothing.
	// A set-up of several steps (enter an address, then the code sent to
	// it) stores the step's outcome in the enrollment and returns
	// ErrEnrollContinues. Errors as in Check.
	FinishEnroll(ctx context.Context, a EnrollAttempt, in Input) (store.Proof, error)
}

// Describer is a factor whose enrollments the person tells apart by a
// label on the account page: a masked number or address, never a secret.
type Describer interface {
	Factor
	// Describe returns the label of the confirmed enrollment e ("" when it
	// has none).
	Describe(e store.Enrollment) string
}

// ErrEnrollContinues is returned by FinishEnroll for a step that was
// accepted but does not finish the set-up (a code was sent to the address
// just entered): the engine shows EnrollPrompt again.
var ErrEnrollContinues = errors.New("factors: enrolment continues")

// Resender is a factor whose challenge can be sent again: a new code, a
// new call, or the same to another of the person's numbers.
type Resender interface {
	Factor
	// Resend sends a new code for a.Challenge (the old one stops working)
	// to the enrollment named by the form field "to", or to the one
	// challenged so far when it is empty. It refuses with a Malformed
	// *Error (never counted) while the cooldown runs, past the hourly cap,
	// or for a destination that is not the person's; a *notify.LimitError
	// becomes such an *Error too.
	Resend(ctx context.Context, a Attempt, in Input) error
}

// Status is how far a challenge answered elsewhere (a keypad, later a
// push on another device) has come.
type Status string

// The statuses a Poller reports.
const (
	// Pending: nothing answered yet; ask again.
	Pending Status = "pending"
	// Answered: the answer is in; posting the factor form finishes.
	Answered Status = "answered"
	// Failed: the last answer was wrong, or the call ended unanswered;
	// the page shows why and offers another try.
	Failed Status = "failed"
)

// Poller is a factor whose answer does not come through its page. The page
// asks GET /login/factor/status until the status is Answered, then posts
// its form, and Check turns the recorded answer into the proof. Without
// JavaScript the person presses "I entered it", which posts the same form.
type Poller interface {
	Factor
	// Status reports on the challenge a.Challenge.
	Status(ctx context.Context, a Attempt) (Status, error)
	// EnrollStatus reports on the set-up a.Enrollment (a number being
	// verified by a call): the page posts its form when Answered.
	EnrollStatus(ctx context.Context, a EnrollAttempt) (Status, error)
}

// Keypad is a factor answered on a telephone keypad during a call it
// placed. The voice transport's callback (or the dev outbox keypad) hands
// it the digits with the call's reference, which starts with the factor id
// and a dot ("voice.<...>"), so the engine can route it.
type Keypad interface {
	Factor
	// Keypress records digits typed during the call ref, once per call.
	// A wrong entry is counted against the challenge by the factor itself
	// (FailChallenge), or against the set-up in its enrollment.
	// It returns the sentence to say before hanging up, in the language
	// the call was placed in, and whose entry was wrong; an unknown or
	// finished call is store.ErrNotFound (the caller hears a generic
	// goodbye).
	Keypress(ctx context.Context, ref, digits string, now time.Time) (Keyed, error)
}

// CallEnder is a Keypad factor told when a call ends (the provider's
// status callback: busy, not answered, hung up, failed), so a page
// waiting for the keypad learns at once that no entry will come instead
// of at the timeout.
type CallEnder interface {
	Keypad
	// CallEnded records that call ref is over. A call that had its
	// entry, or is no longer the latest, is left alone; an unknown or
	// finished one is store.ErrNotFound.
	CallEnded(ctx context.Context, ref string, now time.Time) error
}

// Keyed is what one keypress did.
type Keyed struct {
	Reply notify.Reply
	// WrongFor is the user whose entry was wrong ("" when it was right):
	// the engine counts it against their budget of wrong answers, as it
	// does for a wrong code typed on a page.
	WrongFor string
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
	// Notify sends codes and places calls. Nil when no delivery is
	// configured: factors that need it refuse to start.
	Notify notify.Sender
	// Messages localizes what factors send (mail, SMS, spoken text).
	Messages *i18n.Bundle
	// Phones parses numbers with the default and allowed countries.
	Phones *phone.Policy
	// Email, SMS and Voice are the settings of the factors that send.
	Email CodeSettings
	SMS   CodeSettings
	Voice VoiceSettings
}

// CodeSettings configure a factor that sends a code.
type CodeSettings struct {
	// Lifetime of a code from when it was sent (email 10 min, SMS 5 min).
	Lifetime time.Duration
	// ResendCooldown is how long the person waits before "send again".
	ResendCooldown time.Duration
	// SendsPerHour caps the codes sent for one challenge or set-up.
	SendsPerHour int
	// Digits is the length of the code (6).
	Digits int
}

// VoiceSettings configure the voice-call factor.
type VoiceSettings struct {
	// Digits shown on screen and typed on the keypad (default 2, at
	// least 1).
	Digits int
	// CallsPer10Min caps the calls placed for one challenge or set-up.
	CallsPer10Min int
	// CallTimeout is how long the page waits for the keypad entry before
	// it offers to call again.
	CallTimeout time.Duration
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

// Only returns a registry of the factors keep accepts, in the same order:
// the server drops factors whose delivery channel has no transport.
func (r *Registry) Only(keep func(Factor) bool) *Registry {
	out := &Registry{byID: map[string]Factor{}}
	for _, f := range r.order {
		if keep(f) {
			out.order = append(out.order, f)
			out.byID[f.ID()] = f
		}
	}
	return out
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
