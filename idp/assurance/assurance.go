package assurance

import (
	"slices"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// The eIDAS levels of assurance, the default acr table, lowest first.
const (
	LoALow         = "http://eidas.europa.eu/LoA/low"
	LoASubstantial = "http://eidas.europa.eu/LoA/substantial"
	LoAHigh        = "http://eidas.europa.eu/LoA/high"
)

// DefaultLevels is the ordered acr table used when config names none.
var DefaultLevels = []string{LoALow, LoASubstantial, LoAHigh}

// Freshness says how long a proof counts toward a level.
type Freshness struct {
	MaxAge time.Duration // since the proof was made; 0 = no limit
}

// Result is what a set of proofs reaches.
type Result struct {
	ACR      string    // highest level reached; "" when nothing is proved
	AMR      []string  // union of the proofs' amr values, plus "mfa"
	AuthTime time.Time // time of the newest proof
}

// Evaluate computes acr and amr from the proofs that are fresh at now.
// A password alone is low; two independent factors are substantial; a
// phishing-resistant proof next to another factor is high.
func Evaluate(proofs []store.Proof, now time.Time, f Freshness) Result {
	var r Result
	factors := map[string]bool{}
	phishingResistant := false
	for _, p := range proofs {
		if f.MaxAge > 0 && now.Sub(p.At) > f.MaxAge {
			continue
		}
		factors[p.Factor] = true
		if p.PhishingResistant {
			phishingResistant = true
		}
		for _, v := range p.AMR {
			if !slices.Contains(r.AMR, v) {
				r.AMR = append(r.AMR, v)
			}
		}
		if p.At.After(r.AuthTime) {
			r.AuthTime = p.At
		}
	}
	switch n := len(factors); {
	case n == 0:
		return Result{}
	case n >= 2 && phishingResistant:
		r.ACR = LoAHigh
	case n >= 2:
		r.ACR = LoASubstantial
	default:
		r.ACR = LoALow
	}
	if len(factors) >= 2 && !slices.Contains(r.AMR, "mfa") {
		r.AMR = append(r.AMR, "mfa")
	}
	return r
}

// Rank returns the position of acr in levels (higher is stronger), or -1.
func Rank(levels []string, acr string) int {
	return slices.Index(levels, acr)
}

// Satisfies reports whether reached meets wanted in the ordered table.
func Satisfies(levels []string, reached, wanted string) bool {
	r, w := Rank(levels, reached), Rank(levels, wanted)
	return r >= 0 && w >= 0 && r >= w
}
