// Package voice is the voice-call factor of seed 003 (Caresharing): the
// login page shows a few digits, the server calls the person's registered
// phone (a landline or a mobile), and the person types the digits on the
// phone's keypad. What proves possession is answering that phone; the
// digits are not a secret from whoever sits at the screen, they tie the
// call to this login, so a call answered by reflex ("press 1") does not
// approve someone else's login.
//
// The digits come from crypto/rand, one per keypad press, and live in the
// challenge (or, during set-up, the pending enrollment) as a keyed hash
// next to the history of calls placed. The voice transport's callback
// hands the typed digits to Keypress with the call's reference; the first
// entry of a call decides, and later ones for that call are refused. That
// rule is a compare-and-swap on the stored state, so two callbacks racing
// (a provider retrying) record one entry. A wrong entry is counted against
// the challenge by Keypress itself; the page learns the outcome through
// Status (polling) or by posting its form, and Check turns a correct entry
// into the proof.
//
// Calls are capped per challenge and set-up (VoiceSettings.CallsPer10Min),
// and a new call waits until the previous one was answered wrongly, timed
// out, failed, or 30 seconds passed. Per-destination, per-account and per-IP
// limits live in the notify Limit wrapper.
package voice

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// ID is the factor id, in enrollments, challenges, proofs, call references
// and templates.
const ID = "voice"

// Message ids of the errors the factor returns (locales/voice.*.json).
// Failed deliveries use notify's ids (notify.MessageID) and refused
// numbers phone's (phone.Error).
const (
	MsgNotYet        = "voice.error.not_yet"        // the call waits for the keypad
	MsgDigitsWrong   = "voice.error.digits_wrong"   // the entry of the last call was wrong
	MsgNoEntry       = "voice.error.no_entry"       // the last call timed out without an entry
	MsgWait          = "voice.error.wait"           // a call is under way, too early to call again
	MsgTooManyCalls  = "voice.error.too_many_calls" // CallsPer10Min reached
	MsgUnknownNumber = "voice.error.unknown_number" // "to" is not one of the person's numbers
	MsgNumberKnown   = "voice.error.number_known"   // set-up of a number already confirmed
	MsgTooManyWrong  = "voice.error.too_many_wrong" // set-up: too many wrong entries
	MsgNoNumber      = "voice.error.no_number"      // set-up: no number entered yet
)

// Form fields the pages post.
const (
	FieldTo      = "to"      // Resend: the enrollment id of the number to call
	FieldCountry = "country" // set-up: ISO region chosen in the selector
	FieldPhone   = "phone"   // set-up: the number as typed
	FieldStep    = "step"    // set-up: one of the Step* values
)

// Set-up steps (the form field "step").
const (
	StepVerify = "verify" // store the number typed and call it
	StepCheck  = "check"  // "I entered the digits": confirm after a correct entry
	StepCall   = "call"   // call the number again, with new digits
	StepChange = "change" // forget the number and show the number form again
)

const (
	defaultDigits        = 2
	maxDigits            = 8
	defaultCallsPer10Min = 3
	defaultCallTimeout   = 90 * time.Second
	// callWindow is the window CallsPer10Min counts calls in.
	callWindow = 10 * time.Minute
	// cooldown is how long a call that is ringing (or was answered) holds
	// back the next one to the same destination, so a double click or an
	// impatient reload does not ring the phone twice.
	cooldown = 30 * time.Second
	// maxSetupWrong bounds the wrong entries of one set-up: the person at
	// the screen sees the digits, so many wrong entries mean someone else
	// is at that phone.
	maxSetupWrong = 5
	// casRetries bounds how often a compare-and-swap is retried after a
	// concurrent update: each retry re-reads the state and decides again.
	casRetries = 5
	// maxKeypadInput bounds the digits a callback may hand us.
	maxKeypadInput = 32
)

// The states of one call.
const (
	stateCalling   = "calling"   // placed, waiting for the keypad
	stateAnswered  = "answered"  // the right digits were typed
	stateWrong     = "wrong"     // other digits were typed
	stateFailed    = "failed"    // the call could not be placed
	stateCancelled = "cancelled" // set-up: the number was changed while it rang
	stateEnded     = "ended"     // the call ended (busy, not answered, hung up) before an entry
)

// The phases a page shows: the state of the latest call, with a call
// that waited longer than CallTimeout as phaseTimeout and no call at all
// as phaseNone.
const (
	phaseNone    = ""
	phaseTimeout = "timeout"
)

// call is one call placed (or tried) for a challenge or a set-up.
type call struct {
	Ref   string    `json:"ref"`
	At    time.Time `json:"at"`
	State string    `json:"state"`
	// To is who was called: the enrollment id at login, the E.164 number
	// during set-up. Calling another destination skips the cooldown.
	To string `json:"to"`
}

// calls are the calls of the last callWindow (and always the latest one),
// oldest first.
type calls []call

func (cs calls) latest() *call {
	if len(cs) == 0 {
		return nil
	}
	return &cs[len(cs)-1]
}

// recent counts the calls placed or tried within callWindow before now.
func (cs calls) recent(now time.Time) int {
	n := 0
	for _, c := range cs {
		if now.Sub(c.At) < callWindow {
			n++
		}
	}
	return n
}

// add appends c and drops the calls that no longer count, so the history
// a pending set-up carries for a day stays small.
func (cs calls) add(c call) calls {
	kept := slices.DeleteFunc(slices.Clone(cs), func(o call) bool { return c.At.Sub(o.At) >= callWindow })
	return append(kept, c)
}

// challengeData is the challenge's Data.
type challengeData struct {
	// Enrollment is the number called last (an enrollment id); Masked is
	// how the page shows it.
	Enrollment string `json:"enrollment"`
	Masked     string `json:"masked"`
	// Digits are the ones the page shows for the latest call. They are no
	// secret from the person at the screen; the challenge's CodeHash is
	// what an entry is compared with.
	Digits string `json:"digits"`
	// Lang is the language the latest call speaks, for the reply.
	Lang string `json:"lang"`
	// N numbers the calls, for unique references.
	N     int   `json:"n"`
	Calls calls `json:"calls"`
	// Error is the message id of the latest call's failed delivery.
	Error string `json:"error,omitempty"`
}

var (
	_ factors.Factor    = (*Factor)(nil)
	_ factors.Enroller  = (*Factor)(nil)
	_ factors.Resender  = (*Factor)(nil)
	_ factors.Poller    = (*Factor)(nil)
	_ factors.Keypad    = (*Factor)(nil)
	_ factors.CallEnder = (*Factor)(nil)
)

// Factor is the voice-call factor. It is safe for concurrent use.
type Factor struct {
	store    factors.Store
	codes    *security.SecretHasher
	issuer   string
	notify   notify.Sender // nil: no call can be placed (MsgUnavailable)
	messages *i18n.Bundle
	phones   *phone.Policy
	digits   int
	perTen   int
	timeout  time.Duration
}

// New builds the factor. Deps.Notify may be nil (no voice transport
// configured): the factor then shows "could not call" instead of failing
// the server's start.
func New(d factors.Deps) (factors.Factor, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("voice: no store")
	case d.Codes == nil:
		return nil, errors.New("voice: no code hasher")
	case d.Messages == nil:
		return nil, errors.New("voice: no message catalogs for the spoken text")
	case d.Phones == nil:
		return nil, errors.New("voice: no phone number policy")
	case d.Voice.Digits < 0 || d.Voice.Digits > maxDigits:
		return nil, fmt.Errorf("voice: %d digits: use 1 to %d (0 for the default %d)", d.Voice.Digits, maxDigits, defaultDigits)
	case d.Voice.CallsPer10Min < 0 || d.Voice.CallTimeout < 0:
		return nil, errors.New("voice: negative call limits")
	}
	f := &Factor{
		store: d.Store, codes: d.Codes, issuer: strings.TrimSpace(d.Issuer), notify: d.Notify,
		messages: d.Messages, phones: d.Phones,
		digits: d.Voice.Digits, perTen: d.Voice.CallsPer10Min, timeout: d.Voice.CallTimeout,
	}
	if f.digits == 0 {
		f.digits = defaultDigits
	}
	if f.perTen == 0 {
		f.perTen = defaultCallsPer10Min
	}
	if f.timeout == 0 {
		f.timeout = defaultCallTimeout
	}
	return f, nil
}

// ID returns "voice".
func (f *Factor) ID() string { return ID }

// Properties: something you have (the phone), amr "tel", a restricted
// authenticator in NIST's terms (calls can be redirected).
func (f *Factor) Properties() factors.Properties {
	return factors.Properties{
		Kinds: []factors.Kind{factors.Possession}, AMR: []string{"tel"}, Channel: "voice", Restricted: true,
	}
}

// newDigits returns n uniformly random decimal digits.
func newDigits(n int) string {
	ten := big.NewInt(10)
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			panic("voice: crypto/rand: " + err.Error()) // never happens since Go 1.24
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

// callRef is the reference of call n: kind "c" for a challenge, "e" for a
// set-up, so Keypress knows which row to read.
func callRef(kind, id string, n int) string {
	return ID + "." + kind + "." + id + "." + strconv.Itoa(n)
}

// parseRef splits a reference made by callRef. The id may itself contain
// dots; the number is after the last one.
func parseRef(ref string) (kind, id string, ok bool) {
	rest, found := strings.CutPrefix(ref, ID+".")
	if !found {
		return "", "", false
	}
	kind, rest, found = strings.Cut(rest, ".")
	if !found || (kind != "c" && kind != "e") {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return "", "", false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil || n < 1 || strconv.Itoa(n) != rest[i+1:] {
		return "", "", false
	}
	return kind, rest[:i], true
}

// phase is what the latest call of cs is at now, as a page shows it.
func (f *Factor) phase(cs calls, now time.Time) string {
	c := cs.latest()
	switch {
	case c == nil || c.State == stateCancelled:
		return phaseNone
	case c.State == stateCalling && !now.Before(c.At.Add(f.timeout)), c.State == stateEnded:
		// A call that ended without an entry is what a timeout is, only
		// known sooner.
		return phaseTimeout
	}
	return c.State
}

// waiting reports whether the latest call still waits for the keypad.
func (f *Factor) waiting(c *call, now time.Time) bool {
	return c != nil && c.State == stateCalling && now.Before(c.At.Add(f.timeout))
}

// mayCall refuses a new call to destination to while the cap is reached
// or the latest call to the same destination holds back the next one.
func (f *Factor) mayCall(cs calls, to string, now time.Time) *factors.Error {
	if cs.recent(now) >= f.perTen {
		return &factors.Error{Kind: factors.Malformed, MessageID: MsgTooManyCalls}
	}
	last := cs.latest()
	if last == nil || last.To != to || !now.Before(last.At.Add(cooldown)) {
		return nil
	}
	if f.waiting(last, now) || last.State == stateAnswered {
		return &factors.Error{Kind: factors.Malformed, MessageID: MsgWait}
	}
	return nil
}

// matches compares typed digits with a stored hash in constant time.
func (f *Factor) matches(hash, typed string) bool {
	if hash == "" || typed == "" || len(typed) > maxKeypadInput {
		return false
	}
	return f.codes.Equal(hash, typed)
}

// lang returns the supported language closest to a page's tag, which the
// call speaks and the reply answers in.
func (f *Factor) lang(tag string) *i18n.Localizer {
	return f.messages.Localizer(f.messages.Match(tag, ""))
}

// spoken is what the call says before it waits for the keypad. The
// number of digits is part of each sentence, so every language can say
// "two digits" with its own grammar.
func (f *Factor) spoken(l *i18n.Localizer, digits int) string {
	id := "voice.call.text.many"
	if digits >= 1 && digits <= 6 {
		id = "voice.call.text." + strconv.Itoa(digits)
	}
	return l.T(id, "Issuer", f.issuer, "Count", digits)
}

// place calls to (E.164) and asks for the digits. A reference already
// sent (notify.Once after a retry) counts as placed.
func (f *Factor) place(ctx context.Context, to, ref, lang string, digits int, userID, ip string) error {
	if f.notify == nil {
		return notify.ErrNotConfigured
	}
	l := f.lang(lang)
	err := f.notify.Send(ctx, notify.Message{
		Channel: notify.Voice, To: to, Ref: ref, Lang: l.Lang(), Text: f.spoken(l, digits),
		Digits: digits, UserID: userID, IP: ip,
	})
	if errors.Is(err, notify.ErrDuplicate) {
		return nil
	}
	return err
}

// number is one of the person's confirmed numbers, as the pages offer it.
type number struct {
	ID     string
	Masked string
}

// numberOf reads the E.164 number of a confirmed enrollment.
func numberOf(e *store.Enrollment) (string, bool, error) {
	d, err := parseNumber(e.Data)
	if err != nil {
		return "", false, fmt.Errorf("voice: enrollment %s: %w", e.ID, err)
	}
	if d.Phone == "" {
		return "", false, fmt.Errorf("voice: enrollment %s has no number", e.ID)
	}
	return d.Phone, d.Primary, nil
}

// usable returns the person's confirmed voice enrollments among es,
// oldest first.
func usable(es []store.Enrollment, userID string) []store.Enrollment {
	var out []store.Enrollment
	for _, e := range es {
		if e.Factor == ID && e.Confirmed() && e.UserID == userID {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b store.Enrollment) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// primary picks the number a login calls first: the one marked primary,
// else the oldest.
func primary(es []store.Enrollment) (*store.Enrollment, error) {
	if len(es) == 0 {
		return nil, errors.New("voice: the person has no confirmed number")
	}
	for i := range es {
		if _, p, err := numberOf(&es[i]); err == nil && p {
			return &es[i], nil
		}
	}
	return &es[0], nil
}

func parseChallenge(data string) (challengeData, error) {
	var d challengeData
	if data == "" {
		return d, nil
	}
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return d, fmt.Errorf("voice: challenge data: %w", err)
	}
	return d, nil
}

// errStale aborts an update whose premise (the call it was about) is gone.
var errStale = errors.New("voice: the call was superseded")

// updateChallenge applies change to ch's data and stores it with a
// compare-and-swap on the data; after a concurrent update it re-reads
// the challenge and applies change again, so change always decides on
// the stored state. change may set ch.CodeHash.
func (f *Factor) updateChallenge(ctx context.Context, ch store.Challenge, now time.Time, change func(*store.Challenge, *challengeData) error) (store.Challenge, challengeData, error) {
	for i := 0; ; i++ {
		d, err := parseChallenge(ch.Data)
		if err != nil {
			return ch, d, err
		}
		old := ch.Data
		if err := change(&ch, &d); err != nil {
			return ch, d, err
		}
		buf, err := json.Marshal(d)
		if err != nil {
			return ch, d, err
		}
		err = f.store.UpdateChallengeData(ctx, ch.ID, old, ch.CodeHash, string(buf), now)
		if err == nil {
			ch.Data = string(buf)
			return ch, d, nil
		}
		if !errors.Is(err, store.ErrConflict) || i == casRetries-1 {
			return ch, d, err
		}
		cur, err := f.store.ChallengeByID(ctx, ch.ID, now)
		if err != nil {
			return ch, d, err
		}
		ch = *cur
	}
}

// Start calls the person's primary number and returns the page that shows
// the digits. A failed call is not an error: the page says so and offers
// to call again at once.
func (f *Factor) Start(ctx context.Context, a factors.Attempt) (factors.Prompt, error) {
	if a.Challenge == nil || a.User == nil {
		return factors.Prompt{}, errors.New("voice: attempt without a challenge or user")
	}
	own := usable(a.Enrollments, a.User.ID)
	e, err := primary(own)
	if err != nil {
		return factors.Prompt{}, err
	}
	ch, d, err := f.updateChallenge(ctx, *a.Challenge, a.Now, func(ch *store.Challenge, d *challengeData) error {
		if len(d.Calls) > 0 {
			return errStale // a racing request started it already
		}
		return f.nextCall(ch, d, e, a.Lang, a.Now)
	})
	switch {
	case errors.Is(err, errStale):
		return f.Prompt(ctx, factors.Attempt{User: a.User, Challenge: &ch, Enrollments: a.Enrollments, Now: a.Now})
	case err != nil:
		return factors.Prompt{}, fmt.Errorf("voice: starting challenge %s: %w", a.Challenge.ID, err)
	}
	d = f.dial(ctx, ch, d, e, a.User.ID, a.IP, a.Now)
	return f.prompt(d, own, a.Now), nil
}

// nextCall prepares a call to enrollment e in ch: new digits (the old
// ones stop working), a new reference, the call recorded as ringing.
func (f *Factor) nextCall(ch *store.Challenge, d *challengeData, e *store.Enrollment, lang string, now time.Time) error {
	num, _, err := numberOf(e)
	if err != nil {
		return err
	}
	digits := newDigits(f.digits)
	d.N++
	ch.CodeHash = f.codes.Hash(digits)
	d.Enrollment, d.Masked, d.Digits, d.Lang, d.Error = e.ID, phone.Masked(num), digits, f.lang(lang).Lang(), ""
	d.Calls = d.Calls.add(call{Ref: callRef("c", ch.ID, d.N), At: now, State: stateCalling, To: e.ID})
	return nil
}

// dial places the latest call of ch, which nextCall stored. A failure is
// recorded in the challenge (the call's state and the message to show),
// which also lifts the cooldown.
func (f *Factor) dial(ctx context.Context, ch store.Challenge, d challengeData, e *store.Enrollment, userID, ip string, now time.Time) challengeData {
	c := *d.Calls.latest()
	num, _, _ := numberOf(e) // nextCall read it already
	err := f.place(ctx, num, c.Ref, d.Lang, len(d.Digits), userID, ip)
	if err == nil {
		return d
	}
	msg := notify.MessageID(err)
	slog.WarnContext(ctx, "voice: call not placed", "ref", c.Ref, "to", phone.Masked(num), "err", err)
	_, nd, uerr := f.updateChallenge(ctx, ch, now, func(_ *store.Challenge, d *challengeData) error {
		if l := d.Calls.latest(); l == nil || l.Ref != c.Ref || l.State != stateCalling {
			return errStale
		}
		d.Calls.latest().State, d.Error = stateFailed, msg
		return nil
	})
	if uerr != nil {
		slog.WarnContext(ctx, "voice: could not record the failed call", "ref", c.Ref, "err", uerr)
		// Show the failure anyway; the stored call times out by itself.
		d.Calls.latest().State, d.Error = stateFailed, msg
		return d
	}
	return nd
}

// Prompt returns the page of a challenge already started.
func (f *Factor) Prompt(_ context.Context, a factors.Attempt) (factors.Prompt, error) {
	if a.Challenge == nil || a.User == nil {
		return factors.Prompt{}, errors.New("voice: attempt without a challenge or user")
	}
	d, err := parseChallenge(a.Challenge.Data)
	if err != nil {
		return factors.Prompt{}, err
	}
	return f.prompt(d, usable(a.Enrollments, a.User.ID), a.Now), nil
}

// spaced separates digits so they are read (and read out) one by one.
func spaced(digits string) string {
	return strings.Join(strings.Split(digits, ""), " ")
}

// prompt builds the challenge page: the digits while the call waits for
// them, the outcome otherwise, and the person's other numbers to call.
func (f *Factor) prompt(d challengeData, own []store.Enrollment, now time.Time) factors.Prompt {
	ph := f.phase(d.Calls, now)
	var others []number
	for i := range own {
		if own[i].ID == d.Enrollment {
			continue
		}
		if num, _, err := numberOf(&own[i]); err == nil {
			others = append(others, number{ID: own[i].ID, Masked: phone.Masked(num)})
		}
	}
	data := map[string]any{
		"Number":     d.Masked,
		"Digits":     spaced(d.Digits),
		"DigitCount": len(d.Digits),
		"Waiting":    ph == stateCalling,
		"Answered":   ph == stateAnswered,
		"Wrong":      ph == stateWrong,
		"TimedOut":   ph == phaseTimeout,
		"Failed":     ph == stateFailed,
		"Others":     others,
	}
	// Only set when there is one: the engine's own error (a Check
	// refused) must not be overwritten by an empty value.
	if ph == stateFailed && d.Error != "" {
		data["Error"] = d.Error
	}
	return factors.Prompt{Template: "factor_voice", Data: data}
}

// Check turns a correct entry on the keypad into the proof. The form
// carries nothing but the flow: the person typed on the phone. An entry
// not made yet, a wrong one (already counted by Keypress) or a call that
// failed or timed out is a Malformed error, so nothing is counted twice.
func (f *Factor) Check(_ context.Context, a factors.Attempt, _ factors.Input) (factors.Result, error) {
	if a.Challenge == nil || a.User == nil {
		return factors.Result{}, errors.New("voice: attempt without a challenge or user")
	}
	d, err := parseChallenge(a.Challenge.Data)
	if err != nil {
		return factors.Result{}, err
	}
	if err := f.outcome(d.Calls, d.Error, a.Now); err != nil {
		return factors.Result{}, err
	}
	// The number must still be the person's: one removed since the call
	// proves nothing.
	if !slices.ContainsFunc(usable(a.Enrollments, a.User.ID), func(e store.Enrollment) bool { return e.ID == d.Enrollment }) {
		return factors.Result{}, &factors.Error{Kind: factors.Malformed, MessageID: MsgUnknownNumber}
	}
	return factors.Result{Proof: factors.ProofOf(f, a.Now), EnrollmentID: d.Enrollment}, nil
}

// outcome is nil when the latest call was answered with the right digits,
// else the Malformed error that says what happened.
func (f *Factor) outcome(cs calls, deliveryErr string, now time.Time) *factors.Error {
	msg := ""
	switch f.phase(cs, now) {
	case stateAnswered:
		return nil
	case stateWrong:
		msg = MsgDigitsWrong
	case phaseTimeout:
		msg = MsgNoEntry
	case stateFailed:
		msg = cmpOr(deliveryErr, notify.MsgUnavailable)
	default:
		msg = MsgNotYet
	}
	return &factors.Error{Kind: factors.Malformed, MessageID: msg}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Resend places a new call with new digits: to the number called last, or
// to another of the person's confirmed numbers (form field "to").
func (f *Factor) Resend(ctx context.Context, a factors.Attempt, in factors.Input) error {
	if a.Challenge == nil || a.User == nil {
		return errors.New("voice: attempt without a challenge or user")
	}
	own := usable(a.Enrollments, a.User.ID)
	to := strings.TrimSpace(in.Form.Get(FieldTo))
	var target *store.Enrollment
	ch, d, err := f.updateChallenge(ctx, *a.Challenge, a.Now, func(ch *store.Challenge, d *challengeData) error {
		if ch.ConsumedAt != nil || ch.Attempts >= ch.MaxAttempts {
			return fmt.Errorf("voice: challenge %s has ended: %w", ch.ID, store.ErrConsumed)
		}
		want := to
		if want == "" {
			want = d.Enrollment
		}
		target = nil
		for i := range own {
			if own[i].ID == want {
				target = &own[i]
			}
		}
		if target == nil && to == "" && d.Enrollment == "" {
			var err error
			if target, err = primary(own); err != nil {
				return err
			}
		}
		if target == nil {
			// Form-level: the buttons that post "to" have no field to
			// mark, and a foreign id only comes from a tampered form.
			return &factors.Error{Kind: factors.Malformed, MessageID: MsgUnknownNumber}
		}
		if ferr := f.mayCall(d.Calls, target.ID, a.Now); ferr != nil {
			return ferr
		}
		return f.nextCall(ch, d, target, a.Lang, a.Now)
	})
	if err != nil {
		return err
	}
	d = f.dial(ctx, ch, d, target, a.User.ID, a.IP, a.Now)
	if d.Error != "" {
		return &factors.Error{Kind: factors.Malformed, MessageID: d.Error}
	}
	return nil
}

// Status reports whether the latest call of the challenge was answered.
func (f *Factor) Status(_ context.Context, a factors.Attempt) (factors.Status, error) {
	ch := a.Challenge
	if ch == nil {
		return "", errors.New("voice: attempt without a challenge")
	}
	switch {
	case ch.ConsumedAt != nil:
		// The login went on (another tab): posting the form finds out.
		return factors.Answered, nil
	case ch.Attempts >= ch.MaxAttempts:
		return factors.Failed, nil
	}
	d, err := parseChallenge(ch.Data)
	if err != nil {
		return "", err
	}
	return f.status(d.Calls, a.Now), nil
}

func (f *Factor) status(cs calls, now time.Time) factors.Status {
	switch f.phase(cs, now) {
	case stateCalling:
		return factors.Pending
	case stateAnswered:
		return factors.Answered
	}
	return factors.Failed
}

// Describe labels a voice enrollment by its masked number.
func (f *Factor) Describe(e store.Enrollment) string {
	if n, _, err := numberOf(&e); err == nil {
		return phone.Masked(n)
	}
	return ""
}
