package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

func serveCmd(g *globals) *cobra.Command {
	var issuer, listen string
	var dev, noMigrate bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the identity provider",
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := map[string]string{}
			if issuer != "" {
				flags["issuer"] = issuer
			}
			if listen != "" {
				flags["listen"] = listen
			}
			if dev {
				flags["dev"] = "true"
			}
			if noMigrate {
				flags["database.migrate_on_start"] = "false"
			}
			cfg, err := loadConfig(g, flags)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, nil)
		},
	}
	addDatabaseFlag(c, g)
	c.Flags().StringVar(&issuer, "issuer", "", "issuer URL (overrides issuer)")
	c.Flags().StringVar(&listen, "listen", "", "listen address host:port (overrides listen)")
	c.Flags().BoolVar(&dev, "dev", false, "dev mode: http issuer allowed, dev outbox")
	c.Flags().BoolVar(&noMigrate, "no-migrate", false, "do not apply migrations on start")
	return c
}

// serve runs until SIGINT/SIGTERM, then stops accepting, drains in-flight
// requests for at most http.shutdown_timeout, closes the store and returns
// nil (exit status 0). Requests still running at the deadline are cut off:
// their transactions roll back, so nothing half-done is committed. A second
// signal while draining kills the process at once. ready, when not nil,
// receives the bound address once the listener is open.
func serve(ctx context.Context, cfg config.Config, ready func(addr string)) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(cfg, os.Stderr)
	st, err := openStore(ctx, cfg, cfg.Database.MigrateOnStart, log)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := buildApp(ctx, cfg, st, log, time.Now)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           withDeadline(a.server, cfg.HTTP.RequestTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout(cfg.HTTP.RequestTimeout),
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	go cleanup(ctx, st, log)
	go releaseAfterHashing(ctx, a.hasher, hashIdlePeriod, log)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("idp listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "dev", cfg.Dev, "pid", strconv.Itoa(os.Getpid()))
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // from here on a second SIGTERM or Ctrl-C kills
	start := time.Now()
	log.Info("shutting down: no new connections, draining requests in flight", "timeout", cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// Close cuts the stragglers' connections, which cancels their
		// request contexts and so their database statements.
		log.Warn("shutdown timeout: closing requests still in flight", "timeout", cfg.HTTP.ShutdownTimeout.String())
		_ = hs.Close()
	case err != nil:
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := st.Close(); err != nil {
		log.Warn("close store", "err", err)
	}
	log.Info("stopped", "drain_ms", time.Since(start).Milliseconds())
	return nil
}

// withDeadline bounds every request's context by http.request_timeout
// (default 10s). Nothing we serve takes that long; a database that stops
// answering (a partition, where nothing refuses or resets) would otherwise
// hold each request, and a pool connection, until the client gives up. At
// the deadline the statement is cancelled and the person gets the 503
// page. The default stays below the default http.shutdown_timeout (15s),
// so a drain never cuts a request that respects it.
func withDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// writeTimeout is the server's WriteTimeout for a request deadline d: 30s,
// or d plus 20s when d is longer, so that the 503 page written at the
// deadline always has time to reach the person.
func writeTimeout(d time.Duration) time.Duration {
	return max(30*time.Second, d+20*time.Second)
}

// hasherMetrics exports the password hasher's load: what runs and waits
// now, and how many hashes it shed (idp_password_hashes_shed_total, by
// reason), which is the number of logins answered "too many people are
// logging in" plus any other hash refused. Read from the hasher at scrape
// time, so the hot path pays one atomic add per shed request, nothing
// more.
func hasherMetrics(h *security.PasswordHasher) []prometheus.Collector {
	gauge := func(name, help string, f func(security.HasherStats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(h.Stats())) })
	}
	shed := func(reason string, f func(security.HasherStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "idp_password_hashes_shed_total", Help: "Password hashes refused with a 503 because the hasher was overloaded.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(f(h.Stats())) })
	}
	return []prometheus.Collector{
		gauge("idp_password_hashes_running", "Password hashes being computed now.", func(s security.HasherStats) int { return s.Running }),
		gauge("idp_password_hashes_waiting", "Password hashes waiting for a computation slot now.", func(s security.HasherStats) int { return s.Waiting }),
		gauge("idp_password_hashes_concurrency", "Password hashes allowed to run at once (passwords.max_concurrent_hashes).", func(s security.HasherStats) int { return s.Concurrency }),
		gauge("idp_password_hashes_queue", "Password hashes allowed to wait (passwords.max_queued_hashes).", func(s security.HasherStats) int { return s.Queue }),
		shed("queue_full", func(s security.HasherStats) uint64 { return s.ShedQueueFull }),
		shed("wait_timeout", func(s security.HasherStats) uint64 { return s.ShedWaitTimeout }),
	}
}

// hashIdlePeriod is how long password hashing must have been quiet before
// releaseAfterHashing gives its memory back.
const hashIdlePeriod = 10 * time.Second

// releaseAfterHashing returns the memory of a burst of password hashes to
// the operating system once hashing has been quiet for a whole period.
//
// Every argon2id hash allocates its own buffer (19 MiB at the defaults;
// golang.org/x/crypto/argon2 offers no way to reuse one), so a login burst
// grows the heap to a few times max_concurrent_hashes x argon2_memory_kib.
// When the burst ends nothing allocates any more, so no garbage collection
// runs and the Go runtime keeps that memory, dead buffers included, for
// minutes (measured: 160 MB resident, idle, for as long as we watched, after
// 30 s of logins). One forced collection and release after the burst
// brings the idle process back to its start-up size. It costs one GC of a
// small live heap (milliseconds), at most once per period and only after
// a period with hashing and then a period without: under steady logins it
// never runs, and the steady-state heap stays bounded by the hash limit.
func releaseAfterHashing(ctx context.Context, h *security.PasswordHasher, period time.Duration, log *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	last, dirty := h.Stats().Done, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := h.Stats()
		if st.Done != last || st.Running+st.Waiting > 0 {
			last, dirty = st.Done, true
			continue
		}
		if dirty {
			dirty = false
			start := time.Now()
			debug.FreeOSMemory()
			log.Debug("released the memory of password hashing", "took_ms", time.Since(start).Milliseconds())
		}
	}
}

// cleanup removes expired rows every few minutes, so tables do not grow
// with every login. Every node runs it; the deletes are idempotent.
func cleanup(ctx context.Context, st store.Maintenance, log *slog.Logger) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := st.DeleteExpired(ctx, time.Now())
			if err != nil {
				log.Error("cleanup", "err", err)
			} else if n > 0 {
				log.Info("cleanup", "rows", n)
			}
		}
	}
}
