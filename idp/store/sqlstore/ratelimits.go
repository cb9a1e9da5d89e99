package sqlstore

import (
	"context"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// Hit counts one request in key's fixed window with a single upsert, so
// concurrent hits on any node never lose a count. The window restarts when
// the stored one began at or before now-window; every SET expression reads
// the row as it was before the update, on PostgreSQL and SQLite alike.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	n := micros(now)
	stale := n - window.Microseconds()
	var count int
	err := s.db.WithContext(ctx).Raw(`
		INSERT INTO rate_limits (key, window_start, count, expires_at) VALUES (?, ?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET
			count        = CASE WHEN rate_limits.window_start <= ? THEN 1 ELSE rate_limits.count + 1 END,
			window_start = CASE WHEN rate_limits.window_start <= ? THEN excluded.window_start ELSE rate_limits.window_start END,
			expires_at   = CASE WHEN rate_limits.window_start <= ? THEN excluded.expires_at ELSE rate_limits.expires_at END
		RETURNING count`,
		key, n, n+window.Microseconds(), stale, stale, stale).Find(&count).Error
	if err != nil {
		return 0, mapErr("rate limit hit", err)
	}
	return count, nil
}

// Count returns key's count in the window still open at now, 0 if none.
func (s *Store) Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	var counts []int
	err := s.db.WithContext(ctx).Raw(`SELECT count FROM rate_limits WHERE key = ? AND window_start > ?`,
		key, micros(now)-window.Microseconds()).Find(&counts).Error
	if err != nil {
		return 0, mapErr("rate limit count", err)
	}
	if len(counts) == 0 {
		return 0, nil
	}
	return counts[0], nil
}

// Reset forgets key.
func (s *Store) Reset(ctx context.Context, key string) error {
	return mapErr("rate limit reset", s.db.WithContext(ctx).Exec(`DELETE FROM rate_limits WHERE key = ?`, key).Error)
}

var _ store.RateLimits = (*Store)(nil)
