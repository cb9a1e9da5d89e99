// Package policy turns a client's policy and one authorization request
// (acr_values, the claims parameter, max_age, prompt, id_token_hint) into a
// Requirement: what the login must achieve. It is pure, so the same
// request always asks the same of the login, on every node.
//
// Where the wish comes from, strongest first: an essential acr in the
// claims parameter (OIDC Core 5.5.1.1: unmet is an error, never a token
// with a lower acr); acr_values; voluntary acr values in the claims
// parameter; the client's default acr; its minimum acr. The client's
// minimum acr is a floor enforced on every login whatever the request
// says.
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/store"
)

// Requirement is what a login must achieve for one authorization request
// under one client policy.
type Requirement struct {
	// Want are the acceptable acr values, in preference order (full
	// values): an essential acr claim's values, else acr_values, else
	// voluntary claim values, else the policy's DefaultACR, else MinACR.
	// Values the table does not know are dropped, except when every
	// essential value is unknown (the login must then fail as unmet).
	Want []string
	// Essential: Want came from an essential acr claim; unmet is an error,
	// never a token with a lower acr.
	Essential bool
	// MinACR is the client's floor (full value, "" = none): always
	// enforced; enrolment of a factor that reaches it is forced once the
	// grace period is over.
	MinACR     string
	PromptNone bool
	// MaxAge in seconds; prompt=login is turned into 0 (op does it
	// already, Resolve again so the rule holds for any caller).
	MaxAge         *int64
	HintUserID     string   // sub of a verified id_token_hint
	AllowedFactors []string // factor ids usable after the credentials; empty = all
	FactorMaxAge   time.Duration
	GraceDays      int
	// SecondFactorMaxAge, when set, leaves out the proofs of factors other
	// than the credentials older than this: a change to the account needs
	// a second factor proved just now, while the password may be as old as
	// the session (its lifetime and idle limits bound it). No client
	// policy sets it.
	SecondFactorMaxAge time.Duration
}

// Default is the policy of a client without its own: no floor, no default
// wish, every factor allowed, no grace period, "remember this device" off
// (30 days when a policy turns it on).
func Default() store.ClientPolicy {
	return store.ClientPolicy{RememberFor: 30 * 24 * time.Hour}
}

// Resolve computes the requirement of r under p. The only error is a
// malformed claims parameter (op validates it at /authorize, so it means
// a request stored by an older version).
func Resolve(t assurance.Table, p store.ClientPolicy, r *store.AuthRequest) (Requirement, error) {
	req := Requirement{
		MinACR:         p.MinACR,
		HintUserID:     r.HintUserID,
		AllowedFactors: slices.Clone(p.AllowedFactors),
		FactorMaxAge:   p.FactorMaxAge,
		GraceDays:      p.GraceDays,
	}
	if r.MaxAge != nil {
		v := *r.MaxAge
		req.MaxAge = &v
	}
	for _, pr := range r.Prompt {
		switch pr {
		case "none":
			req.PromptNone = true
		case "login":
			zero := int64(0)
			req.MaxAge = &zero
		}
	}
	var claim *ClaimsACR
	if r.Claims != "" {
		c, err := ParseClaimsACR(r.Claims)
		if err != nil {
			return req, fmt.Errorf("claims parameter: %w", err)
		}
		claim = c
	}
	known := func(vs []string) []string {
		return distinct(slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return !t.Known(v) }))
	}
	if claim != nil && claim.Essential && len(claim.Values) > 0 {
		req.Essential = true
		req.Want = known(claim.Values)
		if len(req.Want) == 0 {
			// Nothing we can reach was asked for: keep the values so the
			// login ends with unmet_authentication_requirements.
			req.Want = distinct(claim.Values)
		}
		return req, nil
	}
	var voluntary []string
	if claim != nil {
		voluntary = claim.Values
	}
	for _, src := range [][]string{r.ACRValues, voluntary, {p.DefaultACR}, {p.MinACR}} {
		if w := known(src); len(w) > 0 {
			req.Want = w
			break
		}
	}
	return req, nil
}

// distinct returns vs without repeats, in first-seen order.
func distinct(vs []string) []string {
	var out []string
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ClaimsACR is what the claims parameter asks of the acr claim.
type ClaimsACR struct {
	Essential bool
	Values    []string // "value", then "values", in order of preference
}

// ParseClaimsACR parses the claims request parameter (OIDC Core 5.5) and
// returns its acr member: from id_token, or else from userinfo (the acr
// claim describes the same authentication wherever it is delivered). nil
// when acr is not asked for or asked for with null.
func ParseClaimsACR(raw string) (*ClaimsACR, error) {
	var req struct {
		IDToken  map[string]json.RawMessage `json:"id_token"`
		UserInfo map[string]json.RawMessage `json:"userinfo"`
	}
	if err := json.Unmarshal([]byte(raw), &req); err != nil {
		return nil, errors.New("not a JSON object with id_token and userinfo objects")
	}
	member, m := "id_token.acr", req.IDToken["acr"]
	if isNull(m) {
		member, m = "userinfo.acr", req.UserInfo["acr"]
	}
	if isNull(m) {
		return nil, nil
	}
	var acr struct {
		Essential bool     `json:"essential"`
		Value     *string  `json:"value"`
		Values    []string `json:"values"`
	}
	if err := json.Unmarshal(m, &acr); err != nil {
		return nil, fmt.Errorf("%s: must be null or an object with essential, value or values (strings)", member)
	}
	out := &ClaimsACR{Essential: acr.Essential, Values: acr.Values}
	if acr.Value != nil {
		out.Values = append([]string{*acr.Value}, out.Values...)
	}
	return out, nil
}

func isNull(m json.RawMessage) bool { return len(m) == 0 || string(m) == "null" }

// FieldError is one problem of a policy, naming its field as admins and
// the config file spell it ("min_acr").
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate checks p against the acr table and the registered factors and
// returns every problem joined, each a *FieldError. knownFactors nil skips
// the factor check (config is validated before the factors are built);
// acr values must be full values (resolve short names first).
func Validate(t assurance.Table, p store.ClientPolicy, knownFactors []string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	for _, f := range []struct {
		name, acr string
	}{{"min_acr", p.MinACR}, {"default_acr", p.DefaultACR}} {
		if f.acr != "" && !t.Known(f.acr) {
			bad(f.name, "unknown acr value %q (known: %v)", f.acr, t.Values())
		}
	}
	if lo, hi := t.Rank(p.MinACR), t.Rank(p.DefaultACR); lo >= 0 && hi >= 0 && hi < lo {
		bad("default_acr", "%q is below min_acr %q", p.DefaultACR, p.MinACR)
	}
	for _, f := range []struct {
		name string
		ids  []string
	}{{"allowed_factors", p.AllowedFactors}, {"account_change_factors", p.AccountChangeFactors}} {
		for i, id := range f.ids {
			switch {
			case id == "":
				bad(f.name, "entry %d is empty", i+1)
			case slices.Contains(f.ids[:i], id):
				bad(f.name, "%q is listed twice", id)
			case knownFactors != nil && !slices.Contains(knownFactors, id):
				bad(f.name, "unknown factor %q (known: %v)", id, knownFactors)
			}
		}
	}
	if p.FactorMaxAge < 0 {
		bad("factor_max_age", "must not be negative, got %s", p.FactorMaxAge)
	}
	if p.GraceDays < 0 {
		bad("grace_days", "must not be negative, got %d", p.GraceDays)
	}
	if p.RememberFor < 0 || (p.RememberDevice && p.RememberFor == 0) {
		bad("remember_for", "must be positive when remember_device is on (and never negative), got %s", p.RememberFor)
	}
	return errors.Join(errs...)
}
