package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestAccessLogModes(t *testing.T) {
	for _, tt := range []struct {
		mode      string
		ok, notOK bool // whether a 200 and a 404 are logged
	}{
		{"", true, true},
		{AccessLogAll, true, true},
		{AccessLogErrors, false, true},
		{AccessLogNone, false, false},
	} {
		t.Run("mode "+tt.mode, func(t *testing.T) {
			var buf bytes.Buffer
			s := &Server{Deps: Deps{AccessLog: tt.mode}, log: slog.New(slog.NewTextHandler(&buf, nil))}
			e := echo.New()
			e.Use(s.accessLog)
			e.GET("/ok", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
			for path, want := range map[string]bool{"/ok?code=secret": tt.ok, "/missing": tt.notOK} {
				buf.Reset()
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				logged := strings.Contains(buf.String(), "msg=http")
				if logged != want {
					t.Errorf("%s (status %d): logged %v, want %v", path, rec.Code, logged, want)
				}
				if strings.Contains(buf.String(), "secret") {
					t.Errorf("the query reached the log: %s", buf.String())
				}
			}
		})
	}
}
