// Package phone parses, checks and shows telephone numbers with Google's
// libphonenumber (the nyaruka/phonenumbers port): numbers are stored in
// E.164, typed the way people know them (a country chosen in a selector,
// the national number with or without its trunk "0"), and known to be
// mobile or fixed, since SMS goes to mobiles only while a call reaches
// both.
package phone

// CONTRACT: the API below is fixed; the bodies are the phone helper's.

// Type is what kind of line a number is.
type Type int

// The line types.
const (
	Unknown  Type = iota
	Mobile        // can receive SMS and calls
	Landline      // calls only
	Either        // the numbering plan cannot tell (US, CA): SMS and calls
	Other         // toll-free, premium, VoIP, pager, ...: neither
)

// Number is a parsed, valid number.
type Number struct {
	E164   string // "+31612345678"
	Region string // ISO 3166-1 alpha-2, "NL"
	Type   Type
}

// CanSMS reports whether an SMS may be sent to n.
func (n Number) CanSMS() bool { return n.Type == Mobile || n.Type == Either }

// CanCall reports whether n may be called.
func (n Number) CanCall() bool { return n.Type == Mobile || n.Type == Landline || n.Type == Either }

// Error is a number refused, with the message id to show next to the field.
type Error struct {
	MessageID string
}

func (e *Error) Error() string { return "phone: " + e.MessageID }

// Message ids (locales/phone.*.json).
const (
	MsgRequired  = "phone.error.required"   // nothing typed
	MsgInvalid   = "phone.error.invalid"    // not a number of that country
	MsgCountry   = "phone.error.country"    // a country not on the allow-list
	MsgNotMobile = "phone.error.not_mobile" // SMS asked for a landline
	MsgNoCalls   = "phone.error.no_calls"   // a number that cannot be called
)

// Country is one entry of the country selector.
type Country struct {
	Region string // "NL"
	Code   int    // 31
	Name   string // in the page's language: "Nederland", "Netherlands"
}

// Policy is the configured default country and the countries numbers may
// belong to (against SMS pumping to premium ranges abroad).
type Policy struct {
	defaultRegion string
	allowed       []string
}

// Masked shows a number the way seed 004 does: every digit but the last
// two replaced, grouped as "xxxx-xxxx72".
func Masked(e164 string) string { panic("phone: not implemented") }

// Region returns the region of an E.164 number ("" when unknown).
func Region(e164 string) string { panic("phone: not implemented") }

// NewPolicy checks the regions (ISO codes libphonenumber knows) and
// returns the policy; allowed empty means every country.
func NewPolicy(defaultRegion string, allowed []string) (*Policy, error) {
	panic("phone: not implemented")
}

// DefaultRegion is the country the selector starts on.
func (p *Policy) DefaultRegion() string { return p.defaultRegion }

// Parse reads what a person typed: region is the selector's choice (""
// for the default), raw the number as typed, with or without the trunk
// "0", spaces, dashes, parentheses or a leading +CC / 00CC (which wins
// over the selector). Errors are *Error.
func (p *Policy) Parse(region, raw string) (Number, error) { panic("phone: not implemented") }

// Allowed reports whether an E.164 number belongs to an allowed country.
func (p *Policy) Allowed(e164 string) bool { panic("phone: not implemented") }

// Countries lists the selector's entries, named in lang, the default
// first, then by name.
func (p *Policy) Countries(lang string) []Country { panic("phone: not implemented") }

// Display formats an E.164 number for the person who owns it, in the
// international format ("+31 6 12345678").
func Display(e164 string) string { panic("phone: not implemented") }
