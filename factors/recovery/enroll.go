package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// BeginEnroll creates a pending enrollment holding a new set of codes,
// sealed to the enrollment id chosen here. The person's current set stays
// valid until the new one is confirmed.
func (f *Factor) BeginEnroll(ctx context.Context, a factors.EnrollAttempt) (*store.Enrollment, error) {
	u, now := a.User, a.Now
	if u == nil || u.ID == "" {
		return nil, errors.New("recovery: enrolling without a user")
	}
	id := security.RandomToken(16)
	plain, err := json.Marshal(pendingCodes{Codes: newSet()})
	if err != nil {
		return nil, err
	}
	sealed, err := f.sealer.Seal(plain, []byte(id))
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("recovery: sealing the codes: %w", err)
	}
	e := &store.Enrollment{ID: id, UserID: u.ID, Factor: ID, Secret: sealed, CreatedAt: now}
	if err := f.store.CreateEnrollment(ctx, e); err != nil {
		return nil, fmt.Errorf("recovery: storing the enrollment: %w", err)
	}
	return e, nil
}

// pending checks that e is u's recovery enrollment awaiting confirmation;
// a confirmed one (a double submit) wraps store.ErrConflict.
func pending(u *store.User, e *store.Enrollment) error {
	switch {
	case u == nil || e == nil:
		return errors.New("recovery: no user or enrollment")
	case e.Factor != ID || e.UserID != u.ID:
		return fmt.Errorf("recovery: enrollment %s is not this person's recovery codes", e.ID)
	case e.Confirmed():
		return fmt.Errorf("recovery: enrollment %s is already confirmed: %w", e.ID, store.ErrConflict)
	}
	return nil
}

func (f *Factor) open(e *store.Enrollment) ([]string, error) {
	plain, err := f.sealer.Open(e.Secret, []byte(e.ID))
	if err != nil {
		return nil, fmt.Errorf("recovery: enrollment %s: %w", e.ID, err)
	}
	var p pendingCodes
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, fmt.Errorf("recovery: enrollment %s: %w", e.ID, err)
	}
	if len(p.Codes) == 0 {
		return nil, fmt.Errorf("recovery: enrollment %s holds no codes", e.ID)
	}
	return p.Codes, nil
}

// EnrollPrompt shows the codes of the pending enrollment, again on reload.
func (f *Factor) EnrollPrompt(_ context.Context, a factors.EnrollAttempt) (factors.Prompt, error) {
	u, e := a.User, a.Enrollment
	if err := pending(u, e); err != nil {
		return factors.Prompt{}, err
	}
	codes, err := f.open(e)
	if err != nil {
		return factors.Prompt{}, err
	}
	shown := make([]string, len(codes))
	for i, c := range codes {
		shown[i] = display(c)
	}
	return factors.Prompt{Template: "enroll_recovery", Data: map[string]any{"Codes": shown, "Total": len(shown)}}, nil
}

// FinishEnroll confirms the set once the person ticked "I have stored
// these codes": the plaintext is dropped, keyed hashes remain, and every
// other set of the person is deleted. Writing codes down proves nothing, so
// the proof is zero.
func (f *Factor) FinishEnroll(ctx context.Context, a factors.EnrollAttempt, in factors.Input) (store.Proof, error) {
	u, e, now := a.User, a.Enrollment, a.Now
	if err := pending(u, e); err != nil {
		return store.Proof{}, err
	}
	if in.Form.Get(FieldSaved) != "on" {
		return store.Proof{}, &factors.Error{Kind: factors.Malformed, MessageID: MsgSavedRequired, Field: FieldSaved}
	}
	codes, err := f.open(e)
	if err != nil {
		return store.Proof{}, err
	}
	set := codeSet{Codes: make([]code, len(codes))}
	for i, c := range codes {
		set.Codes[i] = code{Hash: f.codes.Hash(c)}
	}
	data, err := json.Marshal(set)
	if err != nil {
		return store.Proof{}, err
	}
	c := *e // a failed update leaves the caller's e as stored
	at := now
	c.Secret, c.Data, c.ConfirmedAt = nil, string(data), &at
	if err := f.store.UpdateEnrollment(ctx, &c); err != nil {
		return store.Proof{}, fmt.Errorf("recovery: confirming enrollment %s: %w", e.ID, err)
	}
	*e = c
	if _, err := f.store.DeleteEnrollments(ctx, u.ID, ID, e.ID); err != nil {
		return store.Proof{}, fmt.Errorf("recovery: removing the previous codes: %w", err)
	}
	return store.Proof{}, nil
}
