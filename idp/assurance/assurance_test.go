package assurance

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func proof(factor string, age time.Duration, kinds []string, amr ...string) store.Proof {
	return store.Proof{Factor: factor, AMR: amr, Kinds: kinds, At: now.Add(-age)}
}

var (
	know  = []string{"knowledge"}
	have  = []string{"possession"}
	haveU = []string{"possession", "inherence"}
)

func TestEvaluate(t *testing.T) {
	tab := DefaultTable("")
	pwd := proof("password", time.Minute, know, "pwd")
	otp := proof("totp", 30*time.Second, have, "otp")
	email := proof("email", 30*time.Second, have, "otp", "email")
	passkey := proof("passkey", 0, haveU, "hwk", "user")
	passkey.PhishingResistant = true
	staleOTP := proof("totp", 13*time.Hour, have, "otp")
	oldPwd := proof("password", 11*time.Hour, know, "pwd")
	legacyPwd := store.Proof{Factor: "password", AMR: []string{"pwd"}, At: now.Add(-time.Minute)}
	legacyOTP := store.Proof{Factor: "totp", AMR: []string{"otp"}, At: now.Add(-time.Minute)}

	cases := []struct {
		name    string
		proofs  []store.Proof
		c       Context
		acr     string
		amr     []string
		at      time.Time
		reached []string
	}{
		{"nothing proved reaches no level", nil, Context{Now: now}, "", nil, time.Time{}, nil},
		{"a password alone is low and aal1", []store.Proof{pwd}, Context{Now: now}, LoALow, []string{"pwd"}, pwd.At, []string{LoALow, AAL1}},
		{"password and totp are substantial with mfa and reach every two-factor alias",
			[]store.Proof{pwd, otp}, Context{Now: now}, LoASubstantial, []string{"pwd", "otp", "mfa"}, pwd.At,
			[]string{LoALow, LoASubstantial, MFA, AAL1, AAL2}},
		{"an email code reaches substantial but never aal2",
			[]store.Proof{pwd, email}, Context{Now: now}, LoASubstantial, []string{"pwd", "otp", "email", "mfa"}, pwd.At,
			[]string{LoALow, LoASubstantial, MFA, AAL1}},
		{"a phishing-resistant second factor is high and aal3",
			[]store.Proof{pwd, passkey}, Context{Now: now}, LoAHigh, []string{"pwd", "hwk", "user", "mfa"}, pwd.At,
			[]string{LoALow, LoASubstantial, LoAHigh, MFA, AAL1, AAL2, AAL3}},
		{"a passkey with user verification proves two kinds on its own",
			[]store.Proof{passkey}, Context{Now: now}, LoAHigh, []string{"hwk", "user", "mfa"}, passkey.At,
			[]string{LoALow, LoASubstantial, LoAHigh, MFA, AAL1, AAL2, AAL3}},
		{"a factor older than 12 hours no longer counts toward substantial but still toward low and mfa",
			[]store.Proof{pwd, staleOTP}, Context{Now: now}, LoALow, []string{"pwd", "otp", "mfa"}, staleOTP.At,
			[]string{LoALow, MFA, AAL1}},
		{"a session idle for 20 minutes keeps substantial but loses high",
			[]store.Proof{pwd, passkey}, Context{Now: now, LastSeen: now.Add(-20 * time.Minute)}, LoASubstantial, []string{"pwd", "hwk", "user", "mfa"}, pwd.At,
			[]string{LoALow, LoASubstantial, MFA, AAL1, AAL2}},
		{"a session idle for 40 minutes falls back to low",
			[]store.Proof{pwd, otp}, Context{Now: now, LastSeen: now.Add(-40 * time.Minute)}, LoALow, []string{"pwd", "otp", "mfa"}, pwd.At,
			[]string{LoALow, MFA, AAL1}},
		{"the client's factor max age caps every rule",
			[]store.Proof{oldPwd, otp}, Context{Now: now, MaxAge: time.Hour}, LoALow, []string{"otp"}, otp.At,
			[]string{LoALow, AAL1}},
		{"the same factor twice is still one factor, and the newer one counts",
			[]store.Proof{oldPwd, pwd}, Context{Now: now}, LoALow, []string{"pwd"}, pwd.At, []string{LoALow, AAL1}},
		{"two legacy proofs without kinds count as two factors by their ids",
			[]store.Proof{legacyPwd, legacyOTP}, Context{Now: now}, LoASubstantial, []string{"pwd", "otp", "mfa"}, legacyPwd.At,
			[]string{LoALow, LoASubstantial, MFA, AAL1, AAL2}},
		{"two factors of the same kind are one kind",
			[]store.Proof{otp, proof("sms", 0, have, "sms")}, Context{Now: now}, LoALow, []string{"otp", "sms"}, otp.At,
			[]string{LoALow, AAL1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tab.Evaluate(c.proofs, c.c)
			if r.ACR != c.acr || !slices.Equal(r.AMR, c.amr) || !r.AuthTime.Equal(c.at) || !slices.Equal(r.Reached, c.reached) {
				t.Fatalf("got acr=%q amr=%v at=%v reached=%v\nwant acr=%q amr=%v at=%v reached=%v",
					r.ACR, r.AMR, r.AuthTime, r.Reached, c.acr, c.amr, c.at, c.reached)
			}
			for _, acr := range tab.Values() {
				if got, want := tab.Reaches(c.proofs, c.c, acr), slices.Contains(c.reached, acr); got != want {
					t.Errorf("Reaches(%s) = %v, want %v", acr, got, want)
				}
			}
		})
	}
}

func TestALevelIsReachedWhenALevelAboveItIs(t *testing.T) {
	// A configured table whose middle level is fresher than the top one:
	// reaching the top still satisfies a request for the middle.
	tab := Table{Levels: []Level{
		{ACR: "one", Rule: Rule{MinKinds: 1}},
		{ACR: "two", Rule: Rule{MinKinds: 2, MaxAge: time.Hour}},
		{ACR: "three", Rule: Rule{MinKinds: 2, PhishingResistant: true}},
	}}
	pwd := proof("password", 2*time.Hour, know, "pwd")
	key := proof("key", 0, have, "hwk")
	key.PhishingResistant = true
	r := tab.Evaluate([]store.Proof{pwd, key}, Context{Now: now})
	if r.ACR != "three" || !slices.Equal(r.Reached, []string{"one", "two", "three"}) {
		t.Fatalf("got %q %v", r.ACR, r.Reached)
	}
	two, ok := r.As("two")
	if !ok || !two.AuthTime.Equal(pwd.At) || !slices.Equal(two.AMR, []string{"pwd", "hwk", "mfa"}) || !slices.Equal(r.Factors("two"), []string{"password", "key"}) {
		t.Fatalf("two is backed by three's proofs; got %+v %v", two, ok)
	}
}

func TestReportAndAs(t *testing.T) {
	tab := DefaultTable("")
	pwd := proof("password", 20*time.Hour, know, "pwd")
	otp := proof("totp", 5*time.Minute, have, "otp")
	// Password 20h old: mfa holds (no max age), substantial does not.
	r := tab.Evaluate([]store.Proof{pwd, otp}, Context{Now: now})

	cases := []struct {
		name string
		want []string
		acr  string
	}{
		{"with no wish the highest level is reported", nil, LoALow},
		{"the first wish reached is reported", []string{LoASubstantial, MFA, LoALow}, MFA},
		{"a wish not reached is never reported", []string{LoASubstantial, LoAHigh}, LoALow},
		{"an unknown wish is never reported", []string{"urn:example:unknown"}, LoALow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := r.Report(c.want); got != c.acr {
				t.Fatalf("got %q, want %q", got, c.acr)
			}
		})
	}
	t.Run("reporting an alias brings its own amr and auth time", func(t *testing.T) {
		m, ok := r.As(MFA)
		if !ok || m.ACR != MFA || !slices.Equal(m.AMR, []string{"pwd", "otp", "mfa"}) || !m.AuthTime.Equal(pwd.At) {
			t.Fatalf("got %+v %v", m, ok)
		}
	})
	t.Run("the factors behind each value are listed", func(t *testing.T) {
		if !slices.Equal(r.Factors(MFA), []string{"password", "totp"}) || !slices.Equal(r.Factors(LoALow), []string{"password", "totp"}) || r.Factors(LoASubstantial) != nil {
			t.Fatalf("got %v %v %v", r.Factors(MFA), r.Factors(LoALow), r.Factors(LoASubstantial))
		}
	})
	t.Run("a value not reached cannot be reported", func(t *testing.T) {
		if _, ok := r.As(LoAHigh); ok {
			t.Fatal("high is not reached")
		}
	})
}

func TestTableLookups(t *testing.T) {
	tab := DefaultTable("https://example.eu/nist/")
	cases := []struct {
		name, in, acr string
		ok            bool
	}{
		{"a short name resolves to the full value", "substantial", LoASubstantial, true},
		{"a short name is matched in any case", "HIGH", LoAHigh, true},
		{"a full value resolves to itself", LoALow, LoALow, true},
		{"a NIST short name gets the prefix", "aal2", "https://example.eu/nist/aal2", true},
		{"the mfa alias resolves", "mfa", MFA, true},
		{"an unknown name does not resolve", "medium", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acr, ok := tab.Resolve(c.in)
			if acr != c.acr || ok != c.ok {
				t.Fatalf("Resolve(%q) = %q, %v", c.in, acr, ok)
			}
		})
	}
	t.Run("only full values are known", func(t *testing.T) {
		if !tab.Known(LoAHigh) || !tab.Known("https://example.eu/nist/aal3") || tab.Known("high") || tab.Known("aal3") {
			t.Fatal("Known must match full values only")
		}
	})
	t.Run("values list the levels in order, then the aliases", func(t *testing.T) {
		want := []string{LoALow, LoASubstantial, LoAHigh, MFA, "https://example.eu/nist/aal1", "https://example.eu/nist/aal2", "https://example.eu/nist/aal3"}
		if got := tab.Values(); !slices.Equal(got, want) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("only levels have a rank", func(t *testing.T) {
		if tab.Rank(LoALow) != 0 || tab.Rank(LoAHigh) != 2 || tab.Rank(MFA) != -1 || tab.Rank("x") != -1 {
			t.Fatal("wrong ranks")
		}
	})
	t.Run("the default table is valid", func(t *testing.T) {
		if err := tab.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestValidateNamesEveryProblem(t *testing.T) {
	tab := Table{
		Levels: []Level{
			{ACR: "a b", Rule: Rule{MinKinds: 1}},
			{ACR: "two", Names: []string{"mfa", ""}, Rule: Rule{MinKinds: 4, MaxAge: -time.Second, Idle: -time.Second, ExcludeAMR: []string{""}}},
		},
		Aliases: DefaultTable("").Aliases,
	}
	err := tab.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, w := range []string{"levels[0].acr: must not contain spaces", "levels[1].names: \"mfa\" is already used", "levels[1].names: \"\" is not a name",
		"levels[1].min_kinds:", "levels[1].max_age:", "levels[1].idle:", "levels[1].exclude_amr:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if err := (Table{}).Validate(); err == nil || !strings.Contains(err.Error(), "at least one level") {
		t.Errorf("an empty table must be refused, got %v", err)
	}
}
