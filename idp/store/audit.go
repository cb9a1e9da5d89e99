package store

import (
	"context"
	"time"
)

// AuditEvent is one security event about a person (or a client).
type AuditEvent struct {
	ID        int64
	UserID    string
	Event     string // e.g. "login.success", "login.failure", "user.disabled"
	ClientID  string
	IP        string
	UserAgent string
	Detail    map[string]string
	CreatedAt time.Time
}

// Audit is the append-only audit log.
type Audit interface {
	RecordAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns a user's events, newest first, at most limit.
	ListAudit(ctx context.Context, userID string, limit int) ([]AuditEvent, error)
}
