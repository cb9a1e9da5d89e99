package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/eu-health-idp/idp/idp/store"
)

type challengeRow struct {
	ID           string  `gorm:"column:id;primaryKey"`
	FlowID       string  `gorm:"column:flow_id"`
	UserID       *string `gorm:"column:user_id"` // NULL when none: a foreign key to users
	Factor       string  `gorm:"column:factor"`
	EnrollmentID string  `gorm:"column:enrollment_id"`
	CodeHash     string  `gorm:"column:code_hash"`
	Data         string  `gorm:"column:data"`
	Attempts     int     `gorm:"column:attempts"`
	MaxAttempts  int     `gorm:"column:max_attempts"`
	CreatedAt    int64   `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt    int64   `gorm:"column:expires_at"`
	ConsumedAt   *int64  `gorm:"column:consumed_at"`
}

func (challengeRow) TableName() string { return "challenges" }

func toChallengeRow(c *store.Challenge) challengeRow {
	return challengeRow{
		ID: c.ID, FlowID: c.FlowID, UserID: nullable(c.UserID), Factor: c.Factor,
		EnrollmentID: c.EnrollmentID, CodeHash: c.CodeHash, Data: c.Data,
		Attempts: c.Attempts, MaxAttempts: c.MaxAttempts,
		CreatedAt: micros(c.CreatedAt), ExpiresAt: micros(c.ExpiresAt), ConsumedAt: microsPtr(c.ConsumedAt),
	}
}

func (r challengeRow) domain() *store.Challenge {
	return &store.Challenge{
		ID: r.ID, FlowID: r.FlowID, UserID: deref(r.UserID), Factor: r.Factor,
		EnrollmentID: r.EnrollmentID, CodeHash: r.CodeHash, Data: r.Data,
		Attempts: r.Attempts, MaxAttempts: r.MaxAttempts,
		CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt), ConsumedAt: fromMicrosPtr(r.ConsumedAt),
	}
}

// CreateChallenge inserts c. ErrConflict when the id is taken, ErrNotFound
// when c.UserID names no user.
func (s *Store) CreateChallenge(ctx context.Context, c *store.Challenge) error {
	row := toChallengeRow(c)
	return mapErr("create challenge", s.db.WithContext(ctx).Create(&row).Error)
}

// ChallengeByID returns the challenge, consumed or not; ErrNotFound when
// unknown or expired at now (live while now < ExpiresAt).
func (s *Store) ChallengeByID(ctx context.Context, id string, now time.Time) (*store.Challenge, error) {
	var row challengeRow
	if err := s.db.WithContext(ctx).Where("id = ? AND expires_at > ?", id, micros(now)).Take(&row).Error; err != nil {
		return nil, mapErr("get challenge", err)
	}
	return row.domain(), nil
}

// UpdateChallengeData replaces the code of a live, unconsumed challenge
// whose data is still oldData. Its attempts are not reset: a resend must
// not buy more guesses.
func (s *Store) UpdateChallengeData(ctx context.Context, id, oldData, codeHash, data string, now time.Time) error {
	n := micros(now)
	return mapErr("update challenge data", s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE challenges SET code_hash = ?, data = ?
			WHERE id = ? AND data = ? AND consumed_at IS NULL AND expires_at > ?`, codeHash, data, id, oldData, n)
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		var row challengeRow
		if err := tx.Select("consumed_at", "data").Where("id = ? AND expires_at > ?", id, n).Take(&row).Error; err != nil {
			return err
		}
		if row.ConsumedAt != nil {
			return store.ErrConsumed
		}
		return store.ErrConflict
	}))
}

// FailChallenge counts one wrong answer. The guard and the increment are one
// statement, and RETURNING reads the count that statement wrote, so racing
// wrong answers are each counted once and never beyond MaxAttempts.
func (s *Store) FailChallenge(ctx context.Context, id string, now time.Time) (int, error) {
	n := micros(now)
	var attempts int
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var after []int
		err := tx.Raw(`UPDATE challenges SET attempts = attempts + 1
			WHERE id = ? AND consumed_at IS NULL AND attempts < max_attempts AND expires_at > ?
			RETURNING attempts`, id, n).Find(&after).Error
		if err != nil {
			return err
		}
		if len(after) == 1 {
			attempts = after[0]
			return nil
		}
		return whyChallengeRefused(tx, id, n)
	})
	if err != nil {
		return 0, mapErr("fail challenge", err)
	}
	return attempts, nil
}

// ConsumeChallenge marks the challenge used with one guarded UPDATE: of
// racing callers exactly one changes the row.
func (s *Store) ConsumeChallenge(ctx context.Context, id string, now time.Time) error {
	n := micros(now)
	return mapErr("consume challenge", s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE challenges SET consumed_at = ?
			WHERE id = ? AND consumed_at IS NULL AND attempts < max_attempts AND expires_at > ?`, n, id, n)
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		return whyChallengeRefused(tx, id, n)
	}))
}

// whyChallengeRefused explains a guarded UPDATE that changed nothing: an
// unknown or expired challenge is ErrNotFound (expiry wins, as in
// ChallengeByID), a consumed or used-up one ErrConsumed.
func whyChallengeRefused(tx *gorm.DB, id string, now int64) error {
	var row challengeRow
	if err := tx.Select("expires_at").Where("id = ? AND expires_at > ?", id, now).Take(&row).Error; err != nil {
		return err
	}
	return store.ErrConsumed
}
