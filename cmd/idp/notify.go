package main

import (
	"log/slog"
	"time"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/store"
)

// sentRefsKept is how long a node remembers a message reference, so a
// retry or a double submit never sends it twice: longer than any code or
// call lives.
const sentRefsKept = 24 * time.Hour

// buildNotify wires one transport per channel from config. Each is wrapped
// so a message is limited per destination, account and IP (and to the
// allowed countries), sent at most once across every node, and retried on
// transient provider errors. The callbacks are the voice provider's, nil
// when no provider places calls.
func buildNotify(cfg config.Config, st store.Store, phones *phone.Policy, log *slog.Logger, now func() time.Time) (notify.Router, notify.Callbacks, error) {
	var (
		r      notify.Router
		cb     notify.Callbacks
		twilio *notify.Twilio
	)
	n := cfg.Notify
	wrap := func(s notify.Sender) notify.Sender {
		s = notify.Retry(s, n.Retry.Attempts, n.Retry.Backoff)
		s = notify.Once(s, st, now, sentRefsKept)
		return notify.Limit(s, st, phones, notify.Limits{
			PerDestination: n.Limits.PerDestination, PerAccount: n.Limits.PerAccount, PerIP: n.Limits.PerIP, Window: n.Limits.Window,
		}, now)
	}
	getTwilio := func() (*notify.Twilio, error) {
		if twilio != nil {
			return twilio, nil
		}
		t, err := notify.NewTwilio(notify.TwilioConfig{
			AccountSID: n.Twilio.AccountSID, AuthToken: n.Twilio.AuthToken, From: n.Twilio.From,
			MessagingServiceSID: n.Twilio.MessagingServiceSID, BaseURL: n.Twilio.BaseURL, CallbackURL: cfg.VoiceCallbackURL(),
		})
		twilio = t
		return t, err
	}
	outbox := notify.NewOutbox(st, now, log)

	switch cfg.Transport("email") {
	case "smtp":
		s := n.Email.SMTP
		m, err := notify.NewSMTP(notify.SMTPConfig{
			Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: s.Password,
			From: s.From, ReplyTo: s.ReplyTo, Timeout: s.Timeout,
		})
		if err != nil {
			return r, nil, err
		}
		r.Email = wrap(m)
	case "outbox":
		r.Email = wrap(outbox)
	}
	switch cfg.Transport("sms") {
	case "twilio":
		t, err := getTwilio()
		if err != nil {
			return r, nil, err
		}
		r.SMS = wrap(t)
	case "webhook":
		w, err := notify.NewWebhook(notify.WebhookConfig{URL: n.Webhook.URL, Secret: n.Webhook.Secret})
		if err != nil {
			return r, nil, err
		}
		r.SMS = wrap(w)
	case "outbox":
		r.SMS = wrap(outbox)
	}
	switch cfg.Transport("voice") {
	case "twilio":
		t, err := getTwilio()
		if err != nil {
			return r, nil, err
		}
		r.Voice, cb = wrap(t), t
	case "outbox":
		r.Voice = wrap(outbox)
	}
	return r, cb, nil
}

// codeSettings turns a factor's config into its settings.
func codeSettings(c config.CodeFactorConfig) factors.CodeSettings {
	return factors.CodeSettings{Lifetime: c.CodeLifetime, ResendCooldown: c.ResendCooldown, SendsPerHour: c.SendsPerHour, Digits: 6}
}

// deliverable keeps the factors that need no delivery or whose channel has
// a transport: a factor that cannot send its code is never offered.
func deliverable(r notify.Router) func(factors.Factor) bool {
	return func(f factors.Factor) bool {
		ch := f.Properties().Channel
		return ch == "" || r.Has(notify.Channel(ch))
	}
}
