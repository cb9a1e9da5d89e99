package voice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// numberData is an enrollment's Data. A confirmed number keeps Phone and
// Primary only; the rest is the state of its set-up.
type numberData struct {
	// Phone is the number in E.164.
	Phone string `json:"phone,omitempty"`
	// Primary marks the number a login calls first (the person's first).
	Primary bool `json:"primary,omitempty"`

	// Region is the country last chosen in the selector.
	Region string `json:"region,omitempty"`
	// Digits are shown on the set-up page for the latest call; Hash is
	// what an entry is compared with.
	Digits string `json:"digits,omitempty"`
	Hash   string `json:"hash,omitempty"`
	Lang   string `json:"lang,omitempty"`
	N      int    `json:"n,omitempty"`
	Calls  calls  `json:"calls,omitempty"`
	// Wrong counts the wrong entries of the whole set-up.
	Wrong int    `json:"wrong,omitempty"`
	Error string `json:"error,omitempty"`
}

func parseNumber(data string) (numberData, error) {
	var d numberData
	if data == "" {
		return d, nil
	}
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return d, fmt.Errorf("voice: enrollment data: %w", err)
	}
	return d, nil
}

// updateEnrollment applies change to e and its data and stores it,
// version-guarded; after a concurrent update it re-reads the enrollment
// and applies change again.
func (f *Factor) updateEnrollment(ctx context.Context, e store.Enrollment, change func(*store.Enrollment, *numberData) error) (store.Enrollment, numberData, error) {
	for i := 0; ; i++ {
		d, err := parseNumber(e.Data)
		if err != nil {
			return e, d, err
		}
		if err := change(&e, &d); err != nil {
			return e, d, err
		}
		buf, err := json.Marshal(d)
		if err != nil {
			return e, d, err
		}
		e.Data = string(buf)
		err = f.store.UpdateEnrollment(ctx, &e)
		if err == nil {
			return e, d, nil
		}
		if !errors.Is(err, store.ErrConflict) || i == casRetries-1 {
			return e, d, err
		}
		cur, err := f.store.EnrollmentByID(ctx, e.ID)
		if err != nil {
			return e, d, err
		}
		e = *cur
	}
}

// pending checks that e is u's voice enrollment still being set up; a
// confirmed one (a double submit) wraps store.ErrConflict, which the
// engine takes as "already done".
func pending(u *store.User, e *store.Enrollment) error {
	switch {
	case u == nil || e == nil:
		return errors.New("voice: no user or enrollment")
	case e.Factor != ID || e.UserID != u.ID:
		return fmt.Errorf("voice: enrollment %s is not this person's number", e.ID)
	case e.Confirmed():
		return fmt.Errorf("voice: enrollment %s is already confirmed: %w", e.ID, store.ErrConflict)
	}
	return nil
}

// BeginEnroll creates a pending enrollment without a number: the set-up
// page asks for it.
func (f *Factor) BeginEnroll(ctx context.Context, a factors.EnrollAttempt) (*store.Enrollment, error) {
	if a.User == nil || a.User.ID == "" {
		return nil, errors.New("voice: enrolling without a user")
	}
	e := &store.Enrollment{ID: security.RandomToken(16), UserID: a.User.ID, Factor: ID, CreatedAt: a.Now}
	if err := f.store.CreateEnrollment(ctx, e); err != nil {
		return nil, fmt.Errorf("voice: storing the enrollment: %w", err)
	}
	return e, nil
}

// country is one entry of the set-up page's selector.
type country struct {
	Region   string
	Label    string // "Nederland (+31)"
	Selected bool
}

// confirmedNumbers returns the person's confirmed voice enrollments and
// their numbers.
func (f *Factor) confirmedNumbers(ctx context.Context, userID string) ([]store.Enrollment, map[string]string, error) {
	all, err := f.store.ListEnrollments(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("voice: listing numbers: %w", err)
	}
	own := usable(all, userID)
	nums := map[string]string{}
	for i := range own {
		if num, _, err := numberOf(&own[i]); err == nil {
			nums[num] = own[i].ID
		}
	}
	return own, nums, nil
}

// EnrollPrompt returns the set-up page: the number form, or, once a
// number was entered, the digits to type and the outcome of the call.
func (f *Factor) EnrollPrompt(ctx context.Context, a factors.EnrollAttempt) (factors.Prompt, error) {
	if err := pending(a.User, a.Enrollment); err != nil {
		return factors.Prompt{}, err
	}
	d, err := parseNumber(a.Enrollment.Data)
	if err != nil {
		return factors.Prompt{}, err
	}
	own, _, err := f.confirmedNumbers(ctx, a.User.ID)
	if err != nil {
		return factors.Prompt{}, err
	}
	region := d.Region
	if region == "" {
		region = f.phones.DefaultRegion()
	}
	var list []country
	for _, c := range f.phones.Countries(a.Lang) {
		list = append(list, country{Region: c.Region, Label: c.Name + " (+" + strconv.Itoa(c.Code) + ")", Selected: c.Region == region})
	}
	ph := f.phase(d.Calls, a.Now)
	if d.Phone == "" {
		ph = phaseNone
	}
	data := map[string]any{
		"Countries":  list,
		"Alternate":  len(own) > 0,
		"HasNumber":  d.Phone != "",
		"Number":     "",
		"Digits":     spaced(d.Digits),
		"DigitCount": len(d.Digits),
		"Waiting":    ph == stateCalling,
		"Answered":   ph == stateAnswered,
		"Wrong":      ph == stateWrong,
		"TimedOut":   ph == phaseTimeout,
		"Failed":     ph == stateFailed,
	}
	if d.Phone != "" {
		// The person's own number, just typed: shown in full so a typo
		// is easy to spot.
		data["Number"] = phone.Display(d.Phone)
	}
	switch {
	case d.Wrong >= maxSetupWrong && ph != stateAnswered:
		data["Error"] = MsgTooManyWrong
	case ph == stateFailed && d.Error != "":
		data["Error"] = d.Error
	}
	return factors.Prompt{Template: "enroll_voice", Data: data}, nil
}

// FinishEnroll runs one step of the set-up (the form field "step"):
// verify (store the number and call it), call (again, new digits), change
// (another number), check (confirm after a correct entry). Every step but
// a successful check returns factors.ErrEnrollContinues or a Malformed
// error; wrong entries were counted by Keypress.
func (f *Factor) FinishEnroll(ctx context.Context, a factors.EnrollAttempt, in factors.Input) (store.Proof, error) {
	if err := pending(a.User, a.Enrollment); err != nil {
		return store.Proof{}, err
	}
	d, err := parseNumber(a.Enrollment.Data)
	if err != nil {
		return store.Proof{}, err
	}
	step := in.Form.Get(FieldStep)
	if step != StepVerify && step != StepCall && step != StepChange && step != StepCheck {
		// Enter pressed in a field posts no button: do what the page's
		// first button does.
		step = StepVerify
		if d.Phone != "" {
			step = StepCheck
		}
	}
	switch step {
	case StepVerify:
		return store.Proof{}, f.verify(ctx, a, in)
	case StepCall:
		return store.Proof{}, f.setupCall(ctx, a, nil)
	case StepChange:
		return store.Proof{}, f.change(ctx, a)
	}
	return f.confirm(ctx, a)
}

// verify reads the number typed and calls it.
func (f *Factor) verify(ctx context.Context, a factors.EnrollAttempt, in factors.Input) error {
	num, err := f.phones.Parse(in.Form.Get(FieldCountry), in.Form.Get(FieldPhone))
	var pe *phone.Error
	if errors.As(err, &pe) {
		field := FieldPhone
		if pe.Selector {
			field = FieldCountry
		}
		return &factors.Error{Kind: factors.Malformed, MessageID: pe.MessageID, Field: field}
	}
	if err != nil {
		return err
	}
	if !num.CanCall() {
		return &factors.Error{Kind: factors.Malformed, MessageID: phone.MsgNoCalls, Field: FieldPhone}
	}
	_, known, err := f.confirmedNumbers(ctx, a.User.ID)
	if err != nil {
		return err
	}
	if known[num.E164] != "" {
		return &factors.Error{Kind: factors.Malformed, MessageID: MsgNumberKnown, Field: FieldPhone}
	}
	return f.setupCall(ctx, a, &num)
}

// setupCall calls the set-up's number (num, when given, replaces it) with
// new digits, and returns factors.ErrEnrollContinues: the page then shows
// the digits, or why the call failed.
func (f *Factor) setupCall(ctx context.Context, a factors.EnrollAttempt, num *phone.Number) error {
	var ref string
	e, d, err := f.updateEnrollment(ctx, *a.Enrollment, func(e *store.Enrollment, d *numberData) error {
		if err := pending(a.User, e); err != nil {
			return err
		}
		if num != nil {
			d.Phone, d.Region = num.E164, num.Region
		}
		switch {
		case d.Phone == "":
			return &factors.Error{Kind: factors.Malformed, MessageID: MsgNoNumber}
		case d.Wrong >= maxSetupWrong:
			return &factors.Error{Kind: factors.Malformed, MessageID: MsgTooManyWrong}
		}
		if ferr := f.mayCall(d.Calls, d.Phone, a.Now); ferr != nil {
			return ferr
		}
		digits := newDigits(f.digits)
		d.N++
		ref = callRef("e", e.ID, d.N)
		d.Digits, d.Hash, d.Lang, d.Error = digits, f.codes.Hash(digits), f.lang(a.Lang).Lang(), ""
		d.Calls = d.Calls.add(call{Ref: ref, At: a.Now, State: stateCalling, To: d.Phone})
		return nil
	})
	if err != nil {
		return err
	}
	*a.Enrollment = e
	err = f.place(ctx, d.Phone, ref, d.Lang, len(d.Digits), a.User.ID, a.IP)
	if err == nil {
		return factors.ErrEnrollContinues
	}
	msg := notify.MessageID(err)
	slog.WarnContext(ctx, "voice: set-up call not placed", "ref", ref, "to", phone.Masked(d.Phone), "err", err)
	e, _, err = f.updateEnrollment(ctx, e, func(e *store.Enrollment, d *numberData) error {
		if l := d.Calls.latest(); e.Confirmed() || l == nil || l.Ref != ref || l.State != stateCalling {
			return errStale
		}
		d.Calls.latest().State, d.Error = stateFailed, msg
		return nil
	})
	if err != nil && !errors.Is(err, errStale) {
		// The page would claim a call that never came; say so instead.
		slog.WarnContext(ctx, "voice: could not record the failed set-up call", "ref", ref, "err", err)
		return &factors.Error{Kind: factors.Malformed, MessageID: msg}
	}
	if err == nil {
		*a.Enrollment = e
	}
	return factors.ErrEnrollContinues
}

// change forgets the number, so the page asks for one again. A call still
// ringing can no longer be answered; calls made keep counting.
func (f *Factor) change(ctx context.Context, a factors.EnrollAttempt) error {
	e, _, err := f.updateEnrollment(ctx, *a.Enrollment, func(e *store.Enrollment, d *numberData) error {
		if err := pending(a.User, e); err != nil {
			return err
		}
		if c := d.Calls.latest(); c != nil && c.State == stateCalling {
			c.State = stateCancelled
		}
		d.Phone, d.Digits, d.Hash, d.Error = "", "", "", ""
		return nil
	})
	if err != nil {
		return err
	}
	*a.Enrollment = e
	return factors.ErrEnrollContinues
}

// confirm activates the number after a correct entry on its latest call:
// named after the number (the person's own list shows it in full), and
// primary when it is the person's first.
func (f *Factor) confirm(ctx context.Context, a factors.EnrollAttempt) (store.Proof, error) {
	own, known, err := f.confirmedNumbers(ctx, a.User.ID)
	if err != nil {
		return store.Proof{}, err
	}
	e, _, err := f.updateEnrollment(ctx, *a.Enrollment, func(e *store.Enrollment, d *numberData) error {
		if err := pending(a.User, e); err != nil {
			return err
		}
		if d.Phone == "" {
			return &factors.Error{Kind: factors.Malformed, MessageID: MsgNoNumber}
		}
		if ferr := f.outcome(d.Calls, d.Error, a.Now); ferr != nil {
			return ferr
		}
		if known[d.Phone] != "" {
			return &factors.Error{Kind: factors.Malformed, MessageID: MsgNumberKnown}
		}
		at := a.Now
		e.Name, e.ConfirmedAt = phone.Display(d.Phone), &at
		*d = numberData{Phone: d.Phone, Primary: len(own) == 0}
		return nil
	})
	if err != nil {
		return store.Proof{}, err
	}
	*a.Enrollment = e
	return factors.ProofOf(f, a.Now), nil
}

// EnrollStatus reports whether the latest set-up call was answered.
func (f *Factor) EnrollStatus(_ context.Context, a factors.EnrollAttempt) (factors.Status, error) {
	e := a.Enrollment
	if e == nil {
		return "", errors.New("voice: no enrollment")
	}
	if e.Confirmed() {
		return factors.Answered, nil
	}
	d, err := parseNumber(e.Data)
	if err != nil {
		return "", err
	}
	if d.Phone == "" {
		return factors.Failed, nil
	}
	return f.status(d.Calls, a.Now), nil
}
