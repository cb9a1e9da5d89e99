-- The factor chain: enrollments and challenges shared by every factor (so a
-- new factor rarely needs a migration), single-use marks, persisted login
-- flows and per-client policies. Conventions as in 0001: unix microseconds
-- in BIGINT, lists as JSON text, "" for absent text.
--
-- Rows that belong to a person cascade when the user row goes. A challenge
-- may one day exist before anyone is known (a passkey as the first factor),
-- so its user_id is NULL rather than '' then, which the foreign key allows.
-- login_flows.user_id has no foreign key: it is '' until the credentials
-- are proved, flows live minutes and DeleteExpired reaps them, and saving a
-- flow must never fail over whom it names. challenges.flow_id has none
-- either: challenges will also confirm account changes outside a login.

-- +goose Up
ALTER TABLE users ADD COLUMN last_factor TEXT NOT NULL DEFAULT '';
-- NULL when never offered; 0 (the Unix epoch) after an admin reset.
ALTER TABLE users ADD COLUMN enrol_offered_at BIGINT NULL;

CREATE TABLE enrollments (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    factor       TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    secret       BYTEA,
    data         TEXT NOT NULL DEFAULT '',
    confirmed_at BIGINT,
    last_used_at BIGINT,
    version      INTEGER NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX enrollments_user_id_idx ON enrollments (user_id);

CREATE TABLE challenges (
    id            TEXT PRIMARY KEY,
    flow_id       TEXT NOT NULL DEFAULT '',
    user_id       TEXT REFERENCES users (id) ON DELETE CASCADE,
    factor        TEXT NOT NULL,
    enrollment_id TEXT NOT NULL DEFAULT '',
    code_hash     TEXT NOT NULL DEFAULT '',
    data          TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    consumed_at   BIGINT
);
CREATE INDEX challenges_flow_id_idx ON challenges (flow_id);
CREATE INDEX challenges_user_id_idx ON challenges (user_id);
CREATE INDEX challenges_expires_at_idx ON challenges (expires_at);

CREATE TABLE login_flows (
    id              TEXT PRIMARY KEY,
    auth_request_id TEXT NOT NULL DEFAULT '',
    browser_hash    TEXT NOT NULL DEFAULT '',
    user_id         TEXT NOT NULL DEFAULT '',
    factor          TEXT NOT NULL DEFAULT '',
    challenge_id    TEXT NOT NULL DEFAULT '',
    enrolling       TEXT NOT NULL DEFAULT '',
    enrollment_id   TEXT NOT NULL DEFAULT '',
    skipped_enrol   BOOLEAN NOT NULL DEFAULT FALSE,
    start_acr       TEXT NOT NULL DEFAULT '',
    version         INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX login_flows_expires_at_idx ON login_flows (expires_at);

CREATE TABLE single_use (
    key        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX single_use_expires_at_idx ON single_use (expires_at);

-- Durations are microseconds, like times.
CREATE TABLE client_policies (
    client_id              TEXT PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    allowed_factors        TEXT NOT NULL DEFAULT '[]',
    min_acr                TEXT NOT NULL DEFAULT '',
    default_acr            TEXT NOT NULL DEFAULT '',
    factor_max_age         BIGINT NOT NULL DEFAULT 0,
    grace_days             INTEGER NOT NULL DEFAULT 0,
    remember_device        BOOLEAN NOT NULL DEFAULT FALSE,
    remember_for           BIGINT NOT NULL DEFAULT 0,
    account_change_factors TEXT NOT NULL DEFAULT '[]',
    updated_at             BIGINT NOT NULL
);

-- +goose Down
DROP TABLE client_policies;
DROP TABLE single_use;
DROP TABLE login_flows;
DROP TABLE challenges;
DROP TABLE enrollments;
ALTER TABLE users DROP COLUMN enrol_offered_at;
ALTER TABLE users DROP COLUMN last_factor;
