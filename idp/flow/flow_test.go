package flow

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/policy"
	"github.com/eu-health-idp/idp/idp/store"
)

const (
	low  = assurance.LoALow
	subs = assurance.LoASubstantial
	high = assurance.LoAHigh
)

var (
	now     = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	created = now.Add(-2 * time.Minute) // the authorization request
	day     = 24 * time.Hour
)

// The registered factors, in registration order, as a deployment has them.
var (
	totp     = factors.Properties{Kinds: []factors.Kind{factors.Possession}, AMR: []string{"otp"}}
	sms      = factors.Properties{Kinds: []factors.Kind{factors.Possession}, AMR: []string{"sms"}, Channel: "sms", Restricted: true}
	email    = factors.Properties{Kinds: []factors.Kind{factors.Possession}, AMR: []string{"otp", "email"}, Channel: "email"}
	passkey  = factors.Properties{Kinds: []factors.Kind{factors.Possession, factors.Inherence}, AMR: []string{"hwk", "user"}, PhishingResistant: true}
	recovery = factors.Properties{Kinds: []factors.Kind{factors.Possession}, AMR: []string{"otp"}, Backup: true}
	registry = []struct {
		id    string
		props factors.Properties
	}{{"totp", totp}, {"sms", sms}, {"email", email}, {"passkey", passkey}, {"recovery", recovery}}
)

// options lists every registered factor, enrolled when named.
func options(enrolled ...string) []Option {
	var out []Option
	for _, r := range registry {
		out = append(out, Option{ID: r.id, Props: r.props, Enrolled: slices.Contains(enrolled, r.id), Enrollable: true})
	}
	return out
}

// proved is a proof of factor made ago before now.
func proved(factor string, ago time.Duration) store.Proof {
	if factor == CredentialsFactor {
		return CredentialsProof(now.Add(-ago))
	}
	for _, r := range registry {
		if r.id == factor {
			return Option{ID: r.id, Props: r.props}.proof(now.Add(-ago))
		}
	}
	panic(factor)
}

// session of u1, last active a minute ago.
func session(proofs ...store.Proof) *store.Session {
	return &store.Session{UserID: "u1", Proofs: proofs, LastSeenAt: now.Add(-time.Minute)}
}

// idle is s last active ago before now.
func idle(s *store.Session, ago time.Duration) *store.Session {
	s.LastSeenAt = now.Add(-ago)
	return s
}

func i64(v int64) *int64                { return &v }
func at(t time.Time) *time.Time         { return &t }
func pwd(ago time.Duration) store.Proof { return proved(CredentialsFactor, ago) }

// want is what a case checks of the Decision; zero fields are checked too.
type want struct {
	step      Step
	factor    string
	factors   []string
	acr       string // Result.ACR with StepDone
	target    string
	skippable bool
	daysLeft  int
	err       string
	desc      string // substring of Description
}

func TestNext(t *testing.T) {
	floor := policy.Requirement{Want: []string{subs}, MinACR: subs}
	cases := []struct {
		name string
		in   Input // Request, Table and Now are filled in
		want want
	}{
		// 1. Who.
		{"no session asks for the credentials",
			Input{}, want{step: StepCredentials}},
		{"no session with prompt=none is login_required",
			Input{Require: policy.Requirement{PromptNone: true}}, want{step: StepError, err: ErrLoginRequired}},
		{"a session of someone else than the id_token_hint asks for the credentials",
			Input{Session: session(pwd(time.Hour)), Require: policy.Requirement{HintUserID: "u2"}}, want{step: StepCredentials}},
		{"a session of someone else than the person this flow identified asks for the credentials",
			Input{Session: session(pwd(time.Hour)), Flow: &store.LoginFlow{UserID: "u2"}}, want{step: StepCredentials}},

		// 2. Which proofs count.
		{"max_age=0 asks again for a password proved before this request",
			Input{Session: session(pwd(time.Hour)), Require: policy.Requirement{MaxAge: i64(0)}}, want{step: StepCredentials}},
		{"max_age=0 accepts a password proved during this request",
			Input{Session: session(pwd(time.Minute)), Require: policy.Requirement{MaxAge: i64(0)}}, want{step: StepDone, acr: low, target: low}},
		{"max_age longer than the session's age reuses it",
			Input{Session: session(pwd(30 * time.Minute)), Require: policy.Requirement{MaxAge: i64(3600)}}, want{step: StepDone, acr: low, target: low}},
		{"max_age exceeded with prompt=none is login_required",
			Input{Session: session(pwd(2 * time.Hour)), Require: policy.Requirement{MaxAge: i64(3600), PromptNone: true}},
			want{step: StepError, err: ErrLoginRequired}},
		{"a session holding only a second factor asks for the credentials",
			Input{Session: session(proved("totp", time.Minute))}, want{step: StepCredentials}},
		{"max_age drops an old second factor, so the step-up asks it again",
			Input{Session: session(pwd(time.Minute), proved("totp", 2*time.Hour)), Options: options("totp"),
				Require: policy.Requirement{Want: []string{subs}, MinACR: subs, MaxAge: i64(3600)}},
			want{step: StepFactor, factor: "totp", target: subs}},

		// 3-4. What is needed; satisfied.
		{"a client asking nothing gets low from a password",
			Input{Session: session(pwd(time.Hour)), Options: options("totp")}, want{step: StepDone, acr: low, target: low}},
		{"a session at substantial is reused by a substantial client without asking anything",
			Input{Session: session(pwd(time.Hour), proved("totp", time.Hour)), Options: options("totp"), Require: floor},
			want{step: StepDone, acr: subs, target: subs}},
		{"a voluntary wish for high that the person cannot reach ends at the level reached",
			Input{Session: session(pwd(time.Hour), proved("totp", time.Hour)), Options: options("totp"), Require: policy.Requirement{Want: []string{high}}},
			want{step: StepDone, acr: subs, target: subs}},
		{"a voluntary wish for high steps up to substantial, the best reachable",
			Input{Session: session(pwd(time.Minute)), Options: options("totp"), Require: policy.Requirement{Want: []string{high}}},
			want{step: StepFactor, factor: "totp", target: subs}},
		{"a voluntary wish the person can do nothing about ends at low",
			Input{Session: session(pwd(time.Minute)), Options: options(), Require: policy.Requirement{Want: []string{subs}}},
			want{step: StepDone, acr: low, target: low}},
		{"the first reachable wish is aimed at, not the first wish",
			Input{Session: session(pwd(time.Minute)), Options: options("sms", "passkey"), Require: policy.Requirement{Want: []string{"urn:nope", high, subs}}},
			want{step: StepFactor, factor: "passkey", target: high}},
		{"a voluntary wish below the client's floor is reported as the floor",
			Input{Session: session(pwd(time.Hour), proved("totp", time.Hour)), Options: options("totp"),
				Require: policy.Requirement{Want: []string{low}, MinACR: subs}},
			want{step: StepDone, acr: subs, target: subs}},
		{"an essential wish below the client's floor is answered with the value asked for, after reaching the floor",
			Input{Session: session(pwd(time.Minute)), Options: options("totp"),
				Require: policy.Requirement{Want: []string{low}, Essential: true, MinACR: subs}},
			want{step: StepFactor, factor: "totp", target: subs}},
		{"an essential wish below the floor, once the floor is reached, is reported as asked",
			Input{Session: session(pwd(time.Hour), proved("totp", time.Hour)), Options: options("totp"),
				Require: policy.Requirement{Want: []string{low}, Essential: true, MinACR: subs}},
			want{step: StepDone, acr: low, target: low}},
		{"the mfa alias asked for is reported",
			Input{Session: session(pwd(time.Hour), proved("sms", time.Hour)), Options: options("sms"), Require: policy.Requirement{Want: []string{assurance.MFA}}},
			want{step: StepDone, acr: assurance.MFA, target: assurance.MFA}},
		{"a floor given as an alias is reported when the level reached does not say it",
			Input{Session: session(pwd(20*time.Hour), proved("sms", time.Hour)), Options: options("sms"), Require: policy.Requirement{MinACR: assurance.MFA}},
			want{step: StepDone, acr: assurance.MFA, target: assurance.MFA}},
		{"an email code does not count toward aal2, so aal2 asks for totp",
			Input{Session: session(pwd(time.Minute), proved("email", time.Minute)), Options: options("email", "totp"),
				Require: policy.Requirement{Want: []string{assurance.AAL2}, Essential: true}},
			want{step: StepFactor, factor: "totp", target: assurance.AAL2}},

		// 5. Candidates.
		{"a substantial client runs the only enrolled factor",
			Input{Session: session(pwd(time.Minute)), Options: options("totp"), Require: floor},
			want{step: StepFactor, factor: "totp", target: subs}},
		{"several enrolled factors open the chooser: last used first, then registration order, recovery codes last",
			Input{Session: session(pwd(time.Minute)), Options: options("totp", "sms", "recovery", "email"), LastFactor: "sms", Require: floor},
			want{step: StepChooseFactor, factors: []string{"sms", "totp", "email", "recovery"}, target: subs}},
		{"one everyday factor with recovery codes goes straight to the everyday factor, listing both for another method",
			Input{Session: session(pwd(time.Minute)), Options: options("totp", "recovery"), Require: floor},
			want{step: StepFactor, factor: "totp", factors: []string{"totp", "recovery"}, target: subs}},
		{"recovery codes are not put first even when used last",
			Input{Session: session(pwd(time.Minute)), Options: options("totp", "recovery"), LastFactor: "recovery", Require: floor},
			want{step: StepFactor, factor: "totp", factors: []string{"totp", "recovery"}, target: subs}},
		{"recovery codes alone are run when they are all the person has",
			Input{Session: session(pwd(time.Minute)), Options: options("recovery"), Require: floor},
			want{step: StepFactor, factor: "recovery", target: subs}},
		{"the factor the person chose is run instead of the chooser",
			Input{Session: session(pwd(time.Minute)), Options: options("totp", "sms"), Flow: &store.LoginFlow{UserID: "u1", Factor: "sms"}, Require: floor},
			want{step: StepFactor, factor: "sms", target: subs}},
		{"the chosen factor still lists every candidate, for \"use another method\"",
			Input{Session: session(pwd(time.Minute)), Options: options("totp", "sms"), Flow: &store.LoginFlow{UserID: "u1", Factor: "sms"}, Require: floor},
			want{step: StepFactor, factor: "sms", factors: []string{"totp", "sms"}, target: subs}},
		{"a chosen factor that cannot reach the level is not run",
			Input{Session: session(pwd(time.Minute)), Options: options("totp", "passkey"), Flow: &store.LoginFlow{UserID: "u1", Factor: "totp"},
				Require: policy.Requirement{Want: []string{high}, MinACR: high}},
			want{step: StepFactor, factor: "passkey", target: high}},
		{"factors the client does not allow are not offered",
			Input{Session: session(pwd(time.Minute)), Options: options("totp", "sms"),
				Require: policy.Requirement{Want: []string{subs}, MinACR: subs, AllowedFactors: []string{"totp"}}},
			want{step: StepFactor, factor: "totp", target: subs}},
		{"an essential high needs the passkey even when totp is enrolled",
			Input{Session: session(pwd(time.Minute), proved("totp", time.Minute)), Options: options("totp", "passkey"),
				Require: policy.Requirement{Want: []string{high}, Essential: true}},
			want{step: StepFactor, factor: "passkey", target: high}},
		{"a session idle for 20 minutes asks the passkey again for high",
			Input{Session: idle(session(pwd(20*time.Minute), proved("passkey", 20*time.Minute)), 20*time.Minute), Options: options("passkey"),
				Require: policy.Requirement{Want: []string{high}, MinACR: high}},
			want{step: StepFactor, factor: "passkey", target: high}},
		{"a session idle for 20 minutes still holds substantial",
			Input{Session: idle(session(pwd(20*time.Minute), proved("passkey", 20*time.Minute)), 20*time.Minute), Options: options("passkey"), Require: floor},
			want{step: StepDone, acr: subs, target: subs}},
		{"a session idle for 40 minutes asks a second factor again for substantial",
			Input{Session: idle(session(pwd(time.Hour), proved("totp", time.Hour)), 40*time.Minute), Options: options("totp"), Require: floor},
			want{step: StepFactor, factor: "totp", target: subs}},
		{"a session idle for 40 minutes with prompt=none is interaction_required",
			Input{Session: idle(session(pwd(time.Hour), proved("totp", time.Hour)), 40*time.Minute), Options: options("totp"),
				Require: policy.Requirement{Want: []string{subs}, MinACR: subs, PromptNone: true}},
			want{step: StepError, err: ErrInteractionRequired, target: subs}},
		{"a second factor older than 12 hours is asked again",
			Input{Session: session(pwd(11*time.Hour), proved("totp", 13*time.Hour)), Options: options("totp"), Require: floor},
			want{step: StepFactor, factor: "totp", target: subs}},
		{"credentials older than 12 hours are asked again before the factor",
			Input{Session: session(pwd(13*time.Hour), proved("totp", 13*time.Hour)), Options: options("totp"), Require: floor},
			want{step: StepCredentials, target: subs}},
		{"the client's factor max age asks the credentials again even for low",
			Input{Session: session(pwd(2 * time.Hour)), Options: options(), Require: policy.Requirement{FactorMaxAge: time.Hour}},
			want{step: StepCredentials, target: ""}},
		{"the client's factor max age asks an old second factor again",
			Input{Session: session(pwd(10*time.Minute), proved("totp", 2*time.Hour)), Options: options("totp"),
				Require: policy.Requirement{Want: []string{subs}, MinACR: subs, FactorMaxAge: time.Hour}},
			want{step: StepFactor, factor: "totp", target: subs}},
		{"a second-factor max age asks a second factor proved before it again, not the older password",
			Input{Session: session(pwd(2*time.Hour), proved("totp", 6*time.Minute)), Options: options("totp"),
				Require: policy.Requirement{Want: []string{subs}, Essential: true, SecondFactorMaxAge: 5 * time.Minute}},
			want{step: StepFactor, factor: "totp", target: subs}},
		{"a second factor within the second-factor max age counts beside an old password",
			Input{Session: session(pwd(2*time.Hour), proved("totp", 4*time.Minute)), Options: options("totp"),
				Require: policy.Requirement{Want: []string{subs}, Essential: true, SecondFactorMaxAge: 5 * time.Minute}},
			want{step: StepDone, acr: subs, target: subs}},
		{"a step-up with prompt=none is interaction_required",
			Input{Session: session(pwd(time.Minute)), Options: options("totp"),
				Require: policy.Requirement{Want: []string{subs}, MinACR: subs, PromptNone: true}},
			want{step: StepError, err: ErrInteractionRequired, target: subs}},

		// 6. Enrolment, skip, unmet.
		{"a floor no enrolled factor reaches offers enrolment, skippable in the grace period with the days left",
			Input{Session: session(pwd(time.Minute)), Options: options(), EnrolOfferedAt: at(now.Add(-3*day - time.Hour)),
				Require: policy.Requirement{Want: []string{subs}, MinACR: subs, GraceDays: 14}},
			want{step: StepEnroll, factors: []string{"totp", "sms", "email", "passkey"}, skippable: true, daysLeft: 11, target: subs}},
		{"a first offer starts the grace period now",
			Input{Session: session(pwd(time.Minute)), Options: options(), Require: policy.Requirement{Want: []string{subs}, MinACR: subs, GraceDays: 14}},
			want{step: StepEnroll, factors: []string{"totp", "sms", "email", "passkey"}, skippable: true, daysLeft: 14, target: subs}},
		{"enrolment is mandatory once the grace period is over",
			Input{Session: session(pwd(time.Minute)), Options: options(), EnrolOfferedAt: at(now.Add(-15 * day)),
				Require: policy.Requirement{Want: []string{subs}, MinACR: subs, GraceDays: 14}},
			want{step: StepEnroll, factors: []string{"totp", "sms", "email", "passkey"}, target: subs}},
		{"an admin reset leaves no grace",
			Input{Session: session(pwd(time.Minute)), Options: options(), EnrolOfferedAt: at(time.Unix(0, 0)),
				Require: policy.Requirement{Want: []string{subs}, MinACR: subs, GraceDays: 14}},
			want{step: StepEnroll, factors: []string{"totp", "sms", "email", "passkey"}, target: subs}},
		{"without a grace period enrolment is mandatory at once",
			Input{Session: session(pwd(time.Minute)), Options: options(), Require: floor},
			want{step: StepEnroll, factors: []string{"totp", "sms", "email", "passkey"}, target: subs}},
		{"skipping within the grace period finishes at the level reached, below the floor",
			Input{Session: session(pwd(time.Minute)), Options: options(), Flow: &store.LoginFlow{UserID: "u1", SkippedEnrol: true},
				EnrolOfferedAt: at(now.Add(-day)), Require: policy.Requirement{Want: []string{subs}, MinACR: subs, GraceDays: 14}},
			want{step: StepDone, acr: low, target: low}},
		{"a skip after the grace period is over is not honoured",
			Input{Session: session(pwd(time.Minute)), Options: options(), Flow: &store.LoginFlow{UserID: "u1", SkippedEnrol: true},
				EnrolOfferedAt: at(now.Add(-20 * day)), Require: policy.Requirement{Want: []string{subs}, MinACR: subs, GraceDays: 14}},
			want{step: StepEnroll, factors: []string{"totp", "sms", "email", "passkey"}, target: subs}},
		{"an essential acr is never skippable",
			Input{Session: session(pwd(time.Minute)), Options: options(), Flow: &store.LoginFlow{UserID: "u1", SkippedEnrol: true},
				Require: policy.Requirement{Want: []string{subs}, Essential: true, GraceDays: 14}},
			want{step: StepEnroll, factors: []string{"totp", "sms", "email", "passkey"}, target: subs}},
		{"a floor of high offers only the passkey to enrol",
			Input{Session: session(pwd(time.Minute)), Options: options("totp"), Require: policy.Requirement{Want: []string{high}, MinACR: high}},
			want{step: StepEnroll, factors: []string{"passkey"}, target: high}},
		{"enrolment offers only the factors the client allows",
			Input{Session: session(pwd(time.Minute)), Options: options(), Require: policy.Requirement{Want: []string{subs}, MinACR: subs, AllowedFactors: []string{"sms", "recovery"}}},
			want{step: StepEnroll, factors: []string{"sms"}, target: subs}},
		{"aal2 never offers the email code to enrol",
			Input{Session: session(pwd(time.Minute)), Options: options(), Require: policy.Requirement{Want: []string{assurance.AAL2}, MinACR: assurance.AAL2}},
			want{step: StepEnroll, factors: []string{"totp", "sms", "passkey"}, target: assurance.AAL2}},
		{"a voluntary wish never forces enrolment",
			Input{Session: session(pwd(time.Minute)), Options: options(), Require: policy.Requirement{Want: []string{high}}},
			want{step: StepDone, acr: low, target: low}},
		{"enrolment with prompt=none is interaction_required",
			Input{Session: session(pwd(time.Minute)), Options: options(), Require: policy.Requirement{Want: []string{subs}, MinACR: subs, PromptNone: true}},
			want{step: StepError, err: ErrInteractionRequired, target: subs}},
		{"an enrolled passkey is run on a password too old to count, as it proves two kinds alone",
			Input{Session: session(pwd(13 * time.Hour)), Options: options("passkey"), Require: floor},
			want{step: StepFactor, factor: "passkey", target: subs}},
		{"a factor is not set up on a password too old to count: the credentials come first",
			Input{Session: session(pwd(13 * time.Hour)), Options: options(), Require: floor},
			want{step: StepCredentials, target: subs}},
		{"recovery codes are never offered alone at enrolment",
			Input{Session: session(pwd(time.Minute)), Options: options()[4:], Require: floor},
			want{step: StepError, err: ErrUnmet, target: subs, desc: "acr " + subs + " cannot be reached"}},
		{"a floor only a factor the client does not allow could reach is unmet",
			Input{Session: session(pwd(time.Minute)), Options: options("totp"), Require: policy.Requirement{Want: []string{high}, MinACR: high, AllowedFactors: []string{"totp"}}},
			want{step: StepError, err: ErrUnmet, target: high, desc: "acr " + high + " cannot be reached"}},
		{"an essential acr no registered factor reaches is unmet, naming it",
			Input{Session: session(pwd(time.Minute)), Options: options("totp")[:3], Require: policy.Requirement{Want: []string{high}, Essential: true}},
			want{step: StepError, err: ErrUnmet, target: high, desc: "essential acr " + high}},
		{"an unknown essential acr is unmet",
			Input{Session: session(pwd(time.Minute)), Options: options("totp"), Require: policy.Requirement{Want: []string{"urn:nope"}, Essential: true}},
			want{step: StepError, err: ErrUnmet, target: "urn:nope", desc: "essential acr urn:nope"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Request = &store.AuthRequest{CreatedAt: created}
			in.Table = assurance.DefaultTable("")
			in.Now = now
			d := Next(in)
			got := want{step: d.Step, factor: d.Factor, factors: d.Factors, target: d.Target, skippable: d.Skippable, daysLeft: d.DaysLeft, err: d.Error}
			if d.Step == StepDone {
				got.acr = d.Result.ACR
			}
			w := c.want
			if d.Step == StepFactor && w.factors == nil {
				got.factors = nil // the list behind "use another method" is checked where a case names it
			}
			if got.step != w.step || got.factor != w.factor || !slices.Equal(got.factors, w.factors) || got.acr != w.acr ||
				got.target != w.target || got.skippable != w.skippable || got.daysLeft != w.daysLeft || got.err != w.err {
				t.Fatalf("got  %+v\nwant %+v\n(%s)", got, w, d.Description)
			}
			if !strings.Contains(d.Description, w.desc) {
				t.Fatalf("description %q does not say %q", d.Description, w.desc)
			}
			// Whatever the case, a token never claims what was not reached.
			if d.Step == StepDone && d.Result.ACR != "" && !d.Result.Has(d.Result.ACR) {
				t.Fatalf("reports %q, reached only %v", d.Result.ACR, d.Result.Reached)
			}
		})
	}
}

func TestDoneCarriesTheAMRAndAuthTimeOfTheReportedACR(t *testing.T) {
	p, s := pwd(20*time.Hour), proved("sms", time.Hour)
	in := Input{
		Request: &store.AuthRequest{CreatedAt: created}, Session: session(p, s), Options: options("sms"),
		Require: policy.Requirement{Want: []string{subs, assurance.MFA}}, Table: assurance.DefaultTable(""), Now: now,
	}
	// The password is 20 hours old: substantial is out of reach without
	// the credentials again, which a voluntary wish does ask for.
	if d := Next(in); d.Step != StepCredentials || d.Target != subs {
		t.Fatalf("got %v target %q", d.Step, d.Target)
	}
	// With the password fresh, both count and substantial is reported.
	in.Session = session(pwd(time.Minute), s)
	d := Next(in)
	if d.Step != StepDone || d.Result.ACR != subs || !slices.Equal(d.Result.AMR, []string{"pwd", "sms", "mfa"}) || !d.Result.AuthTime.Equal(s.At) {
		t.Fatalf("got %+v", d)
	}
	// Only mfa wished: reported with its own basis.
	in.Session = session(p, s)
	in.Require.Want = []string{assurance.MFA}
	d = Next(in)
	if d.Step != StepDone || d.Result.ACR != assurance.MFA || !d.Result.AuthTime.Equal(p.At) {
		t.Fatalf("got %+v", d)
	}
}

func TestCredentialsProofIsOneKnowledgeFactor(t *testing.T) {
	p := CredentialsProof(now)
	if p.Factor != CredentialsFactor || !slices.Equal(p.AMR, []string{"pwd"}) || !slices.Equal(p.Kinds, []string{"knowledge"}) || !p.At.Equal(now) {
		t.Fatalf("got %+v", p)
	}
}
