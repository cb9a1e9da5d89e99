package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/eu-health-idp/idp/idp/store"
)

type sessionRow struct {
	ID         string `gorm:"column:id;primaryKey"`
	UserID     string `gorm:"column:user_id"`
	Proofs     string `gorm:"column:proofs"`
	AuthTime   int64  `gorm:"column:auth_time"`
	CreatedAt  int64  `gorm:"column:created_at;autoCreateTime:false"`
	LastSeenAt int64  `gorm:"column:last_seen_at"`
	ExpiresAt  int64  `gorm:"column:expires_at"`
}

func (sessionRow) TableName() string { return "sessions" }

func toSessionRow(s *store.Session) (sessionRow, error) {
	proofs := "[]"
	if len(s.Proofs) > 0 {
		ps := make([]store.Proof, len(s.Proofs))
		for i, p := range s.Proofs {
			p.At = p.At.UTC() // reads return UTC, as for every other time
			ps[i] = p
		}
		b, err := json.Marshal(ps)
		if err != nil {
			return sessionRow{}, fmt.Errorf("encode proofs: %w", err)
		}
		proofs = string(b)
	}
	return sessionRow{
		ID: s.ID, UserID: s.UserID, Proofs: proofs, AuthTime: micros(s.AuthTime),
		CreatedAt: micros(s.CreatedAt), LastSeenAt: micros(s.LastSeenAt), ExpiresAt: micros(s.ExpiresAt),
	}, nil
}

func (r sessionRow) domain() (*store.Session, error) {
	var d decoder
	var proofs []store.Proof
	d.json(r.Proofs, &proofs)
	if d.err != nil {
		return nil, d.err
	}
	if len(proofs) == 0 {
		proofs = nil
	}
	return &store.Session{
		ID: r.ID, UserID: r.UserID, Proofs: proofs, AuthTime: fromMicros(r.AuthTime),
		CreatedAt: fromMicros(r.CreatedAt), LastSeenAt: fromMicros(r.LastSeenAt), ExpiresAt: fromMicros(r.ExpiresAt),
	}, nil
}

// CreateSession inserts s; ErrConflict when the id is taken.
func (s *Store) CreateSession(ctx context.Context, sess *store.Session) error {
	row, err := toSessionRow(sess)
	if err != nil {
		return mapErr("create session", err)
	}
	return mapErr("create session", s.db.WithContext(ctx).Create(&row).Error)
}

// SessionByID returns the session; ErrNotFound when unknown or expired at
// now (valid while now < ExpiresAt).
func (s *Store) SessionByID(ctx context.Context, id string, now time.Time) (*store.Session, error) {
	var row sessionRow
	if err := s.db.WithContext(ctx).Where("id = ? AND expires_at > ?", id, micros(now)).Take(&row).Error; err != nil {
		return nil, mapErr("get session", err)
	}
	sess, err := row.domain()
	return sess, mapErr("get session", err)
}

// ReplaceSession deletes oldID (if any) and inserts sess atomically, so a
// failed insert leaves the old session usable.
func (s *Store) ReplaceSession(ctx context.Context, oldID string, sess *store.Session) error {
	row, err := toSessionRow(sess)
	if err != nil {
		return mapErr("replace session", err)
	}
	return mapErr("replace session", s.tx(ctx, func(tx *gorm.DB) error {
		if oldID != "" {
			if err := tx.Where("id = ?", oldID).Delete(&sessionRow{}).Error; err != nil {
				return err
			}
		}
		return tx.Create(&row).Error
	}))
}

// TouchSession records activity; ErrNotFound for an unknown id.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	res := s.db.WithContext(ctx).Model(&sessionRow{}).Where("id = ?", id).Update("last_seen_at", micros(at))
	if res.Error != nil {
		return mapErr("touch session", res.Error)
	}
	if res.RowsAffected == 0 {
		return mapErr("touch session", store.ErrNotFound)
	}
	return nil
}

// DeleteSession removes one session; deleting an unknown one is a no-op,
// as logging out twice is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return mapErr("delete session", s.db.WithContext(ctx).Where("id = ?", id).Delete(&sessionRow{}).Error)
}

// DeleteUserSessions removes every session of a user.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	return mapErr("delete user sessions", s.db.WithContext(ctx).Where("user_id = ?", userID).Delete(&sessionRow{}).Error)
}
