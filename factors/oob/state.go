package oob

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/notify"
)

// capWindow is the window SendsPerHour counts sends in.
const capWindow = time.Hour

// Sends is the send history of one challenge or set-up: when the current
// code was made, the sends of the last hour (for the cap) and how many
// there were in all (numbering the message references).
type Sends struct {
	// CodeAt is when the current code was made and handed to the sender:
	// the code's lifetime and the resend cooldown count from it.
	CodeAt time.Time `json:"code_at,omitzero"`
	// Times are the sends of the last hour, oldest first.
	Times []time.Time `json:"sends,omitempty"`
	// N counts every send; the n-th has the reference "<factor>....<n>".
	N int `json:"n,omitempty"`
	// Failed is the message id of the last send's failure ("" when it
	// went out). A failed send starts no cooldown, so "send again" works
	// at once.
	Failed string `json:"failed,omitempty"`
}

// allow reports whether another code may be sent at now: nil, or a
// Malformed *factors.Error on field ("" for the form) while the cooldown
// runs or once the hourly cap is reached.
func (s *Sends) allow(now time.Time, cfg factors.CodeSettings, field string) *factors.Error {
	if s.Failed == "" && !s.CodeAt.IsZero() && now.Before(s.CodeAt.Add(cfg.ResendCooldown)) {
		return &factors.Error{Kind: factors.Malformed, MessageID: MsgCooldown, Field: field}
	}
	if s.recent(now) >= cfg.SendsPerHour {
		return &factors.Error{Kind: factors.Malformed, MessageID: MsgSendCap, Field: field}
	}
	return nil
}

// recent counts the sends of the last hour before now.
func (s *Sends) recent(now time.Time) int {
	n := 0
	for _, t := range s.Times {
		if now.Sub(t) < capWindow {
			n++
		}
	}
	return n
}

// begin records a send about to go out at now and returns its number.
func (s *Sends) begin(now time.Time) int {
	kept := s.Times[:0:0]
	for _, t := range s.Times {
		if now.Sub(t) < capWindow {
			kept = append(kept, t)
		}
	}
	s.Times = append(kept, now)
	s.N++
	s.CodeAt = now
	s.Failed = ""
	return s.N
}

// fail records that the send begun last failed with err. A send refused by
// a limit never left, so it does not count toward the cap; any other
// failure does, because the provider may have been reached (and a broken
// provider must not be hammered).
func (s *Sends) fail(err error) {
	s.Failed = notify.MessageID(err)
	var le *notify.LimitError
	if errors.As(err, &le) && len(s.Times) > 0 {
		s.Times = s.Times[:len(s.Times)-1]
	}
}

// expired reports whether the current code is past its lifetime at now.
func (s *Sends) expired(now time.Time, lifetime time.Duration) bool {
	return s.CodeAt.IsZero() || !now.Before(s.CodeAt.Add(lifetime))
}

// Settings fills the zero fields of c from defaults (Digits from Digits)
// and refuses what a code factor cannot honour: another code length, a
// negative lifetime, cooldown or cap. factor names the factor in errors.
func Settings(factor string, c, defaults factors.CodeSettings) (factors.CodeSettings, error) {
	if c.Lifetime == 0 {
		c.Lifetime = defaults.Lifetime
	}
	if c.ResendCooldown == 0 {
		c.ResendCooldown = defaults.ResendCooldown
	}
	if c.SendsPerHour == 0 {
		c.SendsPerHour = defaults.SendsPerHour
	}
	if c.Digits == 0 {
		c.Digits = Digits
	}
	switch {
	case c.Digits != Digits:
		return c, fmt.Errorf("%s: codes have %d digits", factor, Digits)
	case c.Lifetime < 0 || c.ResendCooldown < 0 || c.SendsPerHour < 0:
		return c, fmt.Errorf("%s: negative lifetime, cooldown or cap", factor)
	}
	return c, nil
}

// Minutes is a lifetime in whole minutes, rounded up, for "valid for N
// minutes".
func Minutes(d time.Duration) int { return int(math.Ceil(d.Minutes())) }

// Challenge is the Data of a login challenge (store.Challenge.Data); the
// code's hash is in store.Challenge.CodeHash.
type Challenge struct {
	// Enrollment is the enrollment the current code went to.
	Enrollment string `json:"enrollment"`
	// Masked is its destination as the page shows it.
	Masked string `json:"masked"`
	// Session is the session identifier of an email login: made once per
	// challenge, kept by resends, since it names the login, not the mail.
	Session string `json:"session,omitempty"`
	Sends
}

// ParseChallenge reads a challenge's Data; "" is a challenge not started.
func ParseChallenge(data string) (Challenge, error) {
	var c Challenge
	if data == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return c, fmt.Errorf("oob: challenge data: %w", err)
	}
	return c, nil
}

// Setup is the state of a set-up waiting for its code, kept in the
// enrollment's Data until the enrollment is confirmed.
type Setup struct {
	// CodeHash is the keyed hash of the current code; "" when none is
	// waiting (before the first send, or after "use another address").
	CodeHash string `json:"code_hash,omitempty"`
	// Attempts are the wrong answers to the current code.
	Attempts int `json:"attempts,omitempty"`
	Sends
}

// EnrollData is the Data of an email or SMS enrollment: the destination
// (Email for the email factor, Phone in E.164 for SMS) and, while pending,
// the set-up state. A confirmed enrollment keeps no set-up state.
type EnrollData struct {
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// Primary marks the person's first confirmed number: login codes go
	// there unless the person picks another.
	Primary bool   `json:"primary,omitempty"`
	Setup   *Setup `json:"setup,omitempty"`
}

// ParseEnrollData reads an enrollment's Data; "" is an empty set-up.
func ParseEnrollData(data string) (EnrollData, error) {
	var d EnrollData
	if data == "" {
		return d, nil
	}
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return d, fmt.Errorf("oob: enrollment data: %w", err)
	}
	return d, nil
}

// Waiting reports whether a code was sent and the set-up waits for it.
func (d EnrollData) Waiting() bool { return d.Setup != nil && d.Setup.CodeHash != "" }

// SendFailed is the message id of the last set-up send's failure, "" when
// it went out.
func (d EnrollData) SendFailed() string {
	if d.Setup == nil {
		return ""
	}
	return d.Setup.Failed
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("oob: %w", err)
	}
	return string(b), nil
}
