package storetest

import (
	"testing"

	"github.com/eu-health-idp/idp/idp/store"
)

func newClient(id string) store.Client {
	return store.Client{
		ID:                     id,
		SecretHash:             "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		RedirectURIs:           []string{"https://portal.example.org/cb", "https://portal.example.org/cb2"},
		PostLogoutRedirectURIs: []string{"https://portal.example.org/"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		IDTokenAlg:             "ES256",
		AccessTokenType:        store.AccessTokenJWT,
		CreatedAt:              t0,
		UpdatedAt:              t0,
	}
}

func testClients(t *testing.T, open Opener) {
	t.Run("a confidential client reads back whole", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := newClient("portal")
		check(t, s.CreateClient(ctx, &c))
		got, err := s.ClientByID(ctx, c.ID)
		check(t, err)
		same(t, "client", *got, c)
	})

	t.Run("a public client with empty lists reads back with nil lists", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := newClient("spa")
		c.SecretHash, c.Public = "", true
		c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes = []string{}, nil, []string{}
		c.IDTokenAlg, c.AccessTokenType = "RS256", store.AccessTokenOpaque
		check(t, s.CreateClient(ctx, &c))
		got, err := s.ClientByID(ctx, c.ID)
		check(t, err)
		c.RedirectURIs, c.GrantTypes = nil, nil
		same(t, "client", *got, c)
	})

	t.Run("a taken client id is a conflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := newClient("portal")
		check(t, s.CreateClient(ctx, &c))
		wantErr(t, s.CreateClient(ctx, &c), store.ErrConflict)
	})

	t.Run("an unknown client is not found", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		_, err := s.ClientByID(ctx, "nobody")
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("clients are listed by id", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for _, id := range []string{"b", "c", "a"} {
			c := newClient(id)
			check(t, s.CreateClient(ctx, &c))
		}
		list, err := s.ListClients(ctx)
		check(t, err)
		var ids []string
		for _, c := range list {
			ids = append(ids, c.ID)
		}
		same(t, "order", ids, []string{"a", "b", "c"})
		same(t, "lists survive listing", list[0].RedirectURIs, newClient("a").RedirectURIs)
	})
}
