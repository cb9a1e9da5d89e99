// Package flow decides what a login still needs. Next is a pure function of
// the authorization request, the SSO session and the time: the handlers
// only carry out its decision, so every step can be replayed, tested, and
// resumed on another node. The factor chain plugs in here: today the only
// step is the password; next come ChooseFactor, Factor and Enroll.
package flow

import (
	"fmt"
	"slices"
	"time"

	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/store"
)

// Step is what the login does next.
type Step int

const (
	// StepCredentials asks for username and password.
	StepCredentials Step = iota
	// StepDone completes the authorization request with Result.
	StepDone
	// StepError ends the request with an OAuth error at the redirect URI.
	StepError
)

// OAuth error codes Next may return.
const (
	ErrLoginRequired = "login_required"
	ErrUnmet         = "unmet_authentication_requirements"
)

// Decision is the outcome of Next.
type Decision struct {
	Step        Step
	Result      assurance.Result // with StepDone
	Error       string           // with StepError
	Description string
}

// Requirement is what the relying party asked of the authentication.
type Requirement struct {
	// EssentialACR: one of these (or stronger) or an error. Empty: none.
	EssentialACR []string
	// Prompt and MaxAge as in OIDC Core 3.1.2.1.
	PromptNone bool
	MaxAge     *int64
	// HintUserID: the session must belong to this user (id_token_hint).
	HintUserID string
}

// Input is everything Next looks at.
type Input struct {
	Request   *store.AuthRequest
	Require   Requirement
	Session   *store.Session // nil when the browser has none
	Levels    []string       // ordered acr table
	Freshness assurance.Freshness
	Now       time.Time
}

// Next decides the next step of a login.
func Next(in Input) Decision {
	if !sessionUsable(in) {
		if in.Require.PromptNone {
			return Decision{Step: StepError, Error: ErrLoginRequired, Description: "the person must log in"}
		}
		return Decision{Step: StepCredentials}
	}
	res := assurance.Evaluate(in.Session.Proofs, in.Now, in.Freshness)
	if len(in.Require.EssentialACR) > 0 && !slices.ContainsFunc(in.Require.EssentialACR, func(want string) bool {
		return assurance.Satisfies(in.Levels, res.ACR, want)
	}) {
		// No further factor exists yet that could raise the level.
		return Decision{Step: StepError, Error: ErrUnmet,
			Description: fmt.Sprintf("acr %v cannot be reached", in.Require.EssentialACR)}
	}
	return Decision{Step: StepDone, Result: res}
}

// sessionUsable: a live session of the right person, authenticated recently
// enough. An authentication made during this very request always counts,
// so max_age=0 (prompt=login) asks once, not forever.
func sessionUsable(in Input) bool {
	s := in.Session
	if s == nil || len(s.Proofs) == 0 {
		return false
	}
	if in.Require.HintUserID != "" && in.Require.HintUserID != s.UserID {
		return false
	}
	if in.Require.MaxAge != nil && s.AuthTime.Before(in.Request.CreatedAt) {
		if in.Now.Sub(s.AuthTime) > time.Duration(*in.Require.MaxAge)*time.Second {
			return false
		}
	}
	return true
}
