package web

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/templates"
)

// noticeMail is the mail that tells a person a sign-in method was added to
// or removed from their account (Ügyfélkapu+ sends one): someone who
// learned the password and set up their own phone is noticed by the owner.
type noticeMail struct {
	html *htmltemplate.Template
	text *texttemplate.Template
}

func parseNoticeMail() (noticeMail, error) {
	var m noticeMail
	var err error
	if m.html, err = htmltemplate.New("account_change").ParseFS(templates.Mail, "mail/layout.html.tmpl", "mail/account_change.html.tmpl"); err != nil {
		return m, fmt.Errorf("web: notice mail: %w", err)
	}
	if m.text, err = texttemplate.New("account_change.txt.tmpl").ParseFS(templates.Mail, "mail/account_change.txt.tmpl"); err != nil {
		return m, fmt.Errorf("web: notice mail: %w", err)
	}
	return m, nil
}

type noticeData struct {
	L                           *i18n.Localizer
	Lang, Subject, Body, Issuer string
}

// Notice events.
const (
	noticeAdded   = "added"
	noticeRemoved = "removed"
)

// noticeChange mails u, at their account address, that the method of
// enrollment e was added or removed. It never fails the request: a mail
// that cannot go out is logged, and the change stands.
func (s *Server) noticeChange(c echo.Context, u *store.User, event string, e store.Enrollment) {
	if s.Notify == nil || u == nil || u.Email == "" {
		return
	}
	f, ok := s.Factors.Get(e.Factor)
	if !ok {
		return
	}
	loc := s.localizer(c)
	method := loc.T(f.ID() + ".name")
	if d, ok := f.(factors.Describer); ok {
		if label := d.Describe(e); label != "" {
			method += " (" + label + ")"
		}
	}
	issuer := s.Provider.Issuer()
	d := noticeData{
		L: loc, Lang: loc.Lang(), Issuer: issuer,
		Subject: loc.T("account.mail."+event+".subject", "Issuer", issuer),
		Body:    loc.T("account.mail."+event+".body", "Method", method, "Time", s.Now().UTC().Format(time.DateTime+" MST")),
	}
	var hb, tb bytes.Buffer
	if err := s.notice.html.ExecuteTemplate(&hb, "layout", d); err != nil {
		s.log.Error("notice mail", "err", err)
		return
	}
	if err := s.notice.text.Execute(&tb, d); err != nil {
		s.log.Error("notice mail", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 10*time.Second)
	defer cancel()
	err := s.Notify.Send(ctx, notify.Message{
		Channel: notify.Email, To: u.Email, Ref: "account." + event + "." + e.ID, Lang: d.Lang,
		Subject: d.Subject, Text: tb.String(), HTML: hb.String(), UserID: u.ID, IP: c.RealIP(), Notice: true,
	})
	if err != nil {
		s.log.Warn("notice mail not sent", "user", u.ID, "event", event, "err", notify.MessageID(err))
	}
}
