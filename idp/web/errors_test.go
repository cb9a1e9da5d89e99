package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/language"

	"github.com/eu-health-idp/idp/idp/security"
)

func TestTheErrorHandlerAnswersOverloadAndOutageWithTheirOwn503(t *testing.T) {
	r, b := newRenderer(t)
	s := &Server{Deps: Deps{I18n: b}, e: echo.New(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.e.Renderer = r
	tests := []struct {
		name       string
		err        error
		retryAfter string
		says       []string
	}{
		{"a shed password hash says to come back in a moment", fmt.Errorf("verify: %w", security.ErrOverloaded), "5",
			[]string{"Inloggningstjänsten är hårt belastad just nu. Försök igen om en liten stund.", "Vänta några sekunder och ladda om sidan."}},
		{"a request out of time says to come back in a few minutes", fmt.Errorf("query: %w", context.DeadlineExceeded), "30",
			[]string{"Inloggningstjänsten är tillfälligt otillgänglig. Försök igen om några minuter."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c := s.e.NewContext(httptest.NewRequest(http.MethodPost, "/login", nil), rec)
			c.Set("localizer", b.Localizer(language.Swedish))
			s.errorHandler(tt.err, c)
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503", rec.Code)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			mustContain(t, rec.Body.String(), tt.says...)
		})
	}
}
