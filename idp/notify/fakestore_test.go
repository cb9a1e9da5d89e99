package notify

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// In-memory fakes of the store interfaces the wrappers use. The real
// backends are held to the same contracts by store/storetest.

// memRateLimits is store.RateLimits: fixed windows per key.
type memRateLimits struct {
	mu      sync.Mutex
	windows map[string]*memWindow
	keys    []string // every key hit, in order
}

type memWindow struct {
	start time.Time
	count int
}

var _ store.RateLimits = (*memRateLimits)(nil)

func (r *memRateLimits) Hit(_ context.Context, key string, window time.Duration, now time.Time) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.windows == nil {
		r.windows = map[string]*memWindow{}
	}
	w := r.windows[key]
	if w == nil || !now.Before(w.start.Add(window)) {
		w = &memWindow{start: now}
		r.windows[key] = w
	}
	w.count++
	r.keys = append(r.keys, key)
	return w.count, nil
}

func (r *memRateLimits) Count(_ context.Context, key string, window time.Duration, now time.Time) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.windows[key]
	if w == nil || !now.Before(w.start.Add(window)) {
		return 0, nil
	}
	return w.count, nil
}

func (r *memRateLimits) Reset(_ context.Context, key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.windows, key)
	return nil
}

func (r *memRateLimits) hitKeys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys)
}

// memSingleUse is store.SingleUse.
type memSingleUse struct {
	mu   sync.Mutex
	used map[string]time.Time
	err  error // returned by every call when set
}

var _ store.SingleUse = (*memSingleUse)(nil)

func (s *memSingleUse) UseOnce(_ context.Context, key string, expiresAt, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.used == nil {
		s.used = map[string]time.Time{}
	}
	if exp, ok := s.used[key]; ok && now.Before(exp) {
		return store.ErrConsumed
	}
	s.used[key] = expiresAt
	return nil
}

// memOutbox is store.Outbox.
type memOutbox struct {
	mu   sync.Mutex
	msgs []store.OutboxMessage
	err  error
}

var _ store.Outbox = (*memOutbox)(nil)

func (o *memOutbox) AddOutboxMessage(_ context.Context, m *store.OutboxMessage) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	m.ID = int64(len(o.msgs) + 1)
	o.msgs = append(o.msgs, *m)
	return nil
}

func (o *memOutbox) OutboxMessages(_ context.Context, limit int) ([]store.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.msgs[max(0, len(o.msgs)-limit):]), nil
}

func (o *memOutbox) OutboxMessageByRef(_ context.Context, ref string) (*store.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.msgs {
		if o.msgs[i].Ref == ref {
			m := o.msgs[i]
			return &m, nil
		}
	}
	return nil, store.ErrNotFound
}

func (o *memOutbox) SetOutboxReply(_ context.Context, id int64, reply string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.msgs {
		if o.msgs[i].ID == id {
			o.msgs[i].Reply = reply
			return nil
		}
	}
	return store.ErrNotFound
}

// recorder is a Sender that records what reaches it and answers with
// errs in turn (nil once they run out).
type recorder struct {
	mu   sync.Mutex
	got  []Message
	errs []error
	// onSend runs inside Send, before it answers.
	onSend func()
}

func (r *recorder) Send(_ context.Context, m Message) error {
	r.mu.Lock()
	r.got = append(r.got, m)
	var err error
	if len(r.errs) > 0 {
		err, r.errs = r.errs[0], r.errs[1:]
	}
	f := r.onSend
	r.mu.Unlock()
	if f != nil {
		f()
	}
	return err
}

func (r *recorder) sent() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
