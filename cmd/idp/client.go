package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/oidcop"
	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
	"github.com/eu-health-idp/idp/idp/store/sqlstore"
)

type clientJSON struct {
	ID                     string    `json:"id"`
	Public                 bool      `json:"public"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	GrantTypes             []string  `json:"grant_types"`
	IDTokenAlg             string    `json:"id_token_signing_alg"`
	AccessTokenType        string    `json:"access_token_type"`
	CreatedAt              time.Time `json:"created_at"`
	// Secret is printed once, when we generated it; never stored.
	Secret string `json:"client_secret,omitempty"`
}

func toClientJSON(c *store.Client) clientJSON {
	return clientJSON{c.ID, c.Public, c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.IDTokenAlg, c.AccessTokenType, c.CreatedAt, ""}
}

func clientCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "client", Short: "Manage OIDC clients (relying parties)"}
	c.AddCommand(clientAddCmd(g), clientListCmd(g), clientPolicyCmd(g))
	return c
}

// minClientSecretLen: client secrets are checked with a fast keyed hash,
// which is only sound for high-entropy secrets.
const minClientSecretLen = 32

func clientAddCmd(g *globals) *cobra.Command {
	var in clientInput
	var secretStdin bool
	c := &cobra.Command{
		Use:   "add",
		Short: "Register a client; a confidential client gets a generated secret unless --secret-stdin",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, g, func(ctx context.Context, cfg config.Config, st *sqlstore.Store) error {
				secret := ""
				if secretStdin {
					if in.public {
						return errors.New("--secret-stdin: a public client has no secret")
					}
					s, err := readSecret(cmd.InOrStdin())
					if err != nil {
						return fmt.Errorf("secret: %w", err)
					}
					if len(s) < minClientSecretLen {
						return fmt.Errorf("secret: at least %d characters of random data (e.g. openssl rand -base64 32)", minClientSecretLen)
					}
					secret = s
				}
				cl, generated, err := registerClient(ctx, cfg, st, in, secret, time.Now())
				if err != nil {
					return err
				}
				out := toClientJSON(cl)
				out.Secret = generated
				if g.jsonOut {
					return printJSON(cmd.OutOrStdout(), out)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "client %s registered\n", cl.ID)
				if generated != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "client secret (shown once, store it now): %s\n", generated)
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&in.id, "id", "", "client id (required)")
	c.Flags().BoolVar(&in.public, "public", false, "public client (no secret; PKCE S256 required)")
	c.Flags().StringArrayVar(&in.redirectURIs, "redirect-uri", nil, "redirect URI, matched exactly (repeatable, at least one)")
	c.Flags().StringArrayVar(&in.postLogoutURIs, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeatable)")
	c.Flags().StringArrayVar(&in.grantTypes, "grant-type", nil, "authorization_code, refresh_token, client_credentials (repeatable; default the first two)")
	c.Flags().StringVar(&in.alg, "id-token-alg", "", "ID token signing algorithm: ES256 (default) or RS256")
	c.Flags().StringVar(&in.accessTokenType, "access-token-type", store.AccessTokenJWT, "jwt or opaque")
	c.Flags().BoolVar(&secretStdin, "secret-stdin", false, "read the client secret from stdin instead of generating one")
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}

type clientInput struct {
	id              string
	public          bool
	redirectURIs    []string
	postLogoutURIs  []string
	grantTypes      []string
	alg             string
	accessTokenType string
}

// registerClient validates and stores a client. Without a given secret a
// confidential client gets a generated one, returned once.
func registerClient(ctx context.Context, cfg config.Config, st store.Clients, in clientInput, secret string, now time.Time) (*store.Client, string, error) {
	var errs []error
	if in.id == "" || len(in.id) > 128 || strings.ContainsAny(in.id, " \t\r\n:") {
		errs = append(errs, errors.New("--id: required, at most 128 characters, no spaces or colons"))
	}
	if len(in.redirectURIs) == 0 {
		errs = append(errs, errors.New("--redirect-uri: at least one is required"))
	}
	for _, u := range in.redirectURIs {
		if err := checkRedirectURI(u, cfg.Dev); err != nil {
			errs = append(errs, fmt.Errorf("--redirect-uri %q: %w", u, err))
		}
	}
	for _, u := range in.postLogoutURIs {
		if err := checkRedirectURI(u, cfg.Dev); err != nil {
			errs = append(errs, fmt.Errorf("--post-logout-redirect-uri %q: %w", u, err))
		}
	}
	grants := in.grantTypes
	if len(grants) == 0 {
		grants = []string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken}
	}
	for _, gt := range grants {
		if !slices.Contains([]string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken, oidcop.GrantClientCredentials}, gt) {
			errs = append(errs, fmt.Errorf("--grant-type %q: must be authorization_code, refresh_token or client_credentials", gt))
		}
		if gt == oidcop.GrantClientCredentials && in.public {
			errs = append(errs, errors.New("--grant-type client_credentials: needs a confidential client"))
		}
	}
	alg := in.alg
	if alg == "" {
		alg = cfg.Keys.DefaultAlg
	}
	if !slices.Contains(oidcop.SupportedAlgs, alg) {
		errs = append(errs, fmt.Errorf("--id-token-alg %q: must be one of %v", alg, oidcop.SupportedAlgs))
	}
	if in.accessTokenType == "" {
		in.accessTokenType = store.AccessTokenJWT
	}
	if in.accessTokenType != store.AccessTokenJWT && in.accessTokenType != store.AccessTokenOpaque {
		errs = append(errs, fmt.Errorf("--access-token-type %q: must be jwt or opaque", in.accessTokenType))
	}
	if len(errs) > 0 {
		return nil, "", errors.Join(errs...)
	}
	c := &store.Client{
		ID: in.id, Public: in.public, RedirectURIs: in.redirectURIs, PostLogoutRedirectURIs: in.postLogoutURIs,
		GrantTypes: grants, IDTokenAlg: alg, AccessTokenType: in.accessTokenType, CreatedAt: now, UpdatedAt: now,
	}
	generated := ""
	if !in.public {
		if secret == "" {
			secret = security.RandomToken(32)
			generated = secret
		}
		master, err := masterKey(cfg)
		if err != nil {
			return nil, "", err
		}
		sec, err := deriveSecrets(master)
		if err != nil {
			return nil, "", err
		}
		c.SecretHash = sec.clientSecrets.Hash(secret)
	}
	if err := st.CreateClient(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, "", fmt.Errorf("--id: a client %q already exists: %w", in.id, err)
		}
		return nil, "", err
	}
	return c, generated, nil
}

// checkRedirectURI: absolute, no fragment (RFC 6749 3.1.2), https, or http
// on a loopback host (native apps, local development) or in dev mode.
func checkRedirectURI(raw string, dev bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("must be an absolute URL")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not contain a fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" || dev {
			return nil
		}
		return errors.New("http is allowed only for loopback hosts; use https")
	}
	return errors.New("scheme must be https (or http on a loopback host)")
}

func clientListCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, g, func(ctx context.Context, _ config.Config, st *sqlstore.Store) error {
				cs, err := st.ListClients(ctx)
				if err != nil {
					return err
				}
				out := make([]clientJSON, 0, len(cs))
				for i := range cs {
					out = append(out, toClientJSON(&cs[i]))
				}
				if g.jsonOut {
					return printJSON(cmd.OutOrStdout(), out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tPUBLIC\tALG\tREDIRECT URIS")
				for _, c := range out {
					fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", c.ID, c.Public, c.IDTokenAlg, strings.Join(c.RedirectURIs, " "))
				}
				return tw.Flush()
			})
		},
	}
	addDatabaseFlag(c, g)
	addJSONFlag(c, g)
	return c
}
