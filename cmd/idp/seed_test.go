package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/assurance"
)

// TestPolicySeeding: config policies reach the database at start for
// clients that have none, and never overwrite what an admin changed.
func TestPolicySeeding(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, testDSN(t, "sqlite"), "http://127.0.0.1:1")
	cfg.Policy.Clients = map[string]config.PolicyConfig{
		"portal":  {MinACR: "substantial", GraceDays: 5},
		"unknown": {MinACR: "substantial"},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := openStore(ctx, cfg, true, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := registerClient(ctx, cfg, st, clientInput{id: "portal", redirectURIs: []string{rpRedirect}}, rpSecret, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := buildApp(ctx, cfg, st, log, time.Now); err != nil {
		t.Fatal(err)
	}
	p, err := st.ClientPolicy(ctx, "portal")
	if err != nil || p.MinACR != assurance.LoASubstantial || p.GraceDays != 5 {
		t.Fatalf("seeded policy %+v %v", p, err)
	}
	if _, err := st.ClientPolicy(ctx, "unknown"); err == nil {
		t.Fatal("a policy was seeded for a client that does not exist")
	}

	p.GraceDays = 30 // an admin's edit
	if err := st.PutClientPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := buildApp(ctx, cfg, st, log, time.Now); err != nil {
		t.Fatal(err)
	}
	if p, _ := st.ClientPolicy(ctx, "portal"); p.GraceDays != 30 {
		t.Fatalf("a restart overwrote the admin's edit: grace days %d", p.GraceDays)
	}
}
