package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/nyaruka/phonenumbers"
	"github.com/spf13/cobra"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

type userJSON struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	Phone     string    `json:"phone,omitempty"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserJSON(u *store.User) userJSON {
	return userJSON{u.ID, u.Username, u.Email, u.Phone, u.Disabled, u.CreatedAt, u.UpdatedAt}
}

// withStore runs fn on the configured database (migrated first).
func withStore(cmd *cobra.Command, g *globals, fn func(ctx context.Context, cfg config.Config, st *sqlstore.Store) error) error {
	cfg, err := loadConfig(g, nil)
	if err != nil {
		return err
	}
	st, err := openStore(cmd.Context(), cfg, cfg.Database.MigrateOnStart, newLogger(cfg, cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(cmd.Context(), cfg, st)
}

func userCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage users"}
	c.AddCommand(userAddCmd(g), userListCmd(g), userSetDisabledCmd(g, true), userSetDisabledCmd(g, false), userResetFactorsCmd(g))
	return c
}

func userAddCmd(g *globals) *cobra.Command {
	var username, email, phone string
	var pwStdin, hashStdin bool
	c := &cobra.Command{
		Use:   "add",
		Short: "Add a user; the password (or an imported hash) is read from stdin",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pwStdin == hashStdin {
				return errors.New("give exactly one of --password-stdin and --password-hash-stdin: passwords are never taken from the command line")
			}
			secret, err := readSecret(cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("password: %w", err)
			}
			return withStore(cmd, g, func(ctx context.Context, cfg config.Config, st *sqlstore.Store) error {
				var u *store.User
				if hashStdin {
					u, err = importUser(username, email, phone, secret, time.Now())
				} else {
					u, err = newUser(ctx, cfg, username, email, phone, secret, time.Now())
				}
				if err != nil {
					return err
				}
				if err := st.CreateUser(ctx, u); err != nil {
					if errors.Is(err, store.ErrConflict) {
						return errors.New("a user with this username or email already exists")
					}
					return err
				}
				if g.jsonOut {
					return printJSON(cmd.OutOrStdout(), toUserJSON(u))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s added (id %s)\n", u.Username, u.ID)
				return nil
			})
		},
	}
	c.Flags().StringVar(&username, "username", "", "username (required)")
	c.Flags().StringVar(&email, "email", "", "email address (required)")
	c.Flags().StringVar(&phone, "phone", "", "phone number, international format (+31 6 ...)")
	c.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from stdin")
	c.Flags().BoolVar(&hashStdin, "password-hash-stdin", false, "read an existing bcrypt ($2a$/$2b$/$2y$) or argon2id hash from stdin (migration); upgraded to argon2id at the next login")
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}

// newUser validates the input and hashes the password. Every problem is
// reported at once, each naming its flag.
func newUser(ctx context.Context, cfg config.Config, username, email, phone, password string, now time.Time) (*store.User, error) {
	u, errs := userFields(username, email, phone)
	policy := security.PasswordPolicy{MinLength: cfg.Passwords.MinLength, MaxLength: cfg.Passwords.MaxLength}
	if err := policy.Check(password, u.Username, u.Email); err != nil {
		errs = append(errs, fmt.Errorf("password: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	h := security.NewPasswordHasher(security.Argon2Params{
		MemoryKiB: cfg.Passwords.Argon2MemoryKiB, Iterations: cfg.Passwords.Argon2Iterations,
		Parallelism: cfg.Passwords.Argon2Parallelism, SaltLen: 16, KeyLen: 32,
	})
	hash, err := h.HashContext(ctx, password)
	if err != nil {
		return nil, err
	}
	u.PasswordHash, u.CreatedAt, u.UpdatedAt = hash, now, now
	return u, nil
}

// importUser takes a password hash from another system. The password
// itself is unknown, so the policy is checked at the next password change.
func importUser(username, email, phone, hash string, now time.Time) (*store.User, error) {
	u, errs := userFields(username, email, phone)
	if !security.IsSupportedHash(hash) {
		errs = append(errs, errors.New("password hash: must be a bcrypt ($2a$, $2b$, $2y$) or argon2id PHC string"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	u.PasswordHash, u.CreatedAt, u.UpdatedAt = hash, now, now
	return u, nil
}

// userFields normalises and checks username, email and phone.
func userFields(username, email, phone string) (*store.User, []error) {
	var errs []error
	username = strings.ToLower(strings.TrimSpace(username))
	email = strings.TrimSpace(email)
	if username == "" || len(username) > 256 || strings.ContainsAny(username, " \t\r\n") {
		errs = append(errs, errors.New("--username: required, without spaces, at most 256 characters"))
	}
	if at := strings.LastIndexByte(email, '@'); at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n") {
		errs = append(errs, errors.New("--email: must be an email address"))
	}
	if phone != "" {
		n, err := phonenumbers.Parse(phone, "")
		if err != nil || !phonenumbers.IsValidNumber(n) {
			errs = append(errs, errors.New("--phone: must be a valid number in international format, e.g. +31 6 12345678"))
		} else {
			phone = phonenumbers.Format(n, phonenumbers.E164)
		}
	}
	return &store.User{ID: uuid.NewString(), Username: username, Email: email, Phone: phone}, errs
}

func userListCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List users",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, g, func(ctx context.Context, _ config.Config, st *sqlstore.Store) error {
				users, err := st.ListUsers(ctx)
				if err != nil {
					return err
				}
				out := make([]userJSON, 0, len(users))
				for i := range users {
					out = append(out, toUserJSON(&users[i]))
				}
				if g.jsonOut {
					return printJSON(cmd.OutOrStdout(), out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USERNAME\tEMAIL\tDISABLED\tID")
				for _, u := range out {
					fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", u.Username, u.Email, u.Disabled, u.ID)
				}
				return tw.Flush()
			})
		},
	}
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}

// userSetDisabledCmd builds "disable" and "enable". Disabling also ends the
// person's sessions and revokes their tokens.
func userSetDisabledCmd(g *globals, disable bool) *cobra.Command {
	var username string
	name, short, event := "enable", "Enable a user", "user.enabled"
	if disable {
		name, short, event = "disable", "Disable a user: ends their sessions and revokes their tokens", "user.disabled"
	}
	c := &cobra.Command{
		Use:   name,
		Short: short,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withUser(cmd, g, username, func(ctx context.Context, st *sqlstore.Store, u *store.User) error {
				now := time.Now()
				if err := st.SetUserDisabled(ctx, u.ID, disable, now); err != nil {
					return err
				}
				if disable {
					if err := st.DeleteUserSessions(ctx, u.ID); err != nil {
						return err
					}
					if err := st.RevokeUserTokens(ctx, u.ID, "", now); err != nil {
						return err
					}
				}
				if err := st.RecordAudit(ctx, &store.AuditEvent{UserID: u.ID, Event: event, Detail: map[string]string{"by": "cli"}, CreatedAt: now}); err != nil {
					return err
				}
				u.Disabled, u.UpdatedAt = disable, now
				if g.jsonOut {
					return printJSON(cmd.OutOrStdout(), toUserJSON(u))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s %sd\n", u.Username, name)
				return nil
			})
		},
	}
	c.Flags().StringVar(&username, "username", "", "username (required)")
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}

// withUser runs fn on the user named by --username.
func withUser(cmd *cobra.Command, g *globals, username string, fn func(ctx context.Context, st *sqlstore.Store, u *store.User) error) error {
	if username == "" {
		return errors.New("--username is required")
	}
	return withStore(cmd, g, func(ctx context.Context, _ config.Config, st *sqlstore.Store) error {
		u, err := st.UserByUsername(ctx, strings.ToLower(strings.TrimSpace(username)))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %q", username)
		}
		if err != nil {
			return err
		}
		return fn(ctx, st, u)
	})
}
