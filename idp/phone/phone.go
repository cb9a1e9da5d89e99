// Package phone parses, checks and shows telephone numbers with Google's
// libphonenumber (the nyaruka/phonenumbers port): numbers are stored in
// E.164, typed the way people know them (a country chosen in a selector,
// the national number with or without its trunk "0"), and known to be
// mobile or fixed, since SMS goes to mobiles only while a call reaches
// both.
package phone

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

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
	// Selector: the refusal is of the country chosen in the selector (not
	// of a +CC or 00CC typed in the number), so a form shows it next to
	// the selector.
	Selector bool
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

// maxInput bounds what Parse looks at: the longest E.164 number is 15
// digits, so 64 characters leave room for spaces and punctuation only.
const maxInput = 64

// The digits an accepted number has, country code included. E.164 allows
// 15 at most; libphonenumber also takes longer German and Indonesian
// numbers (extensions dialled through, toll-free ranges) that no SMS or
// voice provider accepts. Below 7 are only service numbers (a German pager
// range, Iranian UANs), never a person's line.
const (
	minDigits = 7
	maxDigits = 15
)

// Masked shows a number the way seed 004 does: every digit but the last
// two replaced, grouped as "xxxx-xxxx72". Only ASCII digits count, so a
// formatted number ("+31 6 1234 56 7 8") shows its last two digits too, and
// nothing else of the input (never half a multi-byte character) gets out.
func Masked(e164 string) string {
	var digits []byte
	for i := 0; i < len(e164); i++ {
		if c := e164[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) < 4 {
		return "xxxx-xxxx"
	}
	return "xxxx-xxxx" + string(digits[len(digits)-2:])
}

// Region returns the region of an E.164 number ("" when unknown, and for
// the non-geographic codes such as +800 or +881, which libphonenumber
// gives the region "001": they belong to no country).
func Region(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return country(n)
}

// country is n's ISO 3166-1 region, or "" when n belongs to none.
func country(n *phonenumbers.PhoneNumber) string {
	r := phonenumbers.GetRegionCodeForNumber(n)
	if !phonenumbers.GetSupportedRegions()[r] {
		return ""
	}
	return r
}

// NewPolicy checks the regions (ISO codes libphonenumber knows) and
// returns the policy; allowed empty means every country.
func NewPolicy(defaultRegion string, allowed []string) (*Policy, error) {
	supported := phonenumbers.GetSupportedRegions()
	defaultRegion = strings.ToUpper(strings.TrimSpace(defaultRegion))
	if !supported[defaultRegion] {
		return nil, fmt.Errorf("phone: default country %q is not a region code libphonenumber knows", defaultRegion)
	}
	p := &Policy{defaultRegion: defaultRegion}
	for _, r := range allowed {
		r = strings.ToUpper(strings.TrimSpace(r))
		if !supported[r] {
			return nil, fmt.Errorf("phone: allowed country %q is not a region code libphonenumber knows", r)
		}
		if !slices.Contains(p.allowed, r) {
			p.allowed = append(p.allowed, r)
		}
	}
	if len(p.allowed) > 0 && !slices.Contains(p.allowed, defaultRegion) {
		return nil, fmt.Errorf("phone: default country %s is not among the allowed countries", defaultRegion)
	}
	return p, nil
}

// DefaultRegion is the country the selector starts on.
func (p *Policy) DefaultRegion() string { return p.defaultRegion }

// Parse reads what a person typed: region is the selector's choice (""
// for the default), raw the number as typed, with or without the trunk
// "0", spaces, dashes, parentheses or a leading +CC / 00CC (which wins
// over the selector). Errors are *Error.
func (p *Policy) Parse(region, raw string) (Number, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Number{}, &Error{MessageID: MsgRequired}
	}
	if len(raw) > maxInput || !utf8.ValidString(raw) || strings.ContainsFunc(raw, notNumberRune) {
		return Number{}, &Error{MessageID: MsgInvalid}
	}
	region = strings.ToUpper(strings.TrimSpace(region))
	if region == "" {
		region = p.defaultRegion
	}
	if !phonenumbers.GetSupportedRegions()[region] {
		return Number{}, &Error{MessageID: MsgCountry, Selector: true}
	}
	n, ok := parseValid(raw, region)
	if !ok && strings.HasPrefix(raw, "00") {
		// 00 is the international prefix in Europe but not everywhere (the
		// US dials 011): a 00CC number wins over any selector too.
		n, ok = parseValid("+"+raw[2:], region)
	}
	if !ok {
		return Number{}, &Error{MessageID: MsgInvalid}
	}
	num := Number{
		E164:   phonenumbers.Format(n, phonenumbers.E164),
		Region: country(n),
		Type:   lineType(phonenumbers.GetNumberType(n)),
	}
	if digits := len(num.E164) - 1; digits < minDigits || digits > maxDigits {
		return Number{}, &Error{MessageID: MsgInvalid}
	}
	if !p.allows(num.Region) {
		international := strings.HasPrefix(raw, "+") || strings.HasPrefix(raw, "00")
		return Number{}, &Error{MessageID: MsgCountry, Selector: !international}
	}
	return num, nil
}

// parseValid parses raw as typed with region selected and reports whether
// it is a valid number.
func parseValid(raw, region string) (*phonenumbers.PhoneNumber, bool) {
	n, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return nil, false
	}
	return n, true
}

// notNumberRune is anything but what people type in a number: ASCII
// digits, a leading plus, spaces and the usual separators. Letters
// (vanity numbers) and other scripts' digits are refused rather than
// guessed at.
func notNumberRune(r rune) bool {
	switch {
	case r >= '0' && r <= '9', r == '+', r == ' ', r == '-', r == '.', r == '(', r == ')', r == '/':
		return false
	}
	return true
}

func lineType(t phonenumbers.PhoneNumberType) Type {
	switch t {
	case phonenumbers.MOBILE:
		return Mobile
	case phonenumbers.FIXED_LINE:
		return Landline
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return Either
	case phonenumbers.UNKNOWN:
		return Unknown
	}
	return Other
}

// allows reports whether region is a country numbers may belong to: every
// country when the allow-list is empty, never "" or a non-geographic
// "001" (international freephone, satellite phones).
func (p *Policy) allows(region string) bool {
	return phonenumbers.GetSupportedRegions()[region] && (len(p.allowed) == 0 || slices.Contains(p.allowed, region))
}

// Allowed reports whether an E.164 number belongs to an allowed country.
func (p *Policy) Allowed(e164 string) bool { return p.allows(Region(e164)) }

// Countries lists the selector's entries, named in lang, the default
// first, then by name.
func (p *Policy) Countries(lang string) []Country {
	regions := p.allowed
	if len(regions) == 0 {
		for r := range phonenumbers.GetSupportedRegions() {
			regions = append(regions, r)
		}
	}
	tag, err := language.Parse(lang)
	if err != nil {
		tag = language.English
	}
	names := display.Regions(tag)
	col := collate.New(tag)
	out := make([]Country, 0, len(regions))
	for _, r := range regions {
		name := r
		if reg, err := language.ParseRegion(r); err == nil {
			if n := names.Name(reg); n != "" {
				name = n
			}
		}
		out = append(out, Country{Region: r, Code: phonenumbers.GetCountryCodeForRegion(r), Name: name})
	}
	slices.SortFunc(out, func(a, b Country) int {
		switch {
		case a.Region == b.Region:
			return 0
		case a.Region == p.defaultRegion:
			return -1
		case b.Region == p.defaultRegion:
			return 1
		}
		if c := col.CompareString(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Region, b.Region) // same name: still one order
	})
	return out
}

// Display formats an E.164 number for the person who owns it, in the
// international format ("+31 6 12345678").
func Display(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}
