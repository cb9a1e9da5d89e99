package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
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

// errorHandler is echo's single HTTPErrorHandler: every failure becomes a
// localized page with the right status and a reference to the log line.
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
	ref := c.Response().Header().Get(echo.HeaderXRequestID)
	level := slog.LevelInfo
	if pe.Status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(c.Request().Context(), level, "request failed", "status", pe.Status, "err", err, "request_id", ref, "path", c.Request().URL.Path)
	s.renderErrorPage(c, pe.Status, pe.MessageID, pe.Detail, ref)
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
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if err := c.Render(status, "error", map[string]any{"Message": messageID, "Detail": detail, "Reference": ref}); err != nil {
		s.log.Error("render error page", "err", err)
		_ = c.String(status, http.StatusText(status))
	}
}

// RenderError renders op's failures (unregistered redirect_uri, unknown
// client) as our page: they must never redirect.
func (s *Server) RenderError(w http.ResponseWriter, r *http.Request, status int, messageID, detail string) {
	c := s.e.NewContext(r, echo.NewResponse(w, s.e))
	s.localize(c, "")
	ref := w.Header().Get(echo.HeaderXRequestID)
	if ref == "" {
		ref = r.Header.Get(echo.HeaderXRequestID)
	}
	s.renderErrorPage(c, status, messageID, detail, ref)
}
