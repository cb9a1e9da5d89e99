package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOutbox(t *testing.T) {
	at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	st := &memOutbox{}
	var logs bytes.Buffer
	o := NewOutbox(st, func() time.Time { return at }, slog.New(slog.NewTextHandler(&logs, nil)))

	msgs := []Message{
		{Channel: Email, To: "anna@example.hu", Ref: "email.1", Lang: "hu", Subject: "Kód", Text: "123456", HTML: "<b>123456</b>"},
		{Channel: SMS, To: "+46701234572", Ref: "sms.1", Lang: "sv", Text: "Din kod 654321"},
		{Channel: Voice, To: "+31201234567", Ref: "voice.1", Lang: "nl", Text: "Toets 4 7", Digits: 2},
	}
	for _, m := range msgs {
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("every channel is stored with all its fields and the clock's time", func(t *testing.T) {
		if len(st.msgs) != 3 {
			t.Fatalf("%d stored", len(st.msgs))
		}
		for i, m := range msgs {
			got := st.msgs[i]
			if got.Channel != string(m.Channel) || got.To != m.To || got.Ref != m.Ref || got.Lang != m.Lang ||
				got.Subject != m.Subject || got.Text != m.Text || got.HTML != m.HTML || got.Digits != m.Digits ||
				!got.CreatedAt.Equal(at) || got.ID == 0 {
				t.Errorf("stored %+v for %+v", got, m)
			}
		}
	})
	t.Run("the log names channel and ref, never the text", func(t *testing.T) {
		out := logs.String()
		if strings.Count(out, "dev outbox: message stored") != 3 {
			t.Errorf("log:\n%s", out)
		}
		for _, want := range []string{"channel=voice", "ref=voice.1", "level=INFO"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
		for _, secret := range []string{"123456", "654321", "+46701234572", "anna@example.hu"} {
			if strings.Contains(out, secret) {
				t.Errorf("log carries %q:\n%s", secret, out)
			}
		}
	})
	t.Run("a store failure is returned", func(t *testing.T) {
		boom := errors.New("disk full")
		bad := NewOutbox(&memOutbox{err: boom}, nil, nil)
		if err := bad.Send(context.Background(), msgs[0]); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
}
