package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/store"
)

// TestCLIFactorAdmin: `idp client policy` and `idp user reset-factors`.
func TestCLIFactorAdmin(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) {
			e := newCLIEnv(t, backend)
			e.mustRun(t, "", "client", "add", "--id", "portal", "--redirect-uri", "https://portal.example.org/cb")
			out := e.mustRun(t, cliTestPassword+"\n", "user", "add", "--username", "alice", "--email", "alice@example.org", "--password-stdin", "--json")
			alice := decodeJSON[map[string]any](t, out)

			t.Run("a client without a policy shows the configured default", func(t *testing.T) {
				p := decodeJSON[map[string]any](t, e.mustRun(t, "", "client", "policy", "show", "--id", "portal", "--json"))
				if p["default"] != true || p["min_acr"] != "" || p["client_id"] != "portal" {
					t.Fatalf("%v", p)
				}
			})

			t.Run("policy set resolves short acr names and changes only the flags given", func(t *testing.T) {
				e.mustRun(t, "", "client", "policy", "set", "--id", "portal", "--min-acr", "substantial", "--grace-days", "14")
				p := decodeJSON[map[string]any](t, e.mustRun(t, "", "client", "policy", "set", "--id", "portal",
					"--allowed-factors", "totp,recovery", "--factor-max-age", "8h", "--json"))
				if p["default"] != false || p["min_acr"] != assurance.LoASubstantial || p["grace_days"] != float64(14) ||
					p["factor_max_age"] != "8h0m0s" || len(p["allowed_factors"].([]any)) != 2 {
					t.Fatalf("%v", p)
				}
			})

			t.Run("bad policy input is refused with every problem named and changes nothing", func(t *testing.T) {
				_, _, err := e.run(t, "", "client", "policy", "set", "--id", "portal", "--min-acr", "extreme", "--default-acr", "bogus")
				if err == nil || !strings.Contains(err.Error(), "--min-acr") || !strings.Contains(err.Error(), "--default-acr") {
					t.Fatalf("err = %v", err)
				}
				_, _, err = e.run(t, "", "client", "policy", "set", "--id", "portal", "--allowed-factors", "carrier-pigeon")
				if err == nil || !strings.Contains(err.Error(), "carrier-pigeon") {
					t.Fatalf("unknown factor: err = %v", err)
				}
				_, _, err = e.run(t, "", "client", "policy", "set", "--id", "portal", "--grace-days", "-3")
				if err == nil {
					t.Fatal("negative grace days accepted")
				}
				_, _, err = e.run(t, "", "client", "policy", "show", "--id", "nobody")
				if err == nil || !strings.Contains(err.Error(), "no client") {
					t.Fatalf("unknown client: err = %v", err)
				}
				p := decodeJSON[map[string]any](t, e.mustRun(t, "", "client", "policy", "show", "--id", "portal", "--json"))
				if p["min_acr"] != assurance.LoASubstantial || p["grace_days"] != float64(14) {
					t.Fatalf("a refused change altered the policy: %v", p)
				}
			})

			t.Run("reset-factors removes the person's factors and sessions and is audited", func(t *testing.T) {
				ctx := context.Background()
				cfg, err := loadConfig(&globals{configFile: e.config, database: e.dsn}, nil)
				if err != nil {
					t.Fatal(err)
				}
				st, err := openStore(ctx, cfg, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				uid := alice["id"].(string)
				now := time.Now()
				for _, id := range []string{"e1", "e2"} {
					if err := st.CreateEnrollment(ctx, &store.Enrollment{ID: id, UserID: uid, Factor: "totp", ConfirmedAt: &now, CreatedAt: now}); err != nil {
						t.Fatal(err)
					}
				}
				if err := st.CreateSession(ctx, &store.Session{ID: "s1", UserID: uid, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
				out := decodeJSON[map[string]any](t, e.mustRun(t, "", "user", "reset-factors", "--username", "Alice", "--json"))
				if out["removed_factors"] != float64(2) {
					t.Fatalf("%v", out)
				}
				if es, _ := st.ListEnrollments(ctx, uid); len(es) != 0 {
					t.Fatalf("enrollments left: %v", es)
				}
				if _, err := st.SessionByID(ctx, "s1", now); err == nil {
					t.Fatal("the session survived the reset")
				}
				events, _ := st.ListAudit(ctx, uid, 10)
				if len(events) == 0 || events[0].Event != "factors.reset" || events[0].Detail["by"] != "cli" {
					t.Fatalf("audit %v", events)
				}
				if _, _, err := e.run(t, "", "user", "reset-factors", "--username", "nobody"); err == nil || !strings.Contains(err.Error(), "no user") {
					t.Fatalf("unknown user: err = %v", err)
				}
			})
		})
	}
}
