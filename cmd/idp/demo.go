package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/oidcop"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// The demo's fixed credentials: it is a local playground, and a stable
// secret lets a portal developer keep their RP config across restarts.
const (
	demoClientID     = "demo-portal"
	demoClientSecret = "demo-portal-secret-not-for-production"
	demoRedirectURI  = "http://127.0.0.1:9000/callback"
	demoUsername     = "demo"
	demoPassword     = "demo-patient-password"
	demoEmail        = "demo@example.org"
	// demoMFAClientID requires LoA substantial: the demo of the factor
	// chain (enrolment with a grace period, TOTP, recovery codes).
	demoMFAClientID     = "demo-portal-mfa"
	demoMFAClientSecret = "demo-portal-mfa-secret-not-for-production"
	demoMFAGraceDays    = 14
)

func demoCmd(g *globals) *cobra.Command {
	var listen string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a complete local demo: SQLite in ./data, dev mode, a demo client and user",
		RunE: func(cmd *cobra.Command, _ []string) error {
			issuer, err := demoIssuer(listen)
			if err != nil {
				return err
			}
			flags := map[string]string{"dev": "true", "listen": listen, "issuer": issuer}
			if os.Getenv(config.EnvName("database.dsn")) == "" {
				flags["database.dsn"] = "sqlite:data/idp.db"
			}
			cfg, err := loadConfig(g, flags)
			if err != nil {
				return err
			}
			log := newLogger(cfg, io.Discard)
			st, err := openStore(cmd.Context(), cfg, true, log)
			if err != nil {
				return err
			}
			err = seedDemo(cmd.Context(), cfg, st)
			st.Close()
			if err != nil {
				return err
			}
			printDemo(cmd.OutOrStdout(), cfg)
			return serve(cmd.Context(), cfg, nil)
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "listen address host:port")
	return c
}

// seedDemo adds the demo client and user unless they exist.
func seedDemo(ctx context.Context, cfg config.Config, st *sqlstore.Store) error {
	_, _, err := registerClient(ctx, cfg, st, clientInput{
		id: demoClientID, redirectURIs: []string{demoRedirectURI, "http://localhost:9000/callback"},
		postLogoutURIs: []string{"http://127.0.0.1:9000/"},
		grantTypes:     []string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken, oidcop.GrantClientCredentials},
	}, demoClientSecret, time.Now())
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	_, _, err = registerClient(ctx, cfg, st, clientInput{
		id: demoMFAClientID, redirectURIs: []string{demoRedirectURI, "http://localhost:9000/callback"},
		postLogoutURIs: []string{"http://127.0.0.1:9000/"},
		grantTypes:     []string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken},
	}, demoMFAClientSecret, time.Now())
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	_, err = st.SeedClientPolicy(ctx, &store.ClientPolicy{
		ClientID: demoMFAClientID, MinACR: assurance.LoASubstantial, DefaultACR: assurance.LoASubstantial,
		GraceDays: demoMFAGraceDays, RememberFor: 30 * 24 * time.Hour, UpdatedAt: time.Now(),
	})
	if err != nil {
		return err
	}
	if _, err := st.UserByUsername(ctx, demoUsername); errors.Is(err, store.ErrNotFound) {
		u, err := newUser(ctx, cfg, demoUsername, demoEmail, "+31612345678", demoPassword, time.Now())
		if err != nil {
			return err
		}
		return st.CreateUser(ctx, u)
	} else if err != nil {
		return err
	}
	return nil
}

func printDemo(w io.Writer, cfg config.Config) {
	q := url.Values{
		"client_id": {demoClientID}, "redirect_uri": {demoRedirectURI}, "response_type": {"code"},
		"scope": {"openid profile email offline_access"}, "state": {"demo"}, "nonce": {"demo"},
	}
	mfa := url.Values{
		"client_id": {demoMFAClientID}, "redirect_uri": {demoRedirectURI}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {"demo"}, "nonce": {"demo"},
	}
	fmt.Fprintf(w, `
  Identity provider demo (dev mode, SQLite in %s)

  Issuer        %s
  Discovery     %s/.well-known/openid-configuration

  Demo client   id %s
                secret %s
                redirect URI %s
  MFA client    id %s (requires LoA substantial: an authenticator
                app, an email code, an SMS code or a voice call, plus
                recovery codes; set-up may be skipped for %d days)
                secret %s
  Demo user     %s / %s

  Try it        %s/authorize?%s
  With MFA      %s/authorize?%s

  Your account  %s/account
                add an email address, a mobile, a landline, an app
                (each change asks a second factor again)

  Dev outbox    %s/dev/outbox
                every email, SMS and call is kept here instead of sent;
                type a call's digits on its keypad

`, cfg.Database.DSN, cfg.Issuer, cfg.Issuer, demoClientID, demoClientSecret, demoRedirectURI,
		demoMFAClientID, demoMFAGraceDays, demoMFAClientSecret,
		demoUsername, demoPassword, cfg.Issuer, q.Encode(), cfg.Issuer, mfa.Encode(), cfg.Issuer, cfg.Issuer)
}

// demoIssuer is the URL a browser on this machine uses to reach --listen:
// an unspecified host (":8080", "0.0.0.0:8080") is reached on 127.0.0.1.
func demoIssuer(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: want host:port", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
