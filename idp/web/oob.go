// This file is the part of the login engine for factors answered out of
// band: sending a code again, the status a page polls while the person
// answers a call, and the keypad callbacks of voice calls. Like the rest
// of the engine it knows no factor by name: it asks for the optional
// interfaces factors.Resender, factors.Poller and factors.Keypad.

package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/flow"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// maxKeypressInput bounds the ref and digits a callback may carry.
const maxKeypressInput = 256

// pollURL is where a page polls the status of flow id.
func pollURL(id string) string { return "/login/status?flow=" + url.QueryEscape(id) }

// resend is POST /login/factor op=resend: a new code or call for the live
// challenge, to the same destination or to another of the person's.
func (h *loginHandler) resend(c echo.Context, st *loginState, d flow.Decision, ch *store.Challenge) error {
	f, _ := h.s.Factors.Get(d.Factor)
	rs, ok := f.(factors.Resender)
	if !ok || ch == nil {
		return seeFlow(c, st.flow.ID)
	}
	in, err := formInput(c)
	if err != nil {
		return err
	}
	err = rs.Resend(c.Request().Context(), h.attempt(c, st, f, ch), in)
	var fe *factors.Error
	switch {
	case errors.As(err, &fe):
		page := st.pageData(nil)
		fieldErrors(page, err)
		return h.showFactor(c, st, d, page, http.StatusTooManyRequests)
	case errors.Is(err, store.ErrConsumed), errors.Is(err, store.ErrNotFound):
		return seeFlow(c, st.flow.ID) // answered or expired meanwhile
	case err != nil:
		return err
	}
	h.s.audit(c, st.user.ID, st.req.ClientID, "factor.resent", map[string]string{"factor": f.ID()})
	return seeFlow(c, st.flow.ID)
}

// status is GET /login/status?flow=...: how far the answer to the flow's
// live challenge or set-up has come, as {"status": "pending"|"answered"|
// "failed"}. Anything unexpected is "failed", which makes the page reload
// and show the real state.
func (h *loginHandler) status(c echo.Context) error {
	failed := map[string]factors.Status{"status": factors.Failed}
	st, err := h.loadFlow(c, c.QueryParam("flow"))
	if err != nil || st.user == nil || st.sess == nil || st.sess.UserID != st.user.ID {
		var pe *PageError
		if err != nil && !errors.As(err, &pe) {
			return err
		}
		return c.JSON(http.StatusOK, failed)
	}
	ctx := c.Request().Context()
	var s factors.Status
	if st.flow.Enrolling != "" {
		f, e, err := h.pendingEnrollment(c, st)
		if err != nil {
			return err
		}
		p, ok := f.(factors.Poller)
		if e == nil || !ok {
			return c.JSON(http.StatusOK, failed)
		}
		if s, err = p.EnrollStatus(ctx, h.enrollAttempt(c, st, e)); err != nil {
			return err
		}
	} else {
		f, ok := h.s.Factors.Get(st.flow.Factor)
		p, isPoller := f.(factors.Poller)
		if !ok || !isPoller {
			return c.JSON(http.StatusOK, failed)
		}
		ch, exhausted, err := h.liveChallenge(c, st)
		if err != nil {
			return err
		}
		if ch == nil || exhausted {
			return c.JSON(http.StatusOK, failed)
		}
		if s, err = p.Status(ctx, h.attempt(c, st, f, ch)); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, map[string]factors.Status{"status": s})
}

// voiceHook is POST /hooks/voice, the voice provider's callback with the
// digits typed during a call. It is authenticated by the provider's
// signature, not by a session: the caller is Twilio, not the browser.
func (s *Server) voiceHook(c echo.Context) error {
	if s.VoiceCallbacks == nil {
		return echo.ErrNotFound
	}
	kp, err := s.VoiceCallbacks.ParseKeypress(c.Request())
	if err != nil {
		s.log.Warn("voice callback refused", "err", err, "ip", c.RealIP())
		return c.NoContent(http.StatusForbidden)
	}
	if kp.Ended {
		s.callEnded(c, kp.Ref)
		return c.NoContent(http.StatusNoContent)
	}
	reply := s.keypress(c, kp.Ref, kp.Digits)
	return s.VoiceCallbacks.WriteReply(c.Response(), reply)
}

// callEnded tells the factor that placed call ref that it is over.
func (s *Server) callEnded(c echo.Context, ref string) {
	if len(ref) > maxKeypressInput {
		return
	}
	id, _, _ := strings.Cut(ref, ".")
	f, ok := s.Factors.Get(id)
	ce, isEnder := f.(factors.CallEnder)
	if !ok || !isEnder {
		return
	}
	if err := ce.CallEnded(c.Request().Context(), ref, s.Now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("call ended", "factor", id, "err", err)
	}
}

// keypress hands the digits typed during call ref to the factor that
// placed it (the ref starts with its id) and returns what the call says.
// An unknown, finished or malformed call hears a goodbye and nothing
// changes.
func (s *Server) keypress(c echo.Context, ref, digits string) notify.Reply {
	goodbye := notify.Reply{Text: s.I18n.Localizer(s.I18n.Match("", "")).T("factor.call.goodbye"), Lang: "en"}
	if len(ref) > maxKeypressInput || len(digits) > maxKeypressInput {
		return goodbye
	}
	id, _, _ := strings.Cut(ref, ".")
	f, ok := s.Factors.Get(id)
	kp, isKeypad := f.(factors.Keypad)
	if !ok || !isKeypad {
		return goodbye
	}
	ctx := c.Request().Context()
	k, err := kp.Keypress(ctx, ref, digits, s.Now())
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("keypress", "factor", id, "err", err)
		}
		return goodbye
	}
	if k.WrongFor != "" {
		// A wrong entry on the phone costs what a wrong code on the page
		// does: the caller is the provider, so only the person's budget
		// counts, not an IP's.
		locked, err := s.FactorThrottle.Fail(ctx, security.ScopeFactor, k.WrongFor, "")
		if err != nil {
			s.log.Error("keypress: count a wrong entry", "factor", id, "err", err)
		}
		s.audit(c, k.WrongFor, "", "factor.failure", map[string]string{"factor": id})
		if locked {
			s.audit(c, k.WrongFor, "", "factor.lockout", map[string]string{"factor": id})
		}
	}
	return k.Reply
}

// alternatives lists the factors a person setting up a "restricted" one
// (SMS, voice) could set up instead, per NIST SP 800-63B: the offer's
// candidates that are not restricted themselves.
func (h *loginHandler) alternatives(st *loginState, current factors.Factor) []map[string]string {
	if !current.Properties().Restricted {
		return nil
	}
	d := h.decide(st, "")
	if d.Step != flow.StepEnroll {
		return nil
	}
	var out []map[string]string
	for _, id := range d.Factors {
		f, ok := h.s.Factors.Get(id)
		if !ok || id == current.ID() || f.Properties().Restricted || f.Properties().Backup {
			continue
		}
		out = append(out, map[string]string{"ID": id, "NameID": id + ".name"})
	}
	return out
}
