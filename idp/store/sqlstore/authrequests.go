package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/eu-health-idp/idp/idp/store"
)

type authRequestRow struct {
	ID                  string  `gorm:"column:id;primaryKey"`
	ClientID            string  `gorm:"column:client_id"`
	RedirectURI         string  `gorm:"column:redirect_uri"`
	Scopes              string  `gorm:"column:scopes"`
	State               string  `gorm:"column:state"`
	Nonce               string  `gorm:"column:nonce"`
	ResponseType        string  `gorm:"column:response_type"`
	ResponseMode        string  `gorm:"column:response_mode"`
	CodeChallenge       string  `gorm:"column:code_challenge"`
	CodeChallengeMethod string  `gorm:"column:code_challenge_method"`
	Prompt              string  `gorm:"column:prompt"`
	MaxAge              *int64  `gorm:"column:max_age"`
	LoginHint           string  `gorm:"column:login_hint"`
	UILocales           string  `gorm:"column:ui_locales"`
	ACRValues           string  `gorm:"column:acr_values"`
	Claims              string  `gorm:"column:claims"`
	HintUserID          string  `gorm:"column:hint_user_id"`
	UserID              string  `gorm:"column:user_id"`
	SessionID           string  `gorm:"column:session_id"`
	AuthTime            int64   `gorm:"column:auth_time"`
	ACR                 string  `gorm:"column:acr"`
	AMR                 string  `gorm:"column:amr"`
	Done                bool    `gorm:"column:done"`
	CodeHash            *string `gorm:"column:code_hash"` // NULL until a code is issued: unique
	CodeExpiresAt       *int64  `gorm:"column:code_expires_at"`
	CodeConsumedAt      *int64  `gorm:"column:code_consumed_at"`
	CreatedAt           int64   `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt           int64   `gorm:"column:expires_at"`
}

func (authRequestRow) TableName() string { return "auth_requests" }

func toAuthRequestRow(r *store.AuthRequest) authRequestRow {
	var maxAge *int64
	if r.MaxAge != nil {
		v := *r.MaxAge
		maxAge = &v
	}
	return authRequestRow{
		ID: r.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, Scopes: list(r.Scopes),
		State: r.State, Nonce: r.Nonce, ResponseType: r.ResponseType, ResponseMode: r.ResponseMode,
		CodeChallenge: r.CodeChallenge, CodeChallengeMethod: r.CodeChallengeMethod,
		Prompt: list(r.Prompt), MaxAge: maxAge, LoginHint: r.LoginHint,
		UILocales: list(r.UILocales), ACRValues: list(r.ACRValues), Claims: r.Claims,
		HintUserID: r.HintUserID, UserID: r.UserID, SessionID: r.SessionID,
		AuthTime: micros(r.AuthTime), ACR: r.ACR, AMR: list(r.AMR), Done: r.Done,
		CodeHash: nullable(r.CodeHash), CodeExpiresAt: microsPtr(r.CodeExpiresAt),
		CodeConsumedAt: microsPtr(r.CodeConsumedAt), CreatedAt: micros(r.CreatedAt), ExpiresAt: micros(r.ExpiresAt),
	}
}

func (r authRequestRow) domain() (*store.AuthRequest, error) {
	var d decoder
	a := &store.AuthRequest{
		ID: r.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, Scopes: d.list(r.Scopes),
		State: r.State, Nonce: r.Nonce, ResponseType: r.ResponseType, ResponseMode: r.ResponseMode,
		CodeChallenge: r.CodeChallenge, CodeChallengeMethod: r.CodeChallengeMethod,
		Prompt: d.list(r.Prompt), MaxAge: r.MaxAge, LoginHint: r.LoginHint,
		UILocales: d.list(r.UILocales), ACRValues: d.list(r.ACRValues), Claims: r.Claims,
		HintUserID: r.HintUserID, UserID: r.UserID, SessionID: r.SessionID,
		AuthTime: fromMicros(r.AuthTime), ACR: r.ACR, AMR: d.list(r.AMR), Done: r.Done,
		CodeHash: deref(r.CodeHash), CodeExpiresAt: fromMicrosPtr(r.CodeExpiresAt),
		CodeConsumedAt: fromMicrosPtr(r.CodeConsumedAt), CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt),
	}
	if d.err != nil {
		return nil, d.err
	}
	return a, nil
}

// CreateAuthRequest inserts r; ErrConflict when the id (or code hash) is taken.
func (s *Store) CreateAuthRequest(ctx context.Context, r *store.AuthRequest) error {
	row := toAuthRequestRow(r)
	return mapErr("create auth request", s.db.WithContext(ctx).Create(&row).Error)
}

// AuthRequestByID returns the request; ErrNotFound when unknown or expired
// at now (valid while now < ExpiresAt).
func (s *Store) AuthRequestByID(ctx context.Context, id string, now time.Time) (*store.AuthRequest, error) {
	var row authRequestRow
	err := s.db.WithContext(ctx).Where("id = ? AND expires_at > ?", id, micros(now)).Take(&row).Error
	if err != nil {
		return nil, mapErr("get auth request", err)
	}
	r, err := row.domain()
	return r, mapErr("get auth request", err)
}

// CompleteAuthRequest records the authentication and marks the request done.
func (s *Store) CompleteAuthRequest(ctx context.Context, id string, c store.Completion) error {
	res := s.db.WithContext(ctx).Model(&authRequestRow{}).Where("id = ?", id).Updates(map[string]any{
		"user_id":    c.UserID,
		"session_id": c.SessionID,
		"auth_time":  micros(c.AuthTime),
		"acr":        c.ACR,
		"amr":        list(c.AMR),
		"done":       true,
	})
	if res.Error != nil {
		return mapErr("complete auth request", res.Error)
	}
	if res.RowsAffected == 0 {
		return mapErr("complete auth request", store.ErrNotFound)
	}
	return nil
}

// SaveAuthCode stores the code hash. A request whose code was already
// redeemed keeps it (ErrConsumed): overwriting would erase the evidence
// reuse detection needs.
func (s *Store) SaveAuthCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error {
	return mapErr("save auth code", s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&authRequestRow{}).Where("id = ? AND code_consumed_at IS NULL", id).Updates(map[string]any{
			"code_hash":       nullable(codeHash),
			"code_expires_at": micros(expiresAt),
		})
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		ok, err := exists(tx, "auth_requests", id)
		switch {
		case err != nil:
			return err
		case ok:
			return store.ErrConsumed
		}
		return store.ErrNotFound
	}))
}

// AuthRequestByCode finds the request by code hash. A consumed code is
// reported before an expired one, so a replay is detected (and what it
// issued revoked) for as long as the request row exists.
func (s *Store) AuthRequestByCode(ctx context.Context, codeHash string, now time.Time) (*store.AuthRequest, error) {
	if codeHash == "" {
		return nil, mapErr("get auth request by code", store.ErrNotFound)
	}
	var row authRequestRow
	if err := s.db.WithContext(ctx).Where("code_hash = ?", codeHash).Take(&row).Error; err != nil {
		return nil, mapErr("get auth request by code", err)
	}
	r, err := row.domain()
	switch {
	case err != nil:
		return nil, mapErr("get auth request by code", err)
	case row.CodeConsumedAt != nil:
		return r, mapErr("get auth request by code", store.ErrConsumed)
	case row.CodeExpiresAt == nil || *row.CodeExpiresAt <= micros(now):
		return nil, mapErr("get auth request by code", store.ErrNotFound)
	}
	return r, nil
}

// DeleteAuthRequest removes a request that was never redeemed; deleting an
// unknown or already redeemed request is a no-op, as the caller only wants
// it gone from the flow.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Where("id = ? AND code_consumed_at IS NULL", id).Delete(&authRequestRow{}).Error
	return mapErr("delete auth request", err)
}
