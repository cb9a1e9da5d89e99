package assurance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// The eIDAS levels of assurance, the default acr table, lowest first.
const (
	LoALow         = "http://eidas.europa.eu/LoA/low"
	LoASubstantial = "http://eidas.europa.eu/LoA/substantial"
	LoAHigh        = "http://eidas.europa.eu/LoA/high"
)

// MFA is the alias "any two independent factors", also the amr value added
// when the counted proofs span two kinds (RFC 8176).
const MFA = "mfa"

// The NIST SP 800-63B authenticator assurance levels, as short names; the
// acr values are these behind a configured prefix (DefaultTable).
const (
	AAL1 = "aal1"
	AAL2 = "aal2"
	AAL3 = "aal3"
)

// Rule is what a set of proofs must show for an acr value.
type Rule struct {
	// MinKinds is how many independent factor kinds are needed (1 or 2,
	// 3 at most). The kinds of a proof are Proof.Kinds, or its Factor id
	// when Kinds is empty (proofs stored before kinds existed).
	MinKinds int
	// PhishingResistant: at least one counted proof must be.
	PhishingResistant bool
	// ExcludeAMR: proofs carrying any of these amr values do not count
	// (NIST: an email code never counts toward aal2).
	ExcludeAMR []string
	// MaxAge: proofs older than this (at now) do not count; 0 = no limit.
	MaxAge time.Duration
	// Idle: not reached when the session was idle longer than this
	// (now - LastSeen); 0 = no limit.
	Idle time.Duration
}

// Level is one acr value with its rule.
type Level struct {
	ACR   string   // full value, e.g. http://eidas.europa.eu/LoA/substantial
	Names []string // short names accepted in config and CLI: "substantial"
	Rule
}

// Table is the configured set of acr values.
type Table struct {
	// Levels are ordered, lowest first; with no specific request the acr
	// claim reports the highest reached.
	Levels []Level
	// Aliases are values outside the order with their own rule: "mfa",
	// the NIST aal1/aal2/aal3. They are reported only when asked for.
	Aliases []Level
}

// DefaultTable is the eIDAS table with the "mfa" and NIST aliases;
// nistPrefix is put in front of aal1, aal2 and aal3 ("" gives the bare
// values). Freshness follows NIST SP 800-63B-4: 12 hours or 30 minutes
// idle for substantial/aal2, 12 hours or 15 minutes idle for high/aal3.
func DefaultTable(nistPrefix string) Table {
	const day = 12 * time.Hour
	return Table{
		Levels: []Level{
			{ACR: LoALow, Names: []string{"low"}, Rule: Rule{MinKinds: 1}},
			{ACR: LoASubstantial, Names: []string{"substantial"}, Rule: Rule{MinKinds: 2, MaxAge: day, Idle: 30 * time.Minute}},
			{ACR: LoAHigh, Names: []string{"high"}, Rule: Rule{MinKinds: 2, PhishingResistant: true, MaxAge: day, Idle: 15 * time.Minute}},
		},
		Aliases: []Level{
			{ACR: MFA, Names: []string{MFA}, Rule: Rule{MinKinds: 2}},
			{ACR: nistPrefix + AAL1, Names: []string{AAL1}, Rule: Rule{MinKinds: 1}},
			// An email code is not an authenticator at aal2 (SP 800-63B-4
			// 3.1.6: email is not an out-of-band channel).
			{ACR: nistPrefix + AAL2, Names: []string{AAL2}, Rule: Rule{MinKinds: 2, ExcludeAMR: []string{"email"}, MaxAge: day, Idle: 30 * time.Minute}},
			{ACR: nistPrefix + AAL3, Names: []string{AAL3}, Rule: Rule{MinKinds: 2, PhishingResistant: true, MaxAge: day, Idle: 15 * time.Minute}},
		},
	}
}

// all lists levels then aliases.
func (t Table) all() []Level {
	return append(slices.Clip(t.Levels), t.Aliases...)
}

// Resolve turns a full acr value, a short name ("substantial", any case)
// or an alias into the full acr value. Relying parties' requests are
// matched with Known instead: they must send the full value they expect
// back in the token.
func (t Table) Resolve(name string) (acr string, ok bool) {
	for _, l := range t.all() {
		if l.ACR == name {
			return l.ACR, true
		}
	}
	for _, l := range t.all() {
		for _, n := range l.Names {
			if strings.EqualFold(n, name) {
				return l.ACR, true
			}
		}
	}
	return "", false
}

// Known reports whether acr is a full value of the table.
func (t Table) Known(acr string) bool {
	return slices.ContainsFunc(t.all(), func(l Level) bool { return l.ACR == acr })
}

// Values lists the levels in order, then the aliases: discovery's
// acr_values_supported.
func (t Table) Values() []string {
	var out []string
	for _, l := range t.all() {
		out = append(out, l.ACR)
	}
	return out
}

// Rank is the position of acr in Levels (higher is stronger); -1 for
// aliases and unknown values, which are not ordered.
func (t Table) Rank(acr string) int {
	return slices.IndexFunc(t.Levels, func(l Level) bool { return l.ACR == acr })
}

// Validate checks the table's shape and returns every problem, each
// starting with its path ("levels[1].min_kinds: ...") so config can put
// its key in front.
func (t Table) Validate() error {
	var errs []error
	if len(t.Levels) == 0 {
		errs = append(errs, errors.New("levels: at least one level is needed"))
	}
	used := map[string]bool{} // lower-cased values and names
	claim := func(path, v string) {
		k := strings.ToLower(v)
		if used[k] {
			errs = append(errs, fmt.Errorf("%s: %q is already used by another level or alias", path, v))
			return
		}
		used[k] = true
	}
	check := func(group string, ls []Level) {
		for i, l := range ls {
			p := fmt.Sprintf("%s[%d]", group, i)
			switch {
			case l.ACR == "":
				errs = append(errs, fmt.Errorf("%s.acr: must not be empty", p))
			case strings.ContainsFunc(l.ACR, isSpace):
				// acr_values is a space-separated list.
				errs = append(errs, fmt.Errorf("%s.acr: must not contain spaces, got %q", p, l.ACR))
			default:
				claim(p+".acr", l.ACR)
			}
			for _, n := range l.Names {
				if n == "" || strings.ContainsFunc(n, isSpace) {
					errs = append(errs, fmt.Errorf("%s.names: %q is not a name (no spaces, not empty)", p, n))
					continue
				}
				if n != l.ACR {
					claim(p+".names", n)
				}
			}
			if l.MinKinds < 1 || l.MinKinds > 3 {
				errs = append(errs, fmt.Errorf("%s.min_kinds: must be 1, 2 or 3, got %d", p, l.MinKinds))
			}
			if slices.Contains(l.ExcludeAMR, "") {
				errs = append(errs, fmt.Errorf("%s.exclude_amr: must not contain an empty value", p))
			}
			if l.MaxAge < 0 {
				errs = append(errs, fmt.Errorf("%s.max_age: must not be negative, got %s", p, l.MaxAge))
			}
			if l.Idle < 0 {
				errs = append(errs, fmt.Errorf("%s.idle: must not be negative, got %s", p, l.Idle))
			}
		}
	}
	// The aliases are built in: claim their values first, so a clash is
	// reported on the configured level.
	check("aliases", t.Aliases)
	check("levels", t.Levels)
	return errors.Join(errs...)
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// Context is what Evaluate needs besides the proofs.
type Context struct {
	Now time.Time
	// LastSeen is the session's last activity before this request (zero =
	// not idle): the idle limits of the rules count from it.
	LastSeen time.Time
	// MaxAge is an extra cap on the age of every proof, from the client's
	// policy (FactorMaxAge); 0 = none.
	MaxAge time.Duration
}

// Result is what a set of proofs reaches.
type Result struct {
	ACR string // highest of the Levels reached ("" when none)
	// AMR is the union of the amr values of the proofs counted toward ACR,
	// plus "mfa" when they span two or more kinds.
	AMR []string
	// AuthTime is the time of the oldest proof counted toward ACR: with a
	// max_age, every counted proof is within it, not just the newest.
	AuthTime time.Time
	// Reached lists every acr value whose rule holds, levels in order then
	// aliases.
	Reached []string

	basis map[string]basis // per reached acr: the proofs counted toward it
}

// basis is what the proofs counted toward one acr value add up to.
type basis struct {
	factors []string
	amr     []string
	at      time.Time
}

// Evaluate computes what proofs reach at c. Only the newest proof of each
// factor is looked at: proving a factor again refreshes it, it does not
// make it two factors, and an older copy must not drag auth_time back.
func (t Table) Evaluate(proofs []store.Proof, c Context) Result {
	latest := newestPerFactor(proofs)
	r := Result{basis: map[string]basis{}}
	// From the top down, so a level is reached when its own rule or the
	// rule of any level above holds; it is then backed by the proofs of
	// the nearest level (itself or above) whose rule holds.
	var above *basis
	reached := make([]bool, len(t.Levels))
	for i := len(t.Levels) - 1; i >= 0; i-- {
		if b, ok := t.Levels[i].Rule.holds(latest, c); ok {
			above = &b
		}
		if above != nil {
			reached[i] = true
			r.basis[t.Levels[i].ACR] = *above
			if r.ACR == "" {
				r.ACR = t.Levels[i].ACR
			}
		}
	}
	for i, l := range t.Levels {
		if reached[i] {
			r.Reached = append(r.Reached, l.ACR)
		}
	}
	for _, a := range t.Aliases {
		if b, ok := a.Rule.holds(latest, c); ok {
			r.basis[a.ACR] = b
			r.Reached = append(r.Reached, a.ACR)
		}
	}
	if b, ok := r.basis[r.ACR]; ok {
		r.AMR, r.AuthTime = b.amr, b.at
	}
	return r
}

// Reaches reports whether proofs reach acr at c.
func (t Table) Reaches(proofs []store.Proof, c Context, acr string) bool {
	return t.Evaluate(proofs, c).Has(acr)
}

// Has reports whether acr is among the values reached.
func (r Result) Has(acr string) bool {
	return acr != "" && slices.Contains(r.Reached, acr)
}

// Report is the acr to put in a token: the first of want (the relying
// party's preference order) that is reached, else the highest level
// reached. It never names a value that is not reached.
func (r Result) Report(want []string) (acr string) {
	for _, w := range want {
		if r.Has(w) {
			return w
		}
	}
	return r.ACR
}

// As returns r reporting acr instead of r.ACR: AMR and AuthTime become
// those of the proofs counted toward acr, so the amr and auth_time in a
// token always describe the acr next to them. ok is false (and r is
// returned unchanged) when acr is not reached.
func (r Result) As(acr string) (Result, bool) {
	b, ok := r.basis[acr]
	if !ok {
		return r, false
	}
	r.ACR, r.AMR, r.AuthTime = acr, b.amr, b.at
	return r, true
}

// Factors lists the factors whose proofs count toward acr (nil when acr
// is not reached): the login flow checks that a factor being set up
// builds on credentials that still count.
func (r Result) Factors(acr string) []string {
	return slices.Clone(r.basis[acr].factors)
}

// holds reports whether the rule holds for proofs (one per factor) at c,
// and on what basis.
func (rule Rule) holds(proofs []store.Proof, c Context) (basis, bool) {
	if rule.Idle > 0 && !c.LastSeen.IsZero() && c.Now.Sub(c.LastSeen) > rule.Idle {
		return basis{}, false
	}
	limit := rule.MaxAge
	if c.MaxAge > 0 && (limit == 0 || c.MaxAge < limit) {
		limit = c.MaxAge
	}
	var b basis
	var kinds []string
	phishingResistant := false
	for _, p := range proofs {
		if limit > 0 && c.Now.Sub(p.At) > limit {
			continue
		}
		if slices.ContainsFunc(p.AMR, func(v string) bool { return slices.Contains(rule.ExcludeAMR, v) }) {
			continue
		}
		b.factors = append(b.factors, p.Factor)
		pk := p.Kinds
		if len(pk) == 0 {
			pk = []string{p.Factor}
		}
		for _, k := range pk {
			if !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
		for _, v := range p.AMR {
			if !slices.Contains(b.amr, v) {
				b.amr = append(b.amr, v)
			}
		}
		if b.at.IsZero() || p.At.Before(b.at) {
			b.at = p.At
		}
		phishingResistant = phishingResistant || p.PhishingResistant
	}
	// A rule never holds on nothing, whatever MinKinds says.
	if len(kinds) == 0 || len(kinds) < rule.MinKinds || (rule.PhishingResistant && !phishingResistant) {
		return basis{}, false
	}
	if len(kinds) >= 2 && !slices.Contains(b.amr, MFA) {
		b.amr = append(b.amr, MFA)
	}
	return b, true
}

// newestPerFactor keeps the newest proof of each factor, in first-seen order.
func newestPerFactor(proofs []store.Proof) []store.Proof {
	var out []store.Proof
	for _, p := range proofs {
		i := slices.IndexFunc(out, func(q store.Proof) bool { return q.Factor == p.Factor })
		switch {
		case i < 0:
			out = append(out, p)
		case p.At.After(out[i].At):
			out[i] = p
		}
	}
	return out
}
