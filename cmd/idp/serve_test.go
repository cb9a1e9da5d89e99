package main

import (
	"context"
	"io"
	"log/slog"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/security"
)

// forcedGCs is how many collections were forced (runtime.GC,
// debug.FreeOSMemory) since the process started.
func forcedGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestMemoryIsReleasedOnceAfterABurstOfHashingAndNeverWhileIdle(t *testing.T) {
	const period = 20 * time.Millisecond
	h := security.NewPasswordHasher(security.Argon2Params{MemoryKiB: 64, Iterations: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go releaseAfterHashing(ctx, h, period, slog.New(slog.NewTextHandler(io.Discard, nil)))

	before := forcedGCs()
	time.Sleep(10 * period)
	if n := forcedGCs() - before; n != 0 {
		t.Fatalf("%d collections forced with no hashing at all", n)
	}
	for range 3 {
		if _, err := h.Hash("a burst"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for forcedGCs() == before {
		if time.Now().After(deadline) {
			t.Fatal("no collection forced after the burst")
		}
		time.Sleep(period)
	}
	// Once per burst: quiet periods after it force nothing more.
	after := forcedGCs()
	time.Sleep(10 * period)
	if n := forcedGCs() - after; n != 0 {
		t.Fatalf("%d more collections forced while idle after the burst", n)
	}
}
