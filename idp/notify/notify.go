// Package notify delivers what factors send: email over SMTP, SMS through
// Twilio's Messaging API or a signed webhook any carrier can be bridged to,
// voice calls through Twilio Programmable Voice, and, in dev mode only, the
// dev outbox that stores every message in the database instead.
//
// Every transport is a Sender. Wrappers add what all of them need: Once (a
// message reference is sent at most once, on every node), Retry (backoff
// on transient provider errors), Limit (per destination, account and IP
// send limits and the allowed destination countries, against SMS pumping),
// and Router (one Sender per channel, chosen in config).
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Channel is how a message travels.
type Channel string

// The channels.
const (
	Email Channel = "email"
	SMS   Channel = "sms"
	Voice Channel = "voice"
)

// Message is one email, SMS or call.
type Message struct {
	Channel Channel
	// To is an email address, or a phone number in E.164 (+31612345678).
	To string
	// Ref identifies this send: a message with a Ref already sent is
	// refused (ErrDuplicate), so a retry or a double submit never sends
	// twice. For a call it is also the reference the keypad callback
	// carries back; it starts with the factor id and a dot.
	Ref string
	// Lang is the BCP 47 tag the message is written (or spoken) in.
	Lang string
	// Subject of an email.
	Subject string
	// Text is the email's plain-text part, the SMS, or what a call says
	// before it waits for the keypad.
	Text string
	// HTML is the email's HTML part.
	HTML string
	// Digits is how many keypad digits a call gathers.
	Digits int
	// UserID and IP are who caused the send, for the limits; never sent.
	UserID string
	IP     string
	// Notice marks a message that tells the person about a change to
	// their account (a sign-in method added). It is sent only after the
	// change was proved, never on demand, so it is not counted against
	// the send limits that guard codes and calls, and never uses up the
	// budget a code needs.
	Notice bool
}

// Sender delivers a message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Keypress is what a person typed during a call.
type Keypress struct {
	Ref    string
	Digits string
	// Ended: this is the provider's report that the call is over
	// (answered or not), not a keypress; Digits is empty.
	Ended bool
}

// Reply is what a call says after the keypress, before it hangs up.
type Reply struct {
	Text string
	Lang string
}

// Callbacks are the voice provider's requests back to us.
type Callbacks interface {
	// ParseKeypress authenticates a callback (Twilio: X-Twilio-Signature
	// over the public URL and the POST parameters) and returns the
	// keypress. ErrBadSignature when it is unsigned or wrongly signed.
	ParseKeypress(r *http.Request) (Keypress, error)
	// WriteReply answers the callback so the call says r and hangs up.
	WriteReply(w http.ResponseWriter, r Reply) error
}

var (
	// ErrBadSignature: a callback that is not the provider's.
	ErrBadSignature = errors.New("notify: callback signature missing or wrong")
	// ErrDuplicate: a message with this Ref was sent already.
	ErrDuplicate = errors.New("notify: message already sent")
	// ErrUndeliverable: the provider refused the destination for good (not
	// a number, a landline for SMS, blocked). Not retried.
	ErrUndeliverable = errors.New("notify: destination refused")
	// ErrUnavailable: the provider failed in a way worth retrying (network,
	// 5xx, 429). Retry gives up after its attempts and returns it.
	ErrUnavailable = errors.New("notify: provider unavailable")
	// ErrNotConfigured: no transport for the message's channel.
	ErrNotConfigured = errors.New("notify: channel not configured")
	// ErrCountryNotAllowed: an SMS or call to a country not on the
	// allow-list.
	ErrCountryNotAllowed = errors.New("notify: destination country not allowed")
)

// LimitError is a send refused by a limit.
type LimitError struct {
	// Scope is "destination", "account" or "ip".
	Scope string
	// RetryAfter is when the limit's window ends.
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("notify: %s send limit reached, retry after %s", e.Scope, e.RetryAfter)
}

// The message ids factors show when a send fails (locales/notify.*.json):
// never a provider's own words, never whether an account exists.
const (
	MsgLimited       = "notify.error.limited"
	MsgUnavailable   = "notify.error.unavailable"
	MsgUndeliverable = "notify.error.undeliverable"
	MsgCountry       = "notify.error.country"
)

// MessageID maps a Send error to the message to show the person, "" for
// nil.
func MessageID(err error) string {
	var le *LimitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &le):
		return MsgLimited
	case errors.Is(err, ErrUndeliverable):
		return MsgUndeliverable
	case errors.Is(err, ErrCountryNotAllowed):
		return MsgCountry
	default:
		return MsgUnavailable
	}
}
