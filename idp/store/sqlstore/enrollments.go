package sqlstore

import (
	"context"

	"gorm.io/gorm"

	"github.com/eu-health-idp/idp/idp/store"
)

type enrollmentRow struct {
	ID          string `gorm:"column:id;primaryKey"`
	UserID      string `gorm:"column:user_id"`
	Factor      string `gorm:"column:factor"`
	Name        string `gorm:"column:name"`
	Secret      []byte `gorm:"column:secret"` // NULL when none
	Data        string `gorm:"column:data"`
	ConfirmedAt *int64 `gorm:"column:confirmed_at"`
	LastUsedAt  *int64 `gorm:"column:last_used_at"`
	Version     int    `gorm:"column:version"`
	CreatedAt   int64  `gorm:"column:created_at;autoCreateTime:false"`
}

func (enrollmentRow) TableName() string { return "enrollments" }

func toEnrollmentRow(e *store.Enrollment) enrollmentRow {
	return enrollmentRow{
		ID: e.ID, UserID: e.UserID, Factor: e.Factor, Name: e.Name,
		Secret: secret(e.Secret), Data: e.Data,
		ConfirmedAt: microsPtr(e.ConfirmedAt), LastUsedAt: microsPtr(e.LastUsedAt),
		Version: e.Version, CreatedAt: micros(e.CreatedAt),
	}
}

func (r enrollmentRow) domain() store.Enrollment {
	return store.Enrollment{
		ID: r.ID, UserID: r.UserID, Factor: r.Factor, Name: r.Name,
		Secret: secret(r.Secret), Data: r.Data,
		ConfirmedAt: fromMicrosPtr(r.ConfirmedAt), LastUsedAt: fromMicrosPtr(r.LastUsedAt),
		Version: r.Version, CreatedAt: fromMicros(r.CreatedAt),
	}
}

// secret makes empty and nil secrets one value both ways: drivers disagree
// on whether an empty BLOB reads back as nil, and the store gives the two
// no different meaning.
func secret(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateEnrollment inserts e with Version 1. ErrConflict when the id is
// taken, ErrNotFound when the user does not exist.
func (s *Store) CreateEnrollment(ctx context.Context, e *store.Enrollment) error {
	row := toEnrollmentRow(e)
	row.Version = 1
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return mapErr("create enrollment", err)
	}
	e.Version = 1
	return nil
}

// EnrollmentByID returns the enrollment; ErrNotFound when unknown.
func (s *Store) EnrollmentByID(ctx context.Context, id string) (*store.Enrollment, error) {
	var row enrollmentRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return nil, mapErr("get enrollment", err)
	}
	e := row.domain()
	return &e, nil
}

// ListEnrollments returns the person's enrollments, oldest first; the id
// breaks ties so the order is stable when two share a microsecond.
func (s *Store) ListEnrollments(ctx context.Context, userID string) ([]store.Enrollment, error) {
	var rows []enrollmentRow
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, mapErr("list enrollments", err)
	}
	out := make([]store.Enrollment, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// UpdateEnrollment is one UPDATE guarded by the version the caller read, so
// of two read-modify-writes (two logins spending the same recovery code)
// exactly one lands.
func (s *Store) UpdateEnrollment(ctx context.Context, e *store.Enrollment) error {
	row := toEnrollmentRow(e)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE enrollments
			SET name = ?, secret = ?, data = ?, confirmed_at = ?, last_used_at = ?, version = version + 1
			WHERE id = ? AND version = ?`,
			row.Name, row.Secret, row.Data, row.ConfirmedAt, row.LastUsedAt, e.ID, e.Version)
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		ok, err := exists(tx, "enrollments", e.ID)
		switch {
		case err != nil:
			return err
		case ok:
			return store.ErrConflict
		}
		return store.ErrNotFound
	})
	if err != nil {
		return mapErr("update enrollment", err)
	}
	e.Version++
	return nil
}

// DeleteEnrollment removes one enrollment; ErrNotFound when unknown.
func (s *Store) DeleteEnrollment(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Where("id = ?", id).Delete(&enrollmentRow{})
	if res.Error != nil {
		return mapErr("delete enrollment", res.Error)
	}
	if res.RowsAffected == 0 {
		return mapErr("delete enrollment", store.ErrNotFound)
	}
	return nil
}

// DeleteEnrollments removes the person's enrollments of factor but keepID.
func (s *Store) DeleteEnrollments(ctx context.Context, userID, factor, keepID string) (int64, error) {
	res := s.db.WithContext(ctx).Where("user_id = ? AND factor = ? AND id <> ?", userID, factor, keepID).Delete(&enrollmentRow{})
	if res.Error != nil {
		return 0, mapErr("delete enrollments", res.Error)
	}
	return res.RowsAffected, nil
}
