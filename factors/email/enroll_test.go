package email

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/factortest"
	"github.com/eu-health-idp/idp/factors/oob"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/store"
)

func (fx *fixture) begin(t *testing.T, u *store.User) *store.Enrollment {
	t.Helper()
	e, err := fx.f.BeginEnroll(ctx, fx.enrollAttempt(u, nil))
	if err != nil {
		t.Fatalf("BeginEnroll: %v", err)
	}
	return e
}

func (fx *fixture) stored(t *testing.T, id string) *store.Enrollment {
	t.Helper()
	e, err := fx.mem.EnrollmentByID(ctx, id)
	if err != nil {
		t.Fatalf("EnrollmentByID: %v", err)
	}
	return e
}

func (fx *fixture) enrollPrompt(t *testing.T, u *store.User, id string) factors.Prompt {
	t.Helper()
	p, err := fx.f.EnrollPrompt(ctx, fx.enrollAttempt(u, fx.stored(t, id)))
	if err != nil {
		t.Fatalf("EnrollPrompt: %v", err)
	}
	return p
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		name, in, want, msg string
	}{
		{"a plain address is kept", "anna@example.org", "anna@example.org", ""},
		{"surrounding spaces are trimmed", "  anna@example.org ", "anna@example.org", ""},
		{"the domain is lower-cased, the local part kept", "Anna.K@Example.ORG", "Anna.K@example.org", ""},
		{"plus addressing is fine", "anna+login@example.org", "anna+login@example.org", ""},
		{"an international domain is fine", "jan@példa.hu", "jan@példa.hu", ""},
		{"nothing is required", " ", "", MsgEmailRequired},
		{"a display name is refused", "Anna <anna@example.org>", "", MsgEmailInvalid},
		{"angle brackets are refused", "<anna@example.org>", "", MsgEmailInvalid},
		{"no at sign is refused", "anna.example.org", "", MsgEmailInvalid},
		{"two addresses are refused", "anna@example.org, jan@example.org", "", MsgEmailInvalid},
		{"a host without a dot is refused", "anna@localhost", "", MsgEmailInvalid},
		{"an address literal is refused", "anna@[192.0.2.1]", "", MsgEmailInvalid},
		{"a trailing dot is refused", "anna@example.org.", "", MsgEmailInvalid},
		{"a space inside is refused", "an na@example.org", "", MsgEmailInvalid},
		{"a newline is refused", "anna@example.org\nBcc: x@example.org", "", MsgEmailInvalid},
		{"a bidi override is refused", "anna\u202e@example.org", "", MsgEmailInvalid},
		{"a comment is refused", "anna@example.org (Anna)", "", MsgEmailInvalid},
		{"more than 254 characters are refused", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".org", "", MsgEmailTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ferr := ParseAddress(tt.in)
			if tt.msg == "" {
				if ferr != nil || got != tt.want {
					t.Errorf("got %q, %v; want %q", got, ferr, tt.want)
				}
				return
			}
			if ferr == nil || ferr.Kind != factors.Malformed || ferr.MessageID != tt.msg || ferr.Field != "email" {
				t.Errorf("got %q, %+v; want %s on email", got, ferr, tt.msg)
			}
		})
	}
}

func TestEnroll(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	u.Email = "anna@account.example.org"
	e := fx.begin(t, u)

	t.Run("it stores a pending enrollment with no address", func(t *testing.T) {
		row := fx.stored(t, e.ID)
		if row.Confirmed() || row.UserID != u.ID || row.Factor != "email" || row.Data != "" || !row.CreatedAt.Equal(fx.clock.Now()) {
			t.Errorf("row %+v", row)
		}
	})
	t.Run("the page asks for the address, pre-filled with the account's", func(t *testing.T) {
		p := fx.enrollPrompt(t, u, e.ID)
		if p.Template != "enroll_email" || p.Data["Stage"] != "address" || p.Data["Email"] != u.Email || p.Data["SendError"] != "" {
			t.Errorf("prompt %+v", p)
		}
	})
	t.Run("a bad address is refused on the field and nothing is sent", func(t *testing.T) {
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"send"}, "email": {"anna@localhost"}})
		factortest.AssertMessage(t, err, factors.Malformed, "email")
		if len(fx.sender.Sent()) != 0 || fx.stored(t, e.ID).Data != "" {
			t.Error("something changed")
		}
	})
	t.Run("a good address gets a confirmation code and the page asks for it", func(t *testing.T) {
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"send"}, "email": {"Anna@Example.org"}})
		if !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatalf("got %v", err)
		}
		m := fx.last(t)
		if m.Channel != notify.Email || m.To != "Anna@example.org" || m.Ref != "email.e."+e.ID+".1" || m.UserID != u.ID || m.IP != "192.0.2.7" ||
			m.Subject != factortest.Issuer+" – confirmation code" || !strings.Contains(m.HTML, ">"+codeIn(t, m)+"<") {
			t.Errorf("message %+v", m)
		}
		p := fx.enrollPrompt(t, u, e.ID)
		if p.Data["Stage"] != "code" || p.Data["Email"] != "Anna@example.org" || p.Data["Minutes"] != 10 {
			t.Errorf("prompt %+v", p)
		}
	})
	t.Run("the enrollment keeps the address and the code's hash, not the code", func(t *testing.T) {
		row := fx.stored(t, e.ID)
		d, err := oob.ParseEnrollData(row.Data)
		if err != nil || d.Email != "Anna@example.org" || !d.Waiting() || strings.Contains(row.Data, codeIn(t, fx.last(t))) {
			t.Errorf("Data %s, %v", row.Data, err)
		}
	})
	t.Run("a wrong code is Wrong and counted in the enrollment", func(t *testing.T) {
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"confirm"}, "code": {otherCode(codeIn(t, fx.last(t)))}})
		factortest.AssertMessage(t, err, factors.Wrong, "code")
		d, _ := oob.ParseEnrollData(fx.stored(t, e.ID).Data)
		if d.Setup.Attempts != 1 {
			t.Errorf("attempts %d", d.Setup.Attempts)
		}
	})
	t.Run("a malformed code is Malformed and not counted", func(t *testing.T) {
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"confirm"}, "code": {"12ab56"}})
		factortest.AssertMessage(t, err, factors.Malformed, "code")
		d, _ := oob.ParseEnrollData(fx.stored(t, e.ID).Data)
		if d.Setup.Attempts != 1 {
			t.Errorf("attempts %d", d.Setup.Attempts)
		}
	})
	t.Run("the right code confirms the address and proves the factor", func(t *testing.T) {
		proof, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"code": {codeIn(t, fx.last(t))}})
		if err != nil {
			t.Fatal(err)
		}
		if proof.Factor != "email" || strings.Join(proof.AMR, ",") != "otp,email" {
			t.Errorf("proof %+v", proof)
		}
		row := fx.stored(t, e.ID)
		if !row.Confirmed() || row.Name != "Anna@example.org" || row.Data != `{"email":"Anna@example.org"}` {
			t.Errorf("row %+v", row)
		}
	})
	t.Run("confirming again is a conflict, not a second proof", func(t *testing.T) {
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"code": {codeIn(t, fx.last(t))}})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("the same address cannot be set up twice", func(t *testing.T) {
		fx.clock.Advance(time.Minute)
		e2 := fx.begin(t, u)
		_, err := fx.finish(t, u, e2, url.Values{"step": {"send"}, "email": {"anna@EXAMPLE.org"}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "email"); fe.MessageID != MsgEmailTaken {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("a second address can", func(t *testing.T) {
		e3 := fx.enrol(t, u, "anna.work@example.org")
		if got := factortest.Confirmed(t, fx.mem, u.ID, ID); len(got) != 2 || !fx.stored(t, e3.ID).Confirmed() {
			t.Errorf("%d confirmed", len(got))
		}
	})
}

func otherCode(code string) string { return fmt.Sprintf("%06d", (atoi(code)+1)%1000000) }

func TestEnrollSteps(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	e := fx.begin(t, u)
	if _, err := fx.finish(t, u, e, url.Values{"email": {"anna@example.org"}}); !errors.Is(err, factors.ErrEnrollContinues) {
		t.Fatalf("an empty step with an address sends: %v", err)
	}
	first := codeIn(t, fx.last(t))

	t.Run("send again is refused during the cooldown, on the address", func(t *testing.T) {
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"resend"}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "email"); fe.MessageID != oob.MsgCooldown {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("five wrong codes kill the code", func(t *testing.T) {
		for i := range oob.MaxSetupAttempts {
			_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"confirm"}, "code": {otherCode(first)}})
			if !factors.IsWrong(err) {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"confirm"}, "code": {first}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "code"); fe.MessageID != oob.MsgCodeDead {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("send again after the cooldown brings a new code that works", func(t *testing.T) {
		fx.clock.Advance(30 * time.Second)
		if _, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"resend"}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		if fx.last(t).Ref != "email.e."+e.ID+".2" {
			t.Errorf("Ref %s", fx.last(t).Ref)
		}
		d, _ := oob.ParseEnrollData(fx.stored(t, e.ID).Data)
		if d.Setup.Attempts != 0 {
			t.Errorf("attempts %d after a new code", d.Setup.Attempts)
		}
	})
	t.Run("use another address shows the form with the old address", func(t *testing.T) {
		if _, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"change"}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		p := fx.enrollPrompt(t, u, e.ID)
		if p.Data["Stage"] != "address" || p.Data["Email"] != "anna@example.org" {
			t.Errorf("prompt %+v", p)
		}
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"confirm"}, "code": {codeIn(t, fx.last(t))}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "code"); fe.MessageID != oob.MsgCodeExpired {
			t.Errorf("the dropped code: %s", fe.MessageID)
		}
	})
	t.Run("the cooldown also holds for a new address", func(t *testing.T) {
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"send"}, "email": {"anna2@example.org"}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "email"); fe.MessageID != oob.MsgCooldown {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("a code past its lifetime is Malformed", func(t *testing.T) {
		fx.clock.Advance(30 * time.Second)
		if _, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"send"}, "email": {"anna2@example.org"}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		if fx.last(t).To != "anna2@example.org" {
			t.Errorf("sent to %s", fx.last(t).To)
		}
		fx.clock.Advance(10 * time.Minute)
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"confirm"}, "code": {codeIn(t, fx.last(t))}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "code"); fe.MessageID != oob.MsgCodeExpired {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("the sends of a set-up are capped", func(t *testing.T) {
		// 3 sends so far within the hour; the 5th is the last.
		for range 2 {
			if _, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"resend"}}); !errors.Is(err, factors.ErrEnrollContinues) {
				t.Fatal(err)
			}
			fx.clock.Advance(30 * time.Second)
		}
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"resend"}})
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "email"); fe.MessageID != oob.MsgSendCap {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("an unknown step is a fault", func(t *testing.T) {
		_, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"explode"}})
		if err == nil || factors.IsMalformed(err) || factors.IsWrong(err) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("another person's enrollment is refused", func(t *testing.T) {
		_, err := fx.finish(t, factortest.User("jan"), fx.stored(t, e.ID), url.Values{"step": {"resend"}})
		if err == nil || factors.IsMalformed(err) {
			t.Errorf("got %v", err)
		}
	})
}

func TestEnrollDeliveryFailure(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	e := fx.begin(t, u)
	fx.sender.SetErr(fmt.Errorf("smtp: 550 no such user: %w", notify.ErrUndeliverable))
	_, err := fx.finish(t, u, e, url.Values{"step": {"send"}, "email": {"anna@example.org"}})

	t.Run("a failed send is Malformed on the address with the transport's message", func(t *testing.T) {
		if fe := factortest.AssertMessage(t, err, factors.Malformed, "email"); fe.MessageID != notify.MsgUndeliverable {
			t.Errorf("message %s", fe.MessageID)
		}
	})
	t.Run("the page shows the code form with the failure and the way to another address", func(t *testing.T) {
		p := fx.enrollPrompt(t, u, e.ID)
		if p.Data["Stage"] != "code" || p.Data["SendError"] != notify.MsgUndeliverable {
			t.Errorf("prompt %+v", p)
		}
	})
	t.Run("send again works at once", func(t *testing.T) {
		fx.sender.SetErr(nil)
		if _, err := fx.finish(t, u, fx.stored(t, e.ID), url.Values{"step": {"resend"}}); !errors.Is(err, factors.ErrEnrollContinues) {
			t.Fatal(err)
		}
		if p := fx.enrollPrompt(t, u, e.ID); p.Data["SendError"] != "" {
			t.Errorf("SendError %v", p.Data["SendError"])
		}
	})
}

func TestEnrollInHungarian(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("kovacs")
	e := fx.begin(t, u)
	a := fx.enrollAttempt(u, e)
	a.Lang = "hu-HU"
	if _, err := fx.f.FinishEnroll(ctx, a, factors.Input{Form: url.Values{"step": {"send"}, "email": {"janos@example.hu"}}}); !errors.Is(err, factors.ErrEnrollContinues) {
		t.Fatal(err)
	}
	m := fx.last(t)
	if m.Lang != "hu" || m.Subject != factortest.Issuer+" – megerősítő kód" || !strings.Contains(m.Text, "Megerősítő kód: "+codeIn(t, m)) {
		t.Errorf("message %+v", m)
	}
}

func TestEnrollRacing(t *testing.T) {
	t.Run("of racing confirmations with the right code exactly one succeeds", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e := fx.begin(t, u)
		fx.finish(t, u, e, url.Values{"step": {"send"}, "email": {"anna@example.org"}})
		code := codeIn(t, fx.last(t))
		row := fx.stored(t, e.ID)
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := *row
				_, err := fx.f.FinishEnroll(ctx, fx.enrollAttempt(u, &r), factors.Input{Form: url.Values{"code": {code}}})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrConflict):
					conflicts.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != 9 {
			t.Errorf("%d wins, %d conflicts", wins.Load(), conflicts.Load())
		}
	})
	t.Run("every wrong code reported is counted", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e := fx.begin(t, u)
		fx.finish(t, u, e, url.Values{"step": {"send"}, "email": {"anna@example.org"}})
		wrong := otherCode(codeIn(t, fx.last(t)))
		row := fx.stored(t, e.ID)
		var reported atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := *row
				_, err := fx.f.FinishEnroll(ctx, fx.enrollAttempt(u, &r), factors.Input{Form: url.Values{"code": {wrong}}})
				if factors.IsWrong(err) {
					reported.Add(1)
				}
			}()
		}
		wg.Wait()
		d, _ := oob.ParseEnrollData(fx.stored(t, e.ID).Data)
		if int(reported.Load()) != d.Setup.Attempts || reported.Load() == 0 {
			t.Errorf("%d reported, %d counted", reported.Load(), d.Setup.Attempts)
		}
	})
}
