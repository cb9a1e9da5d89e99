package security

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Stable message IDs of PasswordError. Catalogs translate these; never
// change one without changing every catalog.
const (
	MsgPasswordTooShort = "password.too_short"
	MsgPasswordTooLong  = "password.too_long"
	MsgPasswordCommon   = "password.common"
	MsgPasswordContext  = "password.context"
)

// Length limits of SP 800-63B-4 section 3.1.1.2: at least 8 code points
// (15 when the password is the only factor) and a maximum of at least 64.
const (
	DefaultMinPasswordLength         = 8
	DefaultMinPasswordLengthPassOnly = 15
	DefaultMaxPasswordLength         = 64
)

// PasswordPolicy checks a new password the way NIST SP 800-63B-4 asks:
// length in Unicode code points after NFKC normalisation, no composition
// rules (no "one digit, one symbol"), and a blocklist of common, expected
// or compromised values. Zero fields mean the defaults (8 and 64).
type PasswordPolicy struct {
	MinLength int
	MaxLength int
}

// PasswordError says why a password was refused. ID is a stable message ID
// for translation; Min and Max carry the limits for the too_short and
// too_long messages.
type PasswordError struct {
	ID  string
	Min int
	Max int
}

func (e *PasswordError) Error() string {
	switch e.ID {
	case MsgPasswordTooShort:
		return fmt.Sprintf("password must be at least %d characters long", e.Min)
	case MsgPasswordTooLong:
		return fmt.Sprintf("password must be at most %d characters long", e.Max)
	case MsgPasswordCommon:
		return "password is too common: it appears in lists of frequently used or breached passwords"
	case MsgPasswordContext:
		return "password must not be the same as your username or email address"
	default:
		return "password is not acceptable"
	}
}

// Check returns nil when password is acceptable, or a *PasswordError.
// context holds words specific to the account (username, email address);
// an email address also rules out its local part.
func (p PasswordPolicy) Check(password string, context ...string) error {
	minLen, maxLen := p.MinLength, p.MaxLength
	if minLen <= 0 {
		minLen = DefaultMinPasswordLength
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxPasswordLength
	}
	normalized := norm.NFKC.String(password)
	n := utf8.RuneCountInString(normalized)
	if n < minLen {
		return &PasswordError{ID: MsgPasswordTooShort, Min: minLen, Max: maxLen}
	}
	if n > maxLen {
		return &PasswordError{ID: MsgPasswordTooLong, Min: minLen, Max: maxLen}
	}
	folded := strings.ToLower(normalized)
	for _, w := range context {
		w = strings.ToLower(norm.NFKC.String(strings.TrimSpace(w)))
		if w == "" {
			continue
		}
		local, _, isEmail := strings.Cut(w, "@")
		if folded == w || (isEmail && local != "" && folded == local) {
			return &PasswordError{ID: MsgPasswordContext, Min: minLen, Max: maxLen}
		}
	}
	if IsCommonPassword(normalized) {
		return &PasswordError{ID: MsgPasswordCommon, Min: minLen, Max: maxLen}
	}
	return nil
}

//go:embed common_passwords.txt.gz
var commonPasswordsGz []byte

// commonPasswords decompresses the bundled list once, on first use, so a
// process that never checks a new password (a CLI listing users) never pays
// for it. All entries share one backing string: one allocation instead of
// ~50,000.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic("security: bundled password list: " + err.Error())
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		panic("security: bundled password list: " + err.Error())
	}
	all := string(raw)
	set := make(map[string]struct{}, strings.Count(all, "\n")+1)
	for line := range strings.Lines(all) {
		if w := strings.TrimSpace(line); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
})

// IsCommonPassword reports whether password (compared case-insensitively
// after NFKC normalisation) is in the bundled list of common passwords.
func IsCommonPassword(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(norm.NFKC.String(password))]
	return ok
}

// CommonPasswordCount returns the number of entries in the bundled list.
func CommonPasswordCount() int { return len(commonPasswords()) }
