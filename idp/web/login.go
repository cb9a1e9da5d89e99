package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/eu-health-idp/idp/idp/flow"
	"github.com/eu-health-idp/idp/idp/oidcop"
	"github.com/eu-health-idp/idp/idp/store"
)

// Longest username and password we read; longer input is rejected before
// any lookup or hashing (NIST: at least 64 characters must be allowed).
const (
	maxUsernameLen = 256
	maxPasswordLen = 1024
)

const throttleScope = "login"

// loginHandler serves /login: the credentials step of the flow, and the
// place a finished flow hands back to op.
type loginHandler struct{ s *Server }

// loadRequest reads the authorization request named by the form or query.
func (h *loginHandler) loadRequest(c echo.Context, id string) (*store.AuthRequest, error) {
	if id == "" || len(id) > 64 {
		return nil, &PageError{Status: http.StatusBadRequest, MessageID: "error.auth_request_expired"}
	}
	r, err := h.s.Store.AuthRequestByID(c.Request().Context(), id, h.s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, &PageError{Status: http.StatusBadRequest, MessageID: "error.auth_request_expired", Err: err}
	}
	if err != nil {
		return nil, err
	}
	h.s.localize(c, strings.Join(r.UILocales, " "))
	return r, nil
}

// show is GET /login?id=...: op sent the browser here. A usable SSO
// session finishes at once; otherwise the form.
func (h *loginHandler) show(c echo.Context) error {
	r, err := h.loadRequest(c, c.QueryParam("id"))
	if err != nil {
		return err
	}
	if r.Done {
		return c.Redirect(http.StatusFound, h.s.Provider.CallbackURL(c.Request().Context(), r.ID))
	}
	sess, err := h.s.Sessions.Load(c.Request().Context(), c.Request())
	if err != nil {
		return err
	}
	return h.next(c, r, sess, "", "")
}

// next runs the flow's decision for r and carries it out.
func (h *loginHandler) next(c echo.Context, r *store.AuthRequest, sess *store.Session, username, formErr string) error {
	ctx := c.Request().Context()
	req, err := requirement(r)
	if err != nil {
		return h.s.oauthError(c, r, oidc.ErrInvalidRequest().WithDescription("%s", err.Error()))
	}
	d := flow.Next(flow.Input{Request: r, Require: req, Session: sess, Levels: h.s.Levels, Freshness: h.s.Freshness, Now: h.s.Now()})
	switch d.Step {
	case flow.StepCredentials:
		if username == "" {
			username = r.LoginHint
		}
		return h.form(c, r, username, formErr, "", "", http.StatusOK)
	case flow.StepError:
		e := oidc.ErrLoginRequired().WithDescription("%s", d.Description)
		if d.Error == flow.ErrUnmet {
			e = oidcop.ErrUnmet(d.Description)
		}
		return h.s.oauthError(c, r, e)
	}
	if err := h.s.Sessions.Touch(ctx, sess); err != nil {
		return err
	}
	err = h.s.Store.CompleteAuthRequest(ctx, r.ID, store.Completion{
		UserID: sess.UserID, SessionID: sess.ID, AuthTime: d.Result.AuthTime, ACR: d.Result.ACR, AMR: d.Result.AMR,
	})
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, h.s.Provider.CallbackURL(ctx, r.ID))
}

func requirement(r *store.AuthRequest) (flow.Requirement, error) {
	req := flow.Requirement{MaxAge: r.MaxAge, HintUserID: r.HintUserID}
	for _, p := range r.Prompt {
		if p == oidc.PromptNone {
			req.PromptNone = true
		}
	}
	if r.Claims != "" {
		acr, err := oidcop.ParseClaimsACR(r.Claims)
		if err != nil {
			return req, err
		}
		if acr != nil && acr.Essential {
			req.EssentialACR = acr.Values
		}
	}
	return req, nil
}

func (h *loginHandler) form(c echo.Context, r *store.AuthRequest, username, formErr, userErr, pwErr string, status int) error {
	return c.Render(status, "login", map[string]any{
		"AuthRequestID": r.ID, "Username": username, "Client": r.ClientID,
		"Error": formErr, "UsernameError": userErr, "PasswordError": pwErr,
	})
}

// submit is POST /login: check the password, start a fresh session, and
// let the flow decide again. A double submit of a finished request just
// follows it to op again.
func (h *loginHandler) submit(c echo.Context) error {
	r, err := h.loadRequest(c, c.FormValue("id"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if r.Done {
		return c.Redirect(http.StatusFound, h.s.Provider.CallbackURL(ctx, r.ID))
	}
	username := strings.ToLower(strings.TrimSpace(c.FormValue("username")))
	password := c.FormValue("password")
	userErr, pwErr := "", ""
	if username == "" {
		userErr = "login.error.username_required"
	}
	if password == "" {
		pwErr = "login.error.password_required"
	}
	if userErr != "" || pwErr != "" {
		return h.form(c, r, username, "", userErr, pwErr, http.StatusBadRequest)
	}
	if utf8.RuneCountInString(username) > maxUsernameLen || len(password) > maxPasswordLen || !utf8.ValidString(username) {
		return h.form(c, r, "", "login.error.invalid", "", "", http.StatusBadRequest)
	}
	ip := c.RealIP()
	blocked, err := h.s.Throttle.Blocked(ctx, throttleScope, username, ip)
	if err != nil {
		return err
	}
	if blocked {
		h.s.audit(c, "", r.ClientID, "login.throttled", map[string]string{"username": username})
		return h.form(c, r, username, "login.error.throttled", "", "", http.StatusTooManyRequests)
	}
	u, ok, err := h.checkPassword(ctx, username, password)
	if err != nil {
		return err
	}
	if !ok {
		if err := h.s.Throttle.Fail(ctx, throttleScope, username, ip); err != nil {
			return err
		}
		uid := ""
		if u != nil {
			uid = u.ID
		}
		h.s.audit(c, uid, r.ClientID, "login.failure", nil)
		return h.form(c, r, username, "login.error.invalid", "", "", http.StatusOK)
	}
	if err := h.s.Throttle.Succeed(ctx, throttleScope, username); err != nil {
		return err
	}
	prev, err := h.s.Sessions.Load(ctx, c.Request())
	if err != nil {
		return err
	}
	proof := store.Proof{Factor: "password", AMR: []string{"pwd"}, At: h.s.Now()}
	sess, err := h.s.Sessions.Start(ctx, c.Response(), c.Request(), prev, u.ID, proof)
	if err != nil {
		return err
	}
	h.s.audit(c, u.ID, r.ClientID, "login.success", map[string]string{"factor": "password"})
	return h.next(c, r, sess, username, "")
}

// checkPassword verifies without telling apart an unknown user, a disabled
// one and a wrong password, in message or in time: the unknown user costs
// a dummy argon2id verification.
func (h *loginHandler) checkPassword(ctx context.Context, username, password string) (*store.User, bool, error) {
	u, err := h.s.Store.UserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, h.s.Hasher.DummyVerifyContext(ctx, password)
	}
	if err != nil {
		return nil, false, err
	}
	ok, rehash, err := h.s.Hasher.VerifyContext(ctx, u.PasswordHash, password)
	if err != nil {
		return u, false, err
	}
	if !ok || u.Disabled {
		return u, false, nil
	}
	if rehash {
		// Imported bcrypt or older argon2 parameters: upgrade in place.
		if nh, err := h.s.Hasher.HashContext(ctx, password); err == nil {
			if err := h.s.Store.UpdatePasswordHash(ctx, u.ID, nh, h.s.Now()); err != nil {
				h.s.log.ErrorContext(ctx, "rehash password", "err", err)
			}
		}
	}
	return u, true, nil
}

// oauthError ends r with an error at the client's redirect URI.
func (s *Server) oauthError(c echo.Context, r *store.AuthRequest, e *oidc.Error) error {
	s.Provider.AuthRequestError(c.Response(), c.Request(), r, e)
	return nil
}

func (s *Server) audit(c echo.Context, userID, clientID, event string, detail map[string]string) {
	e := &store.AuditEvent{
		UserID: userID, ClientID: clientID, Event: event, Detail: detail,
		IP: c.RealIP(), UserAgent: truncate(c.Request().UserAgent(), 256), CreatedAt: s.Now(),
	}
	if err := s.Store.RecordAudit(c.Request().Context(), e); err != nil {
		s.log.ErrorContext(c.Request().Context(), "audit", "err", err, "event", event)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
