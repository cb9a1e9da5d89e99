// Command idp-bench is the load tool of the identity provider: a closed
// loop of N workers, each with its own keep-alive connection, running one
// scenario (discovery, jwks, client-credentials, introspect, refresh,
// login, login-totp, step-up) against an issuer URL for a duration, and
// printing throughput, latency percentiles and errors by kind (--json:
// one JSON object). `setup` creates its clients and users with the idp
// CLI, so it runs against a fresh `idp demo`; `seed` bulk-writes users,
// sessions and audit events for the data-growth test. The non-login
// scenarios speak only standard OIDC/OAuth, so the tool can measure
// another OP side by side. docs/LOADTEST.md has the how-to and figures.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := rootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "idp-bench:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "idp-bench",
		Short:         "Load tool for the identity provider (and any OpenID Connect provider)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCmd(), setupCmd(), seedCmd(), reportCmd())
	return root
}

func runCmd() *cobra.Command {
	var (
		o                                          runOptions
		scenarioList, setupFile                    string
		clientID, clientSecret, username, password string
		mfaClientID, mfaClientSecret, totpSecret   string
		redirectURI                                string
		jsonOut, noSave                            bool
	)
	about := make([]string, len(scenarios))
	for i, s := range scenarios {
		about[i] = fmt.Sprintf("  %-19s %s", s.name, s.about)
	}
	c := &cobra.Command{
		Use:   "run",
		Short: "Run scenarios in a closed loop and print rps, latency percentiles and errors by kind",
		Long: "Run each scenario of --scenario (comma separated) in turn: --concurrency workers (or NAME:N for\n" +
			"N workers), each with its own keep-alive connection, loop for --warmup (not counted) and then\n" +
			"--duration.\n\nScenarios:\n" +
			strings.Join(about, "\n") + "\n\nCredentials come from --setup-file (see `idp-bench setup`) or the flags below.\n" +
			"The credential flags are for throwaway bench accounts only: argv is visible to other users.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := &benchSetup{}
			if setupFile != "" {
				var err error
				if s, err = readSetup(setupFile); err != nil {
					return err
				}
			}
			override := func(dst *string, v string) {
				if v != "" {
					*dst = v
				}
			}
			override(&s.ClientID, clientID)
			override(&s.ClientSecret, clientSecret)
			override(&s.MFAClientID, mfaClientID)
			override(&s.MFAClientSecret, mfaClientSecret)
			override(&s.RedirectURI, redirectURI)
			if username != "" {
				u := benchUser{Username: username, Password: password, TOTPSecret: totpSecret}
				s.Users = []benchUser{u}
				if totpSecret != "" {
					s.TOTPUsers = []benchUser{u}
				}
			}
			if o.Issuer == "" {
				o.Issuer = s.Issuer
			}
			if o.Issuer == "" {
				return errors.New("--issuer is required (or an issuer in --setup-file)")
			}
			o.Setup = s
			rep := newReport(o.Issuer)
			for _, item := range strings.Split(scenarioList, ",") {
				ro := o
				name, conc, ok := strings.Cut(strings.TrimSpace(item), ":")
				ro.Scenario = name
				if ok {
					n, err := strconv.Atoi(conc)
					if err != nil || n < 1 {
						return fmt.Errorf("--scenario %q: NAME or NAME:CONCURRENCY", item)
					}
					ro.Concurrency = n
				}
				if !jsonOut {
					fmt.Fprintf(cmd.ErrOrStderr(), "running %s: %d workers, %v warm-up + %v\n", ro.Scenario, ro.Concurrency, ro.Warmup, ro.Duration)
				}
				res, err := run(cmd.Context(), ro)
				if err != nil {
					return err
				}
				rep.Results = append(rep.Results, res)
			}
			// The TOTP steps used are saved, so the next run does not send a
			// code the server has already seen.
			if setupFile != "" && !noSave && username == "" && len(s.TOTPUsers) > 0 {
				if err := writeSetup(setupFile, s); err != nil {
					return fmt.Errorf("saving the TOTP steps used: %w", err)
				}
			}
			if jsonOut {
				return rep.writeJSON(cmd.OutOrStdout())
			}
			return rep.writeTable(cmd.OutOrStdout())
		},
	}
	f := c.Flags()
	f.StringVar(&o.Issuer, "issuer", "", "issuer URL of the OP (default: the setup file's)")
	f.StringVar(&scenarioList, "scenario", "discovery", "scenario(s), comma separated, each NAME or NAME:CONCURRENCY: "+strings.Join(scenarioNames(), ", "))
	f.IntVarP(&o.Concurrency, "concurrency", "c", 8, "workers (closed loop: each sends its next request when the last is answered)")
	f.DurationVarP(&o.Duration, "duration", "d", 10*time.Second, "measured time per scenario")
	f.DurationVar(&o.Warmup, "warmup", 2*time.Second, "time run before the measurement, not counted")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "timeout of one HTTP request")
	f.StringVar(&o.ACR, "acr", "http://eidas.europa.eu/LoA/substantial", "acr_values of the step-up scenario")
	f.StringVar(&setupFile, "setup-file", "", "JSON written by `idp-bench setup` (clients, users, TOTP keys); TOTP steps used are saved back")
	f.BoolVar(&noSave, "no-save", false, "do not save the TOTP steps used back to --setup-file")
	f.StringVar(&clientID, "client-id", "", "client id (overrides the setup file)")
	f.StringVar(&clientSecret, "client-secret", "", "client secret (bench accounts only)")
	f.StringVar(&mfaClientID, "mfa-client-id", "", "client requiring substantial, for login-totp")
	f.StringVar(&mfaClientSecret, "mfa-client-secret", "", "its secret")
	f.StringVar(&redirectURI, "redirect-uri", "", "redirect URI registered for the clients (default "+benchRedirectURI+")")
	f.StringVar(&username, "username", "", "one user for the login scenarios, instead of the setup file's")
	f.StringVar(&password, "password", "", "its password (bench accounts only)")
	f.StringVar(&totpSecret, "totp-secret", "", "its TOTP key (base32); one user allows 3 TOTP logins, then 1 per 30 s")
	f.BoolVar(&jsonOut, "json", false, "print one JSON object (fields in docs/LOADTEST.md)")
	return c
}

func setupCmd() *cobra.Command {
	var (
		o       setupOptions
		out     string
		jsonOut bool
	)
	c := &cobra.Command{
		Use:   "setup",
		Short: "Create the bench clients and users with the idp CLI, set up TOTP through the pages, print them as JSON",
		Long: "Registers <prefix>-portal (confidential: authorization_code, refresh_token, client_credentials) and\n" +
			"<prefix>-mfa (policy: min acr substantial, no grace period), redirect URI " + benchRedirectURI + ",\n" +
			"adds --users password users and --totp-users users who then set up TOTP through the login pages\n" +
			"of --issuer, and writes everything, secrets included, to --out (mode 0600) for `run --setup-file`.\n\n" +
			"Point the CLI at the server's database with --config or --database (for `idp demo`, run setup in\n" +
			"the demo's directory, or give --database sqlite:DIR/data/idp.db).",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !jsonOut && out == "" {
				return errors.New("--out FILE (the setup holds secrets), or --json to print it")
			}
			o.Log = cmd.ErrOrStderr()
			s, err := setup(cmd.Context(), o)
			if err != nil {
				return err
			}
			if out != "" {
				if err := writeSetup(out, s); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", out)
			}
			if jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.IDP, "idp", "idp", "the command that runs the idp CLI (split on spaces), e.g. ./bin/idp or \"go run ./cmd/idp\"")
	f.StringVar(&o.ConfigFile, "config", "", "config file passed to the idp CLI (and read here for the argon2id parameters)")
	f.StringVar(&o.Database, "database", "", "database passed to the idp CLI (sqlite:PATH or postgres://...)")
	f.StringVar(&o.Dir, "dir", "", "working directory of the idp CLI (default: the current one)")
	f.StringVar(&o.Prefix, "prefix", "bench", "prefix of the client ids and usernames")
	f.IntVar(&o.Users, "users", 8, "users who log in with a password")
	f.IntVar(&o.TOTPUsers, "totp-users", 0, "users with TOTP; a pool of U sustains U/30 TOTP logins per second")
	f.StringVar(&o.Issuer, "issuer", "", "issuer URL (needed for --totp-users: TOTP is set up through the pages)")
	f.BoolVar(&o.HashOnce, "hash-once", true, "hash the bench password once and import the hash, instead of one argon2id hash per CLI call")
	f.IntVar(&o.Parallel, "parallel", 0, "CLI processes at a time (default GOMAXPROCS)")
	f.StringVar(&out, "out", "", "write the setup (JSON, mode 0600) here")
	f.BoolVar(&jsonOut, "json", false, "print the setup JSON on stdout")
	return c
}

func seedCmd() *cobra.Command {
	var o seedOptions
	c := &cobra.Command{
		Use:   "seed",
		Short: "Bulk-write users (one shared password hash), sessions and audit events for the data-growth test",
		Long: "Writes rows straight into the schema's tables (migrated first with the project's migrations):\n" +
			"COPY on PostgreSQL, multi-row INSERTs on SQLite. Every seeded user shares one argon2id hash of one\n" +
			"generated password, printed once in the JSON output, so they can log in. Not for production databases.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.DSN == "" {
				return errors.New("--dsn is required (sqlite:PATH or postgres://...)")
			}
			o.Log = cmd.ErrOrStderr()
			res, err := seed(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), res)
		},
	}
	f := c.Flags()
	f.StringVar(&o.DSN, "dsn", "", "database: sqlite:PATH or postgres://...")
	f.StringVar(&o.ConfigFile, "config", "", "config file for the argon2id parameters and session lifetime (IDP_* environment too)")
	f.StringVar(&o.Prefix, "prefix", "seed", "username prefix: PREFIX-0000001 ...")
	f.IntVar(&o.Users, "users", 1000, "users to create")
	f.IntVar(&o.Users, "seed-users", 1000, "alias of --users")
	f.IntVar(&o.Sessions, "sessions", 0, "SSO sessions to create, spread over the users")
	f.IntVar(&o.Audit, "audit", 0, "audit events to create, spread over the users and the last 30 days")
	return c
}

func reportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report FILE",
		Short: "Print the table of a JSON report written by run --json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var r report
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return r.writeTable(cmd.OutOrStdout())
		},
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
