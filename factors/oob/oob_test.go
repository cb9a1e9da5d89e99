package oob

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/security"
)

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

func TestNewCode(t *testing.T) {
	t.Run("a code is six ASCII digits", func(t *testing.T) {
		for range 1000 {
			if c := NewCode(); !sixDigits.MatchString(c) {
				t.Fatalf("code %q", c)
			}
		}
	})
	t.Run("a session identifier is three digits, leading zeros kept", func(t *testing.T) {
		seen := map[string]bool{}
		for range 5000 {
			s := NewSessionID()
			if len(s) != 3 || strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
				t.Fatalf("session id %q", s)
			}
			seen[s] = true
		}
		// 5000 draws from 1000 values miss one with probability ~1000*e^-5.
		if len(seen) < 950 || !seen["000"] && !seen["001"] && !seen["002"] {
			t.Errorf("only %d distinct identifiers; leading zeros: %v %v %v", len(seen), seen["000"], seen["001"], seen["002"])
		}
	})
	t.Run("every digit is about equally likely in every position", func(t *testing.T) {
		const n = 20000
		var counts [Digits][10]int
		for range n {
			for i, r := range NewCode() {
				counts[i][r-'0']++
			}
		}
		// Expected 2000 per cell, sd ~42: 250 off is ~6 sd, never by chance.
		for pos, row := range counts {
			for d, c := range row {
				if c < n/10-250 || c > n/10+250 {
					t.Errorf("digit %d at position %d drawn %d times of %d", d, pos, c, n)
				}
			}
		}
	})
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		name, in, want, msg string
	}{
		{"six digits are accepted", "012345", "012345", ""},
		{"spaces are ignored", " 123 456 ", "123456", ""},
		{"tabs and newlines are ignored", "123\t456\n", "123456", ""},
		{"nothing is required", "", "", MsgCodeRequired},
		{"only spaces are required", "   ", "", MsgCodeRequired},
		{"five digits are malformed", "12345", "", MsgCodeFormat},
		{"seven digits are malformed", "1234567", "", MsgCodeFormat},
		{"letters are malformed", "12345a", "", MsgCodeFormat},
		{"a dash is malformed", "123-456", "", MsgCodeFormat},
		{"other scripts' digits are malformed", "١٢٣٤٥٦", "", MsgCodeFormat},
		{"fullwidth digits are malformed", "１２３４５６", "", MsgCodeFormat},
		{"a megabyte of spaces is malformed without looking", strings.Repeat(" ", 1<<20) + "123456", "", MsgCodeFormat},
		{"invalid UTF-8 is malformed", "123\xff456", "", MsgCodeFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ferr := ParseCode(tt.in)
			if tt.msg == "" {
				if ferr != nil || got != tt.want {
					t.Errorf("got %q, %v", got, ferr)
				}
				return
			}
			if ferr == nil || ferr.Kind != factors.Malformed || ferr.MessageID != tt.msg || ferr.Field != FieldCode {
				t.Errorf("got %q, %+v; want Malformed %s on code", got, ferr, tt.msg)
			}
		})
	}
}

// FuzzParseCode checks the parser never panics, accepts exactly six ASCII
// digits once whitespace is removed, and refuses everything else as
// Malformed on the code field.
func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"", "123456", " 123 456 ", "12345", "1234567", "abcdef", "12345٦", "１２３４５６",
		"\x00123456", "123\xff456", "000000", "999 999", "+123456", "-12345", "1e5678", "123456\u200b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ferr := ParseCode(in)
		stripped := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, in)
		valid := len(in) <= maxCodeInput && utf8.ValidString(in) && sixDigits.MatchString(stripped)
		if ferr == nil {
			if !valid || got != stripped {
				t.Fatalf("ParseCode(%q) accepted %q", in, got)
			}
			return
		}
		if ferr.Kind != factors.Malformed || ferr.Field != FieldCode || got != "" {
			t.Fatalf("ParseCode(%q) = %q, %+v", in, got, ferr)
		}
		if valid {
			t.Fatalf("ParseCode(%q) refused a valid code: %+v", in, ferr)
		}
	})
}

func TestCodeHash(t *testing.T) {
	h := security.NewSecretHasher([]byte("0123456789abcdef0123456789abcdef"))
	hash := hashCode(h, scopeChallenge, "ch-1", "123456")
	tests := []struct {
		name         string
		scope, id, c string
		want         bool
	}{
		{"the code matches its own challenge", scopeChallenge, "ch-1", "123456", true},
		{"another code does not match", scopeChallenge, "ch-1", "123457", false},
		{"the code does not match another challenge", scopeChallenge, "ch-2", "123456", false},
		{"the code does not match a set-up with the same id", scopeSetup, "ch-1", "123456", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := codeMatches(h, hash, tt.scope, tt.id, tt.c); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
	t.Run("the hash does not contain the code", func(t *testing.T) {
		if strings.Contains(hash, "123456") {
			t.Error(hash)
		}
	})
	t.Run("an empty hash matches nothing", func(t *testing.T) {
		if codeMatches(h, "", scopeChallenge, "ch-1", "123456") {
			t.Error("matched")
		}
	})
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"jan.kowalski@example.org": "j•••@example.org",
		"a@b.hu":                   "a•••@b.hu",
		"élő@példa.hu":             "é•••@példa.hu",
		"no-at-sign":               "•••",
		"@example.org":             "•••",
	} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSends(t *testing.T) {
	cfg := factors.CodeSettings{Lifetime: 5 * time.Minute, ResendCooldown: 30 * time.Second, SendsPerHour: 3}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	t.Run("the first send is allowed", func(t *testing.T) {
		var s Sends
		if ferr := s.allow(at, cfg, ""); ferr != nil {
			t.Error(ferr)
		}
	})
	t.Run("the cooldown runs from the last send", func(t *testing.T) {
		var s Sends
		s.begin(at)
		if ferr := s.allow(at.Add(29*time.Second), cfg, "phone"); ferr == nil || ferr.MessageID != MsgCooldown || ferr.Field != "phone" {
			t.Errorf("got %+v", ferr)
		}
		if ferr := s.allow(at.Add(30*time.Second), cfg, ""); ferr != nil {
			t.Errorf("after the cooldown: %v", ferr)
		}
	})
	t.Run("a failed send starts no cooldown", func(t *testing.T) {
		var s Sends
		s.begin(at)
		s.fail(notify.ErrUnavailable)
		if ferr := s.allow(at, cfg, ""); ferr != nil || s.Failed != notify.MsgUnavailable {
			t.Errorf("got %v, failed %q", ferr, s.Failed)
		}
	})
	t.Run("the cap counts the sends of the last hour", func(t *testing.T) {
		var s Sends
		for i := range 3 {
			s.begin(at.Add(time.Duration(i) * time.Minute))
		}
		if ferr := s.allow(at.Add(10*time.Minute), cfg, ""); ferr == nil || ferr.MessageID != MsgSendCap {
			t.Errorf("got %+v", ferr)
		}
		if ferr := s.allow(at.Add(time.Hour), cfg, ""); ferr != nil {
			t.Errorf("an hour after the first send: %v", ferr)
		}
		s.begin(at.Add(time.Hour))
		if len(s.Times) != 3 || s.N != 4 {
			t.Errorf("times %v, n %d", s.Times, s.N)
		}
	})
	t.Run("a send refused by a limit does not count toward the cap", func(t *testing.T) {
		var s Sends
		s.begin(at)
		s.fail(&notify.LimitError{Scope: "destination", RetryAfter: time.Minute})
		if len(s.Times) != 0 || s.Failed != notify.MsgLimited {
			t.Errorf("times %v, failed %q", s.Times, s.Failed)
		}
	})
	t.Run("a provider failure counts toward the cap", func(t *testing.T) {
		var s Sends
		s.begin(at)
		s.fail(fmt.Errorf("smtp: %w", notify.ErrUndeliverable))
		if len(s.Times) != 1 || s.Failed != notify.MsgUndeliverable {
			t.Errorf("times %v, failed %q", s.Times, s.Failed)
		}
	})
	t.Run("a code expires after its lifetime", func(t *testing.T) {
		var s Sends
		if !s.expired(at, cfg.Lifetime) {
			t.Error("no code sent, not expired")
		}
		s.begin(at)
		if s.expired(at.Add(5*time.Minute-time.Nanosecond), cfg.Lifetime) || !s.expired(at.Add(5*time.Minute), cfg.Lifetime) {
			t.Error("wrong expiry")
		}
	})
}

func TestMinutes(t *testing.T) {
	for d, want := range map[time.Duration]int{5 * time.Minute: 5, 10 * time.Minute: 10, 90 * time.Second: 2, 0: 0} {
		if got := Minutes(d); got != want {
			t.Errorf("Minutes(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestParseData(t *testing.T) {
	t.Run("empty data is a challenge not started and an empty set-up", func(t *testing.T) {
		c, err := ParseChallenge("")
		d, err2 := ParseEnrollData("")
		if err != nil || err2 != nil || c.N != 0 || d.Waiting() {
			t.Errorf("%+v %v %+v %v", c, err, d, err2)
		}
	})
	t.Run("damaged data is an error", func(t *testing.T) {
		if _, err := ParseChallenge("{"); err == nil {
			t.Error("challenge")
		}
		if _, err := ParseEnrollData("{"); err == nil {
			t.Error("enrollment")
		}
	})
	t.Run("a confirmed enrollment keeps only its destination", func(t *testing.T) {
		s, err := marshal(EnrollData{Phone: "+31612345678", Primary: true})
		if err != nil || s != `{"phone":"+31612345678","primary":true}` {
			t.Errorf("%s %v", s, err)
		}
	})
}

func TestSettings(t *testing.T) {
	defaults := factors.CodeSettings{Lifetime: 5 * time.Minute, ResendCooldown: 30 * time.Second, SendsPerHour: 5}
	got, err := Settings("x", factors.CodeSettings{}, defaults)
	if want := (factors.CodeSettings{Lifetime: 5 * time.Minute, ResendCooldown: 30 * time.Second, SendsPerHour: 5, Digits: Digits}); err != nil || got != want {
		t.Errorf("zero settings: %+v, %v; want %+v", got, err, want)
	}
	set := factors.CodeSettings{Lifetime: time.Minute, ResendCooldown: time.Second, SendsPerHour: 1, Digits: Digits}
	if got, err := Settings("x", set, defaults); err != nil || got != set {
		t.Errorf("set settings changed: %+v, %v", got, err)
	}
	for name, c := range map[string]factors.CodeSettings{
		"8 digits":          {Digits: 8},
		"negative lifetime": {Lifetime: -time.Minute},
		"negative cooldown": {ResendCooldown: -time.Second},
		"negative cap":      {SendsPerHour: -1},
	} {
		if _, err := Settings("x", c, defaults); err == nil || !strings.HasPrefix(err.Error(), "x: ") {
			t.Errorf("%s: %v, want an error naming the factor", name, err)
		}
	}
}
