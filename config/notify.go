package config

import (
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eu-health-idp/idp/idp/phone"
)

// CodeFactorConfig configures a factor that sends a code (factors.email,
// factors.sms).
type CodeFactorConfig struct {
	CodeLifetime   time.Duration `koanf:"code_lifetime"`   // from when the code was sent
	ResendCooldown time.Duration `koanf:"resend_cooldown"` // before "send again" works
	SendsPerHour   int           `koanf:"sends_per_hour"`  // per login challenge or set-up
}

// VoiceFactorConfig configures the voice-call factor (factors.voice).
type VoiceFactorConfig struct {
	// Digits shown on screen and typed on the keypad: 2 by default; 1 is
	// what seed 003 shows, and a 1-in-10 guess.
	Digits        int           `koanf:"digits"`
	CallsPer10Min int           `koanf:"calls_per_10min"` // per login challenge or set-up
	CallTimeout   time.Duration `koanf:"call_timeout"`    // how long the page waits for the keypad
}

// NotifyConfig is the notify section: one transport per channel.
type NotifyConfig struct {
	Email struct {
		// Transport: smtp | outbox (dev mode only) | none. Empty: outbox
		// in dev mode, else none.
		Transport string `koanf:"transport"`
		SMTP      struct {
			Host     string        `koanf:"host"`
			Port     int           `koanf:"port"`
			TLS      string        `koanf:"tls"` // starttls | implicit | none
			Username string        `koanf:"username"`
			Password string        `koanf:"password" secret:"true"`
			From     string        `koanf:"from"`
			ReplyTo  string        `koanf:"reply_to"`
			Timeout  time.Duration `koanf:"timeout"`
		} `koanf:"smtp"`
	} `koanf:"email"`
	SMS struct {
		// Transport: twilio | webhook | outbox (dev mode only) | none.
		Transport string `koanf:"transport"`
	} `koanf:"sms"`
	Voice struct {
		// Transport: twilio | outbox (dev mode only) | none.
		Transport string `koanf:"transport"`
	} `koanf:"voice"`
	Twilio struct {
		AccountSID          string `koanf:"account_sid"`
		AuthToken           string `koanf:"auth_token" secret:"true"`
		From                string `koanf:"from"`                  // E.164 caller id / SMS sender
		MessagingServiceSID string `koanf:"messaging_service_sid"` // SMS through a messaging service instead of From
		BaseURL             string `koanf:"base_url"`              // "" = https://api.twilio.com
		// CallbackURL is the public URL Twilio posts keypresses to; ""
		// = <issuer>/hooks/voice.
		CallbackURL string `koanf:"callback_url"`
	} `koanf:"twilio"`
	Webhook struct {
		URL    string `koanf:"url"`
		Secret string `koanf:"secret" secret:"true"` // HMAC-SHA256 key of X-IdP-Signature
	} `koanf:"webhook"`
	Limits struct {
		PerDestination int           `koanf:"per_destination"` // sends per window to one address or number
		PerAccount     int           `koanf:"per_account"`
		PerIP          int           `koanf:"per_ip"`
		Window         time.Duration `koanf:"window"`
	} `koanf:"limits"`
	Retry struct {
		Attempts int           `koanf:"attempts"` // tries per message on transient provider errors
		Backoff  time.Duration `koanf:"backoff"`  // first wait; doubles
	} `koanf:"retry"`
}

func defaultNotify(c *Config) {
	c.Factors.Email = CodeFactorConfig{CodeLifetime: 10 * time.Minute, ResendCooldown: 30 * time.Second, SendsPerHour: 5}
	c.Factors.SMS = CodeFactorConfig{CodeLifetime: 5 * time.Minute, ResendCooldown: 30 * time.Second, SendsPerHour: 5}
	c.Factors.Voice = VoiceFactorConfig{Digits: 2, CallsPer10Min: 3, CallTimeout: 90 * time.Second}
	n := &c.Notify
	n.Email.SMTP.Port = 587
	n.Email.SMTP.TLS = "starttls"
	n.Email.SMTP.Timeout = 15 * time.Second
	n.Limits.PerDestination = 10
	n.Limits.PerAccount = 20
	n.Limits.PerIP = 50
	n.Limits.Window = time.Hour
	n.Retry.Attempts = 3
	n.Retry.Backoff = 500 * time.Millisecond
	// The seeds' countries; an operator elsewhere lists their own.
	c.Phone.DefaultCountry = "NL"
	c.Phone.AllowedCountries = []string{"NL", "BE", "DE", "PL", "SE", "HU"}
}

// Transport returns the transport of channel ("email", "sms", "voice")
// after the dev-mode default: "" becomes outbox in dev mode, else none.
func (c Config) Transport(channel string) string {
	var t string
	switch channel {
	case "email":
		t = c.Notify.Email.Transport
	case "sms":
		t = c.Notify.SMS.Transport
	case "voice":
		t = c.Notify.Voice.Transport
	}
	if t == "" {
		if c.Dev {
			return "outbox"
		}
		return "none"
	}
	return t
}

// VoiceCallbackURL is the public URL of the keypad callback.
func (c Config) VoiceCallbackURL() string {
	if c.Notify.Twilio.CallbackURL != "" {
		return c.Notify.Twilio.CallbackURL
	}
	return strings.TrimSuffix(c.Issuer, "/") + "/hooks/voice"
}

// PhonePolicy builds the phone policy of phone.*.
func (c Config) PhonePolicy() (*phone.Policy, error) {
	return phone.NewPolicy(c.Phone.DefaultCountry, c.Phone.AllowedCountries)
}

func (c Config) validateNotify(bad func(key, format string, args ...any), positive func(string, time.Duration)) {
	for _, f := range []struct {
		key string
		cfg CodeFactorConfig
	}{{"factors.email", c.Factors.Email}, {"factors.sms", c.Factors.SMS}} {
		positive(f.key+".code_lifetime", f.cfg.CodeLifetime)
		if f.cfg.CodeLifetime > c.Factors.ChallengeLifetime && c.Factors.ChallengeLifetime > 0 {
			bad(f.key+".code_lifetime", "must not exceed factors.challenge_lifetime (%s): a code lives inside its challenge, got %s", c.Factors.ChallengeLifetime, f.cfg.CodeLifetime)
		}
		if f.cfg.ResendCooldown < 0 {
			bad(f.key+".resend_cooldown", "must not be negative, got %s", f.cfg.ResendCooldown)
		}
		if f.cfg.SendsPerHour < 1 {
			bad(f.key+".sends_per_hour", "must be at least 1, got %d", f.cfg.SendsPerHour)
		}
	}
	v := c.Factors.Voice
	if v.Digits < 1 || v.Digits > 6 {
		bad("factors.voice.digits", "must be from 1 to 6, got %d", v.Digits)
	}
	if v.CallsPer10Min < 1 {
		bad("factors.voice.calls_per_10min", "must be at least 1, got %d", v.CallsPer10Min)
	}
	positive("factors.voice.call_timeout", v.CallTimeout)

	n := c.Notify
	transports := map[string][]string{
		"email": {"smtp", "outbox", "none"},
		"sms":   {"twilio", "webhook", "outbox", "none"},
		"voice": {"twilio", "outbox", "none"},
	}
	twilio := false
	for _, ch := range []string{"email", "sms", "voice"} {
		t, key := c.Transport(ch), "notify."+ch+".transport"
		switch {
		case !slices.Contains(transports[ch], t):
			bad(key, "must be one of %s; got %q", strings.Join(transports[ch], ", "), t)
		case t == "outbox" && !c.Dev:
			// The outbox shows every code to whoever opens /dev/outbox.
			bad(key, "outbox is allowed only in dev mode")
		case t == "twilio":
			twilio = true
		}
	}
	if c.Transport("email") == "smtp" {
		s := n.Email.SMTP
		if s.Host == "" {
			bad("notify.email.smtp.host", "is required with the smtp transport")
		}
		if s.Port < 1 || s.Port > 65535 {
			bad("notify.email.smtp.port", "must be from 1 to 65535, got %d", s.Port)
		}
		if !slices.Contains([]string{"starttls", "implicit", "none"}, s.TLS) {
			bad("notify.email.smtp.tls", "must be starttls, implicit or none; got %q", s.TLS)
		} else if s.TLS == "none" && !c.Dev && !isLoopback(s.Host) {
			bad("notify.email.smtp.tls", "none is allowed only in dev mode or to a relay on a loopback host")
		}
		if _, err := mail.ParseAddress(s.From); err != nil {
			bad("notify.email.smtp.from", "must be an email address, got %q", s.From)
		}
		if s.ReplyTo != "" {
			if _, err := mail.ParseAddress(s.ReplyTo); err != nil {
				bad("notify.email.smtp.reply_to", "must be an email address, got %q", s.ReplyTo)
			}
		}
		positive("notify.email.smtp.timeout", s.Timeout)
	}
	if twilio {
		t := n.Twilio
		if t.AccountSID == "" {
			bad("notify.twilio.account_sid", "is required with the twilio transport")
		}
		if t.AuthToken == "" {
			bad("notify.twilio.auth_token", "is required with the twilio transport")
		}
		if t.From == "" && (t.MessagingServiceSID == "" || c.Transport("voice") == "twilio") {
			bad("notify.twilio.from", "is required with the twilio transport (calls always need it)")
		}
		if t.BaseURL != "" {
			if u, err := url.Parse(t.BaseURL); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
				bad("notify.twilio.base_url", "must be an https URL (http only on a loopback host), got %q", t.BaseURL)
			}
		}
		if c.Transport("voice") == "twilio" {
			if u, err := url.Parse(c.VoiceCallbackURL()); err != nil || u.Scheme != "https" && !c.Dev {
				bad("notify.twilio.callback_url", "must be a public https URL Twilio can reach, got %q", c.VoiceCallbackURL())
			}
		}
	}
	if c.Transport("sms") == "webhook" {
		if u, err := url.Parse(n.Webhook.URL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
			bad("notify.webhook.url", "must be an https URL (http only on a loopback host), got %q", n.Webhook.URL)
		}
		if len(n.Webhook.Secret) < 32 {
			bad("notify.webhook.secret", "must be at least 32 characters (generate one with: openssl rand -hex 32)")
		}
	}
	for key, v := range map[string]int{
		"notify.limits.per_destination": n.Limits.PerDestination, "notify.limits.per_account": n.Limits.PerAccount, "notify.limits.per_ip": n.Limits.PerIP,
	} {
		if v < 0 {
			bad(key, "must not be negative (0 = no limit), got %d", v)
		}
	}
	positive("notify.limits.window", n.Limits.Window)
	if n.Retry.Attempts < 1 || n.Retry.Attempts > 10 {
		bad("notify.retry.attempts", "must be from 1 to 10, got %d", n.Retry.Attempts)
	}
	positive("notify.retry.backoff", n.Retry.Backoff)
	if _, err := c.PhonePolicy(); err != nil {
		bad("phone", "%s", strings.TrimPrefix(err.Error(), "phone: "))
	}
}
