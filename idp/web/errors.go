package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// PageError is an error the person sees as a localized page.
type PageError struct {
	Status    int
	MessageID string // i18n id, e.g. "error.auth_request_expired"
	Detail    string // shown inside the message where it has {{.Detail}}
	Err       error  // logged, never shown
}

func (e *PageError) Error() string {
	if e.Err != nil {
		return e.MessageID + ": " + e.Err.Error()
	}
	return e.MessageID
}

func (e *PageError) Unwrap() error { return e.Err }

// retryAfter is the Retry-After of every 503: long enough for a pool to
// reconnect or a database to fail over, short enough that a person who
// reloads after "a few minutes" finds the service back.
const retryAfter = "30"

// pingTimeout bounds the database check behind a failure we could not
// classify; a database that does not answer in a second is unavailable.
const pingTimeout = time.Second

// errorHandler is echo's single HTTPErrorHandler: every failure becomes a
// localized page with the right status and a reference to the log line.
// A database that cannot be reached is a 503 with Retry-After, never a
// 500: nothing is wrong with the request, and it will work again.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	pe := &PageError{Status: http.StatusInternalServerError, MessageID: "error.internal", Err: err}
	var he *echo.HTTPError
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &he):
		pe = &PageError{Status: he.Code, MessageID: messageForStatus(he.Code), Err: err}
	}
	level := slog.LevelInfo
	switch {
	case errors.Is(err, security.ErrOverloaded):
		// The password hasher shed the request (on a path other than
		// the login form, which answers next to its fields): a 503 that
		// says "in a moment", not "in a few minutes". Shedding is the
		// server working as designed, and a flood would fill the log
		// with errors: a warning.
		pe = &PageError{Status: http.StatusServiceUnavailable, MessageID: "error.overloaded", Err: err}
		c.Response().Header().Set("Retry-After", overloadRetryAfter)
		level = slog.LevelWarn
	case errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		(pe.Status == http.StatusInternalServerError && s.databaseDown(c.Request().Context())):
		// A request that ran out of time waited on the database or
		// for a password hashing slot: unavailable or overloaded,
		// either way a 503.
		pe = &PageError{Status: http.StatusServiceUnavailable, MessageID: "error.unavailable", Err: err}
	}
	ref := c.Response().Header().Get(echo.HeaderXRequestID)
	if pe.Status >= 500 && level == slog.LevelInfo {
		level = slog.LevelError
	}
	s.log.Log(c.Request().Context(), level, "request failed", "status", pe.Status, "err", err, "request_id", ref, "path", c.Request().URL.Path)
	s.renderErrorPage(c, pe.Status, pe.MessageID, pe.Detail, ref)
}

// databaseDown tells whether a failure nobody classified happened while the
// database does not answer: then it is an outage (a driver error some path
// did not wrap), not a bug. Asked only on the error path.
func (s *Server) databaseDown(ctx context.Context) bool {
	if s.Store == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pingTimeout)
	defer cancel()
	return s.Store.Ping(ctx) != nil
}

func messageForStatus(code int) string {
	switch code {
	case http.StatusNotFound:
		return "error.not_found"
	case http.StatusMethodNotAllowed:
		return "error.method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "error.too_large"
	case http.StatusForbidden:
		return "error.csrf"
	case http.StatusTooManyRequests:
		return "error.too_many_requests"
	case http.StatusServiceUnavailable:
		return "error.unavailable"
	case http.StatusBadRequest:
		return "error.invalid_request"
	}
	return "error.internal"
}

func (s *Server) renderErrorPage(c echo.Context, status int, messageID, detail, ref string) {
	data := map[string]any{"Message": messageID, "Detail": detail, "Reference": ref}
	if status == http.StatusServiceUnavailable {
		h := c.Response().Header()
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", retryAfter)
		}
		h.Set("Cache-Control", "no-store")
		data["Title"], data["Hint"] = "error.unavailable_title", "error.unavailable_hint"
		if messageID == "error.overloaded" {
			data["Hint"] = "error.overloaded_hint"
		}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if err := c.Render(status, "error", data); err != nil {
		s.log.Error("render error page", "err", err)
		_ = c.String(status, http.StatusText(status))
	}
}

// RenderError renders op's failures (unregistered redirect_uri, unknown
// client) as our page: they must never redirect. op hands us only text, so
// a failure while the database does not answer is taken for what it most
// likely is: op could not load the client ("unknown client") or store the
// request because of the outage, and the person gets the 503 page.
func (s *Server) RenderError(w http.ResponseWriter, r *http.Request, status int, messageID, detail string) {
	c := s.e.NewContext(r, echo.NewResponse(w, s.e))
	s.localize(c, "")
	ref := w.Header().Get(echo.HeaderXRequestID)
	if ref == "" {
		ref = r.Header.Get(echo.HeaderXRequestID)
	}
	if status >= http.StatusBadRequest && s.databaseDown(r.Context()) {
		s.log.ErrorContext(r.Context(), "request failed", "status", http.StatusServiceUnavailable,
			"err", "database unavailable", "op_status", status, "op_error", messageID, "request_id", ref, "path", r.URL.Path)
		status, messageID, detail = http.StatusServiceUnavailable, "error.unavailable", ""
	}
	s.renderErrorPage(c, status, messageID, detail, ref)
}
