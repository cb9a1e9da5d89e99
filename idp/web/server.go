package web

import (
	"context"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/oidcop"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/session"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/static"
)

// Deps are what the server needs; cmd/idp wires them.
type Deps struct {
	Store          store.Store
	Provider       *oidcop.Provider
	Sessions       *session.Manager
	Hasher         *security.PasswordHasher
	Throttle       *security.Throttle // password attempts
	FactorThrottle *security.Throttle // wrong factor answers per person
	I18n           *i18n.Bundle
	Factors        *factors.Registry
	Table          assurance.Table    // the acr table
	DefaultPolicy  store.ClientPolicy // for clients without a policy row
	Limits         FlowLimits
	// VoiceCallbacks authenticates the voice provider's keypad callbacks
	// (POST /hooks/voice); nil when no provider places calls.
	VoiceCallbacks notify.Callbacks
	// Notify sends the mail that tells a person a sign-in method was
	// added or removed; nil sends none.
	Notify notify.Sender
	// Dev serves the dev outbox at /dev/outbox.
	Dev          bool
	Secure       bool // https issuer: HSTS, Secure cookies
	MaxBodyBytes int64
	// AccessLog is AccessLogAll ("" too), AccessLogErrors or AccessLogNone.
	AccessLog      string
	TrustedProxies []*net.IPNet
	Registry       *prometheus.Registry // optional; a new one when nil
	Logger         *slog.Logger
	Now            func() time.Time
}

// Server is the echo application.
type Server struct {
	Deps
	e      *echo.Echo
	log    *slog.Logger
	notice noticeMail
}

// New builds the server. The provider's RenderError should be set to
// (*Server).RenderError; NewServerAndProvider in cmd does that wiring.
func New(d Deps) (*Server, error) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	s := &Server{Deps: d, e: echo.New(), log: d.Logger}
	r, err := NewRenderer(d.I18n)
	if err != nil {
		return nil, err
	}
	if s.notice, err = parseNoticeMail(); err != nil {
		return nil, err
	}
	e := s.e
	e.HideBanner, e.HidePort = true, true
	e.Renderer = r
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(d.TrustedProxies)

	e.Use(middleware.RequestID())
	e.Use(s.recoverer)
	e.Use(s.metrics(d.Registry))
	e.Use(s.accessLog)
	e.Use(securityHeaders(d.Secure))
	e.Use(middleware.BodyLimit(bodyLimit(d.MaxBodyBytes)))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			s.localize(c, "")
			return next(c)
		}
	})

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{})))
	staticFS, _ := fs.Sub(static.FS, ".")
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServer(http.FS(staticFS)))), cacheStatic)

	csrf := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup: "form:csrf", CookieName: "idp_csrf", CookiePath: "/",
		CookieHTTPOnly: true, CookieSecure: d.Secure, CookieSameSite: http.SameSiteLaxMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return &PageError{Status: http.StatusForbidden, MessageID: "error.csrf", Err: err}
		},
	})
	lh := &loginHandler{s: s}
	e.GET("/login", lh.show, csrf, noStore)
	e.POST("/login", lh.submit, csrf, noStore)
	e.GET("/login/choose", lh.choose, csrf, noStore)
	e.POST("/login/choose", lh.choose, csrf, noStore)
	e.POST("/login/factor", lh.answer, csrf, noStore)
	e.POST("/login/enroll", lh.enroll, csrf, noStore)
	e.GET("/login/status", lh.status, noStore)
	e.GET("/login/account", lh.accountLogin, csrf, noStore)
	e.POST("/login/account", lh.accountChange, csrf, noStore)
	e.GET("/account", s.accountPage, csrf, noStore)
	e.POST("/hooks/voice", s.voiceHook, noStore)
	if d.Dev {
		e.GET("/dev/outbox", s.outbox, csrf, noStore)
		e.POST("/dev/outbox/keypad", s.outboxKeypad, csrf, noStore)
	}
	e.GET("/logged-out", s.loggedOut, noStore)

	// op last: everything we did not route is an OIDC endpoint.
	opHandler := echo.WrapHandler(d.Provider.Handler())
	e.Any("/*", opHandler)
	e.Any("/", opHandler)
	return s, nil
}

// Echo exposes the echo instance (tests, extra routes from cmd).
func (s *Server) Echo() *echo.Echo { return s.e }

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// bodyLimit turns bytes into echo's BodyLimit notation ("65536B").
func bodyLimit(n int64) string {
	if n <= 0 {
		n = 64 << 10
	}
	return strconv.FormatInt(n, 10) + "B"
}

func (s *Server) localize(c echo.Context, uiLocales string) {
	tag := s.I18n.Match(uiLocales, c.Request().Header.Get("Accept-Language"))
	c.Set("localizer", s.I18n.Localizer(tag))
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: the database answers and every migration is applied.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
	}
	ok, err := s.Store.MigrationsCurrent(ctx)
	if err != nil || !ok {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "migrations pending"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) loggedOut(c echo.Context) error {
	s.Sessions.Clear(c.Response())
	return c.Render(http.StatusOK, "logged_out", nil)
}
