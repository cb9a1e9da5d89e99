-- Times are unix microseconds (UTC) in BIGINT columns, the same on both
-- dialects, so expiry comparisons are integer comparisons everywhere.
-- Lists and maps are JSON text. Columns that are unique but optional
-- (users.email, auth_requests.code_hash) are NULL when absent.

-- +goose Up
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    email         TEXT,
    phone         TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    secret_hash               TEXT NOT NULL DEFAULT '',
    public                    BOOLEAN NOT NULL DEFAULT FALSE,
    redirect_uris             TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    grant_types               TEXT NOT NULL DEFAULT '[]',
    id_token_alg              TEXT NOT NULL DEFAULT '',
    access_token_type         TEXT NOT NULL DEFAULT '',
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    id            TEXT PRIMARY KEY,
    alg           TEXT NOT NULL,
    public_jwk    BYTEA NOT NULL,
    private_enc   BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    active_from   BIGINT NOT NULL,
    retired_at    BIGINT,
    publish_until BIGINT
);
CREATE UNIQUE INDEX signing_keys_alg_current_idx ON signing_keys (alg) WHERE retired_at IS NULL;
CREATE INDEX signing_keys_publish_until_idx ON signing_keys (publish_until);

CREATE TABLE auth_requests (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL DEFAULT '',
    scopes                TEXT NOT NULL DEFAULT '[]',
    state                 TEXT NOT NULL DEFAULT '',
    nonce                 TEXT NOT NULL DEFAULT '',
    response_type         TEXT NOT NULL DEFAULT '',
    response_mode         TEXT NOT NULL DEFAULT '',
    code_challenge        TEXT NOT NULL DEFAULT '',
    code_challenge_method TEXT NOT NULL DEFAULT '',
    prompt                TEXT NOT NULL DEFAULT '[]',
    max_age               BIGINT,
    login_hint            TEXT NOT NULL DEFAULT '',
    ui_locales            TEXT NOT NULL DEFAULT '[]',
    acr_values            TEXT NOT NULL DEFAULT '[]',
    claims                TEXT NOT NULL DEFAULT '',
    hint_user_id          TEXT NOT NULL DEFAULT '',
    user_id               TEXT NOT NULL DEFAULT '',
    session_id            TEXT NOT NULL DEFAULT '',
    auth_time             BIGINT NOT NULL DEFAULT 0,
    acr                   TEXT NOT NULL DEFAULT '',
    amr                   TEXT NOT NULL DEFAULT '[]',
    done                  BOOLEAN NOT NULL DEFAULT FALSE,
    code_hash             TEXT,
    code_expires_at       BIGINT,
    code_consumed_at      BIGINT,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL
);
CREATE UNIQUE INDEX auth_requests_code_hash_key ON auth_requests (code_hash);
CREATE INDEX auth_requests_expires_at_idx ON auth_requests (expires_at);

CREATE TABLE access_tokens (
    id                TEXT PRIMARY KEY,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL DEFAULT '',
    audience          TEXT NOT NULL DEFAULT '[]',
    scopes            TEXT NOT NULL DEFAULT '[]',
    auth_time         BIGINT NOT NULL DEFAULT 0,
    acr               TEXT NOT NULL DEFAULT '',
    amr               TEXT NOT NULL DEFAULT '[]',
    refresh_family_id TEXT NOT NULL DEFAULT '',
    auth_request_id   TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    revoked_at        BIGINT
);
CREATE INDEX access_tokens_user_client_idx ON access_tokens (user_id, client_id);
CREATE INDEX access_tokens_refresh_family_id_idx ON access_tokens (refresh_family_id);
CREATE INDEX access_tokens_auth_request_id_idx ON access_tokens (auth_request_id);
CREATE INDEX access_tokens_expires_at_idx ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL,
    family_id       TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL DEFAULT '',
    audience        TEXT NOT NULL DEFAULT '[]',
    scopes          TEXT NOT NULL DEFAULT '[]',
    auth_time       BIGINT NOT NULL DEFAULT 0,
    acr             TEXT NOT NULL DEFAULT '',
    amr             TEXT NOT NULL DEFAULT '[]',
    auth_request_id TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    rotated_at      BIGINT,
    revoked_at      BIGINT
);
CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_auth_request_id_idx ON refresh_tokens (auth_request_id);
CREATE INDEX refresh_tokens_user_client_idx ON refresh_tokens (user_id, client_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    proofs       TEXT NOT NULL DEFAULT '[]',
    auth_time    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count        INTEGER NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX rate_limits_expires_at_idx ON rate_limits (expires_at);

CREATE TABLE audit_events (
    id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id    TEXT NOT NULL DEFAULT '',
    event      TEXT NOT NULL,
    client_id  TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_user_created_idx ON audit_events (user_id, created_at, id);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE rate_limits;
DROP TABLE sessions;
DROP TABLE refresh_tokens;
DROP TABLE access_tokens;
DROP TABLE auth_requests;
DROP TABLE signing_keys;
DROP TABLE clients;
DROP TABLE users;
