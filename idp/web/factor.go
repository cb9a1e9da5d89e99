// This file runs factors inside the login: the challenge page, the answer,
// and enrolment (the offer with its grace period, the factor's own set-up
// page, and the backup factor that follows the first one). The engine only
// talks to factors through package factors; it knows none by name.

package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/flow"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// loadActive loads the flow of a POST made after the credentials. A nil
// state with a nil error means the response is written: an error page, or
// back to the flow's page when the credentials are not (or no longer)
// proved by this browser's session.
func (h *loginHandler) loadActive(c echo.Context) (*loginState, error) {
	st, err := h.loadFlow(c, flowParam(c))
	if err != nil {
		return nil, h.loadFailed(c, st, err)
	}
	if st.user == nil || st.sess == nil || st.sess.UserID != st.user.ID {
		return nil, seeFlow(c, st.flow.ID)
	}
	return st, nil
}

// liveChallenge returns the flow's challenge if it can still be answered,
// and whether it ended by running out of attempts.
func (h *loginHandler) liveChallenge(c echo.Context, st *loginState) (ch *store.Challenge, exhausted bool, err error) {
	if st.flow.ChallengeID == "" {
		return nil, false, nil
	}
	ch, err = h.s.Store.ChallengeByID(c.Request().Context(), st.flow.ChallengeID, h.s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if ch.FlowID != st.flow.ID || ch.UserID != st.user.ID || ch.Factor != st.flow.Factor || ch.ConsumedAt != nil {
		return nil, false, nil
	}
	if ch.Attempts >= ch.MaxAttempts {
		return ch, true, nil
	}
	return ch, false, nil
}

// attempt builds the factor's view of a challenge.
func (h *loginHandler) attempt(c echo.Context, st *loginState, f factors.Factor, ch *store.Challenge) factors.Attempt {
	return factors.Attempt{
		FlowID: st.flow.ID, User: st.user, Challenge: ch, Enrollments: st.confirmed(f.ID()),
		Lang: lang(c), IP: c.RealIP(), Now: h.s.Now(),
	}
}

// enrollAttempt builds the factor's view of a set-up; e is nil to begin one.
func (h *loginHandler) enrollAttempt(c echo.Context, st *loginState, e *store.Enrollment) factors.EnrollAttempt {
	return factors.EnrollAttempt{
		FlowID: st.flow.ID, User: st.user, Enrollment: e, Lang: lang(c), IP: c.RealIP(), Now: h.s.Now(),
	}
}

// showFactor renders the page of the factor flow.Next chose, starting a
// challenge when none is live. Reloading shows the same challenge.
func (h *loginHandler) showFactor(c echo.Context, st *loginState, d flow.Decision, page map[string]any, status int) error {
	ctx := c.Request().Context()
	f, ok := h.s.Factors.Get(d.Factor)
	if !ok {
		return errors.New("web: flow chose an unregistered factor " + d.Factor)
	}
	locked, err := h.accountLocked(ctx, st.user.ID)
	if err != nil {
		return err
	}
	if locked {
		return h.lockedPage(c, st)
	}
	if st.flow.Factor != d.Factor {
		st.flow.Factor, st.flow.ChallengeID = d.Factor, ""
	}
	ch, exhausted, err := h.liveChallenge(c, st)
	if err != nil {
		return err
	}
	data := st.pageData(page)
	data["Another"] = len(d.Factors) > 1
	data["FactorNameID"] = f.ID() + ".name"
	if exhausted {
		return c.Render(http.StatusOK, "flow_exhausted", data)
	}
	var prompt factors.Prompt
	if ch == nil {
		now := h.s.Now()
		ch = &store.Challenge{
			ID: security.RandomToken(24), FlowID: st.flow.ID, UserID: st.user.ID, Factor: f.ID(),
			MaxAttempts: h.s.Limits.MaxAttempts, CreatedAt: now, ExpiresAt: now.Add(h.s.Limits.ChallengeLifetime),
		}
		if ch.ExpiresAt.After(st.flow.ExpiresAt) {
			ch.ExpiresAt = st.flow.ExpiresAt
		}
		if err := h.s.Store.CreateChallenge(ctx, ch); err != nil {
			return err
		}
		st.flow.ChallengeID = ch.ID
		saved, err := h.saveFlow(ctx, st)
		if err != nil {
			return err
		}
		if !saved {
			// Another request of this flow got there first: show its state.
			return seeFlow(c, st.flow.ID)
		}
		if prompt, err = f.Start(ctx, h.attempt(c, st, f, ch)); err != nil {
			return err
		}
	} else if prompt, err = f.Prompt(ctx, h.attempt(c, st, f, ch)); err != nil {
		return err
	}
	if _, ok := f.(factors.Poller); ok {
		data["PollURL"] = pollURL(st.flow.ID)
	}
	mergePrompt(data, prompt)
	data["AttemptsLeft"] = ch.MaxAttempts - ch.Attempts
	return c.Render(status, prompt.Template, data)
}

// answer is POST /login/factor: check the answer to the live challenge.
// op=retry starts a new challenge after one ran out of attempts.
func (h *loginHandler) answer(c echo.Context) error {
	st, err := h.loadActive(c)
	if st == nil || err != nil {
		return err
	}
	ctx := c.Request().Context()
	d := h.decide(st, "")
	if d.Step != flow.StepFactor || d.Factor != st.flow.Factor {
		// Already proved (a double submit), or the flow moved on.
		return seeFlow(c, st.flow.ID)
	}
	ch, exhausted, err := h.liveChallenge(c, st)
	if err != nil {
		return err
	}
	if c.FormValue("op") == "resend" {
		if exhausted {
			return seeFlow(c, st.flow.ID)
		}
		return h.resend(c, st, d, ch)
	}
	if c.FormValue("op") == "retry" {
		if exhausted {
			st.flow.ChallengeID = ""
			if _, err := h.saveFlow(ctx, st); err != nil {
				return err
			}
		}
		return seeFlow(c, st.flow.ID)
	}
	if ch == nil || exhausted {
		return seeFlow(c, st.flow.ID)
	}
	locked, err := h.accountLocked(ctx, st.user.ID)
	if err != nil {
		return err
	}
	if locked {
		return h.lockedPage(c, st)
	}
	f, _ := h.s.Factors.Get(d.Factor)
	in, err := formInput(c)
	if err != nil {
		return err
	}
	res, err := f.Check(ctx, h.attempt(c, st, f, ch), in)
	switch {
	case factors.IsMalformed(err):
		page := st.pageData(nil)
		fieldErrors(page, err)
		return h.showFactor(c, st, d, page, http.StatusBadRequest)
	case factors.IsWrong(err):
		n, ferr := h.s.Store.FailChallenge(ctx, ch.ID, h.s.Now())
		if errors.Is(ferr, store.ErrConsumed) || errors.Is(ferr, store.ErrNotFound) {
			return seeFlow(c, st.flow.ID)
		}
		if ferr != nil {
			return ferr
		}
		nowLocked, ferr := h.countFailure(c, st, f.ID())
		if ferr != nil {
			return ferr
		}
		if nowLocked {
			return h.lockedPage(c, st)
		}
		if n >= ch.MaxAttempts {
			h.s.audit(c, st.user.ID, st.req.ClientID, "factor.challenge_exhausted", map[string]string{"factor": f.ID()})
			return seeFlow(c, st.flow.ID)
		}
		page := st.pageData(nil)
		fieldErrors(page, err)
		return h.showFactor(c, st, d, page, http.StatusUnprocessableEntity)
	case err != nil:
		return err
	}
	if err := h.s.Store.ConsumeChallenge(ctx, ch.ID, h.s.Now()); err != nil {
		if errors.Is(err, store.ErrConsumed) || errors.Is(err, store.ErrNotFound) {
			// A racing request consumed it first; it owns the outcome.
			return seeFlow(c, st.flow.ID)
		}
		return err
	}
	if err := h.forgetFailures(ctx, st.user.ID); err != nil {
		return err
	}
	if err := h.addProof(c, st, res.Proof); err != nil {
		return err
	}
	h.s.audit(c, st.user.ID, st.req.ClientID, "login.factor", map[string]string{"factor": f.ID()})
	if res.Notice != nil {
		data := st.pageData(res.Notice.Data)
		return c.Render(http.StatusOK, res.Notice.Template, data)
	}
	return seeFlow(c, st.flow.ID)
}

// mergePrompt adds a factor's page data to the engine's. The engine's
// message (a wrong answer, a refused resend) wins over the factor's own
// (the last send failed): it answers what the person just did.
func mergePrompt(data map[string]any, p factors.Prompt) {
	for k, v := range p.Data {
		if k == "Error" && data["Error"] != nil {
			continue
		}
		data[k] = v
	}
}

// showEnrollOffer is the page that asks the person to set up a factor
// their portal requires, with "Skip (N days left)" during the grace period.
func (h *loginHandler) showEnrollOffer(c echo.Context, st *loginState, d flow.Decision, page map[string]any) error {
	ctx := c.Request().Context()
	if st.user.EnrolOfferedAt == nil {
		// The grace period starts at the first offer.
		at, err := h.s.Store.MarkEnrolOffered(ctx, st.user.ID, h.s.Now())
		if err != nil {
			return err
		}
		st.user.EnrolOfferedAt = &at
		d = h.decide(st, "")
		if d.Step != flow.StepEnroll {
			return h.dispatch(c, st, page)
		}
	}
	type offer struct{ ID, NameID, DescriptionID string }
	var offers []offer
	for _, id := range d.Factors {
		offers = append(offers, offer{ID: id, NameID: id + ".name", DescriptionID: id + ".description"})
	}
	data := st.pageData(page)
	data["Offers"] = offers
	data["Skippable"] = d.Skippable
	data["DaysLeft"] = d.DaysLeft
	return c.Render(http.StatusOK, "flow_enroll", data)
}

// showEnrollment renders the set-up page of the pending enrollment.
func (h *loginHandler) showEnrollment(c echo.Context, st *loginState, page map[string]any, status int) error {
	ctx := c.Request().Context()
	f, e, err := h.pendingEnrollment(c, st)
	if err != nil {
		return err
	}
	if e == nil {
		st.flow.Enrolling, st.flow.EnrollmentID = "", ""
		if _, err := h.saveFlow(ctx, st); err != nil {
			return err
		}
		return seeFlow(c, st.flow.ID)
	}
	prompt, err := f.EnrollPrompt(ctx, h.enrollAttempt(c, st, e))
	if err != nil {
		return err
	}
	data := st.pageData(page)
	if _, ok := f.(factors.Poller); ok {
		data["PollURL"] = pollURL(st.flow.ID)
	}
	data["Alternatives"] = h.alternatives(st, f)
	mergePrompt(data, prompt)
	return c.Render(status, prompt.Template, data)
}

// pendingEnrollment returns the factor and pending enrollment the flow is
// setting up; e is nil when it is gone or already confirmed.
func (h *loginHandler) pendingEnrollment(c echo.Context, st *loginState) (factors.Enroller, *store.Enrollment, error) {
	f, ok := h.s.Factors.Get(st.flow.Enrolling)
	en, isEnroller := f.(factors.Enroller)
	if !ok || !isEnroller || st.user == nil {
		return nil, nil, nil
	}
	e, err := h.s.Store.EnrollmentByID(c.Request().Context(), st.flow.EnrollmentID)
	if errors.Is(err, store.ErrNotFound) {
		return en, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if e.UserID != st.user.ID || e.Factor != f.ID() || e.Confirmed() {
		return en, nil, nil
	}
	return en, e, nil
}

// mayBeginEnroll reports whether the person may start setting up factor
// now: when the flow asks for it, or for a backup factor (new recovery
// codes) once a factor other than the password was proved in this flow.
func (h *loginHandler) mayBeginEnroll(st *loginState, d flow.Decision, factor string) bool {
	f, ok := h.s.Factors.Get(factor)
	if !ok {
		return false
	}
	if _, ok := f.(factors.Enroller); !ok {
		return false
	}
	if len(st.pol.AllowedFactors) > 0 && !slices.Contains(st.pol.AllowedFactors, factor) {
		return false
	}
	if d.Step == flow.StepEnroll && slices.Contains(d.Factors, factor) {
		return true
	}
	if !f.Properties().Backup || st.sess == nil {
		return false
	}
	return slices.ContainsFunc(st.sess.Proofs, func(p store.Proof) bool {
		return p.Factor != flow.CredentialsFactor && !p.At.Before(st.flow.CreatedAt)
	})
}

// enroll is POST /login/enroll: op=begin (factor=...), op=finish (the
// factor's form), op=skip (within the grace period).
func (h *loginHandler) enroll(c echo.Context) error {
	st, err := h.loadActive(c)
	if st == nil || err != nil {
		return err
	}
	ctx := c.Request().Context()
	d := h.decide(st, "")
	switch c.FormValue("op") {
	case "begin":
		factor := c.FormValue("factor")
		if st.flow.Enrolling == factor && st.flow.EnrollmentID != "" {
			return seeFlow(c, st.flow.ID) // double submit
		}
		if !h.mayBeginEnroll(st, d, factor) {
			return &PageError{Status: http.StatusBadRequest, MessageID: "error.enrol_not_allowed"}
		}
		return h.beginEnroll(c, st, factor)
	case "finish":
		return h.finishEnroll(c, st)
	case "skip":
		if d.Step != flow.StepEnroll || !d.Skippable {
			return seeFlow(c, st.flow.ID)
		}
		st.flow.SkippedEnrol = true
		saved, err := h.saveFlow(ctx, st)
		if err != nil {
			return err
		}
		if saved {
			h.s.audit(c, st.user.ID, st.req.ClientID, "enrol.skipped", map[string]string{"days_left": strconv.Itoa(d.DaysLeft)})
		}
		return seeFlow(c, st.flow.ID)
	}
	return &PageError{Status: http.StatusBadRequest, MessageID: "error.invalid_request", Detail: "op"}
}

// beginEnroll creates a pending enrollment of factor and shows its page.
func (h *loginHandler) beginEnroll(c echo.Context, st *loginState, factor string) error {
	ctx := c.Request().Context()
	f, _ := h.s.Factors.Get(factor)
	e, err := f.(factors.Enroller).BeginEnroll(ctx, h.enrollAttempt(c, st, nil))
	if err != nil {
		return err
	}
	prev := st.flow.EnrollmentID
	st.flow.Enrolling, st.flow.EnrollmentID = factor, e.ID
	saved, err := h.saveFlow(ctx, st)
	if err != nil {
		return err
	}
	if !saved {
		// Lost a race with another submit: drop our pending row.
		_ = h.s.Store.DeleteEnrollment(ctx, e.ID)
	} else if prev != "" {
		h.dropPending(c, st.user.ID, prev)
	}
	return seeFlow(c, st.flow.ID)
}

// dropPending deletes an abandoned pending enrollment of the user.
func (h *loginHandler) dropPending(c echo.Context, userID, id string) {
	ctx := c.Request().Context()
	if e, err := h.s.Store.EnrollmentByID(ctx, id); err == nil && e.UserID == userID && !e.Confirmed() {
		_ = h.s.Store.DeleteEnrollment(ctx, id)
	}
}

// finishEnroll checks the set-up form, confirms the enrollment, records
// the proof it makes, and sets up a backup factor after the first one.
func (h *loginHandler) finishEnroll(c echo.Context, st *loginState) error {
	ctx := c.Request().Context()
	f, e, err := h.pendingEnrollment(c, st)
	if err != nil {
		return err
	}
	if e == nil {
		return seeFlow(c, st.flow.ID) // already finished (double submit) or gone
	}
	locked, err := h.accountLocked(ctx, st.user.ID)
	if err != nil {
		return err
	}
	if locked {
		return h.lockedPage(c, st)
	}
	in, err := formInput(c)
	if err != nil {
		return err
	}
	proof, err := f.FinishEnroll(ctx, h.enrollAttempt(c, st, e), in)
	switch {
	case factors.IsMalformed(err), factors.IsWrong(err):
		status := http.StatusBadRequest
		if factors.IsWrong(err) {
			status = http.StatusUnprocessableEntity
			nowLocked, ferr := h.countFailure(c, st, f.ID())
			if ferr != nil {
				return ferr
			}
			if nowLocked {
				return h.lockedPage(c, st)
			}
		}
		page := st.pageData(nil)
		fieldErrors(page, err)
		keepTyped(page, in)
		return h.showEnrollment(c, st, page, status)
	case errors.Is(err, factors.ErrEnrollContinues), errors.Is(err, store.ErrConflict):
		// A step of a longer set-up was stored (a code sent to the address
		// just entered), or a racing submit got there first: show the
		// set-up page as it now stands.
		return seeFlow(c, st.flow.ID)
	case err != nil:
		return err
	}
	h.s.audit(c, st.user.ID, st.req.ClientID, "factor.enrolled", map[string]string{"factor": f.ID()})
	// Recovery codes set up right after a first factor are part of that
	// set-up: one mail tells of it. New codes made later get their own.
	// The address or number was stored by an earlier step, so the row as
	// read before this one names it.
	if !f.Properties().Backup || st.isAccountFlow() {
		h.s.noticeChange(c, st.user, noticeAdded, *e)
	}
	if proof.Factor != "" {
		if err := h.forgetFailures(ctx, st.user.ID); err != nil {
			return err
		}
		if err := h.addProof(c, st, proof); err != nil {
			return err
		}
	}
	st.flow.Enrolling, st.flow.EnrollmentID = "", ""
	if !f.Properties().Backup {
		if err := h.offerBackup(c, st); err != nil {
			return err
		}
	}
	if _, err := h.saveFlow(ctx, st); err != nil {
		return err
	}
	return seeFlow(c, st.flow.ID)
}

// offerBackup starts the set-up of every allowed backup factor (recovery
// codes) the person has none of, right after their first other factor, so
// a lost phone does not lock them out.
func (h *loginHandler) offerBackup(c echo.Context, st *loginState) error {
	ctx := c.Request().Context()
	for _, f := range h.s.Factors.All() {
		en, ok := f.(factors.Enroller)
		if !ok || !f.Properties().Backup || len(st.confirmed(f.ID())) > 0 {
			continue
		}
		if len(st.pol.AllowedFactors) > 0 && !slices.Contains(st.pol.AllowedFactors, f.ID()) {
			continue
		}
		e, err := en.BeginEnroll(ctx, h.enrollAttempt(c, st, nil))
		if err != nil {
			return err
		}
		st.flow.Enrolling, st.flow.EnrollmentID = f.ID(), e.ID
		return nil
	}
	return nil
}
