package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// maxRetryBackoff caps one wait between attempts (unless the configured
// backoff is longer still).
const maxRetryBackoff = 30 * time.Second

// sleep waits d or until ctx is done; tests replace it so they never
// wait.
var sleep = func(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jitter picks the wait in [0, d] ("full jitter"), so nodes that failed
// together do not retry together.
var jitter = func(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// Retry tries next up to attempts times (at least once) while it fails
// with an error wrapping ErrUnavailable; any other outcome is returned
// at once. Before attempt n+1 it waits a random time up to
// backoff*2^(n-1) (capped at 30s or backoff, whichever is longer). When
// ctx ends during a wait it stops and returns the last error joined with
// ctx's. After the last attempt the error still wraps ErrUnavailable.
func Retry(next Sender, attempts int, backoff time.Duration) Sender {
	return &retry{next: next, attempts: max(attempts, 1), backoff: max(backoff, 0)}
}

type retry struct {
	next     Sender
	attempts int
	backoff  time.Duration
}

func (r *retry) Send(ctx context.Context, m Message) error {
	var last error
	for i := range r.attempts {
		if i > 0 {
			if err := sleep(ctx, jitter(r.wait(i))); err != nil {
				return fmt.Errorf("%w (gave up retrying: %w)", last, err)
			}
		}
		last = r.next.Send(ctx, m)
		if last == nil || !errors.Is(last, ErrUnavailable) {
			return last
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w (gave up retrying: %w)", last, err)
		}
	}
	return fmt.Errorf("notify: %d attempts: %w", r.attempts, last)
}

// wait is the upper bound of the wait before attempt i+1 (i >= 1).
func (r *retry) wait(i int) time.Duration {
	limit := max(r.backoff, maxRetryBackoff)
	d := r.backoff
	for range i - 1 {
		if d >= limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}
