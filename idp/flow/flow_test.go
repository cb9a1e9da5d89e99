package flow

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/store"
)

func TestNext(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	req := &store.AuthRequest{CreatedAt: now.Add(-time.Minute)}
	pwdAt := func(at time.Time) *store.Session {
		return &store.Session{UserID: "u1", AuthTime: at, Proofs: []store.Proof{{Factor: "password", AMR: []string{"pwd"}, At: at}}}
	}
	old := pwdAt(now.Add(-2 * time.Hour))
	fresh := pwdAt(now.Add(-10 * time.Second)) // authenticated during this request
	zero, hour := int64(0), int64(3600)

	cases := []struct {
		name string
		sess *store.Session
		req  Requirement
		step Step
		err  string
		acr  string
	}{
		{"no session asks for credentials", nil, Requirement{}, StepCredentials, "", ""},
		{"no session with prompt=none is login_required", nil, Requirement{PromptNone: true}, StepError, ErrLoginRequired, ""},
		{"a session is reused", old, Requirement{}, StepDone, "", assurance.LoALow},
		{"max_age=0 re-asks an older session", old, Requirement{MaxAge: &zero}, StepCredentials, "", ""},
		{"max_age=0 accepts an authentication made during this request", fresh, Requirement{MaxAge: &zero}, StepDone, "", assurance.LoALow},
		{"max_age longer than the session's age reuses it", pwdAt(now.Add(-time.Minute * 30)), Requirement{MaxAge: &hour}, StepDone, "", assurance.LoALow},
		{"max_age exceeded with prompt=none is login_required", old, Requirement{MaxAge: &hour, PromptNone: true}, StepError, ErrLoginRequired, ""},
		{"an id_token_hint for someone else re-asks", old, Requirement{HintUserID: "u2"}, StepCredentials, "", ""},
		{"an unreachable essential acr is unmet", old, Requirement{EssentialACR: []string{assurance.LoASubstantial}}, StepError, ErrUnmet, ""},
		{"a reachable essential acr completes", old, Requirement{EssentialACR: []string{assurance.LoASubstantial, assurance.LoALow}}, StepDone, "", assurance.LoALow},
		{"an unknown essential acr is unmet", old, Requirement{EssentialACR: []string{"urn:example:unknown"}}, StepError, ErrUnmet, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Next(Input{Request: req, Require: c.req, Session: c.sess, Levels: assurance.DefaultLevels, Now: now})
			if d.Step != c.step || d.Error != c.err || d.Result.ACR != c.acr {
				t.Fatalf("got step %v err %q acr %q; want %v %q %q", d.Step, d.Error, d.Result.ACR, c.step, c.err, c.acr)
			}
		})
	}
}
