package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// globals are the flags every command takes.
type globals struct {
	configFile string
	database   string
	jsonOut    bool
}

func rootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "idp",
		Short:         "OpenID Connect identity provider with step-up MFA",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configFile, "config", "", "YAML config file (every key overridable by IDP_* environment variables)")
	root.AddCommand(serveCmd(g), demoCmd(g), migrateCmd(g), userCmd(g), clientCmd(g), keysCmd(g))
	return root
}

// addDatabaseFlag adds --database DSN to a command.
func addDatabaseFlag(c *cobra.Command, g *globals) {
	c.Flags().StringVar(&g.database, "database", "", "database: sqlite:PATH or a postgres:// URL (overrides database.dsn)")
}

func addJSONFlag(c *cobra.Command, g *globals) {
	c.Flags().BoolVar(&g.jsonOut, "json", false, "print JSON")
}

// loadConfig reads the config file and environment; flags win over both,
// so they are passed in as environment overrides (keyed by config key).
func loadConfig(g *globals, flags map[string]string) (config.Config, error) {
	if flags == nil {
		flags = map[string]string{}
	}
	if g.database != "" {
		flags["database.dsn"] = g.database
	}
	env := os.Environ()
	for key, v := range flags {
		name := config.EnvName(key)
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
		env = append(env, name+"="+v)
	}
	return config.Load(g.configFile, env)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func openStore(ctx context.Context, cfg config.Config, migrate bool, log *slog.Logger) (*sqlstore.Store, error) {
	return sqlstore.Open(ctx, cfg.Database.DSN, sqlstore.Options{
		MaxOpenConns: cfg.Database.MaxOpenConns, Migrate: migrate, Logger: log,
	})
}

// masterKey returns the configured encryption key or, for SQLite, the one
// kept in encryption.key next to the database; in dev mode it creates that
// file on first use.
func masterKey(cfg config.Config) ([]byte, error) {
	if cfg.Secrets.EncryptionKey != "" {
		return cfg.EncryptionKeyBytes()
	}
	path, ok := strings.CutPrefix(cfg.Database.DSN, "sqlite:")
	if !ok {
		return nil, errors.New("secrets.encryption_key: is required with PostgreSQL")
	}
	keyFile := filepath.Join(filepath.Dir(path), "encryption.key")
	raw, err := os.ReadFile(keyFile)
	if errors.Is(err, os.ErrNotExist) && cfg.Dev {
		k := make([]byte, security.KeySize)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString(k)
		if err := os.WriteFile(keyFile, []byte(enc+"\n"), 0o600); err != nil {
			return nil, err
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets.encryption_key: not set, and %s: %w", keyFile, err)
	}
	c := cfg
	c.Secrets.EncryptionKey = strings.TrimSpace(string(raw))
	return c.EncryptionKeyBytes()
}

// readSecret reads a secret from stdin: the first line, without its line
// ending. Secrets never come from argv, where ps and shell history see them.
func readSecret(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", err
	}
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.TrimSuffix(s, "\r")
	if s == "" {
		return "", errors.New("nothing on stdin")
	}
	return s, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
