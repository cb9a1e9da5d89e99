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
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// Longest username and password we read; longer input is rejected before
// any lookup or hashing (NIST: at least 64 characters must be allowed).
const (
	maxUsernameLen = 256
	maxPasswordLen = 1024
)

const throttleScope = "login"

// overloadRetryAfter is the Retry-After of a request shed because too many
// passwords are being hashed: at the default limits a full queue drains in
// well under a second, so a few seconds is enough; the 30 s of an outage
// would turn a busy moment into a lost minute.
const overloadRetryAfter = "5"

// loginHandler serves /login and its steps: the login engine.
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

// credentialsForm renders the username and password form of a flow.
func (h *loginHandler) credentialsForm(c echo.Context, st *loginState, page map[string]any, status int) error {
	data := st.pageData(page)
	if _, ok := data["Username"]; !ok {
		username := st.req.LoginHint
		if st.user != nil {
			username = st.user.Username
		}
		data["Username"] = username
	}
	return c.Render(status, "login", data)
}

// submit is POST /login: check the password, start a fresh session, record
// who is logging in on the flow, and go back to the flow's page. A double
// submit just lands on the same page.
func (h *loginHandler) submit(c echo.Context) error {
	st, err := h.loadFlow(c, flowParam(c))
	if err != nil {
		return h.loadFailed(c, st, err)
	}
	ctx := c.Request().Context()
	if st.req.Done {
		return h.finished(c, st)
	}
	username := strings.ToLower(strings.TrimSpace(c.FormValue("username")))
	password := c.FormValue("password")
	form := func(status int, kv ...string) error {
		page := map[string]any{"Username": username}
		for i := 0; i+1 < len(kv); i += 2 {
			page[kv[i]] = kv[i+1]
		}
		return h.credentialsForm(c, st, page, status)
	}
	userErr, pwErr := "", ""
	if username == "" {
		userErr = "login.error.username_required"
	}
	if password == "" {
		pwErr = "login.error.password_required"
	}
	if userErr != "" || pwErr != "" {
		return form(http.StatusBadRequest, "UsernameError", userErr, "PasswordError", pwErr)
	}
	if utf8.RuneCountInString(username) > maxUsernameLen || len(password) > maxPasswordLen || !utf8.ValidString(username) {
		username = ""
		return form(http.StatusBadRequest, "Error", "login.error.invalid")
	}
	ip := c.RealIP()
	blocked, err := h.s.Throttle.Blocked(ctx, throttleScope, username, ip)
	if err != nil {
		return err
	}
	if blocked {
		h.s.audit(c, "", st.req.ClientID, "login.throttled", map[string]string{"username": username})
		return form(http.StatusTooManyRequests, "Error", "login.error.throttled")
	}
	u, ok, err := h.checkPassword(ctx, username, password)
	if errors.Is(err, security.ErrOverloaded) {
		// Shed, not judged: the password was not checked, so nothing
		// counts toward the throttle and no failed login is audited. The
		// person keeps the form, with what they typed as username, and
		// the browser or a script is told when to come back. The shedding
		// is counted by the hasher (idp_password_hashes_shed_total).
		c.Response().Header().Set("Retry-After", overloadRetryAfter)
		c.Response().Header().Set("Cache-Control", "no-store")
		return form(http.StatusServiceUnavailable, "Error", "login.error.overloaded")
	}
	if err != nil {
		return err
	}
	if !ok {
		if _, err := h.s.Throttle.Fail(ctx, throttleScope, username, ip); err != nil {
			return err
		}
		uid := ""
		if u != nil {
			uid = u.ID
		}
		h.s.audit(c, uid, st.req.ClientID, "login.failure", nil)
		return form(http.StatusOK, "Error", "login.error.invalid")
	}
	if err := h.s.Throttle.Succeed(ctx, throttleScope, username); err != nil {
		return err
	}
	sess, err := h.s.Sessions.Start(ctx, c.Response(), c.Request(), st.sess, u.ID, flow.CredentialsProof(h.s.Now()))
	if err != nil {
		return err
	}
	st.sess = sess
	h.s.audit(c, u.ID, st.req.ClientID, "login.success", map[string]string{"factor": flow.CredentialsFactor})
	if st.flow.UserID != u.ID {
		// Another person on this flow: what the previous one chose is void.
		st.flow.UserID, st.flow.Factor, st.flow.ChallengeID = u.ID, "", ""
		st.flow.Enrolling, st.flow.EnrollmentID, st.flow.SkippedEnrol = "", "", false
		if _, err := h.saveFlow(ctx, st); err != nil {
			return err
		}
	}
	return seeFlow(c, st.flow.ID)
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
