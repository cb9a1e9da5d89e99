package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/builtin"
	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/idp/oidcop"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/session"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/web"
)

// secrets are the keys derived from the master key; each use gets its own
// so a leak of one (say, the opaque-token key) reveals nothing of another.
type secrets struct {
	sealer        *security.Sealer
	clientSecrets *security.SecretHasher
	opCrypto      [32]byte
	factorSealer  *security.Sealer       // TOTP seeds, pending recovery codes
	factorCodes   *security.SecretHasher // recovery codes, codes we send
}

func deriveSecrets(master []byte) (*secrets, error) {
	sealer, err := security.NewSealer(security.DeriveKey(master, "signing-keys"))
	if err != nil {
		return nil, err
	}
	factorSealer, err := security.NewSealer(security.DeriveKey(master, "factor-secrets"))
	if err != nil {
		return nil, err
	}
	s := &secrets{
		sealer: sealer, clientSecrets: security.NewSecretHasher(security.DeriveKey(master, "client-secrets")),
		factorSealer: factorSealer, factorCodes: security.NewSecretHasher(security.DeriveKey(master, "factor-codes")),
	}
	copy(s.opCrypto[:], security.DeriveKey(master, "op-crypto"))
	return s, nil
}

func newKeyManager(cfg config.Config, st store.Keys, sec *secrets, now func() time.Time) *oidcop.KeyManager {
	publishFor := max(cfg.Tokens.IDTokenLifetime, cfg.Tokens.AccessTokenLifetime) + 5*time.Minute
	return oidcop.NewKeyManager(st, sec.sealer, now, cfg.Keys.CacheTTL, publishFor)
}

// app is a wired server.
type app struct {
	server   *web.Server
	provider *oidcop.Provider
	keys     *oidcop.KeyManager
	hasher   *security.PasswordHasher
}

// buildApp wires the provider and the web server on an open store.
func buildApp(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, now func() time.Time) (*app, error) {
	master, err := masterKey(cfg)
	if err != nil {
		return nil, err
	}
	sec, err := deriveSecrets(master)
	if err != nil {
		return nil, err
	}
	keys := newKeyManager(cfg, st, sec, now)
	if err := keys.Ensure(ctx); err != nil {
		return nil, err
	}
	bundle, err := i18n.New()
	if err != nil {
		return nil, err
	}
	table, err := cfg.AssuranceTable()
	if err != nil {
		return nil, err
	}
	defPolicy, seeds, err := cfg.Policies(table)
	if err != nil {
		return nil, err
	}
	if err := seedPolicies(ctx, st, seeds, log); err != nil {
		return nil, err
	}
	phones, err := cfg.PhonePolicy()
	if err != nil {
		return nil, err
	}
	senders, callbacks, err := buildNotify(cfg, st, phones, log, now)
	if err != nil {
		return nil, err
	}
	registry, err := factors.NewRegistry(factors.Deps{
		Store: st, Sealer: sec.factorSealer, Codes: sec.factorCodes, Issuer: totpIssuer(cfg),
		Notify: senders, Messages: bundle, Phones: phones,
		Email: codeSettings(cfg.Factors.Email), SMS: codeSettings(cfg.Factors.SMS),
		Voice: factors.VoiceSettings{Digits: cfg.Factors.Voice.Digits, CallsPer10Min: cfg.Factors.Voice.CallsPer10Min, CallTimeout: cfg.Factors.Voice.CallTimeout},
	}, builtin.Registrations)
	if err != nil {
		return nil, err
	}
	registry = registry.Only(deliverable(senders))
	var srv *web.Server
	prov, err := oidcop.New(oidcop.Options{
		Issuer: cfg.Issuer, Store: st, Keys: keys, Secrets: sec.clientSecrets, CryptoKey: sec.opCrypto,
		Lifetimes: oidcop.Lifetimes{
			AccessToken: cfg.Tokens.AccessTokenLifetime, IDToken: cfg.Tokens.IDTokenLifetime,
			RefreshToken: cfg.Tokens.RefreshTokenLifetime, AuthCode: cfg.Tokens.AuthCodeLifetime,
			AuthRequest: cfg.Tokens.AuthRequestLifetime,
		},
		DefaultAlg: cfg.Keys.DefaultAlg, CookieName: cfg.Session.CookieName, ACRValues: table.Values(),
		UILocales: i18n.Supported, Now: now, Logger: log, LoginPath: "/login", LogoutPath: "/logged-out",
		// A changed client reaches every node within the key cache period.
		ClientCacheTTL: cfg.Keys.CacheTTL,
		RenderError: func(w http.ResponseWriter, r *http.Request, status int, id, detail string) {
			srv.RenderError(w, r, status, id, detail)
		},
	})
	if err != nil {
		return nil, err
	}
	secure := strings.HasPrefix(cfg.Issuer, "https://")
	var proxies []*net.IPNet
	for _, p := range cfg.TrustedProxyPrefixes() {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			proxies = append(proxies, n)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	hasher := security.NewPasswordHasher(security.Argon2Params{
		MemoryKiB: cfg.Passwords.Argon2MemoryKiB, Iterations: cfg.Passwords.Argon2Iterations,
		Parallelism: cfg.Passwords.Argon2Parallelism, SaltLen: 16, KeyLen: 32,
	}, security.WithConcurrency(cfg.Passwords.MaxConcurrentHashes),
		security.WithQueue(cfg.Passwords.MaxQueuedHashes), security.WithMaxWait(cfg.Passwords.MaxHashWait))
	reg.MustRegister(hasherMetrics(hasher)...)
	srv, err = web.New(web.Deps{
		Store: st, Provider: prov,
		Sessions: session.NewManager(st, cfg.Session.CookieName, cfg.Session.Lifetime, cfg.Session.IdleTimeout, secure, now),
		Hasher:   hasher,
		Throttle: security.NewThrottle(st, cfg.Throttle.AccountFailures, cfg.Throttle.IPFailures, cfg.Throttle.Window, now),
		I18n:     bundle, Factors: registry, Table: table, DefaultPolicy: defPolicy,
		FactorThrottle: security.NewThrottle(st, cfg.Factors.AccountFailures, 0, cfg.Factors.AccountFailureWindow, now),
		Limits: web.FlowLimits{
			MaxAttempts: cfg.Factors.MaxAttempts, ChallengeLifetime: cfg.Factors.ChallengeLifetime,
			FlowLifetime: cfg.Factors.FlowLifetime,
		},
		VoiceCallbacks: callbacks, Notify: senders, Dev: cfg.Dev,
		Secure: secure, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		TrustedProxies: proxies, Registry: reg, Logger: log, Now: now, AccessLog: cfg.Log.Access,
	})
	if err != nil {
		return nil, err
	}
	return &app{server: srv, provider: prov, keys: keys, hasher: hasher}, nil
}

// seedPolicies writes the config's client policies for clients that have
// none yet: config seeds, admins edit, and a restart never undoes an edit.
func seedPolicies(ctx context.Context, st store.Store, seeds map[string]store.ClientPolicy, log *slog.Logger) error {
	for id, p := range seeds {
		if _, err := st.ClientByID(ctx, id); errors.Is(err, store.ErrNotFound) {
			log.Warn("policy for an unknown client not seeded", "client", id)
			continue
		} else if err != nil {
			return err
		}
		p.ClientID = id
		if _, err := st.SeedClientPolicy(ctx, &p); err != nil {
			return fmt.Errorf("seed policy of %s: %w", id, err)
		}
	}
	return nil
}

// totpIssuer is the name authenticator apps show next to the account.
func totpIssuer(cfg config.Config) string {
	if cfg.Factors.TOTPIssuer != "" {
		return cfg.Factors.TOTPIssuer
	}
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "IdP"
}
