package sqlstore

import (
	"context"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

type userRow struct {
	ID           string  `gorm:"column:id;primaryKey"`
	Username     string  `gorm:"column:username"`
	Email        *string `gorm:"column:email"` // NULL when empty: unique but optional
	Phone        string  `gorm:"column:phone"`
	PasswordHash string  `gorm:"column:password_hash"`
	Disabled     bool    `gorm:"column:disabled"`
	CreatedAt    int64   `gorm:"column:created_at"`
	UpdatedAt    int64   `gorm:"column:updated_at"`
}

func (userRow) TableName() string { return "users" }

func toUserRow(u *store.User) userRow {
	return userRow{
		ID: u.ID, Username: u.Username, Email: nullable(u.Email), Phone: u.Phone,
		PasswordHash: u.PasswordHash, Disabled: u.Disabled,
		CreatedAt: micros(u.CreatedAt), UpdatedAt: micros(u.UpdatedAt),
	}
}

func (r userRow) domain() store.User {
	return store.User{
		ID: r.ID, Username: r.Username, Email: deref(r.Email), Phone: r.Phone,
		PasswordHash: r.PasswordHash, Disabled: r.Disabled,
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
