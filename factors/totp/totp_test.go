package totp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/factortest"
	"github.com/eu-health-idp/idp/idp/store"
)

const step = 30 * time.Second

type fixture struct {
	f     *Factor
	deps  factors.Deps
	mem   *factortest.Memory
	clock *factortest.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d, mem := factortest.NewDeps(t)
	f, err := New(d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{f: f.(*Factor), deps: d, mem: mem, clock: factortest.NewClock(factortest.Start)}
}

// begin starts an enrollment for u and returns it with its base32 seed, as
// the setup page shows it.
func (fx *fixture) begin(t *testing.T, u *store.User) (*store.Enrollment, string) {
	t.Helper()
	e, err := fx.f.BeginEnroll(context.Background(), factors.EnrollAttempt{User: u, Now: fx.clock.Now()})
	if err != nil {
		t.Fatalf("BeginEnroll: %v", err)
	}
	p, err := fx.f.EnrollPrompt(context.Background(), factors.EnrollAttempt{User: u, Enrollment: e})
	if err != nil {
		t.Fatalf("EnrollPrompt: %v", err)
	}
	return e, strings.ReplaceAll(p.Data["Key"].(string), " ", "")
}

// enrol sets up and activates a device for u at the clock's time, and
// moves the clock past the window of the activation code, which is used.
func (fx *fixture) enrol(t *testing.T, u *store.User, name string) (*store.Enrollment, string) {
	t.Helper()
	e, seed := fx.begin(t, u)
	form := url.Values{"code": {code(t, seed, fx.clock.Now())}, "name": {name}}
	if _, err := fx.f.FinishEnroll(context.Background(), factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: form}); err != nil {
		t.Fatalf("FinishEnroll: %v", err)
	}
	fx.clock.Advance(3 * step)
	return e, seed
}

func (fx *fixture) check(t *testing.T, u *store.User, c string) (factors.Result, error) {
	t.Helper()
	a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
	return fx.f.Check(context.Background(), a, factors.Input{Form: url.Values{"code": {c}}})
}

func code(t *testing.T, seed string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(seed, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatalf("GenerateCodeCustom: %v", err)
	}
	return c
}

func stored(t *testing.T, fx *fixture, id string) *store.Enrollment {
	t.Helper()
	e, err := fx.mem.EnrollmentByID(context.Background(), id)
	if err != nil {
		t.Fatalf("EnrollmentByID: %v", err)
	}
	return e
}

func TestNew(t *testing.T) {
	d, _ := factortest.NewDeps(t)
	tests := []struct {
		name   string
		change func(*factors.Deps)
	}{
		{"a missing store is refused", func(d *factors.Deps) { d.Store = nil }},
		{"a missing sealer is refused", func(d *factors.Deps) { d.Sealer = nil }},
		{"a blank issuer is refused", func(d *factors.Deps) { d.Issuer = "  " }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := d
			tt.change(&d)
			if _, err := New(d); err == nil {
				t.Error("New succeeded")
			}
		})
	}
	t.Run("it describes itself as a possession factor with amr otp", func(t *testing.T) {
		f, err := New(d)
		if err != nil {
			t.Fatal(err)
		}
		p := f.Properties()
		if f.ID() != "totp" || len(p.Kinds) != 1 || p.Kinds[0] != factors.Possession || strings.Join(p.AMR, ",") != "otp" || p.Backup || p.PhishingResistant {
			t.Errorf("ID %q, Properties %+v", f.ID(), p)
		}
	})
}

func TestPrompt(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
	for name, call := range map[string]func(context.Context, factors.Attempt) (factors.Prompt, error){
		"Start": fx.f.Start, "Prompt": fx.f.Prompt,
	} {
		t.Run(name+" shows the code page and stores nothing", func(t *testing.T) {
			p, err := call(context.Background(), a)
			if err != nil || p.Template != "factor_totp" || p.Data["Issuer"] != factortest.Issuer {
				t.Errorf("got %+v, %v", p, err)
			}
			if fx.mem.UseOnceCalls() != 0 {
				t.Error("a code was marked used")
			}
		})
	}
}

func TestBeginEnroll(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna.kowalska")
	e, seed := fx.begin(t, u)
	row := stored(t, fx, e.ID)

	t.Run("it stores a pending enrollment of the person", func(t *testing.T) {
		if row.Confirmed() || row.UserID != u.ID || row.Factor != "totp" || row.Version != 1 || !row.CreatedAt.Equal(fx.clock.Now()) {
			t.Errorf("row %+v", row)
		}
	})
	t.Run("it records the algorithm, digits and period", func(t *testing.T) {
		var p map[string]any
		if err := json.Unmarshal([]byte(row.Data), &p); err != nil {
			t.Fatal(err)
		}
		if p["algorithm"] != "SHA1" || p["digits"] != 6.0 || p["period"] != 30.0 {
			t.Errorf("Data = %s", row.Data)
		}
	})
	t.Run("the seed has 160 bits", func(t *testing.T) {
		raw, err := b32.DecodeString(seed)
		if err != nil || len(raw) != 20 {
			t.Errorf("seed %q: %d bytes, %v", seed, len(raw), err)
		}
	})
	t.Run("the stored secret contains the seed neither as text nor as bytes", func(t *testing.T) {
		raw, _ := b32.DecodeString(seed)
		if bytes.Contains(row.Secret, []byte(seed)) || bytes.Contains(row.Secret, raw) {
			t.Error("seed stored in the clear")
		}
	})
	t.Run("the stored secret opens only under its own enrollment id", func(t *testing.T) {
		raw, _ := b32.DecodeString(seed)
		got, err := fx.deps.Sealer.Open(row.Secret, []byte(row.ID))
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("own id: %v", err)
		}
		other, _ := fx.begin(t, u)
		if _, err := fx.deps.Sealer.Open(row.Secret, []byte(other.ID)); err == nil {
			t.Error("opened under another enrollment's id")
		}
	})
	t.Run("every enrollment gets its own id and seed", func(t *testing.T) {
		e2, seed2 := fx.begin(t, u)
		if e2.ID == e.ID || seed2 == seed {
			t.Error("id or seed repeated")
		}
	})
}

var keyFormat = regexp.MustCompile(`^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$`)

func TestEnrollPrompt(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("jan")
	e, seed := fx.begin(t, u)
	p, err := fx.f.EnrollPrompt(context.Background(), factors.EnrollAttempt{User: u, Enrollment: e})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("it shows the setup page", func(t *testing.T) {
		if p.Template != "enroll_totp" {
			t.Errorf("template %q", p.Template)
		}
	})
	t.Run("the QR code is an inline PNG image", func(t *testing.T) {
		qr, ok := p.Data["QR"].(template.URL)
		if !ok || !strings.HasPrefix(string(qr), "data:image/png;base64,") {
			t.Fatalf("QR = %.40q", qr)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(qr), "data:image/png;base64,"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil || img.Bounds().Dx() < 200 {
			t.Errorf("png: %v", err)
		}
	})
	t.Run("the key is shown in groups of four", func(t *testing.T) {
		if k := p.Data["Key"].(string); !keyFormat.MatchString(k) {
			t.Errorf("Key = %q", k)
		}
	})
	t.Run("the app link carries issuer, account and parameters", func(t *testing.T) {
		link, _ := p.Data["AppURL"].(template.URL)
		k, err := otp.NewKeyFromURL(string(link))
		if err != nil {
			t.Fatal(err)
		}
		if k.Type() != "totp" || k.Issuer() != factortest.Issuer || k.AccountName() != "jan" || k.Secret() != seed ||
			k.Period() != 30 || k.Digits() != otp.DigitsSix || k.Algorithm() != otp.AlgorithmSHA1 {
			t.Errorf("key %s", k)
		}
		if p.Data["Account"] != "jan" || p.Data["Issuer"] != factortest.Issuer {
			t.Errorf("Account %v Issuer %v", p.Data["Account"], p.Data["Issuer"])
		}
	})
	t.Run("a reload shows the same key", func(t *testing.T) {
		again, err := fx.f.EnrollPrompt(context.Background(), factors.EnrollAttempt{User: u, Enrollment: stored(t, fx, e.ID)})
		if err != nil || again.Data["Key"] != p.Data["Key"] {
			t.Errorf("reload: %v, %v", again.Data["Key"], err)
		}
	})
	t.Run("another person's enrollment is refused", func(t *testing.T) {
		if _, err := fx.f.EnrollPrompt(context.Background(), factors.EnrollAttempt{User: factortest.User("eve"), Enrollment: e}); err == nil {
			t.Error("shown to someone else")
		}
	})
}

func TestFinishEnroll(t *testing.T) {
	ctx := context.Background()

	t.Run("the current code activates the enrollment, names it and proves possession", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, seed := fx.begin(t, u)
		now := fx.clock.Now()
		proof, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: now}, factors.Input{Form: url.Values{"code": {code(t, seed, now)}, "name": {"  Work phone "}}})
		if err != nil {
			t.Fatal(err)
		}
		if proof.Factor != "totp" || strings.Join(proof.AMR, ",") != "otp" || strings.Join(proof.Kinds, ",") != "possession" || !proof.At.Equal(now) {
			t.Errorf("proof %+v", proof)
		}
		row := stored(t, fx, e.ID)
		if !row.Confirmed() || !row.ConfirmedAt.Equal(now) || row.Name != "Work phone" || row.Version != 2 || e.Version != 2 {
			t.Errorf("row %+v", row)
		}
		if !e.Confirmed() {
			t.Error("the caller's enrollment was not updated")
		}
	})

	t.Run("the activation code cannot sign in again", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, seed := fx.begin(t, u)
		c := code(t, seed, fx.clock.Now())
		if _, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"code": {c}}}); err != nil {
			t.Fatal(err)
		}
		_, err := fx.check(t, u, c)
		if fe := factortest.AssertMessage(t, err, factors.Wrong, "code"); fe.MessageID != MsgCodeUsed {
			t.Errorf("message %q", fe.MessageID)
		}
	})

	t.Run("a wrong code is counted and leaves the enrollment pending", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, seed := fx.begin(t, u)
		wrong := code(t, seed, fx.clock.Now().Add(-5*step))
		_, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"code": {wrong}}})
		factortest.AssertMessage(t, err, factors.Wrong, "code")
		if stored(t, fx, e.ID).Confirmed() || e.Confirmed() {
			t.Error("activated by a wrong code")
		}
	})

	names := []struct {
		name, in, want, msg string
	}{
		{"an empty name becomes the default", "", DefaultName, ""},
		{"blanks around a name are trimmed", "\t Tablet \n", "Tablet", ""},
		{"64 characters are allowed", strings.Repeat("ż", 64), strings.Repeat("ż", 64), ""},
		{"65 characters are too long", strings.Repeat("ż", 65), "", MsgNameTooLong},
		{"a control character is refused", "Work\x00phone", "", MsgNameInvalid},
		{"a line break inside is refused", "Work\nphone", "", MsgNameInvalid},
		{"a right-to-left override is refused", "Phone\u202Egnp.exe", "", MsgNameInvalid},
		{"invalid UTF-8 is refused", "Phone\xff", "", MsgNameInvalid},
	}
	for _, tt := range names {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			u := factortest.User("anna")
			e, seed := fx.begin(t, u)
			form := url.Values{"code": {code(t, seed, fx.clock.Now())}, "name": {tt.in}}
			_, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: form})
			if tt.msg == "" {
				if err != nil || stored(t, fx, e.ID).Name != tt.want {
					t.Errorf("err %v, name %q", err, stored(t, fx, e.ID).Name)
				}
				return
			}
			if fe := factortest.AssertMessage(t, err, factors.Malformed, "name"); fe.MessageID != tt.msg {
				t.Errorf("message %q, want %q", fe.MessageID, tt.msg)
			}
			if stored(t, fx, e.ID).Confirmed() || fx.mem.UseOnceCalls() != 0 {
				t.Error("a malformed name changed something")
			}
		})
	}

	t.Run("a malformed code changes nothing", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, _ := fx.begin(t, u)
		_, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"code": {"12a456"}}})
		factortest.AssertMessage(t, err, factors.Malformed, "code")
		if stored(t, fx, e.ID).Version != 1 || fx.mem.UseOnceCalls() != 0 {
			t.Error("changed")
		}
	})

	t.Run("an active enrollment cannot be finished again", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, seed := fx.enrol(t, u, "")
		_, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"code": {code(t, seed, fx.clock.Now())}}})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("got %v, want ErrConflict", err)
		}
	})

	t.Run("a stale copy of the pending enrollment (double submit) fails with a conflict", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, seed := fx.begin(t, u)
		stale := *e
		if _, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"code": {code(t, seed, fx.clock.Now())}}}); err != nil {
			t.Fatal(err)
		}
		fx.clock.Advance(step)
		_, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: &stale, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"code": {code(t, seed, fx.clock.Now())}}})
		if !errors.Is(err, store.ErrConflict) || stale.Confirmed() {
			t.Errorf("got %v, want ErrConflict and the copy untouched", err)
		}
	})

	t.Run("another person's enrollment is refused", func(t *testing.T) {
		fx := newFixture(t)
		e, seed := fx.begin(t, factortest.User("anna"))
		eve := factortest.User("eve")
		if _, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: eve, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"code": {code(t, seed, fx.clock.Now())}}}); err == nil || factors.IsWrong(err) {
			t.Errorf("got %v", err)
		}
	})
}

func TestCheck(t *testing.T) {
	t.Run("a pending enrollment refuses every code", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, seed := fx.begin(t, u)
		// Even when a caller hands it over by mistake.
		a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
		a.Enrollments = append(a.Enrollments, *stored(t, fx, e.ID))
		_, err := fx.f.Check(context.Background(), a, factors.Input{Form: url.Values{"code": {code(t, seed, fx.clock.Now())}}})
		factortest.AssertMessage(t, err, factors.Wrong, "code")
		if fx.mem.UseOnceCalls() != 0 {
			t.Error("a code of a pending enrollment was marked used")
		}
	})

	window := []struct {
		name   string
		offset int
		ok     bool
	}{
		{"the code of two steps ago is rejected", -2, false},
		{"the code of the previous step is accepted", -1, true},
		{"the current code is accepted", 0, true},
		{"the code of the next step is accepted", 1, true},
		{"the code of two steps ahead is rejected", 2, false},
	}
	for _, tt := range window {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			u := factortest.User("anna")
			e, seed := fx.enrol(t, u, "Phone")
			now := fx.clock.Now()
			res, err := fx.check(t, u, code(t, seed, now.Add(time.Duration(tt.offset)*step)))
			if !tt.ok {
				if fe := factortest.AssertMessage(t, err, factors.Wrong, "code"); fe.MessageID != MsgCodeWrong {
					t.Errorf("message %q", fe.MessageID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.EnrollmentID != e.ID || res.Proof.Factor != "totp" || !res.Proof.At.Equal(now) || res.Notice != nil {
				t.Errorf("result %+v", res)
			}
		})
	}

	t.Run("the same code is accepted once", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		_, seed := fx.enrol(t, u, "")
		c := code(t, seed, fx.clock.Now())
		if _, err := fx.check(t, u, c); err != nil {
			t.Fatal(err)
		}
		fx.clock.Advance(10 * time.Second) // still within the window
		_, err := fx.check(t, u, c)
		if fe := factortest.AssertMessage(t, err, factors.Wrong, "code"); fe.MessageID != MsgCodeUsed {
			t.Errorf("message %q", fe.MessageID)
		}
		fx.clock.Advance(step)
		if _, err := fx.check(t, u, code(t, seed, fx.clock.Now())); err != nil {
			t.Errorf("the next code: %v", err)
		}
	})

	t.Run("a code used in the previous step stays used while the window lasts", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		_, seed := fx.enrol(t, u, "")
		c := code(t, seed, fx.clock.Now().Add(step)) // typed on a phone one step ahead
		if _, err := fx.check(t, u, c); err != nil {
			t.Fatal(err)
		}
		fx.clock.Advance(2 * step) // the code's step is now the previous one
		_, err := fx.check(t, u, c)
		factortest.AssertMessage(t, err, factors.Wrong, "code")
	})

	t.Run("it records when the device was last used", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, seed := fx.enrol(t, u, "")
		if _, err := fx.check(t, u, code(t, seed, fx.clock.Now())); err != nil {
			t.Fatal(err)
		}
		if got := stored(t, fx, e.ID).LastUsedAt; got == nil || !got.Equal(fx.clock.Now()) {
			t.Errorf("LastUsedAt = %v", got)
		}
	})
}

func TestTwoDevicesBothWork(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	phone, phoneSeed := fx.enrol(t, u, "Phone")
	tablet, tabletSeed := fx.enrol(t, u, "Tablet")
	if len(factortest.Confirmed(t, fx.mem, u.ID, ID)) != 2 {
		t.Fatal("two devices expected")
	}
	for _, d := range []struct {
		name, id, seed string
	}{{"the phone", phone.ID, phoneSeed}, {"the tablet", tablet.ID, tabletSeed}} {
		t.Run(d.name+" signs in", func(t *testing.T) {
			fx.clock.Advance(step)
			res, err := fx.check(t, u, code(t, d.seed, fx.clock.Now()))
			if err != nil || res.EnrollmentID != d.id {
				t.Errorf("got %+v, %v", res, err)
			}
		})
	}
}

func TestConcurrentUseOfOneCodeSucceedsOnce(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	_, seed := fx.enrol(t, u, "")
	for round := range 25 {
		fx.clock.Advance(step)
		c := code(t, seed, fx.clock.Now())
		a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
		var (
			wg           sync.WaitGroup
			start        = make(chan struct{})
			errs         = make([]error, 2)
			successes    int
			alreadyUseds int
		)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = fx.f.Check(context.Background(), a, factors.Input{Form: url.Values{"code": {c}}})
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			var fe *factors.Error
			switch {
			case err == nil:
				successes++
			case errors.As(err, &fe) && fe.Kind == factors.Wrong && fe.MessageID == MsgCodeUsed:
				alreadyUseds++
			default:
				t.Errorf("round %d: unexpected %v", round, err)
			}
		}
		if successes != 1 || alreadyUseds != 1 {
			t.Fatalf("round %d: %d successes, %d already used; want one of each", round, successes, alreadyUseds)
		}
	}
}

func TestMalformedCodesChangeNothing(t *testing.T) {
	tests := []struct {
		name, code, msg string
	}{
		{"an empty code asks for the code", "", MsgCodeRequired},
		{"only blanks ask for the code", "   ", MsgCodeRequired},
		{"letters are malformed", "12a4b6", MsgCodeFormat},
		{"five digits are malformed", "12345", MsgCodeFormat},
		{"seven digits are malformed", "1234567", MsgCodeFormat},
		{"a thousand characters are malformed", strings.Repeat("1", 1000), MsgCodeFormat},
		{"Arabic-Indic digits are malformed", "١٢٣٤٥٦", MsgCodeFormat},
		{"full-width digits are malformed", "１２３４５６", MsgCodeFormat},
		{"a dash is malformed", "123-456", MsgCodeFormat},
		{"a sign is malformed", "+12345", MsgCodeFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			u := factortest.User("anna")
			e, _ := fx.enrol(t, u, "")
			calls, version := fx.mem.UseOnceCalls(), stored(t, fx, e.ID).Version
			_, err := fx.check(t, u, tt.code)
			if fe := factortest.AssertMessage(t, err, factors.Malformed, "code"); fe.MessageID != tt.msg {
				t.Errorf("message %q, want %q", fe.MessageID, tt.msg)
			}
			if fx.mem.UseOnceCalls() != calls || stored(t, fx, e.ID).Version != version {
				t.Error("a malformed code changed something")
			}
		})
	}
	t.Run("spaces inside a code are ignored", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		_, seed := fx.enrol(t, u, "")
		c := code(t, seed, fx.clock.Now())
		if _, err := fx.check(t, u, " "+c[:3]+" "+c[3:]+" "); err != nil {
			t.Error(err)
		}
	})
}

func TestSealedSeedIsBoundToItsRow(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	a, seedA := fx.enrol(t, u, "A")
	b, _ := fx.enrol(t, u, "B")
	ctx := context.Background()
	// Someone with write access copies A's sealed seed into B's row.
	rowB := stored(t, fx, b.ID)
	rowB.Secret = stored(t, fx, a.ID).Secret
	if err := fx.mem.UpdateEnrollment(ctx, rowB); err != nil {
		t.Fatal(err)
	}
	if err := fx.mem.DeleteEnrollment(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	t.Run("the copied seed does not open in the other row", func(t *testing.T) {
		_, err := fx.check(t, u, code(t, seedA, fx.clock.Now()))
		if err == nil || factors.IsWrong(err) || factors.IsMalformed(err) {
			t.Errorf("got %v, want an internal error", err)
		}
	})
	t.Run("next to a healthy device a damaged one still lets guesses be counted", func(t *testing.T) {
		c, seedC := fx.enrol(t, u, "C")
		_, err := fx.check(t, u, code(t, seedC, fx.clock.Now().Add(-10*step)))
		factortest.AssertMessage(t, err, factors.Wrong, "code")
		res, err := fx.check(t, u, code(t, seedC, fx.clock.Now()))
		if err != nil || res.EnrollmentID != c.ID {
			t.Errorf("the healthy device: %+v, %v", res, err)
		}
	})
}

// flakyStore fails or races enrollment updates, to show that recording the
// last use is bookkeeping that never fails a login.
type flakyStore struct {
	*factortest.Memory
	mu        sync.Mutex
	conflicts int  // updates to answer with a concurrent change first
	broken    bool // every update fails
}

func (s *flakyStore) UpdateEnrollment(ctx context.Context, e *store.Enrollment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return errors.New("database is down")
	}
	if s.conflicts > 0 {
		s.conflicts--
		cur, err := s.Memory.EnrollmentByID(ctx, e.ID)
		if err != nil {
			return err
		}
		if err := s.Memory.UpdateEnrollment(ctx, cur); err != nil {
			return err
		}
	}
	return s.Memory.UpdateEnrollment(ctx, e)
}

func TestLastUseIsBookkeeping(t *testing.T) {
	tests := []struct {
		name      string
		conflicts int
		broken    bool
		recorded  bool
	}{
		{"a concurrent update is retried", 2, false, true},
		{"endless conflicts give up without failing the login", 100, false, false},
		{"a failing database does not fail the login", 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			u := factortest.User("anna")
			e, seed := fx.enrol(t, u, "")
			fs := &flakyStore{Memory: fx.mem}
			d := fx.deps
			d.Store = fs
			f, _ := New(d)
			fs.conflicts, fs.broken = tt.conflicts, tt.broken
			a := factortest.Attempt(t, fx.mem, f, u, fx.clock.Now())
			res, err := f.Check(context.Background(), a, factors.Input{Form: url.Values{"code": {code(t, seed, fx.clock.Now())}}})
			if err != nil || res.EnrollmentID != e.ID {
				t.Fatalf("got %+v, %v", res, err)
			}
			got := stored(t, fx, e.ID).LastUsedAt
			if recorded := got != nil && got.Equal(fx.clock.Now()); recorded != tt.recorded {
				t.Errorf("LastUsedAt = %v, recorded %v, want %v", got, recorded, tt.recorded)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	for in, want := range map[string]string{"": "", "ABC": "ABC", "ABCD": "ABCD", "ABCDE": "ABCD E", "ABCDEFGH": "ABCD EFGH"} {
		t.Run(fmt.Sprintf("%q is grouped as %q", in, want), func(t *testing.T) {
			if got := groups(in, 4); got != want {
				t.Errorf("got %q", got)
			}
		})
	}
}
