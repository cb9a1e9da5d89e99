package main

import (
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/store/storetest"
)

// testBackends are the databases every end-to-end test runs on.
var testBackends = []string{"sqlite", "postgres"}

// testDSN returns a fresh, empty database for backend: a SQLite file in
// t.TempDir(), or a new schema in IDP_TEST_DATABASE_URL, dropped after the
// test. Without that variable PostgreSQL tests skip, unless CI is set:
// then they fail, so CI can never pass by skipping them.
func testDSN(t *testing.T, backend string) string {
	t.Helper()
	switch backend {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "idp.db")
	case "postgres":
		return storetest.PostgresDSN(t)
	}
	t.Fatalf("unknown backend %q", backend)
	return ""
}

// testConfig is a valid production-shaped config (not dev mode) with a
// fresh encryption key and argon2 parameters at the validator's floor, so
// tests spend their time on behaviour, not hashing.
func testConfig(t *testing.T, dsn, issuer string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Database.DSN = dsn
	cfg.Issuer = issuer
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg.Secrets.EncryptionKey = base64.StdEncoding.EncodeToString(key)
	cfg.Passwords.Argon2MemoryKiB = 8192
	cfg.Passwords.Argon2Iterations = 1
	cfg.Log.Level = "warn"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
