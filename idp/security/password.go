package security

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// Argon2Params are the argon2id cost parameters. They are written into every
// hash, so changing them never breaks existing hashes; Verify reports
// needsRehash instead and the caller re-hashes at the next successful login.
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// DefaultArgon2 is the OWASP Password Storage Cheat Sheet minimum for
// argon2id: 19 MiB, 2 iterations, 1 lane.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// Limits on parameters read from a stored hash. A hash is data, possibly
// imported from another system; without limits one corrupt row could make a
// single login allocate gigabytes.
const (
	maxStoredMemoryKiB  = 1 << 21 // 2 GiB
	maxStoredIterations = 64
	minStoredKeyLen     = 16
	maxStoredKeyLen     = 128
	minStoredSaltLen    = 8
	maxStoredSaltLen    = 64
)

// ErrMalformedHash is wrapped by every error about an unparsable stored hash.
var ErrMalformedHash = errors.New("security: malformed password hash")

// ErrOverloaded is returned, at once, when a password hash cannot start
// soon: every computation slot is busy and the queue behind them is full,
// or a queued request waited longer than the hasher's maximum wait. The
// caller answers "try again in a moment" (a 503 with Retry-After); it is
// not a failed login.
var ErrOverloaded = errors.New("security: too many password hashes in progress")

// PasswordHasher hashes and verifies passwords. It is safe for concurrent use.
//
// Each argon2id computation allocates MemoryKiB of memory and keeps one core
// busy for tens of milliseconds, so the hasher bounds how many run at once
// (the concurrency), how many may wait behind them (the queue) and for how
// long (the maximum wait). Beyond that it sheds: the caller gets
// ErrOverloaded instead of a place in an ever longer line. A burst of
// logins then costs a bounded amount of memory and CPU, and token issuance,
// which never hashes a password, keeps its share of the machine.
type PasswordHasher struct {
	params Argon2Params
	// admit holds one token per computation running or waiting: capacity
	// concurrency + queue. A full admit is the overload signal.
	admit chan struct{}
	// sem holds one token per computation running: capacity concurrency.
	sem     chan struct{}
	queue   int // < 0: not set by an option, take the default
	maxWait time.Duration
	// shedFull and shedWait count ErrOverloaded answers by cause, for the
	// metrics.
	shedFull, shedWait atomic.Uint64
	// done counts computations finished, so that callers can tell a
	// hasher that went quiet from one that is busy.
	done atomic.Uint64
	// dummy is a well-formed hash with the hasher's own parameters that
	// DummyVerify checks against, so that an unknown user costs the same
	// time as a known one.
	dummySalt []byte
	dummyKey  []byte
}

// DefaultQueuePerSlot is how many hashes may wait per computation slot when
// no queue length is configured. At the OWASP parameters one hash takes
// ~22 ms, so a full queue is ~0.2 s of work: short enough that a person at
// the end of it barely notices, long enough to absorb the bursts of a
// normal morning.
const DefaultQueuePerSlot = 8

// DefaultMaxWait is how long a hash may wait for a slot when no maximum
// wait is configured: far above the wait of a full queue at normal speed,
// so it only sheds when hashing itself has slowed down (a starved CPU).
const DefaultMaxWait = 2 * time.Second

// HasherOption configures a PasswordHasher.
type HasherOption func(*PasswordHasher)

// WithConcurrency limits the number of password hash computations that run at
// the same time to n (n < 1 means the default, GOMAXPROCS: argon2id with one
// lane keeps one core busy, so more would only add memory, not throughput).
// With the default parameters each one holds 19 MiB.
func WithConcurrency(n int) HasherOption {
	return func(h *PasswordHasher) {
		if n >= 1 {
			h.sem = make(chan struct{}, n)
		}
	}
}

// WithQueue lets at most n hashes wait for a computation slot; one more is
// refused with ErrOverloaded at once. n < 1 means the default,
// DefaultQueuePerSlot per slot.
func WithQueue(n int) HasherOption {
	return func(h *PasswordHasher) {
		if n >= 1 {
			h.queue = n
		}
	}
}

// WithMaxWait bounds how long a hash waits for a computation slot before it
// gives up with ErrOverloaded (d <= 0 means DefaultMaxWait).
func WithMaxWait(d time.Duration) HasherOption {
	return func(h *PasswordHasher) {
		if d > 0 {
			h.maxWait = d
		}
	}
}

// NewPasswordHasher returns a hasher that creates argon2id hashes with p.
// Zero fields of p take the value of DefaultArgon2, so a partially filled
// configuration never produces a weak hash.
func NewPasswordHasher(p Argon2Params, opts ...HasherOption) *PasswordHasher {
	if p.MemoryKiB == 0 {
		p.MemoryKiB = DefaultArgon2.MemoryKiB
	}
	if p.Iterations == 0 {
		p.Iterations = DefaultArgon2.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = DefaultArgon2.Parallelism
	}
	if p.SaltLen == 0 {
		p.SaltLen = DefaultArgon2.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = DefaultArgon2.KeyLen
	}
	h := &PasswordHasher{params: p, queue: -1, maxWait: DefaultMaxWait}
	for _, o := range opts {
		o(h)
	}
	if h.sem == nil {
		h.sem = make(chan struct{}, runtime.GOMAXPROCS(0))
	}
	if h.queue < 0 {
		h.queue = DefaultQueuePerSlot * cap(h.sem)
	}
	h.admit = make(chan struct{}, cap(h.sem)+h.queue)
	h.dummySalt = make([]byte, p.SaltLen)
	rand.Read(h.dummySalt)
	h.dummyKey = make([]byte, p.KeyLen)
	rand.Read(h.dummyKey)
	return h
}

// Params returns the parameters new hashes are created with.
func (h *PasswordHasher) Params() Argon2Params { return h.params }

// HasherStats is a snapshot of the hasher's load, for metrics.
type HasherStats struct {
	Concurrency, Queue int           // the limits
	MaxWait            time.Duration // the limit
	Running, Waiting   int           // now
	// ShedQueueFull and ShedWaitTimeout count ErrOverloaded answers since
	// start: refused because the queue was full, or after waiting MaxWait.
	ShedQueueFull, ShedWaitTimeout uint64
	// Done counts the computations finished since start.
	Done uint64
}

// Stats returns the hasher's limits, its current load and how often it shed.
func (h *PasswordHasher) Stats() HasherStats {
	running := len(h.sem)
	return HasherStats{
		Concurrency: cap(h.sem), Queue: h.queue, MaxWait: h.maxWait,
		Running: running, Waiting: max(0, len(h.admit)-running),
		ShedQueueFull: h.shedFull.Load(), ShedWaitTimeout: h.shedWait.Load(),
		Done: h.done.Load(),
	}
}

// acquire takes a computation slot. It refuses at once with ErrOverloaded
// when the slots and the queue are full, waits at most maxWait otherwise
// (then ErrOverloaded), and gives up with ctx's error when ctx ends first.
// On success the caller must call release exactly once.
func (h *PasswordHasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.admit <- struct{}{}:
	default:
		h.shedFull.Add(1)
		return ErrOverloaded
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-t.C:
		<-h.admit
		h.shedWait.Add(1)
		return ErrOverloaded
	case <-ctx.Done():
		<-h.admit
		return ctx.Err()
	}
}

// release gives back the slot and the admission taken by acquire.
func (h *PasswordHasher) release() {
	<-h.sem
	<-h.admit
}

// run calls f in a computation slot. The slot is given back however f
// ends, a panic included, so a failure can never leak capacity.
func (h *PasswordHasher) run(ctx context.Context, f func()) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	defer h.done.Add(1)
	f()
	return nil
}

// normalize applies NFKC before argon2id hashing, as SP 800-63B-4 asks, so
// that the same password typed on keyboards producing composed or decomposed
// characters verifies. Imported bcrypt hashes are checked against the raw
// bytes, because the system that created them did not normalise.
func normalize(password string) []byte { return []byte(norm.NFKC.String(password)) }

// Hash returns an argon2id PHC string for password.
func (h *PasswordHasher) Hash(password string) (string, error) {
	return h.HashContext(context.Background(), password)
}

// HashContext is Hash that stops waiting for a computation slot when ctx
// ends; like every hash it may be refused with ErrOverloaded.
func (h *PasswordHasher) HashContext(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("security: reading salt: %w", err)
	}
	p := h.params
	var key []byte
	if err := h.run(ctx, func() {
		key = argon2.IDKey(normalize(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	}); err != nil {
		return "", err
	}
	return encodePHC(p, salt, key), nil
}

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.MemoryKiB, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Verify checks password against a stored hash: an argon2id PHC string with
// any parameters, or an imported bcrypt hash ($2a$, $2b$, $2y$). needsRehash
// is true after a successful check when the hash is not an argon2id hash with
// this hasher's parameters; the caller should then store Hash(password).
// A wrong password is ok == false with a nil error; err is reserved for a
// malformed hash, a cancelled context, or ErrOverloaded (the hasher is
// shedding load: nothing was checked).
func (h *PasswordHasher) Verify(encoded, password string) (ok, needsRehash bool, err error) {
	return h.VerifyContext(context.Background(), encoded, password)
}

// VerifyContext is Verify that stops waiting for a computation slot when ctx
// ends.
func (h *PasswordHasher) VerifyContext(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		p, salt, key, err := decodePHC(encoded)
		if err != nil {
			return false, false, err
		}
		var got []byte
		if err := h.run(ctx, func() {
			got = argon2.IDKey(normalize(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
		}); err != nil {
			return false, false, err
		}
		if subtle.ConstantTimeCompare(got, key) != 1 {
			return false, false, nil
		}
		return true, p != h.params, nil
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		// $2y$ (PHP) is the same algorithm as $2b$; x/crypto/bcrypt
		// accepts any minor version letter.
		hash := []byte(encoded)
		if _, err := bcrypt.Cost(hash); err != nil {
			return false, false, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
		}
		// bcrypt compares in constant time internally.
		var cmpErr error
		if err := h.run(ctx, func() { cmpErr = bcrypt.CompareHashAndPassword(hash, []byte(password)) }); err != nil {
			return false, false, err
		}
		switch err := cmpErr; {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		default:
			return false, false, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
		}
	default:
		return false, false, fmt.Errorf("%w: unknown algorithm", ErrMalformedHash)
	}
}

// DummyVerify spends the time of a real Verify against an argon2id hash with
// the hasher's parameters, and always fails. Call it when the user does not
// exist so that response timing does not reveal which usernames exist.
func (h *PasswordHasher) DummyVerify(password string) {
	_ = h.DummyVerifyContext(context.Background(), password)
}

// DummyVerifyContext is DummyVerify that stops waiting for a computation slot
// when ctx ends. It takes a slot like a real verification and is refused
// with ErrOverloaded in the same way, so that under load an unknown user is
// not told apart from a known one either.
func (h *PasswordHasher) DummyVerifyContext(ctx context.Context, password string) error {
	p := h.params
	return h.run(ctx, func() {
		got := argon2.IDKey(normalize(password), h.dummySalt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
		subtle.ConstantTimeCompare(got, h.dummyKey)
	})
}

// decodePHC parses "$argon2id$v=19$m=...,t=...,p=...$salt$key".
func decodePHC(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	bad := func(why string) (Argon2Params, []byte, []byte, error) {
		return p, nil, nil, fmt.Errorf("%w: argon2id: %s", ErrMalformedHash, why)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("want 5 $-separated fields")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version " + parts[2])
	}
	var seen [3]bool
	for _, kv := range strings.Split(parts[3], ",") {
		name, val, found := strings.Cut(kv, "=")
		if !found {
			return bad("parameter without value")
		}
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return bad("parameter " + name + " is not a number")
		}
		switch name {
		case "m":
			p.MemoryKiB, seen[0] = uint32(n), true
		case "t":
			p.Iterations, seen[1] = uint32(n), true
		case "p":
			if n > 255 {
				return bad("parallelism above 255")
			}
			p.Parallelism, seen[2] = uint8(n), true
		default:
			return bad("unknown parameter " + name)
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return bad("missing m, t or p")
	}
	if p.Parallelism < 1 || p.Iterations < 1 || p.Iterations > maxStoredIterations ||
		p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > maxStoredMemoryKiB {
		return bad("parameters out of range")
	}
	// The reference implementation writes unpadded base64; accept padding
	// from other writers.
	salt, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(parts[4], "="))
	if err != nil || len(salt) < minStoredSaltLen || len(salt) > maxStoredSaltLen {
		return bad("bad salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(parts[5], "="))
	if err != nil || len(key) < minStoredKeyLen || len(key) > maxStoredKeyLen {
		return bad("bad key")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// IsSupportedHash reports whether encoded is a well-formed hash Verify can
// check: an argon2id PHC string or a bcrypt hash. Imports call it so a
// typo never becomes an account nobody can log in to.
func IsSupportedHash(encoded string) bool {
	if strings.HasPrefix(encoded, "$argon2id$") {
		_, _, _, err := decodePHC(encoded)
		return err == nil
	}
	for _, p := range []string{"$2a$", "$2b$", "$2y$"} {
		if strings.HasPrefix(encoded, p) {
			_, err := bcrypt.Cost([]byte(encoded))
			return err == nil
		}
	}
	return false
}
