package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestAccessLogSlowRequests covers the other half of "errors" mode: an
// answer that went well but took longer than slowRequest is still logged.
// accessLog reads the wall clock, so the slow handler really sleeps, once
// per mode that could log it.
func TestAccessLogSlowRequests(t *testing.T) {
	const slowFor = slowRequest + 50*time.Millisecond
	for _, tt := range []struct {
		mode   string
		logged map[string]bool // path -> whether its line is written
	}{
		{AccessLogErrors, map[string]bool{"/fast": false, "/fail": true, "/slow": true}},
		{AccessLogAll, map[string]bool{"/fast": true}},
		{AccessLogNone, map[string]bool{"/fast": false, "/fail": false, "/slow": false}},
	} {
		t.Run("mode "+tt.mode, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			s := &Server{Deps: Deps{AccessLog: tt.mode}, log: slog.New(slog.NewJSONHandler(&buf, nil))}
			e := echo.New()
			e.Use(s.accessLog)
			e.GET("/fast", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
			e.GET("/fail", func(c echo.Context) error { return c.String(http.StatusInternalServerError, "no") })
			e.GET("/slow", func(c echo.Context) error {
				time.Sleep(slowFor)
				return c.String(http.StatusOK, "late")
			})
			wantStatus := map[string]int{"/fast": http.StatusOK, "/fail": http.StatusInternalServerError, "/slow": http.StatusOK}
			for path, want := range tt.logged {
				buf.Reset()
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != wantStatus[path] {
					t.Fatalf("%s answered %d, want %d", path, rec.Code, wantStatus[path])
				}
				lines := accessLines(t, buf.Bytes())
				if !want {
					if len(lines) != 0 {
						t.Errorf("%s: logged %v, want no line", path, lines)
					}
					continue
				}
				if len(lines) != 1 {
					t.Fatalf("%s: %d access lines, want 1: %s", path, len(lines), buf.String())
				}
				l := lines[0]
				if l["path"] != path || l["method"] != http.MethodGet || l["status"] != float64(wantStatus[path]) {
					t.Errorf("%s: line %v, want path %s, method GET, status %d", path, l, path, wantStatus[path])
				}
				if path == "/slow" {
					if ms, _ := l["dur_ms"].(float64); ms < float64(slowRequest.Milliseconds()) {
						t.Errorf("/slow: dur_ms %v, want at least %d", l["dur_ms"], slowRequest.Milliseconds())
					}
				}
			}
		})
	}
}

// accessLines parses the JSON log lines whose message is "http".
func accessLines(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if raw == "" {
			continue
		}
		var l map[string]any
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		if l["msg"] == "http" {
			lines = append(lines, l)
		}
	}
	return lines
}
