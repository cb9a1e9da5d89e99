package factortest

import (
	"context"
	"sync"

	"github.com/eu-health-idp/idp/idp/notify"
)

// Sender records what factors send instead of delivering it. Set Err to
// make the next sends fail (a provider outage, a limit). It refuses a
// Ref it has seen, as notify.Once does, so a test sees a double send.
type Sender struct {
	mu   sync.Mutex
	sent []notify.Message
	refs map[string]bool
	// Err, when set, is returned by Send instead of recording.
	Err error
}

var _ notify.Sender = (*Sender)(nil)

// Send records m.
func (s *Sender) Send(_ context.Context, m notify.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	if s.refs == nil {
		s.refs = map[string]bool{}
	}
	if s.refs[m.Ref] {
		return notify.ErrDuplicate
	}
	s.refs[m.Ref] = true
	s.sent = append(s.sent, m)
	return nil
}

// Sent returns the messages recorded so far, oldest first.
func (s *Sender) Sent() []notify.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.Message(nil), s.sent...)
}

// Last returns the newest message; ok is false when none was sent.
func (s *Sender) Last() (m notify.Message, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sent) == 0 {
		return m, false
	}
	return s.sent[len(s.sent)-1], true
}

// SetErr makes the next sends fail with err (nil to deliver again).
func (s *Sender) SetErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Err = err
}
