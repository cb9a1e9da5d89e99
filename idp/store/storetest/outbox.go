package storetest

import (
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// newOutboxMessage is an SMS with reference ref, stored at t0.
func newOutboxMessage(ref string) store.OutboxMessage {
	return store.OutboxMessage{
		Channel:   "sms",
		To:        "+31612345678",
		Ref:       ref,
		Lang:      "nl",
		Text:      "Uw code is 123456",
		CreatedAt: t0,
	}
}

// outboxRefs lists the refs of messages, in order.
func outboxRefs(ms []store.OutboxMessage) []string {
	refs := make([]string, len(ms))
	for i, m := range ms {
		refs[i] = m.Ref
	}
	return refs
}

func testOutbox(t *testing.T, open Opener) {
	t.Run("a message reads back whole, by ref and in the list", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		m := store.OutboxMessage{
			Channel: "voice",
			To:      "+36201234567",
			Ref:     "voice.Zs0fi-ő",
			Lang:    "hu",
			Subject: "Bejelentkezés – ellenőrzés",
			Text:    "Nyomja meg az egyest. Zażółć gęślą jaźń, Ελληνικά, 日本語 ✓",
			HTML:    "<p lang=\"hu\">Árvíztűrő tükörfúrógép &amp; 😀</p>\n<p>second line</p>",
			Digits:  1,
			// The outbox never stores a reply on insert in practice, but
			// the field must round-trip like any other.
			Reply:     "Köszönjük, bejelentkezett.",
			CreatedAt: t0.Add(789 * µs),
		}
		check(t, s.AddOutboxMessage(ctx, &m))
		if m.ID == 0 {
			t.Fatal("AddOutboxMessage did not set the id")
		}
		got, err := s.OutboxMessageByRef(ctx, m.Ref)
		check(t, err)
		same(t, "message by ref", *got, m)
		list, err := s.OutboxMessages(ctx, 10)
		check(t, err)
		same(t, "messages", list, []store.OutboxMessage{m})
	})

	t.Run("an empty outbox lists nothing", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		list, err := s.OutboxMessages(ctx, 10)
		check(t, err)
		same(t, "messages", len(list), 0)
	})

	t.Run("ids ascend in the order messages are stored", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		var prev int64
		for i := range 5 {
			m := newOutboxMessage(seq("ref", i))
			check(t, s.AddOutboxMessage(ctx, &m))
			if m.ID <= prev {
				t.Fatalf("message %d got id %d after id %d", i, m.ID, prev)
			}
			prev = m.ID
		}
	})

	t.Run("the newest limit messages are listed oldest first", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		// Messages 2 and 3 share a time: the later stored counts as newer.
		for i, d := range []time.Duration{0, time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second} {
			m := newOutboxMessage(seq("ref", i))
			m.CreatedAt = t0.Add(d)
			check(t, s.AddOutboxMessage(ctx, &m))
		}
		for _, tc := range []struct {
			limit int
			want  []string
		}{
			{3, []string{"ref-002", "ref-003", "ref-004"}},
			{1, []string{"ref-004"}},
			{5, []string{"ref-000", "ref-001", "ref-002", "ref-003", "ref-004"}},
			{50, []string{"ref-000", "ref-001", "ref-002", "ref-003", "ref-004"}},
		} {
			got, err := s.OutboxMessages(ctx, tc.limit)
			check(t, err)
			same(t, "refs", outboxRefs(got), tc.want)
		}
	})

	t.Run("no limit means the newest 100", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for i := range 101 {
			m := newOutboxMessage(seq("ref", i))
			check(t, s.AddOutboxMessage(ctx, &m))
		}
		for _, limit := range []int{0, -1} {
			got, err := s.OutboxMessages(ctx, limit)
			check(t, err)
			same(t, "messages listed", len(got), 100)
			same(t, "oldest listed", got[0].Ref, "ref-001")
			same(t, "newest listed", got[99].Ref, "ref-100")
		}
	})

	t.Run("an unknown or empty ref is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		m := newOutboxMessage("sms.abc")
		check(t, s.AddOutboxMessage(ctx, &m))
		_, err := s.OutboxMessageByRef(ctx, "sms.abd")
		wantErr(t, err, store.ErrNotFound)
		_, err = s.OutboxMessageByRef(ctx, "")
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("a second message with a ref already stored conflicts and is not stored", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		first := newOutboxMessage("sms.dup")
		check(t, s.AddOutboxMessage(ctx, &first))
		second := newOutboxMessage("sms.dup")
		second.Text = "Uw code is 654321"
		wantErr(t, s.AddOutboxMessage(ctx, &second), store.ErrConflict)
		got, err := s.OutboxMessageByRef(ctx, "sms.dup")
		check(t, err)
		same(t, "message kept", *got, first)
		list, err := s.OutboxMessages(ctx, 10)
		check(t, err)
		same(t, "messages stored", len(list), 1)
	})

	t.Run("messages without a ref never conflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a, b := newOutboxMessage(""), newOutboxMessage("")
		check(t, s.AddOutboxMessage(ctx, &a))
		check(t, s.AddOutboxMessage(ctx, &b))
		list, err := s.OutboxMessages(ctx, 10)
		check(t, err)
		same(t, "messages", list, []store.OutboxMessage{a, b})
	})

	t.Run("a reply is recorded on its own message and can be replaced", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		call, other := newOutboxMessage("voice.1"), newOutboxMessage("voice.2")
		call.Channel, other.Channel = "voice", "voice"
		check(t, s.AddOutboxMessage(ctx, &call))
		check(t, s.AddOutboxMessage(ctx, &other))

		check(t, s.SetOutboxReply(ctx, call.ID, "Bedankt, u bent aangemeld."))
		got, err := s.OutboxMessageByRef(ctx, call.Ref)
		check(t, err)
		call.Reply = "Bedankt, u bent aangemeld."
		same(t, "message with reply", *got, call)
		got, err = s.OutboxMessageByRef(ctx, other.Ref)
		check(t, err)
		same(t, "other message", *got, other)

		check(t, s.SetOutboxReply(ctx, call.ID, "Dziękujemy, zalogowano."))
		got, err = s.OutboxMessageByRef(ctx, call.Ref)
		check(t, err)
		same(t, "replaced reply", got.Reply, "Dziękujemy, zalogowano.")
		// Setting the same reply again still finds the message.
		check(t, s.SetOutboxReply(ctx, call.ID, "Dziękujemy, zalogowano."))
	})

	t.Run("a reply to an unknown message is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		m := newOutboxMessage("voice.1")
		check(t, s.AddOutboxMessage(ctx, &m))
		wantErr(t, s.SetOutboxReply(ctx, m.ID+1, "hello"), store.ErrNotFound)
		wantErr(t, s.SetOutboxReply(ctx, 0, "hello"), store.ErrNotFound)
	})

	t.Run("deleting expired rows removes messages older than OutboxLifetime and nothing newer", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		now := t0.Add(10 * 24 * time.Hour)
		edge := now.Add(-store.OutboxLifetime)
		for i, at := range []time.Time{edge.Add(-time.Hour), edge, edge.Add(µs), now} {
			m := newOutboxMessage(seq("ref", i))
			m.CreatedAt = at
			check(t, s.AddOutboxMessage(ctx, &m))
		}
		n, err := s.DeleteExpired(ctx, now)
		check(t, err)
		same(t, "rows removed", n, int64(2))
		list, err := s.OutboxMessages(ctx, 10)
		check(t, err)
		same(t, "messages kept", outboxRefs(list), []string{"ref-002", "ref-003"})
		_, err = s.OutboxMessageByRef(ctx, "ref-001")
		wantErr(t, err, store.ErrNotFound)

		n, err = s.DeleteExpired(ctx, now)
		check(t, err)
		same(t, "second pass", n, int64(0))
	})
}
