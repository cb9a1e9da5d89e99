package notify

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestOnce(t *testing.T) {
	start := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)

	t.Run("of 50 concurrent sends of one Ref exactly one reaches the transport", func(t *testing.T) {
		next := &recorder{}
		s := Once(next, &memSingleUse{}, func() time.Time { return start }, time.Hour)
		var wg sync.WaitGroup
		errs := make([]error, 50)
		for i := range errs {
			wg.Go(func() {
				errs[i] = s.Send(context.Background(), Message{Channel: SMS, To: "+31612345678", Ref: "sms.same"})
			})
		}
		wg.Wait()
		ok, dup := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrDuplicate):
				dup++
			default:
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 || dup != 49 {
			t.Errorf("%d sent, %d duplicates; want 1 and 49", ok, dup)
		}
		if n := len(next.sent()); n != 1 {
			t.Errorf("transport saw %d messages, want 1", n)
		}
	})
	t.Run("different Refs are all sent", func(t *testing.T) {
		next := &recorder{}
		s := Once(next, &memSingleUse{}, func() time.Time { return start }, time.Hour)
		for _, ref := range []string{"sms.a", "sms.b", "voice.a"} {
			if err := s.Send(context.Background(), Message{Channel: SMS, Ref: ref}); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(next.sent()); n != 3 {
			t.Errorf("transport saw %d, want 3", n)
		}
	})
	t.Run("the Ref stays used when the transport failed", func(t *testing.T) {
		next := &recorder{errs: []error{ErrUnavailable}}
		s := Once(next, &memSingleUse{}, func() time.Time { return start }, time.Hour)
		m := Message{Channel: SMS, Ref: "sms.x"}
		if err := s.Send(context.Background(), m); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("first: %v", err)
		}
		if err := s.Send(context.Background(), m); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("second: %v, want ErrDuplicate", err)
		}
	})
	t.Run("the Ref is forgotten after keep", func(t *testing.T) {
		c := &clock{t: start}
		next := &recorder{}
		s := Once(next, &memSingleUse{}, c.now, time.Hour)
		m := Message{Channel: Email, Ref: "email.k"}
		_ = s.Send(context.Background(), m)
		c.advance(time.Hour)
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatalf("after keep: %v", err)
		}
	})
	t.Run("the key is notify: plus the Ref", func(t *testing.T) {
		su := &memSingleUse{}
		_ = Once(&recorder{}, su, func() time.Time { return start }, time.Hour).Send(context.Background(), Message{Ref: "sms.k1"})
		if exp, ok := su.used["notify:sms.k1"]; !ok || !exp.Equal(start.Add(time.Hour)) {
			t.Errorf("recorded %v", su.used)
		}
	})
	t.Run("a message without Ref is refused before anything is sent", func(t *testing.T) {
		next := &recorder{}
		err := Once(next, &memSingleUse{}, nil, 0).Send(context.Background(), Message{Channel: SMS})
		if err == nil || errors.Is(err, ErrDuplicate) {
			t.Fatalf("err = %v", err)
		}
		if len(next.sent()) != 0 {
			t.Error("sent anyway")
		}
	})
	t.Run("a store failure sends nothing", func(t *testing.T) {
		next := &recorder{}
		boom := errors.New("db down")
		err := Once(next, &memSingleUse{err: boom}, nil, 0).Send(context.Background(), Message{Ref: "r"})
		if !errors.Is(err, boom) || errors.Is(err, ErrDuplicate) {
			t.Fatalf("err = %v", err)
		}
		if len(next.sent()) != 0 {
			t.Error("sent anyway")
		}
	})
}
