package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/eu-health-idp/idp/idp/store"
)

type auditRow struct {
	ID        int64  `gorm:"column:id;primaryKey;autoIncrement"`
	UserID    string `gorm:"column:user_id"`
	Event     string `gorm:"column:event"`
	ClientID  string `gorm:"column:client_id"`
	IP        string `gorm:"column:ip"`
	UserAgent string `gorm:"column:user_agent"`
	Detail    string `gorm:"column:detail"`
	CreatedAt int64  `gorm:"column:created_at;autoCreateTime:false"`
}

func (auditRow) TableName() string { return "audit_events" }

func (r auditRow) domain() (store.AuditEvent, error) {
	var d decoder
	var detail map[string]string
	d.json(r.Detail, &detail)
	if len(detail) == 0 {
		detail = nil
	}
	return store.AuditEvent{
		ID: r.ID, UserID: r.UserID, Event: r.Event, ClientID: r.ClientID, IP: r.IP,
		UserAgent: r.UserAgent, Detail: detail, CreatedAt: fromMicros(r.CreatedAt),
	}, d.err
}

// RecordAudit appends e and sets e.ID.
func (s *Store) RecordAudit(ctx context.Context, e *store.AuditEvent) error {
	detail := "{}"
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return mapErr("record audit", fmt.Errorf("encode detail: %w", err))
		}
		detail = string(b)
	}
	row := auditRow{
		UserID: e.UserID, Event: e.Event, ClientID: e.ClientID, IP: e.IP,
		UserAgent: e.UserAgent, Detail: detail, CreatedAt: micros(e.CreatedAt),
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return mapErr("record audit", err)
	}
	e.ID = row.ID
	return nil
}

// ListAudit returns a user's events newest first (ties by insertion order,
// newest first), at most limit; limit <= 0 means all.
func (s *Store) ListAudit(ctx context.Context, userID string, limit int) ([]store.AuditEvent, error) {
	q := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at DESC, id DESC")
	if limit > 0 {
		q = q.Limit(limit)
	}
	var rows []auditRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, mapErr("list audit", err)
	}
	out := make([]store.AuditEvent, len(rows))
	for i, r := range rows {
		ev, err := r.domain()
		if err != nil {
			return nil, mapErr("list audit", err)
		}
		out[i] = ev
	}
	return out, nil
}
