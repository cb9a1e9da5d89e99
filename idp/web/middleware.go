package web

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// securityHeaders: our pages must not be framed (clickjacking on the login
// form), sniffed, or leak the authorize URL as a referrer.
func securityHeaders(secure bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
			if secure {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}
			return next(c)
		}
	}
}

// noStore keeps pages with CSRF tokens and personal data out of caches.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

func cacheStatic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return next(c)
	}
}

// recoverer turns a panic into a 500 page with a reference, and logs the
// stack; the person never sees it.
func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = &PageError{Status: http.StatusInternalServerError, MessageID: "error.internal", Err: fmt.Errorf("panic: %v", r)}
			}
		}()
		return next(c)
	}
}

// Access log modes (config log.access).
const (
	AccessLogAll    = "all"    // every request
	AccessLogErrors = "errors" // answers of 400 and up, and slow requests
	AccessLogNone   = "none"
)

// slowRequest is what AccessLogErrors counts as slow enough to log.
const slowRequest = time.Second

// accessLog writes one structured line per request: the path without its
// query (which may carry codes and tokens), never bodies or cookies. At
// tens of thousands of discovery, JWKS and token requests a second the
// line itself is a tenth of a request's cost, so a node behind a proxy
// that keeps its own access log may log only what went wrong.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	if s.AccessLog == AccessLogNone {
		return func(c echo.Context) error {
			if err := next(c); err != nil {
				c.Error(err)
			}
			return nil
		}
	}
	errorsOnly := s.AccessLog == AccessLogErrors
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		dur := time.Since(start)
		status := c.Response().Status
		if errorsOnly && status < http.StatusBadRequest && dur < slowRequest {
			return nil
		}
		r := c.Request()
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Int64("dur_ms", dur.Milliseconds()),
			slog.String("ip", c.RealIP()), slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)))
		return nil
	}
}

var opRoutes = map[string]bool{
	"/.well-known/openid-configuration": true, "/authorize": true, "/authorize/callback": true,
	"/oauth/token": true, "/oauth/introspect": true, "/userinfo": true, "/revoke": true,
	"/end_session": true, "/keys": true,
}

func (s *Server) metrics(reg *prometheus.Registry) echo.MiddlewareFunc {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idp_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"method", "route", "status"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "idp_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"method", "route"})
	reg.MustRegister(reqs, dur)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			// Route is the registered pattern (bounded); op lives under
			// "/*", so name its fixed endpoints and fold everything else.
			route := c.Path()
			if route == "/*" {
				route = "other"
				if opRoutes[c.Request().URL.Path] {
					route = c.Request().URL.Path
				}
			}
			reqs.WithLabelValues(c.Request().Method, route, strconv.Itoa(c.Response().Status)).Inc()
			dur.WithLabelValues(c.Request().Method, route).Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// ipExtractor believes X-Forwarded-For only from configured proxies, so a
// client cannot pick the IP its throttle counts against.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
