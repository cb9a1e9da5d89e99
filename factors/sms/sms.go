// Package sms is the SMS-code factor of seed 004 (Aiai / Kura omsorg): at
// login a 6-digit code goes by text message to the person's primary mobile
// number, the page shows the number masked ("xxxx-xxxx72") with "send code
// again", another of the person's numbers to send to, and help for when no
// SMS arrives. A number is set up by a code sent to it; the first one
// confirmed is the primary.
//
// SMS is a NIST "restricted" authenticator (a message can be intercepted or
// the number moved to another SIM): the set-up page says so and offers the
// alternatives. Sending, the cooldown and cap, and the code checks are
// shared with the email factor in factors/oob.
package sms

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/oob"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/store"
)

// ID is the factor id, in enrollments, challenges, proofs and templates.
const ID = "sms"

// Form fields the pages post.
const (
	FieldCode    = oob.FieldCode
	FieldCountry = "country"
	FieldPhone   = "phone"
	FieldStep    = oob.FieldStep
	// FieldTo names the enrollment a resend goes to ("" for the current).
	FieldTo = "to"
)

// The set-up steps (form field "step").
const (
	StepSend    = oob.StepSend    // number entered: check it and text a code
	StepResend  = oob.StepResend  // text a new code to the same number
	StepChange  = oob.StepChange  // back to the number form
	StepConfirm = oob.StepConfirm // the code from the SMS
)

// MsgPhoneTaken: the person has already set up this number.
const MsgPhoneTaken = "sms.error.taken"

// Defaults for the settings left zero.
var defaults = factors.CodeSettings{
	Lifetime: 5 * time.Minute, ResendCooldown: 30 * time.Second, SendsPerHour: 5, Digits: oob.Digits,
}

var (
	_ factors.Factor   = (*Factor)(nil)
	_ factors.Enroller = (*Factor)(nil)
	_ factors.Resender = (*Factor)(nil)
)

// Factor is the SMS-code factor. It is safe for concurrent use.
type Factor struct {
	kit      oob.Kit
	messages *i18n.Bundle
	phones   *phone.Policy
}

// New builds the factor. Deps.Store, Codes, Messages and Phones are
// required; a nil Deps.Notify makes every send fail as "not configured".
// Zero settings take the defaults (5 min lifetime, 30 s cooldown, 5 codes
// an hour); codes have 6 digits.
func New(d factors.Deps) (factors.Factor, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("sms: no store")
	case d.Codes == nil:
		return nil, errors.New("sms: no code hasher: codes are never stored in the clear")
	case d.Messages == nil:
		return nil, errors.New("sms: no message catalogs for the texts")
	case d.Phones == nil:
		return nil, errors.New("sms: no phone number policy")
	}
	cfg, err := oob.Settings("sms", d.SMS, defaults)
	if err != nil {
		return nil, err
	}
	return &Factor{
		kit:      oob.Kit{Factor: ID, Store: d.Store, Codes: d.Codes, Notify: d.Notify, Settings: cfg},
		messages: d.Messages,
		phones:   d.Phones,
	}, nil
}

// ID returns "sms".
func (f *Factor) ID() string { return ID }

// Properties: something you have (the phone), amr "sms", sent by SMS, a
// NIST restricted authenticator.
func (f *Factor) Properties() factors.Properties {
	return factors.Properties{Kinds: []factors.Kind{factors.Possession}, AMR: []string{"sms"}, Channel: "sms", Restricted: true}
}

// number returns the E.164 number of e and whether it is the primary.
func number(e store.Enrollment) (string, bool) {
	d, err := oob.ParseEnrollData(e.Data)
	if err != nil {
		return "", false
	}
	return d.Phone, d.Primary
}

// usable are the person's confirmed SMS enrollments with a number, the
// primary first, then the oldest.
func usable(a factors.Attempt) []store.Enrollment {
	var out []store.Enrollment
	for _, e := range a.Enrollments {
		if n, _ := number(e); e.Factor == ID && e.Confirmed() && a.User != nil && e.UserID == a.User.ID && n != "" {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(x, y store.Enrollment) int {
		_, px := number(x)
		_, py := number(y)
		switch {
		case px && !py:
			return -1
		case py && !px:
			return 1
		}
		return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID))
	})
	return out
}

// lookup finds one of the person's numbers.
func lookup(a factors.Attempt) oob.Lookup {
	list := usable(a)
	return func(id string) (oob.Dest, bool) {
		for _, e := range list {
			if e.ID == id {
				n, _ := number(e)
				return oob.Dest{Enrollment: e.ID, To: n, Masked: phone.Masked(n)}, true
			}
		}
		return oob.Dest{}, false
	}
}

// Start texts a code to the person's primary number. A delivery failure
// shows on the page (Data["Error"]) and leaves "send code again" possible
// at once.
func (f *Factor) Start(ctx context.Context, a factors.Attempt) (factors.Prompt, error) {
	list := usable(a)
	if len(list) == 0 {
		return factors.Prompt{}, errors.New("sms: the person has no confirmed number")
	}
	dest, _ := lookup(a)(list[0].ID)
	c, failed, err := f.kit.Start(ctx, a, dest, "", f.loginText(a.Lang))
	if err != nil {
		return factors.Prompt{}, err
	}
	return f.prompt(a, c, failed), nil
}

// Prompt shows the page of the challenge again; it sends nothing.
func (f *Factor) Prompt(_ context.Context, a factors.Attempt) (factors.Prompt, error) {
	c, err := f.kit.State(a)
	if err != nil {
		return factors.Prompt{}, err
	}
	return f.prompt(a, c, c.Failed), nil
}

// Other is another of the person's numbers, offered as "send to".
type Other struct {
	ID     string // enrollment id, posted as "to"
	Masked string
}

func (f *Factor) prompt(a factors.Attempt, c oob.Challenge, failed string) factors.Prompt {
	var others []Other
	for _, e := range usable(a) {
		if e.ID != c.Enrollment {
			n, _ := number(e)
			others = append(others, Other{ID: e.ID, Masked: phone.Masked(n)})
		}
	}
	data := f.kit.PromptData(c, failed)
	data["Others"] = others
	return factors.Prompt{Template: "factor_sms", Data: data}
}

// Resend texts a new code (the old one stops working) to the number
// challenged so far, or to another of the person's numbers named by the
// form field "to".
func (f *Factor) Resend(ctx context.Context, a factors.Attempt, in factors.Input) error {
	return f.kit.Resend(ctx, a, in.Form.Get(FieldTo), lookup(a), f.loginText(a.Lang))
}

// Check accepts the code of the last SMS, once (the engine consumes the
// challenge), within its lifetime.
func (f *Factor) Check(ctx context.Context, a factors.Attempt, in factors.Input) (factors.Result, error) {
	return f.kit.Answer(ctx, f, a, in, usable(a))
}

// loginText writes the login SMS in lang: one short segment, the code
// first so it shows in the notification.
func (f *Factor) loginText(lang string) oob.Compose {
	return func(code string, dest oob.Dest, _ oob.Challenge) (notify.Message, error) {
		return f.text(lang, dest.To, "sms.text.login", code), nil
	}
}

func (f *Factor) text(lang, to, id, code string) notify.Message {
	loc := f.messages.Localizer(f.messages.Match(lang, ""))
	return notify.Message{
		Channel: notify.SMS, To: to, Lang: loc.Lang(),
		Text: loc.T(id, "Code", code, "Minutes", oob.Minutes(f.kit.Settings.Lifetime)),
	}
}

// Describe labels an SMS enrollment by its masked number.
func (f *Factor) Describe(e store.Enrollment) string {
	if n, _ := number(e); n != "" {
		return phone.Masked(n)
	}
	return ""
}
