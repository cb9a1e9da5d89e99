// Package oob is what the out-of-band code factors (factors/email,
// factors/sms) share: making a code and a session identifier, reading the
// code a person types, hashing it bound to where it was sent, masking the
// destination, and the send-and-check state machine of a login challenge
// (Kit.Start, Kit.Resend, Kit.Check) and of a set-up (Kit.SetupSend,
// Kit.SetupChange, Kit.SetupConfirm), with the resend cooldown, the hourly
// cap and the attempts per code.
//
// A code is 6 decimal digits from crypto/rand. Only a keyed hash of it is
// stored (factors.Deps.Codes), over the code and the challenge or
// enrollment it was made for, so a hash copied into another row never
// matches. A code counts from when it was sent; a resend replaces it.
package oob

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/security"
)

// Digits is the length of a code. The messages ("the code has 6 digits")
// and the autofill patterns assume it, so factors refuse other settings.
const Digits = 6

// SessionDigits is the length of the session identifier an email login
// shows on the page and in the mail (seed 002: three digits).
const SessionDigits = 3

// MaxSetupAttempts is how many wrong codes a set-up accepts per code sent;
// then the code is dead until a new one is sent. Login challenges are
// counted by the engine instead (store.Challenge.MaxAttempts).
const MaxSetupAttempts = 5

// FieldCode is the form field of the code on every page.
const FieldCode = "code"

// maxCodeInput bounds the form value ParseCode looks at, so a megabyte of
// spaces costs nothing.
const maxCodeInput = 64

// Message ids of the errors this package returns (locales/oob.*.json,
// factors.*.json).
const (
	MsgCodeRequired = "factor.error.code_required"
	MsgCodeFormat   = "factor.error.code_format"
	MsgCodeWrong    = "oob.error.code_wrong"
	// MsgCodeExpired: the code's lifetime is over (or none was sent).
	MsgCodeExpired = "oob.error.code_expired"
	// MsgCodeDead: too many wrong codes at set-up; a new one is needed.
	MsgCodeDead = "oob.error.code_dead"
	// MsgCooldown: "send again" pressed too soon after the last send.
	MsgCooldown = "oob.error.cooldown"
	// MsgSendCap: the hourly cap of the challenge or set-up is reached.
	MsgSendCap = "oob.error.send_cap"
	// MsgNotYours: a resend to a destination that is not the person's.
	MsgNotYours = "oob.error.not_yours"
)

// NewCode returns Digits uniformly random decimal digits.
func NewCode() string { return digits(Digits) }

// NewSessionID returns SessionDigits uniformly random decimal digits
// ("000" to "999").
func NewSessionID() string { return digits(SessionDigits) }

// digits draws a number below 10^n with rand.Int, which rejects biased
// draws itself, so every code is equally likely (no modulo bias).
func digits(n int) string {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, err := rand.Int(rand.Reader, max)
	if err != nil {
		// crypto/rand never fails since Go 1.24 (it crashes instead).
		panic("oob: crypto/rand: " + err.Error())
	}
	return fmt.Sprintf("%0*d", n, v)
}

// ParseCode reads what the person typed: exactly Digits ASCII digits,
// spaces ignored ("123 456" is how people copy a code). Anything else is a
// Malformed *factors.Error on FieldCode, never counted as an attempt.
func ParseCode(raw string) (string, *factors.Error) {
	if len(raw) > maxCodeInput || !utf8.ValidString(raw) {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeFormat, Field: FieldCode}
	}
	code := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, raw)
	if code == "" {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeRequired, Field: FieldCode}
	}
	if len(code) != Digits || strings.ContainsFunc(code, func(r rune) bool { return r < '0' || r > '9' }) {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgCodeFormat, Field: FieldCode}
	}
	return code, nil
}

// The scopes a code hash is bound to.
const (
	scopeChallenge = "challenge"
	scopeSetup     = "setup"
)

// hashCode is the keyed hash of code made for the row id of scope: the
// same code of another challenge or set-up hashes differently.
func hashCode(h *security.SecretHasher, scope, id, code string) string {
	return h.Hash(binding(scope, id, code))
}

// codeMatches compares in constant time (HMAC equality).
func codeMatches(h *security.SecretHasher, hash, scope, id, code string) bool {
	if hash == "" {
		return false
	}
	return h.Equal(hash, binding(scope, id, code))
}

func binding(scope, id, code string) string {
	return "oob\x00" + scope + "\x00" + id + "\x00" + code
}

// MaskEmail shows an address as its first letter, "•••" and the domain:
// "j•••@example.org", enough for the person to recognise it and little
// for someone looking over their shoulder.
func MaskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "•••"
	}
	r, _ := utf8.DecodeRuneInString(addr)
	return string(r) + "•••" + addr[at:]
}
