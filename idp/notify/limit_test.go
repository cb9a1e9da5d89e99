package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/phone"
)

func TestLimit(t *testing.T) {
	start := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	nlse, err := phone.NewPolicy("NL", []string{"NL", "SE"})
	if err != nil {
		t.Fatal(err)
	}
	type setup struct {
		next  *recorder
		rl    *memRateLimits
		clock *clock
		s     Sender
	}
	newLimit := func(l Limits, policy *phone.Policy) setup {
		su := setup{next: &recorder{}, rl: &memRateLimits{}, clock: &clock{t: start}}
		su.s = Limit(su.next, su.rl, policy, l, su.clock.now)
		return su
	}
	sms := func(to, user, ip string) Message {
		return Message{Channel: SMS, To: to, Ref: "sms." + to + user + ip, Text: "code", UserID: user, IP: ip}
	}
	// sendN sends n messages made by mk and returns the first error.
	sendN := func(su setup, n int, mk func(i int) Message) error {
		for i := range n {
			if err := su.s.Send(context.Background(), mk(i)); err != nil {
				return fmt.Errorf("send %d: %w", i+1, err)
			}
		}
		return nil
	}
	wantLimit := func(t *testing.T, err error, scope string, window time.Duration) {
		t.Helper()
		var le *LimitError
		if !errors.As(err, &le) {
			t.Fatalf("err = %v, want *LimitError", err)
		}
		if le.Scope != scope || le.RetryAfter != window {
			t.Errorf("LimitError %+v, want scope %s retry after %s", le, scope, window)
		}
		if MessageID(err) != MsgLimited {
			t.Errorf("MessageID = %q", MessageID(err))
		}
	}

	t.Run("a destination is refused after its limit, whoever asks", func(t *testing.T) {
		su := newLimit(Limits{PerDestination: 3, Window: time.Hour}, nil)
		mk := func(i int) Message { return sms("+31612345678", fmt.Sprint("user", i), fmt.Sprint("192.0.2.", i)) }
		if err := sendN(su, 3, mk); err != nil {
			t.Fatal(err)
		}
		wantLimit(t, su.s.Send(context.Background(), mk(3)), ScopeDestination, time.Hour)
		if n := len(su.next.sent()); n != 3 {
			t.Errorf("%d reached the transport, want 3", n)
		}
	})
	t.Run("an account is refused after its limit across destinations", func(t *testing.T) {
		su := newLimit(Limits{PerAccount: 2, Window: time.Hour}, nil)
		mk := func(i int) Message { return sms(fmt.Sprintf("+3161234567%d", i), "user-1", fmt.Sprint("192.0.2.", i)) }
		if err := sendN(su, 2, mk); err != nil {
			t.Fatal(err)
		}
		wantLimit(t, su.s.Send(context.Background(), mk(2)), ScopeAccount, time.Hour)
		if err := su.s.Send(context.Background(), sms("+31612345670", "user-2", "192.0.2.9")); err != nil {
			t.Errorf("another account was limited too: %v", err)
		}
	})
	t.Run("an IP is refused after its limit across accounts and destinations", func(t *testing.T) {
		su := newLimit(Limits{PerIP: 2, Window: time.Hour}, nil)
		mk := func(i int) Message {
			return sms(fmt.Sprintf("+3161234567%d", i), fmt.Sprint("user", i), "198.51.100.7")
		}
		if err := sendN(su, 2, mk); err != nil {
			t.Fatal(err)
		}
		wantLimit(t, su.s.Send(context.Background(), mk(2)), ScopeIP, time.Hour)
	})
	t.Run("IPv6 addresses of one /64 share a limit", func(t *testing.T) {
		su := newLimit(Limits{PerIP: 1, Window: time.Hour}, nil)
		if err := su.s.Send(context.Background(), sms("+31612345671", "a", "2001:db8:1:2::1")); err != nil {
			t.Fatal(err)
		}
		wantLimit(t, su.s.Send(context.Background(), sms("+31612345672", "b", "2001:db8:1:2:ffff::9")), ScopeIP, time.Hour)
		if err := su.s.Send(context.Background(), sms("+31612345673", "c", "2001:db8:1:3::1")); err != nil {
			t.Errorf("another /64 was limited: %v", err)
		}
	})
	t.Run("every scope is counted before any is judged", func(t *testing.T) {
		su := newLimit(Limits{PerDestination: 1, PerAccount: 5, PerIP: 5, Window: time.Hour}, nil)
		m := sms("+31612345678", "user-1", "192.0.2.1")
		_ = su.s.Send(context.Background(), m)
		wantLimit(t, su.s.Send(context.Background(), m), ScopeDestination, time.Hour)
		if n := len(su.rl.hitKeys()); n != 6 {
			t.Errorf("%d hits, want 3 scopes x 2 sends", n)
		}
	})
	t.Run("a new window allows sending again", func(t *testing.T) {
		su := newLimit(Limits{PerDestination: 1, Window: 10 * time.Minute}, nil)
		m := sms("+46701234572", "u", "192.0.2.1")
		if err := su.s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		su.clock.advance(9 * time.Minute)
		wantLimit(t, su.s.Send(context.Background(), m), ScopeDestination, 10*time.Minute)
		su.clock.advance(10 * time.Minute)
		if err := su.s.Send(context.Background(), m); err != nil {
			t.Errorf("after the window: %v", err)
		}
	})
	t.Run("zero limits count nothing", func(t *testing.T) {
		su := newLimit(Limits{}, nil)
		if err := sendN(su, 20, func(int) Message { return sms("+31612345678", "u", "192.0.2.1") }); err != nil {
			t.Fatal(err)
		}
		if n := len(su.rl.hitKeys()); n != 0 {
			t.Errorf("%d hits", n)
		}
	})
	t.Run("an SMS or call to a country not allowed is refused uncounted and unsent", func(t *testing.T) {
		su := newLimit(Limits{PerDestination: 5, Window: time.Hour}, nlse)
		for _, c := range []Channel{SMS, Voice} {
			err := su.s.Send(context.Background(), Message{Channel: c, To: "+48221234567", Ref: "x", Digits: 1})
			if !errors.Is(err, ErrCountryNotAllowed) || MessageID(err) != MsgCountry {
				t.Errorf("%s: err = %v", c, err)
			}
		}
		if len(su.next.sent()) != 0 || len(su.rl.hitKeys()) != 0 {
			t.Error("a refused country was sent or counted")
		}
		if err := su.s.Send(context.Background(), sms("+46701234572", "u", "192.0.2.1")); err != nil {
			t.Errorf("an allowed country: %v", err)
		}
		if err := su.s.Send(context.Background(), Message{Channel: Email, To: "a@example.pl", Ref: "e"}); err != nil {
			t.Errorf("email is not subject to the country list: %v", err)
		}
	})
	t.Run("without a policy every country is allowed", func(t *testing.T) {
		su := newLimit(Limits{}, nil)
		if err := su.s.Send(context.Background(), sms("+48221234567", "u", "")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("counter keys hold no number, address, account or IP", func(t *testing.T) {
		su := newLimit(Limits{PerDestination: 9, PerAccount: 9, PerIP: 9, Window: time.Hour}, nil)
		_ = su.s.Send(context.Background(), sms("+31612345678", "user-4711", "203.0.113.77"))
		_ = su.s.Send(context.Background(), Message{Channel: Email, To: "Anna@Example.hu", Ref: "e", UserID: "user-4711", IP: "203.0.113.77"})
		keys := su.rl.hitKeys()
		if len(keys) != 6 {
			t.Fatalf("keys %v", keys)
		}
		for _, k := range keys {
			for _, raw := range []string{"31612345678", "612345678", "anna", "example", "user-4711", "203.0.113"} {
				if strings.Contains(strings.ToLower(k), raw) {
					t.Errorf("key %q contains %q", k, raw)
				}
			}
			if !strings.HasPrefix(k, "notify:dest:") && !strings.HasPrefix(k, "notify:account:") && !strings.HasPrefix(k, "notify:ip:") {
				t.Errorf("key %q", k)
			}
		}
	})
	t.Run("an email address counts the same whatever its case", func(t *testing.T) {
		su := newLimit(Limits{PerDestination: 1, Window: time.Hour}, nil)
		_ = su.s.Send(context.Background(), Message{Channel: Email, To: "anna@example.hu", Ref: "1"})
		wantLimit(t, su.s.Send(context.Background(), Message{Channel: Email, To: "Anna@Example.HU", Ref: "2"}), ScopeDestination, time.Hour)
	})
	t.Run("sends without account or IP count the destination only", func(t *testing.T) {
		su := newLimit(Limits{PerDestination: 9, PerAccount: 1, PerIP: 1, Window: time.Hour}, nil)
		if err := sendN(su, 3, func(int) Message { return sms("+31612345678", "", "") }); err != nil {
			t.Fatal(err)
		}
		for _, k := range su.rl.hitKeys() {
			if !strings.HasPrefix(k, "notify:dest:") {
				t.Errorf("counted %q", k)
			}
		}
	})
}
