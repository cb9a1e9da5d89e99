package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// DefaultOnceKeep is how long Once remembers a Ref when keep is 0: far
// longer than any code or call lives.
const DefaultOnceKeep = 24 * time.Hour

// Once makes a Ref go out at most once across every node: before next
// sees a message, "notify:"+Ref is recorded in st (kept for keep, 0
// meaning DefaultOnceKeep); a Ref recorded already is ErrDuplicate and
// next is not called. The Ref stays used whatever next returns, so a
// resend needs a new Ref; put Retry inside Once, not outside, or its
// second attempt is a duplicate. A message without Ref is a programming
// mistake and refused.
func Once(next Sender, st store.SingleUse, now func() time.Time, keep time.Duration) Sender {
	if now == nil {
		now = time.Now
	}
	if keep <= 0 {
		keep = DefaultOnceKeep
	}
	return &once{next: next, st: st, now: now, keep: keep}
}

type once struct {
	next Sender
	st   store.SingleUse
	now  func() time.Time
	keep time.Duration
}

func (o *once) Send(ctx context.Context, m Message) error {
	if m.Ref == "" {
		return errors.New("notify: message without Ref: every send needs one")
	}
	t := o.now()
	switch err := o.st.UseOnce(ctx, "notify:"+m.Ref, t.Add(o.keep), t); {
	case errors.Is(err, store.ErrConsumed):
		return fmt.Errorf("%w: ref %s", ErrDuplicate, m.Ref)
	case err != nil:
		return fmt.Errorf("notify: recording ref: %w", err)
	}
	return o.next.Send(ctx, m)
}
