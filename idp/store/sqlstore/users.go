package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/eu-health-idp/idp/idp/store"
)

type userRow struct {
	ID           string  `gorm:"column:id;primaryKey"`
	Username     string  `gorm:"column:username"`
	Email        *string `gorm:"column:email"` // NULL when empty: unique but optional
	Phone        string  `gorm:"column:phone"`
	PasswordHash string  `gorm:"column:password_hash"`
	Disabled     bool    `gorm:"column:disabled"`
	LastFactor   string  `gorm:"column:last_factor"`
	// EnrolOfferedAt holds an exact instant (see instant): the Unix epoch is
	// a meaningful value here, not "unset".
	EnrolOfferedAt *int64 `gorm:"column:enrol_offered_at"`
	CreatedAt      int64  `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt      int64  `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (userRow) TableName() string { return "users" }

func toUserRow(u *store.User) userRow {
	return userRow{
		ID: u.ID, Username: u.Username, Email: nullable(u.Email), Phone: u.Phone,
		PasswordHash: u.PasswordHash, Disabled: u.Disabled,
		LastFactor: u.LastFactor, EnrolOfferedAt: instantPtr(u.EnrolOfferedAt),
		CreatedAt: micros(u.CreatedAt), UpdatedAt: micros(u.UpdatedAt),
	}
}

func (r userRow) domain() store.User {
	return store.User{
		ID: r.ID, Username: r.Username, Email: deref(r.Email), Phone: r.Phone,
		PasswordHash: r.PasswordHash, Disabled: r.Disabled,
		LastFactor: r.LastFactor, EnrolOfferedAt: fromInstantPtr(r.EnrolOfferedAt),
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

// CreateUser inserts u; ErrConflict when the id, username or email is taken.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	row := toUserRow(u)
	return mapErr("create user", s.db.WithContext(ctx).Create(&row).Error)
}

// UserByID returns the user; ErrNotFound if none.
func (s *Store) UserByID(ctx context.Context, id string) (*store.User, error) {
	return s.userWhere(ctx, "id = ?", id)
}

// UserByUsername returns the user with exactly this username.
func (s *Store) UserByUsername(ctx context.Context, username string) (*store.User, error) {
	return s.userWhere(ctx, "username = ?", username)
}

func (s *Store) userWhere(ctx context.Context, cond string, arg string) (*store.User, error) {
	var row userRow
	if err := s.db.WithContext(ctx).Where(cond, arg).Take(&row).Error; err != nil {
		return nil, mapErr("get user", err)
	}
	u := row.domain()
	return &u, nil
}

// ListUsers returns all users ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	var rows []userRow
	if err := s.db.WithContext(ctx).Order("username").Find(&rows).Error; err != nil {
		return nil, mapErr("list users", err)
	}
	out := make([]store.User, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// SetUserDisabled sets the flag; ErrNotFound for an unknown id.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) error {
	return s.updateUser(ctx, "set user disabled", id, map[string]any{"disabled": disabled, "updated_at": micros(at)})
}

// UpdatePasswordHash replaces the hash; ErrNotFound for an unknown id.
func (s *Store) UpdatePasswordHash(ctx context.Context, id, hash string, at time.Time) error {
	return s.updateUser(ctx, "update password hash", id, map[string]any{"password_hash": hash, "updated_at": micros(at)})
}

func (s *Store) updateUser(ctx context.Context, op, id string, cols map[string]any) error {
	res := s.db.WithContext(ctx).Model(&userRow{}).Where("id = ?", id).Updates(cols)
	if res.Error != nil {
		return mapErr(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return mapErr(op, store.ErrNotFound)
	}
	return nil
}

// SetUserLastFactor remembers the factor the person chose; ErrNotFound for
// an unknown id. UpdatedAt is left alone: this is not an account change.
func (s *Store) SetUserLastFactor(ctx context.Context, id, factor string) error {
	return s.updateUser(ctx, "set user last factor", id, map[string]any{"last_factor": factor})
}

// MarkEnrolOffered sets enrol_offered_at unless it is set and returns the
// stored value, in one statement: COALESCE keeps the first offer when
// requests race, and RETURNING reads what won without a second query.
func (s *Store) MarkEnrolOffered(ctx context.Context, id string, at time.Time) (time.Time, error) {
	var stored []int64
	err := s.db.WithContext(ctx).Raw(`UPDATE users SET enrol_offered_at = COALESCE(enrol_offered_at, ?)
		WHERE id = ? RETURNING enrol_offered_at`, instant(at), id).Find(&stored).Error
	if err != nil {
		return time.Time{}, mapErr("mark enrol offered", err)
	}
	if len(stored) == 0 {
		return time.Time{}, mapErr("mark enrol offered", store.ErrNotFound)
	}
	return fromInstant(stored[0]), nil
}

// ResetUserFactors is the admin reset. The user row is updated first so
// that, on PostgreSQL, a concurrent reset of the same person waits for this
// one instead of interleaving its deletes.
func (s *Store) ResetUserFactors(ctx context.Context, id string, at time.Time) (int64, error) {
	var removed int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE users SET enrol_offered_at = ?, last_factor = '', updated_at = ? WHERE id = ?`,
			instant(time.Unix(0, 0)), micros(at), id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return store.ErrNotFound
		}
		res = tx.Exec(`DELETE FROM enrollments WHERE user_id = ?`, id)
		if res.Error != nil {
			return res.Error
		}
		removed = res.RowsAffected
		if err := tx.Exec(`DELETE FROM challenges WHERE user_id = ?`, id).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM sessions WHERE user_id = ?`, id).Error
	})
	if err != nil {
		return 0, mapErr("reset user factors", err)
	}
	return removed, nil
}
