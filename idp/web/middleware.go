package web

import (
	"fmt"
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

// accessLog writes one structured line per request: the path without its
// query (which may carry codes and tokens), never bodies or cookies.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.log.Info("http",
			"method", c.Request().Method, "path", c.Request().URL.Path,
			"status", c.Response().Status, "dur_ms", time.Since(start).Milliseconds(),
			"ip", c.RealIP(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
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
