package sqlstore

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/eu-health-idp/idp/idp/store"
)

type keyRow struct {
	ID           string `gorm:"column:id;primaryKey"`
	Alg          string `gorm:"column:alg"`
	PublicJWK    []byte `gorm:"column:public_jwk"`
	PrivateEnc   []byte `gorm:"column:private_enc"`
	CreatedAt    int64  `gorm:"column:created_at;autoCreateTime:false"`
	ActiveFrom   int64  `gorm:"column:active_from"`
	RetiredAt    *int64 `gorm:"column:retired_at"`
	PublishUntil *int64 `gorm:"column:publish_until"`
}

func (keyRow) TableName() string { return "signing_keys" }

func toKeyRow(k *store.SigningKey) keyRow {
	return keyRow{
		ID: k.ID, Alg: k.Alg, PublicJWK: k.PublicJWK, PrivateEnc: k.PrivateEnc,
		CreatedAt: micros(k.CreatedAt), ActiveFrom: micros(k.ActiveFrom),
		RetiredAt: microsPtr(k.RetiredAt), PublishUntil: microsPtr(k.PublishUntil),
	}
}

func (r keyRow) domain() store.SigningKey {
	return store.SigningKey{
		ID: r.ID, Alg: r.Alg, PublicJWK: r.PublicJWK, PrivateEnc: r.PrivateEnc,
		CreatedAt: fromMicros(r.CreatedAt), ActiveFrom: fromMicros(r.ActiveFrom),
		RetiredAt: fromMicrosPtr(r.RetiredAt), PublishUntil: fromMicrosPtr(r.PublishUntil),
	}
}

// ListKeys returns the keys still published at now, newest ActiveFrom first,
// ties by ID ascending so every node orders them the same.
func (s *Store) ListKeys(ctx context.Context, now time.Time) ([]store.SigningKey, error) {
	var rows []keyRow
	err := s.db.WithContext(ctx).
		Where("publish_until IS NULL OR publish_until > ?", micros(now)).
		Order("active_from DESC, id ASC").Find(&rows).Error
	if err != nil {
		return nil, mapErr("list keys", err)
	}
	out := make([]store.SigningKey, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// RotateKey retires every current key of next.Alg and inserts next, in one
// transaction so no reader sees two current keys or none.
func (s *Store) RotateKey(ctx context.Context, next *store.SigningKey, publishUntil time.Time) error {
	row := toKeyRow(next)
	return mapErr("rotate key", s.tx(ctx, func(tx *gorm.DB) error {
		err := tx.Model(&keyRow{}).
			Where("alg = ? AND retired_at IS NULL AND id <> ?", next.Alg, next.ID).
			Updates(map[string]any{"retired_at": micros(next.ActiveFrom), "publish_until": micros(publishUntil)}).Error
		if err != nil {
			return err
		}
		return tx.Create(&row).Error
	}))
}

// CreateKeyIfNone inserts k unless a current key of k.Alg exists. The
// schema allows one current key per algorithm, so racing first starts
// end with exactly one.
func (s *Store) CreateKeyIfNone(ctx context.Context, k *store.SigningKey) (bool, error) {
	row := toKeyRow(k)
	created := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&keyRow{}).Where("alg = ? AND retired_at IS NULL", k.Alg).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		created = true
		return nil
	})
	err = mapErr("create key", err)
	if errors.Is(err, store.ErrConflict) {
		// Another node created the first key between our count and insert;
		// the unique index on (alg) WHERE retired_at IS NULL caught it.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return created, nil
}
