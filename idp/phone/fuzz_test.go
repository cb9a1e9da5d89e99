package phone_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/eu-health-idp/idp/idp/phone"
)

// reparseRegions are the selectors a parsed number is read back with: its
// E.164 form must win over every one of them.
var reparseRegions = []string{"", "NL", "PL", "SE", "HU", "US", "GB", "DE", "IT", "JP", "BR"}

// FuzzParse checks what holds for any input, with the factors' policy (four
// countries) and with every country allowed: Parse never panics; what it
// accepts is E.164 (a +, then 7 to 15 digits) of an allowed country and
// reads back as the same Number whatever the selector; what it refuses it
// refuses with a *phone.Error carrying one of Parse's message ids.
func FuzzParse(f *testing.F) {
	for _, tc := range parsed {
		f.Add(tc.region, tc.raw)
	}
	for _, seed := range [][2]string{
		{"NL", ""},
		{"NL", "0800-FLOWERS"},
		{"NL", "٠٦١٢٣٤٥٦٧٨"},
		{"NL", "０６１２３４５６７８"},
		{"NL", "06\xff12345678"},
		{"NL", "+1 201-555-0123"},
		{"NL", "+800 1234 5678"},
		{"NL", "+881 6 12345678"},
		{"DE", "030 1234567890123"},
		{"DE", "01641"},
		{"xx", "+31612345678"},
		{"001", "+80012345678"},
		{"US", "011 31 6 12345678"},
		{"US", "00"},
		{"NL", "00"},
		{"NL", "+"},
		{"NL", "++31612345678"},
		{"NL", "+-31612345678"},
		{"NL", "0031 0031 612345678"},
		{"NL", "(((((06)))))12345678"},
		{"NL", "06/12.34.56.78"},
		{"IT", "06 1234 5678"},
		{"IT", "+39 06 1234 5678"},
		{"GB", "+44 (0)20 7946 0958"},
		{"RU", "8 (912) 345-67-89"},
		{"AR", "011 15 2345-6789"},
		{"MX", "044 55 1234 5678"},
		{"NL", strings.Repeat("9", 64)},
		{"NL", strings.Repeat("0", 65)},
		{"NL", strings.Repeat("+", 64)},
	} {
		f.Add(seed[0], seed[1])
	}

	four, err := phone.NewPolicy("NL", []string{"NL", "PL", "SE", "HU"})
	if err != nil {
		f.Fatal(err)
	}
	all, err := phone.NewPolicy("NL", nil)
	if err != nil {
		f.Fatal(err)
	}
	supported := phonenumbers.GetSupportedRegions()
	messages := []string{phone.MsgRequired, phone.MsgInvalid, phone.MsgCountry}

	f.Fuzz(func(t *testing.T, region, raw string) {
		for _, p := range []*phone.Policy{four, all} {
			n, err := p.Parse(region, raw)
			if err != nil {
				var perr *phone.Error
				if !errors.As(err, &perr) {
					t.Fatalf("Parse(%q, %q): %T %v, want a *phone.Error", region, raw, err, err)
				}
				if !slices.Contains(messages, perr.MessageID) {
					t.Fatalf("Parse(%q, %q): message id %q", region, raw, perr.MessageID)
				}
				if n != (phone.Number{}) {
					t.Fatalf("Parse(%q, %q) = %+v with error %v", region, raw, n, err)
				}
				continue
			}

			e := n.E164
			if !strings.HasPrefix(e, "+") || len(e) < 8 || len(e) > 16 {
				t.Fatalf("Parse(%q, %q): E164 %q", region, raw, e)
			}
			if strings.ContainsFunc(e[1:], func(r rune) bool { return r < '0' || r > '9' }) {
				t.Fatalf("Parse(%q, %q): E164 %q has more than digits", region, raw, e)
			}
			if !supported[n.Region] || !p.Allowed(e) || phone.Region(e) != n.Region {
				t.Fatalf("Parse(%q, %q): region %q of %q is not an allowed country", region, raw, n.Region, e)
			}
			if p == four && !slices.Contains([]string{"NL", "PL", "SE", "HU"}, n.Region) {
				t.Fatalf("Parse(%q, %q): region %q is not on the allow-list", region, raw, n.Region)
			}
			if n.Type < phone.Unknown || n.Type > phone.Other {
				t.Fatalf("Parse(%q, %q): type %d", region, raw, n.Type)
			}
			for _, r := range reparseRegions {
				again, err := p.Parse(r, e)
				if err != nil || again != n {
					t.Fatalf("Parse(%q, %q) = %+v, but Parse(%q, %q) = %+v, %v", region, raw, n, r, e, again, err)
				}
			}
			if again, err := p.Parse("", phone.Display(e)); err != nil || again != n {
				t.Fatalf("Parse(%q, %q) = %+v, but its display form %q parses as %+v, %v", region, raw, n, phone.Display(e), again, err)
			}
			if m := phone.Masked(e); m != "xxxx-xxxx"+e[len(e)-2:] {
				t.Fatalf("Masked(%q) = %q", e, m)
			}
		}
	})
}
