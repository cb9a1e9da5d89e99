package phone_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/eu-health-idp/idp/idp/phone"
)

// eu is the policy the sending factors are tested with: the Netherlands
// by default, three more countries allowed.
func eu(t *testing.T) *phone.Policy {
	t.Helper()
	p, err := phone.NewPolicy("NL", []string{"NL", "PL", "SE", "HU"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// world allows every country.
func world(t *testing.T) *phone.Policy {
	t.Helper()
	p, err := phone.NewPolicy("NL", nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The numbers are libphonenumber's example numbers for each country and
// line type (phonenumbers.GetExampleNumberForType), typed the ways people
// type them.
var parsed = []struct {
	name   string
	region string // the selector
	raw    string
	want   phone.Number
}{
	{"a Dutch mobile with its trunk 0", "NL", "06 12345678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"a Dutch mobile without its trunk 0", "NL", "612345678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"a Dutch mobile with dashes", "NL", "06-1234 5678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"a Dutch mobile with +31", "NL", "+31 6 12345678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"a Dutch mobile with 0031", "NL", "0031 6 1234 5678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"a Dutch mobile with +31 and the trunk 0 in parentheses", "NL", "+31 (0)6 12345678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"a Dutch mobile with the default country", "", "0612345678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"a Dutch mobile with a lower-case selector", "nl", "0612345678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"an Amsterdam landline with its trunk 0", "NL", "020 123 4567", phone.Number{E164: "+31201234567", Region: "NL", Type: phone.Landline}},
	{"an Amsterdam landline without its trunk 0", "NL", "20 123 4567", phone.Number{E164: "+31201234567", Region: "NL", Type: phone.Landline}},
	{"a Rotterdam landline in parentheses", "NL", "(010) 123-4567", phone.Number{E164: "+31101234567", Region: "NL", Type: phone.Landline}},
	{"a Polish mobile", "PL", "512 345 678", phone.Number{E164: "+48512345678", Region: "PL", Type: phone.Mobile}},
	{"a Polish mobile with +48", "PL", "+48 512-345-678", phone.Number{E164: "+48512345678", Region: "PL", Type: phone.Mobile}},
	{"a Polish mobile with 0048", "PL", "0048512345678", phone.Number{E164: "+48512345678", Region: "PL", Type: phone.Mobile}},
	{"a Warsaw landline", "PL", "22 123 45 67", phone.Number{E164: "+48221234567", Region: "PL", Type: phone.Landline}},
	{"a Warsaw landline with +48", "PL", "+48 22 123 45 67", phone.Number{E164: "+48221234567", Region: "PL", Type: phone.Landline}},
	{"a Swedish mobile with its trunk 0", "SE", "070-123 45 67", phone.Number{E164: "+46701234567", Region: "SE", Type: phone.Mobile}},
	{"a Swedish mobile without its trunk 0", "SE", "70 123 45 67", phone.Number{E164: "+46701234567", Region: "SE", Type: phone.Mobile}},
	{"a Swedish mobile with +46", "SE", "+46 70 123 45 67", phone.Number{E164: "+46701234567", Region: "SE", Type: phone.Mobile}},
	{"a Stockholm landline with its trunk 0", "SE", "08-123 456 78", phone.Number{E164: "+46812345678", Region: "SE", Type: phone.Landline}},
	{"a short Stockholm landline", "SE", "08-12 34 56", phone.Number{E164: "+468123456", Region: "SE", Type: phone.Landline}},
	{"a Stockholm landline with +46", "SE", "+46 8 123 456 78", phone.Number{E164: "+46812345678", Region: "SE", Type: phone.Landline}},
	{"a Hungarian mobile with its trunk 06", "HU", "06 20 123 4567", phone.Number{E164: "+36201234567", Region: "HU", Type: phone.Mobile}},
	{"a Hungarian mobile without its trunk 06", "HU", "20 123 4567", phone.Number{E164: "+36201234567", Region: "HU", Type: phone.Mobile}},
	{"a Hungarian mobile with +36", "HU", "+36 20 123 4567", phone.Number{E164: "+36201234567", Region: "HU", Type: phone.Mobile}},
	{"a Budapest landline with its trunk 06", "HU", "06 1 234 5678", phone.Number{E164: "+3612345678", Region: "HU", Type: phone.Landline}},
	{"a Budapest landline as written in Hungary", "HU", "(06 1) 234 5678", phone.Number{E164: "+3612345678", Region: "HU", Type: phone.Landline}},
	{"a Budapest landline with +36", "HU", "+36 1 234 5678", phone.Number{E164: "+3612345678", Region: "HU", Type: phone.Landline}},
	{"a +31 number with Poland selected", "PL", "+31612345678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"a +48 number with Hungary selected", "HU", "+48 22 123 45 67", phone.Number{E164: "+48221234567", Region: "PL", Type: phone.Landline}},
	{"a 0036 number with Sweden selected", "SE", "0036 20 123 4567", phone.Number{E164: "+36201234567", Region: "HU", Type: phone.Mobile}},
	{"a 0046 number with the United States (which dials 011 abroad) selected", "US", "0046 70 123 45 67", phone.Number{E164: "+46701234567", Region: "SE", Type: phone.Mobile}},
	{"a Dutch freephone number", "NL", "0800 1234", phone.Number{E164: "+318001234", Region: "NL", Type: phone.Other}},
	{"a Dutch mobile with surrounding spaces", "NL", "  06 12345678\t", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
	{"a number spread over exactly 64 characters", "NL", "06" + strings.Repeat("-", 54) + "12345678", phone.Number{E164: "+31612345678", Region: "NL", Type: phone.Mobile}},
}

func TestParse(t *testing.T) {
	p := eu(t)
	for _, tc := range parsed {
		t.Run(tc.name+" parses", func(t *testing.T) {
			got, err := p.Parse(tc.region, tc.raw)
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", tc.region, tc.raw, err)
			}
			if got != tc.want {
				t.Fatalf("Parse(%q, %q) = %+v, want %+v", tc.region, tc.raw, got, tc.want)
			}
		})
	}

	t.Run("every example mobile and landline of the allowed countries parses as typed nationally", func(t *testing.T) {
		for _, region := range []string{"NL", "PL", "SE", "HU"} {
			for ty, want := range map[phonenumbers.PhoneNumberType]phone.Type{
				phonenumbers.MOBILE:     phone.Mobile,
				phonenumbers.FIXED_LINE: phone.Landline,
			} {
				ex := phonenumbers.GetExampleNumberForType(region, ty)
				national := phonenumbers.Format(ex, phonenumbers.NATIONAL)
				got, err := p.Parse(region, national)
				if err != nil {
					t.Fatalf("%s %q: %v", region, national, err)
				}
				wantN := phone.Number{E164: phonenumbers.Format(ex, phonenumbers.E164), Region: region, Type: want}
				if got != wantN {
					t.Fatalf("%s %q = %+v, want %+v", region, national, got, wantN)
				}
			}
		}
	})

	t.Run("a number the plan cannot type as mobile or fixed is Either", func(t *testing.T) {
		got, err := world(t).Parse("US", "(201) 555-0123")
		if err != nil {
			t.Fatal(err)
		}
		if want := (phone.Number{E164: "+12015550123", Region: "US", Type: phone.Either}); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy func(*testing.T) *phone.Policy
		region string
		raw    string
		want   string
	}{
		{"nothing typed", eu, "NL", "", phone.MsgRequired},
		{"only spaces", eu, "NL", "   ", phone.MsgRequired},
		{"a vanity number with letters", eu, "NL", "0800-FLOWERS", phone.MsgInvalid},
		{"a number with a letter o for a zero", eu, "NL", "o6 12345678", phone.MsgInvalid},
		{"an extension", eu, "NL", "020 123 4567 ext. 12", phone.MsgInvalid},
		{"a tel: URI", eu, "NL", "tel:+31612345678", phone.MsgInvalid},
		{"Arabic-Indic digits libphonenumber would read as 0612345678", eu, "NL", "٠٦١٢٣٤٥٦٧٨", phone.MsgInvalid},
		{"full-width digits", eu, "NL", "０６１２３４５６７８", phone.MsgInvalid},
		{"Devanagari digits after a +", eu, "NL", "+३१६१२३४५६७८", phone.MsgInvalid},
		{"invalid UTF-8", eu, "NL", "06\xff12345678", phone.MsgInvalid},
		{"a valid number spread over 67 characters", eu, "NL", "+31" + strings.Repeat(" ", 55) + "612345678", phone.MsgInvalid},
		{"a valid number spread over 65 characters", eu, "NL", "06" + strings.Repeat("-", 55) + "12345678", phone.MsgInvalid},
		{"too few digits", eu, "NL", "06 1234", phone.MsgInvalid},
		{"too many digits", eu, "NL", "06 1234567890", phone.MsgInvalid},
		{"a Dutch mobile without its 6", eu, "NL", "0 12345678", phone.MsgInvalid},
		{"a Polish number with a trunk 0 (Poland has none)", eu, "PL", "0512 345 678", phone.MsgInvalid},
		{"a Polish number with +48 and a trunk 0", eu, "PL", "+48 0512345678", phone.MsgInvalid},
		{"a bare plus", eu, "NL", "+", phone.MsgInvalid},
		{"punctuation only", eu, "NL", "(--)", phone.MsgInvalid},
		{"an unknown country code", eu, "NL", "+999 1234 5678", phone.MsgInvalid},
		{"a German fixed line longer than E.164's 15 digits", world, "DE", "030 1234567890123", phone.MsgInvalid},
		{"a German pager number shorter than 7 digits", world, "DE", "01641", phone.MsgInvalid},
		{"a US number when NL, PL, SE and HU are allowed", eu, "NL", "+1 201-555-0123", phone.MsgCountry},
		{"a US number with 001 when NL, PL, SE and HU are allowed", eu, "NL", "001 201 555 0123", phone.MsgCountry},
		{"a US number typed nationally with the US selected", eu, "US", "(201) 555-0123", phone.MsgCountry},
		{"a German number when NL, PL, SE and HU are allowed", eu, "NL", "+49 1512 3456789", phone.MsgCountry},
		{"a selector region libphonenumber does not know", eu, "XX", "0612345678", phone.MsgCountry},
		{"an international freephone number (in no country)", world, "NL", "+800 1234 5678", phone.MsgCountry},
		{"a satellite phone (in no country)", world, "NL", "+881 6 12345678", phone.MsgCountry},
	} {
		t.Run("it refuses "+tc.name+" with "+tc.want, func(t *testing.T) {
			n, err := tc.policy(t).Parse(tc.region, tc.raw)
			var perr *phone.Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q, %q) = %+v, %v; want a *phone.Error", tc.region, tc.raw, n, err)
			}
			if perr.MessageID != tc.want {
				t.Fatalf("Parse(%q, %q): message %q, want %q", tc.region, tc.raw, perr.MessageID, tc.want)
			}
			if n != (phone.Number{}) {
				t.Fatalf("Parse(%q, %q) returned %+v with its error", tc.region, tc.raw, n)
			}
		})
	}

	t.Run("a refused country is the selector's only when no +CC or 00CC was typed", func(t *testing.T) {
		for _, tc := range []struct {
			region, raw string
			selector    bool
		}{
			{"US", "(201) 555-0123", true},
			{"XX", "0612345678", true},
			{"NL", "+1 201-555-0123", false},
			{"NL", "001 201 555 0123", false},
			{"NL", "abc", false}, // invalid, not a country refusal
		} {
			_, err := eu(t).Parse(tc.region, tc.raw)
			var perr *phone.Error
			if !errors.As(err, &perr) || perr.Selector != tc.selector {
				t.Errorf("Parse(%q, %q) = %v (selector %v), want selector %v", tc.region, tc.raw, err, perr != nil && perr.Selector, tc.selector)
			}
		}
	})

	t.Run("the error reads as its message id", func(t *testing.T) {
		_, err := eu(t).Parse("NL", "")
		if got := err.Error(); got != "phone: phone.error.required" {
			t.Fatalf("Error() = %q", got)
		}
	})
}

func TestNumberCapabilities(t *testing.T) {
	for _, tc := range []struct {
		typ       phone.Type
		sms, call bool
		name      string
	}{
		{phone.Mobile, true, true, "a mobile takes SMS and calls"},
		{phone.Landline, false, true, "a landline takes calls only"},
		{phone.Either, true, true, "a number that may be either takes SMS and calls"},
		{phone.Other, false, false, "a service number takes neither"},
		{phone.Unknown, false, false, "a number of unknown type takes neither"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := phone.Number{E164: "+31612345678", Region: "NL", Type: tc.typ}
			if n.CanSMS() != tc.sms || n.CanCall() != tc.call {
				t.Fatalf("CanSMS %v, CanCall %v; want %v, %v", n.CanSMS(), n.CanCall(), tc.sms, tc.call)
			}
		})
	}
}

func TestMasked(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a Dutch mobile shows its last two digits", "+31612345678", "xxxx-xxxx78"},
		{"a Budapest landline shows its last two digits", "+3612345678", "xxxx-xxxx78"},
		{"a Swedish mobile shows its last two digits", "+46701234567", "xxxx-xxxx67"},
		{"a long German number hides its length", "+4915123456789", "xxxx-xxxx89"},
		{"a formatted number shows its last two digits", "+31 6 1234 56 7 8", "xxxx-xxxx78"},
		{"four digits show two", "+1234", "xxxx-xxxx34"},
		{"three digits show none", "+123", "xxxx-xxxx"},
		{"nothing shows nothing", "", "xxxx-xxxx"},
		{"a trailing non-ASCII character is not cut in half", "+3161234567ő", "xxxx-xxxx67"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := phone.Masked(tc.in); got != tc.want {
				t.Fatalf("Masked(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDisplay(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a Dutch mobile is grouped the Dutch way", "+31612345678", "+31 6 12345678"},
		{"a Warsaw landline is grouped the Polish way", "+48221234567", "+48 22 123 45 67"},
		{"a Swedish mobile is grouped the Swedish way", "+46701234567", "+46 70 123 45 67"},
		{"a Budapest landline is grouped the Hungarian way", "+3612345678", "+36 1 234 5678"},
		{"something that is no number is shown as it is", "not a number", "not a number"},
		{"nothing stays nothing", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := phone.Display(tc.in); got != tc.want {
				t.Fatalf("Display(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRegion(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a Hungarian mobile is in HU", "+36201234567", "HU"},
		{"a Dutch mobile is in NL", "+31612345678", "NL"},
		{"a +1 number is placed by its area code", "+12015550123", "US"},
		{"a Canadian +1 number is in CA", "+16135550123", "CA"},
		{"an international freephone number is in no country", "+80012345678", ""},
		{"a national number without + is unknown", "0612345678", ""},
		{"an unassigned country code is unknown", "+99912345678", ""},
		{"nothing is unknown", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := phone.Region(tc.in); got != tc.want {
				t.Fatalf("Region(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	t.Run("regions are trimmed, upper-cased and kept once", func(t *testing.T) {
		p, err := phone.NewPolicy(" nl ", []string{"nl", "PL", " pl", "se"})
		if err != nil {
			t.Fatal(err)
		}
		if p.DefaultRegion() != "NL" {
			t.Fatalf("DefaultRegion() = %q", p.DefaultRegion())
		}
		var regions []string
		for _, c := range p.Countries("en") {
			regions = append(regions, c.Region)
		}
		if want := []string{"NL", "PL", "SE"}; !slices.Equal(regions, want) {
			t.Fatalf("countries %v, want %v", regions, want)
		}
	})

	for _, tc := range []struct {
		name     string
		def      string
		allowed  []string
		contains string
	}{
		{"an unknown default country", "XX", nil, `"XX"`},
		{"an empty default country", "", []string{"NL"}, `""`},
		{"a non-geographic default", "001", nil, `"001"`},
		{"an unknown allowed country", "NL", []string{"NL", "QQ"}, `"QQ"`},
		{"a default that is not allowed", "DE", []string{"NL", "PL"}, "DE"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			p, err := phone.NewPolicy(tc.def, tc.allowed)
			if err == nil {
				t.Fatalf("NewPolicy(%q, %q) = %+v, want an error", tc.def, tc.allowed, p)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("error %q does not name %s", err, tc.contains)
			}
		})
	}

	t.Run("Allowed tells numbers of allowed countries from the rest", func(t *testing.T) {
		p := eu(t)
		for e164, want := range map[string]bool{
			"+31612345678": true,
			"+3612345678":  true,
			"+12015550123": false,
			"+80012345678": false,
			"0612345678":   false,
			"":             false,
		} {
			if got := p.Allowed(e164); got != want {
				t.Errorf("Allowed(%q) = %v, want %v", e164, got, want)
			}
		}
		if !world(t).Allowed("+12015550123") || world(t).Allowed("+80012345678") {
			t.Error("an empty allow-list must allow every country and nothing else")
		}
	})
}

// names lists the regions and names of cs.
func names(cs []phone.Country) (regions, names []string) {
	for _, c := range cs {
		regions = append(regions, c.Region)
		names = append(names, c.Name)
	}
	return regions, names
}

func TestCountries(t *testing.T) {
	t.Run("the allowed countries come named in the page's language with the default first", func(t *testing.T) {
		p, err := phone.NewPolicy("HU", []string{"NL", "PL", "SE", "HU"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			lang string
			want []phone.Country
		}{
			{"hu", []phone.Country{{"HU", 36, "Magyarország"}, {"NL", 31, "Hollandia"}, {"PL", 48, "Lengyelország"}, {"SE", 46, "Svédország"}}},
			{"nl", []phone.Country{{"HU", 36, "Hongarije"}, {"NL", 31, "Nederland"}, {"PL", 48, "Polen"}, {"SE", 46, "Zweden"}}},
			{"nl-BE", []phone.Country{{"HU", 36, "Hongarije"}, {"NL", 31, "Nederland"}, {"PL", 48, "Polen"}, {"SE", 46, "Zweden"}}},
			{"en", []phone.Country{{"HU", 36, "Hungary"}, {"NL", 31, "Netherlands"}, {"PL", 48, "Poland"}, {"SE", 46, "Sweden"}}},
			{"not a language", []phone.Country{{"HU", 36, "Hungary"}, {"NL", 31, "Netherlands"}, {"PL", 48, "Poland"}, {"SE", 46, "Sweden"}}},
			{"", []phone.Country{{"HU", 36, "Hungary"}, {"NL", 31, "Netherlands"}, {"PL", 48, "Poland"}, {"SE", 46, "Sweden"}}},
		} {
			if got := p.Countries(tc.lang); !slices.Equal(got, tc.want) {
				t.Errorf("Countries(%q) = %v, want %v", tc.lang, got, tc.want)
			}
		}
	})

	t.Run("the rest are ordered by the language's collation", func(t *testing.T) {
		p, err := phone.NewPolicy("SE", []string{"AT", "NO", "PL", "SE", "ZW", "GB", "HU"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			lang string
			want []string
		}{
			// Ö is a letter after Z in Swedish, an O in German.
			{"sv", []string{"Sverige", "Norge", "Polen", "Storbritannien", "Ungern", "Zimbabwe", "Österrike"}},
			{"de", []string{"Schweden", "Norwegen", "Österreich", "Polen", "Simbabwe", "Ungarn", "Vereinigtes Königreich"}},
			// Ę is a letter after E in Polish: Węgry before Wielka Brytania.
			{"pl", []string{"Szwecja", "Austria", "Norwegia", "Polska", "Węgry", "Wielka Brytania", "Zimbabwe"}},
		} {
			_, got := names(p.Countries(tc.lang))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Countries(%q) = %q, want %q", tc.lang, got, tc.want)
			}
		}
	})

	t.Run("an empty allow-list offers every country once, the default first", func(t *testing.T) {
		p := world(t)
		cs := p.Countries("nl")
		if len(cs) < 200 {
			t.Fatalf("%d countries", len(cs))
		}
		if cs[0] != (phone.Country{Region: "NL", Code: 31, Name: "Nederland"}) {
			t.Fatalf("first country %+v", cs[0])
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if seen[c.Region] {
				t.Fatalf("%s listed twice", c.Region)
			}
			seen[c.Region] = true
			if c.Code == 0 || c.Name == "" {
				t.Fatalf("incomplete entry %+v", c)
			}
		}
		for _, r := range []string{"US", "DE", "JP", "HU"} {
			if !seen[r] {
				t.Fatalf("%s missing", r)
			}
		}
		if seen["001"] {
			t.Fatal("the non-geographic 001 is listed")
		}
		again := p.Countries("nl")
		if !slices.Equal(cs, again) {
			t.Fatal("two calls listed the countries in different orders")
		}
	})
}
