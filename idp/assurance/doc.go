// Package assurance turns what a session has proved into the acr and amr
// claims. Factors only report proofs (store.Proof); the level is always
// computed here, by pure functions, so step-up, tokens and audits agree.
package assurance
