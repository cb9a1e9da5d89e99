package sqlstore

import (
	"context"
	"slices"

	"github.com/eu-health-idp/idp/idp/store"
)

type outboxRow struct {
	ID          int64   `gorm:"column:id;primaryKey;autoIncrement"`
	Channel     string  `gorm:"column:channel"`
	Destination string  `gorm:"column:destination"`
	Ref         *string `gorm:"column:ref"` // NULL when none: unique
	Lang        string  `gorm:"column:lang"`
	Subject     string  `gorm:"column:subject"`
	BodyText    string  `gorm:"column:body_text"`
	BodyHTML    string  `gorm:"column:body_html"`
	Digits      int     `gorm:"column:digits"`
	Reply       string  `gorm:"column:reply"`
	CreatedAt   int64   `gorm:"column:created_at;autoCreateTime:false"`
}

func (outboxRow) TableName() string { return "outbox_messages" }

func toOutboxRow(m *store.OutboxMessage) outboxRow {
	return outboxRow{
		ID: m.ID, Channel: m.Channel, Destination: m.To, Ref: nullable(m.Ref), Lang: m.Lang,
		Subject: m.Subject, BodyText: m.Text, BodyHTML: m.HTML, Digits: m.Digits, Reply: m.Reply,
		CreatedAt: micros(m.CreatedAt),
	}
}

func (r outboxRow) domain() store.OutboxMessage {
	return store.OutboxMessage{
		ID: r.ID, Channel: r.Channel, To: r.Destination, Ref: deref(r.Ref), Lang: r.Lang,
		Subject: r.Subject, Text: r.BodyText, HTML: r.BodyHTML, Digits: r.Digits, Reply: r.Reply,
		CreatedAt: fromMicros(r.CreatedAt),
	}
}

// defaultOutboxLimit is how many messages OutboxMessages returns when the
// caller names no limit: a page's worth, not the whole table.
const defaultOutboxLimit = 100

// AddOutboxMessage stores m and sets m.ID; the id the database assigns
// (m.ID is ignored). ErrConflict when m.Ref is already stored. A message
// without a Ref never conflicts.
func (s *Store) AddOutboxMessage(ctx context.Context, m *store.OutboxMessage) error {
	row := toOutboxRow(m)
	row.ID = 0
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return mapErr("add outbox message", err)
	}
	m.ID = row.ID
	return nil
}

// OutboxMessages returns the newest limit messages, oldest first; limit
// <= 0 means defaultOutboxLimit. Newest is the last stored (the highest
// id), not the latest CreatedAt: times may tie, the id never does.
func (s *Store) OutboxMessages(ctx context.Context, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		limit = defaultOutboxLimit
	}
	var rows []outboxRow
	if err := s.db.WithContext(ctx).Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, mapErr("list outbox messages", err)
	}
	slices.Reverse(rows)
	out := make([]store.OutboxMessage, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// OutboxMessageByRef returns the message with ref; ErrNotFound if none
// (always for ref "", which is stored as NULL).
func (s *Store) OutboxMessageByRef(ctx context.Context, ref string) (*store.OutboxMessage, error) {
	if ref == "" {
		return nil, mapErr("get outbox message", store.ErrNotFound)
	}
	var row outboxRow
	if err := s.db.WithContext(ctx).Where("ref = ?", ref).Take(&row).Error; err != nil {
		return nil, mapErr("get outbox message", err)
	}
	m := row.domain()
	return &m, nil
}

// SetOutboxReply records what a call said after its keypress, replacing
// any earlier reply; ErrNotFound when no message has id.
func (s *Store) SetOutboxReply(ctx context.Context, id int64, reply string) error {
	res := s.db.WithContext(ctx).Model(&outboxRow{}).Where("id = ?", id).Update("reply", reply)
	if res.Error != nil {
		return mapErr("set outbox reply", res.Error)
	}
	if res.RowsAffected == 0 {
		return mapErr("set outbox reply", store.ErrNotFound)
	}
	return nil
}
