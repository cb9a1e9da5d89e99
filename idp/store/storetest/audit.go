package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

func testAudit(t *testing.T, open Opener) {
	t.Run("an event reads back whole with its id and detail", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		e := store.AuditEvent{
			UserID: "u1", Event: "login.success", ClientID: "portal", IP: "192.0.2.1",
			UserAgent: "Firefox", Detail: map[string]string{"acr": "high", "factor": "totp"}, CreatedAt: t0,
		}
		check(t, s.RecordAudit(ctx, &e))
		if e.ID == 0 {
			t.Fatal("RecordAudit did not set the id")
		}
		bare := store.AuditEvent{UserID: "u1", Event: "user.disabled", Detail: map[string]string{}, CreatedAt: t0.Add(time.Second)}
		check(t, s.RecordAudit(ctx, &bare))
		got, err := s.ListAudit(ctx, "u1", 10)
		check(t, err)
		bare.Detail = nil
		same(t, "events", got, []store.AuditEvent{bare, e})
	})

	t.Run("events are listed newest first, at most limit, for one user", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		// Two events share a time: the later insert counts as newer.
		times := []time.Duration{0, 2 * time.Second, time.Second, time.Second}
		var ids []int64
		for i, d := range times {
			e := store.AuditEvent{UserID: "u1", Event: seq("ev", i), CreatedAt: t0.Add(d)}
			check(t, s.RecordAudit(ctx, &e))
			ids = append(ids, e.ID)
			other := store.AuditEvent{UserID: "u2", Event: "noise", CreatedAt: t0.Add(d)}
			check(t, s.RecordAudit(ctx, &other))
		}
		for _, tc := range []struct {
			limit int
			want  []string
		}{
			{10, []string{"ev-001", "ev-003", "ev-002", "ev-000"}},
			{2, []string{"ev-001", "ev-003"}},
		} {
			got, err := s.ListAudit(ctx, "u1", tc.limit)
			check(t, err)
			var evs []string
			for _, e := range got {
				evs = append(evs, e.Event)
			}
			same(t, "events", evs, tc.want)
		}
		none, err := s.ListAudit(ctx, "nobody", 10)
		check(t, err)
		same(t, "no events", len(none), 0)
	})
}
