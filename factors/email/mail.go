package email

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"strings"
	texttemplate "text/template"
	"unicode"
	"unicode/utf8"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/oob"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/notify"
)

const (
	// maxAddress is the longest address SMTP can deliver to (RFC 5321's
	// 256-octet path minus the angle brackets).
	maxAddress = 254
)

// The mails the factor sends.
const (
	mailCode  = "code"  // a login code with the session identifier
	mailEnrol = "enrol" // the confirmation code of a set-up
)

// parseMails parses templates/mail/email_{code,enrol}: the HTML part in
// the shared layout, the plain-text part on its own.
func parseMails(fsys fs.FS) (mails, error) {
	var m mails
	var err error
	parseHTML := func(name string) (*htmltemplate.Template, error) {
		return htmltemplate.New(name).ParseFS(fsys, "mail/layout.html.tmpl", "mail/"+name+".html.tmpl")
	}
	parseText := func(name string) (*texttemplate.Template, error) {
		return texttemplate.New(name+".txt.tmpl").ParseFS(fsys, "mail/"+name+".txt.tmpl")
	}
	if m.codeHTML, err = parseHTML("email_code"); err != nil {
		return m, fmt.Errorf("email: %w", err)
	}
	if m.enrolHTML, err = parseHTML("email_enrol"); err != nil {
		return m, fmt.Errorf("email: %w", err)
	}
	if m.codeText, err = parseText("email_code"); err != nil {
		return m, fmt.Errorf("email: %w", err)
	}
	if m.enrolText, err = parseText("email_enrol"); err != nil {
		return m, fmt.Errorf("email: %w", err)
	}
	return m, nil
}

// mailData is what the mail templates see. Texts come from the catalogs
// through L, as on the pages; html/template escapes them in the HTML part.
type mailData struct {
	L       *i18n.Localizer
	Lang    string
	Subject string
	Issuer  string
	Code    string
	Session string
	Minutes int
}

// mail writes the mail of kind carrying code (and, for a login, the
// session identifier) to the address to, in lang.
func (f *Factor) mail(lang, to, kind, code, session string) (notify.Message, error) {
	loc := f.messages.Localizer(f.messages.Match(lang, ""))
	d := mailData{
		L: loc, Lang: loc.Lang(), Issuer: f.issuer, Code: code, Session: session,
		Minutes: oob.Minutes(f.kit.Settings.Lifetime),
	}
	html, text := f.mails.codeHTML, f.mails.codeText
	if kind == mailEnrol {
		html, text = f.mails.enrolHTML, f.mails.enrolText
		d.Subject = loc.T("email.mail.enrol.subject", "Issuer", f.issuer)
	} else {
		d.Subject = loc.T("email.mail.code.subject", "Issuer", f.issuer, "Session", session)
	}
	var hb, tb bytes.Buffer
	if err := html.ExecuteTemplate(&hb, "layout", d); err != nil {
		return notify.Message{}, fmt.Errorf("email: rendering the %s mail: %w", kind, err)
	}
	if err := text.Execute(&tb, d); err != nil {
		return notify.Message{}, fmt.Errorf("email: rendering the %s mail: %w", kind, err)
	}
	return notify.Message{
		Channel: notify.Email, To: to, Lang: d.Lang, Subject: d.Subject, Text: tb.String(), HTML: hb.String(),
	}, nil
}

// ParseAddress reads the address a person typed: a bare address (no
// display name, no angle brackets) that net/mail accepts, with a dotted
// domain, at most 254 characters; the domain is lower-cased (the local
// part is the mailbox owner's and kept as typed). Errors are Malformed on
// the field "email".
func ParseAddress(raw string) (string, *factors.Error) {
	bad := func(id string) (string, *factors.Error) {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: id, Field: FieldEmail}
	}
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return bad(MsgEmailRequired)
	case len(s) > maxAddress:
		return bad(MsgEmailTooLong)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
	}):
		return bad(MsgEmailInvalid)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return bad(MsgEmailInvalid)
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], strings.ToLower(s[at+1:])
	// A mailbox on the internet has a dotted host name: "anna@localhost"
	// and address literals ("[192.0.2.1]") are typing mistakes here.
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") || strings.ContainsAny(domain, "[]") {
		return bad(MsgEmailInvalid)
	}
	return local + "@" + domain, nil
}
