package store

import (
	"context"
	"time"
)

// OutboxMessage is a message the dev outbox kept instead of sending it.
type OutboxMessage struct {
	ID      int64 // ascending in the order stored
	Channel string
	To      string
	Ref     string
	Lang    string
	Subject string
	Text    string
	HTML    string
	Digits  int
	// Reply is what the call said after its keypress ("" before).
	Reply     string
	CreatedAt time.Time
}

// OutboxLifetime is how long DeleteExpired keeps outbox messages.
const OutboxLifetime = 24 * time.Hour

// Outbox is the dev outbox (dev mode only: nothing else writes it).
type Outbox interface {
	// AddOutboxMessage stores m and sets m.ID.
	AddOutboxMessage(ctx context.Context, m *OutboxMessage) error
	// OutboxMessages returns the newest limit messages, oldest first.
	OutboxMessages(ctx context.Context, limit int) ([]OutboxMessage, error)
	// OutboxMessageByRef returns the message with ref; ErrNotFound if none.
	OutboxMessageByRef(ctx context.Context, ref string) (*OutboxMessage, error)
	// SetOutboxReply records what a call said after its keypress.
	SetOutboxReply(ctx context.Context, id int64, reply string) error
}
