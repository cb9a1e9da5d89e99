package totp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

const (
	// seedSize is 160 bits, RFC 4226's recommended HMAC-SHA-1 key length.
	seedSize = 20
	// maxNameRunes bounds the device name people type.
	maxNameRunes = 64
	// qrSize is the side of the QR code in pixels; the stylesheet shows
	// it smaller, so it stays sharp on high-density screens.
	qrSize = 320
)

// DefaultName is stored when the person clears the device-name field. The
// field is pre-filled with the localized "totp.enroll.default_name", so
// this English fallback is rare.
const DefaultName = "Authenticator app"

// BeginEnroll creates a pending enrollment with a fresh seed. The id is
// chosen first because the sealed seed is bound to it.
func (f *Factor) BeginEnroll(ctx context.Context, a factors.EnrollAttempt) (*store.Enrollment, error) {
	u, now := a.User, a.Now
	if u == nil || u.ID == "" {
		return nil, errors.New("totp: enrolling without a user")
	}
	id := security.RandomToken(16)
	seed := make([]byte, seedSize)
	rand.Read(seed) // never fails since Go 1.24
	sealed, err := f.sealer.Seal(seed, []byte(id))
	clear(seed)
	if err != nil {
		return nil, fmt.Errorf("totp: sealing the seed: %w", err)
	}
	data, err := json.Marshal(defaults)
	if err != nil {
		return nil, err
	}
	e := &store.Enrollment{
		ID: id, UserID: u.ID, Factor: ID, Secret: sealed, Data: string(data), CreatedAt: now,
	}
	if err := f.store.CreateEnrollment(ctx, e); err != nil {
		return nil, fmt.Errorf("totp: storing the enrollment: %w", err)
	}
	return e, nil
}

// pending checks that e is u's TOTP enrollment still waiting for its first
// code; anything else is a mistake of the caller (or a double submit, which
// wraps store.ErrConflict).
func pending(u *store.User, e *store.Enrollment) error {
	switch {
	case u == nil || e == nil:
		return errors.New("totp: no user or enrollment")
	case e.Factor != ID || e.UserID != u.ID:
		return fmt.Errorf("totp: enrollment %s is not this person's TOTP enrollment", e.ID)
	case e.Confirmed():
		return fmt.Errorf("totp: enrollment %s is already active: %w", e.ID, store.ErrConflict)
	}
	return nil
}

// key rebuilds the otpauth key of e from its sealed seed, so the setup page
// can be shown again on reload.
func (f *Factor) key(u *store.User, e *store.Enrollment) (*otp.Key, error) {
	p, err := parseParams(e.Data)
	if err != nil {
		return nil, err
	}
	seed, err := f.sealer.Open(e.Secret, []byte(e.ID))
	if err != nil {
		return nil, fmt.Errorf("totp: enrollment %s: %w", e.ID, err)
	}
	account := u.Username
	if account == "" {
		account = u.ID
	}
	return totp.Generate(totp.GenerateOpts{
		Issuer: f.issuer, AccountName: account, Period: p.Period, Secret: seed,
		Digits: otp.DigitsSix, Algorithm: algorithms[p.Algorithm],
	})
}

// EnrollPrompt returns the setup page: the QR code, the key to type in
// when scanning is not possible (the person is on the phone that runs the
// app), and the otpauth link that opens the app on that phone.
func (f *Factor) EnrollPrompt(_ context.Context, a factors.EnrollAttempt) (factors.Prompt, error) {
	u, e := a.User, a.Enrollment
	if err := pending(u, e); err != nil {
		return factors.Prompt{}, err
	}
	k, err := f.key(u, e)
	if err != nil {
		return factors.Prompt{}, err
	}
	img, err := k.Image(qrSize, qrSize)
	if err != nil {
		return factors.Prompt{}, fmt.Errorf("totp: drawing the QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return factors.Prompt{}, fmt.Errorf("totp: encoding the QR code: %w", err)
	}
	return factors.Prompt{Template: "enroll_totp", Data: map[string]any{
		// Both URLs are built here from our own values, so they are
		// trusted: html/template would otherwise replace the data: and
		// otpauth: schemes with "#ZgotmplZ".
		"QR":      template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())),
		"AppURL":  template.URL(k.URL()),
		"Key":     groups(k.Secret(), 4),
		"Account": k.AccountName(),
		"Issuer":  k.Issuer(),
	}}, nil
}

// groups splits s into space-separated groups of n, the way people copy a
// key without losing their place.
func groups(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}

// FinishEnroll activates e when the code matches, exactly as Check would:
// the code is then used, and the person has proved the factor.
func (f *Factor) FinishEnroll(ctx context.Context, a factors.EnrollAttempt, in factors.Input) (store.Proof, error) {
	u, e, now := a.User, a.Enrollment, a.Now
	if err := pending(u, e); err != nil {
		return store.Proof{}, err
	}
	name, ferr := parseName(in.Form.Get(FieldName))
	if ferr != nil {
		return store.Proof{}, ferr
	}
	code, ferr := parseCode(in.Form.Get(FieldCode))
	if ferr != nil {
		return store.Proof{}, ferr
	}
	m, ok, err := f.verify(e, code, now)
	if err != nil {
		return store.Proof{}, err
	}
	if !ok {
		return store.Proof{}, &factors.Error{Kind: factors.Wrong, MessageID: MsgCodeWrong, Field: FieldCode}
	}
	if err := f.useOnce(ctx, u.ID, m, now); err != nil {
		return store.Proof{}, err
	}
	// Work on a copy so a failed update leaves the caller's e as stored.
	c := *e
	at := now
	c.ConfirmedAt, c.Name = &at, name
	if err := f.store.UpdateEnrollment(ctx, &c); err != nil {
		return store.Proof{}, fmt.Errorf("totp: activating enrollment %s: %w", e.ID, err)
	}
	*e = c
	return factors.ProofOf(f, now), nil
}

// parseName trims the device name; empty means the default. Control and
// bidirectional-override characters are refused: the name is shown in
// device lists and admin pages, where they could disguise it.
func parseName(raw string) (string, *factors.Error) {
	name := strings.TrimSpace(raw)
	if name == "" {
		return DefaultName, nil
	}
	if !utf8.ValidString(name) {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgNameInvalid, Field: FieldName}
	}
	if utf8.RuneCountInString(name) > maxNameRunes {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgNameTooLong, Field: FieldName}
	}
	if strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) {
		return "", &factors.Error{Kind: factors.Malformed, MessageID: MsgNameInvalid, Field: FieldName}
	}
	return name, nil
}
