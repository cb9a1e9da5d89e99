package notify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// Outbox is the dev-mode transport: every message, whatever its channel,
// is stored for /dev/outbox to show, and nothing is delivered. Wire it
// only when dev mode is on.
type Outbox struct {
	st  store.Outbox
	now func() time.Time
	log *slog.Logger
}

var _ Sender = (*Outbox)(nil)

// NewOutbox returns the dev outbox over st; now nil means time.Now, log
// nil the default logger.
func NewOutbox(st store.Outbox, now func() time.Time, log *slog.Logger) *Outbox {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Outbox{st: st, now: now, log: log}
}

// Send stores m. The log line names the channel and the Ref only: the
// text holds codes.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	switch m.Channel {
	case Email, SMS, Voice:
	default:
		return fmt.Errorf("notify: dev outbox: unknown channel %q", m.Channel)
	}
	om := &store.OutboxMessage{
		Channel:   string(m.Channel),
		To:        m.To,
		Ref:       m.Ref,
		Lang:      m.Lang,
		Subject:   m.Subject,
		Text:      m.Text,
		HTML:      m.HTML,
		Digits:    m.Digits,
		CreatedAt: o.now(),
	}
	if err := o.st.AddOutboxMessage(ctx, om); err != nil {
		return fmt.Errorf("notify: dev outbox: %w", err)
	}
	o.log.InfoContext(ctx, "dev outbox: message stored", "channel", string(m.Channel), "ref", m.Ref, "id", om.ID)
	return nil
}
