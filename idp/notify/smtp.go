package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// The SMTP TLS modes.
const (
	// TLSStartTLS upgrades a plain connection (port 587 or 25) with
	// STARTTLS and refuses to go on when the relay does not offer it.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, port 465).
	TLSImplicit = "implicit"
	// TLSNone sends in clear: for a relay on loopback or a dev mail
	// catcher only. No password is ever sent this way.
	TLSNone = "none"
)

// defaultSMTPTimeout bounds each step of the SMTP conversation when the
// config says nothing.
const defaultSMTPTimeout = 10 * time.Second

// SMTPConfig is how to reach the mail relay.
type SMTPConfig struct {
	Host string
	Port int
	// TLS is TLSStartTLS (the default when empty), TLSImplicit or TLSNone.
	TLS string
	// Username and Password log in with SMTP AUTH (PLAIN or LOGIN, or a
	// SCRAM mechanism when the relay offers one); empty Username: no AUTH.
	Username, Password string
	// From is the sender, "noreply@idp.example" or
	// "Login <noreply@idp.example>"; ReplyTo is optional.
	From, ReplyTo string
	// Timeout bounds the dial and each later step; 0 means 10s.
	Timeout time.Duration
	// TLSConfig: nil means the system roots and the Host as server name.
	TLSConfig *tls.Config
	// HeloName is sent in EHLO; empty means the machine's host name.
	HeloName string
}

// SMTP sends email through a relay.
type SMTP struct {
	cfg        SMTPConfig
	tlsConfig  *tls.Config
	fromDomain string
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns the sender. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	var errs []error
	cfg.Host = strings.TrimSpace(cfg.Host)
	if cfg.Host == "" {
		errs = append(errs, errors.New("notify: smtp: host is required"))
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("notify: smtp: port %d is not a TCP port", cfg.Port))
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if cfg.Username != "" {
			errs = append(errs, errors.New(`notify: smtp: tls "none" with a username would send the password in clear; use "starttls" or "implicit"`))
		}
	default:
		errs = append(errs, fmt.Errorf(`notify: smtp: tls %q is not one of "starttls", "implicit", "none"`, cfg.TLS))
	}
	var fromDomain string
	if from, err := netmail.ParseAddress(cfg.From); err != nil {
		errs = append(errs, fmt.Errorf("notify: smtp: from %q is not an email address", cfg.From))
	} else {
		fromDomain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	}
	if cfg.ReplyTo != "" {
		if _, err := netmail.ParseAddress(cfg.ReplyTo); err != nil {
			errs = append(errs, fmt.Errorf("notify: smtp: reply_to %q is not an email address", cfg.ReplyTo))
		}
	}
	if cfg.Timeout < 0 {
		errs = append(errs, errors.New("notify: smtp: timeout must not be negative"))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultSMTPTimeout
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var tc *tls.Config
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	return &SMTP{cfg: cfg, tlsConfig: tc, fromDomain: fromDomain}, nil
}

// langTag is what may go into Content-Language: a BCP 47 tag, nothing
// that could break the header.
var langTag = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)

// Send delivers one email: a multipart/alternative of m.Text and m.HTML
// (plain text only when HTML is empty). Errors wrap ErrUnavailable (the
// relay could not be reached, TLS failed, a 4xx reply) or
// ErrUndeliverable (the relay refused the recipient with a 5xx); a 5xx
// anywhere else (AUTH, MAIL FROM, the message itself) is a configuration
// problem and wraps neither, so it is not retried. Error texts carry
// SMTP codes, never the message.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if m.Channel != Email {
		return fmt.Errorf("notify: smtp sends email, not %q", m.Channel)
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil || to.Name != "" {
		return fmt.Errorf("%w: not an email address", ErrUndeliverable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("notify: smtp: from: %w", err)
	}
	if s.cfg.ReplyTo != "" {
		if err := msg.ReplyTo(s.cfg.ReplyTo); err != nil {
			return fmt.Errorf("notify: smtp: reply_to: %w", err)
		}
	}
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	if langTag.MatchString(m.Lang) {
		msg.SetGenHeader(mail.HeaderContentLang, m.Lang)
	}
	// RFC 3834: a machine wrote this; vacation responders stay quiet.
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	msg.SetMessageIDWithValue(randomToken() + "@" + s.fromDomain)
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}

	timeout := s.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
		if timeout <= 0 {
			return fmt.Errorf("%w: %w", ErrUnavailable, context.DeadlineExceeded)
		}
	}
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTimeout(timeout),
		mail.WithTLSConfig(s.tlsConfig),
	}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.cfg.HeloName != "" {
		opts = append(opts, mail.WithHELO(s.cfg.HeloName))
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(s.cfg.Username),
			mail.WithPassword(s.cfg.Password))
	}
	client, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("notify: smtp: %w", err)
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return dialError(err)
	}
	sendErr := client.SendWithSMTPClient(conn, msg)
	// QUIT failing after the relay took the message changes nothing.
	_ = client.CloseWithSMTPClient(conn)
	if msg.IsDelivered() {
		return nil
	}
	return sendError(sendErr)
}

// dialError maps what went wrong before MAIL FROM: connecting, TLS,
// EHLO, AUTH.
func dialError(err error) error {
	var tp *textproto.Error
	switch {
	case errors.As(err, &tp) && tp.Code >= 500:
		// 535 bad credentials, 554 no service for us: ours to fix.
		return fmt.Errorf("notify: smtp: relay refused us: %d", tp.Code)
	case errors.Is(err, mail.ErrNoSupportedAuthDiscovered),
		errors.Is(err, mail.ErrPlainAuthNotSupported),
		errors.Is(err, mail.ErrLoginAuthNotSupported),
		strings.Contains(err.Error(), "does not support SMTP AUTH"):
		return fmt.Errorf("notify: smtp: %w", err)
	case errors.As(err, &tp):
		return fmt.Errorf("%w: smtp: relay answered %d", ErrUnavailable, tp.Code)
	default:
		// Network, timeout, TLS handshake or certificate, no STARTTLS.
		return fmt.Errorf("%w: smtp: %w", ErrUnavailable, err)
	}
}

// sendError maps a go-mail SendError by the command that failed and the
// reply code. Only codes and enhanced status codes go into the text: the
// relay's words often repeat the address.
func sendError(err error) error {
	if err == nil {
		return errors.New("notify: smtp: message not delivered")
	}
	var se *mail.SendError
	if !errors.As(err, &se) {
		return fmt.Errorf("%w: smtp: %w", ErrUnavailable, err)
	}
	code, esc := se.ErrorCode(), se.EnhancedStatusCode()
	detail := fmt.Sprintf("smtp: %s: %d %s", se.Reason, code, esc)
	switch {
	case code >= 400 && code < 500:
		return fmt.Errorf("%w: %s", ErrUnavailable, strings.TrimSpace(detail))
	case code >= 500 && se.Reason == mail.ErrSMTPRcptTo,
		// After DATA: a mailbox that is full or gone (5.1.x, 5.2.x).
		code >= 500 && (strings.HasPrefix(esc, "5.1.") || strings.HasPrefix(esc, "5.2.")):
		return fmt.Errorf("%w: %s", ErrUndeliverable, strings.TrimSpace(detail))
	case code >= 500:
		return fmt.Errorf("notify: %s", strings.TrimSpace(detail))
	}
	switch se.Reason {
	case mail.ErrGetSender, mail.ErrGetRcpts, mail.ErrNoUnencoded:
		return fmt.Errorf("notify: %s", se.Reason)
	}
	// No reply code: the connection broke mid-way.
	return fmt.Errorf("%w: smtp: %s", ErrUnavailable, se.Reason)
}

// randomToken is 128 random bits in hex, for Message-IDs.
func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
