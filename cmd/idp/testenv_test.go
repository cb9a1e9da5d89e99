package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
func testDSN(t testing.TB, backend string) string {
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
func testConfig(t testing.TB, dsn, issuer string) config.Config {
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

// binDir holds the idp command built for this test run; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// idpBinary is the idp command built once per test run, for the tests that
// run it as real processes (several nodes, crashes, start-up).
var idpBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "idp-test-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "idp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// buildIdP returns the built binary; it skips in -short mode.
func buildIdP(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := idpBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// processEnv is the environment of idp processes on dsn: this process's
// minus every IDP_ variable, the database, a fresh encryption key shared
// by every process given this environment, and extra.
func processEnv(dsn string, extra ...string) []string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "IDP_") })
	env = append(env, "IDP_DATABASE_DSN="+dsn, "IDP_SECRETS_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(key))
	return append(env, extra...)
}
