package notify

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// fakeSleep replaces the package's sleep and jitter for one test:
// waits are recorded, never slept, and jitter takes its maximum.
func fakeSleep(t *testing.T) *[]time.Duration {
	t.Helper()
	var waits []time.Duration
	oldSleep, oldJitter := sleep, jitter
	sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	jitter = func(d time.Duration) time.Duration { return d }
	t.Cleanup(func() { sleep, jitter = oldSleep, oldJitter })
	return &waits
}

func TestRetry(t *testing.T) {
	m := Message{Channel: SMS, To: "+31612345678", Ref: "sms.r"}
	transient := fmt.Errorf("%w: twilio: HTTP 503", ErrUnavailable)

	t.Run("a transient failure then success delivers after two calls", func(t *testing.T) {
		waits := fakeSleep(t)
		next := &recorder{errs: []error{transient}}
		if err := Retry(next, 3, time.Second).Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if n := len(next.sent()); n != 2 {
			t.Errorf("%d calls, want 2", n)
		}
		if len(*waits) != 1 || (*waits)[0] != time.Second {
			t.Errorf("waits %v, want [1s]", *waits)
		}
	})
	t.Run("a permanent failure is returned after one call", func(t *testing.T) {
		fakeSleep(t)
		next := &recorder{errs: []error{fmt.Errorf("%w: 21211", ErrUndeliverable)}}
		err := Retry(next, 5, time.Second).Send(context.Background(), m)
		if !errors.Is(err, ErrUndeliverable) {
			t.Fatalf("err = %v", err)
		}
		if n := len(next.sent()); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
	t.Run("a duplicate is not retried", func(t *testing.T) {
		fakeSleep(t)
		next := &recorder{errs: []error{ErrDuplicate}}
		if err := Retry(next, 5, time.Second).Send(context.Background(), m); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("err = %v", err)
		}
		if n := len(next.sent()); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
	t.Run("when attempts run out the error is still unavailable", func(t *testing.T) {
		waits := fakeSleep(t)
		next := &recorder{errs: []error{transient, transient, transient, transient}}
		err := Retry(next, 4, 100*time.Millisecond).Send(context.Background(), m)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if n := len(next.sent()); n != 4 {
			t.Errorf("%d calls, want 4", n)
		}
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
		if fmt.Sprint(*waits) != fmt.Sprint(want) {
			t.Errorf("waits %v, want the exponential bounds %v", *waits, want)
		}
	})
	t.Run("waits are capped", func(t *testing.T) {
		r := &retry{backoff: 10 * time.Second}
		if got := r.wait(10); got != maxRetryBackoff {
			t.Errorf("wait(10) = %s, want %s", got, maxRetryBackoff)
		}
		if got := (&retry{backoff: time.Minute}).wait(3); got != time.Minute {
			t.Errorf("a backoff above the cap is kept: got %s", got)
		}
	})
	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		fakeSleep(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		next := &recorder{errs: []error{transient, transient, transient}, onSend: cancel}
		err := Retry(next, 5, time.Second).Send(ctx, m)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want the last error and context.Canceled", err)
		}
		if n := len(next.sent()); n != 1 {
			t.Errorf("%d calls after cancel, want 1", n)
		}
	})
	t.Run("the real wait ends when the context does", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		begin := time.Now()
		if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if time.Since(begin) > time.Second {
			t.Error("sleep ignored the context")
		}
	})
	t.Run("full jitter stays within zero and the bound", func(t *testing.T) {
		for range 1000 {
			if d := jitter(time.Second); d < 0 || d > time.Second {
				t.Fatalf("jitter = %s", d)
			}
		}
		if jitter(0) != 0 {
			t.Error("jitter(0) != 0")
		}
	})
}
