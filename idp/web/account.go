// This file is account self-service: the account page lists a person's
// sign-in methods, and adding or removing one is an account change that
// needs a fresh second factor (DESIGN "Account changes need
// confirmation"). A change runs as a login flow of our own: its
// authorization request is made here, not by op, the flow's Purpose names
// the change, flow.Next asks whatever is not fresh enough, and when it is
// done the engine makes the change (a set-up runs in the flow like any
// other enrolment) and sends the person back to the account page instead
// of to a relying party. Every step is the login's own page, so factors
// need nothing new.

package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/policy"
	"github.com/eu-health-idp/idp/idp/store"
)

// AccountClient is the client id written on the authorization requests of
// account flows (it shows in the audit log). Account flows are told apart
// by their Purpose, never by this id, so a relying party registered under
// the same id gains nothing.
const AccountClient = "idp.account"

// accountFreshness is how recent the second factor must be for an account
// change; a proof older than this is asked again.
const accountFreshness = 5 * time.Minute

// Purposes of account flows (store.LoginFlow.Purpose).
const (
	purposeAccount = "account"         // log in to see the account page
	purposeAdd     = "account.add:"    // + factor id: set it up once the factor is fresh
	purposeAdded   = "account.added:"  // + factor id: the set-up has begun
	purposeRemove  = "account.remove:" // + enrollment id: remove it once the factor is fresh
)

// accountNeed is what an account flow must reach. Looking needs the
// password; a change needs a second factor proved in the last
// accountFreshness, or, for someone who has none yet, a password entered
// in the last accountFreshness.
func (h *loginHandler) accountNeed(st *loginState) policy.Requirement {
	need := policy.Requirement{HintUserID: st.req.HintUserID}
	if st.flow.Purpose == purposeAccount {
		return need
	}
	hasFactor := slices.ContainsFunc(st.enrollments, func(e store.Enrollment) bool {
		_, ok := h.s.Factors.Get(e.Factor)
		return ok && e.Confirmed()
	})
	if !hasFactor {
		age := int64(accountFreshness / time.Second)
		need.MaxAge = &age
		return need
	}
	need.Want, need.Essential = []string{secondFactorACR(h.s.Table)}, true
	need.SecondFactorMaxAge = accountFreshness
	return need
}

// secondFactorACR is the acr value that means "two factors": the "mfa"
// alias, or for a table without it, its second level.
func secondFactorACR(t assurance.Table) string {
	if acr, ok := t.Resolve(assurance.MFA); ok {
		return acr
	}
	if len(t.Levels) > 1 {
		return t.Levels[1].ACR
	}
	return t.Levels[0].ACR
}

// accountPage is GET /account: the person's sign-in methods, with buttons
// to add and remove them. Without a session it starts an account login.
func (s *Server) accountPage(c echo.Context) error {
	ctx := c.Request().Context()
	sess, err := s.Sessions.Load(ctx, c.Request())
	if err != nil {
		return err
	}
	if sess == nil {
		return c.Redirect(http.StatusSeeOther, "/login/account")
	}
	u, err := s.Store.UserByID(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		s.Sessions.Clear(c.Response())
		return c.Redirect(http.StatusSeeOther, "/login/account")
	}
	if err != nil {
		return err
	}
	es, err := s.Store.ListEnrollments(ctx, u.ID)
	if err != nil {
		return err
	}
	type method struct {
		ID, Factor, NameID, Label string
		Added                     string
		Backup                    bool
	}
	type offer struct {
		ID, NameID, DescriptionID string
		Backup, Has               bool
	}
	var methods []method
	have := map[string]bool{}
	for _, e := range es {
		f, ok := s.Factors.Get(e.Factor)
		if !ok || !e.Confirmed() {
			continue
		}
		m := method{ID: e.ID, Factor: f.ID(), NameID: f.ID() + ".name", Added: e.ConfirmedAt.Format(time.DateOnly), Backup: f.Properties().Backup}
		if d, ok := f.(factors.Describer); ok {
			m.Label = d.Describe(e)
		}
		methods = append(methods, m)
		have[f.ID()] = true
	}
	var offers []offer
	for _, f := range s.Factors.All() {
		if _, ok := f.(factors.Enroller); ok {
			offers = append(offers, offer{ID: f.ID(), NameID: f.ID() + ".name", DescriptionID: f.ID() + ".description", Backup: f.Properties().Backup, Has: have[f.ID()]})
		}
	}
	done := ""
	switch c.QueryParam("done") {
	case "added", "removed":
		done = "account.done." + c.QueryParam("done")
	}
	return c.Render(http.StatusOK, "account", map[string]any{
		"Username": u.Username, "Methods": methods, "Offers": offers, "Done": done,
	})
}

// accountLogin is GET /login/account: a login to see the account page
// (the page sends a browser without a session here; it lives under /login
// so it sees the flow-binding cookie).
func (h *loginHandler) accountLogin(c echo.Context) error {
	ctx := c.Request().Context()
	sess, err := h.s.Sessions.Load(ctx, c.Request())
	if err != nil {
		return err
	}
	if sess != nil {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return h.beginAccountFlow(c, nil, purposeAccount)
}

// accountChange is POST /login/account from the account page: op=add
// (factor), op=remove (enrollment) start a flow that makes the change
// after a fresh second factor; op=logout ends the session.
func (h *loginHandler) accountChange(c echo.Context) error {
	ctx := c.Request().Context()
	sess, err := h.s.Sessions.Load(ctx, c.Request())
	if err != nil {
		return err
	}
	if sess == nil {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	switch c.FormValue("op") {
	case "add":
		f, ok := h.s.Factors.Get(c.FormValue("factor"))
		if _, enroller := f.(factors.Enroller); !ok || !enroller {
			return &PageError{Status: http.StatusBadRequest, MessageID: "error.enrol_not_allowed"}
		}
		return h.beginAccountFlow(c, sess, purposeAdd+f.ID())
	case "remove":
		e, err := h.s.Store.EnrollmentByID(ctx, c.FormValue("enrollment"))
		if errors.Is(err, store.ErrNotFound) || (err == nil && (e.UserID != sess.UserID || !e.Confirmed())) {
			// Gone already (a double submit) or not theirs: nothing to do.
			return c.Redirect(http.StatusSeeOther, "/account")
		}
		if err != nil {
			return err
		}
		return h.beginAccountFlow(c, sess, purposeRemove+e.ID)
	case "logout":
		if err := h.s.Store.DeleteSession(ctx, sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		h.s.audit(c, sess.UserID, AccountClient, "logout", nil)
		return c.Redirect(http.StatusSeeOther, "/logged-out")
	}
	return &PageError{Status: http.StatusBadRequest, MessageID: "error.invalid_request", Detail: "op"}
}

// beginAccountFlow makes the authorization request and flow of an account
// login or change and shows its first step.
func (h *loginHandler) beginAccountFlow(c echo.Context, sess *store.Session, purpose string) error {
	now := h.s.Now()
	r := &store.AuthRequest{
		ID: uuid.NewString(), ClientID: AccountClient, RedirectURI: "/account",
		Scopes: []string{"openid"}, ResponseType: "code",
		CreatedAt: now, ExpiresAt: now.Add(h.s.Limits.FlowLifetime),
	}
	if sess != nil {
		// The change is the session owner's: someone else's password on
		// this flow does not carry it out.
		r.HintUserID = sess.UserID
	}
	if err := h.s.Store.CreateAuthRequest(c.Request().Context(), r); err != nil {
		return err
	}
	return h.startFlow(c, r, purpose)
}

// completeAccount carries out an account flow's change once flow.Next says
// the person proved what it needs.
func (h *loginHandler) completeAccount(c echo.Context, st *loginState) error {
	ctx := c.Request().Context()
	purpose := st.flow.Purpose
	if st.sess == nil || st.user == nil || st.sess.UserID != st.user.ID ||
		(st.req.HintUserID != "" && st.req.HintUserID != st.user.ID) {
		return &PageError{Status: http.StatusForbidden, MessageID: "error.flow_foreign"}
	}
	if factor, ok := strings.CutPrefix(purpose, purposeAdd); ok {
		// The set-up runs in this flow; once it is confirmed flow.Next is
		// done again and lands below with purposeAdded.
		st.flow.Purpose = purposeAdded + factor
		return h.beginEnroll(c, st, factor)
	}
	done := ""
	switch {
	case strings.HasPrefix(purpose, purposeAdded):
		done = "added"
	case strings.HasPrefix(purpose, purposeRemove):
		id := strings.TrimPrefix(purpose, purposeRemove)
		e, err := h.s.Store.EnrollmentByID(ctx, id)
		if err == nil && e.UserID == st.user.ID {
			if err := h.s.Store.DeleteEnrollment(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			h.s.audit(c, st.user.ID, AccountClient, "factor.removed", map[string]string{"factor": e.Factor})
			h.s.noticeChange(c, st.user, noticeRemoved, *e)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		done = "removed"
	}
	if err := h.s.Sessions.Touch(ctx, st.sess); err != nil {
		return err
	}
	// Done, so reloading the flow's page goes to the account page and
	// changes nothing twice.
	if err := h.s.Store.CompleteAuthRequest(ctx, st.req.ID, store.Completion{
		UserID: st.sess.UserID, SessionID: st.sess.ID, AuthTime: st.sess.AuthTime,
	}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, accountURL(done))
}

// accountURL is the account page, with the message of a change made.
func accountURL(done string) string {
	if done == "" {
		return "/account"
	}
	return "/account?done=" + done
}

// isAccountFlow reports whether st is account self-service.
func (st *loginState) isAccountFlow() bool { return st.flow.Purpose != "" }
