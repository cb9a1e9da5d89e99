package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"

	"github.com/eu-health-idp/idp/idp/store"
)

type accessTokenRow struct {
	ID              string `gorm:"column:id;primaryKey"`
	ClientID        string `gorm:"column:client_id"`
	UserID          string `gorm:"column:user_id"`
	Audience        string `gorm:"column:audience"`
	Scopes          string `gorm:"column:scopes"`
	AuthTime        int64  `gorm:"column:auth_time"`
	ACR             string `gorm:"column:acr"`
	AMR             string `gorm:"column:amr"`
	RefreshFamilyID string `gorm:"column:refresh_family_id"`
	AuthRequestID   string `gorm:"column:auth_request_id"`
	CreatedAt       int64  `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt       int64  `gorm:"column:expires_at"`
	RevokedAt       *int64 `gorm:"column:revoked_at"`
}

func (accessTokenRow) TableName() string { return "access_tokens" }

func toAccessTokenRow(t *store.AccessToken) accessTokenRow {
	return accessTokenRow{
		ID: t.ID, ClientID: t.ClientID, UserID: t.UserID,
		Audience: list(t.Audience), Scopes: list(t.Scopes),
		AuthTime: micros(t.AuthTime), ACR: t.ACR, AMR: list(t.AMR),
		RefreshFamilyID: t.RefreshFamilyID, AuthRequestID: t.AuthRequestID,
		CreatedAt: micros(t.CreatedAt), ExpiresAt: micros(t.ExpiresAt), RevokedAt: microsPtr(t.RevokedAt),
	}
}

func (r accessTokenRow) domain() (*store.AccessToken, error) {
	var d decoder
	t := &store.AccessToken{
		ID: r.ID, ClientID: r.ClientID, UserID: r.UserID,
		Audience: d.list(r.Audience), Scopes: d.list(r.Scopes),
		AuthTime: fromMicros(r.AuthTime), ACR: r.ACR, AMR: d.list(r.AMR),
		RefreshFamilyID: r.RefreshFamilyID, AuthRequestID: r.AuthRequestID,
		CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt), RevokedAt: fromMicrosPtr(r.RevokedAt),
	}
	if d.err != nil {
		return nil, d.err
	}
	return t, nil
}

type refreshTokenRow struct {
	ID            string `gorm:"column:id;primaryKey"`
	TokenHash     string `gorm:"column:token_hash"`
	FamilyID      string `gorm:"column:family_id"`
	ClientID      string `gorm:"column:client_id"`
	UserID        string `gorm:"column:user_id"`
	Audience      string `gorm:"column:audience"`
	Scopes        string `gorm:"column:scopes"`
	AuthTime      int64  `gorm:"column:auth_time"`
	ACR           string `gorm:"column:acr"`
	AMR           string `gorm:"column:amr"`
	AuthRequestID string `gorm:"column:auth_request_id"`
	CreatedAt     int64  `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt     int64  `gorm:"column:expires_at"`
	RotatedAt     *int64 `gorm:"column:rotated_at"`
	RevokedAt     *int64 `gorm:"column:revoked_at"`
}

func (refreshTokenRow) TableName() string { return "refresh_tokens" }

func toRefreshTokenRow(t *store.RefreshToken) refreshTokenRow {
	return refreshTokenRow{
		ID: t.ID, TokenHash: t.TokenHash, FamilyID: t.FamilyID, ClientID: t.ClientID, UserID: t.UserID,
		Audience: list(t.Audience), Scopes: list(t.Scopes),
		AuthTime: micros(t.AuthTime), ACR: t.ACR, AMR: list(t.AMR), AuthRequestID: t.AuthRequestID,
		CreatedAt: micros(t.CreatedAt), ExpiresAt: micros(t.ExpiresAt),
		RotatedAt: microsPtr(t.RotatedAt), RevokedAt: microsPtr(t.RevokedAt),
	}
}

func (r refreshTokenRow) domain() (*store.RefreshToken, error) {
	var d decoder
	t := &store.RefreshToken{
		ID: r.ID, TokenHash: r.TokenHash, FamilyID: r.FamilyID, ClientID: r.ClientID, UserID: r.UserID,
		Audience: d.list(r.Audience), Scopes: d.list(r.Scopes),
		AuthTime: fromMicros(r.AuthTime), ACR: r.ACR, AMR: d.list(r.AMR), AuthRequestID: r.AuthRequestID,
		CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt),
		RotatedAt: fromMicrosPtr(r.RotatedAt), RevokedAt: fromMicrosPtr(r.RevokedAt),
	}
	if d.err != nil {
		return nil, d.err
	}
	return t, nil
}

// CreateAccessToken inserts t (client_credentials, or tokens not tied to a
// code or a refresh); ErrConflict when the id is taken.
func (s *Store) CreateAccessToken(ctx context.Context, t *store.AccessToken) error {
	row := toAccessTokenRow(t)
	return mapErr("create access token", s.db.WithContext(ctx).Create(&row).Error)
}

// AccessTokenByID returns the token whatever its state: introspection
// decides what expired or revoked means.
func (s *Store) AccessTokenByID(ctx context.Context, id string) (*store.AccessToken, error) {
	var row accessTokenRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return nil, mapErr("get access token", err)
	}
	t, err := row.domain()
	return t, mapErr("get access token", err)
}

// IssueFromCode consumes the code and inserts the tokens in one
// transaction: the guarded UPDATE lets exactly one redemption through, and
// if an insert fails the code stays unconsumed.
func (s *Store) IssueFromCode(ctx context.Context, authRequestID string, now time.Time, access *store.AccessToken, refresh *store.RefreshToken) error {
	n := micros(now)
	return mapErr("issue from code", s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE auth_requests SET code_consumed_at = ?
			WHERE id = ? AND code_consumed_at IS NULL AND code_expires_at > ?`, n, authRequestID, n)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return whyCodeRefused(tx, authRequestID)
		}
		return insertTokens(tx, refresh, access)
	}))
}

// insertTokens inserts the rows of the tokens a grant issues; a nil token
// is not issued.
func insertTokens(tx *gorm.DB, refresh *store.RefreshToken, access *store.AccessToken) error {
	if refresh != nil {
		row := toRefreshTokenRow(refresh)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
	}
	if access != nil {
		row := toAccessTokenRow(access)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
	}
	return nil
}

// whyCodeRefused tells a consumed code (ErrConsumed) from an unknown,
// code-less or expired one (ErrNotFound).
func whyCodeRefused(tx *gorm.DB, id string) error {
	var row authRequestRow
	if err := tx.Select("code_consumed_at").Where("id = ?", id).Take(&row).Error; err != nil {
		return err
	}
	if row.CodeConsumedAt != nil {
		return store.ErrConsumed
	}
	return store.ErrNotFound
}

// RefreshTokenByHash returns the link whatever its state, so the caller can
// recognise a rotated or revoked token as reuse.
func (s *Store) RefreshTokenByHash(ctx context.Context, tokenHash string) (*store.RefreshToken, error) {
	var row refreshTokenRow
	if err := s.db.WithContext(ctx).Where("token_hash = ?", tokenHash).Take(&row).Error; err != nil {
		return nil, mapErr("get refresh token", err)
	}
	t, err := row.domain()
	return t, mapErr("get refresh token", err)
}

// RotateRefreshToken marks currentID rotated and inserts the next link and
// its access token in one transaction. ErrConsumed when currentID was
// rotated or revoked, ErrNotFound when unknown or expired at now.
func (s *Store) RotateRefreshToken(ctx context.Context, currentID string, now time.Time, next *store.RefreshToken, access *store.AccessToken) error {
	n := micros(now)
	if s.dialect == goose.DialectPostgres && next != nil && access != nil {
		return mapErr("rotate refresh token", s.rotatePostgres(ctx, currentID, n, next, access))
	}
	return mapErr("rotate refresh token", s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE refresh_tokens SET rotated_at = ?
			WHERE id = ? AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?`, n, currentID, n)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return whyRotationRefused(tx, currentID)
		}
		return insertTokens(tx, next, access)
	}))
}

// RevokeAccessToken revokes one access token. Revoking twice keeps the
// first time; ErrNotFound for an unknown id.
func (s *Store) RevokeAccessToken(ctx context.Context, id string, at time.Time) error {
	return mapErr("revoke access token", s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(at), id)
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		ok, err := exists(tx, "access_tokens", id)
		if err != nil || ok {
			return err
		}
		return store.ErrNotFound
	}))
}

// RevokeRefreshFamily revokes every refresh and access token of a family.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) error {
	a := micros(at)
	return mapErr("revoke refresh family", s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`, a, familyID).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE access_tokens SET revoked_at = ? WHERE refresh_family_id = ? AND revoked_at IS NULL`, a, familyID).Error
	}))
}

// RevokeByAuthRequest revokes what one code issued and everything rotated
// from it: later links of the family need not carry the auth request id.
func (s *Store) RevokeByAuthRequest(ctx context.Context, authRequestID string, at time.Time) error {
	if authRequestID == "" {
		return nil // "" marks tokens not issued from a code
	}
	a := micros(at)
	const families = `SELECT family_id FROM refresh_tokens WHERE auth_request_id = ?`
	return mapErr("revoke by auth request", s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE access_tokens SET revoked_at = ?
			WHERE revoked_at IS NULL AND (auth_request_id = ? OR refresh_family_id IN (`+families+`))`,
			a, authRequestID, authRequestID).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE refresh_tokens SET revoked_at = ?
			WHERE revoked_at IS NULL AND (auth_request_id = ? OR family_id IN (`+families+`))`,
			a, authRequestID, authRequestID).Error
	}))
}

// RevokeUserTokens revokes every token of a user, of one client or all.
func (s *Store) RevokeUserTokens(ctx context.Context, userID, clientID string, at time.Time) error {
	if userID == "" {
		return nil // "" is client_credentials, never a person
	}
	a := micros(at)
	cond, args := "user_id = ? AND revoked_at IS NULL", []any{a, userID}
	if clientID != "" {
		cond += " AND client_id = ?"
		args = append(args, clientID)
	}
	return mapErr("revoke user tokens", s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE access_tokens SET revoked_at = ? WHERE `+cond, args...).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE `+cond, args...).Error
	}))
}

// whyRotationRefused tells a rotated or revoked link (ErrConsumed) from an
// unknown or expired one (ErrNotFound).
func whyRotationRefused(tx *gorm.DB, id string) error {
	var row refreshTokenRow
	if err := tx.Select("rotated_at", "revoked_at").Where("id = ?", id).Take(&row).Error; err != nil {
		return err
	}
	if row.RotatedAt != nil || row.RevokedAt != nil {
		return store.ErrConsumed
	}
	return store.ErrNotFound
}

// rotatePostgresSQL is the rotation as one statement: the guarded UPDATE
// and both INSERTs, which select from its result and so insert nothing
// when it matched no row. One statement is one transaction, so it is as
// atomic as BEGIN ... COMMIT and races the same way (a second rotation of
// the link waits for the first's row lock, then matches nothing), in one
// round trip instead of five.
const rotatePostgresSQL = `WITH cur AS (
	UPDATE refresh_tokens SET rotated_at = $1
	WHERE id = $2 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $1
	RETURNING id
), rt AS (
	INSERT INTO refresh_tokens (id, token_hash, family_id, client_id, user_id, audience, scopes,
		auth_time, acr, amr, auth_request_id, created_at, expires_at)
	SELECT $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text,
		$10::bigint, $11::text, $12::text, $13::text, $14::bigint, $15::bigint FROM cur
	RETURNING id
), at AS (
	INSERT INTO access_tokens (id, client_id, user_id, audience, scopes, auth_time, acr, amr,
		refresh_family_id, auth_request_id, created_at, expires_at)
	SELECT $16::text, $17::text, $18::text, $19::text, $20::text, $21::bigint, $22::text, $23::text,
		$24::text, $25::text, $26::bigint, $27::bigint FROM cur
	RETURNING id
)
SELECT (SELECT count(*) FROM cur) + (SELECT count(*) FROM rt) + (SELECT count(*) FROM at)`

func (s *Store) rotatePostgres(ctx context.Context, currentID string, now int64, next *store.RefreshToken, access *store.AccessToken) error {
	r, a := toRefreshTokenRow(next), toAccessTokenRow(access)
	var n int64
	err := s.db.WithContext(ctx).Raw(rotatePostgresSQL, now, currentID,
		r.ID, r.TokenHash, r.FamilyID, r.ClientID, r.UserID, r.Audience, r.Scopes,
		r.AuthTime, r.ACR, r.AMR, r.AuthRequestID, r.CreatedAt, r.ExpiresAt,
		a.ID, a.ClientID, a.UserID, a.Audience, a.Scopes, a.AuthTime, a.ACR, a.AMR,
		a.RefreshFamilyID, a.AuthRequestID, a.CreatedAt, a.ExpiresAt,
	).Find(&n).Error
	switch {
	case err != nil:
		return err
	case n == 3:
		return nil
	case n == 0:
		return whyRotationRefused(s.db.WithContext(ctx), currentID)
	}
	return fmt.Errorf("rotation changed %d rows, want 3", n)
}

// refreshWithUserRow is a refresh token and its user from one JOIN.
type refreshWithUserRow struct {
	Token refreshTokenRow `gorm:"embedded"`
	User  userRow         `gorm:"embedded;embeddedPrefix:u_"`
}

// RefreshTokenWithUser returns the link whatever its state, with its user,
// in one round trip: the refresh grant needs both. ErrNotFound when there
// is no such link or its user is gone.
func (s *Store) RefreshTokenWithUser(ctx context.Context, tokenHash string) (*store.RefreshToken, *store.User, error) {
	var row refreshWithUserRow
	res := s.db.WithContext(ctx).Raw(`SELECT r.*, u.id AS u_id, u.username AS u_username, u.email AS u_email,
		u.phone AS u_phone, u.password_hash AS u_password_hash, u.disabled AS u_disabled,
		u.last_factor AS u_last_factor, u.enrol_offered_at AS u_enrol_offered_at,
		u.created_at AS u_created_at, u.updated_at AS u_updated_at
		FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = ?`, tokenHash).Find(&row)
	if res.Error != nil {
		return nil, nil, mapErr("get refresh token", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, nil, mapErr("get refresh token", store.ErrNotFound)
	}
	t, err := row.Token.domain()
	if err != nil {
		return nil, nil, mapErr("get refresh token", err)
	}
	u := row.User.domain()
	return t, &u, nil
}
