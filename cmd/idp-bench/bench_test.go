package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// buildIdP builds the idp binary once per test binary run.
func buildIdP(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cmd/idp with")
	}
	bin := filepath.Join(t.TempDir(), "idp")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/eu-health-idp/idp/cmd/idp")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/idp: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startDemo runs `idp demo` in dir (it keeps its SQLite database in
// dir/data) and waits for discovery to answer.
func startDemo(t *testing.T, bin, dir string) string {
	t.Helper()
	addr := freePort(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "demo", "--listen", addr)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	issuer := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(discoveryURL(issuer))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return issuer
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("idp demo did not answer on %s: %v\n%s", issuer, err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestScenariosAgainstADemo is the load tool end to end: a fresh `idp
// demo`, setup through the CLI and the pages, every scenario for a second
// at concurrency 2 without a single error, a seeded user logging in, and
// the JSON report.
func TestScenariosAgainstADemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an idp demo and loads it for ~20 s")
	}
	ctx := t.Context()
	bin := buildIdP(t)
	dir := t.TempDir()
	issuer := startDemo(t, bin, dir)

	// A TOTP user may log in once more within the step of its set-up,
	// then once per 30 s: 64 cover two seconds of TOTP logins.
	const totpUsers = 64
	s, err := setup(ctx, setupOptions{
		IDP: bin, Dir: dir, Prefix: "bench", Users: 2, TOTPUsers: totpUsers, Issuer: issuer, HashOnce: true, Parallel: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Users) != 2 || len(s.TOTPUsers) != totpUsers || s.TOTPUsers[totpUsers-1].TOTPSecret == "" {
		t.Fatalf("setup: %d users, %d TOTP users", len(s.Users), len(s.TOTPUsers))
	}

	rep := newReport(issuer)
	for _, name := range scenarioNames() {
		t.Run(name+" runs without errors", func(t *testing.T) {
			d := time.Second
			if strings.HasPrefix(name, "login") || name == "step-up" {
				d = 2 * time.Second // a login is 50-100 ms; more on a busy machine
			}
			res, err := run(ctx, runOptions{
				Issuer: issuer, Scenario: name, Concurrency: 2, Duration: d, Warmup: 100 * time.Millisecond,
				Timeout: 10 * time.Second, ACR: "http://eidas.europa.eu/LoA/substantial", Setup: s,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops == 0 || res.Errors != 0 || res.RPS <= 0 || res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 {
				t.Fatalf("ops %d errors %d rps %.1f latency %+v errors %v %v", res.Ops, res.Errors, res.RPS, res.Latency, res.ErrorsByKind, res.ErrorExamples)
			}
			if name == "step-up" && res.Phases["step-up"].Count != res.Ops {
				t.Fatalf("step-up phase counted %d of %d", res.Phases["step-up"].Count, res.Ops)
			}
			rep.Results = append(rep.Results, res)
		})
	}

	t.Run("a user written by seed logs in with the printed password", func(t *testing.T) {
		res, err := seed(ctx, seedOptions{DSN: "sqlite:" + filepath.Join(dir, "data", "idp.db"), Prefix: "seed", Users: 300, Sessions: 50, Audit: 50})
		if err != nil {
			t.Fatal(err)
		}
		one := &benchSetup{ClientID: s.ClientID, ClientSecret: s.ClientSecret, Users: []benchUser{{Username: fmt.Sprintf(res.UsernameFormat, 300), Password: res.Password}}}
		r, err := run(ctx, runOptions{Issuer: issuer, Scenario: "login", Concurrency: 1, Duration: time.Second, Setup: one})
		if err != nil || r.Ops == 0 || r.Errors != 0 {
			t.Fatalf("%v: ops %d errors %v", err, r.Ops, r.ErrorExamples)
		}
	})

	t.Run("run --json prints one object with the documented fields", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "setup.json")
		if err := writeSetup(f, s); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("setup file mode %v %v", fi.Mode(), err)
		}
		var out bytes.Buffer
		cmd := rootCmd()
		cmd.SetOut(&out)
		cmd.SetArgs([]string{"run", "--setup-file", f, "--scenario", "discovery,client-credentials", "-c", "2", "-d", "300ms", "--warmup", "0s", "--json"})
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("not one JSON object: %v\n%s", err, out.String())
		}
		for _, k := range []string{"tool", "issuer", "started_at", "go_version", "gomaxprocs", "num_cpu", "results"} {
			if _, ok := got[k]; !ok {
				t.Errorf("no %q", k)
			}
		}
		results, _ := got["results"].([]any)
		if len(results) != 2 {
			t.Fatalf("results: %v", got["results"])
		}
		for _, r := range results {
			m := r.(map[string]any)
			for _, k := range []string{"scenario", "concurrency", "duration_s", "warmup_s", "ops", "errors", "error_rate", "rps", "requests", "requests_per_s", "latency_ms", "errors_by_kind"} {
				if _, ok := m[k]; !ok {
					t.Errorf("%v: no %q", m["scenario"], k)
				}
			}
			lat := m["latency_ms"].(map[string]any)
			for _, k := range []string{"mean", "p50", "p90", "p99", "max", "min"} {
				if v, ok := lat[k].(float64); !ok || v <= 0 {
					t.Errorf("%v: latency_ms.%s = %v", m["scenario"], k, lat[k])
				}
			}
			if m["ops"].(float64) <= 0 || m["errors"].(float64) != 0 {
				t.Errorf("%v: ops %v errors %v", m["scenario"], m["ops"], m["errors"])
			}
		}
		// The table form of what the scenarios above measured.
		var table bytes.Buffer
		if err := rep.writeTable(&table); err != nil || !strings.Contains(table.String(), "discovery") {
			t.Fatalf("table: %v\n%s", err, table.String())
		}
		t.Log("\n" + table.String())
	})
}

// TestSeedWritesRowsTheStoreReads seeds a fresh database and reads the
// rows back through the store: the column layout matches the migrations,
// and the shared hash verifies the printed password.
func TestSeedWritesRowsTheStoreReads(t *testing.T) {
	if testing.Short() {
		t.Skip("computes an argon2id hash")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "idp.db")
			if backend == "postgres" {
				dsn = postgresSchema(t)
			}
			ctx := t.Context()
			res, err := seed(ctx, seedOptions{DSN: dsn, Prefix: "s", Users: 1234, Sessions: 100, Audit: 300})
			if err != nil {
				t.Fatal(err)
			}
			st, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			users, err := st.ListUsers(ctx)
			if err != nil || len(users) != 1234 {
				t.Fatalf("%d users, %v", len(users), err)
			}
			u, err := st.UserByUsername(ctx, fmt.Sprintf(res.UsernameFormat, 1234))
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := security.NewPasswordHasher(security.DefaultArgon2).Verify(u.PasswordHash, res.Password)
			if !ok || rehash || err != nil {
				t.Fatalf("the seeded hash: ok %v rehash %v %v", ok, rehash, err)
			}
			first, err := st.UserByUsername(ctx, fmt.Sprintf(res.UsernameFormat, 1))
			if err != nil {
				t.Fatal(err)
			}
			events, err := st.ListAudit(ctx, first.ID, 0)
			if err != nil || len(events) == 0 || events[0].Event != "login.success" {
				t.Fatalf("audit of the first user: %v %v", events, err)
			}
		})
	}
}

// postgresSchema returns IDP_TEST_DATABASE_URL with a fresh schema as its
// search_path, dropped afterwards; skips without the variable (fails in CI).
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("IDP_TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("IDP_TEST_DATABASE_URL is not set, and CI is: PostgreSQL tests must run")
		}
		t.Skip("IDP_TEST_DATABASE_URL not set")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	schema := "idp_bench_" + strings.ToLower(rand.Text()[:12])
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
