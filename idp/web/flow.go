// This file holds the login engine: it loads the persisted login flow, asks
// flow.Next what comes next, and carries the decision out. Every POST of the
// login (credentials, factor answer, choice, enrolment) updates the flow and
// redirects back to GET /login?flow=..., where the decision is made again:
// steps never link to each other, and a reload or a double submit lands on
// the same page.

package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/flow"
	"github.com/eu-health-idp/idp/idp/oidcop"
	"github.com/eu-health-idp/idp/idp/policy"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// bindingCookie ties login flows to the browser that started them: a flow
// id copied into another browser is refused.
const bindingCookie = "idp_login"

// maxFlowIDLen bounds the flow id we look up.
const maxFlowIDLen = 64

// FlowLimits are the attempt limit and lifetimes of the login (config
// "factors.*", validated there). The per-person budget of wrong answers is
// Deps.FactorThrottle.
type FlowLimits struct {
	MaxAttempts       int // wrong answers per challenge
	ChallengeLifetime time.Duration
	FlowLifetime      time.Duration
}

// loginState is everything one request of the login looks at.
type loginState struct {
	flow        *store.LoginFlow
	req         *store.AuthRequest
	sess        *store.Session // nil when the browser has none
	user        *store.User    // nil before the credentials
	need        policy.Requirement
	pol         store.ClientPolicy
	enrollments []store.Enrollment // the user's, pending ones too
}

// flowURL is the page of flow id.
func flowURL(id string) string { return "/login?flow=" + url.QueryEscape(id) }

// seeFlow sends the browser back to the flow's page after a POST.
func seeFlow(c echo.Context, id string) error {
	return c.Redirect(http.StatusSeeOther, flowURL(id))
}

// browserHash returns the hash of the browser's binding cookie, setting a
// new cookie when it has none.
func (s *Server) browserHash(c echo.Context, create bool) string {
	if ck, err := c.Cookie(bindingCookie); err == nil && len(ck.Value) >= 32 && len(ck.Value) <= 128 {
		return security.HashToken(ck.Value)
	}
	if !create {
		return ""
	}
	raw := security.RandomToken(32)
	c.SetCookie(&http.Cookie{Name: bindingCookie, Value: raw, Path: "/login", HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
	return security.HashToken(raw)
}

// beginFlow is GET /login?id=...: op sent the browser here with a new
// authorization request. A finished request goes straight back to op.
func (h *loginHandler) beginFlow(c echo.Context, authRequestID string) error {
	r, err := h.loadRequest(c, authRequestID)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if r.Done {
		return c.Redirect(http.StatusFound, h.s.Provider.CallbackURL(ctx, r.ID))
	}
	return h.startFlow(c, r, "")
}

// startFlow creates the flow of authorization request r for this browser
// and carries out its first decision.
func (h *loginHandler) startFlow(c echo.Context, r *store.AuthRequest, purpose string) error {
	ctx := c.Request().Context()
	now := h.s.Now()
	f := &store.LoginFlow{
		ID: security.RandomToken(24), AuthRequestID: r.ID, BrowserHash: h.s.browserHash(c, true),
		Purpose: purpose, CreatedAt: now, ExpiresAt: now.Add(h.s.Limits.FlowLifetime),
	}
	if r.ExpiresAt.Before(f.ExpiresAt) {
		f.ExpiresAt = r.ExpiresAt
	}
	sess, err := h.s.Sessions.Load(ctx, c.Request())
	if err != nil {
		return err
	}
	if sess != nil {
		// The SSO session's owner continues here (step-up); logging in as
		// someone else on the password form replaces them.
		f.UserID = sess.UserID
		f.StartACR = h.s.Table.Evaluate(sess.Proofs, assurance.Context{Now: now, LastSeen: sess.LastSeenAt}).ACR
	}
	if err := h.s.Store.CreateLoginFlow(ctx, f); err != nil {
		return err
	}
	// Straight to the decision: a usable SSO session finishes without a
	// page, and the common case costs no extra round trip.
	st, err := h.loadState(c, f, r)
	if err != nil {
		return err
	}
	return h.dispatch(c, st, nil)
}

// loadFlow reads the flow named by the request and checks it belongs to
// this browser. Unknown, expired and foreign flows are the same error page:
// nothing about them is revealed or changed.
func (h *loginHandler) loadFlow(c echo.Context, id string) (*loginState, error) {
	if id == "" || len(id) > maxFlowIDLen {
		return nil, &PageError{Status: http.StatusBadRequest, MessageID: "error.flow_expired"}
	}
	ctx := c.Request().Context()
	f, err := h.s.Store.LoginFlowByID(ctx, id, h.s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, &PageError{Status: http.StatusBadRequest, MessageID: "error.flow_expired", Err: err}
	}
	if err != nil {
		return nil, err
	}
	if bh := h.s.browserHash(c, false); bh == "" || !security.ConstantTimeEqual(bh, f.BrowserHash) {
		return nil, &PageError{Status: http.StatusForbidden, MessageID: "error.flow_foreign"}
	}
	r, err := h.loadRequest(c, f.AuthRequestID)
	if err != nil {
		return nil, err
	}
	return h.loadState(c, f, r)
}

// loadState gathers the session, user, policy and enrollments of a flow.
func (h *loginHandler) loadState(c echo.Context, f *store.LoginFlow, r *store.AuthRequest) (*loginState, error) {
	ctx := c.Request().Context()
	st := &loginState{flow: f, req: r}
	var err error
	if st.sess, err = h.s.Sessions.Load(ctx, c.Request()); err != nil {
		return nil, err
	}
	if st.pol, err = h.s.clientPolicy(ctx, r.ClientID); err != nil {
		return nil, err
	}
	if f.Purpose == "" {
		if st.need, err = policy.Resolve(h.s.Table, st.pol, r); err != nil {
			return st, &requestError{err: err}
		}
	} else {
		// Account self-service: every registered factor may be used and
		// set up, whatever a client of the same id would allow.
		st.pol = policy.Default()
	}
	if f.UserID != "" {
		u, err := h.s.Store.UserByID(ctx, f.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && !u.Disabled {
			st.user = u
			if st.enrollments, err = h.s.Store.ListEnrollments(ctx, u.ID); err != nil {
				return nil, err
			}
		}
	}
	if f.Purpose != "" {
		st.need = h.accountNeed(st)
	}
	return st, nil
}

// requestError is a malformed authorization request found while loading
// (a bad claims parameter): it ends at the client with invalid_request.
type requestError struct{ err error }

func (e *requestError) Error() string { return e.err.Error() }

// clientPolicy returns the client's policy, or the configured default.
func (s *Server) clientPolicy(ctx context.Context, clientID string) (store.ClientPolicy, error) {
	p, err := s.Store.ClientPolicy(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		d := s.DefaultPolicy
		d.ClientID = clientID
		return d, nil
	}
	if err != nil {
		return store.ClientPolicy{}, err
	}
	return *p, nil
}

// decide runs flow.Next on st; factor overrides the chosen factor
// ("-" clears it, to list every candidate).
func (h *loginHandler) decide(st *loginState, factor string) flow.Decision {
	f := *st.flow
	if factor == "-" {
		f.Factor = ""
	}
	if st.user == nil {
		// The flow's user is gone or disabled: nobody has proved anything.
		f.UserID = ""
	}
	in := flow.Input{
		Request: st.req, Require: st.need, Session: st.sess, Flow: &f,
		Options: h.options(st), Table: h.s.Table, Now: h.s.Now(),
	}
	if st.user != nil {
		in.LastFactor = st.user.LastFactor
		in.EnrolOfferedAt = st.user.EnrolOfferedAt
	}
	return flow.Next(in)
}

// options describes every registered factor for this person.
func (h *loginHandler) options(st *loginState) []flow.Option {
	all := h.s.Factors.All()
	opts := make([]flow.Option, 0, len(all))
	for _, f := range all {
		_, enrollable := f.(factors.Enroller)
		o := flow.Option{ID: f.ID(), Props: f.Properties(), Enrollable: enrollable}
		for i := range st.enrollments {
			if e := &st.enrollments[i]; e.Factor == o.ID && e.Confirmed() {
				o.Enrolled = true
				break
			}
		}
		opts = append(opts, o)
	}
	return opts
}

// confirmed returns the user's confirmed enrollments of factor.
func (st *loginState) confirmed(factor string) []store.Enrollment {
	var out []store.Enrollment
	for _, e := range st.enrollments {
		if e.Factor == factor && e.Confirmed() {
			out = append(out, e)
		}
	}
	return out
}

// pageData is the data every page of the flow gets.
func (st *loginState) pageData(extra map[string]any) map[string]any {
	m := map[string]any{"FlowID": st.flow.ID, "Client": st.req.ClientID, "Account": st.isAccountFlow(), "FieldErrors": map[string]string{}, "Typed": map[string]string{}}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// show is GET /login: ?id= starts a flow for op's request, ?flow= shows the
// flow's current step.
func (h *loginHandler) show(c echo.Context) error {
	if id := c.QueryParam("flow"); id != "" {
		st, err := h.loadFlow(c, id)
		if err != nil {
			return h.loadFailed(c, st, err)
		}
		return h.dispatch(c, st, nil)
	}
	return h.beginFlow(c, c.QueryParam("id"))
}

// loadFailed turns a malformed authorization request into an OAuth error
// at the client, and any other failure into the error page.
func (h *loginHandler) loadFailed(c echo.Context, st *loginState, err error) error {
	var re *requestError
	if errors.As(err, &re) && st != nil {
		return h.s.oauthError(c, st.req, oidc.ErrInvalidRequest().WithDescription("%s", re.err.Error()))
	}
	return err
}

// dispatch carries out the flow's decision for st. formErr, when set, is
// shown on the page of the current step.
func (h *loginHandler) dispatch(c echo.Context, st *loginState, page map[string]any) error {
	if st.req.Done {
		return h.finished(c, st)
	}
	d := h.decide(st, "")
	if d.Step != flow.StepCredentials && d.Step != flow.StepError && st.flow.Enrolling != "" && st.flow.EnrollmentID != "" {
		// An enrolment under way (a backup factor right after the first
		// one, or new recovery codes) finishes before the login goes on.
		return h.showEnrollment(c, st, page, http.StatusOK)
	}
	switch d.Step {
	case flow.StepCredentials:
		return h.credentialsForm(c, st, page, http.StatusOK)
	case flow.StepChooseFactor:
		return c.Render(http.StatusOK, "flow_choose", st.pageData(h.chooserData(st, d.Factors)))
	case flow.StepFactor:
		return h.showFactor(c, st, d, page, http.StatusOK)
	case flow.StepEnroll:
		return h.showEnrollOffer(c, st, d, page)
	case flow.StepError:
		e := oidc.ErrLoginRequired().WithDescription("%s", d.Description)
		switch d.Error {
		case flow.ErrUnmet:
			e = oidcop.ErrUnmet(d.Description)
		case flow.ErrInteractionRequired:
			e = oidc.ErrInteractionRequired().WithDescription("%s", d.Description)
		}
		h.s.audit(c, st.flow.UserID, st.req.ClientID, "login.refused", map[string]string{"error": d.Error})
		return h.s.oauthError(c, st.req, e)
	}
	return h.complete(c, st, d)
}

// finished answers a request of a flow that is already done: back to op,
// which sends the code to the client, or to the account page.
func (h *loginHandler) finished(c echo.Context, st *loginState) error {
	if st.isAccountFlow() {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return c.Redirect(http.StatusFound, h.s.Provider.CallbackURL(c.Request().Context(), st.req.ID))
}

// complete hands the finished login back to op.
func (h *loginHandler) complete(c echo.Context, st *loginState, d flow.Decision) error {
	if st.isAccountFlow() {
		return h.completeAccount(c, st)
	}
	ctx := c.Request().Context()
	if err := h.s.Sessions.Touch(ctx, st.sess); err != nil {
		return err
	}
	err := h.s.Store.CompleteAuthRequest(ctx, st.req.ID, store.Completion{
		UserID: st.sess.UserID, SessionID: st.sess.ID, AuthTime: d.Result.AuthTime, ACR: d.Result.ACR, AMR: d.Result.AMR,
	})
	if err != nil {
		return err
	}
	if st.flow.StartACR != "" && h.s.Table.Rank(d.Result.ACR) > h.s.Table.Rank(st.flow.StartACR) {
		h.s.audit(c, st.sess.UserID, st.req.ClientID, "login.step_up", map[string]string{"from": st.flow.StartACR, "to": d.Result.ACR})
	}
	if st.flow.SkippedEnrol {
		h.s.audit(c, st.sess.UserID, st.req.ClientID, "login.below_minimum", map[string]string{"acr": d.Result.ACR, "min_acr": st.need.MinACR})
	}
	return c.Redirect(http.StatusFound, h.s.Provider.CallbackURL(ctx, st.req.ID))
}

// saveFlow writes st.flow. A concurrent update (a double submit) wins
// quietly: the caller redirects to the flow page, which decides again from
// whatever was stored.
func (h *loginHandler) saveFlow(ctx context.Context, st *loginState) (bool, error) {
	err := h.s.Store.UpdateLoginFlow(ctx, st.flow, h.s.Now())
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrConflict):
		return false, nil
	case errors.Is(err, store.ErrNotFound):
		return false, &PageError{Status: http.StatusBadRequest, MessageID: "error.flow_expired", Err: err}
	}
	return false, err
}

// chooserData lists the candidates with the person's last choice first
// (flow.Next orders them).
func (h *loginHandler) chooserData(st *loginState, ids []string) map[string]any {
	type choice struct {
		ID, NameID, DescriptionID string
		Backup                    bool
	}
	list := make([]choice, 0, len(ids))
	for _, id := range ids {
		f, ok := h.s.Factors.Get(id)
		if !ok {
			continue
		}
		list = append(list, choice{ID: id, NameID: id + ".name", DescriptionID: id + ".description", Backup: f.Properties().Backup})
	}
	return map[string]any{"Choices": list}
}

// choose is GET /login/choose (the "use another method" link: forget the
// chosen factor and show the chooser) and POST /login/choose (pick one).
func (h *loginHandler) choose(c echo.Context) error {
	st, err := h.loadActive(c)
	if st == nil || err != nil {
		return err
	}
	ctx := c.Request().Context()
	d := h.decide(st, "-")
	if d.Step != flow.StepChooseFactor && d.Step != flow.StepFactor {
		return seeFlow(c, st.flow.ID)
	}
	allowed := d.Factors
	if len(allowed) == 0 {
		allowed = []string{d.Factor}
	}
	if c.Request().Method == http.MethodGet {
		return c.Render(http.StatusOK, "flow_choose", st.pageData(h.chooserData(st, allowed)))
	}
	pick := c.FormValue("factor")
	if !slices.Contains(allowed, pick) {
		page := st.pageData(h.chooserData(st, allowed))
		page["Error"] = "flow.error.choose"
		return c.Render(http.StatusBadRequest, "flow_choose", page)
	}
	if st.flow.Factor != pick {
		st.flow.Factor, st.flow.ChallengeID = pick, ""
		if _, err := h.saveFlow(ctx, st); err != nil {
			return err
		}
	}
	if st.user.LastFactor != pick {
		if err := h.s.Store.SetUserLastFactor(ctx, st.user.ID, pick); err != nil {
			return err
		}
	}
	return seeFlow(c, st.flow.ID)
}

// flowParam reads the flow id from the form or the query.
func flowParam(c echo.Context) string {
	if v := c.FormValue("flow"); v != "" {
		return v
	}
	return c.QueryParam("flow")
}

// addProof records a proof in the SSO session (with a new session id).
func (h *loginHandler) addProof(c echo.Context, st *loginState, p store.Proof) error {
	sess, err := h.s.Sessions.Start(c.Request().Context(), c.Response(), c.Request(), st.sess, st.user.ID, p)
	if err != nil {
		return err
	}
	st.sess = sess
	return nil
}

// accountLocked reports whether the person's budget of wrong factor
// answers is used up.
func (h *loginHandler) accountLocked(ctx context.Context, userID string) (bool, error) {
	return h.s.FactorThrottle.Blocked(ctx, security.ScopeFactor, userID, "")
}

// lockedPage tells the person their factor login is locked.
func (h *loginHandler) lockedPage(c echo.Context, st *loginState) error {
	return c.Render(http.StatusTooManyRequests, "flow_locked", st.pageData(nil))
}

// countFailure counts a wrong answer against the person and reports
// whether it used up the budget (audited once, when it happens).
func (h *loginHandler) countFailure(c echo.Context, st *loginState, factor string) (bool, error) {
	lockedNow, err := h.s.FactorThrottle.Fail(c.Request().Context(), security.ScopeFactor, st.user.ID, "")
	if err != nil {
		return false, err
	}
	h.s.audit(c, st.user.ID, st.req.ClientID, "factor.failure", map[string]string{"factor": factor})
	if lockedNow {
		h.s.audit(c, st.user.ID, st.req.ClientID, "factor.lockout", map[string]string{"factor": factor})
	}
	return lockedNow, nil
}

// forgetFailures resets the budget after a success.
func (h *loginHandler) forgetFailures(ctx context.Context, userID string) error {
	return h.s.FactorThrottle.Succeed(ctx, security.ScopeFactor, userID)
}

// formInput is the submitted form, minus the engine's own fields.
func formInput(c echo.Context) (factors.Input, error) {
	form, err := c.FormParams()
	if err != nil {
		return factors.Input{}, err
	}
	in := url.Values{}
	for k, v := range form {
		switch k {
		case "csrf", "flow", "op":
		default:
			in[k] = v
		}
	}
	return factors.Input{Form: in}, nil
}

// retyped are the set-up fields a refused form shows again as typed;
// codes are not among them (a wrong code is typed anew).
var retyped = []string{"country", "phone", "email", "name"}

// keepTyped puts what the person typed into the fields of retyped on the
// page that refuses it.
func keepTyped(page map[string]any, in factors.Input) {
	t, _ := page["Typed"].(map[string]string)
	if t == nil {
		return
	}
	for _, k := range retyped {
		if v := in.Form.Get(k); v != "" && len(v) <= 256 && utf8.ValidString(v) {
			t[k] = v
		}
	}
}

// fieldErrors turns a factor's refusal into page data.
func fieldErrors(page map[string]any, err error) {
	var fe *factors.Error
	if !errors.As(err, &fe) {
		return
	}
	if fe.Field == "" {
		page["Error"] = fe.MessageID
		return
	}
	page["FieldErrors"].(map[string]string)[fe.Field] = fe.MessageID
}

// lang is the language of the current page, for what factors send.
func lang(c echo.Context) string {
	if l, ok := c.Get(localizerKey).(interface{ Lang() string }); ok {
		return l.Lang()
	}
	return "en"
}
