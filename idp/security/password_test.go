package security

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// cheap parameters keep the tests fast; the defaults are benchmarked below.
var cheap = Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestHashProducesAPHCStringWithTheHashersParameters(t *testing.T) {
	h := NewPasswordHasher(DefaultArgon2)
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	parts := strings.Split(enc, "$")
	if len(parts[4]) != 22 || len(parts[5]) != 43 || strings.ContainsAny(parts[4]+parts[5], "=") {
		t.Fatalf("want raw std base64 of 16-byte salt and 32-byte key, got %q", enc)
	}
	again, _ := h.Hash("correct horse battery staple")
	if again == enc {
		t.Fatal("two hashes of one password must differ (random salt)")
	}
}

func TestVerify(t *testing.T) {
	h := NewPasswordHasher(cheap)
	own, _ := h.Hash("s3cret-Passw0rd")
	other, _ := NewPasswordHasher(Argon2Params{MemoryKiB: 128, Iterations: 2, Parallelism: 2}).Hash("s3cret-Passw0rd")
	bc, _ := bcrypt.GenerateFromPassword([]byte("s3cret-Passw0rd"), bcrypt.MinCost)
	bc2y := "$2y$" + string(bc[4:])
	bc2a := "$2a$" + string(bc[4:])
	// Reference vector from the argon2 reference implementation / PHC
	// (password "password", salt "somesalt", m=65536,t=2,p=1 -> 32 bytes).
	ref := "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

	tests := []struct {
		name        string
		hash, pw    string
		ok, rehash  bool
		wantMalform bool
	}{
		{"the right password matches its own hash", own, "s3cret-Passw0rd", true, false, false},
		{"a wrong password does not match", own, "s3cret-passw0rd", false, false, false},
		{"a hash with other parameters matches and asks for a rehash", other, "s3cret-Passw0rd", true, true, false},
		{"a wrong password on a hash with other parameters asks for nothing", other, "nope", false, false, false},
		{"an imported bcrypt $2b$ hash matches and asks for a rehash", string(bc), "s3cret-Passw0rd", true, true, false},
		{"an imported bcrypt $2y$ hash matches", bc2y, "s3cret-Passw0rd", true, true, false},
		{"an imported bcrypt $2a$ hash matches", bc2a, "s3cret-Passw0rd", true, true, false},
		{"a wrong password on a bcrypt hash does not match", string(bc), "wrong", false, false, false},
		{"the reference implementation's test vector verifies", ref, "password", true, true, false},
		{"an empty hash is malformed", "", "x", false, false, true},
		{"an unknown algorithm is malformed", "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"another argon2 version is malformed", "$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"a missing parameter is malformed", "$argon2id$v=19$m=65536,t=2$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"absurd memory is malformed", "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"zero parallelism is malformed", "$argon2id$v=19$m=65536,t=2,p=0$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"bad base64 is malformed", "$argon2id$v=19$m=65536,t=2,p=1$c29tZX!hbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, false, true},
		{"a truncated key is malformed", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFh", "password", false, false, true},
		{"a truncated bcrypt hash is malformed", string(bc[:20]), "s3cret-Passw0rd", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.hash, tt.pw)
			if tt.wantMalform {
				if !errors.Is(err, ErrMalformedHash) {
					t.Fatalf("want ErrMalformedHash, got ok=%v err=%v", ok, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || rehash != tt.rehash {
				t.Fatalf("got ok=%v needsRehash=%v, want %v %v", ok, rehash, tt.ok, tt.rehash)
			}
		})
	}
}

func TestAnImportedBcryptHashIsUpgradedToArgon2id(t *testing.T) {
	h := NewPasswordHasher(cheap)
	bc, _ := bcrypt.GenerateFromPassword([]byte("legacy password"), bcrypt.MinCost)
	ok, rehash, err := h.Verify(string(bc), "legacy password")
	if err != nil || !ok || !rehash {
		t.Fatalf("bcrypt verify: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	upgraded, err := h.Hash("legacy password")
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err = h.Verify(upgraded, "legacy password")
	if err != nil || !ok || rehash {
		t.Fatalf("after upgrade: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
}

func TestNFKCEquivalentPasswordsVerify(t *testing.T) {
	h := NewPasswordHasher(cheap)
	enc, _ := h.Hash("caf\u00e9-\u00e9t\u00e9-2024")               // composed é
	ok, _, err := h.Verify(enc, "cafe\u0301-e\u0301te\u0301-2024") // decomposed
	if err != nil || !ok {
		t.Fatalf("decomposed input should verify: ok=%v err=%v", ok, err)
	}
}

func TestWaitingForASlotGivesUpWhenTheContextEnds(t *testing.T) {
	h := NewPasswordHasher(cheap, WithConcurrency(1))
	enc, _ := h.Hash("pw")
	h.sem <- struct{}{} // occupy the only slot
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := h.VerifyContext(ctx, enc, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("VerifyContext: want deadline exceeded, got %v", err)
	}
	if _, err := h.HashContext(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HashContext: want deadline exceeded, got %v", err)
	}
	if err := h.DummyVerifyContext(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DummyVerifyContext: want deadline exceeded, got %v", err)
	}
	<-h.sem
	if ok, _, err := h.VerifyContext(context.Background(), enc, "pw"); err != nil || !ok {
		t.Fatalf("after release: ok=%v err=%v", ok, err)
	}
}

func TestLimitsDefaultToOneHashPerCPUAndAQueueOfEightPerSlot(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, n := range []int{0, -1} {
		st := NewPasswordHasher(cheap, WithConcurrency(n), WithQueue(n), WithMaxWait(time.Duration(n))).Stats()
		if st.Concurrency != procs || st.Queue != DefaultQueuePerSlot*procs || st.MaxWait != DefaultMaxWait {
			t.Fatalf("options %d: got %+v, want concurrency %d, queue %d, wait %s", n, st, procs, DefaultQueuePerSlot*procs, DefaultMaxWait)
		}
	}
	st := NewPasswordHasher(cheap, WithConcurrency(3)).Stats()
	if st.Concurrency != 3 || st.Queue != 3*DefaultQueuePerSlot {
		t.Fatalf("WithConcurrency(3): %+v", st)
	}
	st = NewPasswordHasher(cheap, WithConcurrency(3), WithQueue(5), WithMaxWait(time.Second)).Stats()
	if st.Concurrency != 3 || st.Queue != 5 || st.MaxWait != time.Second {
		t.Fatalf("explicit limits: %+v", st)
	}
}

// hold takes the hasher's slots, as hashes that never end would, and
// returns a function that gives them back.
func hold(t *testing.T, h *PasswordHasher) (release func()) {
	t.Helper()
	n := h.Stats().Concurrency
	for range n {
		if err := h.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for range n {
			h.release()
		}
	}
}

// idle fails the test unless no slot and no place in the queue is taken.
func idle(t *testing.T, h *PasswordHasher) {
	t.Helper()
	if len(h.sem) != 0 || len(h.admit) != 0 {
		t.Fatalf("capacity leaked: %d slots and %d admissions still taken", len(h.sem), len(h.admit))
	}
}

func TestAFullQueueRefusesAtOnceWithErrOverloaded(t *testing.T) {
	h := NewPasswordHasher(cheap, WithConcurrency(1), WithQueue(1), WithMaxWait(time.Minute))
	enc, _ := h.Hash("pw")
	release := hold(t, h)

	queued := make(chan error, 1)
	go func() {
		ok, _, err := h.VerifyContext(context.Background(), enc, "pw")
		if err == nil && !ok {
			err = errors.New("the queued verification failed")
		}
		queued <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for h.Stats().Waiting != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the second verification never queued")
		}
		time.Sleep(time.Millisecond)
	}

	calls := map[string]func() error{
		"Verify":      func() error { _, _, err := h.VerifyContext(context.Background(), enc, "pw"); return err },
		"Hash":        func() error { _, err := h.HashContext(context.Background(), "pw"); return err },
		"DummyVerify": func() error { return h.DummyVerifyContext(context.Background(), "pw") },
	}
	for name, call := range calls {
		start := time.Now()
		if err := call(); !errors.Is(err, ErrOverloaded) {
			t.Fatalf("%s with the slot busy and the queue full: want ErrOverloaded, got %v", name, err)
		}
		// The maximum wait is a minute: refusing must not wait at all.
		if took := time.Since(start); took > time.Second {
			t.Fatalf("%s: refused after %s, want at once", name, took)
		}
	}
	if st := h.Stats(); st.ShedQueueFull != 3 || st.ShedWaitTimeout != 0 {
		t.Fatalf("shed counters %+v, want 3 queue-full", st)
	}

	release()
	if err := <-queued; err != nil {
		t.Fatalf("the queued verification, once the slot was free: %v", err)
	}
	idle(t, h)
	if ok, _, err := h.Verify(enc, "pw"); err != nil || !ok {
		t.Fatalf("after the burst: ok=%v err=%v", ok, err)
	}
}

func TestAWaiterGivesUpWithErrOverloadedAfterTheMaximumWait(t *testing.T) {
	const wait = 50 * time.Millisecond
	h := NewPasswordHasher(cheap, WithConcurrency(1), WithQueue(4), WithMaxWait(wait))
	enc, _ := h.Hash("pw")
	release := hold(t, h)
	start := time.Now()
	_, _, err := h.VerifyContext(context.Background(), enc, "pw")
	took := time.Since(start)
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("want ErrOverloaded, got %v", err)
	}
	if took < wait {
		t.Fatalf("gave up after %s, before the maximum wait %s", took, wait)
	}
	if st := h.Stats(); st.ShedWaitTimeout != 1 || st.ShedQueueFull != 0 || st.Waiting != 0 || st.Running != 1 {
		t.Fatalf("after the timeout: %+v", st)
	}
	release()
	idle(t, h)
}

func TestEveryWayOutGivesTheSlotBack(t *testing.T) {
	h := NewPasswordHasher(cheap, WithConcurrency(1), WithQueue(1), WithMaxWait(20*time.Millisecond))
	enc, _ := h.Hash("pw")
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	paths := []struct {
		name string
		call func() error
	}{
		{"a right password", func() error { _, _, err := h.Verify(enc, "pw"); return err }},
		{"a wrong password", func() error { _, _, err := h.Verify(enc, "nope"); return err }},
		{"a wrong password on bcrypt", func() error { _, _, err := h.Verify(string(bc), "nope"); return err }},
		{"a malformed hash", func() error {
			if _, _, err := h.Verify("$argon2id$v=19$m=1", "pw"); !errors.Is(err, ErrMalformedHash) {
				return fmt.Errorf("want ErrMalformedHash, got %v", err)
			}
			return nil
		}},
		{"a dummy verification", func() error { return h.DummyVerifyContext(context.Background(), "pw") }},
		{"a hash", func() error { _, err := h.Hash("pw"); return err }},
		{"a cancelled context", func() error {
			if _, _, err := h.VerifyContext(cancelled, enc, "pw"); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("want context.Canceled, got %v", err)
			}
			return nil
		}},
		{"a context that ends while waiting", func() error {
			release := hold(t, h)
			defer release()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			defer cancel()
			if err := h.DummyVerifyContext(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrOverloaded) {
				return fmt.Errorf("want a deadline or ErrOverloaded, got %v", err)
			}
			return nil
		}},
		{"a timeout in the queue", func() error {
			release := hold(t, h)
			defer release()
			if _, err := h.HashContext(context.Background(), "pw"); !errors.Is(err, ErrOverloaded) {
				return fmt.Errorf("want ErrOverloaded, got %v", err)
			}
			return nil
		}},
		{"a panic while hashing", func() (err error) {
			defer func() {
				if recover() == nil {
					err = errors.New("the panic did not propagate")
				}
			}()
			return h.run(context.Background(), func() { panic("boom") })
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			if err := p.call(); err != nil {
				t.Fatal(err)
			}
			idle(t, h)
		})
	}
}

func TestUnderAFloodAtMostConcurrencyHashesRunAndTheRestIsShed(t *testing.T) {
	const concurrency, queue, callers = 2, 3, 50
	h := NewPasswordHasher(cheap, WithConcurrency(concurrency), WithQueue(queue), WithMaxWait(time.Second))
	var running, peak atomic.Int32
	var ran, shed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range callers {
		wg.Go(func() {
			<-start
			err := h.run(context.Background(), func() {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				running.Add(-1)
			})
			switch {
			case err == nil:
				ran.Add(1)
			case errors.Is(err, ErrOverloaded):
				shed.Add(1)
			default:
				t.Errorf("unexpected error %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if peak.Load() > concurrency {
		t.Fatalf("%d hashes ran at once, the limit is %d", peak.Load(), concurrency)
	}
	if ran.Load()+shed.Load() != callers || shed.Load() == 0 || ran.Load() < concurrency {
		t.Fatalf("%d ran, %d shed of %d callers", ran.Load(), shed.Load(), callers)
	}
	st := h.Stats()
	if uint64(shed.Load()) != st.ShedQueueFull+st.ShedWaitTimeout || st.Done != uint64(ran.Load()) {
		t.Fatalf("%d ran and %d shed, counters %+v", ran.Load(), shed.Load(), st)
	}
	idle(t, h)
}

func TestZeroParametersFallBackToTheDefaults(t *testing.T) {
	if got := NewPasswordHasher(Argon2Params{}).Params(); got != DefaultArgon2 {
		t.Fatalf("got %+v", got)
	}
}

func TestDummyVerifyTakesAboutAsLongAsARealVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	h := NewPasswordHasher(DefaultArgon2)
	enc, _ := h.Hash("some password")
	// Interleaved, best of 7 each: on a shared machine a burst of load
	// then hits both sides alike instead of one whole series.
	real, dummy := time.Duration(1<<62), time.Duration(1<<62)
	for range 7 {
		start := time.Now()
		h.Verify(enc, "wrong password")
		real = min(real, time.Since(start))
		start = time.Now()
		h.DummyVerify("wrong password")
		dummy = min(dummy, time.Since(start))
	}
	if dummy < real/2 || dummy > real*2 {
		t.Fatalf("dummy %v vs real %v", dummy, real)
	}
}

func BenchmarkVerifyArgon2idDefault(b *testing.B) {
	h := NewPasswordHasher(DefaultArgon2)
	enc, _ := h.Hash("benchmark password")
	b.ReportAllocs()
	for b.Loop() {
		h.Verify(enc, "benchmark password")
	}
}
