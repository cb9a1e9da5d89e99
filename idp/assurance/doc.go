// Package assurance turns what a session has proved into the acr and amr
// claims. Factors only report proofs (store.Proof); the level is always
// computed here, by pure functions, so step-up, tokens and audits agree.
//
// The acr values form a Table: an ordered list of Levels (by default the
// eIDAS low, substantial and high) and Aliases outside the order ("mfa",
// the NIST aal1/aal2/aal3), each with its own Rule: how many independent
// factor kinds, whether one proof must be phishing-resistant, which amr
// values do not count, how old a proof may be and how long the session may
// have been idle. A level is reached when its rule holds, or the rule of a
// level above it holds: the order is the promise that a higher level
// satisfies a request for a lower one, even in a configured table whose
// rules are not nested.
//
// Evaluate answers "what does this session reach now"; the login flow asks
// the same question of hypothetical proof sets to decide which factor to
// run next.
package assurance
