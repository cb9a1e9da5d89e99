package security

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordPolicyCheck(t *testing.T) {
	def := PasswordPolicy{}
	passOnly := PasswordPolicy{MinLength: 15, MaxLength: 64}
	tests := []struct {
		name    string
		policy  PasswordPolicy
		pw      string
		context []string
		wantID  string
	}{
		{"a long unusual passphrase is accepted", def, "violet tractor sings at dawn", nil, ""},
		{"seven characters are too short", def, "xK9#mQ2", nil, MsgPasswordTooShort},
		{"eight characters are enough", def, "xK9#mQ2v", nil, ""},
		{"sixty-five characters are too long", def, strings.Repeat("ab", 32) + "c", nil, MsgPasswordTooLong},
		{"sixty-four characters are accepted", def, strings.Repeat("zq", 32), nil, ""},
		{"eight emoji count as eight characters", def, "🦊🐙🌵🎻🚲🧩🍄🛸", nil, ""},
		{"seven emoji are too short even though they are 28 bytes", def, "🦊🐙🌵🎻🚲🧩🍄", nil, MsgPasswordTooShort},
		{"a decomposed accent counts as one character after NFKC", def, "e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301", nil, MsgPasswordTooShort},
		{"no composition rules: lower-case letters only are fine", def, "qzvbnrtwklsm", nil, ""},
		{"a common password is refused", def, "password123", nil, MsgPasswordCommon},
		{"a common password is refused regardless of case", def, "PassWord123", nil, MsgPasswordCommon},
		{"another very common one is refused", def, "iloveyou", nil, MsgPasswordCommon},
		{"full-width characters normalise to a common password", def, "ｐａｓｓｗｏｒｄ", nil, MsgPasswordCommon},
		{"the username is refused", def, "anna.kowalska", []string{"Anna.Kowalska"}, MsgPasswordContext},
		{"the email address is refused", def, "anna.k@example.pl", []string{"anna.k@example.pl"}, MsgPasswordContext},
		{"the local part of the email is refused", def, "ANNA.KOWALSKA", []string{"anna.kowalska@example.pl"}, MsgPasswordContext},
		{"a password merely containing the username is accepted", def, "anna.kowalska likes jazz", []string{"anna.kowalska"}, ""},
		{"empty context words are ignored", def, "violet tractor", []string{"", "  "}, ""},
		{"password-only login needs fifteen characters", passOnly, "violet tractor", nil, MsgPasswordTooShort},
		{"fifteen characters satisfy password-only login", passOnly, "violet tractors", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pw, tt.context...)
			if tt.wantID == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			var pe *PasswordError
			if !errors.As(err, &pe) {
				t.Fatalf("want *PasswordError %s, got %v", tt.wantID, err)
			}
			if pe.ID != tt.wantID {
				t.Fatalf("want %s, got %s (%v)", tt.wantID, pe.ID, err)
			}
		})
	}
}

func TestPasswordErrorsReadAsEnglish(t *testing.T) {
	tests := []struct {
		err  *PasswordError
		want string
	}{
		{&PasswordError{ID: MsgPasswordTooShort, Min: 15, Max: 64}, "password must be at least 15 characters long"},
		{&PasswordError{ID: MsgPasswordTooLong, Min: 8, Max: 64}, "password must be at most 64 characters long"},
		{&PasswordError{ID: MsgPasswordCommon}, "password is too common"},
		{&PasswordError{ID: MsgPasswordContext}, "username or email"},
	}
	for _, tt := range tests {
		t.Run(tt.err.ID+" has a readable message", func(t *testing.T) {
			if got := tt.err.Error(); !strings.Contains(got, tt.want) {
				t.Fatalf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestTheBundledListHasTensOfThousandsOfEntries(t *testing.T) {
	if n := CommonPasswordCount(); n < 10000 {
		t.Fatalf("only %d entries", n)
	}
	for _, pw := range []string{"123456", "qwerty", "letmein", "dragon"} {
		if !IsCommonPassword(pw) {
			t.Errorf("%q should be common", pw)
		}
	}
}
