package email

import (
	"context"
	"fmt"
	"strings"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/oob"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/store"
)

// BeginEnroll creates a pending enrollment with no address yet: the page
// asks for one (pre-filled with the account's address).
func (f *Factor) BeginEnroll(ctx context.Context, a factors.EnrollAttempt) (*store.Enrollment, error) {
	return oob.Begin(ctx, f.kit.Store, ID, a)
}

// EnrollPrompt shows the address form, or, once a code was mailed, the
// code form with "send again" and "use another address".
func (f *Factor) EnrollPrompt(_ context.Context, a factors.EnrollAttempt) (factors.Prompt, error) {
	if err := oob.Pending(ID, a); err != nil {
		return factors.Prompt{}, err
	}
	d, err := oob.ParseEnrollData(a.Enrollment.Data)
	if err != nil {
		return factors.Prompt{}, err
	}
	stage, addr := "address", d.Email
	if d.Waiting() {
		stage = "code"
	} else if addr == "" {
		addr = a.User.Email
	}
	return factors.Prompt{Template: "enroll_email", Data: map[string]any{
		"Stage":   stage,
		"Email":   addr,
		"Minutes": oob.Minutes(f.kit.Settings.Lifetime),
		// The last send's failure, for a reload: the template shows it
		// next to the address unless the engine shows a field error there.
		"SendError": d.SendFailed(),
	}}, nil
}

// FinishEnroll runs one set-up step (form field "step"):
//
//   - send: check the address in "email", store it, mail a code;
//   - resend: mail a new code to the stored address;
//   - change: drop the code and show the address form again;
//   - confirm: check the code in "code" and confirm the enrollment.
//
// An empty step is confirm once a code is waiting, send before. The
// sending steps return factors.ErrEnrollContinues; confirm returns the
// proof (the code shows the person reads the mailbox).
func (f *Factor) FinishEnroll(ctx context.Context, a factors.EnrollAttempt, in factors.Input) (store.Proof, error) {
	err := f.kit.Setup(ctx, a, in, oob.Steps{
		Field: FieldEmail, Missing: MsgEmailRequired, Compose: f.enrolMail(a.Lang),
		Stored: func(d oob.EnrollData) string { return d.Email },
		Read: func(ctx context.Context, in factors.Input) (func(*oob.EnrollData), error) {
			addr, ferr := ParseAddress(in.Form.Get(FieldEmail))
			if ferr != nil {
				return nil, ferr
			}
			if err := f.notYetConfirmed(ctx, a, addr); err != nil {
				return nil, err
			}
			return func(d *oob.EnrollData) { d.Email = addr }, nil
		},
		Confirm: func(e *store.Enrollment, d *oob.EnrollData) error {
			// Another set-up of the same address may have finished
			// meanwhile; one enrollment per address keeps the list clear.
			if err := f.notYetConfirmed(ctx, a, d.Email); err != nil {
				return err
			}
			e.Name = d.Email
			return nil
		},
	})
	if err != nil {
		return store.Proof{}, err
	}
	return factors.ProofOf(f, a.Now), nil
}

// notYetConfirmed refuses an address the person already confirmed (in
// another enrollment), on the field "email".
func (f *Factor) notYetConfirmed(ctx context.Context, a factors.EnrollAttempt, addr string) error {
	all, err := f.kit.Store.ListEnrollments(ctx, a.User.ID)
	if err != nil {
		return fmt.Errorf("email: listing enrollments: %w", err)
	}
	for _, e := range all {
		if e.Factor == ID && e.Confirmed() && e.ID != a.Enrollment.ID && sameAddress(address(e), addr) {
			return &factors.Error{Kind: factors.Malformed, MessageID: MsgEmailTaken, Field: FieldEmail}
		}
	}
	return nil
}

// sameAddress compares two addresses as ParseAddress leaves them; local
// parts are compared without case too, as nearly every mail provider
// treats them.
func sameAddress(x, y string) bool { return x != "" && strings.EqualFold(x, y) }

// enrolMail writes the confirmation mail in lang.
func (f *Factor) enrolMail(lang string) oob.SetupCompose {
	return func(code string, d oob.EnrollData) (notify.Message, error) {
		return f.mail(lang, d.Email, mailEnrol, code, "")
	}
}
