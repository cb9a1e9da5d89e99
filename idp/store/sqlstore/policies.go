package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/eu-health-idp/idp/idp/store"
)

type clientPolicyRow struct {
	ClientID             string `gorm:"column:client_id;primaryKey"`
	AllowedFactors       string `gorm:"column:allowed_factors"`
	MinACR               string `gorm:"column:min_acr"`
	DefaultACR           string `gorm:"column:default_acr"`
	FactorMaxAge         int64  `gorm:"column:factor_max_age"` // microseconds, like times
	GraceDays            int    `gorm:"column:grace_days"`
	RememberDevice       bool   `gorm:"column:remember_device"`
	RememberFor          int64  `gorm:"column:remember_for"` // microseconds
	AccountChangeFactors string `gorm:"column:account_change_factors"`
	UpdatedAt            int64  `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (clientPolicyRow) TableName() string { return "client_policies" }

func toClientPolicyRow(p *store.ClientPolicy) clientPolicyRow {
	return clientPolicyRow{
		ClientID: p.ClientID, AllowedFactors: list(p.AllowedFactors),
		MinACR: p.MinACR, DefaultACR: p.DefaultACR, FactorMaxAge: p.FactorMaxAge.Microseconds(),
		GraceDays: p.GraceDays, RememberDevice: p.RememberDevice, RememberFor: p.RememberFor.Microseconds(),
		AccountChangeFactors: list(p.AccountChangeFactors), UpdatedAt: micros(p.UpdatedAt),
	}
}

func (r clientPolicyRow) domain() (*store.ClientPolicy, error) {
	var d decoder
	p := &store.ClientPolicy{
		ClientID: r.ClientID, AllowedFactors: d.list(r.AllowedFactors),
		MinACR: r.MinACR, DefaultACR: r.DefaultACR, FactorMaxAge: time.Duration(r.FactorMaxAge) * time.Microsecond,
		GraceDays: r.GraceDays, RememberDevice: r.RememberDevice, RememberFor: time.Duration(r.RememberFor) * time.Microsecond,
		AccountChangeFactors: d.list(r.AccountChangeFactors), UpdatedAt: fromMicros(r.UpdatedAt),
	}
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

// ClientPolicy returns the client's policy; ErrNotFound when it has none.
func (s *Store) ClientPolicy(ctx context.Context, clientID string) (*store.ClientPolicy, error) {
	var row clientPolicyRow
	if err := s.db.WithContext(ctx).Where("client_id = ?", clientID).Take(&row).Error; err != nil {
		return nil, mapErr("get client policy", err)
	}
	p, err := row.domain()
	return p, mapErr("get client policy", err)
}

// PutClientPolicy inserts or replaces the policy in one upsert, so two
// admins saving at once leave one whole policy, never a mix. ErrNotFound
// when the client does not exist.
func (s *Store) PutClientPolicy(ctx context.Context, p *store.ClientPolicy) error {
	row := toClientPolicyRow(p)
	return mapErr("put client policy", s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "client_id"}},
		UpdateAll: true,
	}).Create(&row).Error)
}

// SeedClientPolicy inserts p unless the client has a policy: ON CONFLICT DO
// NOTHING leaves an admin's edit alone and reports, through the row count,
// whether this call inserted. ErrNotFound when the client does not exist.
func (s *Store) SeedClientPolicy(ctx context.Context, p *store.ClientPolicy) (bool, error) {
	row := toClientPolicyRow(p)
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "client_id"}},
		DoNothing: true,
	}).Create(&row)
	if res.Error != nil {
		return false, mapErr("seed client policy", res.Error)
	}
	return res.RowsAffected == 1, nil
}
