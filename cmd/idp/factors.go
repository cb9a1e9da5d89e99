package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/factors/builtin"
	"github.com/eu-health-idp/idp/idp/admin"
	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/policy"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

// userResetFactorsCmd is `idp user reset-factors`: the admin's answer to a
// lost phone.
func userResetFactorsCmd(g *globals) *cobra.Command {
	var username string
	c := &cobra.Command{
		Use:   "reset-factors",
		Short: "Remove a user's factors and sessions; their next login asks them to set up a factor again",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withUser(cmd, g, username, func(ctx context.Context, st *sqlstore.Store, u *store.User) error {
				svc := &admin.Service{Store: st, Now: time.Now}
				n, err := svc.ResetFactors(ctx, u.ID, "cli")
				if err != nil {
					return err
				}
				if g.jsonOut {
					return printJSON(cmd.OutOrStdout(), map[string]any{"user": toUserJSON(u), "removed_factors": n})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s: %d factor(s) removed, sessions ended; the next login asks to set up a factor\n", u.Username, n)
				return nil
			})
		},
	}
	c.Flags().StringVar(&username, "username", "", "username (required)")
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}

// policyJSON is a client policy as the CLI prints it.
type policyJSON struct {
	ClientID             string   `json:"client_id"`
	Default              bool     `json:"default"` // no row: the configured default applies
	AllowedFactors       []string `json:"allowed_factors"`
	MinACR               string   `json:"min_acr"`
	DefaultACR           string   `json:"default_acr"`
	FactorMaxAge         string   `json:"factor_max_age"`
	GraceDays            int      `json:"grace_days"`
	RememberDevice       bool     `json:"remember_device"`
	RememberFor          string   `json:"remember_for"`
	AccountChangeFactors []string `json:"account_change_factors"`
}

func toPolicyJSON(p store.ClientPolicy, isDefault bool) policyJSON {
	nz := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return policyJSON{
		ClientID: p.ClientID, Default: isDefault, AllowedFactors: nz(p.AllowedFactors), MinACR: p.MinACR,
		DefaultACR: p.DefaultACR, FactorMaxAge: p.FactorMaxAge.String(), GraceDays: p.GraceDays,
		RememberDevice: p.RememberDevice, RememberFor: p.RememberFor.String(), AccountChangeFactors: nz(p.AccountChangeFactors),
	}
}

func clientPolicyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "policy", Short: "Show or change a client's factor policy"}
	c.AddCommand(clientPolicyShowCmd(g), clientPolicySetCmd(g))
	return c
}

// loadPolicy returns the client's policy, or the configured default.
func loadPolicy(ctx context.Context, cfg config.Config, st *sqlstore.Store, clientID string) (p store.ClientPolicy, isDefault bool, table assurance.Table, err error) {
	if table, err = cfg.AssuranceTable(); err != nil {
		return p, false, table, err
	}
	if _, err := st.ClientByID(ctx, clientID); errors.Is(err, store.ErrNotFound) {
		return p, false, table, fmt.Errorf("no client %q", clientID)
	} else if err != nil {
		return p, false, table, err
	}
	stored, err := st.ClientPolicy(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		def, _, err := cfg.Policies(table)
		def.ClientID = clientID
		return def, true, table, err
	}
	if err != nil {
		return p, false, table, err
	}
	return *stored, false, table, nil
}

func printPolicy(cmd *cobra.Command, g *globals, p store.ClientPolicy, isDefault bool) error {
	j := toPolicyJSON(p, isDefault)
	if g.jsonOut {
		return printJSON(cmd.OutOrStdout(), j)
	}
	w := cmd.OutOrStdout()
	src := "stored"
	if isDefault {
		src = "configured default (no stored policy)"
	}
	fmt.Fprintf(w, "client            %s (%s)\n", j.ClientID, src)
	fmt.Fprintf(w, "allowed factors   %s\n", orAll(j.AllowedFactors))
	fmt.Fprintf(w, "min acr           %s\n", orNone(j.MinACR))
	fmt.Fprintf(w, "default acr       %s\n", orNone(j.DefaultACR))
	fmt.Fprintf(w, "factor max age    %s\n", j.FactorMaxAge)
	fmt.Fprintf(w, "grace days        %d\n", j.GraceDays)
	fmt.Fprintf(w, "remember device   %v (%s)\n", j.RememberDevice, j.RememberFor)
	fmt.Fprintf(w, "account changes   %s\n", orAll(j.AccountChangeFactors))
	return nil
}

func orAll(l []string) string {
	if len(l) == 0 {
		return "(all)"
	}
	return strings.Join(l, ",")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func clientPolicyShowCmd(g *globals) *cobra.Command {
	var id string
	c := &cobra.Command{
		Use:   "show",
		Short: "Show a client's factor policy",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" {
				return errors.New("--id is required")
			}
			return withStore(cmd, g, func(ctx context.Context, cfg config.Config, st *sqlstore.Store) error {
				p, isDefault, _, err := loadPolicy(ctx, cfg, st, id)
				if err != nil {
					return err
				}
				return printPolicy(cmd, g, p, isDefault)
			})
		},
	}
	c.Flags().StringVar(&id, "id", "", "client id (required)")
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}

func clientPolicySetCmd(g *globals) *cobra.Command {
	var (
		id                      string
		allowed, accountChanges []string
		minACR, defaultACR      string
		factorMaxAge, remFor    time.Duration
		graceDays               int
		remember                bool
	)
	c := &cobra.Command{
		Use:   "set",
		Short: "Change a client's factor policy (only the flags given change)",
		Long: "Change a client's factor policy. Flags not given keep their current value.\n" +
			"Levels may be short names (low, substantial, high, mfa, aal2) or full acr values;\n" +
			"an empty --allowed-factors means every factor.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" {
				return errors.New("--id is required")
			}
			return withStore(cmd, g, func(ctx context.Context, cfg config.Config, st *sqlstore.Store) error {
				p, _, table, err := loadPolicy(ctx, cfg, st, id)
				if err != nil {
					return err
				}
				fl := cmd.Flags()
				var errs []error
				resolve := func(flag, v string) string {
					if v == "" {
						return ""
					}
					acr, ok := table.Resolve(v)
					if !ok {
						errs = append(errs, fmt.Errorf("--%s: unknown acr %q (known: %s)", flag, v, strings.Join(table.Values(), ", ")))
					}
					return acr
				}
				if fl.Changed("allowed-factors") {
					p.AllowedFactors = cleanList(allowed)
				}
				if fl.Changed("account-change-factors") {
					p.AccountChangeFactors = cleanList(accountChanges)
				}
				if fl.Changed("min-acr") {
					p.MinACR = resolve("min-acr", minACR)
				}
				if fl.Changed("default-acr") {
					p.DefaultACR = resolve("default-acr", defaultACR)
				}
				if fl.Changed("factor-max-age") {
					p.FactorMaxAge = factorMaxAge
				}
				if fl.Changed("grace-days") {
					p.GraceDays = graceDays
				}
				if fl.Changed("remember-device") {
					p.RememberDevice = remember
				}
				if fl.Changed("remember-for") {
					p.RememberFor = remFor
				}
				if len(errs) > 0 {
					return errors.Join(errs...)
				}
				known := make([]string, len(builtin.Registrations))
				for i, r := range builtin.Registrations {
					known[i] = r.ID
				}
				if err := policy.Validate(table, p, known); err != nil {
					return err
				}
				p.ClientID, p.UpdatedAt = id, time.Now()
				if err := st.PutClientPolicy(ctx, &p); err != nil {
					return err
				}
				if err := st.RecordAudit(ctx, &store.AuditEvent{ClientID: id, Event: "client.policy_changed", Detail: map[string]string{"by": "cli"}, CreatedAt: p.UpdatedAt}); err != nil {
					return err
				}
				return printPolicy(cmd, g, p, false)
			})
		},
	}
	f := c.Flags()
	f.StringVar(&id, "id", "", "client id (required)")
	f.StringSliceVar(&allowed, "allowed-factors", nil, "factors usable after the password, comma separated (empty: all)")
	f.StringSliceVar(&accountChanges, "account-change-factors", nil, "factors that may confirm account changes (empty: all allowed)")
	f.StringVar(&minACR, "min-acr", "", "level every login must reach (empty: none)")
	f.StringVar(&defaultACR, "default-acr", "", "level aimed for when the client asks nothing (empty: the minimum)")
	f.DurationVar(&factorMaxAge, "factor-max-age", 0, "how old a factor may be before step-up asks again (0: the acr table's freshness)")
	f.IntVar(&graceDays, "grace-days", 0, "days a person may skip setting up a required factor")
	f.BoolVar(&remember, "remember-device", false, "allow \"remember this device\"")
	f.DurationVar(&remFor, "remember-for", 0, "how long a remembered device counts")
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}

// cleanList trims entries and drops empty ones ("--allowed-factors=" is all).
func cleanList(l []string) []string {
	var out []string
	for _, v := range l {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
