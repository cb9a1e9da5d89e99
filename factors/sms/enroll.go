package sms

import (
	"context"
	"errors"
	"fmt"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/oob"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/store"
)

// BeginEnroll creates a pending enrollment with no number yet: the page
// asks for one.
func (f *Factor) BeginEnroll(ctx context.Context, a factors.EnrollAttempt) (*store.Enrollment, error) {
	return oob.Begin(ctx, f.kit.Store, ID, a)
}

// EnrollPrompt shows the number form (country selector and national
// number), or, once a code was sent, the code form with "send code again"
// and "use another number". Both show the NIST warning and leave room for
// the engine's alternatives (.Alternatives).
func (f *Factor) EnrollPrompt(_ context.Context, a factors.EnrollAttempt) (factors.Prompt, error) {
	if err := oob.Pending(ID, a); err != nil {
		return factors.Prompt{}, err
	}
	d, err := oob.ParseEnrollData(a.Enrollment.Data)
	if err != nil {
		return factors.Prompt{}, err
	}
	stage, country, typed := "number", f.phones.DefaultRegion(), ""
	if d.Phone != "" {
		// After "use another number": the old one, to correct a typo.
		if r := phone.Region(d.Phone); r != "" {
			country = r
		}
		typed = phone.Display(d.Phone)
	}
	if d.Waiting() {
		stage = "code"
	}
	return factors.Prompt{Template: "enroll_sms", Data: map[string]any{
		"Stage":     stage,
		"Countries": f.phones.Countries(a.Lang),
		"Country":   country,
		"Phone":     typed,
		"Display":   phone.Display(d.Phone),
		"Minutes":   oob.Minutes(f.kit.Settings.Lifetime),
		// The last send's failure, for a reload: the template shows it
		// next to the number unless the engine shows a field error there.
		"SendError": d.SendFailed(),
	}}, nil
}

// FinishEnroll runs one set-up step (form field "step"):
//
//   - send: check the number ("country", "phone": a mobile the person has
//     not set up yet), store it, text a code;
//   - resend: text a new code to the stored number;
//   - change: drop the code and show the number form again;
//   - confirm: check the code in "code" and confirm the enrollment; the
//     person's first number becomes the primary.
//
// An empty step is confirm once a code is waiting, send before. The
// sending steps return factors.ErrEnrollContinues; confirm returns the
// proof (the code shows the person holds the phone).
func (f *Factor) FinishEnroll(ctx context.Context, a factors.EnrollAttempt, in factors.Input) (store.Proof, error) {
	err := f.kit.Setup(ctx, a, in, oob.Steps{
		Field: FieldPhone, Missing: phone.MsgRequired, Compose: f.enrolText(a.Lang),
		Stored: func(d oob.EnrollData) string { return d.Phone },
		Read: func(ctx context.Context, in factors.Input) (func(*oob.EnrollData), error) {
			n, ferr := f.parse(in.Form.Get(FieldCountry), in.Form.Get(FieldPhone))
			if ferr != nil {
				return nil, ferr
			}
			if _, err := f.confirmed(ctx, a, n.E164); err != nil {
				return nil, err
			}
			return func(d *oob.EnrollData) { d.Phone = n.E164 }, nil
		},
		Confirm: func(e *store.Enrollment, d *oob.EnrollData) error {
			// Another set-up of the same number may have finished meanwhile.
			others, err := f.confirmed(ctx, a, d.Phone)
			if err != nil {
				return err
			}
			e.Name = phone.Display(d.Phone)
			d.Primary = others == 0
			return nil
		},
	})
	if err != nil {
		return store.Proof{}, err
	}
	return factors.ProofOf(f, a.Now), nil
}

// parse reads the number typed with the country chosen: a valid mobile
// number of an allowed country. Errors are Malformed on the field they
// concern: the country when the selector's choice is refused, the number
// otherwise.
func (f *Factor) parse(country, raw string) (phone.Number, *factors.Error) {
	n, err := f.phones.Parse(country, raw)
	var pe *phone.Error
	switch {
	case errors.As(err, &pe):
		field := FieldPhone
		if pe.Selector {
			field = FieldCountry
		}
		return n, &factors.Error{Kind: factors.Malformed, MessageID: pe.MessageID, Field: field}
	case err != nil:
		return n, &factors.Error{Kind: factors.Malformed, MessageID: phone.MsgInvalid, Field: FieldPhone}
	case !n.CanSMS():
		return n, &factors.Error{Kind: factors.Malformed, MessageID: phone.MsgNotMobile, Field: FieldPhone}
	}
	return n, nil
}

// confirmed counts the person's confirmed SMS numbers other than the one
// being set up, and refuses (on the field "phone") when e164 is among
// them.
func (f *Factor) confirmed(ctx context.Context, a factors.EnrollAttempt, e164 string) (int, error) {
	all, err := f.kit.Store.ListEnrollments(ctx, a.User.ID)
	if err != nil {
		return 0, fmt.Errorf("sms: listing enrollments: %w", err)
	}
	n := 0
	for _, e := range all {
		if e.Factor != ID || !e.Confirmed() || e.ID == a.Enrollment.ID {
			continue
		}
		if num, _ := number(e); num == e164 {
			return n, &factors.Error{Kind: factors.Malformed, MessageID: MsgPhoneTaken, Field: FieldPhone}
		}
		n++
	}
	return n, nil
}

// enrolText writes the set-up SMS in lang.
func (f *Factor) enrolText(lang string) oob.SetupCompose {
	return func(code string, d oob.EnrollData) (notify.Message, error) {
		return f.text(lang, d.Phone, "sms.text.enrol", code), nil
	}
}
