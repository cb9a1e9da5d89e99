package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/eu-health-idp/idp/idp/store"
)

type loginFlowRow struct {
	ID            string `gorm:"column:id;primaryKey"`
	AuthRequestID string `gorm:"column:auth_request_id"`
	BrowserHash   string `gorm:"column:browser_hash"`
	UserID        string `gorm:"column:user_id"`
	Factor        string `gorm:"column:factor"`
	ChallengeID   string `gorm:"column:challenge_id"`
	Enrolling     string `gorm:"column:enrolling"`
	EnrollmentID  string `gorm:"column:enrollment_id"`
	SkippedEnrol  bool   `gorm:"column:skipped_enrol"`
	StartACR      string `gorm:"column:start_acr"`
	Purpose       string `gorm:"column:purpose"`
	Version       int    `gorm:"column:version"`
	CreatedAt     int64  `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt     int64  `gorm:"column:expires_at"`
}

func (loginFlowRow) TableName() string { return "login_flows" }

func toLoginFlowRow(f *store.LoginFlow) loginFlowRow {
	return loginFlowRow{
		ID: f.ID, AuthRequestID: f.AuthRequestID, BrowserHash: f.BrowserHash, UserID: f.UserID,
		Factor: f.Factor, ChallengeID: f.ChallengeID, Enrolling: f.Enrolling, EnrollmentID: f.EnrollmentID,
		SkippedEnrol: f.SkippedEnrol, StartACR: f.StartACR, Purpose: f.Purpose, Version: f.Version,
		CreatedAt: micros(f.CreatedAt), ExpiresAt: micros(f.ExpiresAt),
	}
}

func (r loginFlowRow) domain() *store.LoginFlow {
	return &store.LoginFlow{
		ID: r.ID, AuthRequestID: r.AuthRequestID, BrowserHash: r.BrowserHash, UserID: r.UserID,
		Factor: r.Factor, ChallengeID: r.ChallengeID, Enrolling: r.Enrolling, EnrollmentID: r.EnrollmentID,
		SkippedEnrol: r.SkippedEnrol, StartACR: r.StartACR, Purpose: r.Purpose, Version: r.Version,
		CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt),
	}
}

// CreateLoginFlow inserts f with Version 1; ErrConflict when the id is taken.
func (s *Store) CreateLoginFlow(ctx context.Context, f *store.LoginFlow) error {
	row := toLoginFlowRow(f)
	row.Version = 1
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return mapErr("create login flow", err)
	}
	f.Version = 1
	return nil
}

// LoginFlowByID returns the flow; ErrNotFound when unknown or expired at
// now (live while now < ExpiresAt).
func (s *Store) LoginFlowByID(ctx context.Context, id string, now time.Time) (*store.LoginFlow, error) {
	var row loginFlowRow
	if err := s.db.WithContext(ctx).Where("id = ? AND expires_at > ?", id, micros(now)).Take(&row).Error; err != nil {
		return nil, mapErr("get login flow", err)
	}
	return row.domain(), nil
}

// UpdateLoginFlow writes f's progress guarded by the version the caller
// read. What binds the flow (its auth request, its browser, when it began)
// is never rewritten: a flow cannot be moved to another browser or request
// by an update.
func (s *Store) UpdateLoginFlow(ctx context.Context, f *store.LoginFlow, now time.Time) error {
	n := micros(now)
	row := toLoginFlowRow(f)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE login_flows SET user_id = ?, factor = ?, challenge_id = ?, enrolling = ?,
			enrollment_id = ?, skipped_enrol = ?, start_acr = ?, purpose = ?, expires_at = ?, version = version + 1
			WHERE id = ? AND version = ? AND expires_at > ?`,
			row.UserID, row.Factor, row.ChallengeID, row.Enrolling, row.EnrollmentID, row.SkippedEnrol,
			row.StartACR, row.Purpose, row.ExpiresAt, f.ID, f.Version, n)
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		var live int64
		if err := tx.Model(&loginFlowRow{}).Where("id = ? AND expires_at > ?", f.ID, n).Count(&live).Error; err != nil {
			return err
		}
		if live == 0 {
			return store.ErrNotFound
		}
		return store.ErrConflict
	})
	if err != nil {
		return mapErr("update login flow", err)
	}
	f.Version++
	return nil
}
