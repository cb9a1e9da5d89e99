package builtin

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"io/fs"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/email"
	"github.com/eu-health-idp/idp/factors/factortest"
	"github.com/eu-health-idp/idp/factors/oob"
	"github.com/eu-health-idp/idp/factors/recovery"
	"github.com/eu-health-idp/idp/factors/sms"
	"github.com/eu-health-idp/idp/factors/totp"
	"github.com/eu-health-idp/idp/factors/voice"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/templates"
)

func newRegistry(t *testing.T) (*factors.Registry, *factortest.Memory) {
	t.Helper()
	d, mem := factortest.NewDeps(t)
	r, err := factors.NewRegistry(d, Registrations)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	return r, mem
}

func TestRegistry(t *testing.T) {
	r, _ := newRegistry(t)
	t.Run("every built-in factor is built, in order", func(t *testing.T) {
		if got := strings.Join(r.IDs(), ","); got != "totp,email,sms,voice,recovery" {
			t.Errorf("IDs = %s", got)
		}
	})
	t.Run("every built-in factor can be enrolled", func(t *testing.T) {
		for _, f := range r.All() {
			if _, ok := f.(factors.Enroller); !ok {
				t.Errorf("%s is not an Enroller", f.ID())
			}
		}
	})
}

// confirmed are the rows the factors that send need before a challenge
// can start (an address, numbers); the engine only offers them then.
var confirmed = map[string][]string{
	"email": {`{"email":"anna@example.org"}`},
	"sms":   {`{"phone":"+31612345678","primary":true}`, `{"phone":"+46701234534"}`},
}

// sendSteps post the first set-up step of the factors that send, so
// their "code sent" set-up page renders too.
var sendSteps = map[string]url.Values{
	"email": {"step": {"send"}, "email": {"jan@example.org"}},
	"sms":   {"step": {"send"}, "country": {"PL"}, "phone": {"512 345 678"}},
}

// page is one prompt a factor produced, with the data the engine adds.
type page struct {
	name   string
	prompt factors.Prompt
}

// prompts drives every built-in factor through the pages it can ask for:
// the challenge, the enrolment, and any notice after a successful answer.
func prompts(t *testing.T) []page {
	t.Helper()
	r, mem := newRegistry(t)
	ctx := context.Background()
	now := factortest.Start
	u := factortest.User("anna")
	var out []page
	for _, f := range r.All() {
		if f.ID() == voice.ID {
			out = append(out, voicePages(t, f, mem, u, now)...)
			continue
		}
		for _, data := range confirmed[f.ID()] {
			at := now
			if err := mem.CreateEnrollment(ctx, &store.Enrollment{UserID: u.ID, Factor: f.ID(), Data: data, ConfirmedAt: &at, CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		a := factortest.Attempt(t, mem, f, u, now)
		if err := mem.CreateChallenge(ctx, a.Challenge); err != nil {
			t.Fatal(err)
		}
		p, err := f.Start(ctx, a)
		if err != nil {
			t.Fatalf("%s Start: %v", f.ID(), err)
		}
		out = append(out, page{f.ID() + " challenge", p})
		enr := f.(factors.Enroller)
		e, err := enr.BeginEnroll(ctx, factors.EnrollAttempt{User: u, Now: now})
		if err != nil {
			t.Fatalf("%s BeginEnroll: %v", f.ID(), err)
		}
		p, err = enr.EnrollPrompt(ctx, factors.EnrollAttempt{User: u, Enrollment: e})
		if err != nil {
			t.Fatalf("%s EnrollPrompt: %v", f.ID(), err)
		}
		out = append(out, page{f.ID() + " enrolment", p})
		if form, ok := sendSteps[f.ID()]; ok {
			if _, err := enr.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: now}, factors.Input{Form: form}); !errors.Is(err, factors.ErrEnrollContinues) {
				t.Fatalf("%s FinishEnroll: %v", f.ID(), err)
			}
			if p, err = enr.EnrollPrompt(ctx, factors.EnrollAttempt{User: u, Enrollment: e}); err != nil {
				t.Fatalf("%s EnrollPrompt: %v", f.ID(), err)
			}
			out = append(out, page{f.ID() + " enrolment with the code sent", p})
		}
	}
	// The recovery notice, with many and with few codes left.
	f, _ := r.Get("recovery")
	enr := f.(factors.Enroller)
	e, _ := enr.BeginEnroll(ctx, factors.EnrollAttempt{User: u, Now: now})
	p, _ := enr.EnrollPrompt(ctx, factors.EnrollAttempt{User: u, Enrollment: e})
	codes := p.Data["Codes"].([]string)
	if _, err := enr.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: now}, factors.Input{Form: url.Values{"saved": {"on"}}}); err != nil {
		t.Fatalf("recovery FinishEnroll: %v", err)
	}
	for i, c := range codes {
		res, err := f.Check(ctx, factortest.Attempt(t, mem, f, u, now), factors.Input{Form: url.Values{"code": {c}}})
		if err != nil || res.Notice == nil {
			t.Fatalf("recovery Check: %+v, %v", res, err)
		}
		if i == 0 || i == 8 || i == 9 {
			out = append(out, page{"recovery notice after code " + c, *res.Notice})
		}
	}
	return out
}

// voicePages drives the voice factor through its pages: a set-up asking
// for the first and then an alternate number, calling, answered; a login
// call ringing, answered wrongly, answered, and timed out.
func voicePages(t *testing.T, f factors.Factor, mem *factortest.Memory, u *store.User, now time.Time) []page {
	t.Helper()
	ctx := context.Background()
	enr, kp := f.(factors.Enroller), f.(factors.Keypad)
	var out []page
	digits := func(p factors.Prompt) string { return strings.ReplaceAll(p.Data["Digits"].(string), " ", "") }
	setup := func(number, name string) {
		e, err := enr.BeginEnroll(ctx, factors.EnrollAttempt{User: u, Lang: "en", Now: now})
		if err != nil {
			t.Fatalf("voice BeginEnroll: %v", err)
		}
		at := func() factors.EnrollAttempt {
			e, err := mem.EnrollmentByID(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			return factors.EnrollAttempt{User: u, Enrollment: e, Lang: "en", Now: now}
		}
		show := func(what string) factors.Prompt {
			p, err := enr.EnrollPrompt(ctx, at())
			if err != nil {
				t.Fatalf("voice EnrollPrompt: %v", err)
			}
			out = append(out, page{"voice enrolment " + what + " of the " + name + " number", p})
			return p
		}
		show("asking")
		form := url.Values{"op": {"finish"}, "step": {voice.StepVerify}, "country": {"NL"}, "phone": {number}}
		if _, err := enr.FinishEnroll(ctx, at(), factors.Input{Form: form}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatalf("voice verify: %v", err)
		}
		p := show("calling")
		if _, err := kp.Keypress(ctx, "voice.e."+e.ID+".1", digits(p), now); err != nil {
			t.Fatalf("voice Keypress: %v", err)
		}
		show("answered")
		form = url.Values{"op": {"finish"}, "step": {voice.StepCheck}}
		if _, err := enr.FinishEnroll(ctx, at(), factors.Input{Form: form}); err != nil {
			t.Fatalf("voice check: %v", err)
		}
	}
	setup("612345678", "first")
	setup("201234567", "alternate")
	login := func(what string, then func(ch *store.Challenge, p factors.Prompt) time.Time) {
		a := factortest.Attempt(t, mem, f, u, now)
		if err := mem.CreateChallenge(ctx, a.Challenge); err != nil {
			t.Fatal(err)
		}
		p, err := f.Start(ctx, a)
		if err != nil {
			t.Fatalf("voice Start: %v", err)
		}
		at := then(a.Challenge, p)
		if a.Challenge, err = mem.ChallengeByID(ctx, a.Challenge.ID, at); err != nil {
			t.Fatal(err)
		}
		a.Now = at
		if p, err = f.Prompt(ctx, a); err != nil {
			t.Fatalf("voice Prompt: %v", err)
		}
		out = append(out, page{"voice challenge " + what, p})
	}
	login("ringing", func(*store.Challenge, factors.Prompt) time.Time { return now })
	login("answered", func(ch *store.Challenge, p factors.Prompt) time.Time {
		if _, err := kp.Keypress(ctx, "voice.c."+ch.ID+".1", digits(p), now); err != nil {
			t.Fatalf("voice Keypress: %v", err)
		}
		return now
	})
	login("answered wrongly", func(ch *store.Challenge, p factors.Prompt) time.Time {
		if _, err := kp.Keypress(ctx, "voice.c."+ch.ID+".1", "*", now); err != nil {
			t.Fatalf("voice Keypress: %v", err)
		}
		return now
	})
	login("timed out", func(*store.Challenge, factors.Prompt) time.Time { return now.Add(2 * time.Minute) })
	return out
}

func TestEveryPromptHasATemplate(t *testing.T) {
	for _, p := range prompts(t) {
		t.Run(p.name+" uses a page in templates", func(t *testing.T) {
			if _, err := fs.Stat(templates.FS, p.prompt.Template+".html"); err != nil {
				t.Errorf("template %q: %v", p.prompt.Template, err)
			}
		})
	}
}

// ourPages are the page templates the built-in factors bring.
func ourPages(t *testing.T) []string {
	t.Helper()
	var pages []string
	for _, glob := range []string{"factor_*.html", "enroll_*.html", "notice_*.html"} {
		m, err := fs.Glob(templates.FS, glob)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, m...)
	}
	if len(pages) < 5 {
		t.Fatalf("only %d factor pages: %v", len(pages), pages)
	}
	return pages
}

func englishIDs(t *testing.T) []string {
	t.Helper()
	b, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	return b.IDs()
}

var literalID = regexp.MustCompile(`\.L\.T\s+"([^"]+)"`)

func TestTemplatesUseOnlyKnownMessageIDs(t *testing.T) {
	ids := englishIDs(t)
	for _, name := range ourPages(t) {
		t.Run(name+" uses only catalogued messages", func(t *testing.T) {
			buf, err := fs.ReadFile(templates.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			found := literalID.FindAllStringSubmatch(string(buf), -1)
			if len(found) < 3 {
				t.Fatalf("found only %d message ids; is the regexp still right?", len(found))
			}
			for _, m := range found {
				if _, ok := slices.BinarySearch(ids, m[1]); !ok {
					t.Errorf("unknown message id %q", m[1])
				}
			}
		})
	}
}

func TestErrorMessagesAreCatalogued(t *testing.T) {
	ids := englishIDs(t)
	for _, id := range []string{
		totp.MsgCodeRequired, totp.MsgCodeFormat, totp.MsgCodeWrong, totp.MsgCodeUsed, totp.MsgNameTooLong, totp.MsgNameInvalid,
		recovery.MsgCodeRequired, recovery.MsgCodeFormat, recovery.MsgCodeWrong, recovery.MsgCodeUsed, recovery.MsgSavedRequired,
		voice.MsgNotYet, voice.MsgDigitsWrong, voice.MsgNoEntry, voice.MsgWait, voice.MsgTooManyCalls, voice.MsgUnknownNumber,
		voice.MsgNumberKnown, voice.MsgTooManyWrong, voice.MsgNoNumber,
		oob.MsgCodeRequired, oob.MsgCodeFormat, oob.MsgCodeWrong, oob.MsgCodeExpired, oob.MsgCodeDead, oob.MsgCooldown, oob.MsgSendCap, oob.MsgNotYours,
		email.MsgEmailRequired, email.MsgEmailInvalid, email.MsgEmailTooLong, email.MsgEmailTaken, sms.MsgPhoneTaken,
		phone.MsgRequired, phone.MsgInvalid, phone.MsgCountry, phone.MsgNotMobile, phone.MsgNoCalls,
		notify.MsgLimited, notify.MsgUnavailable, notify.MsgUndeliverable, notify.MsgCountry,
	} {
		if _, ok := slices.BinarySearch(ids, id); !ok {
			t.Errorf("%q is not in the English catalog", id)
		}
	}
}

// render executes a page as idp/web's renderer does: the layout with the
// page's "title" and "content", missing keys as zero values.
func render(t *testing.T, tmpl string, data map[string]any) string {
	t.Helper()
	tp, err := template.New(tmpl).Option("missingkey=zero").Funcs(templates.Funcs).ParseFS(templates.FS, "layout.html", tmpl+".html")
	if err != nil {
		t.Fatalf("parse %s: %v", tmpl, err)
	}
	var buf bytes.Buffer
	if err := tp.ExecuteTemplate(&buf, "layout", data); err != nil {
		t.Fatalf("render %s: %v", tmpl, err)
	}
	return buf.String()
}

// leftovers are signs of a page that rendered wrongly: a message id shown
// instead of its text, a missing value, or a URL html/template refused.
var leftovers = regexp.MustCompile(`<no value>|ZgotmplZ|\b(factor|totp|recovery|email|sms|oob|voice|phone|notify)(\.[a-z_]+)+\b`)

func TestPagesRenderInEveryLanguage(t *testing.T) {
	b, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	pages := prompts(t)
	for _, tag := range i18n.Supported {
		for _, p := range pages {
			t.Run(p.name+" renders in "+tag.String(), func(t *testing.T) {
				data := map[string]any{
					"L": b.Localizer(tag), "CSRF": "csrf-1", "FlowID": "flow-1", "Client": "Portal",
					"Another": true, "Error": "", "FieldErrors": map[string]string{},
				}
				for k, v := range p.prompt.Data {
					data[k] = v
				}
				html := render(t, p.prompt.Template, data)
				if m := leftovers.FindString(html); m != "" {
					t.Errorf("page shows %q", m)
				}
				if !strings.Contains(html, `<input type="hidden" name="flow" value="flow-1">`) && !strings.HasPrefix(p.prompt.Template, "notice_") {
					t.Error("flow fields missing")
				}
			})
		}
	}
}

func TestPagesShowFieldErrorsAccessibly(t *testing.T) {
	b, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	en := b.Localizer(i18n.Supported[0])
	tests := []struct {
		name, page, field, msg string
		data                   map[string]any
		want                   []string
	}{
		{"the TOTP page marks a wrong code", "factor_totp", "code", totp.MsgCodeWrong, nil, []string{
			`action="/login/factor"`, `autocomplete="one-time-code"`, `inputmode="numeric"`,
			`<p class="field__error" id="code-error" role="alert">That code is not correct.`,
			`aria-describedby="code-hint code-error" aria-invalid="true"`,
			`href="/login/choose?flow=flow-1"`,
		}},
		{"the TOTP setup page marks a bad name", "enroll_totp", "name", totp.MsgNameTooLong, map[string]any{"QR": template.URL("data:image/png;base64,AAAA")}, []string{
			`action="/login/enroll"`, `<input type="hidden" name="op" value="finish">`,
			`src="data:image/png;base64,AAAA"`, `value="Authenticator app"`,
			`id="name-error" role="alert">Use at most 64 characters`,
			`aria-describedby="name-hint name-error" aria-invalid="true"`,
		}},
		{"the recovery page marks a malformed code", "factor_recovery", "code", recovery.MsgCodeFormat, nil, []string{
			`action="/login/factor"`, `autocomplete="one-time-code"`, `autocapitalize="characters"`,
			`id="code-error" role="alert">A recovery code has 8 letters and numbers`,
		}},
		{"the recovery setup page asks to tick the box", "enroll_recovery", "saved", recovery.MsgSavedRequired, map[string]any{"Codes": []string{"ABCD-2345"}}, []string{
			`<li><code>ABCD-2345</code></li>`, `name="saved" type="checkbox" value="on" required aria-invalid="true" aria-describedby="saved-error"`,
			`<input type="hidden" name="op" value="finish">`,
		}},
		{"the email page shows the session identifier and marks a wrong code", "factor_email", "code", oob.MsgCodeWrong, map[string]any{"Masked": "a•••@example.org", "SessionID": "042", "Minutes": 10}, []string{
			`action="/login/factor"`, `autocomplete="one-time-code"`, `inputmode="numeric"`,
			`We have sent an email to a•••@example.org.`, `Session identifier: <strong class="session-id">042</strong>`,
			`the same session identifier, 042.`, `valid for 10 minutes`,
			`<p class="field__error" id="code-error" role="alert">That code is not correct.`,
			`aria-describedby="code-hint code-error" aria-invalid="true"`,
			`<input type="hidden" name="op" value="resend">`, `href="/login/choose?flow=flow-1"`,
		}},
		{"the email setup page marks a bad address", "enroll_email", "email", email.MsgEmailInvalid, map[string]any{"Stage": "address", "Email": "anna@localhost"}, []string{
			`action="/login/enroll"`, `<input type="hidden" name="op" value="finish">`, `<input type="hidden" name="step" value="send">`,
			`type="email" value="anna@localhost"`, `autocomplete="email"`,
			`id="email-error" role="alert">This is not a valid email address.`,
			`aria-describedby="email-hint email-error" aria-invalid="true"`,
		}},
		{"the email setup page asks for the code with send again and another address", "enroll_email", "code", oob.MsgCodeDead, map[string]any{"Stage": "code", "Email": "anna@example.org", "Minutes": 10}, []string{
			`We have sent a confirmation code to anna@example.org.`, `<input type="hidden" name="step" value="confirm">`,
			`<input type="hidden" name="step" value="resend">`, `<input type="hidden" name="step" value="change">`,
			`autocomplete="one-time-code"`, `id="code-error" role="alert">A wrong code was entered too many times.`,
		}},
		{"the email setup page shows a failed send next to the address", "enroll_email", "", "", map[string]any{"Stage": "code", "Email": "anna@example.org", "SendError": notify.MsgUndeliverable}, []string{
			`id="email-error" role="alert">We could not deliver a message`,
		}},
		{"the SMS page shows the masked number, the other numbers and the help", "factor_sms", "code", oob.MsgCodeExpired, map[string]any{
			"Masked": "xxxx-xxxx72", "Minutes": 5, "Others": []sms.Other{{ID: "e-2", Masked: "xxxx-xxxx34"}},
		}, []string{
			`We have sent an SMS to your registered mobile number (xxxx-xxxx72). Enter the code from the SMS in the field below. Valid for: 5 minutes.`,
			`autocomplete="one-time-code"`, `id="code-error" role="alert">This code is no longer valid.`,
			`<button class="button button--secondary" type="submit">Send code again</button>`,
			`<button class="button button--secondary" type="submit" name="to" value="e-2">Send to xxxx-xxxx34</button>`,
			`a wrong number is registered on your account;`, `you use an SMS app that blocks us as a sender.`,
		}},
		{"the SMS setup page warns, selects the country and marks a landline", "enroll_sms", "phone", phone.MsgNotMobile, map[string]any{
			"Stage": "number", "Country": "SE", "Phone": "08 123 456",
			"Countries": []phone.Country{{Region: "NL", Code: 31, Name: "Netherlands"}, {Region: "SE", Code: 46, Name: "Sweden"}},
		}, []string{
			`<div class="note note--warning">`, `Codes sent by SMS can be intercepted or redirected to another phone. An authenticator app is safer.`,
			`<option value="NL">Netherlands (+31)</option>`, `<option value="SE" selected>Sweden (+46)</option>`,
			`name="phone" type="tel" value="08 123 456"`, `inputmode="tel" autocomplete="tel-national"`,
			`id="phone-error" role="alert">This is not a mobile number.`, `aria-describedby="phone-hint phone-error" aria-invalid="true"`,
			`<input type="hidden" name="step" value="send">`,
		}},
		{"the SMS setup page marks a refused country on the selector", "enroll_sms", "country", phone.MsgCountry, map[string]any{"Stage": "number"}, []string{
			`id="country-error" role="alert">Numbers from this country cannot be used.`, `aria-describedby="country-error" aria-invalid="true"`,
		}},
		{"the notice offers new codes when few are left", "notice_recovery", "", "", map[string]any{"Remaining": 2, "Total": 10, "Few": true}, []string{
			`Recovery codes left: 2 of 10.`, `<input type="hidden" name="op" value="begin">`,
			`<input type="hidden" name="factor" value="recovery">`, `href="/login?flow=flow-1"`, `only a few`,
		}},
		{"the notice says when none are left", "notice_recovery", "", "", map[string]any{"Remaining": 0, "Total": 10, "Few": true, "None": true}, []string{
			`Recovery codes left: 0 of 10.`, `your last recovery code`, `Generate new codes`,
		}},
		{"the voice setup page marks a refused number", "enroll_voice", "phone", phone.MsgInvalid, map[string]any{
			"Countries": []map[string]any{{"Region": "NL", "Label": "Nederland (+31)", "Selected": true}, {"Region": "PL", "Label": "Polen (+48)"}},
		}, []string{
			`action="/login/enroll"`, `<input type="hidden" name="op" value="finish">`, `<input type="hidden" name="step" value="verify">`,
			`<select class="field__input" id="country" name="country" autocomplete="country">`,
			`<option value="NL" selected>Nederland (&#43;31)</option>`, `<option value="PL">Polen (&#43;48)</option>`,
			`type="tel" inputmode="tel" autocomplete="tel-national"`, `Leave out the 0`,
			`id="phone-error" role="alert">This is not a valid phone number`,
			`aria-describedby="phone-hint phone-error" aria-invalid="true"`,
			`An authenticator app is safer.`, `Numbers that answer with a menu`,
		}},
		{"the voice setup page shows the digits while it calls", "enroll_voice", "", "", map[string]any{
			"HasNumber": true, "Waiting": true, "Number": "+31 6 12345678", "Digits": "4 7", "PollURL": "/login/status?flow=flow-1",
		}, []string{
			`We are calling &#43;31 6 12345678 now.`, `<p class="voice-digits">4 7</p>`,
			`data-poll="/login/status?flow=flow-1"`, `<input type="hidden" name="step" value="check">`,
			`<input type="hidden" name="step" value="call">`, `<input type="hidden" name="step" value="change">`,
		}},
		{"the voice login page shows the digits and the other numbers while it calls", "factor_voice", "", "", map[string]any{
			"Waiting": true, "Number": "xxxx-xxxx78", "Digits": "4 7", "PollURL": "/login/status?flow=flow-1",
			"Others": []map[string]any{{"ID": "e-2", "Masked": "xxxx-xxxx67"}},
		}, []string{
			`We are calling your number xxxx-xxxx78 now.`, `<p class="voice-digits">4 7</p>`,
			`<form class="form" method="post" action="/login/factor" data-poll="/login/status?flow=flow-1">`,
			`I typed the digits`, `<input type="hidden" name="op" value="resend">`,
			`<input type="hidden" name="to" value="e-2">`, `Call xxxx-xxxx67`, `href="/login/choose?flow=flow-1"`,
		}},
		{"the voice login page explains a failed call and polls no more", "factor_voice", "", "", map[string]any{
			"Failed": true, "Error": notify.MsgUnavailable, "PollURL": "/login/status?flow=flow-1",
		}, []string{
			`<div class="alert" id="form-error" role="alert">`, `Call me again`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := map[string]any{"L": en, "CSRF": "c", "FlowID": "flow-1", "Another": true, "Issuer": "IdP"}
			if tt.field != "" {
				data["FieldErrors"] = map[string]string{tt.field: tt.msg}
			}
			for k, v := range tt.data {
				data[k] = v
			}
			html := render(t, tt.page, data)
			for _, w := range tt.want {
				if !strings.Contains(html, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if t.Failed() {
				t.Logf("page:\n%s", html)
			}
		})
	}
	t.Run("without errors no field is marked", func(t *testing.T) {
		for _, name := range ourPages(t) {
			t.Run(name, func(t *testing.T) {
				html := render(t, strings.TrimSuffix(name, ".html"), map[string]any{"L": en})
				if strings.Contains(html, "aria-invalid") || strings.Contains(html, "field__error") {
					t.Errorf("%s marks a field without errors", name)
				}
			})
		}
	})
	t.Run("voice pages poll only while a call waits for its digits", func(t *testing.T) {
		for _, name := range []string{"factor_voice", "enroll_voice"} {
			for _, state := range []string{"Answered", "Wrong", "TimedOut", "Failed"} {
				html := render(t, name, map[string]any{"L": en, "HasNumber": true, state: true, "PollURL": "/login/status?flow=f"})
				if strings.Contains(html, "data-poll") {
					t.Errorf("%s polls when %s", name, state)
				}
			}
		}
	})
	t.Run("a form-level error is not announced twice", func(t *testing.T) {
		html := render(t, "factor_totp", map[string]any{"L": en, "Error": totp.MsgCodeWrong, "FieldErrors": map[string]string{"code": totp.MsgCodeWrong}})
		if strings.Count(html, `role="alert"`) != 1 {
			t.Errorf("%d alerts", strings.Count(html, `role="alert"`))
		}
	})
}
