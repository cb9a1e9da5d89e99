package notify

import (
	"context"
	"fmt"
)

// Router sends each message with the Sender configured for its channel.
// A nil field means the channel is off.
type Router struct {
	Email, SMS, Voice Sender
}

var _ Sender = Router{}

func (r Router) sender(c Channel) Sender {
	switch c {
	case Email:
		return r.Email
	case SMS:
		return r.SMS
	case Voice:
		return r.Voice
	}
	return nil
}

// Send dispatches m by its channel; ErrNotConfigured when the channel
// has no Sender.
func (r Router) Send(ctx context.Context, m Message) error {
	s := r.sender(m.Channel)
	if s == nil {
		return fmt.Errorf("%w: %q", ErrNotConfigured, m.Channel)
	}
	return s.Send(ctx, m)
}

// Has reports whether channel c has a Sender, so factors that need it
// can be offered or hidden.
func (r Router) Has(c Channel) bool { return r.sender(c) != nil }
