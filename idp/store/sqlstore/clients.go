package sqlstore

import (
	"context"

	"github.com/eu-health-idp/idp/idp/store"
)

type clientRow struct {
	ID                     string `gorm:"column:id;primaryKey"`
	SecretHash             string `gorm:"column:secret_hash"`
	Public                 bool   `gorm:"column:public"`
	RedirectURIs           string `gorm:"column:redirect_uris"`
	PostLogoutRedirectURIs string `gorm:"column:post_logout_redirect_uris"`
	GrantTypes             string `gorm:"column:grant_types"`
	IDTokenAlg             string `gorm:"column:id_token_alg"`
	AccessTokenType        string `gorm:"column:access_token_type"`
	CreatedAt              int64  `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt              int64  `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (clientRow) TableName() string { return "clients" }

func toClientRow(c *store.Client) clientRow {
	return clientRow{
		ID: c.ID, SecretHash: c.SecretHash, Public: c.Public,
		RedirectURIs: list(c.RedirectURIs), PostLogoutRedirectURIs: list(c.PostLogoutRedirectURIs),
		GrantTypes: list(c.GrantTypes), IDTokenAlg: c.IDTokenAlg, AccessTokenType: c.AccessTokenType,
		CreatedAt: micros(c.CreatedAt), UpdatedAt: micros(c.UpdatedAt),
	}
}

func (r clientRow) domain() (store.Client, error) {
	var d decoder
	c := store.Client{
		ID: r.ID, SecretHash: r.SecretHash, Public: r.Public,
		RedirectURIs: d.list(r.RedirectURIs), PostLogoutRedirectURIs: d.list(r.PostLogoutRedirectURIs),
		GrantTypes: d.list(r.GrantTypes), IDTokenAlg: r.IDTokenAlg, AccessTokenType: r.AccessTokenType,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
	return c, d.err
}

// CreateClient inserts c; ErrConflict when the id is taken.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	row := toClientRow(c)
	return mapErr("create client", s.db.WithContext(ctx).Create(&row).Error)
}

// ClientByID returns the client; ErrNotFound if none.
func (s *Store) ClientByID(ctx context.Context, id string) (*store.Client, error) {
	var row clientRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return nil, mapErr("get client", err)
	}
	c, err := row.domain()
	if err != nil {
		return nil, mapErr("get client", err)
	}
	return &c, nil
}

// ListClients returns all clients ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	var rows []clientRow
	if err := s.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, mapErr("list clients", err)
	}
	out := make([]store.Client, len(rows))
	for i, r := range rows {
		c, err := r.domain()
		if err != nil {
			return nil, mapErr("list clients", err)
		}
		out[i] = c
	}
	return out, nil
}
