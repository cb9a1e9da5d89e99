// Package totp is the authenticator-app factor: RFC 6238 time-based
// one-time passwords (SHA-1, 6 digits, 30 s), the codes Google
// Authenticator, Microsoft Authenticator and every other app show.
//
// The seed is generated here, sealed with the enrollment id as associated
// data (a seed copied into another row does not open) and never leaves the
// server again after the setup page. A code is accepted in the step before,
// the step of, and the step after the server's time, so a phone whose clock
// is a little off still works; each code is accepted once per person and
// step, even when two requests race, through store.SingleUse.
package totp

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// ID is the factor id, in enrollments, challenges, proofs and templates.
const ID = "totp"

// Message ids of the errors Check and FinishEnroll return.
const (
	MsgCodeRequired = "factor.error.code_required"
	MsgCodeFormat   = "factor.error.code_format"
	MsgCodeWrong    = "totp.error.code_wrong"
	MsgCodeUsed     = "totp.error.code_used"
	MsgNameTooLong  = "totp.error.name_too_long"
	MsgNameInvalid  = "totp.error.name_invalid"
)

// Form fields the pages post.
const (
	FieldCode = "code"
	FieldName = "name"
)

const (
	// skew is how many steps either side of now a code is accepted in:
	// one step (30 s) covers phones whose clocks drift and people who
	// type the code just as it changes, without widening the window an
	// observed code stays useful in.
	skew = 1
	// maxCodeInput bounds the form value we look at, so a megabyte of
	// spaces costs nothing.
	maxCodeInput = 64
	// touchRetries bounds how often recording the last use is retried
	// after a concurrent update of the same enrollment.
	touchRetries = 3
)

// params are the RFC 6238 parameters of one enrollment, kept in its Data so
// that a later change of defaults can tell old enrollments from new ones.
type params struct {
	Algorithm string `json:"algorithm"`
	Digits    int    `json:"digits"`
	Period    uint   `json:"period"`
}

// defaults are what BeginEnroll creates: what every authenticator app
// supports (several ignore anything else).
var defaults = params{Algorithm: "SHA1", Digits: 6, Period: 30}

var algorithms = map[string]otp.Algorithm{
	"SHA1":   otp.AlgorithmSHA1,
	"SHA256": otp.AlgorithmSHA256,
	"SHA512": otp.AlgorithmSHA512,
}

func parseParams(data string) (params, error) {
	if data == "" {
		return defaults, nil
	}
	var p params
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		return p, fmt.Errorf("totp: enrollment data: %w", err)
	}
	// Codes are read as exactly 6 digits (parseCode), so other lengths
	// could never match: refuse them loudly instead.
	if _, ok := algorithms[p.Algorithm]; !ok || p.Digits != 6 || p.Period < 15 || p.Period > 120 {
		return p, fmt.Errorf("totp: unsupported parameters %s/%d/%d", p.Algorithm, p.Digits, p.Period)
	}
	return p, nil
}

func (p params) opts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: p.Period, Digits: otp.DigitsSix, Algorithm: algorithms[p.Algorithm]}
}

func (p params) step() time.Duration { return time.Duration(p.Period) * time.Second }

// counter is the RFC 6238 time step of t, as totp.GenerateCodeCustom
// computes it.
func (p params) counter(t time.Time) int64 { return t.Unix() / int64(p.Period) }

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

var (
	_ factors.Factor   = (*Factor)(nil)
	_ factors.Enroller = (*Factor)(nil)
)

// Factor is the TOTP factor. It is safe for concurrent use.
type Factor struct {
	store  factors.Store
	sealer *security.Sealer
	issuer string
}

// New builds the factor. Deps.Issuer is required: it is the name the
// authenticator app lists the account under.
func New(d factors.Deps) (factors.Factor, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("totp: no store")
	case d.Sealer == nil:
		return nil, errors.New("totp: no sealer: seeds are never stored in the clear")
	case strings.TrimSpace(d.Issuer) == "":
		return nil, errors.New("totp: no issuer name for authenticator apps")
	}
	return &Factor{store: d.Store, sealer: d.Sealer, issuer: strings.TrimSpace(d.Issuer)}, nil
}

// ID returns "totp".
func (f *Factor) ID() string { return ID }

// Properties: something you have, amr "otp".
func (f *Factor) Properties() factors.Properties {
	return factors.Properties{Kinds: []factors.Kind{factors.Possession}, AMR: []string{"otp"}}
}

// Start sends nothing: the app already shows the code.
func (f *Factor) Start(ctx context.Context, a factors.Attempt) (factors.Prompt, error) {
	return f.Prompt(ctx, a)
}

// Prompt returns the code page.
func (f *Factor) Prompt(context.Context, factors.Attempt) (factors.Prompt, error) {
	return factors.Prompt{Template: "factor_totp", Data: map[string]any{"Issuer": f.issuer}}, nil
}

// Check accepts a code of any of the person's confirmed TOTP enrollments,
// once per person and time step.
func (f *Factor) Check(ctx context.Context, a factors.Attempt, in factors.Input) (factors.Result, error) {
	code, ferr := parseCode(in.Form.Get(FieldCode))
	if ferr != nil {
		return factors.Result{}, ferr
	}
	if a.User == nil {
		return factors.Result{}, errors.New("totp: attempt without a user")
	}
	// Every enrollment and step is tried, with no early exit, so the time
	// taken does not tell which device or step matched.
	var (
		hit     *store.Enrollment
		hitM    match
		checked int
		openErr error
	)
	for i := range a.Enrollments {
		e := &a.Enrollments[i]
		if e.Factor != ID || !e.Confirmed() || e.UserID != a.User.ID {
			continue // pending enrollments never authenticate
		}
		m, ok, err := f.verify(e, code, a.Now)
		if err != nil {
			openErr = err
			continue // a damaged row must not lock out the person's other devices
		}
		checked++
		if ok && hit == nil {
			hit, hitM = e, m
		}
	}
	if hit == nil {
		// A server fault is reported only when no device could be checked:
		// otherwise the guess was really checked against one, and must be
		// counted, or a damaged row would allow unlimited guesses.
		if checked == 0 && openErr != nil {
			return factors.Result{}, openErr
		}
		return factors.Result{}, &factors.Error{Kind: factors.Wrong, MessageID: MsgCodeWrong, Field: FieldCode}
	}
	if err := f.useOnce(ctx, a.User.ID, hitM, a.Now); err != nil {
		return factors.Result{}, err
	}
	f.touch(ctx, *hit, a.Now)
	return factors.Result{Proof: factors.ProofOf(f, a.Now), EnrollmentID: hit.ID}, nil
}

// parseCode accepts exactly six ASCII digits, ignoring spaces ("123 456" is
// how most apps show a code).
func parseCode(raw string) (string, *factors.Error) {
	if len(raw) > maxCodeInput {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeFormat, Field: FieldCode}
	}
	code := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, raw)
	if code == "" {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeRequired, Field: FieldCode}
	}
	if len(code) != 6 || strings.ContainsFunc(code, func(r rune) bool { return r < '0' || r > '9' }) {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeFormat, Field: FieldCode}
	}
	return code, nil
}

// match is the time step a code belongs to.
type match struct {
	step int64
	p    params
}

// verify compares code with e's codes of the steps around now, and returns
// the step that matched.
func (f *Factor) verify(e *store.Enrollment, code string, now time.Time) (m match, ok bool, err error) {
	p, err := parseParams(e.Data)
	if err != nil {
		return m, false, fmt.Errorf("totp: enrollment %s: %w", e.ID, err)
	}
	seed, err := f.sealer.Open(e.Secret, []byte(e.ID))
	if err != nil {
		return m, false, fmt.Errorf("totp: enrollment %s: %w", e.ID, err)
	}
	secret := b32.EncodeToString(seed)
	for k := -skew; k <= skew; k++ {
		t := now.Add(time.Duration(k) * p.step())
		want, err := totp.GenerateCodeCustom(secret, t, p.opts())
		if err != nil {
			return m, false, fmt.Errorf("totp: enrollment %s: %w", e.ID, err)
		}
		if security.ConstantTimeEqual(want, code) && !ok {
			m, ok = match{step: p.counter(t), p: p}, true
		}
	}
	return m, ok, nil
}

// useOnce marks the person's code of step m used. The mark lives as long as
// the step can still be accepted (until the end of step+skew, at most
// 2*skew+1 steps from now), so a replay always finds it.
func (f *Factor) useOnce(ctx context.Context, userID string, m match, now time.Time) error {
	key := "totp:" + userID + ":" + strconv.FormatInt(m.step, 10)
	err := f.store.UseOnce(ctx, key, now.Add(time.Duration(2*skew+1)*m.p.step()), now)
	if errors.Is(err, store.ErrConsumed) {
		return &factors.Error{Kind: factors.Wrong, MessageID: MsgCodeUsed, Field: FieldCode}
	}
	if err != nil {
		return fmt.Errorf("totp: recording the code as used: %w", err)
	}
	return nil
}

// touch records when e was last used, for the person's device list. It is
// bookkeeping: the code has been accepted and consumed, so a failure here
// is logged and the login goes on.
func (f *Factor) touch(ctx context.Context, e store.Enrollment, now time.Time) {
	var err error
	for range touchRetries {
		if e.LastUsedAt != nil && !e.LastUsedAt.Before(now) {
			return
		}
		at := now
		e.LastUsedAt = &at
		if err = f.store.UpdateEnrollment(ctx, &e); !errors.Is(err, store.ErrConflict) {
			break
		}
		var cur *store.Enrollment
		if cur, err = f.store.EnrollmentByID(ctx, e.ID); err != nil {
			break
		}
		e = *cur
	}
	if err != nil {
		slog.WarnContext(ctx, "totp: could not record the last use", "enrollment", e.ID, "err", err)
	}
}
