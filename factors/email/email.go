// Package email is the email-code factor of seed 002 (Ügyfélkapu+): at
// login a 6-digit code is mailed to the person's confirmed address, and
// the login page shows a 3-digit session identifier that the mail repeats
// next to the code, so the person can tell the mail belongs to the login
// in front of them (and not to someone else's attempt that happens to
// reach their inbox). The address is set up by a code mailed to it.
//
// Sending, the resend cooldown and cap, and the code checks are shared with
// the SMS factor in factors/oob; this package chooses the address, writes
// the mails (HTML and plain text, in the language of the page) and holds
// the set-up steps.
package email

import (
	"context"
	"errors"
	htmltemplate "html/template"
	"maps"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/oob"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/templates"
)

// ID is the factor id, in enrollments, challenges, proofs and templates.
const ID = "email"

// Form fields the pages post.
const (
	FieldCode  = oob.FieldCode
	FieldEmail = "email"
	FieldStep  = oob.FieldStep
	// FieldTo names the enrollment a resend goes to ("" for the current).
	FieldTo = "to"
)

// The set-up steps (form field "step").
const (
	StepSend    = oob.StepSend    // address entered: check it and mail a code
	StepResend  = oob.StepResend  // mail a new code to the same address
	StepChange  = oob.StepChange  // back to the address form
	StepConfirm = oob.StepConfirm // the code from the mail
)

// Message ids of the errors this package adds to those of factors/oob.
const (
	MsgEmailRequired = "email.error.required"
	MsgEmailInvalid  = "email.error.invalid"
	MsgEmailTooLong  = "email.error.too_long"
	MsgEmailTaken    = "email.error.taken"
)

// Defaults for the settings left zero.
var defaults = factors.CodeSettings{
	Lifetime: 10 * time.Minute, ResendCooldown: 30 * time.Second, SendsPerHour: 5, Digits: oob.Digits,
}

var (
	_ factors.Factor   = (*Factor)(nil)
	_ factors.Enroller = (*Factor)(nil)
	_ factors.Resender = (*Factor)(nil)
)

// Factor is the email-code factor. It is safe for concurrent use.
type Factor struct {
	kit      oob.Kit
	messages *i18n.Bundle
	issuer   string
	mails    mails
}

// mails are the parsed templates of what the factor sends.
type mails struct {
	codeHTML, enrolHTML *htmltemplate.Template
	codeText, enrolText *texttemplate.Template
}

// New builds the factor. Deps.Store, Codes, Messages and Issuer are required; a
// nil Deps.Notify makes every send fail as "not configured" (the page says
// the code could not be sent). Zero settings take the defaults (10 min
// lifetime, 30 s cooldown, 5 codes an hour); codes have 6 digits.
func New(d factors.Deps) (factors.Factor, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("email: no store")
	case d.Codes == nil:
		return nil, errors.New("email: no code hasher: codes are never stored in the clear")
	case d.Messages == nil:
		return nil, errors.New("email: no message catalogs for the mails")
	case strings.TrimSpace(d.Issuer) == "":
		return nil, errors.New("email: no issuer name: the mails say who sends them")
	}
	cfg, err := oob.Settings("email", d.Email, defaults)
	if err != nil {
		return nil, err
	}
	m, err := parseMails(templates.Mail)
	if err != nil {
		return nil, err
	}
	return &Factor{
		kit:      oob.Kit{Factor: ID, Store: d.Store, Codes: d.Codes, Notify: d.Notify, Settings: cfg},
		messages: d.Messages,
		issuer:   strings.TrimSpace(d.Issuer),
		mails:    m,
	}, nil
}

// ID returns "email".
func (f *Factor) ID() string { return ID }

// Properties: something you have (the mailbox), amr "otp" (RFC 8176) with
// the non-standard "email" next to it, sent by email.
func (f *Factor) Properties() factors.Properties {
	return factors.Properties{Kinds: []factors.Kind{factors.Possession}, AMR: []string{"otp", "email"}, Channel: "email"}
}

// address returns the confirmed address of e, "" when it has none.
func address(e store.Enrollment) string {
	d, err := oob.ParseEnrollData(e.Data)
	if err != nil {
		return ""
	}
	return d.Email
}

// choose picks the address a login code goes to: the one used most
// recently, else the newest.
func choose(a factors.Attempt) (store.Enrollment, bool) {
	list := slices.Collect(maps.Values(usable(a)))
	if len(list) == 0 {
		return store.Enrollment{}, false
	}
	best := slices.MaxFunc(list, func(x, y store.Enrollment) int {
		switch {
		case x.LastUsedAt != nil && y.LastUsedAt != nil:
			return x.LastUsedAt.Compare(*y.LastUsedAt)
		case x.LastUsedAt != nil:
			return 1
		case y.LastUsedAt != nil:
			return -1
		}
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return best, true
}

// usable are the person's confirmed email enrollments with an address,
// by id.
func usable(a factors.Attempt) map[string]store.Enrollment {
	out := map[string]store.Enrollment{}
	for _, e := range a.Enrollments {
		if e.Factor == ID && e.Confirmed() && a.User != nil && e.UserID == a.User.ID && address(e) != "" {
			out[e.ID] = e
		}
	}
	return out
}

// lookup finds one of the person's addresses.
func lookup(a factors.Attempt) oob.Lookup {
	list := usable(a)
	return func(id string) (oob.Dest, bool) {
		e, ok := list[id]
		if !ok {
			return oob.Dest{}, false
		}
		addr := address(e)
		return oob.Dest{Enrollment: e.ID, To: addr, Masked: oob.MaskEmail(addr)}, true
	}
}

// Start mails a code and a new session identifier to the person's
// address. A delivery failure shows on the page (Data["Error"]) and leaves
// "send again" possible at once.
func (f *Factor) Start(ctx context.Context, a factors.Attempt) (factors.Prompt, error) {
	e, ok := choose(a)
	if !ok {
		return factors.Prompt{}, errors.New("email: the person has no confirmed address")
	}
	dest, _ := lookup(a)(e.ID)
	c, failed, err := f.kit.Start(ctx, a, dest, oob.NewSessionID(), f.codeMail(a.Lang))
	if err != nil {
		return factors.Prompt{}, err
	}
	return f.prompt(c, failed), nil
}

// Prompt shows the page of the challenge again; it sends nothing.
func (f *Factor) Prompt(_ context.Context, a factors.Attempt) (factors.Prompt, error) {
	c, err := f.kit.State(a)
	if err != nil {
		return factors.Prompt{}, err
	}
	return f.prompt(c, c.Failed), nil
}

func (f *Factor) prompt(c oob.Challenge, failed string) factors.Prompt {
	data := f.kit.PromptData(c, failed)
	data["SessionID"] = c.Session
	return factors.Prompt{Template: "factor_email", Data: data}
}

// Resend mails a new code (the old one stops working) with the same
// session identifier, to the address challenged so far or to another of
// the person's addresses named by the form field "to".
func (f *Factor) Resend(ctx context.Context, a factors.Attempt, in factors.Input) error {
	return f.kit.Resend(ctx, a, in.Form.Get(FieldTo), lookup(a), f.codeMail(a.Lang))
}

// Check accepts the code of the last mail, once (the engine consumes the
// challenge), within its lifetime.
func (f *Factor) Check(ctx context.Context, a factors.Attempt, in factors.Input) (factors.Result, error) {
	return f.kit.Answer(ctx, f, a, in, slices.Collect(maps.Values(usable(a))))
}

// codeMail writes the login mail in lang.
func (f *Factor) codeMail(lang string) oob.Compose {
	return func(code string, dest oob.Dest, c oob.Challenge) (notify.Message, error) {
		return f.mail(lang, dest.To, mailCode, code, c.Session)
	}
}

// Describe labels an email enrollment by its masked address.
func (f *Factor) Describe(e store.Enrollment) string {
	if a := address(e); a != "" {
		return oob.MaskEmail(a)
	}
	return ""
}
