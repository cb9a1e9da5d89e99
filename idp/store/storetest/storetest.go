// Package storetest is the conformance suite every store.Store backend
// runs, so the rest of the server can rely on the contract in package store
// rather than on one database's behaviour. Backends call Run and
// RunConcurrency from their own tests with a function that opens a fresh,
// migrated, empty store.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// Opener returns a fresh, empty, migrated store, closed by t.Cleanup.
type Opener func(t *testing.T) store.Store

// t0 is the suite's "now". It carries microseconds, the precision every
// backend must keep, and no monotonic reading.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

// µs is the smallest step a backend must tell apart at an expiry boundary.
const µs = time.Microsecond

// Run checks every method of store.Store against its documented contract.
func Run(t *testing.T, open Opener) {
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Clients", func(t *testing.T) { testClients(t, open) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, open) })
	t.Run("AuthRequests", func(t *testing.T) { testAuthRequests(t, open) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("RateLimits", func(t *testing.T) { testRateLimits(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Enrollments", func(t *testing.T) { testEnrollments(t, open) })
	t.Run("Challenges", func(t *testing.T) { testChallenges(t, open) })
	t.Run("SingleUse", func(t *testing.T) { testSingleUse(t, open) })
	t.Run("LoginFlows", func(t *testing.T) { testLoginFlows(t, open) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open) })
	t.Run("Policies", func(t *testing.T) { testPolicies(t, open) })
	t.Run("Maintenance", func(t *testing.T) { testMaintenance(t, open) })
}

// check fails the test unless err is nil.
func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

// same fails the test unless got and want are deeply equal.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// seq makes distinct ids per test, readable in failure messages.
func seq(prefix string, i int) string { return fmt.Sprintf("%s-%03d", prefix, i) }
