// Package recovery is the backup factor: ten single-use codes the person
// writes down when setting up their first other factor, for the day the
// phone is lost.
//
// Codes are 8 characters of Crockford's base32 (no I, L, O, U: nothing to
// misread), shown as XXXX-XXXX; 40 random bits each, so a guess is hopeless
// within the engine's attempt limits. Until the person confirms they stored
// them, the plaintext codes stay sealed in the pending enrollment, so the
// page survives a reload; on confirmation only keyed hashes remain. A new
// set replaces the old one. Using a code is a version-guarded update of the
// enrollment, so two requests racing with one code cannot both win.
package recovery

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// ID is the factor id, in enrollments, challenges, proofs and templates.
const ID = "recovery"

// Message ids of the errors Check and FinishEnroll return.
const (
	MsgCodeRequired  = "factor.error.code_required"
	MsgCodeFormat    = "recovery.error.code_format"
	MsgCodeWrong     = "recovery.error.code_wrong"
	MsgCodeUsed      = "recovery.error.code_used"
	MsgSavedRequired = "recovery.error.saved_required"
)

// Form fields the pages post.
const (
	FieldCode  = "code"
	FieldSaved = "saved"
)

const (
	// Count is how many codes a set has.
	Count = 10
	// codeLen symbols of 5 bits: 40 bits per code.
	codeLen = 8
	// alphabet is Crockford's base32.
	alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	// FewLeft is the number of remaining codes from which the notice
	// urges the person to generate a new set.
	FewLeft = 3
	// maxCodeInput bounds the form value we look at.
	maxCodeInput = 64
	// updateRetries bounds the reload-and-retry loop when other codes of
	// the same set are used at the same moment.
	updateRetries = 8
)

var (
	_ factors.Factor   = (*Factor)(nil)
	_ factors.Enroller = (*Factor)(nil)
)

// pendingCodes is the sealed Secret of a pending enrollment.
type pendingCodes struct {
	Codes []string `json:"codes"`
}

// codeSet is the Data of a confirmed enrollment.
type codeSet struct {
	Codes []code `json:"codes"`
}

type code struct {
	Hash string `json:"hash"` // Deps.Codes.Hash of the normalised code
	Used bool   `json:"used"`
}

func (s codeSet) remaining() int {
	n := 0
	for _, c := range s.Codes {
		if !c.Used {
			n++
		}
	}
	return n
}

// Factor is the recovery-code factor. It is safe for concurrent use.
type Factor struct {
	store  factors.Store
	sealer *security.Sealer
	codes  *security.SecretHasher
}

// New builds the factor.
func New(d factors.Deps) (factors.Factor, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("recovery: no store")
	case d.Sealer == nil:
		return nil, errors.New("recovery: no sealer for codes awaiting confirmation")
	case d.Codes == nil:
		return nil, errors.New("recovery: no code hasher")
	}
	return &Factor{store: d.Store, sealer: d.Sealer, codes: d.Codes}, nil
}

// ID returns "recovery".
func (f *Factor) ID() string { return ID }

// Properties: something you have (the paper), a backup factor.
func (f *Factor) Properties() factors.Properties {
	return factors.Properties{Kinds: []factors.Kind{factors.Possession}, AMR: []string{"otp", "recovery"}, Backup: true}
}

// Start sends nothing: the codes are on paper.
func (f *Factor) Start(ctx context.Context, a factors.Attempt) (factors.Prompt, error) {
	return f.Prompt(ctx, a)
}

// Prompt returns the code page.
func (f *Factor) Prompt(context.Context, factors.Attempt) (factors.Prompt, error) {
	return factors.Prompt{Template: "factor_recovery", Data: map[string]any{}}, nil
}

// Check accepts an unused code of the person's set and marks it used.
func (f *Factor) Check(ctx context.Context, a factors.Attempt, in factors.Input) (factors.Result, error) {
	c, ferr := normalize(in.Form.Get(FieldCode))
	if ferr != nil {
		return factors.Result{}, ferr
	}
	if a.User == nil {
		return factors.Result{}, errors.New("recovery: attempt without a user")
	}
	hash := f.codes.Hash(c)
	used := false
	checked := 0
	var lastErr error
	for _, e := range a.Enrollments {
		if e.Factor != ID || !e.Confirmed() || e.UserID != a.User.ID {
			continue
		}
		o, err := f.consume(ctx, e.ID, a.User.ID, hash, a.Now)
		if err != nil {
			lastErr = err
			continue
		}
		checked++
		if o.ok {
			return factors.Result{
				Proof:        factors.ProofOf(f, a.Now),
				EnrollmentID: e.ID,
				Notice: &factors.Prompt{Template: "notice_recovery", Data: map[string]any{
					"Remaining": o.left, "Total": o.total, "Few": o.left <= FewLeft, "None": o.left == 0,
				}},
			}, nil
		}
		used = used || o.used
	}
	// A server fault is reported only when no set could be checked: a
	// guess checked against a healthy set must be counted.
	if checked == 0 && lastErr != nil {
		return factors.Result{}, lastErr
	}
	if used {
		return factors.Result{}, &factors.Error{Kind: factors.Wrong, MessageID: MsgCodeUsed, Field: FieldCode}
	}
	return factors.Result{}, &factors.Error{Kind: factors.Wrong, MessageID: MsgCodeWrong, Field: FieldCode}
}

// outcome is what consume found in one set.
type outcome struct {
	ok          bool // the code was unused and is now used
	used        bool // the code matched one used before (or by the winner of a race)
	left, total int  // codes of the set still unused, and in all
}

// consume marks the code with hash used in enrollment id. It reads the
// current version first and looks again when another code of the set was
// used in between.
func (f *Factor) consume(ctx context.Context, id, userID, hash string, now time.Time) (outcome, error) {
	for range updateRetries {
		e, err := f.store.EnrollmentByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return outcome{}, nil // replaced by a new set meanwhile
		}
		if err != nil {
			return outcome{}, fmt.Errorf("recovery: loading enrollment %s: %w", id, err)
		}
		if e.Factor != ID || !e.Confirmed() || e.UserID != userID {
			return outcome{}, nil
		}
		var set codeSet
		if err := json.Unmarshal([]byte(e.Data), &set); err != nil {
			return outcome{}, fmt.Errorf("recovery: enrollment %s data: %w", id, err)
		}
		// Compare with every code, used or not, without stopping at the
		// first match: the time taken does not tell where a code sits.
		var o outcome
		hit := -1
		for i, c := range set.Codes {
			eq := security.ConstantTimeEqual(c.Hash, hash)
			if eq && c.Used {
				o.used = true
			}
			if eq && !c.Used && hit < 0 {
				hit = i
			}
		}
		if hit < 0 {
			return o, nil
		}
		set.Codes[hit].Used = true
		data, err := json.Marshal(set)
		if err != nil {
			return outcome{}, err
		}
		at := now
		e.Data, e.LastUsedAt = string(data), &at
		err = f.store.UpdateEnrollment(ctx, e)
		if errors.Is(err, store.ErrConflict) {
			continue // a code of this set was used in between: look again
		}
		if err != nil {
			return outcome{}, fmt.Errorf("recovery: using a code of enrollment %s: %w", id, err)
		}
		return outcome{ok: true, left: set.remaining(), total: len(set.Codes)}, nil
	}
	return outcome{}, fmt.Errorf("recovery: enrollment %s kept changing: %w", id, store.ErrConflict)
}

// normalize reads a code as people type it: any case, with or without the
// dash or spaces, and with the letters Crockford's base32 reads as digits
// (O as 0, I and L as 1).
func normalize(raw string) (string, *factors.Error) {
	if len(raw) > maxCodeInput {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeFormat, Field: FieldCode}
	}
	var b strings.Builder
	for _, r := range raw {
		if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) {
			continue // spaces and any dash a phone keyboard might put in
		}
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		switch r {
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		b.WriteRune(r)
	}
	c := b.String()
	if c == "" {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeRequired, Field: FieldCode}
	}
	if len(c) != codeLen || strings.ContainsFunc(c, func(r rune) bool { return !strings.ContainsRune(alphabet, r) }) {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeFormat, Field: FieldCode}
	}
	return c, nil
}

// newCode returns 8 random Crockford base32 symbols.
func newCode() string {
	var b [8]byte
	rand.Read(b[3:]) // 40 bits; never fails since Go 1.24
	v := binary.BigEndian.Uint64(b[:])
	var s [codeLen]byte
	for i := codeLen - 1; i >= 0; i-- {
		s[i] = alphabet[v&31]
		v >>= 5
	}
	return string(s[:])
}

// newSet returns Count distinct codes.
func newSet() []string {
	codes := make([]string, 0, Count)
	for len(codes) < Count {
		if c := newCode(); !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	return codes
}

// display writes a code the way it is shown and printed: XXXX-XXXX.
func display(c string) string { return c[:codeLen/2] + "-" + c[codeLen/2:] }
