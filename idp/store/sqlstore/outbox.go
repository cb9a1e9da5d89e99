package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// CONTRACT stub: the store helper replaces this file.

var errOutboxTODO = errors.New("sqlstore: outbox not implemented")

// AddOutboxMessage stores m.
func (s *Store) AddOutboxMessage(ctx context.Context, m *store.OutboxMessage) error {
	return errOutboxTODO
}

// OutboxMessages returns the newest limit messages, oldest first.
func (s *Store) OutboxMessages(ctx context.Context, limit int) ([]store.OutboxMessage, error) {
	return nil, errOutboxTODO
}

// OutboxMessageByRef returns the message with ref.
func (s *Store) OutboxMessageByRef(ctx context.Context, ref string) (*store.OutboxMessage, error) {
	return nil, errOutboxTODO
}

// SetOutboxReply records a call's reply.
func (s *Store) SetOutboxReply(ctx context.Context, id int64, reply string) error {
	return errOutboxTODO
}

var _ = time.Now
