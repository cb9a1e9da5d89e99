package sqlstore

import (
	"context"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// UseOnce records key until expiresAt in one upsert: the insert wins for a
// new key, the guarded DO UPDATE replaces a mark that expired at or before
// now, and a live mark changes no row. Both databases serialise conflicting
// inserts on the primary key, so exactly one racing caller changes a row.
func (s *Store) UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error {
	res := s.db.WithContext(ctx).Exec(`INSERT INTO single_use (key, expires_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE single_use.expires_at <= ?`, key, micros(expiresAt), micros(now))
	if res.Error != nil {
		return mapErr("use once", res.Error)
	}
	if res.RowsAffected == 0 {
		return mapErr("use once", store.ErrConsumed)
	}
	return nil
}
