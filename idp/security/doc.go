// Package security holds the cryptographic building blocks of the identity
// provider: argon2id password hashing (with import of legacy bcrypt hashes),
// the NIST SP 800-63B-4 password policy, AES-256-GCM sealing of secrets at
// rest bound to their row by associated data, HKDF subkeys so one configured
// master key serves every purpose, and keyed hashing of high-entropy secrets
// and tokens.
//
// It has no database and no I/O besides crypto/rand, so every other package
// may import it. Secrets that people choose (passwords) get a slow,
// memory-hard hash; secrets that we generate (client secrets, tokens, codes
// with enough entropy) get a fast keyed or plain SHA-256, because a slow hash
// on them would only cap throughput without adding security.
package security
