package oob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// SetupCompose builds the message that carries a set-up code to the
// destination in d. The kit fills Ref, UserID and IP, and Lang when
// SetupCompose left it empty.
type SetupCompose func(code string, d EnrollData) (notify.Message, error)

// Begin creates the pending enrollment of factor with no address or
// number yet: the set-up page asks for one.
func Begin(ctx context.Context, st factors.Store, factor string, a factors.EnrollAttempt) (*store.Enrollment, error) {
	if a.User == nil || a.User.ID == "" {
		return nil, fmt.Errorf("%s: enrolling without a user", factor)
	}
	e := &store.Enrollment{ID: security.RandomToken(16), UserID: a.User.ID, Factor: factor, CreatedAt: a.Now}
	if err := st.CreateEnrollment(ctx, e); err != nil {
		return nil, fmt.Errorf("%s: storing the enrollment: %w", factor, err)
	}
	return e, nil
}

// Pending checks that e is u's enrollment of factor, still waiting to be
// confirmed. A confirmed one means a double submit: the error wraps
// store.ErrConflict.
func Pending(factor string, a factors.EnrollAttempt) error {
	u, e := a.User, a.Enrollment
	switch {
	case u == nil || e == nil:
		return fmt.Errorf("%s: no user or enrollment", factor)
	case e.Factor != factor || e.UserID != u.ID:
		return fmt.Errorf("%s: enrollment %s is not this person's %s enrollment", factor, e.ID, factor)
	case e.Confirmed():
		return fmt.Errorf("%s: enrollment %s is already confirmed: %w", factor, e.ID, store.ErrConflict)
	}
	return nil
}

// update runs change on the current row of a.Enrollment and writes it,
// version-guarded: on a race the row is re-read and change runs again on
// what the other request left. change returns the error to end with (a
// *factors.Error is returned after the row is written when write is true).
// a.Enrollment is set to the row as stored.
func (k *Kit) update(ctx context.Context, a factors.EnrollAttempt, change func(e *store.Enrollment, d *EnrollData) (write bool, err error)) error {
	e := *a.Enrollment
	for try := 0; ; try++ {
		if err := Pending(k.Factor, factors.EnrollAttempt{User: a.User, Enrollment: &e}); err != nil {
			return err
		}
		d, err := ParseEnrollData(e.Data)
		if err != nil {
			return err
		}
		write, cerr := change(&e, &d)
		var fe *factors.Error
		if cerr != nil && !errors.As(cerr, &fe) {
			return cerr
		}
		if !write {
			return cerr
		}
		if e.Data, err = marshal(d); err != nil {
			return err
		}
		err = k.Store.UpdateEnrollment(ctx, &e)
		if errors.Is(err, store.ErrConflict) && try < casRetries {
			cur, rerr := k.Store.EnrollmentByID(ctx, e.ID)
			if rerr != nil {
				return fmt.Errorf("%s: reloading enrollment %s: %w", k.Factor, e.ID, rerr)
			}
			e = *cur
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: updating enrollment %s: %w", k.Factor, e.ID, err)
		}
		*a.Enrollment = e
		return cerr
	}
}

// SetupSend sends a new set-up code. edit, when not nil, sets the
// destination first (the address or number just entered, already
// checked); without it the code goes to the stored destination again
// ("send again"). Refusals (cooldown, cap) and delivery failures are
// Malformed *factors.Error on field, the field of the address or number.
// On success it returns factors.ErrEnrollContinues: the page now asks for
// the code.
func (k *Kit) SetupSend(ctx context.Context, a factors.EnrollAttempt, field string, edit func(d *EnrollData), compose SetupCompose) error {
	var (
		code string
		n    int
		sent EnrollData
	)
	err := k.update(ctx, a, func(e *store.Enrollment, d *EnrollData) (bool, error) {
		if edit != nil {
			edit(d)
		}
		if d.Email == "" && d.Phone == "" {
			return false, fmt.Errorf("%s: send for enrollment %s without a destination", k.Factor, e.ID)
		}
		if d.Setup == nil {
			d.Setup = &Setup{}
		}
		if ferr := d.Setup.allow(a.Now, k.Settings, field); ferr != nil {
			return false, ferr
		}
		code = NewCode()
		n = d.Setup.begin(a.Now)
		d.Setup.CodeHash = hashCode(k.Codes, scopeSetup, e.ID, code)
		d.Setup.Attempts = 0
		sent = *d
		return true, nil
	})
	if err != nil {
		return err
	}
	m, err := compose(code, sent)
	if err != nil {
		return err
	}
	m.Ref = k.Factor + ".e." + a.Enrollment.ID + "." + strconv.Itoa(n)
	m.UserID, m.IP = a.User.ID, a.IP
	if m.Lang == "" {
		m.Lang = a.Lang
	}
	sendErr := k.deliver(ctx, m)
	if sendErr == nil {
		return factors.ErrEnrollContinues
	}
	slog.WarnContext(ctx, "oob: sending a set-up code failed", "factor", k.Factor, "enrollment", a.Enrollment.ID,
		"reason", notify.MessageID(sendErr))
	err = k.update(ctx, a, func(_ *store.Enrollment, d *EnrollData) (bool, error) {
		if d.Setup == nil || d.Setup.N != n {
			return false, nil // a newer send stands
		}
		d.Setup.fail(sendErr)
		return true, nil
	})
	if err != nil {
		return err
	}
	return &factors.Error{Kind: factors.Malformed, MessageID: notify.MessageID(sendErr), Field: field}
}

// SetupChange drops the code waiting for its answer, so the page asks for
// the address or number again (pre-filled with the old one). The sends
// stay counted: changing the address does not reset the cooldown or the
// hourly cap. It returns factors.ErrEnrollContinues.
func (k *Kit) SetupChange(ctx context.Context, a factors.EnrollAttempt) error {
	err := k.update(ctx, a, func(_ *store.Enrollment, d *EnrollData) (bool, error) {
		if d.Setup == nil {
			return false, nil
		}
		d.Setup.CodeHash, d.Setup.Attempts, d.Setup.Failed = "", 0, ""
		return true, nil
	})
	if err != nil {
		return err
	}
	return factors.ErrEnrollContinues
}

// SetupConfirm checks the code typed at set-up: malformed input, no code
// waiting, a code past its lifetime or one that had MaxSetupAttempts wrong
// answers already are Malformed (nothing compared); a mismatch is Wrong and
// counted in the enrollment. A match confirms the enrollment at a.Now
// after confirm has set its Name (and Primary): confirm may refuse with a
// *factors.Error (an address confirmed elsewhere meanwhile) or fail. The set-up
// state is dropped with the code, so the code cannot be used again.
func (k *Kit) SetupConfirm(ctx context.Context, a factors.EnrollAttempt, in factors.Input, confirm func(e *store.Enrollment, d *EnrollData) error) error {
	code, ferr := ParseCode(in.Form.Get(FieldCode))
	if ferr != nil {
		return ferr
	}
	return k.update(ctx, a, func(e *store.Enrollment, d *EnrollData) (bool, error) {
		s := d.Setup
		switch {
		case s == nil || s.CodeHash == "" || s.expired(a.Now, k.Settings.Lifetime):
			return false, &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeExpired, Field: FieldCode}
		case s.Attempts >= MaxSetupAttempts:
			return false, &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeDead, Field: FieldCode}
		case !codeMatches(k.Codes, s.CodeHash, scopeSetup, e.ID, code):
			s.Attempts++
			return true, &factors.Error{Kind: factors.Wrong, MessageID: MsgCodeWrong, Field: FieldCode}
		}
		if err := confirm(e, d); err != nil {
			return false, err
		}
		d.Setup = nil
		at := a.Now
		e.ConfirmedAt = &at
		return true, nil
	})
}

// Set-up steps (form field FieldStep) every code factor shares.
const (
	FieldStep   = "step"
	StepSend    = "send"    // address or number entered: check it and send a code
	StepResend  = "resend"  // a new code to the same destination
	StepChange  = "change"  // back to the address or number form
	StepConfirm = "confirm" // the code that was sent
)

// Steps are what a factor adds to the shared set-up: how to read the
// destination typed, how to tell the one stored, and what confirming
// also sets.
type Steps struct {
	// Field is the form field of the destination, where its errors show.
	Field string
	// Missing is the message id when "send again" finds no destination.
	Missing string
	// Read checks the form's destination and returns the edit that
	// stores it in EnrollData, or a *factors.Error on Field.
	Read func(ctx context.Context, form factors.Input) (func(*EnrollData), error)
	// Stored is the destination already in d ("" when none).
	Stored func(d EnrollData) string
	// Compose writes the message carrying the set-up code.
	Compose SetupCompose
	// Confirm runs when the code matched, on the row about to be
	// confirmed (see SetupConfirm).
	Confirm func(e *store.Enrollment, d *EnrollData) error
}

// Setup runs one step of a pending set-up (form field FieldStep):
//
//   - send: read the destination, store it, send a code;
//   - resend: send a new code to the stored destination;
//   - change: drop the code and show the form again;
//   - confirm: check the code and confirm the enrollment.
//
// An empty step is confirm once a code is waiting, send before. The
// sending steps return factors.ErrEnrollContinues; confirm returns nil,
// and the caller returns its proof.
func (k *Kit) Setup(ctx context.Context, a factors.EnrollAttempt, in factors.Input, s Steps) error {
	if err := Pending(k.Factor, a); err != nil {
		return err
	}
	d, err := ParseEnrollData(a.Enrollment.Data)
	if err != nil {
		return err
	}
	step := in.Form.Get(FieldStep)
	if step == "" {
		step = StepSend
		if d.Waiting() {
			step = StepConfirm
		}
	}
	switch step {
	case StepSend:
		edit, err := s.Read(ctx, in)
		if err != nil {
			return err
		}
		return k.SetupSend(ctx, a, s.Field, edit, s.Compose)
	case StepResend:
		if s.Stored(d) == "" {
			return &factors.Error{Kind: factors.Malformed, MessageID: s.Missing, Field: s.Field}
		}
		return k.SetupSend(ctx, a, s.Field, nil, s.Compose)
	case StepChange:
		return k.SetupChange(ctx, a)
	case StepConfirm:
		return k.SetupConfirm(ctx, a, in, s.Confirm)
	}
	return fmt.Errorf("%s: unknown set-up step %q", k.Factor, step)
}
