package flow

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/policy"
	"github.com/eu-health-idp/idp/idp/store"
)

// benchNext checks the decision once, then times Next on the same input.
func benchNext(b *testing.B, in Input, step Step, factor string) {
	in.Request = &store.AuthRequest{CreatedAt: created}
	in.Table = assurance.DefaultTable("")
	in.Now = now
	if d := Next(in); d.Step != step || d.Factor != factor {
		b.Fatalf("Next = %v %q, want %v %q", d.Step, d.Factor, step, factor)
	}
	b.ReportAllocs()
	for b.Loop() {
		Next(in)
	}
}

// BenchmarkNextDone: a fresh password-only session at a low-assurance
// client needs nothing more.
func BenchmarkNextDone(b *testing.B) {
	benchNext(b, Input{Session: session(pwd(time.Minute)), Options: options()}, StepDone, "")
}

// BenchmarkNextStepFactor: the same session at a substantial client, three
// registered factors (TOTP and recovery codes enrolled), goes to TOTP.
func BenchmarkNextStepFactor(b *testing.B) {
	three := []Option{
		{ID: "totp", Props: totp, Enrolled: true, Enrollable: true},
		{ID: "email", Props: email, Enrollable: true},
		{ID: "recovery", Props: recovery, Enrolled: true, Enrollable: true},
	}
	floor := policy.Requirement{Want: []string{subs}, MinACR: subs}
	benchNext(b, Input{Session: session(pwd(time.Minute)), Options: three, Require: floor}, StepFactor, "totp")
}
