package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/security"
)

// benchSetup is what `setup` prints and `run --setup-file` reads: the
// bench clients and users with their secrets. Throwaway credentials for a
// load test, but credentials: the file is written 0600.
type benchSetup struct {
	Issuer          string `json:"issuer,omitempty"`
	ClientID        string `json:"client_id"`
	ClientSecret    string `json:"client_secret"`
	MFAClientID     string `json:"mfa_client_id,omitempty"`
	MFAClientSecret string `json:"mfa_client_secret,omitempty"`
	RedirectURI     string `json:"redirect_uri"`
	// Users log in with the password only.
	Users []benchUser `json:"users"`
	// TOTPUsers have TOTP set up (and recovery codes, unused).
	TOTPUsers []benchUser `json:"totp_users,omitempty"`
}

type benchUser struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	TOTPSecret string `json:"totp_secret,omitempty"`
	// LastStep is the last TOTP time step (unix seconds / 30) whose code
	// was sent: the server refuses it again.
	LastStep int64 `json:"last_step,omitempty"`
}

// benchRedirectURI is where nothing listens: the browser stops at the
// redirect and reads the code from it.
const benchRedirectURI = "http://127.0.0.1:9/cb"

func (s *benchSetup) redirectURI() string {
	if s.RedirectURI != "" {
		return s.RedirectURI
	}
	return benchRedirectURI
}

func readSetup(path string) (*benchSetup, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s benchSetup
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// writeSetup replaces path atomically, mode 0600.
func writeSetup(path string, s *benchSetup) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".idp-bench-setup-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// setupOptions configure `idp-bench setup`.
type setupOptions struct {
	IDP        string // the command that runs the idp CLI, split on spaces
	ConfigFile string // passed as --config
	Database   string // passed as --database
	Dir        string // working directory of the CLI (where the demo keeps ./data)
	Prefix     string
	Users      int
	TOTPUsers  int
	Issuer     string // needed to set up TOTP through the pages
	// HashOnce: hash the bench password once here and import the hash
	// (user add --password-hash-stdin) instead of letting each CLI call
	// spend an argon2id hash.
	HashOnce bool
	Parallel int
	Log      io.Writer
}

// idpCLI runs the idp command line.
type idpCLI struct {
	argv []string
	env  []string
	dir  string
}

func (c idpCLI) run(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	argv := append(append([]string{}, c.argv[1:]...), args...)
	cmd := exec.CommandContext(ctx, c.argv[0], argv...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("idp %s: %v: %s", strings.Join(args[:min(3, len(args))], " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// setup registers the bench clients and users with the idp CLI, then sets
// up TOTP for the TOTP users through the login pages.
func setup(ctx context.Context, o setupOptions) (*benchSetup, error) {
	argv := strings.Fields(o.IDP)
	if len(argv) == 0 {
		return nil, errors.New("--idp: the command that runs the idp CLI, e.g. ./bin/idp or \"go run ./cmd/idp\"")
	}
	if o.TOTPUsers > 0 && o.Issuer == "" {
		return nil, errors.New("--totp-users needs --issuer: TOTP is set up through the login pages")
	}
	if o.Prefix == "" || strings.ContainsAny(o.Prefix, " :@") {
		return nil, errors.New("--prefix: a short name without spaces, colons or @")
	}
	if o.Parallel < 1 {
		o.Parallel = runtime.GOMAXPROCS(0)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	cli := idpCLI{argv: argv, env: os.Environ(), dir: o.Dir}
	var common []string
	if o.ConfigFile != "" {
		common = append(common, "--config", o.ConfigFile)
	}
	if o.Database != "" {
		common = append(common, "--database", o.Database)
	}
	s := &benchSetup{
		Issuer: strings.TrimSuffix(o.Issuer, "/"), RedirectURI: benchRedirectURI,
		ClientID: o.Prefix + "-portal", ClientSecret: randomURLSafe(32),
		MFAClientID: o.Prefix + "-mfa", MFAClientSecret: randomURLSafe(32),
	}
	fmt.Fprintf(o.Log, "registering clients %s and %s\n", s.ClientID, s.MFAClientID)
	grants := []string{"--grant-type", "authorization_code", "--grant-type", "refresh_token"}
	if _, err := cli.run(ctx, s.ClientSecret+"\n", append(append([]string{"client", "add", "--id", s.ClientID, "--secret-stdin",
		"--redirect-uri", benchRedirectURI, "--grant-type", "client_credentials", "--json"}, grants...), common...)...); err != nil {
		return nil, err
	}
	if _, err := cli.run(ctx, s.MFAClientSecret+"\n", append(append([]string{"client", "add", "--id", s.MFAClientID, "--secret-stdin",
		"--redirect-uri", benchRedirectURI, "--json"}, grants...), common...)...); err != nil {
		return nil, err
	}
	if _, err := cli.run(ctx, "", append([]string{"client", "policy", "set", "--id", s.MFAClientID,
		"--min-acr", "substantial", "--grace-days", "0", "--json"}, common...)...); err != nil {
		return nil, err
	}

	// One password for every bench user: long, random, not a common one.
	password := "bench-" + randomURLSafe(18)
	secret, flag := password, "--password-stdin"
	if o.HashOnce {
		cfg, err := config.Load(o.ConfigFile, os.Environ())
		if err != nil {
			return nil, fmt.Errorf("reading the argon2id parameters from the config: %w", err)
		}
		h := security.NewPasswordHasher(security.Argon2Params{
			MemoryKiB: cfg.Passwords.Argon2MemoryKiB, Iterations: cfg.Passwords.Argon2Iterations,
			Parallelism: cfg.Passwords.Argon2Parallelism, SaltLen: 16, KeyLen: 32,
		})
		if secret, err = h.HashContext(ctx, password); err != nil {
			return nil, err
		}
		flag = "--password-hash-stdin"
	}
	names := func(kind string, n int) []benchUser {
		out := make([]benchUser, n)
		for i := range out {
			out[i] = benchUser{Username: fmt.Sprintf("%s-%s%06d", o.Prefix, kind, i+1), Password: password}
		}
		return out
	}
	s.Users, s.TOTPUsers = names("u", o.Users), names("t", o.TOTPUsers)
	all := append(append([]benchUser{}, s.Users...), s.TOTPUsers...)
	fmt.Fprintf(o.Log, "adding %d users with the idp CLI (%d at a time)\n", len(all), o.Parallel)
	t0 := time.Now()
	if err := parallel(ctx, len(all), o.Parallel, func(i int) error {
		u := all[i]
		_, err := cli.run(ctx, secret+"\n", append([]string{"user", "add", "--username", u.Username,
			"--email", u.Username + "@bench.invalid", flag, "--json"}, common...)...)
		return err
	}); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "users added in %v\n", time.Since(t0).Round(time.Millisecond))

	if o.TOTPUsers > 0 {
		fmt.Fprintf(o.Log, "setting up TOTP for %d users through the pages of %s\n", o.TOTPUsers, s.Issuer)
		t0 = time.Now()
		if err := enrolTOTP(ctx, s, o.Parallel*2); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "TOTP set up in %v\n", time.Since(t0).Round(time.Millisecond))
	}
	return s, nil
}

// enrolTOTP logs each TOTP user in at the client requiring substantial
// and walks the set-up pages: start TOTP, read the key from the page,
// activate it with a code, confirm the recovery codes are saved.
func enrolTOTP(ctx context.Context, s *benchSetup, n int) error {
	e, err := newEnv(ctx, runOptions{Issuer: s.Issuer, Timeout: 30 * time.Second, Setup: s})
	if err != nil {
		return err
	}
	workers := make(chan *worker, n)
	for i := 0; i < n; i++ {
		workers <- newWorker(i, e)
	}
	return parallel(ctx, len(s.TOTPUsers), n, func(i int) error {
		w := <-workers
		defer func() { workers <- w }()
		u := &s.TOTPUsers[i]
		_, _, err := newBrowser(w).authorize(ctx, loginParams{
			clientID: s.MFAClientID, redirectURI: s.redirectURI(), scope: "openid", user: u, enrol: true,
		})
		if err != nil {
			return fmt.Errorf("TOTP set-up of %s: %w", u.Username, err)
		}
		if u.TOTPSecret == "" {
			return fmt.Errorf("TOTP set-up of %s: the login finished without offering TOTP (enrolled already?)", u.Username)
		}
		return nil
	})
}

// parallel calls fn(0..n-1) on at most k goroutines and returns the first
// error; after one, the remaining calls are skipped.
func parallel(ctx context.Context, n, k int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for g := 0; g < min(k, n); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || i >= n || ctx.Err() != nil
				mu.Unlock()
				if stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
