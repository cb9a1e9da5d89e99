// Package flow decides what a login still needs. Next is a pure function of
// the authorization request, the client's requirement, the SSO session,
// the persisted login flow, the person's factors and the time: the
// handlers only carry out its decision, so every step can be replayed,
// tested, and resumed on another node. Steps never link to each other;
// after every page the engine calls Next again.
//
// Next decides, in this order:
//
//  1. Who. No session, or a session of someone else than the id_token_hint
//     or than the person this flow already identified: Credentials
//     (prompt=none: login_required).
//  2. Which proofs count. Proofs older than max_age are dropped, unless
//     they were made during this authorization request: max_age=0 (and
//     prompt=login) asks once, not forever. Without a remaining
//     credentials proof: Credentials (prompt=none: login_required). Proofs
//     of other factors older than the requirement's SecondFactorMaxAge are
//     dropped too. The session's last activity (idle limits) and the
//     client's factor max age go into the evaluation.
//  3. What is needed. The client's minimum acr, always. With an essential
//     acr claim, one of its values. Otherwise the wish (acr_values, or the
//     client's default) is voluntary: the login aims at the first wished
//     value that is reached or reachable by one more step; when none is,
//     at the best level reachable up to the strongest wished level; when
//     nothing is, the wish is dropped.
//  4. Satisfied: Done. The acr reported is the first wished value reached,
//     else the highest level, never a level below the client's minimum
//     when that is reached (except that an essential claim is answered
//     with one of its values, OIDC Core 5.5.1.1), never a value not
//     reached. The amr and auth_time of the result are those of the proofs
//     behind that acr. When nothing counts any more (the client's factor
//     max age), the credentials are asked again rather than issuing a
//     token without an acr.
//  5. Otherwise, the enrolled factors the client allows whose fresh proof
//     would satisfy the need are the candidates: the one the person
//     already chose (Flow.Factor) if it is one, else the only one (backup
//     factors not counted: they are reached through "use another method"),
//     else a chooser (last used first, backup factors last). If none, but a fresh
//     credentials proof (alone or followed by one factor) would: the
//     credentials again, as the one they hold are too old to count.
//     prompt=none: interaction_required (login_required for credentials).
//  6. Nothing the person has can do it. A voluntary wish was dropped in 3,
//     so this is the minimum acr or an essential claim: the factors the
//     person could enrol (allowed, enrollable, not backup) whose proof
//     would satisfy it are offered, skippable within the grace period
//     (not for an essential claim); after a skip the login finishes at the
//     level reached, below the minimum, never reported above it. A factor
//     is set up only on credentials that still count toward the level
//     (else the credentials come first): a passkey reaches substantial
//     alone, but must not be added to a stale session. No such factor:
//     unmet_authentication_requirements naming the acr.
//
// The lookahead is a single step (one factor, or the credentials followed
// by one factor): every level of the default table needs at most one
// factor beyond the credentials. A configured level that only two more
// factors could reach (min_kinds 3 with single-kind factors) would be
// reported unmet, not walked to.
package flow

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/policy"
	"github.com/eu-health-idp/idp/idp/store"
)

// Step is what the login does next.
type Step int

const (
	// StepCredentials asks for username and password.
	StepCredentials Step = iota
	// StepChooseFactor lets the person pick one of Decision.Factors.
	StepChooseFactor
	// StepFactor runs Decision.Factor.
	StepFactor
	// StepEnroll offers to set up one of Decision.Factors.
	StepEnroll
	// StepDone completes the authorization request with Decision.Result.
	StepDone
	// StepError ends the request with an OAuth error at the redirect URI.
	StepError
)

func (s Step) String() string {
	switch s {
	case StepCredentials:
		return "Credentials"
	case StepChooseFactor:
		return "ChooseFactor"
	case StepFactor:
		return "Factor"
	case StepEnroll:
		return "Enroll"
	case StepDone:
		return "Done"
	case StepError:
		return "Error"
	}
	return fmt.Sprintf("Step(%d)", int(s))
}

// CredentialsFactor is the factor id of the proof the credentials step
// records.
const CredentialsFactor = "password"

// CredentialsProof is the proof the credentials step records at at. Next
// assumes exactly this proof when it considers asking the credentials
// again, so the engine records this one.
func CredentialsProof(at time.Time) store.Proof {
	return store.Proof{Factor: CredentialsFactor, AMR: []string{"pwd"}, Kinds: []string{string(factors.Knowledge)}, At: at}
}

// OAuth error codes Next may return.
const (
	ErrLoginRequired       = "login_required"
	ErrInteractionRequired = "interaction_required"
	ErrUnmet               = "unmet_authentication_requirements"
)

// Option is a registered factor, as Next sees it for this person.
type Option struct {
	ID         string
	Props      factors.Properties
	Enrolled   bool // the person has a confirmed enrollment
	Enrollable bool // the factor implements factors.Enroller
}

// proof is the proof a run of the factor would record at at.
func (o Option) proof(at time.Time) store.Proof {
	kinds := make([]string, len(o.Props.Kinds))
	for i, k := range o.Props.Kinds {
		kinds[i] = string(k)
	}
	return store.Proof{Factor: o.ID, AMR: slices.Clone(o.Props.AMR), Kinds: kinds, PhishingResistant: o.Props.PhishingResistant, At: at}
}

// Input is everything Next looks at.
type Input struct {
	Request *store.AuthRequest
	Require policy.Requirement
	// Session is the browser's SSO session, nil when it has none. Its
	// LastSeenAt must be the last activity before this request (touch it
	// after deciding), or the idle limits never apply; a session that has
	// just recorded a proof must have it at that proof's time, or an idle
	// session would be asked the same factor again and again.
	Session *store.Session
	// Flow is the persisted state: UserID, Factor (chosen), SkippedEnrol.
	// nil is an empty flow.
	Flow *store.LoginFlow
	// Options are every registered factor in registration order; Next
	// keeps those Require.AllowedFactors allows.
	Options []Option
	// LastFactor is the person's last choice: first in the chooser.
	LastFactor string
	// EnrolOfferedAt is the user's; nil = never offered (the grace period
	// counts from now then).
	EnrolOfferedAt *time.Time
	Table          assurance.Table
	Now            time.Time
}

// Decision is the outcome of Next.
type Decision struct {
	Step Step
	// Result: with StepDone, what to put in the token (ACR is the value to
	// report, AMR and AuthTime those of the proofs behind it); with the
	// other steps after the credentials, what the session reaches now
	// (LoginFlow.StartACR, audit).
	Result assurance.Result
	// Factor is the factor to run (StepFactor).
	Factor string
	// Factors are the candidates of StepChooseFactor and StepFactor (the
	// last used first, then registration order, backup factors last: what
	// "use another method" lists) or the factors StepEnroll may set up
	// (registration order, never backup ones).
	Factors []string
	// Target is the acr value aimed at ("" when the login only needs the
	// credentials); with StepDone, the value reported.
	Target string
	// Skippable (StepEnroll): within the grace period, and not required by
	// an essential claim. DaysLeft: whole days left of it, rounded up.
	Skippable bool
	DaysLeft  int
	// Error and Description (StepError): the OAuth error.
	Error       string
	Description string
}

// Next decides the next step of a login.
func Next(in Input) Decision {
	req := in.Require
	s := in.Session
	flowUser := ""
	if in.Flow != nil {
		flowUser = in.Flow.UserID
	}
	if s == nil || (req.HintUserID != "" && s.UserID != req.HintUserID) || (flowUser != "" && s.UserID != flowUser) {
		return credentials(req, "the person must log in", assurance.Result{}, "")
	}
	proofs := considered(s.Proofs, in.Request, req.MaxAge, in.Now)
	if !slices.ContainsFunc(proofs, func(p store.Proof) bool { return p.Factor == CredentialsFactor }) {
		return credentials(req, "the authentication is older than max_age", assurance.Result{}, "")
	}
	if limit := req.SecondFactorMaxAge; limit > 0 {
		proofs = slices.DeleteFunc(proofs, func(p store.Proof) bool {
			return p.Factor != CredentialsFactor && in.Now.Sub(p.At) > limit
		})
	}
	return newDecider(in, proofs).decide()
}

// considered drops the proofs older than max_age, except those made during
// this request.
func considered(proofs []store.Proof, r *store.AuthRequest, maxAge *int64, now time.Time) []store.Proof {
	if maxAge == nil {
		return slices.Clone(proofs)
	}
	var created time.Time
	if r != nil {
		created = r.CreatedAt
	}
	limit := time.Duration(*maxAge) * time.Second
	var out []store.Proof
	for _, p := range proofs {
		if !p.At.Before(created) || now.Sub(p.At) <= limit {
			out = append(out, p)
		}
	}
	return out
}

// need is what the login must reach: the floor, an essential choice, and
// the voluntary value aimed at.
type need struct {
	min       string
	want      []string // with essential: one of these
	essential bool
	aim       string // voluntary, chosen because it is reachable
}

// mandatory: the parts a skip or a dropped wish cannot waive.
func (n need) mandatory(r assurance.Result) bool {
	if n.min != "" && !r.Has(n.min) {
		return false
	}
	return !n.essential || slices.ContainsFunc(n.want, r.Has)
}

func (n need) met(r assurance.Result) bool {
	return n.mandatory(r) && (n.aim == "" || r.Has(n.aim))
}

// plan is one step the person could take next, evaluated.
type plan struct {
	first  string // factor id, or CredentialsFactor
	option Option
	result assurance.Result // what the session would reach after it
}

type decider struct {
	in      Input
	req     policy.Requirement
	proofs  []store.Proof
	after   assurance.Context // after one more step: the session is active again
	allowed []Option          // registered and allowed, registration order
	res     assurance.Result  // what the session reaches now
	factor  []plan            // one enrolled factor
	cred    []plan            // the credentials, alone then followed by one enrolled factor
	need    need
}

func newDecider(in Input, proofs []store.Proof) *decider {
	d := &decider{
		in: in, req: in.Require, proofs: proofs,
		after: assurance.Context{Now: in.Now, MaxAge: in.Require.FactorMaxAge},
	}
	d.res = in.Table.Evaluate(proofs, assurance.Context{Now: in.Now, LastSeen: in.Session.LastSeenAt, MaxAge: in.Require.FactorMaxAge})
	for _, o := range in.Options {
		if o.ID == CredentialsFactor || (len(d.req.AllowedFactors) > 0 && !slices.Contains(d.req.AllowedFactors, o.ID)) {
			continue
		}
		d.allowed = append(d.allowed, o)
	}
	cred := CredentialsProof(in.Now)
	d.cred = append(d.cred, plan{first: CredentialsFactor, result: d.eval(cred)})
	for _, o := range d.allowed {
		if !o.Enrolled {
			continue
		}
		d.factor = append(d.factor, plan{first: o.ID, option: o, result: d.eval(o.proof(in.Now))})
		d.cred = append(d.cred, plan{first: CredentialsFactor, option: o, result: d.eval(cred, o.proof(in.Now))})
	}
	d.need = d.chooseNeed()
	return d
}

// eval is what the session would reach with extra fresh proofs, each
// replacing an older proof of the same factor.
func (d *decider) eval(extra ...store.Proof) assurance.Result {
	return d.in.Table.Evaluate(append(slices.Clone(d.proofs), extra...), d.after)
}

// reachable: met now or after one of the plans.
func (d *decider) reachable(n need) bool {
	if n.met(d.res) {
		return true
	}
	for _, p := range append(slices.Clip(d.factor), d.cred...) {
		if n.met(p.result) {
			return true
		}
	}
	return false
}

func (d *decider) chooseNeed() need {
	n := need{min: d.req.MinACR, want: d.req.Want, essential: d.req.Essential}
	if n.essential {
		return n
	}
	for _, w := range d.req.Want {
		if n.aim = w; d.reachable(n) {
			return n
		}
	}
	// None of the wishes is reachable: the best level up to the strongest
	// wished one (a voluntary acr_values gets the best reachable).
	top := -1
	for _, w := range d.req.Want {
		top = max(top, d.in.Table.Rank(w))
	}
	for i := top; i >= 0; i-- {
		if n.aim = d.in.Table.Levels[i].ACR; d.reachable(n) {
			return n
		}
	}
	n.aim = ""
	return n
}

func (d *decider) decide() Decision {
	if d.need.met(d.res) {
		// Nothing counts any more (the client's factor max age): the
		// credentials again rather than a token without an acr.
		if len(d.res.Reached) == 0 && len(d.cred[0].result.Reached) > 0 {
			return credentials(d.req, "the authentication is too old to count", d.res, d.target(d.cred[0].result))
		}
		return d.done(true)
	}
	var cands []plan
	for _, p := range d.factor {
		if d.need.met(p.result) {
			cands = append(cands, p)
		}
	}
	if len(cands) > 0 {
		return d.runFactor(cands)
	}
	for _, p := range d.cred {
		if d.need.met(p.result) {
			return credentials(d.req, "the authentication is too old for the level required", d.res, d.target(p.result))
		}
	}
	return d.enrol()
}

// done finishes at the level reached; floor: the minimum acr is reached
// and outranks a lower wished value in the report.
func (d *decider) done(floor bool) Decision {
	acr := d.report(floor)
	r, ok := d.res.As(acr)
	if !ok {
		r = d.res
	}
	return Decision{Step: StepDone, Result: r, Target: acr}
}

// report is the acr to put in the token.
func (d *decider) report(floor bool) string {
	if d.req.Essential {
		// OIDC Core 5.5.1.1: the acr must be one of the values asked for,
		// even one below the client's floor (which was enforced anyway).
		return d.res.Report(d.req.Want)
	}
	t, lo := d.in.Table, d.in.Table.Rank(d.req.MinACR)
	want := d.req.Want
	if floor && lo >= 0 {
		// A wish below the floor is met by the floor: report what the
		// person proved for this client, not less.
		want = slices.DeleteFunc(slices.Clone(want), func(w string) bool { r := t.Rank(w); return r >= 0 && r < lo })
	}
	acr := d.res.Report(want)
	if floor && d.req.MinACR != "" && d.res.Has(d.req.MinACR) && !covers(t, acr, d.req.MinACR) {
		acr = d.req.MinACR
	}
	return acr
}

// covers: reporting acr says at least min.
func covers(t assurance.Table, acr, min string) bool {
	a, m := t.Rank(acr), t.Rank(min)
	return acr == min || (a >= 0 && m >= 0 && a >= m)
}

// target is the acr the next step aims at, given what it would reach.
func (d *decider) target(r assurance.Result) string {
	want := d.need.aim
	if d.need.essential && len(d.need.want) > 0 {
		want = d.need.want[0]
		if i := slices.IndexFunc(d.need.want, r.Has); i >= 0 {
			want = d.need.want[i]
		}
	}
	return stronger(d.in.Table, want, d.need.min)
}

// stronger is the higher of two acr values when both are levels, else a
// (or b when a is empty).
func stronger(t assurance.Table, a, b string) string {
	if a == "" {
		return b
	}
	if ra, rb := t.Rank(a), t.Rank(b); ra >= 0 && rb > ra {
		return b
	}
	return a
}

func (d *decider) runFactor(cands []plan) Decision {
	target := d.target(cands[0].result)
	if d.req.PromptNone {
		return Decision{Step: StepError, Error: ErrInteractionRequired, Result: d.res, Target: target,
			Description: fmt.Sprintf("acr %s needs another factor", target)}
	}
	ids := chooserOrder(cands, d.in.LastFactor)
	if d.in.Flow != nil && slices.Contains(ids, d.in.Flow.Factor) {
		return Decision{Step: StepFactor, Factor: d.in.Flow.Factor, Factors: ids, Result: d.res, Target: target}
	}
	// Backup factors (recovery codes) do not make a choice: with one
	// everyday factor the person goes straight to it and reaches the
	// backup through "use another method".
	primary := 0
	for _, p := range cands {
		if !p.option.Props.Backup {
			primary++
		}
	}
	if len(ids) == 1 || primary == 1 {
		return Decision{Step: StepFactor, Factor: ids[0], Factors: ids, Result: d.res, Target: target}
	}
	return Decision{Step: StepChooseFactor, Factors: ids, Result: d.res, Target: target}
}

// chooserOrder: the last used factor first (recovery codes are for a lost
// phone, so a backup factor is never put first), then registration order,
// backup factors last.
func chooserOrder(cands []plan, last string) []string {
	var ids, backup []string
	for _, p := range cands {
		switch {
		case p.option.Props.Backup:
			backup = append(backup, p.first)
		case p.first == last:
			ids = append([]string{p.first}, ids...)
		default:
			ids = append(ids, p.first)
		}
	}
	return append(ids, backup...)
}

// enrol handles a mandatory need no enrolled factor can meet.
func (d *decider) enrol() Decision {
	mandatory := need{min: d.need.min, want: d.need.want, essential: d.need.essential}
	var direct, afterCred []string
	var firstResult assurance.Result
	var seen []assurance.Result
	cred := CredentialsProof(d.in.Now)
	for _, o := range d.allowed {
		if !o.Enrollable || o.Props.Backup {
			continue
		}
		alone, withCred := d.eval(o.proof(d.in.Now)), d.eval(cred, o.proof(d.in.Now))
		seen = append(seen, alone, withCred)
		switch {
		// Setting up a factor builds on the credentials: a passkey would
		// reach substantial alone, but is not set up on a password too old
		// to count (unless the level never counts a password).
		case mandatory.met(alone) && (d.credentialsCount(alone) || !d.credentialsCount(withCred)):
			if len(direct) == 0 {
				firstResult = alone
			}
			direct = append(direct, o.ID)
		case mandatory.met(withCred):
			afterCred = append(afterCred, o.ID)
		}
	}
	if len(direct) == 0 && len(afterCred) == 0 {
		return d.unmet(append(seen, d.res))
	}
	skippable, daysLeft := d.grace()
	if skippable && d.in.Flow != nil && d.in.Flow.SkippedEnrol {
		// Skipping never grants the level: the token says what was reached.
		return d.done(false)
	}
	if len(direct) == 0 {
		// The credentials are too old to count; the enrolment follows.
		return credentials(d.req, "the authentication is too old for the level required", d.res, d.target(d.res))
	}
	target := d.target(firstResult)
	if d.req.PromptNone {
		return Decision{Step: StepError, Error: ErrInteractionRequired, Result: d.res, Target: target,
			Description: fmt.Sprintf("acr %s needs a factor the person has not set up", target)}
	}
	return Decision{Step: StepEnroll, Factors: direct, Skippable: skippable, DaysLeft: daysLeft, Result: d.res, Target: target}
}

// credentialsCount: the credentials proof counts toward the mandatory acr
// values r reaches.
func (d *decider) credentialsCount(r assurance.Result) bool {
	var acrs []string
	if d.need.min != "" {
		acrs = append(acrs, d.need.min)
	}
	if i := slices.IndexFunc(d.need.want, r.Has); d.need.essential && i >= 0 {
		acrs = append(acrs, d.need.want[i])
	}
	for _, acr := range acrs {
		if !slices.Contains(r.Factors(acr), CredentialsFactor) {
			return false
		}
	}
	return true
}

// grace reports whether the enrolment may still be skipped and how many
// days are left, rounded up. It counts from the first offer (from now when
// never offered); an admin reset sets the first offer to the epoch, which
// leaves no grace.
func (d *decider) grace() (bool, int) {
	if d.req.Essential || d.req.GraceDays <= 0 {
		return false, 0
	}
	start := d.in.Now
	if d.in.EnrolOfferedAt != nil {
		start = *d.in.EnrolOfferedAt
	}
	left := start.Add(time.Duration(d.req.GraceDays) * 24 * time.Hour).Sub(d.in.Now)
	if left <= 0 {
		return false, 0
	}
	const day = 24 * time.Hour
	return true, int((left + day - 1) / day)
}

// unmet names what cannot be reached, given every hypothesis tried.
func (d *decider) unmet(tried []assurance.Result) Decision {
	for _, p := range append(slices.Clip(d.factor), d.cred...) {
		tried = append(tried, p.result)
	}
	n := d.need
	var parts []string
	if n.min != "" && !slices.ContainsFunc(tried, func(r assurance.Result) bool { return r.Has(n.min) }) {
		parts = append(parts, "acr "+n.min)
	}
	if n.essential && !slices.ContainsFunc(tried, func(r assurance.Result) bool { return slices.ContainsFunc(n.want, r.Has) }) {
		parts = append(parts, "the essential acr "+strings.Join(n.want, " or "))
	}
	if len(parts) == 0 {
		// Each is reachable alone, not both at once (only a floor next to
		// an essential claim gets here).
		parts = append(parts, "acr "+n.min+" together with the essential acr "+strings.Join(n.want, " or "))
	}
	return Decision{Step: StepError, Error: ErrUnmet, Result: d.res, Target: d.target(d.res),
		Description: strings.Join(parts, " and ") + " cannot be reached with the factors this client allows"}
}

// credentials asks for the credentials, or fails a prompt=none request.
func credentials(req policy.Requirement, why string, now assurance.Result, target string) Decision {
	if req.PromptNone {
		return Decision{Step: StepError, Error: ErrLoginRequired, Description: why, Result: now, Target: target}
	}
	return Decision{Step: StepCredentials, Result: now, Target: target}
}
