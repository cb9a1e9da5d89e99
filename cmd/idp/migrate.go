package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func migrateCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, nil)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), cfg, true, newLogger(cfg, cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			defer st.Close()
			if g.jsonOut {
				return printJSON(cmd.OutOrStdout(), map[string]any{"migrated": true})
			}
			fmt.Fprintln(cmd.OutOrStdout(), "migrations applied")
			return nil
		},
	}
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}
