package notify

import (
	"context"
	"errors"
	"testing"
)

func TestRouter(t *testing.T) {
	email, sms := &recorder{}, &recorder{}
	r := Router{Email: email, SMS: sms}

	t.Run("each message goes to its channel's sender", func(t *testing.T) {
		if err := r.Send(context.Background(), Message{Channel: Email, Ref: "e"}); err != nil {
			t.Fatal(err)
		}
		if err := r.Send(context.Background(), Message{Channel: SMS, Ref: "s"}); err != nil {
			t.Fatal(err)
		}
		if got := email.sent(); len(got) != 1 || got[0].Ref != "e" {
			t.Errorf("email got %v", got)
		}
		if got := sms.sent(); len(got) != 1 || got[0].Ref != "s" {
			t.Errorf("sms got %v", got)
		}
	})
	t.Run("a channel without sender is not configured", func(t *testing.T) {
		for _, c := range []Channel{Voice, Channel("push")} {
			if err := r.Send(context.Background(), Message{Channel: c}); !errors.Is(err, ErrNotConfigured) {
				t.Errorf("%s: err = %v, want ErrNotConfigured", c, err)
			}
		}
	})
	t.Run("Has tells which channels are on", func(t *testing.T) {
		if !r.Has(Email) || !r.Has(SMS) || r.Has(Voice) || r.Has("push") {
			t.Errorf("Has: email %v sms %v voice %v", r.Has(Email), r.Has(SMS), r.Has(Voice))
		}
	})
}
