package recovery

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/factortest"
	"github.com/eu-health-idp/idp/idp/store"
)

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

// begin starts a set for u and returns it with the codes as shown.
func (fx *fixture) begin(t *testing.T, u *store.User) (*store.Enrollment, []string) {
	t.Helper()
	e, err := fx.f.BeginEnroll(context.Background(), factors.EnrollAttempt{User: u, Now: fx.clock.Now()})
	if err != nil {
		t.Fatalf("BeginEnroll: %v", err)
	}
	p, err := fx.f.EnrollPrompt(context.Background(), factors.EnrollAttempt{User: u, Enrollment: e})
	if err != nil {
		t.Fatalf("EnrollPrompt: %v", err)
	}
	return e, p.Data["Codes"].([]string)
}

// enrol sets up and confirms a set for u.
func (fx *fixture) enrol(t *testing.T, u *store.User) (*store.Enrollment, []string) {
	t.Helper()
	e, codes := fx.begin(t, u)
	if _, err := fx.f.FinishEnroll(context.Background(), factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"saved": {"on"}}}); err != nil {
		t.Fatalf("FinishEnroll: %v", err)
	}
	return e, codes
}

func (fx *fixture) check(t *testing.T, u *store.User, c string) (factors.Result, error) {
	t.Helper()
	a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
	return fx.f.Check(context.Background(), a, factors.Input{Form: url.Values{"code": {c}}})
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
	for name, change := range map[string]func(*factors.Deps){
		"a missing store is refused":  func(d *factors.Deps) { d.Store = nil },
		"a missing sealer is refused": func(d *factors.Deps) { d.Sealer = nil },
		"a missing hasher is refused": func(d *factors.Deps) { d.Codes = nil },
	} {
		t.Run(name, func(t *testing.T) {
			d := d
			change(&d)
			if _, err := New(d); err == nil {
				t.Error("New succeeded")
			}
		})
	}
	t.Run("it describes itself as a backup possession factor", func(t *testing.T) {
		f, _ := New(d)
		p := f.Properties()
		if f.ID() != "recovery" || !p.Backup || len(p.Kinds) != 1 || p.Kinds[0] != factors.Possession || strings.Join(p.AMR, ",") != "otp,recovery" {
			t.Errorf("ID %q, Properties %+v", f.ID(), p)
		}
	})
	t.Run("Start and Prompt show the code page", func(t *testing.T) {
		f, _ := New(d)
		for _, call := range []func(context.Context, factors.Attempt) (factors.Prompt, error){f.Start, f.Prompt} {
			if p, err := call(context.Background(), factors.Attempt{}); err != nil || p.Template != "factor_recovery" {
				t.Errorf("got %+v, %v", p, err)
			}
		}
	})
}

var shown = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)

func TestBeginEnroll(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	e, codes := fx.begin(t, u)
	row := stored(t, fx, e.ID)

	t.Run("it makes ten distinct codes shown as XXXX-XXXX without I, L, O or U", func(t *testing.T) {
		seen := map[string]bool{}
		for _, c := range codes {
			if !shown.MatchString(c) || seen[c] {
				t.Errorf("code %q malformed or repeated", c)
			}
			seen[c] = true
		}
		if len(codes) != 10 {
			t.Errorf("%d codes", len(codes))
		}
	})
	t.Run("it stores a pending enrollment with the codes sealed", func(t *testing.T) {
		if row.Confirmed() || row.Factor != "recovery" || row.UserID != u.ID || row.Data != "" {
			t.Errorf("row %+v", row)
		}
		for _, c := range codes {
			if bytes.Contains(row.Secret, []byte(strings.ReplaceAll(c, "-", ""))) || bytes.Contains(row.Secret, []byte(c)) {
				t.Errorf("code %s stored in the clear", c)
			}
		}
		if _, err := fx.deps.Sealer.Open(row.Secret, []byte("another-id")); err == nil {
			t.Error("the sealed codes open under another id")
		}
	})
	t.Run("a reload shows the same codes", func(t *testing.T) {
		p, err := fx.f.EnrollPrompt(context.Background(), factors.EnrollAttempt{User: u, Enrollment: row})
		if err != nil || strings.Join(p.Data["Codes"].([]string), " ") != strings.Join(codes, " ") || p.Template != "enroll_recovery" || p.Data["Total"] != 10 {
			t.Errorf("got %+v, %v", p, err)
		}
	})
	t.Run("pending codes do not sign in", func(t *testing.T) {
		a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
		a.Enrollments = append(a.Enrollments, *row)
		_, err := fx.f.Check(context.Background(), a, factors.Input{Form: url.Values{"code": {codes[0]}}})
		factortest.AssertMessage(t, err, factors.Wrong, "code")
	})
	t.Run("another person cannot see them", func(t *testing.T) {
		if _, err := fx.f.EnrollPrompt(context.Background(), factors.EnrollAttempt{User: factortest.User("eve"), Enrollment: row}); err == nil {
			t.Error("shown to someone else")
		}
	})
}

func TestFinishEnroll(t *testing.T) {
	ctx := context.Background()
	for _, saved := range []string{"", "off", "yes", "ON"} {
		t.Run("without the box ticked ("+saved+") nothing changes", func(t *testing.T) {
			fx := newFixture(t)
			u := factortest.User("anna")
			e, _ := fx.begin(t, u)
			form := url.Values{}
			if saved != "" {
				form.Set("saved", saved)
			}
			_, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: form})
			if fe := factortest.AssertMessage(t, err, factors.Malformed, "saved"); fe.MessageID != MsgSavedRequired {
				t.Errorf("message %q", fe.MessageID)
			}
			if row := stored(t, fx, e.ID); row.Confirmed() || row.Version != 1 {
				t.Errorf("row changed: %+v", row)
			}
		})
	}

	t.Run("confirming keeps only keyed hashes and proves nothing", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, codes := fx.begin(t, u)
		proof, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"saved": {"on"}}})
		if err != nil {
			t.Fatal(err)
		}
		if proof.Factor != "" || proof.AMR != nil {
			t.Errorf("proof %+v, want zero", proof)
		}
		row := stored(t, fx, e.ID)
		if !row.Confirmed() || !row.ConfirmedAt.Equal(fx.clock.Now()) || row.Secret != nil || !e.Confirmed() {
			t.Errorf("row %+v", row)
		}
		for _, c := range codes {
			plain := strings.ReplaceAll(c, "-", "")
			if strings.Contains(row.Data, plain) || !strings.Contains(row.Data, fx.deps.Codes.Hash(plain)) {
				t.Errorf("code %s: plaintext stored or hash missing", c)
			}
		}
	})

	t.Run("a confirmed set cannot be confirmed again", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, _ := fx.enrol(t, u)
		_, err := fx.f.FinishEnroll(ctx, factors.EnrollAttempt{User: u, Enrollment: e, Now: fx.clock.Now()}, factors.Input{Form: url.Values{"saved": {"on"}}})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("got %v, want ErrConflict", err)
		}
	})
}

func TestEachCodeWorksOnce(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	e, codes := fx.enrol(t, u)
	for i, c := range codes {
		res, err := fx.check(t, u, c)
		if err != nil {
			t.Fatalf("code %d: %v", i, err)
		}
		left := len(codes) - i - 1
		n := res.Notice
		if res.EnrollmentID != e.ID || res.Proof.Factor != "recovery" || strings.Join(res.Proof.AMR, ",") != "otp,recovery" || n == nil ||
			n.Template != "notice_recovery" || n.Data["Remaining"] != left || n.Data["Total"] != 10 ||
			n.Data["Few"] != (left <= 3) || n.Data["None"] != (left == 0) {
			t.Fatalf("code %d: result %+v, notice %+v", i, res, n)
		}
		_, err = fx.check(t, u, c)
		if fe := factortest.AssertMessage(t, err, factors.Wrong, "code"); fe.MessageID != MsgCodeUsed {
			t.Errorf("code %d again: message %q", i, fe.MessageID)
		}
	}
	if got := stored(t, fx, e.ID).LastUsedAt; got == nil || !got.Equal(fx.clock.Now()) {
		t.Errorf("LastUsedAt = %v", got)
	}
}

func TestCodesAreReadAsPeopleTypeThem(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"the shown form is read", "ABCD-2345", "ABCD2345"},
		{"lower case is read", "abcd-2345", "ABCD2345"},
		{"spaces and no dash are read", " ab cd 23 45 ", "ABCD2345"},
		{"an en dash from autocorrect is read", "ABCD–2345", "ABCD2345"},
		{"O is read as zero", "OOOO-OOOO", "00000000"},
		{"I and L are read as one", "iIlL-1111", "11111111"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := normalize(tt.raw); err != nil || got != tt.want {
				t.Errorf("normalize(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
	t.Run("a code typed in lower case with spaces signs in", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		_, codes := fx.enrol(t, u)
		typed := strings.ToLower(strings.ReplaceAll(codes[3], "-", " "))
		if _, err := fx.check(t, u, typed); err != nil {
			t.Error(err)
		}
	})
	t.Run("a code typed with O and I for 0 and 1 signs in", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		_, codes := fx.enrol(t, u)
		for _, c := range codes {
			typed := strings.NewReplacer("0", "O", "1", "l").Replace(c)
			if _, err := fx.check(t, u, typed); err != nil {
				t.Errorf("%q typed as %q: %v", c, typed, err)
			}
		}
	})
}

func TestMalformedCodesChangeNothing(t *testing.T) {
	tests := []struct {
		name, code, msg string
	}{
		{"an empty code asks for the code", "", MsgCodeRequired},
		{"a lone dash asks for the code", " - ", MsgCodeRequired},
		{"seven characters are malformed", "ABCD-234", MsgCodeFormat},
		{"nine characters are malformed", "ABCD-23456", MsgCodeFormat},
		{"U is not in the alphabet", "ABCU-2345", MsgCodeFormat},
		{"a letter with a diacritic is malformed", "ÄBCD-2345", MsgCodeFormat},
		{"punctuation is malformed", "ABCD.2345", MsgCodeFormat},
		{"a thousand characters are malformed", strings.Repeat("A", 1000), MsgCodeFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			u := factortest.User("anna")
			e, _ := fx.enrol(t, u)
			version := stored(t, fx, e.ID).Version
			_, err := fx.check(t, u, tt.code)
			if fe := factortest.AssertMessage(t, err, factors.Malformed, "code"); fe.MessageID != tt.msg {
				t.Errorf("message %q, want %q", fe.MessageID, tt.msg)
			}
			if stored(t, fx, e.ID).Version != version {
				t.Error("a malformed code changed the set")
			}
		})
	}
}

func TestWrongCode(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	e, codes := fx.enrol(t, u)
	wrong := "ZZZZ-ZZZZ"
	for _, c := range codes {
		if c == wrong {
			t.Skip("the random set happens to hold the wrong code")
		}
	}
	_, err := fx.check(t, u, wrong)
	if fe := factortest.AssertMessage(t, err, factors.Wrong, "code"); fe.MessageID != MsgCodeWrong {
		t.Errorf("message %q", fe.MessageID)
	}
	if stored(t, fx, e.ID).Version != 2 {
		t.Error("a wrong code changed the set")
	}
	t.Run("another person's code is wrong too", func(t *testing.T) {
		eve := factortest.User("eve")
		fx.enrol(t, eve)
		_, err := fx.check(t, eve, codes[0])
		factortest.AssertMessage(t, err, factors.Wrong, "code")
	})
}

func TestDamagedSet(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	ctx := context.Background()
	now := fx.clock.Now()
	bad := &store.Enrollment{ID: "bad", UserID: u.ID, Factor: ID, Data: "{not json", ConfirmedAt: &now, CreatedAt: now}
	if err := fx.mem.CreateEnrollment(ctx, bad); err != nil {
		t.Fatal(err)
	}
	t.Run("alone it is a server fault, not a wrong answer", func(t *testing.T) {
		_, err := fx.check(t, u, "ABCD-2345")
		if err == nil || factors.IsWrong(err) || factors.IsMalformed(err) {
			t.Errorf("got %v", err)
		}
	})
	// Two sets exist only between confirming a new set and deleting the
	// old one, but then a guess must still be counted. (Confirming deletes
	// the damaged set, so it is put back.)
	_, codes := fx.enrol(t, u)
	bad.ID = "bad2"
	if err := fx.mem.CreateEnrollment(ctx, bad); err != nil {
		t.Fatal(err)
	}
	t.Run("next to a healthy set a wrong guess is counted", func(t *testing.T) {
		_, err := fx.check(t, u, "ZZZZ-ZZZZ")
		factortest.AssertMessage(t, err, factors.Wrong, "code")
		if _, err := fx.check(t, u, codes[0]); err != nil {
			t.Errorf("the healthy set: %v", err)
		}
	})
}

func TestNewSetReplacesTheOldOne(t *testing.T) {
	fx := newFixture(t)
	u := factortest.User("anna")
	old, oldCodes := fx.enrol(t, u)

	t.Run("a new set not yet confirmed leaves the old one working", func(t *testing.T) {
		fx.begin(t, u)
		if _, err := fx.check(t, u, oldCodes[0]); err != nil {
			t.Error(err)
		}
	})
	fresh, newCodes := fx.enrol(t, u)
	t.Run("after confirmation the old codes are refused", func(t *testing.T) {
		_, err := fx.check(t, u, oldCodes[1])
		factortest.AssertMessage(t, err, factors.Wrong, "code")
		if _, err := fx.mem.EnrollmentByID(context.Background(), old.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old set still stored: %v", err)
		}
	})
	t.Run("the new codes work and the person has one set", func(t *testing.T) {
		res, err := fx.check(t, u, newCodes[0])
		if err != nil || res.EnrollmentID != fresh.ID || res.Notice.Data["Remaining"] != 9 {
			t.Errorf("got %+v, %v", res, err)
		}
		all, _ := fx.mem.ListEnrollments(context.Background(), u.ID)
		if len(all) != 1 {
			t.Errorf("%d recovery enrollments, want 1", len(all))
		}
	})
	t.Run("a stale attempt naming the replaced set finds nothing", func(t *testing.T) {
		a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
		a.Enrollments = []store.Enrollment{*old}
		_, err := fx.f.Check(context.Background(), a, factors.Input{Form: url.Values{"code": {oldCodes[2]}}})
		factortest.AssertMessage(t, err, factors.Wrong, "code")
	})
}

func TestConcurrentUse(t *testing.T) {
	t.Run("one code used by two requests at once succeeds once", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		_, codes := fx.enrol(t, u)
		for round, c := range codes {
			a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
			errs := race(2, func(int) error {
				_, err := fx.f.Check(context.Background(), a, factors.Input{Form: url.Values{"code": {c}}})
				return err
			})
			ok, used := 0, 0
			for _, err := range errs {
				var fe *factors.Error
				switch {
				case err == nil:
					ok++
				case errors.As(err, &fe) && fe.Kind == factors.Wrong && fe.MessageID == MsgCodeUsed:
					used++
				default:
					t.Errorf("round %d: %v", round, err)
				}
			}
			if ok != 1 || used != 1 {
				t.Fatalf("round %d: %d successes, %d already used", round, ok, used)
			}
		}
	})
	t.Run("different codes used at once all succeed", func(t *testing.T) {
		fx := newFixture(t)
		u := factortest.User("anna")
		e, codes := fx.enrol(t, u)
		a := factortest.Attempt(t, fx.mem, fx.f, u, fx.clock.Now())
		errs := race(6, func(i int) error {
			_, err := fx.f.Check(context.Background(), a, factors.Input{Form: url.Values{"code": {codes[i]}}})
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("code %d: %v", i, err)
			}
		}
		res, err := fx.check(t, u, codes[9])
		if err != nil {
			t.Fatal(err)
		}
		if res.EnrollmentID != e.ID || res.Notice.Data["Remaining"] != 3 {
			t.Errorf("after 7 codes: %+v", res.Notice)
		}
	})
}

// race runs n calls of fn at the same moment and returns their errors.
func race(n int, fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}
