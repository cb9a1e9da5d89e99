package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/oidcop"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

type keyJSON struct {
	ID           string     `json:"kid"`
	Alg          string     `json:"alg"`
	CreatedAt    time.Time  `json:"created_at"`
	ActiveFrom   time.Time  `json:"active_from"`
	RetiredAt    *time.Time `json:"retired_at,omitempty"`
	PublishUntil *time.Time `json:"publish_until,omitempty"`
}

func toKeyJSON(k *store.SigningKey) keyJSON {
	return keyJSON{k.ID, k.Alg, k.CreatedAt, k.ActiveFrom, k.RetiredAt, k.PublishUntil}
}

func keysCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Manage signing keys"}
	c.AddCommand(keysRotateCmd(g), keysListCmd(g))
	return c
}

func keysRotateCmd(g *globals) *cobra.Command {
	var algs []string
	c := &cobra.Command{
		Use:   "rotate",
		Short: "Add new signing keys; they sign after keys.cache_ttl, old ones stay in JWKS until their tokens expire",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, g, func(ctx context.Context, cfg config.Config, st *sqlstore.Store) error {
				master, err := masterKey(cfg)
				if err != nil {
					return err
				}
				sec, err := deriveSecrets(master)
				if err != nil {
					return err
				}
				km := newKeyManager(cfg, st, sec, time.Now)
				if len(algs) == 0 {
					algs = oidcop.SupportedAlgs
				}
				var out []keyJSON
				for _, alg := range algs {
					k, err := km.Rotate(ctx, alg)
					if err != nil {
						return err
					}
					out = append(out, toKeyJSON(k))
				}
				if g.jsonOut {
					return printJSON(cmd.OutOrStdout(), out)
				}
				for _, k := range out {
					fmt.Fprintf(cmd.OutOrStdout(), "new %s key %s, signing from %s\n", k.Alg, k.ID, k.ActiveFrom.Format(time.RFC3339))
				}
				return nil
			})
		},
	}
	c.Flags().StringArrayVar(&algs, "alg", nil, "rotate only this algorithm (ES256, RS256; repeatable)")
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}

func keysListCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List published signing keys",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, g, func(ctx context.Context, _ config.Config, st *sqlstore.Store) error {
				ks, err := st.ListKeys(ctx, time.Now())
				if err != nil {
					return err
				}
				out := make([]keyJSON, 0, len(ks))
				for i := range ks {
					out = append(out, toKeyJSON(&ks[i]))
				}
				if g.jsonOut {
					return printJSON(cmd.OutOrStdout(), out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KID\tALG\tACTIVE FROM\tRETIRED")
				for _, k := range out {
					ret := "-"
					if k.RetiredAt != nil {
						ret = k.RetiredAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Alg, k.ActiveFrom.Format(time.RFC3339), ret)
				}
				return tw.Flush()
			})
		},
	}
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}
